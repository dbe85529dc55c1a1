"""Flask templates to lanner's (lanner.migrate._flask_templates): rewrites, findings, rendering."""

import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest

from lanner import Lanner, Request
from lanner.migrate._flask_templates import convert_template
from lanner.migrate._report import Finding
from lanner.responses import HTMLResponse, RedirectResponse
from lanner.routing import Router
from lanner.sessions import Session, flash
from lanner.templating import Templates
from lanner.testing import TestClient


def convert(text: str) -> str:
    converted, _ = convert_template(text, "t.html")
    return converted


def findings_of(text: str, path: str = "t.html") -> list[Finding]:
    return convert_template(text, path)[1]


# -- g ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flask", "lanner"),
    [
        ("{{ g.user }}", "{{ request.state.user }}"),
        ("{% if g.user %}hi{% endif %}", "{% if request.state.user %}hi{% endif %}"),
        ("{{ g.user['username'] }}", "{{ request.state.user['username'] }}"),
        ("{{ g.user.name|upper }}", "{{ request.state.user.name|upper }}"),
        ("{%- if g.user -%}x{%- endif -%}", "{%- if request.state.user -%}x{%- endif -%}"),
        ("{{- g.a -}}", "{{- request.state.a -}}"),
        ("{% set name = g.user.name %}", "{% set name = request.state.user.name %}"),
        ("{{ {'a': g.x}['a'] }}", "{{ {'a': request.state.x}['a'] }}"),
        ("{{ f(g.x, key=g.y) }}", "{{ f(request.state.x, key=request.state.y) }}"),
        ("{{ g\n  .user }}", "{{ request.state\n  .user }}"),
    ],
)
def test_g_attributes_become_request_state(flask: str, lanner: str) -> None:
    converted, findings = convert_template(flask, "t.html")
    assert converted == lanner
    assert findings == []


@pytest.mark.parametrize(
    "template",
    [
        "{{ x.g.y }}",  # an attribute called g
        "{{ f(g=1) }}",  # a keyword argument
        "{{ x|g }}",  # a filter
        "{{ x is g }}",  # a test
        "{% block g %}{% endblock g %}",  # a block's name
        "{{ 'g.user' }} {{ \"g.user\" }}",  # string literals
        "{{ 'it\\'s g.x' }}",  # an escaped quote does not end the string
        "<p>g.user</p> {g.user} {% if x %}g.user{% endif %}",  # text
        "{# {{ g.user }} #}{#- g.user -#}",  # comments
        "{% raw %}{{ g.user }}{% endraw %}{%- raw -%}{% if g.x %}{%- endraw %}",  # raw blocks
        "{{ gx.y }} {{ xg.y }} {{ g_.y }}",  # other names
        "{{ items.0.g }}",
    ],
)
def test_g_is_left_alone_where_it_is_not_flasks_g(template: str) -> None:
    assert convert_template(template, "t.html") == (template, [])


def test_strings_holding_tag_ends_and_comment_openers_do_not_end_the_tag() -> None:
    flask = "{{ '}}' ~ g.a }}|{{ \"{# g.b #}\" ~ g.c }}|{% set s = '%}' ~ g.d %}"
    lanner = (
        "{{ '}}' ~ request.state.a }}|{{ \"{# g.b #}\" ~ request.state.c }}|"
        "{% set s = '%}' ~ request.state.d %}"
    )
    assert convert(flask) == lanner


def test_g_used_as_a_whole_becomes_request_state() -> None:
    # lanner's State has g's get, pop, setdefault and `in`.
    template = "<p>\n{{ g.get('user') }}\n{% if 'user' in g %}x{% endif %}\n{{ g.pop('a') }}</p>"
    converted, findings = convert_template(template, "templates/page.html")
    assert converted == template.replace("g.", "request.state.").replace("in g ", "in request.state ")
    assert findings == []


