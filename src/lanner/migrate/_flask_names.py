"""Flask → lanner: which names the Flask codemod knows and what each becomes, as data.

Nothing here needs LibCST, so the docs (``docs/migrating-from-flask.md``), ``--help`` and the
choice of codemod (`detect_source`) work without it. `canonical` tells the codemod which Flask
object a qualified name refers to; `SUGGESTIONS` is what the report says about a use it left in
place.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

from lanner.migrate import iter_python_files

#: The packages whose imports the Flask codemod reads.
ROOTS = ("flask", "werkzeug")
_IMPORTS = {"flask": (b"import flask", b"from flask"), "fastapi": (b"import fastapi", b"from fastapi")}
_LANNER_IMPORTS = (b"import lanner", b"from lanner")

# Flask re-exports its public names from these submodules (``flask.globals.request``).
_SUBMODULES = frozenset(
    (
        *("app", "blueprints", "globals", "helpers", "json", "templating", "wrappers"),
        *("sessions", "views", "cli", "ctx", "signals", "testing", "config"),
    )
)
#: werkzeug's HTTP error classes (``raise NotFound()``, ``@app.errorhandler(NotFound)``) and their
#: status codes: lanner raises and handles ``HTTPException(status)`` instead.
HTTP_ERRORS = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "RequestTimeout": 408,
    "Conflict": 409,
    "Gone": 410,
    "LengthRequired": 411,
    "PreconditionFailed": 412,
    "RequestEntityTooLarge": 413,
    "RequestURITooLarge": 414,
    "UnsupportedMediaType": 415,
    "RequestedRangeNotSatisfiable": 416,
    "ExpectationFailed": 417,
    "ImATeapot": 418,
    "UnprocessableEntity": 422,
    "Locked": 423,
    "FailedDependency": 424,
    "PreconditionRequired": 428,
    "TooManyRequests": 429,
    "RequestHeaderFieldsTooLarge": 431,
    "UnavailableForLegalReasons": 451,
    "InternalServerError": 500,
    "NotImplemented": 501,
    "BadGateway": 502,
    "ServiceUnavailable": 503,
    "GatewayTimeout": 504,
    "HTTPVersionNotSupported": 505,
}
# The werkzeug names Flask re-exports and the codemod converts.
_WERKZEUG = {
    "werkzeug.exceptions.abort": "abort",
    "werkzeug.utils.redirect": "redirect",
    "werkzeug.exceptions.HTTPException": "HTTPException",
}


def canonical(qualified: str) -> str | None:
    """The Flask name `qualified` refers to (``flask.globals.request`` → ``request``), else None."""
    if qualified in _WERKZEUG:
        return _WERKZEUG[qualified]
    module, _, name = qualified.rpartition(".")
    if module == "werkzeug.exceptions" and name in HTTP_ERRORS:
        return name
    parts = qualified.split(".")
    if parts[0] != "flask":
        return None
    if len(parts) == 2:
        return parts[1]
    if len(parts) == 3 and parts[1] in _SUBMODULES:
        return parts[2]
    return None


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the docs table: a Flask construct and its lanner form."""

    flask: str
    lanner: str
    note: str = ""


