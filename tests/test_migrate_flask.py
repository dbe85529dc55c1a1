import dataclasses
import importlib
import io
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("libcst")

from lanner.migrate._flask import (
    detect_source,
    iter_template_files,
    migrate_flask_paths,
    migrate_flask_source,
)
from lanner.migrate._flask_names import canonical, markdown_table
from lanner.migrate._flask_routes import convert_rule

FIXTURE = Path(__file__).parent / "fixtures" / "flask_project"


def migrate(code: str) -> tuple[str, list[str]]:
    """The migrated source and the report lines (``line: [note: ]what: why``) of `code`."""
    result = migrate_flask_source(textwrap.dedent(code))
    assert result.error is None
    return result.text, [f"{f.line}: {'note: ' if f.note else ''}{f.what}: {f.why}" for f in result.findings]


def body(text: str) -> str:
    """`text` without its import lines (the tests look at the imports separately)."""
    lines = [line for line in text.splitlines() if not line.startswith(("from ", "import "))]
    return "\n".join(lines).strip() + "\n"


# -- names and rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "converted", "names"),
    [
        ("/post/<int:id>", "/post/{id:int}", {"id"}),
        ("/files/<path:p>", "/files/{p:path}", {"p"}),
        ("/user/<name>/<string:tab>", "/user/{name}/{tab}", {"name", "tab"}),
        ("/at/<float:x>/<uuid:key>", "/at/{x:float}/{key:uuid}", {"x", "key"}),
        ("/plain", "/plain", set()),
    ],
)
def test_flask_rules_become_lanner_paths(rule, converted, names):
    assert convert_rule(rule) == (converted, names, [])


def test_converters_lanner_lacks_are_left_and_listed():
    assert convert_rule("/<any(a, b):kind>/<int(min=1):n>/<custom:x>") == (
        "/<any(a, b):kind>/<int(min=1):n>/<custom:x>",
        set(),
        ["<any(a, b):kind>", "<int(min=1):n>", "<custom:x>"],
    )


def test_qualified_flask_names_are_recognised():
    assert canonical("flask.request") == "request"
    assert canonical("flask.globals.request") == "request"
    assert canonical("werkzeug.exceptions.abort") == "abort"
    assert canonical("flask.request.args") is None
    assert canonical("werkzeug.security.check_password_hash") is None
    assert canonical("flask_login.login_user") is None


def test_the_docs_table_has_a_row_per_construct():
    table = markdown_table()
    assert table.startswith("| Flask | lanner | Note |\n| --- | --- | --- |\n")
    assert "| Flask(__name__) | Lanner() |" in table
    assert "x: int \\| None = None" in table  # a pipe inside a cell is escaped


# -- apps, blueprints, routes ------------------------------------------------------------------


def test_flask_app_becomes_lanner_with_the_secret_key_it_is_given():
    text, report = migrate(
        """\
        from flask import Flask

        app = Flask(__name__, instance_relative_config=True)
        app.config.from_mapping(SECRET_KEY="dev", DATABASE="x.db")
        app.config["DEBUG"] = True
        """
    )
    assert text == textwrap.dedent(
        """\
        from lanner import Lanner

        app = Lanner(instance_relative_config=True, secret_key="dev")
        app.config.from_mapping(SECRET_KEY="dev", DATABASE="x.db")
        app.config["DEBUG"] = True
        """
    )
    assert [line.split(":")[0] for line in report] == ["4", "5"]
    assert all("app.config kept" in line for line in report)


def test_a_missing_secret_key_is_reported_when_sessions_are_used():
    text, report = migrate(
        """\
        from flask import Flask, session

        app = Flask(__name__, root_path="/srv")

        @app.route("/")
        def index():
            return {"n": session.get("n")}
        """
    )
    assert 'Lanner(root_path="/srv")' in text
    assert report == [
        "3: Flask(): sessions need a key: give Lanner(secret_key=...) or LANNER_SECRET_KEY",
        "3: Flask(root_path=...): Lanner() has no such argument; left in place",
    ]


def test_the_app_static_folder_is_served_when_it_exists(tmp_path):
    (tmp_path / "static").mkdir()
    app = tmp_path / "app.py"
    app.write_text(
        'from flask import Flask\napp = Flask(__name__)\nother = Flask(__name__, static_url_path="/s")\n'
    )
    result = migrate_flask_source(app.read_bytes(), path=str(app))
    assert result.text == (
        "from lanner import Lanner\n"
        "app = Lanner()\n"
        'app.static("/static", "static")\n'
        "other = Lanner()\n"
        'other.static("/s", "static")\n'
    )


def test_blueprint_becomes_router_with_its_folders():
    text, report = migrate(
        """\
        from flask import Blueprint

        bp = Blueprint("blog", __name__, url_prefix="/blog/", template_folder="templates",
                       static_folder="static", static_url_path="/assets")
        root = Blueprint("root", __name__, url_prefix="/")
        """
    )
    assert text == textwrap.dedent(
        """\
        from lanner import Router

        bp = Router(prefix="/blog", name="blog", templates="templates", static="static")
        root = Router(name="root")
        """
    )
    assert report == ["4: Blueprint(static_url_path=...): Router() has no such argument; dropped"]


