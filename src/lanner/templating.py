"""Server-rendered pages: `Templates` renders Jinja2 templates into `HTMLResponse` objects.

Jinja2 is optional (``pip install 'lanner[templates]'``) and imported only when a `Templates` is
created. Every render sees ``request``, ``url_for``, ``static_url``, ``get_flashed_messages`` and
``form`` (the form the handler read, else an empty one), plus ``session`` when the app has
sessions and ``csrf_token`` when it checks CSRF tokens. A route of a ``Router(templates=...)``
searches that router's folder before the app's, like a Flask blueprint's ``template_folder``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lanner._template_registry import taking_request
from lanner.forms import FORM_SCOPE_KEY, FormData
from lanner.requests import Request
from lanner.responses import Background, HTMLResponse
from lanner.routing import caller_relative

if TYPE_CHECKING:  # Jinja2 is an optional dependency: its names are only needed for type checks.
    import jinja2

# TemplateNotFoundError is built on first access by the module's __getattr__.
__all__ = ["TemplateNotFoundError", "Templates", "URLPath"]  # noqa: F822

ContextProcessor = Callable[[Request], Mapping[str, Any]]
P = TypeVar("P", bound=Callable[..., Mapping[str, Any]])

#: Where the endpoint puts the folders of the serving route's routers (innermost first).
TEMPLATE_FOLDERS_KEY = "lanner.template_folders"
#: Template names ending with one of these are autoescaped.
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "jinja")
_MISSING_JINJA = "Templates need Jinja2: pip install 'lanner[templates]'"


def _jinja2() -> Any:
    """Import Jinja2, or explain which extra installs it.

    Raises:
        ImportError: Jinja2 is not installed.
    """
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError(_MISSING_JINJA) from exc
    return jinja2


class Templates:
    """A Jinja2 environment whose `render` builds an `HTMLResponse`.

    Args:
        directory: a folder, a list of folders (searched in order) or any Jinja2 loader. A relative
            folder is taken from the file that creates the `Templates`.
        auto_reload: check templates for changes before each render (``lanner dev``) instead of
            keeping compiled templates for ever (``lanner run``); None means on when the
            ``LANNER_DEBUG=1`` environment variable is set.
        **options: passed to ``jinja2.Environment`` (``undefined``, ``extensions``, ``autoescape``...).
            Autoescaping is on for names ending in ``.html``, ``.htm``, ``.xml`` and ``.jinja`` unless
            ``autoescape`` is given.

    Raises:
        ImportError: Jinja2 is not installed.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | jinja2.BaseLoader,
        *,
        auto_reload: bool | None = None,
        **options: Any,
    ) -> None:
        jinja = _jinja2()
        if isinstance(directory, str | os.PathLike):
            loader = jinja.FileSystemLoader([caller_relative(directory)])
        elif isinstance(directory, jinja.BaseLoader):
            loader = directory
        else:
            folders = cast(Sequence[str | os.PathLike[str]], directory)
            loader = jinja.FileSystemLoader([caller_relative(folder) for folder in folders])
        if auto_reload is None:
            auto_reload = os.environ.get("LANNER_DEBUG") == "1"
        options.setdefault("autoescape", jinja.select_autoescape(AUTOESCAPE_EXTENSIONS))
        self._cache_size: int = options.get("cache_size", 400)
        #: The Jinja2 environment: add filters, tests and globals here.
        self.env: jinja2.Environment = jinja.Environment(loader=loader, auto_reload=auto_reload, **options)
        self._jinja = jinja
        self._processors: list[ContextProcessor] = []
        self._overlays: dict[tuple[str, ...], jinja2.Environment] = {}
        #: The version of the app's template registry each environment (by id) has copied.
        self._installed: dict[int, int] = {}

    def context_processor(self, processor: P) -> P:
        """Decorate ``processor(request) -> dict``, whose values every render sees.

        Flask's ``processor() -> dict``, without the request, works too. Values passed to `render`
        win over a processor's.

        Raises:
            TypeError: `processor` is a coroutine function (rendering is synchronous).
        """
        self._processors.append(taking_request(processor))
        return processor

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        media_type: str | None = None,
    ) -> HTMLResponse:
        """Render the template called `name` into an `HTMLResponse`.

        The folders of the serving route's ``Router(templates=...)`` are searched first, then this
        object's loader.

        Args:
            request: the request being answered (templates see it as ``request``).
            name: the template's name, relative to the template folders ("blog/post.html").
            context: the template's variables; they win over the context processors' values.
            status_code: the response status.
            headers: extra response headers.
            media_type: overrides ``text/html`` (``application/xml`` for a sitemap, say).

        Raises:
            TemplateNotFoundError: no folder has `name` (or a template it includes or extends); the
                message names every folder searched.
            jinja2.TemplateError: the template has a syntax error or failed while rendering.
        """
        folders: tuple[str, ...] = request.scope.get(TEMPLATE_FOLDERS_KEY) or ()
        env = self._environment(folders) if folders else self.env
        registry = getattr(request.app, "template_registry", None)
        if registry is not None and registry.version != self._installed.get(id(env), 0):
            registry.install(env)  # the app's @app.template_filter()s and globals, once per change
            self._installed[id(env)] = registry.version
        values = self._context(request)
        if context:
            values.update(context)
        try:
            template = env.get_template(name)
        except self._jinja.TemplateNotFound as exc:
            raise _not_found_error()(exc.name, searched=self._searched(folders)) from None
        try:
            content = template.render(values)
        except self._jinja.TemplateNotFound as exc:  # an include, extends or import is missing
            raise _not_found_error()(exc.name, searched=self._searched(folders), within=name) from exc
        return HTMLResponse(content, status_code, headers, media_type)

    def TemplateResponse(  # Starlette's (and FastAPI's) name for it
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> HTMLResponse:
        """Render `name` into an `HTMLResponse`: `render` under the name FastAPI code calls.

        It takes Starlette's ``Jinja2Templates.TemplateResponse`` arguments, positionally
        (``TemplateResponse(request, "item.html", {"id": id})``) or by keyword
        (``TemplateResponse(request=request, name="item.html", context={"id": id})``). The
        template sees ``request`` (unless `context` has its own) and every helper `render` gives;
        `context` is not modified.

        Args:
            request: the request being answered.
            name: the template's name, relative to the template folders.
            context: the template's variables.
            status_code: the response status.
            headers: extra response headers.
            media_type: overrides ``text/html``.
            background: awaited after the response is sent (a `lanner.BackgroundTasks`, or any
                coroutine function without arguments).

        Raises:
            TemplateNotFoundError: no folder has `name` (or a template it needs).
            jinja2.TemplateError: the template has a syntax error or failed while rendering.
        """
        response = self.render(request, name, context, status_code, headers, media_type=media_type)
        response.background = background
        return response

    def _environment(self, folders: tuple[str, ...]) -> jinja2.Environment:
        """The environment searching `folders` first: an overlay sharing filters, globals and options."""
        env = self._overlays.get(folders)
        if env is None:
            jinja = self._jinja
            loader = jinja.ChoiceLoader([jinja.FileSystemLoader(folders), self.env.loader])
            # An explicit cache_size gives the overlay a cache of its own; by default it would start
            # with a copy of the app's, where a name may already mean the app's template.
            env = self.env.overlay(loader=loader, cache_size=self._cache_size)
            self._overlays[folders] = env
        return env

    def _context(self, request: Request) -> dict[str, Any]:
        """The values every template sees: the request, the URL helpers, session helpers, processors."""
        values: dict[str, Any] = {
            "request": request,
            "url_for": functools.partial(_url_for, request),
            "static_url": functools.partial(_static_url, request),
            "get_flashed_messages": functools.partial(_get_flashed_messages, request),
            # The form the handler read (Flask's ``request.form`` in a template), else an empty one.
            "form": request.scope.get(FORM_SCOPE_KEY) or _NO_FORM,
        }
        if getattr(request.app, "sessions", None) is not None:
            values["session"] = _LazySession(request)
        if getattr(request.app, "csrf", False):
            values["csrf_token"] = functools.partial(_csrf_token, request)
        registry = getattr(request.app, "template_registry", None)
        if registry is not None:
            for processor in registry.processors:
                values.update(processor(request))
        for processor in self._processors:
            values.update(processor(request))
        return values

    def _searched(self, folders: tuple[str, ...]) -> tuple[str, ...]:
        return (*folders, *_describe_loader(self.env.loader))


class _LazySession(Mapping[str, Any]):
    """The ``session`` templates see: a read-only view that loads the session on first use.

    A template that never touches ``session`` never loads it (nor sets a cookie).
    """

    __slots__ = ("_request", "_session")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._session: Mapping[str, Any] | None = None

    def _load(self) -> Mapping[str, Any]:
        if self._session is None:
            self._session = cast(Mapping[str, Any], cast(Any, self._request).session)
        return self._session

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, key: object) -> bool:
        return key in self._load()