ROWS = (
    Row("Flask(__name__)", "Lanner()", "a static/ folder next to the app is served with app.static()"),
    Row(
        "Blueprint(name, __name__, url_prefix=, template_folder=, static_folder=)",
        "Router(prefix=, name=, templates=, static=)",
    ),
    Row("@bp.route(path, methods=[...])", "@bp.get(path), @bp.post(path)... one decorator per method"),
    Row("<int:id> <float:x> <path:p> <uuid:u> <name>", "{id:int} {x:float} {p:path} {u:uuid} {name}"),
    Row("app.register_blueprint(bp, url_prefix=)", "app.include_router(bp, prefix=)"),
    Row(
        "app.add_url_rule(rule, endpoint, view_func, methods=)",
        "app.add_route(rule, view_func, methods, name=)",
    ),
    Row("request.args.get('x', type=int)", "a query parameter x: int | None = None"),
    Row("request.args['x']", "a required query parameter x: str"),
    Row(
        "request.form['x'], request.form.get('x')",
        "x: Annotated[str, Form()] = '', x: Annotated[str | None, Form()] = None",
    ),
    Row("request.files['f']", "f: UploadFile", "its read() is async; FileStorage.save() has no equivalent"),
    Row("request.get_json(), request.json", "a body parameter payload: Annotated[Any, Body()]"),
    Row("request.method, .path, .headers, .cookies", "the same names on a request: Request parameter"),
    Row("request.args, .view_args, .url", "request.query_params, request.path_params, str(request.url)"),
    Row("session", "a session: Session parameter (request.session in hooks and helpers)"),
    Row(
        "g.x, g.get(), g.pop(), 'x' in g",
        "request.state.x, request.state.get(), request.state.pop(), 'x' in request.state",
        "helpers using g take the request as their first argument",
    ),
    Row("current_app, current_app.open_resource()", "request.app, request.app.open_resource()"),
    Row(
        "app.add_url_rule('/', endpoint='index')",
        "app.add_url_alias('index', '/')",
        "a name for url_for only",
    ),
    Row(
        "@app.teardown_request, app.teardown_appcontext(f)",
        "@app.teardown_request; hooks take (request, error)",
        "also run when an app.app_context() block ends",
    ),
    Row(
        "@click.command() with @with_appcontext, or using g or current_app",
        "@pass_app_context: the command takes an AppContext first",
        "its app and state stand in for the request",
    ),
    Row("with app.app_context(): get_db()", "with app.app_context() as ctx: get_db(ctx)"),
    Row("request.form['x'] in a template", "form['x']", "the form the handler read, else an empty one"),
    Row("jsonify(...)", "the dict or list itself (JSONResponse(...) when not returned)"),
    Row("abort(404)", "raise HTTPException(404)"),
    Row("redirect(url)", "RedirectResponse(url, 302)", "Flask's 302 is kept"),
    Row("url_for('bp.view', **values)", "request.url_for('bp.view', **values)"),
    Row("render_template(name, **context)", "templates.render(request, name, context)"),
    Row("flash(message), get_flashed_messages()", "flash(session, message), get_flashed_messages(session)"),
    Row("return body, status", "HTMLResponse(body, status), JSONResponse(body, status)"),
    Row("return 'text'", "HTMLResponse('text')", "a str return is HTML in Flask, JSON in lanner"),
    Row(
        "@app.before_request, @app.after_request",
        "the same decorators; hooks take (request) and (request, response)",
    ),
    Row("@app.errorhandler(code)", "@app.exception_handler(code); handlers take (request, exc)"),
    Row(
        "@bp.before_app_request, @bp.after_app_request, @bp.app_errorhandler",
        "app.before_request(f), app.after_request(f), app.add_exception_handler(code, f) where the blueprint "
        "is included",
    ),
    Row("login_required with functools.wraps", "kept as a decorator: the wrapper reads kwargs['request']"),
    Row("app.config[...]", "kept", "reported as a note"),
    Row("@app.cli.command()", "kept"),
)


_ASYNC_BODY = "lanner reads the body asynchronously: make the handler async and use await request.{}()"
_TEARDOWN = "register it with @app.teardown_request: lanner calls it as hook(request, error)"