def test_routes_get_one_decorator_per_method_and_lanner_converters():
    text, report = migrate(
        """\
        from flask import Blueprint

        bp = Blueprint("blog", __name__)

        @bp.route("/")
        def index():
            return {}

        @bp.route("/<int:id>/update", methods=("GET", "POST"), endpoint="edit", strict_slashes=False)
        def update(id):
            return {}

        @bp.route("/any", methods=["get", "HEAD", "delete"])
        def anything():
            return {}

        @bp.route("/dynamic", methods=METHODS)
        def dynamic():
            return {}

        @bp.post("/<path:p>")
        def upload(p):
            return {}
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        bp = Router(name="blog")

        @bp.get("/")
        def index():
            return {}

        @bp.get("/{id:int}/update", name="edit")
        @bp.post("/{id:int}/update", name="edit")
        def update(id):
            return {}

        @bp.get("/any")
        @bp.delete("/any")
        def anything():
            return {}

        @bp.route("/dynamic", methods=METHODS)
        def dynamic():
            return {}

        @bp.post("/{p:path}")
        def upload(p):
            return {}
        """
    )
    assert report == ["9: note: strict_slashes=: lanner redirects between /path and /path/ itself; dropped"]


def test_register_blueprint_and_add_url_rule():
    text, report = migrate(
        """\
        from flask import Blueprint, Flask

        bp = Blueprint("auth", __name__)
        app = Flask(__name__)

        def about():
            return {"about": True}

        app.register_blueprint(bp, url_prefix="/auth/")
        app.add_url_rule("/about", "about", about, methods=["GET", "POST"])
        app.add_url_rule("/", endpoint="index")
        """
    )
    assert 'app.include_router(bp, prefix="/auth")' in text
    assert 'app.add_route("/about", about, ["GET", "POST"], name="about")' in text
    # An endpoint without a view is a name for url_for(): the blueprint's route serves the path.
    assert 'app.add_url_alias("index", "/")' in text
    assert report == []


def test_add_url_rule_without_a_view_on_a_blueprint_is_reported():
    _, report = migrate(
        """        from flask import Blueprint

        bp = Blueprint("auth", __name__)
        bp.add_url_rule("/", endpoint="home")
        bp.add_url_rule("/x")
        """
    )
    assert report == [
        "4: bp.add_url_rule(): a Router has no URL aliases: call app.add_url_alias(endpoint, path) "
        "on the app",
        "5: bp.add_url_rule(): a rule needs a path and a view_func or endpoint",
    ]


def test_hooks_and_error_handlers_take_the_request_first():
    text, report = migrate(
        """\
        from flask import Flask, g, jsonify
        from werkzeug.exceptions import HTTPException

        app = Flask(__name__)

        @app.before_request
        def start():
            g.user = None

        @app.after_request
        def headers(response):
            response.headers["X-Frame-Options"] = "DENY"
            return response

        @app.errorhandler(404)
        def missing(error):
            return jsonify(error="not found"), 404

        @app.errorhandler(HTTPException)
        def http_error(error):
            return "oops", 500

        @app.teardown_request
        def cleanup(exc=None):
            pass

        def late(e):
            return "late", 500

        app.register_error_handler(500, late)
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        @app.before_request
        def start(request: Request):
            request.state.user = None

        @app.after_request
        def headers(request: Request, response):
            response.headers["X-Frame-Options"] = "DENY"
            return response

        @app.exception_handler(404)
        def missing(request: Request, error):
            return JSONResponse({"error": "not found"}, status_code=404)

        @app.exception_handler(HTTPException)
        def http_error(request: Request, error):
            return HTMLResponse("oops", status_code=500)

        @app.teardown_request
        def cleanup(request: Request, exc=None):
            pass

        def late(request: Request, e):
            return HTMLResponse("late", status_code=500)

        app.add_exception_handler(500, late)
        """
    )
    assert "from lanner import HTTPException, Lanner, Request\n" in text
    assert report == []


def test_blueprint_app_hooks_are_registered_where_the_blueprint_is_included():
    text, report = migrate(
        """\
        from flask import Blueprint, Flask, g

        bp = Blueprint("auth", __name__)

        @bp.before_app_request
        def load_user():
            g.user = "ann"

        @bp.app_errorhandler(403)
        def forbidden(error):
            return "no", 403

        @bp.before_request
        def only_here():
            pass

        app = Flask(__name__)
        app.register_blueprint(bp)
        """
    )
    assert "@bp.before_app_request" not in text and "@bp.app_errorhandler" not in text
    assert "def load_user(request: Request):\n    request.state.user = " in text
    assert text.endswith(
        "app.include_router(bp)\napp.before_request(load_user)\napp.add_exception_handler(403, forbidden)\n"
    )
    assert report[0] == "5: note: @bp.before_app_request: now registered with app.before_request() where " + (
        "the router is included"
    )
    assert report[2].startswith("13: @bp.before_request: lanner's Router has no before_request")


# -- the request globals -----------------------------------------------------------------------