@pytest.mark.parametrize(
    "template",
    [
        "{% for g in groups %}{{ g.name }}{% endfor %}",
        "{% set g = group %}{{ g.name }}",
        "{% macro show(g) %}{{ g.name }}{% endmacro %}",
        "{% import 'groups.html' as g with context %}{{ g.name }}",
        "{% with g = group %}{{ g.name }}{% endwith %}",
        "{% for request in requests %}{{ g.name }}{% endfor %}",  # the rewrite would name it
    ],
)
def test_a_template_binding_g_keeps_its_own_g(template: str) -> None:
    converted, findings = convert_template(template, "t.html")
    assert converted == template
    assert len(findings) == 1 and findings[0].note and findings[0].what == "g"


# -- config, request, session -----------------------------------------------------------------


def test_config_becomes_the_apps_config_with_a_note() -> None:
    template = "<title>{{ config.SITE_NAME }}</title>\n{% if config['DEBUG'] %}debug{% endif %}"
    converted, findings = convert_template(template, "t.html")
    assert converted == (
        "<title>{{ request.app.config.SITE_NAME }}</title>\n"
        "{% if request.app.config['DEBUG'] %}debug{% endif %}"
    )
    assert [(f.line, f.what, f.note) for f in findings] == [(1, "config", True), (2, "config", True)]


@pytest.mark.parametrize(
    ("flask", "lanner"),
    [
        ("{{ request.args.get('q', '') }}", "{{ request.query_params.get('q', '') }}"),
        ("{{ request.args.getlist('tag') }}", "{{ request.query_params.getlist('tag') }}"),
        ("{{ request.view_args['id'] }}", "{{ request.path_params['id'] }}"),
        ("{{ request.remote_addr }}", "{{ request.client.host }}"),
        ("{{ request.host }}", "{{ request.url.netloc }}"),
        ("{{ request.scheme }}", "{{ request.url.scheme }}"),
        ("{{ request.is_secure }}", "{{ request.url.is_secure }}"),
        ("{{ request.script_root }}", "{{ request.scope.root_path }}"),
        ("{{ request.referrer }}", "{{ request.headers.referer }}"),
    ],
)
def test_werkzeug_request_attributes_become_lanners(flask: str, lanner: str) -> None:
    assert convert_template(flask, "t.html") == (lanner, [])


def test_query_parameter_methods_lanner_lacks_are_reported() -> None:
    template = (
        "{{ request.args.get('page', 1, type=int) }}\n"
        "{{ request.args.to_dict() }}\n"
        "{{ request.args.get('q', f(type=1)) }} {{ request.args.items()|list }}"
    )
    converted, findings = convert_template(template, "t.html")
    assert converted == template.replace("request.args", "request.query_params")
    assert [(f.line, f.what) for f in findings] == [
        (1, "request.args.get(type=...)"),
        (2, "request.args.to_dict"),
    ]
    # Converting again reports them again, under lanner's spelling.
    again, findings = convert_template(converted, "t.html")
    assert again == converted
    assert [(f.line, f.what) for f in findings] == [
        (1, "request.query_params.get(type=...)"),
        (2, "request.query_params.to_dict"),
    ]


def test_request_attributes_lanner_shares_are_kept() -> None:
    template = (
        "{{ request.method }} {{ request.path }} {{ request.url }} {{ request.cookies.get('a') }} "
        "{{ request.headers['Accept'] }} {{ request.query_params }} {{ request }}"
    )
    assert convert_template(template, "t.html") == (template, [])


def test_request_form_and_other_gaps_are_reported_with_their_lines() -> None:
    template = (
        "<form method=post>\n"
        "  <input name=title value=\"{{ request.form['title'] or post['title'] }}\">\n"
        "  {{ request.files }} {{ request.get_json() }}\n"
        "  {% if request.endpoint == 'blog.index' %}here{% endif %} {{ request.full_path }}\n"
        "</form>"
    )
    converted, findings = convert_template(template, "blog/update.html")
    # request.form is the form the handler read, which lanner gives every render as `form`.
    assert converted == template.replace("request.form[", "form[")
    assert [(f.path, f.line, f.what, f.note) for f in findings] == [
        ("blog/update.html", 3, "request.files", False),
        ("blog/update.html", 3, "request.get_json", False),
        ("blog/update.html", 4, "request.endpoint", False),
        ("blog/update.html", 4, "request.full_path", False),
    ]
    assert "await request.form()" in findings[0].why
    assert convert_template(converted, "blog/update.html")[0] == converted


