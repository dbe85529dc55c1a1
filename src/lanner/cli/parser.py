"""The ``lanner`` command line: its commands, their arguments and their help.

Each command has one line in ``lanner --help``; ``lanner COMMAND --help`` says the rest. A new
command is a name in `COMMANDS`, a parser added by `build_parser` (`add_target_argument`
gives it TARGET) and a handler in ``lanner.cli.HANDLERS``.
"""

from __future__ import annotations

import argparse

from lanner import __version__
from lanner.cli.servers import SERVERS
from lanner.migrate import SOURCES

__all__ = ["COMMANDS", "TARGET_HELP", "add_target_argument", "build_parser"]

TARGET_HELP = "module:attr, or a file path such as app.py (default: --app, then $LANNER_APP)"
#: lanner's own commands, in the order of ``lanner --help``; any other command is looked up among
#: the app's (``app.cli``). `build_parser` adds one parser for each.
COMMANDS = ("new", "dev", "run", "routes", "check", "openapi", "asyncapi", "migrate")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_EXAMPLES = """\
examples:
  lanner new shop                 create a project in ./shop (then: cd shop)
  lanner dev shop/app.py          serve it, reloading when a file changes
  lanner routes shop.app          list its routes (TARGET: a file or a module)
  lanner openapi shop/app.py -o openapi.json

Any other COMMAND is one of the app's own (@app.cli.command): run it with
lanner --app TARGET COMMAND, or with LANNER_APP set; lanner --app TARGET --help
lists them.
"""


def add_target_argument(command: argparse.ArgumentParser) -> None:
    """Give `command` the optional TARGET argument (read back with `lanner.cli.targets.target_of`)."""
    command.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)


def _add_run_options(command: argparse.ArgumentParser) -> None:
    """The options of ``lanner run``, grouped so that its help reads as a checklist."""
    serving = command.add_argument_group("server")
    serving.add_argument(
        "--server",
        choices=SERVERS,
        default="uvicorn",
        help="uvicorn (default), granian, or gunicorn; granian and gunicorn are extras: "
        "pip install 'lanner[granian]' or 'lanner[gunicorn]'",
    )
    serving.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default: 1)")
    serving.add_argument(
        "--wsgi",
        action="store_true",
        help="gunicorn only: sync workers serving the app through lanner.wsgi.to_wsgi (no WebSockets)",
    )
    serving.add_argument("--reload", action="store_true", help="uvicorn only: restart when the code changes")
    proxy = command.add_argument_group("behind a reverse proxy")
    proxy.add_argument(
        "--root-path",
        metavar="PATH",
        help="the path prefix the proxy strips (ASGI root_path); the app builds its URLs with it",
    )
    proxy.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="take the client's address and scheme from X-Forwarded-For/-Proto sent by a trusted "
        "proxy (default: on)",
    )
    proxy.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated addresses or networks of the trusted proxies, or '*' "
        "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    shutdown = command.add_argument_group("shutdown")
    shutdown.add_argument(
        "--timeout-graceful-shutdown",
        type=int,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may take before they are cut off "
        "(default: the server's: uvicorn and granian wait, gunicorn 30 s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``lanner`` command."""
    parser = argparse.ArgumentParser(
        prog="lanner",
        description="Create, serve and inspect lanner apps.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"lanner {__version__}", help="print lanner's version and exit"
    )
    parser.add_argument(
        "--app",
        metavar="TARGET",
        help="the app (module:attr or a file path) whose commands to run, and the default TARGET of "
        "lanner's (default: $LANNER_APP)",
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    new = commands.add_parser(
        "new",
        help="create a project: an API route, a page, a test",
        description="Create a project in ./NAME: pyproject.toml, NAME/app.py with one typed API route "
        "and one page (a Jinja2 template and a stylesheet), tests/test_app.py and a README. Its "
        "tests pass as created.",
    )
    new.add_argument("name", metavar="NAME", help="the project's name, also its package's ('-' becomes '_')")
    for name, text in (
        ("dev", "serve with auto-reload and debug tracebacks"),
        ("run", "serve for production (uvicorn, granian or gunicorn)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        add_target_argument(command)
        command.add_argument(
            "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
        )
        command.add_argument("--port", type=int, default=8000, help="(default: 8000)")
        command.add_argument("--log-level", default="info", choices=_LOG_LEVELS, help="(default: info)")
        if name == "run":
            _add_run_options(command)
    routes = commands.add_parser(
        "routes",
        help="list the app's routes",
        description="List the app's routes: methods, path, name and handler, then its WebSocket "
        "routes and mounted apps.",
    )
    add_target_argument(routes)
    check = commands.add_parser(
        "check",
        help="list every mistake in the routes and OpenAPI (for CI)",
        description="Import the app, compile every route's plan and build the OpenAPI document, "
        "then list every problem at once, each with its file, line and a fix. Exits 1 when "
        "there is one, 0 when the app is sound; run it in CI next to 'lanner openapi diff'.",
    )
    add_target_argument(check)
    openapi = commands.add_parser(
        "openapi",
        help="write the OpenAPI document; 'openapi diff' compares two",
        description="Write the app's OpenAPI document with sorted keys, ready to commit and diff. "
        "'lanner openapi diff OLD NEW [--format text|json]' reports the changes between two "
        "documents and exits 1 when any is breaking.",
    )
    asyncapi = commands.add_parser(
        "asyncapi",
        help="write the AsyncAPI document of the WebSocket routes",
        description="Write the AsyncAPI 3.0 document of the app's WebSocket routes (channels, "
        "handshake parameters, message schemas) with sorted keys.",
    )
    for command in (openapi, asyncapi):
        add_target_argument(command)
        command.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        command.add_argument("--yaml", action="store_true", help="plain YAML (no anchors) instead of JSON")
    migrate = commands.add_parser(
        "migrate",
        help="rewrite a Flask or FastAPI app to lanner",
        description="Rewrite code written for Flask or FastAPI to lanner, in place (a Flask project's "
        "templates too); list what has no lanner equivalent as path:line: message. Running it "
        "again changes nothing. Needs LibCST: pip install 'lanner[migrate]'.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default=None,
        help="the framework (default: detected from the imports)",
    )
    migrate.add_argument(
        "paths", nargs="+", metavar="PATH", help="a project folder, a package folder or files"
    )
    migrate.add_argument("--diff", action="store_true", help="print a unified diff; write nothing")
    migrate.add_argument("--report", metavar="FILE", help="also write the report to FILE")
    migrate.add_argument(
        "--no-openapi-compat",
        dest="openapi_compat",
        action="store_false",
        help="FastAPI: keep lanner's OpenAPI conventions (add no openapi_compat= to Lanner())",
    )
    return parser