def test_query_arguments_become_typed_parameters():
    text, report = migrate(
        """\
        from flask import Flask, request

        app = Flask(__name__)

        @app.route("/search/<int:page>")
        def search(page):
            q = request.args.get("q", "")
            limit = request.args.get("limit", 10, type=int)
            ratio = request.args.get("ratio", type=float)
            tag = request.args["tag"]
            sort = "name"
            sort = request.args.get("sort") or sort
            mine = request.args.get("page", type=int)
            every = request.args.to_dict()
            dynamic = request.args.get(key, type=int)
            return {"q": q, "limit": limit, "r": ratio, "t": tag, "s": sort, "m": mine, "e": every, "d": dynamic}
        """  # noqa: E501
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        @app.get("/search/{page:int}")
        def search(page, request: Request, tag: str, q: str = "", limit: int = 10, ratio: float | None = None, sort_query: Annotated[str | None, Query(alias="sort")] = None, mine: Annotated[int | None, Query(alias="page")] = None):
            sort = "name"
            sort = sort_query or sort
            every = request.query_params.to_dict()
            dynamic = request.query_params.get(key, type=int)
            return {"q": q, "limit": limit, "r": ratio, "t": tag, "s": sort, "m": mine, "e": every, "d": dynamic}
        """  # noqa: E501
    )
    assert report == [
        "15: request.query_params.get(key, type=int): QueryParams.get() takes no type=: declare a typed "
        "query parameter instead".replace("request.query_params", "request.args")
    ]


def test_form_fields_and_files_become_form_parameters():
    text, report = migrate(
        """\
        from flask import Flask, request

        app = Flask(__name__)

        @app.route("/edit", methods=["GET", "POST"])
        def edit():
            if request.method == "POST":
                title = request.form["title"]
                body = request.form.get("body")
                kind = request.form.get("kind", "note")
                return {"t": title, "b": body, "k": kind}
            return {}

        @app.post("/upload")
        def upload():
            picture = request.files["picture"]
            extra = request.files.get("extra")
            return {"name": picture.filename, "extra": extra is not None}
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        @app.get("/edit")
        @app.post("/edit")
        def edit(request: Request, title: Annotated[str, Form()] = "", body: Annotated[str | None, Form()] = None, kind: Annotated[str, Form()] = "note"):
            if request.method == "POST":
                return {"t": title, "b": body, "k": kind}
            return {}

        @app.post("/upload")
        def upload(picture: Annotated[UploadFile, File()], extra: Annotated[UploadFile | None, File()] = None):
            return {"name": picture.filename, "extra": extra is not None}
        """  # noqa: E501
    )
    assert [line.split(":")[0] for line in report] == ["16", "17"]
    assert all("UploadFile reads asynchronously" in line for line in report)


def test_json_bodies_become_body_parameters():
    text, _ = migrate(
        """\
        from flask import Flask, request

        app = Flask(__name__)

        @app.post("/items")
        def create():
            data = request.get_json()
            return data

        @app.post("/maybe")
        def maybe():
            return {"got": request.get_json(silent=True)}

        @app.post("/attr")
        def attribute():
            return request.json
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        @app.post("/items")
        def create(data: Annotated[Any, Body()]):
            return data

        @app.post("/maybe")
        def maybe(payload: Annotated[Any, Body()] = None):
            return {"got": payload}

        @app.post("/attr")
        def attribute(payload: Annotated[Any, Body()]):
            return payload
        """
    )
    assert "from typing import Annotated, Any\nfrom lanner import Body, Lanner\n" in text


def test_other_request_attributes_use_the_request_parameter():
    text, report = migrate(
        """\
        from flask import Flask, request

        app = Flask(__name__)

        @app.route("/info/<name>")
        def info(name):
            return {
                "method": request.method,
                "agent": request.headers.get("User-Agent"),
                "ip": request.remote_addr,
                "url": request.url,
                "view": request.view_args,
                "endpoint": request.endpoint,
            }
        """
    )
    assert "def info(name, request: Request):" in text
    assert '"ip": request.client.host,' in text and '"url": str(request.url),' in text
    assert '"view": request.path_params,' in text
    assert report == [
        "13: request.endpoint: lanner's Request has no endpoint: read it from request.scope or "
        "request.headers"
    ]


def test_session_flash_and_g():
    text, report = migrate(
        """\
        from flask import Flask, flash, g, get_flashed_messages, session

        app = Flask(__name__)
        app.secret_key = "dev"

        @app.route("/visit")
        def visit():
            session["visits"] = session.get("visits", 0) + 1
            flash("Welcome back.", "info")
            if "db" not in g:
                g.db = open_db()
            return {"visits": session["visits"], "db": g.get("db"), "flashes": get_flashed_messages()}

        @app.before_request
        def remember():
            g.user = session.get("user")
            flash("seen")
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner(secret_key="dev")
        app.secret_key = "dev"

        @app.get("/visit")
        def visit(request: Request, session: Session):
            session["visits"] = session.get("visits", 0) + 1
            flash(session, "Welcome back.", "info")
            if "db" not in request.state:
                request.state.db = open_db()
            return {"visits": session["visits"], "db": request.state.get("db"), "flashes": get_flashed_messages(session)}

        @app.before_request
        def remember(request: Request):
            request.state.user = request.session.get("user")
            flash(request.session, "seen")
        """  # noqa: E501
    )
    assert "from lanner import Lanner, Request, Session, flash, get_flashed_messages\n" in text
    assert report == []  # app.secret_key is app.config["SECRET_KEY"] in lanner too


def test_jsonify_abort_and_redirect():
    text, report = migrate(
        """\
        from flask import Flask, abort, jsonify, redirect, url_for

        app = Flask(__name__)

        @app.route("/items/<int:id>")
        def item(id):
            if id == 0:
                abort(404)
            if id < 0:
                abort(400, description="negative id")
            if id > 99:
                return redirect(url_for("item", id=99))
            if id > 50:
                return redirect("/elsewhere", code=301)
            response = jsonify(id=id)
            return jsonify({"id": id, "response": response})

        @app.route("/list")
        def listing():
            value = flag or abort(500)
            return jsonify([1, 2]), 201, {"X-Count": "2"}
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        @app.get("/items/{id:int}")
        def item(id, request: Request):
            if id == 0:
                raise HTTPException(404)
            if id < 0:
                raise HTTPException(400, "negative id")
            if id > 99:
                return RedirectResponse(request.url_for("item", id=99), 302)
            if id > 50:
                return RedirectResponse("/elsewhere", 301)
            response = JSONResponse({"id": id})
            return {"id": id, "response": response}

        @app.get("/list")
        def listing():
            value = flag or abort(500)
            return JSONResponse([1, 2], status_code=201, headers={"X-Count": "2"})
        """
    )
    assert report == ["20: abort(): only abort() as a statement becomes raise HTTPException(...)"]
    assert "from flask import abort\n" in text


def test_render_template_and_url_for():
    text, report = migrate(
        """\
        from flask import Blueprint, render_template, url_for

        bp = Blueprint("blog", __name__)

        @bp.route("/")
        def index():
            posts = load()
            return render_template("blog/index.html", posts=posts, **extra)

        @bp.route("/gone")
        def gone():
            links = [url_for(".index"), url_for("static", filename="app.css"), url_for("x", _external=True)]
            other = url_for("x", _scheme="https")
            return render_template("gone.html"), 410
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        templates = Templates("templates")

        bp = Router(name="blog")

        @bp.get("/")
        def index(request: Request):
            posts = load()
            return templates.render(request, "blog/index.html", {"posts": posts, **extra})

        @bp.get("/gone")
        def gone(request: Request):
            links = [request.url_for("blog.index"), request.url_for("static", path="app.css"), request.url_for("x", _external=True)]
            other = url_for("x", _scheme="https")
            return templates.render(request, "gone.html", status_code=410)
        """  # noqa: E501
    )
    assert "from lanner.templating import Templates\nfrom flask import url_for\n" in text
    assert report == [
        '13: url_for("x", _scheme="https"): lanner\'s url_for takes _anchor and _external only: build the '
        "rest from request.url"
    ]


def test_string_returns_become_html_and_unknown_tuples_are_reported():
    text, report = migrate(
        """\
        from flask import Flask

        app = Flask(__name__)

        @app.route("/")
        def home():
            name = "you"
            if name:
                return f"<p>Hello {name}</p>"
            return "<p>%s</p>" % name

        @app.route("/pair")
        def pair():
            return build(), 202
        """
    )
    assert 'return HTMLResponse(f"<p>Hello {name}</p>")' in text
    assert 'return HTMLResponse("<p>%s</p>" % name)' in text
    assert report == [
        "14: return build(), 202: return a Response with the status: Response(body, status_code)"
    ]


def test_helpers_using_the_request_take_it_and_their_callers_pass_it():
    text, report = migrate(
        """\
        from flask import Flask, current_app, g

        app = Flask(__name__)

        def get_db():
            if "db" not in g:
                g.db = connect(current_app.config["DATABASE"])
            return g.db

        def get_user(user_id):
            return get_db().find(user_id)

        def plain():
            return 1

        @app.route("/users/<int:user_id>")
        def user(user_id):
            return {"user": get_user(user_id), "plain": plain()}

        TABLES = get_db()
        """
    )
    assert 'def get_db(request: Request):\n    if "db" not in request.state:\n' in text
    assert 'request.state.db = connect(request.app.config["DATABASE"])' in text
    assert "def get_user(request: Request, user_id):\n    return get_db(request).find(user_id)" in text
    assert "def plain():" in text
    assert 'return {"user": get_user(request, user_id), "plain": plain()}' in text
    assert (
        report[-1]
        == "20: get_db(): it now takes the request first (it uses Flask's request globals); pass one"
    )


def test_login_required_keeps_working_as_a_decorator():
    text, report = migrate(
        """\
        import functools

        from flask import Flask, g, redirect, url_for

        app = Flask(__name__)

        def login_required(view):
            @functools.wraps(view)
            def wrapped_view(**kwargs):
                \"\"\"Check.\"\"\"
                if g.user is None:
                    return redirect(url_for("login"))
                return view(**kwargs)

            return wrapped_view

        @app.route("/secret")
        @login_required
        def secret():
            return {"ok": True}
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()

        def login_required(view):
            @functools.wraps(view)
            def wrapped_view(**kwargs):
                \"\"\"Check.\"\"\"
                request = kwargs["request"]
                if request.state.user is None:
                    return RedirectResponse(request.url_for("login"), 302)
                return view(**kwargs)

            return wrapped_view

        @app.get("/secret")
        @login_required
        def secret(request: Request):
            return {"ok": True}
        """
    )
    assert report == []


# -- the report and the safety rules -----------------------------------------------------------


def test_constructs_without_an_equivalent_are_reported_with_a_suggestion():
    _, report = migrate(
        """\
        from flask import Flask, make_response, send_file, request, g
        from flask.signals import request_started
        from flask_login import LoginManager

        app = Flask(__name__)

        @app.route("/a/<any(x,y):kind>")
        def a(kind):
            return kind

        @app.route("/b", methods=["POST"])
        def b():
            response = make_response("x")
            g.pop("x", None)
            fields = request.form.to_dict()
            return send_file("f.txt")

        @app.context_processor
        def extra():
            return {}

        request_started.connect(print)

        if __name__ == "__main__":
            app.run(debug=True)
        """
    )
    assert report == [
        "3: flask_login: a Flask extension does not run on lanner: use a lanner feature or an ASGI library "
        "instead",
        "7: <any(x,y):kind>: lanner has no such path converter: use {name}, {name:int}, {name:float}, "
        "{name:uuid} or {name:path} and check the value in the view",
        "13: make_response: build the response yourself: Response(body, status_code, headers), "
        "JSONResponse(...)",
        "15: request.form: lanner reads the body asynchronously: make the handler async and use await "
        "request.form()",
        "16: send_file: return lanner.responses.FileResponse(path)",
        "22: request_started: lanner has no signals: call the function from a hook or the handler",
        "25: app.run(): serve the app with `lanner run module:app` (or `lanner dev` while developing)",
    ]


SAMPLE = """\
import functools
from flask import Blueprint, Flask, abort, flash, g, jsonify, redirect, render_template, request, session, url_for

app = Flask(__name__)
app.secret_key = "dev"
bp = Blueprint("blog", __name__, url_prefix="/blog")


def login_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.get("user") is None:
            return redirect(url_for("index"))
        return view(**kwargs)

    return wrapped


@app.route("/")
def index():
    return "home"


@bp.route("/<int:post_id>", methods=["GET", "POST"])
@login_required
def post(post_id):
    if request.method == "POST":
        session["last"] = request.form["title"]
        flash("saved")
    if post_id > 10:
        abort(404)
    return jsonify(id=post_id, page=request.args.get("page", 1, type=int), g=g.pop("x", None))


app.register_blueprint(bp)
"""  # noqa: E501


def test_migrating_twice_changes_nothing_the_second_time():
    first = migrate_flask_source(SAMPLE)
    assert first.changed
    second = migrate_flask_source(first.migrated)
    assert not second.changed
    # g.pop() is request.state.pop(): nothing is left, the second run finds no Flask name.
    assert first.unmapped == [] and second.unmapped == []
    assert b'"g": request.state.pop("x", None)' in first.migrated


def test_files_without_flask_are_untouched(tmp_path):
    untouched = {"plain.py": b"import os\n", "done.py": b"from lanner import Lanner\napp = Lanner()\n"}
    for name, data in untouched.items():
        (tmp_path / name).write_bytes(data)
    report = migrate_flask_paths([tmp_path])
    assert report.changed == [] and report.unmapped == []
    assert all((tmp_path / name).read_bytes() == data for name, data in untouched.items())


def test_a_file_that_cannot_be_parsed_is_reported_and_left_alone(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from flask import Flask\ndef (:\n")
    good = tmp_path / "good.py"
    good.write_text("from flask import Flask\napp = Flask(__name__)\n")
    report = migrate_flask_paths([tmp_path])
    assert [result.path for result in report.errors] == [str(broken)]
    assert broken.read_text() == "from flask import Flask\ndef (:\n"
    assert good.read_text() == "from lanner import Lanner\napp = Lanner()\n"
    assert report.lines()[0] == f"{broken}: error: line 2: not valid Python"


def test_without_write_nothing_is_written(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(SAMPLE)
    report = migrate_flask_paths([app], write=False)
    assert app.read_text() == SAMPLE
    assert report.changed and report.changed[0].diff().startswith(f"--- {app}\n+++ {app}\n")


def test_the_source_is_detected(tmp_path):
    (tmp_path / "a.py").write_text("from flask import Flask\n")
    (tmp_path / "b.py").write_text("import flask\n")
    (tmp_path / "c.py").write_text("from fastapi import FastAPI\n")
    assert detect_source([tmp_path]) == "flask"
    assert detect_source([tmp_path / "c.py"]) == "fastapi"
    (tmp_path / "d.py").write_text("print('flask')\n")
    assert detect_source([tmp_path / "d.py"]) is None


# -- the fixture project, on Flask and converted to lanner -------------------------------------


@dataclasses.dataclass
class Answer:
    status: int
    location: str | None
    text: str
    headers: Any

    def json(self) -> Any:
        return json.loads(self.text)


class FlaskClient:
    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path):
        return self._answer(self.client.get(path))

    def post(self, path, data=None, json=None, files=None):
        if files:
            data = {
                **(data or {}),
                **{key: (io.BytesIO(content), name) for key, (name, content) in files.items()},
            }
        return self._answer(self.client.post(path, data=data, json=json))

    @staticmethod
    def _answer(response):
        with response:  # a static file's response holds the file open
            text = response.get_data(as_text=True)
        return Answer(response.status_code, response.headers.get("Location"), text, response.headers)


class LannerClient:
    def __init__(self, client):
        self.client = client

    def get(self, path):
        return self._answer(self.client.get(path, follow_redirects=False))

    def post(self, path, data=None, json=None, files=None):
        response = self.client.post(path, data=data, json=json, files=files, follow_redirects=False)
        return self._answer(response)

    @staticmethod
    def _answer(response):
        return Answer(response.status_code, response.headers.get("location"), response.text, response.headers)


def exercise(client) -> None:
    """The same visit, on the Flask original and on its lanner conversion."""
    hello = client.get("/hello")
    assert (hello.status, hello.text) == (200, "Hello, World!")
    assert hello.headers["X-Content-Type-Options"] == "nosniff"
    assert float(hello.headers["X-Elapsed"]) >= 0

    assert client.get("/notes/create").location == "/auth/login"  # login_required redirects, with 302
    assert client.get("/notes/create").status == 302
    assert client.get("/api/messages").json() == {"messages": [["warning", "Log in first."]] * 2}

    registered = client.post("/auth/register", data={"username": "ann", "password": "secret"})
    assert (registered.status, registered.location) == (302, "/auth/login")
    again = client.post("/auth/register", data={"username": "ann", "password": "secret"})
    assert again.status == 200 and "User ann is already registered." in again.text
    empty = client.post("/auth/register", data={"username": "", "password": "x"})
    assert "Username is required." in empty.text
    wrong = client.post("/auth/login", data={"username": "ann", "password": "nope"})
    assert wrong.status == 200 and "Incorrect username or password." in wrong.text
    logged_in = client.post("/auth/login", data={"username": "ann", "password": "secret"})
    assert (logged_in.status, logged_in.location) == (302, "/")

    form = client.get("/notes/create")
    assert form.status == 200 and 'name="title"' in form.text and '<span class="user">ann</span>' in form.text
    untitled = client.post("/notes/create", data={"title": "", "body": "x"})
    assert untitled.status == 200 and "Title is required." in untitled.text
    created = client.post("/notes/create", data={"title": "First", "body": "Hello"})
    assert (created.status, created.location) == (302, "/notes/1")
    detail = client.get("/notes/1")
    assert "<h1>First</h1>" in detail.text and "Note created." in detail.text
    assert "/notes/static/notes.css" in detail.text and "/static/style.css" in detail.text
    attached = client.post("/notes/1/attachment", files={"attachment": ("plan.txt", b"the plan")})
    assert (attached.status, attached.location) == (302, "/notes/1")
    assert '<p class="attachment">plan.txt</p>' in client.get("/notes/1").text
    assert client.get("/notes/x").status == 404  # {note_id:int} refuses a non-number
    assert client.get("/notes/9").status == 404

    api = client.post("/api/notes", json={"title": "From the API"})
    assert (api.status, api.json()) == (201, {"id": 2, "title": "From the API"})
    invalid = client.post("/api/notes", json={"body": "no title"})
    assert (invalid.status, invalid.json()) == (400, {"error": "title is required"})
    listed = client.get("/api/notes").json()
    assert [note["title"] for note in listed] == ["First", "From the API"]
    assert [note["id"] for note in client.get("/api/notes?limit=1").json()] == [1]
    assert client.get("/api/notes/2").json()["title"] == "From the API"
    assert client.get("/api/notes/7").status == 404
    assert client.get("/api/files/a/b.txt").json() == {"name": "a/b.txt", "parts": ["a", "b.txt"]}

    for path in ("/", "/notes/"):
        page = client.get(path)
        assert page.status == 200 and "First" in page.text and "New</a>" in page.text
    assert "First" not in client.get("/notes/?page=2").text
    assert "Notes shows 3 notes per page." in client.get("/about").text
    missing = client.get("/no/such/page")
    assert missing.status == 404 and "This page does not exist." in missing.text
    assert client.get("/static/style.css").text.startswith("body {")
    assert client.get("/notes/static/notes.css").status == 200

    client.post("/notes/1/delete")
    assert client.get("/notes/1").status == 404
    logged_out = client.get("/auth/logout")
    assert (logged_out.status, logged_out.location) == (302, "/")
    assert 'href="/auth/login"' in client.get("/").text


@pytest.fixture
def fresh_modules() -> Iterator[None]:
    """Forget the fixture package between imports: the original and the conversion share its name."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name == "notes_app" or name.startswith("notes_app."):
            del sys.modules[name]


def load_app(root: Path, database: str) -> Any:
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("notes_app")
    finally:
        sys.path.remove(str(root))
    assert Path(package.__file__).parent == root / "notes_app"
    return package.create_app({"DATABASE": database})


def test_the_fixture_project_runs_on_flask(fresh_modules, tmp_path):
    pytest.importorskip("flask")
    shutil.copytree(FIXTURE, tmp_path / "original")
    app = load_app(tmp_path / "original", "flask-original")
    exercise(FlaskClient(app))
    assert app.test_cli_runner().invoke(args=["count-notes"]).output == "1\n"


@pytest.fixture
def converted(tmp_path) -> tuple[Path, Any]:
    shutil.copytree(FIXTURE, tmp_path / "project", ignore=shutil.ignore_patterns("__pycache__"))
    report = migrate_flask_paths([tmp_path / "project"])
    return tmp_path / "project", report


def test_the_converted_fixture_project_runs_on_lanner(converted, fresh_modules):
    pytest.importorskip("werkzeug")  # the project hashes passwords with werkzeug.security
    from click.testing import CliRunner

    from lanner import Lanner
    from lanner.testing import TestClient

    root, _ = converted
    for python in root.rglob("*.py"):
        source = python.read_text()
        assert "render_template(" not in source and "jsonify(" not in source, python
    app = load_app(root, "converted")
    assert isinstance(app, Lanner)
    with TestClient(app) as client:
        exercise(LannerClient(client))
    assert CliRunner().invoke(app.cli, ["count-notes"]).output == "1\n"
    assert CliRunner().invoke(app.cli, ["init-db"]).output == "Initialized the database.\n"
    assert CliRunner().invoke(app.cli, ["count-notes"]).output == "0\n"


def test_the_fixture_project_report_lists_what_is_left(converted):
    root, report = converted
    app = root / "notes_app"
    # Teardown hooks, g.pop() and current_app in a click command all have a lanner form now.
    assert report.unmapped == []
    db = (app / "db.py").read_text()
    assert "app.teardown_request(close_db)" in db
    assert "@pass_app_context\ndef init_db_command(request: AppContext):" in db
    assert 'request.state.pop("db", None)' in db
    assert {Path(result.path).name for result in report.changed} >= {
        "__init__.py",
        "api.py",
        "auth.py",
        "db.py",
        "base.html",
        "index.html",
    }
    assert report.errors == []
    again = migrate_flask_paths([root], write=False)
    assert again.changed == []


def test_templates_are_found_under_templates_folders():
    found = sorted(path.relative_to(FIXTURE).as_posix() for path in iter_template_files([FIXTURE]))
    assert found == [
        "notes_app/notes/templates/notes/create.html",
        "notes_app/notes/templates/notes/detail.html",
        "notes_app/notes/templates/notes/index.html",
        "notes_app/templates/404.html",
        "notes_app/templates/about.html",
        "notes_app/templates/auth/login.html",
        "notes_app/templates/auth/register.html",
        "notes_app/templates/base.html",
    ]


def test_returns_wrap_only_what_was_converted():
    text, report = migrate(
        """\
        from flask import Flask, jsonify, render_template

        app = Flask(__name__)

        @app.route("/")
        def index():
            if flag:
                return render_template(["a.html", "b.html"]), 404
            return jsonify(1, key=2), 400
        """
    )
    assert 'return render_template(["a.html", "b.html"]), 404' in text
    assert "return jsonify(1, key=2), 400" in text
    assert [line.split(": ")[1] for line in report] == [
        "render_template()",
        'return render_template(["a.html", "b.html"]), 404',
        "return jsonify(1, key=2), 400",
    ]


def test_choosing_the_codemod_does_not_need_libcst():
    code = (
        "import sys; from lanner.migrate._flask_names import detect_source;"
        f"print(detect_source([{str(FIXTURE)!r}]), 'libcst' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "flask False\n"


LAYOUT = {
    "webshop/__init__.py": """\
        from flask import Flask

        app = Flask(__name__)

        from . import routes  # noqa: E402
        from .shop import bp as shop_bp  # noqa: E402

        app.register_blueprint(shop_bp)
        """,
    "webshop/routes.py": """\
        from flask import jsonify, request

        from . import app


        @app.route("/square/<int:n>")
        def square(n):
            return jsonify(n=n, square=n * n * request.args.get("scale", 1, type=int))
        """,
    "webshop/shop/__init__.py": """\
        from flask import Blueprint

        bp = Blueprint("shop", __name__, url_prefix="/shop")

        from . import views  # noqa: E402
        """,
    "webshop/shop/views.py": """\
        from flask import redirect, url_for

        from . import bp


        @bp.route("/")
        def index():
            return {"shop": True}


        @bp.route("/old")
        def old():
            return redirect(url_for(".index"))
        """,
}


def test_routes_on_an_app_or_blueprint_imported_from_another_module(tmp_path):
    from lanner.testing import TestClient

    for name, source in LAYOUT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(source))
    report = migrate_flask_paths([tmp_path])
    assert report.unmapped == [] and len(report.changed) == 4
    routes = (tmp_path / "webshop" / "routes.py").read_text()
    assert routes.startswith("from . import app\n\n\n@app.get")
    assert (
        'return RedirectResponse(request.url_for("shop.index"), 302)'
        in (tmp_path / "webshop" / "shop" / "views.py").read_text()
    )
    sys.path.insert(0, str(tmp_path))
    try:
        app = importlib.import_module("webshop").app
        with TestClient(app) as client:
            assert client.get("/square/3?scale=2").json() == {"n": 3, "square": 18}
            assert client.get("/square/three").status_code == 404
            moved = client.get("/shop/old", follow_redirects=False)
            assert (moved.status_code, moved.headers["location"]) == (302, "/shop/")
            assert client.get("/shop/").json() == {"shop": True}
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "webshop"]:
            del sys.modules[name]


