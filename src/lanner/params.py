"""Parameter markers: where a handler parameter comes from and how it is constrained.

Use them as defaults (``limit: int = Query(10, ge=1)``) or inside ``Annotated``
(``limit: Annotated[int, Query(ge=1)] = 10``). They only describe; `signature.py` reads them once
when the route is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal


class _Missing:
    """The type of `MISSING`: no default was given, so the parameter is required."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Param:
    """Base marker for a value read from the request.

    Args:
        default: the value used when the request omits the parameter; ``...`` or no value means
            required.
        alias: the name used in the request when it differs from the Python name.
        ge, gt, le, lt: numeric bounds.
        min_length, max_length: bounds on the length of strings and sequences.
        pattern: a regular expression strings must match.
        title, description, examples, deprecated, include_in_schema: documentation only.
    """

    source: str = ""
    __slots__ = (
        "alias",
        "default",
        "deprecated",
        "description",
        "examples",
        "ge",
        "gt",
        "include_in_schema",
        "le",
        "lt",
        "max_length",
        "min_length",
        "pattern",
        "title",
    )

    def __init__(
        self,
        default: Any = MISSING,
        *,
        alias: str | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.default = MISSING if default is ... else default
        self.alias = alias
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern
        self.title, self.description, self.examples = title, description, examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema

    def constraints(self) -> dict[str, Any]:
        """Return the validation and documentation keywords that were set."""
        names = (
            "ge",
            "gt",
            "le",
            "lt",
            "min_length",
            "max_length",
            "pattern",
            "title",
            "description",
            "examples",
            "deprecated",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


class Path(Param):
    """A segment of the URL path, named in the route template (always required)."""

    source = "path"
    __slots__ = ()


class Query(Param):
    """A query-string parameter; ``list[...]`` types collect repeated keys.

    A pydantic model annotated with ``Query()`` reads each of its fields from the query string.
    """

    source = "query"
    __slots__ = ()


class Header(Param):
    """A request header. With ``convert_underscores`` (default) ``user_agent`` reads ``user-agent``."""

    source = "header"
    __slots__ = ("convert_underscores",)

    def __init__(self, default: Any = MISSING, *, convert_underscores: bool = True, **kwargs: Any) -> None:
        super().__init__(default, **kwargs)
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie sent by the client."""

    source = "cookie"
    __slots__ = ()


class Body(Param):
    """The request body, or with ``embed=True`` (or several body parameters) one key of it."""

    source = "body"
    __slots__ = ("embed", "media_type")

    def __init__(
        self,
        default: Any = MISSING,
        *,
        embed: bool = False,
        media_type: str = "application/json",
        **kwargs: Any,
    ) -> None:
        super().__init__(default, **kwargs)
        self.embed = embed
        self.media_type = media_type


class Form(Param):
    """A field of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body.

    ``username: Annotated[str, Form()]`` reads one field; ``list[...]`` types collect repeated
    fields. A pydantic model annotated with ``Form()`` reads each of its fields from the form. An
    empty value counts as absent, as browsers send every input, filled or not. Form and JSON body
    parameters cannot share a route.
    """

    source = "form"
    __slots__ = ("media_type",)

    def __init__(
        self, default: Any = MISSING, *, media_type: str = "application/x-www-form-urlencoded", **kwargs: Any
    ) -> None:
        super().__init__(default, **kwargs)
        self.media_type = media_type


class File(Form):
    """An uploaded file of a ``multipart/form-data`` body.

    Type it ``UploadFile`` (spooled to disk past 1 MiB), ``bytes`` (read into memory) or a list of
    either for several files under one name. ``UploadFile`` parameters need no marker. A file part
    sent empty and without a filename (an empty file input) counts as absent.
    """

    source = "file"
    __slots__ = ()

    def __init__(
        self, default: Any = MISSING, *, media_type: str = "multipart/form-data", **kwargs: Any
    ) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


class Depends:
    """Declare a dependency: lanner calls `dependency` and passes its result.

    Args:
        dependency: a sync or async function, generator or async generator (or a class); when
            omitted, the parameter's annotation is called.
        use_cache: share one result per request among every place that depends on it.
        scope: ``"request"`` (default) or ``"app"``: created once at startup and cleaned up at
            shutdown (a connection pool, a loaded model). App-scoped dependencies cannot read the
            request.
    """

    __slots__ = ("dependency", "scope", "use_cache")

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        use_cache: bool = True,
        scope: Literal["request", "app"] = "request",
    ) -> None:
        if scope not in ("request", "app"):
            raise ValueError(f"Depends scope must be 'request' or 'app', not {scope!r}")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"


class Security(Depends):
    """A dependency that also requires OAuth2 `scopes` (FastAPI's ``Security``).

    The scopes of every ``Security`` on the way from the handler to a dependency are collected, in
    order, into the `SecurityScopes` that dependency may declare as a parameter; the OpenAPI
    document lists them under the operation's ``security``.

    Args:
        dependency: as for `Depends`.
        scopes: the scopes this use of the dependency requires.
        use_cache: as for `Depends`.
    """

    __slots__ = ("scopes",)

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        scopes: Sequence[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        super().__init__(dependency, use_cache=use_cache)
        self.scopes: tuple[str, ...] = tuple(scopes or ())

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Security({name}, scopes={list(self.scopes)!r})"


class SecurityScopes:
    """The OAuth2 scopes required of a dependency, collected from every `Security` above it.

    Declare a parameter of this type in a dependency to receive them.

    Attributes:
        scopes: the scopes, in order, each once.
        scope_str: the scopes joined by spaces (for a ``WWW-Authenticate`` header).
    """

    __slots__ = ("scope_str", "scopes")

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes: list[str] = list(dict.fromkeys(scopes or ()))
        self.scope_str = " ".join(self.scopes)

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"
