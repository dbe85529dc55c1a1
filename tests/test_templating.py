"""Jinja2 templates (lanner.templating): rendering, context helpers, folders, reloading, errors."""

from __future__ import annotations

import inspect
import os
import pickle
import re
import secrets
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jinja2
import pytest

import lanner.templating
from lanner import Lanner, Request
from lanner.responses import HTMLResponse
from lanner.routing import Router
from lanner.sessions import Session
from lanner.templating import Templates
from lanner.testing import TestClient

FIXTURES = Path(__file__).parent / "templates_fixtures"
MAIN, EXTRA, BLOG = FIXTURES / "main", FIXTURES / "extra", FIXTURES / "blog"

needs_static = pytest.mark.skipif(
    not (hasattr(Lanner, "static") and hasattr(Lanner, "static_url")),
    reason="Lanner.static / Lanner.static_url are not wired yet",
)
needs_router_names = pytest.mark.skipif(
    "name" not in inspect.signature(Router).parameters, reason="Router(name=...) is not wired yet"
)
needs_router_templates = pytest.mark.skipif(
    "templates" not in inspect.signature(Router).parameters, reason="Router(templates=...) is not wired yet"
)


def sessions_wired() -> bool:
    try:
        Lanner(freeze_gc=False, secret_key=secrets.token_hex(32))
    except (TypeError, ImportError):
        return False
    return True


needs_sessions = pytest.mark.skipif(not sessions_wired(), reason="Lanner(secret_key=...) is not wired yet")


def page_app(
    templates: Templates, name: str, context: dict[str, Any] | None = None, **options: Any
) -> Lanner:
    """An app whose GET / renders `name` with `context`."""
    app = Lanner(freeze_gc=False, **options)

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        return templates.render(request, name, context)

    return app


def render(templates: Templates, name: str, context: dict[str, Any] | None = None) -> str:
    return TestClient(page_app(templates, name, context)).get("/").text


def make_request(app: Any, **scope: Any) -> Request:
    """A request for GET / with a hand-built scope (what the endpoint would pass)."""
    base = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "app": app}
    return Request({**base, **scope})


# -- rendering ---------------------------------------------------------------------------------


def test_render_returns_html_response_with_context() -> None:
    templates = Templates(MAIN)
    response = TestClient(
        page_app(templates, "page.html", {"title": "Fruit", "items": ["apple", "pear"]})
    ).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>Fruit</h1><ul><li>apple</li><li>pear</li></ul>"


def test_render_sees_the_request() -> None:
    assert render(Templates(MAIN), "request.html") == "GET /"


def test_render_sees_the_form_the_handler_read(tmp_path: Path) -> None:
    # Flask templates re-show a posted field with request.form['title']; lanner's spelling is form.
    (tmp_path / "edit.html").write_text("[{{ form['title'] }}|{{ form.get('body', 'none') }}]")
    templates = Templates(tmp_path)
    app = Lanner(freeze_gc=False)

    @app.get("/edit")
    @app.post("/edit")
    async def edit(request: Request) -> HTMLResponse:
        if request.method == "POST":
            await request.form()
        return templates.render(request, "edit.html")

    client = TestClient(app)
    assert client.get("/edit").text == "[|none]"
    assert client.post("/edit", data={"title": "<b>Draft</b>"}).text == "[&lt;b&gt;Draft&lt;/b&gt;|none]"
    # A value the handler passes under the same name wins (a WTForms form, say).
    (tmp_path / "own.html").write_text("{{ form }}")
    assert render(templates, "own.html", {"form": "mine"}) == "mine"


def test_status_headers_and_media_type() -> None:
    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)

    @app.get("/gone")
    def gone(request: Request) -> HTMLResponse:
        return templates.render(
            request, "escape.html", {"value": "gone"}, status_code=410, headers={"X-A": "1"}
        )

    @app.get("/sitemap.xml")
    def sitemap(request: Request) -> HTMLResponse:
        return templates.render(request, "escape.html", {"value": "<urlset/>"}, media_type="application/xml")

    client = TestClient(app)
    gone_response = client.get("/gone")
    assert (gone_response.status_code, gone_response.headers["x-a"], gone_response.text) == (410, "1", "gone")
    sitemap_response = client.get("/sitemap.xml")
    assert sitemap_response.headers["content-type"] == "application/xml"