def test_the_public_entry_points_take_flask_as_a_source(tmp_path: Path) -> None:
    from lanner.migrate import SOURCES, migrate_paths, migrate_source, names_table

    assert "flask" in SOURCES
    result = migrate_source("from flask import Flask\napp = Flask(__name__)\n", "flask", path="app.py")
    assert "Lanner(" in result.migrated.decode()
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    report = migrate_paths([project], source="flask", write=False)
    assert any(file.changed for file in report.files)
    written = migrate_paths([project], source="flask", write=True)
    assert any(file.changed for file in written.files)
    again = migrate_paths([project], source="flask", write=False)
    assert not any(file.changed for file in again.files)  # idempotent
    assert "| Flask | lanner |" in names_table("flask")


def test_lanner_migrate_detects_flask_and_writes_the_report(tmp_path: Path) -> None:
    from lanner.cli import main

    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    report_file = tmp_path / "report.txt"
    assert main(["migrate", str(project), "--diff", "--report", str(report_file)]) == 0
    report = report_file.read_text()
    assert report.strip() and str(project) in report
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert main(["migrate", str(project)]) == 0  # detected, written
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert before != after
    assert "from lanner" in "".join(p.read_text() for p in project.rglob("*.py"))
    assert main(["migrate", str(project)]) == 0
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == after  # idempotent