#: What the report suggests for each Flask name still used after the migration.
SUGGESTIONS = {
    "Flask": "build the app with lanner.Lanner()",
    "Blueprint": "use lanner.Router(prefix=..., name=...)",
    "request": "outside a view, hook or helper lanner cannot pass the request: take it as a parameter",
    "session": "outside a view, hook or helper: take the request as a parameter and use request.session",
    "g": "use request.state in a function that takes the request",
    "current_app": "use request.app in a function that takes the request (or pass the app)",
    "url_for": "use request.url_for(name, **values) (or app.url_path_for outside a request)",
    "render_template": "use templates.render(request, name, context) with a lanner.templating.Templates",
    "render_template_string": "render with jinja2.Template(text).render(...) and return HTMLResponse",
    "jsonify": "return the dict or list, or JSONResponse(content, status_code)",
    "abort": "raise HTTPException(status_code, detail)",
    "redirect": "return RedirectResponse(url, 302)",
    "flash": "lanner.flash(session, message, category)",
    "get_flashed_messages": "lanner.get_flashed_messages(session)",
    "make_response": "build the response yourself: Response(body, status_code, headers), JSONResponse(...)",
    "Response": "use lanner.Response(content, status_code, headers, media_type) (mimetype= is media_type=)",
    "send_file": "return lanner.responses.FileResponse(path)",
    "send_from_directory": "serve the folder with app.static(prefix, directory), or return FileResponse",
    "stream_with_context": "return StreamingResponse(generator), passing what the generator needs",
    "stream_template": "render with templates.render() or stream with StreamingResponse",
    "escape": "import escape from markupsafe",
    "Markup": "import Markup from markupsafe",
    "json": "use the json module (or lanner.encoders.jsonable_encoder)",
    "has_request_context": "lanner passes the request explicitly: there is no request context to test",
    "has_app_context": "lanner passes the app: request.app, or app.app_context() outside requests",
    "copy_current_request_context": "pass the request (or the values needed) to the function",
    "after_this_request": "set the header or cookie on a Response parameter instead",
    "teardown": _TEARDOWN,
    "with_appcontext": "decorate the command with lanner's @pass_app_context: it takes an AppContext first",
    "AppGroup": "register commands with @app.cli.command()",
    "FlaskGroup": "run commands with lanner --app TARGET COMMAND",
    "signals": "lanner has no signals: call the function from a hook or the handler",
    "views": "write one function per method, or a function decorated with @router.route(methods=[...])",
    "MethodView": "write one function per method, decorated with @router.get(), @router.post()...",
    "View": "write one function per method, or a function decorated with @router.route(methods=[...])",
    "form": _ASYNC_BODY.format("form"),
    "files": _ASYNC_BODY.format("form"),
    "data": _ASYNC_BODY.format("body"),
}
_SIGNALS = (
    "template_rendered before_render_template request_started request_finished request_tearing_down "
    "got_request_exception appcontext_tearing_down appcontext_pushed appcontext_popped message_flashed"
)
SUGGESTIONS.update(dict.fromkeys(_SIGNALS.split(), SUGGESTIONS["signals"]))
SUGGESTIONS.update(
    (name, f"lanner raises and handles HTTPException({status}, detail): catch that and check its status_code")
    for name, status in HTTP_ERRORS.items()
)
DEFAULT_SUGGESTION = "no lanner equivalent: convert it by hand"
#: What the report says about an import of a Flask extension (``flask_login``, ``flask_sqlalchemy``).
EXTENSION = "a Flask extension does not run on lanner: use a lanner feature or an ASGI library instead"


def is_extension(module: str) -> bool:
    """Whether `module` is a Flask extension's (``flask_login``, ``flask.ext.x``)."""
    return module.split(".")[0].startswith("flask_") or module.startswith("flask.ext")


def suggestion(name: str) -> str:
    """What the report suggests for a Flask `name` left in place."""
    return SUGGESTIONS.get(name, DEFAULT_SUGGESTION)


def markdown_table() -> str:
    """The docs table of Flask constructs and their lanner forms (Markdown, with a header)."""
    lines = ["| Flask | lanner | Note |", "| --- | --- | --- |"]
    for row in ROWS:
        cells = (row.flask, row.lanner, row.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def detect_source(paths: Iterable[str | os.PathLike[str]], *, lanner: bool = False) -> str | None:
    """The framework the Python files under `paths` import most: ``"flask"``, ``"fastapi"`` or None.

    With `lanner`, ``"lanner"`` counts too (code already migrated).

    Raises:
        FileNotFoundError: a path does not exist.
    """
    imports = {**_IMPORTS, "lanner": _LANNER_IMPORTS} if lanner else _IMPORTS
    counts = dict.fromkeys(imports, 0)
    for file in iter_python_files(paths):
        data = file.read_bytes()
        for source, needles in imports.items():
            if any(needle in data for needle in needles):
                counts[source] += 1
    best = max(counts, key=lambda source: counts[source])
    return best if counts[best] else None