def test_autoescape_in_html_but_not_txt() -> None:
    templates = Templates(MAIN)
    script = {"value": "<script>alert(1)</script>"}
    assert render(templates, "escape.html", script) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert render(templates, "escape.txt", script) == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("a.html", True),
        ("a.htm", True),
        ("a.xml", True),
        ("a.jinja", True),
        ("a.HTML", True),
        ("a.txt", False),
        ("a.md", False),
    ],
)
def test_autoescape_follows_the_extension(name: str, escaped: bool) -> None:
    templates = Templates(jinja2.DictLoader({name: "{{ value }}"}))
    out = render(templates, name, {"value": "<b>&"})
    assert out == ("&lt;b&gt;&amp;" if escaped else "<b>&")


def test_environment_options_pass_through() -> None:
    templates = Templates(MAIN, autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=True)
    assert templates.env.trim_blocks is True
    assert render(templates, "escape.html", {"value": "<b>"}) == "<b>"
    request = make_request(Lanner(freeze_gc=False))
    with pytest.raises(jinja2.UndefinedError):
        templates.render(request, "escape.html")


def test_context_processors_add_values_and_render_context_wins() -> None:
    templates = Templates(jinja2.DictLoader({"p.html": "{{ who }} {{ method }} {{ site }}"}))

    @templates.context_processor
    def inject(request: Request) -> dict[str, Any]:
        return {"who": "processor", "method": request.method}

    @templates.context_processor
    def flask_style() -> dict[str, Any]:  # Flask's processors take no arguments
        return {"site": "lanner"}

    assert render(templates, "p.html") == "processor GET lanner"
    assert render(templates, "p.html", {"who": "view"}) == "view GET lanner"


def test_async_context_processor_is_refused() -> None:
    templates = Templates(MAIN)

    async def inject(request: Request) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match="plain function"):
        templates.context_processor(inject)


def test_env_filters_and_globals() -> None:
    templates = Templates(jinja2.DictLoader({"f.html": "{{ name | shout }} {{ site_name }}"}))
    templates.env.filters["shout"] = lambda value: str(value).upper() + "!"
    templates.env.globals["site_name"] = "Lanner"
    assert render(templates, "f.html", {"name": "hi"}) == "HI! Lanner"


def test_extends_and_include() -> None:
    assert render(Templates(MAIN), "child.html") == "<main>main shared</main>"


# -- url_for and static_url --------------------------------------------------------------------