def test_lanner_migrate_asks_for_from_when_it_cannot_tell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lanner.cli import main

    (tmp_path / "plain.py").write_text("x = 1\n")
    assert main(["migrate", str(tmp_path)]) != 0
    assert "--from" in capsys.readouterr().err


def test_teardowns_and_commands_get_the_app_context():
    text, report = migrate(
        """\
        import click
        from flask import Blueprint, Flask, current_app, g
        from flask.cli import with_appcontext

        app = Flask(__name__)
        bp = Blueprint("b", __name__)

        def get_db():
            if "db" not in g:
                g.db = current_app.config["DATABASE"]
            return g.db

        def close_db(e=None):
            g.pop("db", None)

        @click.command("init-db")
        @with_appcontext
        def init_db_command():
            click.echo(get_db())

        @app.cli.command("show")
        def show():
            click.echo(current_app.config["DATABASE"])

        @app.cli.command("plain")
        def plain():
            click.echo("nothing from Flask")

        @bp.teardown_request
        def per_blueprint(exc):
            pass

        app.teardown_appcontext(close_db)
        app.cli.add_command(init_db_command)
        """
    )
    assert body(text) == textwrap.dedent(
        """\
        app = Lanner()
        bp = Router(name="b")

        def get_db(request: Request):
            if "db" not in request.state:
                request.state.db = request.app.config["DATABASE"]
            return request.state.db

        def close_db(request: Request, e=None):
            request.state.pop("db", None)

        @click.command("init-db")
        @pass_app_context
        def init_db_command(request: AppContext):
            click.echo(get_db(request))

        @app.cli.command("show")
        @pass_app_context
        def show(request: AppContext):
            click.echo(request.app.config["DATABASE"])

        @app.cli.command("plain")
        def plain():
            click.echo("nothing from Flask")

        @bp.teardown_request
        def per_blueprint(exc):
            pass

        app.teardown_request(close_db)
        app.cli.add_command(init_db_command)
        """
    )
    assert "from flask" not in text
    left = [line for line in report if ": note: " not in line]
    assert [line.split(":")[0] for line in left] == ["29"]
    assert "lanner's Router has no teardown_request" in left[0]


