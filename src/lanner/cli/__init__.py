"""The ``lanner`` command: create a project, serve an app, list its routes, write its contract, migrate code.

``lanner new`` creates a project (`lanner.cli.new`); ``lanner run`` serves it for production on
uvicorn, granian or gunicorn and ``lanner dev`` for development (`lanner.cli.servers`);
``lanner routes``, ``openapi`` and ``asyncapi`` print what the app declares; ``lanner migrate``
rewrites Flask or FastAPI code. TARGET, the app, is found by `lanner.cli.targets`, and every way
it can fail is one ``lanner: error:`` message, not a traceback.

A command that is not one of lanner's is the app's own, declared with ``@app.cli.command()`` (click,
as in Flask): ``lanner --app TARGET init-db``, TARGET coming from ``LANNER_APP`` when ``--app`` is
not given, as Flask's ``FLASK_APP``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from lanner.cli.app_commands import leading_options, print_help, run_app_command
from lanner.cli.check import run_check
from lanner.cli.documents import write_document
from lanner.cli.migrate import run_migrate
from lanner.cli.new import create
from lanner.cli.parser import COMMANDS, build_parser
from lanner.cli.routes import print_routes
from lanner.cli.servers import SERVERS, ServerError, _run_uvicorn, serve

# Helpers that tests reach through ``lanner.cli``, as when it was one module (``as``: re-exported).
from lanner.cli.servers import _granian_options as _granian_options
from lanner.cli.servers import _gunicorn_settings as _gunicorn_settings
from lanner.cli.servers import _trusted_proxies as _trusted_proxies
from lanner.cli.servers import _worker_app as _worker_app
from lanner.cli.servers import _wsgi_lifespan as _wsgi_lifespan
from lanner.cli.targets import AppLoadError, TargetError, app_attribute, load_target, split_target, target_of
from lanner.openapi.diff import main as diff_main
from lanner.scaffold import ScaffoldError

__all__ = [
    "COMMANDS",
    "HANDLERS",
    "SERVERS",
    "AppLoadError",
    "ServerError",
    "TargetError",
    "app_attribute",
    "build_parser",
    "load_target",
    "main",
    "split_target",
]


def _run(args: argparse.Namespace) -> int:
    # _run_uvicorn is read from this module when the command runs, so that replacing
    # lanner.cli._run_uvicorn (as the tests do, to record what uvicorn would get) takes effect.
    target = target_of(args.target, args.app)
    return serve(args, target, reload=args.reload, debug=False, run_uvicorn=_run_uvicorn)


def _dev(args: argparse.Namespace) -> int:
    target = target_of(args.target, args.app)
    return serve(args, target, reload=True, debug=True, run_uvicorn=_run_uvicorn)


#: What each of lanner's commands runs: it returns the exit status.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "new": create,
    "dev": _dev,
    "run": _run,
    "routes": print_routes,
    "check": run_check,
    "openapi": write_document,
    "asyncapi": write_document,
    "migrate": run_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lanner`` command; return its exit status.

    2 for a bad target, path, project name or server choice (and usage errors), 1 without LibCST;
    one of the app's own commands exits as click makes it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    app_option, wants_help, rest = leading_options(argv)
    app_target = app_option or os.environ.get("LANNER_APP") or None
    parser = build_parser()
    try:
        if wants_help:
            return print_help(parser, app_target, explicit=app_option is not None)
        if rest[:2] == ["openapi", "diff"]:
            return diff_main(rest[1:])
        if rest and not rest[0].startswith("-") and rest[0] not in COMMANDS:
            if app_target is None:
                parser.error(
                    f"unknown command {rest[0]!r}; an app's own commands need --app TARGET or LANNER_APP"
                )
            prog_name = f"lanner --app {app_option}" if app_option else "lanner"
            return run_app_command(app_target, rest, prog_name)
        args = parser.parse_args(argv)
        return HANDLERS[args.command](args)
    except (TargetError, ServerError, ScaffoldError) as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 2