def test_url_for_builds_route_paths() -> None:
    templates = Templates(
        jinja2.DictLoader({"u.html": '{{ url_for("home") }}|{{ url_for("item", item_id=7) }}'})
    )
    app = Lanner(freeze_gc=False)

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        return templates.render(request, "u.html")

    @app.get("/items/{item_id:int}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    assert TestClient(app).get("/").text == "/|/items/7"
    # Behind a mount or a proxy prefix, the links carry it.
    assert TestClient(app, root_path="/shop").get("/shop/").text == "/shop/|/shop/items/7"


def test_url_for_unknown_route_fails_the_render() -> None:
    templates = Templates(jinja2.DictLoader({"u.html": '{{ url_for("nope") }}'}))
    response = TestClient(page_app(templates, "u.html"), raise_server_exceptions=False).get("/")
    assert response.status_code == 500


def test_url_for_keeps_a_route_parameter_called_filename() -> None:
    templates = Templates(jinja2.DictLoader({"u.html": '{{ url_for("download", filename="a.txt") }}'}))
    app = page_app(templates, "u.html")

    @app.get("/download/{filename}")
    def download(filename: str) -> str:
        return filename

    assert TestClient(app).get("/").text == "/download/a.txt"


@needs_static
def test_url_for_static_accepts_flask_filename(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("body {}")
    loader = jinja2.DictLoader(
        {"s.html": '{{ url_for("static", path="app.css") }}|{{ url_for("static", filename="app.css") }}'}
    )
    app = page_app(Templates(loader), "s.html")
    app.static("/static", tmp_path)
    assert TestClient(app).get("/").text == "/static/app.css|/static/app.css"


@needs_static
def test_static_url_adds_a_content_hash(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("body {}")
    app = page_app(Templates(jinja2.DictLoader({"s.html": '{{ static_url("app.css") }}'})), "s.html")
    app.static("/static", tmp_path)
    expected = app.static_url("app.css")
    assert expected.startswith("/static/app.css?v=")
    assert TestClient(app).get("/").text == expected
    assert TestClient(app, root_path="/shop").get("/shop/").text == "/shop" + expected


@needs_router_names
def test_url_for_router_names_like_blueprints() -> None:
    templates = Templates(
        jinja2.DictLoader({"u.html": '{{ url_for("blog.index") }}|{{ url_for("blog.post", n=3) }}'})
    )
    blog = Router(prefix="/blog", name="blog")

    @blog.get("/")
    def index(request: Request) -> HTMLResponse:
        return templates.render(request, "u.html")

    @blog.get("/{n:int}")
    def post(n: int) -> int:
        return n

    app = Lanner(freeze_gc=False)
    app.include_router(blog)
    assert TestClient(app).get("/blog/").text == "/blog/|/blog/3"


# -- folders and loaders -----------------------------------------------------------------------


def test_list_of_directories_searched_in_order() -> None:
    assert render(Templates([MAIN, EXTRA]), "shared.html") == "main shared"
    assert render(Templates([EXTRA, MAIN]), "shared.html") == "extra shared"
    assert render(Templates([MAIN, EXTRA]), "only_extra.html") == "only in extra"


def test_relative_directory_is_taken_from_the_calling_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # not the folder a relative path resolves against
    templates = Templates("templates_fixtures/main")
    assert render(templates, "shared.html") == "main shared"


def test_custom_loader() -> None:
    templates = Templates(jinja2.DictLoader({"hello.html": "Hello {{ name }}"}))
    assert render(templates, "hello.html", {"name": "<you>"}) == "Hello &lt;you&gt;"


def test_scope_template_folders_are_searched_first() -> None:
    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)
    routed = make_request(app, **{"lanner.template_folders": (str(BLOG),)})
    plain = make_request(app)
    # The router's layout wins, and shared.html included from the app's child.html too.
    assert templates.render(routed, "child.html").body == b"<blog>blog shared</blog>"
    # The app's environment is not affected, even after the router's rendered the same names.
    assert templates.render(plain, "child.html").body == b"<main>main shared</main>"
    # Names only the app has are still found.
    assert templates.render(routed, "escape.txt", {"value": "x"}).body == b"x"


def test_router_folders_share_filters_and_globals_added_later(tmp_path: Path) -> None:
    (tmp_path / "x.html").write_text("{{ 'hi' | shout }} {{ site }}")
    templates = Templates(MAIN)
    routed = make_request(Lanner(freeze_gc=False), **{"lanner.template_folders": (str(tmp_path),)})
    assert templates.render(routed, "shared.html").body == b"main shared"
    templates.env.filters["shout"] = str.upper
    templates.env.globals["site"] = "lanner"
    assert templates.render(routed, "x.html").body == b"HI lanner"


def test_several_router_folders_innermost_first() -> None:
    templates = Templates(MAIN)
    routed = make_request(Lanner(freeze_gc=False), **{"lanner.template_folders": (str(BLOG), str(EXTRA))})
    assert templates.render(routed, "shared.html").body == b"blog shared"
    assert templates.render(routed, "only_extra.html").body == b"only in extra"


@needs_router_templates
def test_router_templates_folder_through_the_app() -> None:
    templates = Templates(MAIN)
    blog = Router(prefix="/blog", templates=BLOG)

    @blog.get("/")
    def blog_page(request: Request) -> HTMLResponse:
        return templates.render(request, "child.html")

    app = Lanner(freeze_gc=False)

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        return templates.render(request, "child.html")

    app.include_router(blog)
    client = TestClient(app)
    assert client.get("/blog/").text == "<blog>blog shared</blog>"
    assert client.get("/").text == "<main>main shared</main>"


# -- missing templates -------------------------------------------------------------------------


def test_missing_template_names_every_folder_searched() -> None:
    templates = Templates([MAIN, EXTRA])
    request = make_request(Lanner(freeze_gc=False), **{"lanner.template_folders": (str(BLOG),)})
    with pytest.raises(jinja2.TemplateNotFound) as info:
        templates.render(request, "nope.html")
    error = info.value
    assert isinstance(error, lanner.templating.TemplateNotFoundError)
    assert error.name == "nope.html"
    assert error.searched == (str(BLOG), str(MAIN), str(EXTRA))
    assert str(error) == f"Template 'nope.html' not found; searched: {BLOG}, {MAIN}, {EXTRA}"


def test_missing_template_with_a_custom_loader_names_the_loader() -> None:
    templates = Templates(
        jinja2.ChoiceLoader([jinja2.DictLoader({}), jinja2.PackageLoader("tests", "templates_fixtures")])
    )
    with pytest.raises(
        lanner.templating.TemplateNotFoundError,
        match=r"searched: <DictLoader>, package tests/templates_fixtures$",
    ):
        templates.render(make_request(Lanner(freeze_gc=False)), "nope.html")


def test_missing_template_with_a_prefix_loader_names_the_prefixes() -> None:
    loader = jinja2.PrefixLoader({"blog": jinja2.FileSystemLoader(BLOG)})
    searched = f"searched: blog/: {re.escape(str(BLOG))}$"
    with pytest.raises(lanner.templating.TemplateNotFoundError, match=searched):
        Templates(loader).render(make_request(Lanner(freeze_gc=False)), "blog/nope.html")


def test_missing_include_names_the_template_that_needs_it() -> None:
    with pytest.raises(lanner.templating.TemplateNotFoundError) as info:
        Templates(MAIN).render(make_request(Lanner(freeze_gc=False)), "include_missing.html")
    assert info.value.name == "nowhere.html"
    assert (
        str(info.value)
        == f"Template 'nowhere.html' not found (needed by 'include_missing.html'); searched: {MAIN}"
    )


def test_missing_template_is_a_500_without_internals() -> None:
    app = page_app(Templates(MAIN), "nope.html")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "nope.html" not in response.text
    assert str(MAIN) not in response.text


def test_missing_template_shows_the_traceback_in_debug() -> None:
    app = page_app(Templates(MAIN), "nope.html", debug=True)
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    problem = response.json()
    assert problem["detail"] == f"TemplateNotFoundError: Template 'nope.html' not found; searched: {MAIN}"
    assert "TemplateNotFoundError" in problem["traceback"]


def test_template_not_found_error_is_importable_and_pickles() -> None:
    from lanner.templating import TemplateNotFoundError

    assert issubclass(TemplateNotFoundError, jinja2.TemplateNotFound)
    assert TemplateNotFoundError.__module__ == "lanner.templating"
    error = TemplateNotFoundError("a.html", searched=["/x"])
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy)) == (TemplateNotFoundError, "Template 'a.html' not found; searched: /x")
    assert str(TemplateNotFoundError("a.html", "a custom message")) == "a custom message"
    with pytest.raises(AttributeError):
        _ = lanner.templating.NoSuchThing  # type: ignore[attr-defined]