def test_the_converted_commands_and_teardowns_run(tmp_path):
    from click.testing import CliRunner

    source = textwrap.dedent(
        """\
        import click
        from flask import Flask, current_app, g
        from flask.cli import with_appcontext

        app = Flask(__name__)
        app.config["DATABASE"] = "data.db"
        closed = []

        def get_db():
            if "db" not in g:
                g.db = {"name": current_app.config["DATABASE"]}
            return g.db

        def close_db(e=None):
            closed.append(g.pop("db", None))

        @click.command("init-db")
        @with_appcontext
        def init_db_command():
            click.echo("initialized " + get_db()["name"])

        app.teardown_appcontext(close_db)
        app.cli.add_command(init_db_command)

        @app.route("/")
        def index():
            return {"db": get_db()["name"]}
        """
    )
    result = migrate_flask_source(source)
    namespace: dict[str, Any] = {}
    exec(compile(result.migrated, str(tmp_path / "converted.py"), "exec"), namespace)
    app = namespace["app"]
    output = CliRunner().invoke(app.cli, ["init-db"]).output
    assert output == "initialized data.db\n"
    assert namespace["closed"] == [{"name": "data.db"}]
    from lanner.testing import TestClient

    assert TestClient(app).get("/").json() == {"db": "data.db"}
    assert namespace["closed"][-1] == {"name": "data.db"}