def test_session_reads_are_kept_and_writes_reported() -> None:
    reads = "{{ session['user'] }} {{ session.get('theme', 'light') }} {% if 'cart' in session %}c{% endif %}"
    assert convert_template(reads, "t.html") == (reads, [])
    writes = "{{ session.pop('cart') }}\n{% do session.update(a=1) %}"
    converted, findings = convert_template(writes, "t.html")
    assert converted == writes
    assert [(f.line, f.what) for f in findings] == [(1, "session.pop"), (2, "session.update")]


# -- url_for, flashed messages, imports -------------------------------------------------------


def test_url_for_static_dotted_endpoints_and_flashes_are_kept() -> None:
    template = (
        "<link href=\"{{ url_for('static', filename='style.css') }}\">"
        "<a href=\"{{ url_for('blog.update', id=post['id']) }}\">edit</a>"
        "<a href=\"{{ url_for('auth.login') }}\">log in</a>"
        "<img src=\"{{ url_for('blog.static', filename='logo.png') }}\">"
        "{% for category, message in get_flashed_messages(with_categories=true) %}{{ message }}{% endfor %}"
        "{{ csrf_token() }}"
    )
    assert convert_template(template, "t.html") == (template, [])


def test_url_for_options_lanner_lacks_are_reported() -> None:
    # _external and _anchor work in lanner's url_for as in Flask's; _scheme and _method do not.
    template = (
        "{{ url_for('.index') }}\n"
        "{{ url_for('blog.index', _external=True) }}\n"
        "{{ url_for('blog.detail', id=1, _anchor='comments') }}\n"
        "{{ url_for('blog.index', _scheme='https', _method='GET') }}\n"
        "{{ url_for('blog.index', page=f(_external=1)) }}"  # another call's keyword
    )
    converted, findings = convert_template(template, "t.html")
    assert converted == template
    assert [(f.line, f.what) for f in findings] == [
        (1, "url_for('.index')"),
        (4, "url_for(_scheme=...)"),
        (4, "url_for(_method=...)"),
    ]


@pytest.mark.parametrize(
    ("flask", "lanner"),
    [
        ("{% import 'forms.html' as forms %}", "{% import 'forms.html' as forms with context %}"),
        ("{% from 'm.html' import a, b %}", "{% from 'm.html' import a, b with context %}"),
        ("{%- from 'm.html' import a as b -%}", "{%- from 'm.html' import a as b with context -%}"),
    ],
)
def test_imports_gain_with_context(flask: str, lanner: str) -> None:
    converted, findings = convert_template(flask, "t.html")
    assert converted == lanner
    assert len(findings) == 1 and findings[0].note


@pytest.mark.parametrize(
    "template",
    ["{% import 'forms.html' as forms with context %}", "{% from 'm.html' import a without context %}"],
)
def test_imports_stating_their_context_are_kept(template: str) -> None:
    assert convert_template(template, "t.html") == (template, [])


# -- safety and idempotence -------------------------------------------------------------------


def test_a_template_that_is_not_valid_jinja_is_reported_and_untouched() -> None:
    template = "<p>\n{% if g.user %}\n{{ g.user }}\n"
    converted, findings = convert_template(template, "broken.html")
    assert converted == template
    assert len(findings) == 1
    assert (findings[0].path, findings[0].what, findings[0].note) == ("broken.html", "template", False)
    assert "not valid Jinja" in findings[0].why


def test_extensions_flask_apps_use_still_parse() -> None:
    template = "{% trans user=g.user.name %}Hello {{ user }}{% endtrans %}{% do items.append(g.x) %}"
    assert convert(template) == (
        "{% trans user=request.state.user.name %}Hello {{ user }}{% endtrans %}"
        "{% do items.append(request.state.x) %}"
    )