# -- reloading ---------------------------------------------------------------------------------


def write(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))  # a distinct mtime even on coarse-grained file systems


@pytest.mark.parametrize(
    ("env", "explicit", "reloads"), [("1", None, True), (None, None, False), ("1", False, False)]
)
def test_auto_reload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str | None, explicit: bool | None, reloads: bool
) -> None:
    if env is None:
        monkeypatch.delenv("LANNER_DEBUG", raising=False)
    else:
        monkeypatch.setenv("LANNER_DEBUG", env)
    page = tmp_path / "page.html"
    write(page, "first", 1_000_000)
    templates = Templates(tmp_path, auto_reload=explicit)
    assert templates.env.auto_reload is reloads
    client = TestClient(page_app(templates, "page.html"))
    assert client.get("/").text == "first"
    write(page, "second", 2_000_000)
    assert client.get("/").text == ("second" if reloads else "first")


def test_router_folders_reload_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANNER_DEBUG", "1")
    (tmp_path / "router").mkdir()
    page = tmp_path / "router" / "page.html"
    write(page, "first", 1_000_000)
    templates = Templates(MAIN)
    request = make_request(
        Lanner(freeze_gc=False), **{"lanner.template_folders": (str(tmp_path / "router"),)}
    )
    assert templates.render(request, "page.html").body == b"first"
    write(page, "second", 2_000_000)
    assert templates.render(request, "page.html").body == b"second"


# -- sessions, flash messages and CSRF ---------------------------------------------------------