class URLPath(str):
    """What ``url_for`` gives templates: the path (a `str`), with the mount prefix.

    Its ``path`` attribute is the path itself, so templates written for Starlette, whose
    ``url_for`` returns a full URL, work unchanged: ``{{ url_for('static', path='/app.css').path }}``.
    """

    __slots__ = ()

    @property
    def path(self) -> str:
        """The path itself (Starlette's ``URL.path``)."""
        return str(self)


_NO_FORM = FormData()


def _url_for(request: Request, name: str, /, **params: Any) -> URLPath:
    """``url_for(name, **params)`` in templates: a route's path, with the mount prefix.

    Flask's ``url_for("static", filename=...)`` is accepted for static folders (``path=``).
    """
    if "filename" in params and "path" not in params and (name == "static" or name.endswith(".static")):
        params["path"] = params.pop("filename")
    return URLPath(request.url_for(name, **params))


def _static_url(request: Request, path: str, name: str = "static") -> str:
    """``static_url(path)`` in templates: the URL of a static file, with its content hash.

    Like ``url_for``, it starts with the mount prefix (``root_path``), which the app alone cannot know.
    """
    url = cast(str, cast(Any, request.app).static_url(path, name=name))
    return str(request.scope.get("root_path", "")) + url


def _get_flashed_messages(
    request: Request, with_categories: bool = False, category_filter: Collection[str] = ()
) -> list[Any]:
    """``get_flashed_messages()`` in templates: the session's flash messages ([] without sessions)."""
    if getattr(request.app, "sessions", None) is None:
        return []
    from lanner.sessions.flash import get_flashed_messages  # type: ignore[import-not-found,unused-ignore]

    messages: list[Any] = get_flashed_messages(cast(Any, request).session, with_categories, category_filter)
    return messages