def test_line_numbers_with_windows_line_endings() -> None:
    template = "<p>\r\n\r\n{{ request.files['a'] }}\r\n</p>"
    assert [f.line for f in findings_of(template)] == [3]


def test_missing_jinja_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r"lanner\[templates\]"):
        convert_template("{{ g.x }}", "t.html")


# -- a realistic set of templates, converted and rendered by lanner ------------------------------

# In the style of Flask's tutorial (flaskr): a base layout, a blog index extending it, a macro file.
FLASK_TEMPLATES = {
    "base.html": """<!doctype html>
<title>{% block title %}{% endblock %} - {{ config.SITE_NAME }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}">
<nav>
  <h1><a href="{{ url_for('blog.index') }}">Flaskr</a></h1>
  <ul>
    {% if g.user %}
      <li><span>{{ g.user['username'] }}</span>
      <li><a href="{{ url_for('auth.logout') }}">Log Out</a>
    {% else %}
      <li><a href="{{ url_for('auth.register') }}">Register</a>
      <li><a href="{{ url_for('auth.login') }}">Log In</a>
    {% endif %}
  </ul>
</nav>
<section class="content">
  <header>{% block header %}{% endblock %}</header>
  {% for message in get_flashed_messages() %}
    <div class="flash">{{ message }}</div>
  {% endfor %}
  {% block content %}{% endblock %}
</section>
{# g.user is loaded by a before_request hook #}
""",
    "blog/index.html": """{% extends 'base.html' %}
{% from '_macros.html' import post_link %}
{% block header %}
  <h1>{% block title %}Posts{% endblock %}</h1>
  {% if g.user %}<a class="action" href="{{ url_for('blog.create') }}">New</a>{% endif %}
{% endblock %}
{% block content %}
  {% for post in posts %}
    <article class="post">{{ post_link(post) }}
      {% if g.user['id'] == post['author_id'] %}
        <a class="action" href="{{ url_for('blog.update', id=post['id']) }}">Edit</a>
      {% endif %}
    </article>
  {% endfor %}
  <p class="search">search: {{ request.args.get('q', '') }} from {{ request.remote_addr }}</p>
{% endblock %}
""",
    "_macros.html": """{% macro post_link(post) -%}
  <a href="{{ url_for('blog.detail', id=post['id']) }}">{{ post['title'] }}</a>
{%- endmacro %}
""",
}

USERS = {1: {"id": 1, "username": "ada"}}
POSTS = [
    {"id": 1, "title": "Engines", "author_id": 1},
    {"id": 2, "title": "Looms", "author_id": 2},
]


def converted_templates() -> tuple[dict[str, str], list[Finding]]:
    out: dict[str, str] = {}
    findings: list[Finding] = []
    for name, text in FLASK_TEMPLATES.items():
        out[name], found = convert_template(text, name)
        findings.extend(found)
    return out, findings


def blog_app(templates: dict[str, str], static: Path) -> Lanner:
    """The flaskr app's shape in lanner: an auth and a blog router, sessions, g.user as request.state."""
    pages = Templates(jinja2.DictLoader(templates))
    app = Lanner(freeze_gc=False, secret_key="test-secret")
    app.static("/static", static)
    config: Any = getattr(app, "config", None)
    if config is None:  # Lanner.config comes with the Flask conveniences; a dict stands in until then
        config = {}
        setattr(app, "config", config)  # noqa: B010
    config["SITE_NAME"] = "Flaskr"

    @app.before_request
    def load_logged_in_user(request: Request) -> None:
        request.state.user = USERS.get(request.session.get("user_id"))

    auth = Router(prefix="/auth", name="auth")

    @auth.get("/register")
    def register() -> str:
        return "register"

    @auth.get("/login")
    def login(session: Session) -> RedirectResponse:
        session["user_id"] = 1
        flash(session, "Welcome back")
        return RedirectResponse("/", status_code=302)

    @auth.get("/logout")
    def logout(session: Session) -> RedirectResponse:
        session.clear()
        return RedirectResponse("/", status_code=302)

    blog = Router(name="blog")

    @blog.get("/")
    def index(request: Request) -> HTMLResponse:
        return pages.render(request, "blog/index.html", {"posts": POSTS})

    @blog.get("/create")
    def create() -> str:
        return "create"

    @blog.get("/{id:int}")
    def detail(id: int) -> str:
        return f"post {id}"

    @blog.get("/{id:int}/update")
    def update(id: int) -> str:
        return f"update {id}"

    app.include_router(auth)
    app.include_router(blog)
    return app