class FakeApp:
    """Just enough of an app for the session helpers, whatever the app wiring looks like."""

    debug = False

    def __init__(self, sessions: bool = True, csrf: bool = False) -> None:
        self.sessions = object() if sessions else None
        self.csrf = csrf

    def url_path_for(self, name: str, /, **params: Any) -> str:
        return "/" + name


class CountingRequest(Request):
    """A request whose session load is counted."""

    def __init__(self, scope: dict[str, Any], session: Session) -> None:
        super().__init__(scope)
        self.loads = 0
        self._the_session = session

    @property
    def session(self) -> Session:
        self.loads += 1
        return self._the_session


def counting_request(app: Any, session: Session | None = None) -> CountingRequest:
    base = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "app": app}
    return CountingRequest(base, session if session is not None else Session({"user": "ada"}))


def test_session_is_loaded_only_when_a_template_reads_it() -> None:
    templates = Templates(
        jinja2.DictLoader(
            {
                "quiet.html": "no session here",
                "user.html": "{{ session.user }} {{ session['user'] }} {{ 'user' in session }} "
                "{{ session|length }}",
                "missing.html": "[{{ session.get('nope', 'none') }}][{{ session.nope }}]",
                "loop.html": "{% for key, value in session.items() %}{{ key }}={{ value }}{% endfor %}",
            }
        )
    )
    quiet = counting_request(FakeApp())
    assert templates.render(quiet, "quiet.html").body == b"no session here"
    assert quiet.loads == 0
    loud = counting_request(FakeApp())
    assert templates.render(loud, "user.html").body == b"ada ada True 1"
    assert loud.loads == 1  # loaded once, then kept
    assert templates.render(counting_request(FakeApp()), "missing.html").body == b"[none][]"
    assert templates.render(counting_request(FakeApp()), "loop.html").body == b"user=ada"


def test_no_session_or_csrf_without_sessions() -> None:
    templates = Templates(
        jinja2.DictLoader(
            {"s.html": "{{ session is defined }} {{ csrf_token is defined }} {{ get_flashed_messages() }}"}
        )
    )
    request = counting_request(FakeApp(sessions=False))
    assert templates.render(request, "s.html").body == b"False False []"
    assert request.loads == 0
    assert render(templates, "s.html") == "False False []"  # a real app without a secret key


def test_get_flashed_messages_passes_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def get_flashed_messages(
        session: Session, with_categories: bool = False, category_filter: Any = ()
    ) -> list[Any]:
        calls.append((session, with_categories, tuple(category_filter)))
        return [("error", "boom")] if with_categories else ["boom"]

    fake = types.ModuleType("lanner.sessions.flash")
    fake.get_flashed_messages = get_flashed_messages  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lanner.sessions.flash", fake)
    templates = Templates(
        jinja2.DictLoader(
            {
                "f.html": "{% for m in get_flashed_messages() %}{{ m }}{% endfor %}"
                "{% for c, m in get_flashed_messages(with_categories=true, category_filter=['error']) %}"
                "|{{ c }}:{{ m }}{% endfor %}"
            }
        )
    )
    session = Session()
    request = counting_request(FakeApp(), session)
    assert templates.render(request, "f.html").body == b"boom|error:boom"
    assert calls == [(session, False, ()), (session, True, ("error",))]