def _csrf_token(request: Request) -> str:
    """``csrf_token()`` in templates: the token a form posts back as its ``csrf_token`` field."""
    from lanner.sessions.csrf import csrf_token  # type: ignore[import-not-found,unused-ignore]

    token: str = csrf_token(cast(Any, request).session)
    return token


def _describe_loader(loader: Any) -> list[str]:
    """What `loader` searches, for error messages: folders, packages or the loader's kind."""
    jinja = _jinja2()
    if isinstance(loader, jinja.FileSystemLoader):
        return [os.path.abspath(folder) for folder in loader.searchpath]
    if isinstance(loader, jinja.ChoiceLoader):
        return [place for inner in loader.loaders for place in _describe_loader(inner)]
    if isinstance(loader, jinja.PackageLoader):
        return [f"package {loader.package_name}/{loader.package_path}"]
    if isinstance(loader, jinja.PrefixLoader):
        return [
            f"{prefix}{loader.delimiter}: {place}"
            for prefix, inner in loader.mapping.items()
            for place in _describe_loader(inner)
        ]
    return [f"<{type(loader).__name__}>"]


@functools.cache
def _not_found_error() -> Any:
    """Build `TemplateNotFoundError` once: it subclasses Jinja2's class, and Jinja2 is optional."""
    base: Any = _jinja2().TemplateNotFound

    class TemplateNotFoundError(base):  # type: ignore[misc]
        """No template folder has the template; the message names every place searched.

        Attributes:
            name: the missing template's name.
            searched: the folders (or loaders) searched, in order.
        """

        def __init__(
            self,
            name: str,
            message: str | None = None,
            *,
            searched: Sequence[str] = (),
            within: str | None = None,
        ) -> None:
            self.searched = tuple(searched)
            if message is None:
                where = f" (needed by {within!r})" if within else ""
                places = ", ".join(self.searched) or "nowhere"
                message = f"Template {name!r} not found{where}; searched: {places}"
            super().__init__(name, message)

    # Where pickle (and tracebacks) find it: the module attribute, not the factory's locals.
    TemplateNotFoundError.__module__ = __name__
    TemplateNotFoundError.__qualname__ = "TemplateNotFoundError"
    return TemplateNotFoundError


def __getattr__(name: str) -> Any:
    """Build `TemplateNotFoundError` on first access (it needs Jinja2)."""
    if name == "TemplateNotFoundError":
        return _not_found_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