def test_lanner_migrate_exits_1_when_something_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lanner.cli import main

    (tmp_path / "app.py").write_text(
        "from flask import Flask\nfrom flask_login import LoginManager\napp = Flask(__name__)\n"
    )
    assert main(["migrate", str(tmp_path)]) == 1
    assert "flask_login" in capsys.readouterr().out
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    assert main(["migrate", str(clean)]) == 0
    # Converted already: nothing imports Flask any more, and that is not an error.
    assert main(["migrate", str(clean)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out


def test_template_helpers_stay_on_the_app_and_move_from_blueprints():
    text, report = migrate(
        """\
        from flask import Blueprint, Flask

        app = Flask(__name__)
        bp = Blueprint("b", __name__)

        @app.context_processor
        def inject():
            return {"site": "Notes"}

        @app.template_filter("shout")
        def shout(s):
            return s.upper()

        @bp.app_template_filter("whisper")
        def whisper(s):
            return s.lower()

        @bp.app_context_processor
        def more():
            return {"more": 1}

        @bp.context_processor
        def local():
            return {}

        app.register_blueprint(bp)
        """
    )
    assert "@app.context_processor\ndef inject():" in text
    assert '@app.template_filter("shout")\ndef shout(s):' in text
    assert "\ndef whisper(s):" in text and "\ndef more():" in text
    assert text.endswith(
        'app.include_router(bp)\napp.add_template_filter(whisper, "whisper")\napp.context_processor(more)\n'
    )
    left = [line for line in report if ": note: " not in line]
    assert left == [
        "22: @bp.context_processor: lanner's Router has no context_processor: use @app.context_processor "
        "(for every template)"
    ]


def test_one_file_brings_the_templates_folder_beside_it(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("{% if g.user %}{{ g.user }}{% endif %}")
    (tmp_path / "app.py").write_text(
        "from flask import Flask, render_template\napp = Flask(__name__)\n\n"
        "@app.route('/')\ndef index():\n    return render_template('index.html')\n"
    )
    report = migrate_flask_paths([tmp_path / "app.py", tmp_path / "templates"])
    assert (tmp_path / "templates" / "index.html").read_text() == (
        "{% if request.state.user %}{{ request.state.user }}{% endif %}"
    )
    assert len([r for r in report.changed if r.path.endswith("index.html")]) == 1  # not twice
    (tmp_path / "templates" / "more.html").write_text("{{ g.x }}")
    migrate_flask_paths([tmp_path / "app.py"])
    assert (tmp_path / "templates" / "more.html").read_text() == "{{ request.state.x }}"