def test_the_realistic_templates_convert_with_notes_only() -> None:
    converted, findings = converted_templates()
    assert [f for f in findings if not f.note] == []
    assert sorted((f.path, f.line, f.what) for f in findings) == [
        ("base.html", 2, "config"),
        ("blog/index.html", 2, "{% from ... import %}"),
    ]
    # Only the comment still says g.user.
    assert re.findall(r"\bg\.\w+", converted["base.html"]) == ["g.user"]
    assert "{{ request.state.user['username'] }}" in converted["base.html"]
    assert "{% from '_macros.html' import post_link with context %}" in converted["blog/index.html"]
    # url_for with filename= and dotted endpoint names are kept as Flask wrote them.
    assert "{{ url_for('static', filename='style.css') }}" in converted["base.html"]
    assert "{{ url_for('blog.update', id=post['id']) }}" in converted["blog/index.html"]


def test_converting_twice_changes_nothing() -> None:
    once, _ = converted_templates()
    for name, text in once.items():
        again, findings = convert_template(text, name)
        assert again == text
        assert [f for f in findings if not f.note] == []
        assert convert_template(again, name)[0] == again


def test_converted_templates_render_in_lanner(tmp_path: Path) -> None:
    (tmp_path / "style.css").write_text("body { color: black; }")
    converted, _ = converted_templates()
    with TestClient(blog_app(converted, tmp_path)) as client:
        anonymous = client.get("/", params={"q": "engines"})
        assert anonymous.status_code == 200
        page = anonymous.text
        assert "<title>Posts - Flaskr</title>" in page
        assert '<link rel="stylesheet" href="/static/style.css">' in page
        assert client.get("/static/style.css").text == "body { color: black; }"
        assert '<a href="/">Flaskr</a>' in page
        assert '<a href="/auth/register">Register</a>' in page and '<a href="/auth/login">Log In</a>' in page
        assert '<a href="/1">Engines</a>' in page and '<a href="/2">Looms</a>' in page
        assert "search: engines from testclient" in page
        assert "Log Out" not in page and "New</a>" not in page and "Edit" not in page

        login = client.get("/auth/login", follow_redirects=False)
        assert (login.status_code, login.headers["location"]) == (302, "/")
        page = client.get("/").text
        assert "<span>ada</span>" in page  # g.user, now request.state.user, set by the hook
        assert '<a href="/auth/logout">Log Out</a>' in page
        assert '<a class="action" href="/create">New</a>' in page
        assert '<a class="action" href="/1/update">Edit</a>' in page
        assert "/2/update" not in page  # not ada's post
        assert '<div class="flash">Welcome back</div>' in page
        assert "Welcome back" not in client.get("/").text  # flashed messages are read once
        # Every link the page builds is served by the app.
        assert client.get("/1/update").json() == "update 1"
        assert client.get("/1").json() == "post 1"


def test_the_unconverted_templates_do_not_render_in_lanner(tmp_path: Path) -> None:
    """The conversion is what makes them work: Flask's g and config are unknown to lanner."""
    app = blog_app(dict(FLASK_TEMPLATES), tmp_path)
    with TestClient(app) as client, pytest.raises(jinja2.UndefinedError):
        client.get("/")


def test_an_imported_macro_file_needs_the_context_in_lanner(tmp_path: Path) -> None:
    """Without ``with context`` the macro file cannot see url_for: the import rewrite is needed."""
    converted, _ = converted_templates()
    converted["blog/index.html"] = converted["blog/index.html"].replace(" with context", "")
    with TestClient(blog_app(converted, tmp_path)) as client, pytest.raises(jinja2.UndefinedError):
        client.get("/")