def test_csrf_token_when_csrf_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("lanner.sessions.csrf")
    fake.csrf_token = lambda session: "token-for-" + session["user"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lanner.sessions.csrf", fake)
    templates = Templates(
        jinja2.DictLoader({"c.html": '<input name="csrf_token" value="{{ csrf_token() }}">'})
    )
    body = templates.render(counting_request(FakeApp(csrf=True)), "c.html").body
    assert body == b'<input name="csrf_token" value="token-for-ada">'
    with pytest.raises(jinja2.UndefinedError, match="csrf_token"):
        templates.render(counting_request(FakeApp(csrf=False)), "c.html")


@needs_sessions
def test_session_through_the_app() -> None:
    templates = Templates(jinja2.DictLoader({"s.html": "user={{ session.get('user', 'nobody') }}"}))
    app = Lanner(freeze_gc=False, secret_key=secrets.token_hex(32))

    @app.post("/login")
    def login(session: Session) -> dict[str, bool]:
        session["user"] = "ada"
        return {"ok": True}

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        return templates.render(request, "s.html")

    client = TestClient(app)
    assert client.get("/").text == "user=nobody"
    assert client.post("/login").status_code == 200
    assert client.get("/").text == "user=ada"


@needs_sessions
def test_csrf_token_through_the_app() -> None:
    from lanner.sessions.csrf import verify_csrf_token

    templates = Templates(jinja2.DictLoader({"c.html": "{{ csrf_token() }}|{{ csrf_token() }}"}))
    app = page_app(templates, "c.html", secret_key=secrets.token_hex(32), csrf=True)

    @app.post("/check")
    def check(session: Session, token: str) -> dict[str, bool]:
        return {"ok": verify_csrf_token(session, token)}

    client = TestClient(app)
    first, second = client.get("/").text.split("|")
    assert first != second  # masked anew on each call (BREACH)
    for token in (first, second):
        # The page stored the secret in the session cookie; both tokens verify against it.
        response = client.post("/check", params={"token": token}, headers={"X-CSRF-Token": token})
        assert response.json() == {"ok": True}


@needs_sessions
def test_flashed_messages_through_the_app() -> None:
    from lanner.sessions.flash import flash

    templates = Templates(
        jinja2.DictLoader(
            {
                "f.html": "{% for c, m in get_flashed_messages(with_categories=true) %}[{{ c }}:{{ m }}]"
                "{% endfor %}{{ get_flashed_messages(category_filter=['error']) }}"
            }
        )
    )
    app = page_app(templates, "f.html", secret_key=secrets.token_hex(32))

    @app.post("/save")
    def save(session: Session) -> dict[str, bool]:
        flash(session, "saved")
        flash(session, "<careful>", "error")
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/").text == "[]"
    client.post("/save")
    assert client.get("/").text == "[message:saved][error:&lt;careful&gt;][&#39;&lt;careful&gt;&#39;]"
    assert client.get("/").text == "[]"  # shown once


# -- Jinja2 is optional ------------------------------------------------------------------------


def test_missing_jinja2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r"Templates need Jinja2: pip install 'lanner\[templates\]'"):
        Templates(MAIN)


def test_importing_the_module_does_not_import_jinja2() -> None:
    code = "import sys, lanner.templating; assert 'jinja2' not in sys.modules, 'jinja2 imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# -- TemplateResponse (Starlette's and FastAPI's name) -----------------------------------------------


def test_template_response_positional_and_keyword_forms_match_render() -> None:
    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)
    context = {"title": "Fruit", "items": ["apple"]}

    @app.get("/render")
    def by_render(request: Request) -> HTMLResponse:
        return templates.render(request, "page.html", context)

    @app.get("/positional")
    def positional(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "page.html", context)

    @app.get("/keywords")
    def keywords(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request=request, name="page.html", context=context)

    client = TestClient(app)
    expected = client.get("/render")
    for path in ("/positional", "/keywords"):
        response = client.get(path)
        assert (response.status_code, response.text) == (200, expected.text)
        assert response.headers == expected.headers
    assert context == {"title": "Fruit", "items": ["apple"]}  # not modified


def test_template_response_gives_the_request_to_the_template() -> None:
    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)

    @app.get("/req")
    def req(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "request.html")

    assert TestClient(app).get("/req").text == "GET /req"


def test_template_response_options() -> None:
    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)
    ran: list[str] = []

    async def after() -> None:
        ran.append("background")

    @app.get("/gone")
    def gone(request: Request) -> HTMLResponse:
        response = templates.TemplateResponse(
            request,
            "escape.html",
            {"value": "<gone>"},
            status_code=410,
            headers={"X-A": "1"},
            media_type="application/xhtml+xml",
            background=after,
        )
        assert isinstance(response, HTMLResponse)
        return response

    response = TestClient(app).get("/gone")
    assert (response.status_code, response.headers["x-a"], response.text) == (410, "1", "&lt;gone&gt;")
    assert response.headers["content-type"] == "application/xhtml+xml"
    assert ran == ["background"]


def test_template_response_with_background_tasks() -> None:
    from lanner import BackgroundTasks

    templates = Templates(MAIN)
    app = Lanner(freeze_gc=False)
    ran: list[int] = []

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        tasks = BackgroundTasks()
        tasks.add_task(ran.append, 1)
        return templates.TemplateResponse(request, "request.html", background=tasks)

    assert TestClient(app).get("/").text == "GET /"
    assert ran == [1]


def _fastapi_templates_tutorial(tmp_path: Path) -> Lanner:
    """FastAPI's docs_src/templates app with lanner's names: a mounted, named static folder."""
    from lanner.staticfiles import StaticFiles

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "styles.css").write_text("h1 { color: green; }")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "item.html").write_text(
        "<link href=\"{{ url_for('static', path='/styles.css') }}\" rel=\"stylesheet\">"
        "<a href=\"{{ url_for('read_item', id=id) }}\">Item ID: {{ id }}</a>"
    )
    (tmp_path / "templates" / "item_path.html").write_text(
        "<link href=\"{{ url_for('static', path='/styles.css').path }}\" rel=\"stylesheet\">"
        "<a href=\"{{ url_for('read_item', id=id).path }}\">Item ID: {{ id }}</a>"
    )
    app = Lanner(freeze_gc=False)
    app.mount("/static", StaticFiles(directory=tmp_path / "static"), name="static")
    templates = Templates(tmp_path / "templates")

    @app.get("/items/{id}", response_class=HTMLResponse)
    async def read_item(request: Request, id: str) -> HTMLResponse:
        name = request.query_params.get("template", "item.html")
        return templates.TemplateResponse(request=request, name=name, context={"id": id})

    return app


@pytest.mark.parametrize("template", ["item.html", "item_path.html"])
@pytest.mark.parametrize("root_path", ["", "/api/v1"])
def test_the_fastapi_templates_tutorial(tmp_path: Path, template: str, root_path: str) -> None:
    client = TestClient(_fastapi_templates_tutorial(tmp_path), root_path=root_path)
    response = client.get(f"{root_path}/items/foo", params={"template": template})
    assert response.status_code == 200, response.text
    # Paths with the mount prefix, where Starlette writes full URLs (http://testserver/items/foo).
    assert f'<link href="{root_path}/static/styles.css" rel="stylesheet">' in response.text
    assert f'<a href="{root_path}/items/foo">Item ID: foo</a>' in response.text
    css = client.get(f"{root_path}/static/styles.css")
    assert (css.status_code, css.text) == (200, "h1 { color: green; }")


def test_url_for_gives_a_str_with_a_path_attribute() -> None:
    from lanner.templating import URLPath

    url = URLPath("/static/app.css")
    assert url == "/static/app.css" and isinstance(url, str)
    assert url.path == "/static/app.css" and type(url.path) is str


def test_app_level_processors_filters_globals_and_tests_reach_every_templates(tmp_path: Path) -> None:
    # Flask's @app.context_processor and @app.template_filter(): a project with one Templates per
    # module (as lanner migrate writes it) shares them.
    (tmp_path / "a.html").write_text("{{ site }} {{ 'hi'|shout }} {{ year() }} {{ 7 is lucky }} {{ extra }}")
    first, second = Templates(tmp_path), Templates(tmp_path)
    app = Lanner(freeze_gc=False)

    @app.context_processor
    def site() -> dict[str, str]:
        return {"site": "Notes", "extra": "app"}

    @app.template_filter("shout")
    def shout(text: str) -> str:
        return text.upper() + "!"

    @app.template_global()
    def year() -> int:
        return 2026

    @app.template_test
    def lucky(number: int) -> bool:
        return number == 7

    @first.context_processor
    def own(request: Request) -> dict[str, str]:
        return {"extra": "templates"}  # the Templates' own processor wins over the app's

    @app.get("/{which}")
    def page(request: Request, which: str) -> HTMLResponse:
        return (first if which == "first" else second).render(request, "a.html")

    client = TestClient(app)
    assert client.get("/first").text == "Notes HI! 2026 True templates"
    assert client.get("/second").text == "Notes HI! 2026 True app"

    def whisper(text: str) -> str:
        return text.lower()

    app.add_template_filter(whisper, "whisper")  # added later: the environments copy it again
    app.add_template_global(len)
    app.add_template_test(callable, "callable")
    (tmp_path / "b.html").write_text("{{ 'HI'|whisper }} {{ len('abc') }} {{ len is callable }}")

    @app.get("/b/page")
    def b(request: Request) -> HTMLResponse:
        return second.render(request, "b.html")

    assert client.get("/b/page").text == "hi 3 True"
    with pytest.raises(TypeError, match="plain function"):

        @app.context_processor
        async def slow() -> dict[str, str]:
            return {}
