"""The ``lanner`` command: serve an app, serve it for development, list its routes, migrate code.

``lanner run`` serves for production on uvicorn (the default), granian or gunicorn, inside this
process, so that the signals a process manager sends reach the server itself: on SIGTERM it stops
listening (new connections are refused), lets the requests in flight finish (up to
``--timeout-graceful-shutdown``), runs each worker's lifespan shutdown, where the app-scoped
dependencies are cleaned up once per worker, and exits. granian and gunicorn are optional extras
(``pip install 'lanner[granian]'``, ``'lanner[gunicorn]'``).

A command that is not one of lanner's is the app's own, declared with ``@app.cli.command()`` (click,
as in Flask): ``lanner --app TARGET init-db``, TARGET coming from ``LANNER_APP`` when ``--app`` is
not given, as Flask's ``FLASK_APP``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from lanner.middleware._addresses import TrustedProxies
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.migrate import SOURCES
from lanner.openapi.diff import main as diff_main

__all__ = [
    "COMMANDS",
    "SERVERS",
    "ServerError",
    "TargetError",
    "app_attribute",
    "build_parser",
    "load_target",
    "main",
    "split_target",
]

#: The servers ``lanner run --server`` can start; uvicorn is the default and always installed.
SERVERS = ("uvicorn", "granian", "gunicorn")
#: lanner's own commands; any other command is looked up among the app's (``app.cli``).
COMMANDS = ("run", "dev", "routes", "openapi", "asyncapi", "migrate")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TargetError(Exception):
    """The TARGET argument does not name an importable application."""


class ServerError(Exception):
    """The chosen server cannot run as asked: it is not installed, or an option does not apply to it."""


def split_target(target: str) -> tuple[str, str, str | None]:
    """Turn TARGET into ``(module, attribute, directory to import from)``.

    TARGET is ``package.module:attr``, ``package.module`` (see `app_attribute` for what it finds),
    or a file path ``path/app.py`` optionally followed by ``:attr``; ``:create_app()`` calls a
    factory.

    Raises:
        TargetError: the file does not exist or the target is empty.
    """
    spec, _, attr = target.partition(":")
    attr = attr or "app"
    if not spec:
        raise TargetError(f"invalid target {target!r}: expected module:attr or a file path")
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise TargetError(f"no such file: {spec}")
        module, directory = _module_of(path.resolve())
        return module, attr, directory
    return spec, attr, None


def _module_of(path: Path) -> tuple[str, str]:
    """The dotted module name of a file and the folder to import it from.

    A file inside packages (folders with ``__init__.py``) is imported as part of them, as Flask
    does, so its relative imports work: ``examples/bookshelf/app.py`` is ``examples.bookshelf.app``
    imported from the folder above ``examples`` when ``examples`` is a package, else
    ``bookshelf.app`` from ``examples``.
    """
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), str(folder)


def load_target(target: str) -> Any:
    """Import and return the object TARGET names.

    Raises:
        TargetError: the module cannot be imported or lacks the attribute.
    """
    module_name, attr, directory = split_target(target)
    if directory is not None and directory not in sys.path:
        sys.path.insert(0, directory)
    elif directory is None and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {exc}") from exc
    name, is_factory = app_attribute(module, attr, explicit=":" in target)
    found = getattr(module, name)
    return found() if is_factory else found


#: What a TARGET without ``:attr`` may name, as Flask looks for them: an app, then a factory.
_APP_NAMES = ("app", "application")
_FACTORY_NAMES = ("create_app", "make_app")


def app_attribute(module: Any, attr: str, *, explicit: bool) -> tuple[str, bool]:
    """The module attribute holding the app, and whether it is a factory to call with no arguments.

    ``module:create_app()`` names a factory. Without ``:attr``, ``app`` or ``application`` is the
    app, else a ``create_app`` or ``make_app`` function builds it (Flask's application factory).

    Raises:
        TargetError: the module has none of them.
    """
    if attr.endswith("()"):
        name = attr[:-2]
        if not callable(getattr(module, name, None)):
            raise TargetError(f"module {module.__name__!r} has no function {name!r}")
        return name, True
    if hasattr(module, attr):
        return attr, False
    if not explicit:
        for name in _APP_NAMES:
            if hasattr(module, name):
                return name, False
        for name in _FACTORY_NAMES:
            if callable(getattr(module, name, None)):
                return name, True
    raise TargetError(f"module {module.__name__!r} has no attribute {attr!r}")


def _target_of(args: argparse.Namespace) -> str:
    """The command's TARGET, else ``--app``, else ``LANNER_APP``.

    Raises:
        TargetError: none of them is given.
    """
    target = args.target or args.app or os.environ.get("LANNER_APP")
    if not target:
        raise TargetError(
            "no TARGET given: name the app (module:attr or a file path), use --app or set LANNER_APP"
        )
    return str(target)


def _serve(args: argparse.Namespace, *, reload: bool, debug: bool) -> int:
    target = _target_of(args)
    server = getattr(args, "server", "uvicorn")
    if reload and server != "uvicorn":
        raise ServerError("--reload works with --server uvicorn only (lanner dev reloads too)")
    if getattr(args, "wsgi", False) and server != "gunicorn":
        raise ServerError("--wsgi works with --server gunicorn only (its sync workers serve WSGI)")
    if server == "granian":
        _serve_granian(args, target)
    elif server == "gunicorn":
        _serve_gunicorn(args, target)
    else:
        _serve_uvicorn(args, target, reload=reload, debug=debug)
    return 0


def _serve_uvicorn(args: argparse.Namespace, target: str, *, reload: bool, debug: bool) -> None:
    module_name, attr, directory = split_target(target)
    app = load_target(target)  # fail fast with a clear message before uvicorn starts
    attr, is_factory = app_attribute(sys.modules[module_name], attr, explicit=":" in target)
    if debug:
        os.environ["LANNER_DEBUG"] = "1"
    options: dict[str, Any] = {}
    if (largest := _largest_websocket_message(app)) is not None:
        options["ws_max_size"] = largest
    # Only what was given: uvicorn's own defaults stand for the rest (proxy headers trusted from
    # 127.0.0.1 or $FORWARDED_ALLOW_IPS, no limit on the graceful shutdown).
    for name in ("root_path", "proxy_headers", "forwarded_allow_ips", "timeout_graceful_shutdown"):
        if (value := getattr(args, name, None)) is not None:
            options[name] = value
    if is_factory:
        options["factory"] = True
    _run_uvicorn(
        f"{module_name}:{attr}",
        host=args.host,
        port=args.port,
        workers=None if reload else args.workers,
        reload=reload,
        reload_dirs=[directory or os.getcwd()] if reload else None,
        app_dir=directory or os.getcwd(),
        log_level=args.log_level,
        **options,
    )


def _run_uvicorn(app: str, **options: Any) -> None:
    """Run uvicorn in this process, as ``uvicorn.run`` does.

    With several workers, uvicorn's parent process keeps its copy of the listening socket open
    until every worker has exited, so a connection made during the graceful shutdown would wait in
    the backlog and then be reset. lanner's supervisor closes it first: such connections are refused
    at once and a load balancer retries them elsewhere.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if options["reload"] or (options["workers"] or 1) <= 1:
        uvicorn.run(app, **options)
        return

    class Supervisor(Multiprocess):
        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    app_dir = options.pop("app_dir")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)  # as uvicorn.run does; spawned workers inherit sys.path
    config = uvicorn.Config(app, **options)
    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()


def _require(server: str, *distributions: str) -> None:
    """Check that the packages `server` needs are installed.

    Raises:
        ServerError: one is missing; the message names the extra that brings it.
    """
    for distribution in distributions:
        try:
            importlib.import_module(distribution.replace("-", "_"))
        except ImportError:
            raise ServerError(
                f"--server {server} needs {distribution}, which is not installed: "
                f"pip install 'lanner[{server}]'"
            ) from None


def _trusted_proxies(args: argparse.Namespace) -> str | None:
    """The proxies whose X-Forwarded-* headers are believed, or None with ``--no-proxy-headers``.

    As uvicorn and gunicorn: ``--forwarded-allow-ips``, else ``$FORWARDED_ALLOW_IPS``, else 127.0.0.1.

    Raises:
        ServerError: an entry is neither an address, a network, a name nor ``*``.
    """
    if args.proxy_headers is False:
        return None
    trusted = args.forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
    try:
        TrustedProxies(trusted)
    except ValueError as exc:
        raise ServerError(f"--forwarded-allow-ips: {exc}") from None
    return str(trusted)


def _plain_level(level: str) -> str:
    """The log level for servers that have no ``trace``."""
    return "debug" if level == "trace" else level


def _worker_app(target: str, trusted: str | None) -> Any:
    """The ASGI app a server worker serves: TARGET, behind `ProxyHeadersMiddleware` if proxies are trusted.

    Module-level, so that it pickles for servers whose workers are spawned rather than forked.
    """
    app = load_target(target)
    if trusted is None:
        return app
    return ProxyHeadersMiddleware(app, trusted, proxy_header="x-forwarded")


def _serve_granian(args: argparse.Namespace, target: str) -> None:
    _require("granian", "granian")
    from granian import Granian

    trusted = _trusted_proxies(args)
    load_target(target)  # fail fast with a clear message before granian starts
    server = Granian(target, **_granian_options(args))
    # granian has no proxy-headers option of its own: lanner's middleware does it in each worker.
    server.serve(target_loader=functools.partial(_worker_app, target, trusted), wrap_loader=False)


def _granian_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of granian for ``lanner run``: ASGI (with its lifespan), workers, address, prefix."""
    from granian.constants import Interfaces
    from granian.log import LogLevels

    return {
        "address": args.host,
        "port": args.port,
        "interface": Interfaces.ASGI,
        "workers": args.workers,
        "log_level": LogLevels(_plain_level(args.log_level)),
        "url_path_prefix": args.root_path or None,
        "workers_kill_timeout": args.timeout_graceful_shutdown,
    }


def _serve_gunicorn(args: argparse.Namespace, target: str) -> None:
    if args.wsgi:
        _require("gunicorn", "gunicorn", "a2wsgi")
    else:
        _require("gunicorn", "gunicorn", "uvicorn-worker")
    trusted = _trusted_proxies(args)
    app = load_target(target)  # fail fast with a clear message before gunicorn starts
    _run_gunicorn(*_gunicorn_settings(args, target, app, trusted))


def _gunicorn_settings(
    args: argparse.Namespace, target: str, app: Any, trusted: str | None
) -> tuple[dict[str, Any], Callable[[], Any]]:
    """The settings of gunicorn for ``lanner run``, and the loader each worker calls for its app."""
    host = f"[{args.host}]" if ":" in args.host else args.host
    settings: dict[str, Any] = {
        "bind": f"{host}:{args.port}",
        "workers": args.workers,
        "loglevel": _plain_level(args.log_level),
        "proc_name": f"lanner {target}",
    }
    if args.timeout_graceful_shutdown is not None:
        settings["graceful_timeout"] = args.timeout_graceful_shutdown
    if trusted is not None:
        settings["forwarded_allow_ips"] = trusted
    if args.wsgi:
        settings["worker_class"] = "sync"
        settings["worker_exit"], load = _wsgi_lifespan(target, trusted, args.root_path)
        return settings, load
    settings["worker_class"] = _uvicorn_worker(args, app, trusted)
    return settings, functools.partial(load_target, target)


def _uvicorn_worker(args: argparse.Namespace, app: Any, trusted: str | None) -> type:
    """uvicorn-worker's worker class, with the options its gunicorn settings cannot carry."""
    from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

    options: dict[str, Any] = {"proxy_headers": trusted is not None}
    if args.root_path:
        options["root_path"] = args.root_path
    if args.timeout_graceful_shutdown is not None:
        options["timeout_graceful_shutdown"] = args.timeout_graceful_shutdown
    if (largest := _largest_websocket_message(app)) is not None:
        options["ws_max_size"] = largest
    return type(
        "LannerUvicornWorker", (UvicornWorker,), {"CONFIG_KWARGS": {**UvicornWorker.CONFIG_KWARGS, **options}}
    )


def _run_gunicorn(settings: dict[str, Any], load: Callable[[], Any]) -> None:
    """Run gunicorn's arbiter in this process; each worker calls `load` once for the app it serves."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return load()

    Application().run()


def _wsgi_lifespan(
    target: str, trusted: str | None, root_path: str | None
) -> tuple[Callable[[Any, Any], None], Callable[[], WSGIApp]]:
    """Return gunicorn's ``worker_exit`` hook and app loader for sync workers serving TARGET (``to_wsgi``).

    The loader starts the app as the worker boots rather than on its first request: a failing
    startup then stops gunicorn with the reason, and app-scoped dependencies exist before any
    request. The hook shuts it down as the worker exits, while thread pools still run (they are
    gone by the time ``atexit`` handlers run, and sync cleanups need them).
    """
    started: list[Any] = []  # the adapter this worker process started

    def load() -> WSGIApp:
        from lanner.wsgi import to_wsgi  # needs a2wsgi, an optional dependency

        adapter = to_wsgi(_worker_app(target, trusted))
        adapter.startup()
        started.append(adapter)
        if not root_path:
            return adapter
        prefix = root_path.rstrip("/")

        def under_prefix(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            # As uvicorn's --root-path: the proxy strips the prefix, the app builds its URLs with it.
            environ["SCRIPT_NAME"] = prefix + environ.get("SCRIPT_NAME", "")
            return adapter(environ, start_response)

        return under_prefix

    def worker_exit(server: Any, worker: Any) -> None:
        for adapter in started:
            adapter.shutdown()

    return worker_exit, load


def _largest_websocket_message(app: Any) -> int | None:
    """The largest message any WebSocket route of `app` (or of a lanner app mounted in it) accepts.

    uvicorn then refuses bigger frames itself; without it uvicorn buffers up to 16 MiB of a
    message before lanner sees it is over the limit. None for an app that is not lanner's.
    """
    limits = getattr(app, "websocket_limits", None)
    if limits is None:
        return None
    sizes: list[int] = [limits.max_message_size]
    sizes += [r.options.max_message_size for r in app.websocket_routes if r.options.max_message_size]
    for _, mounted, _ in getattr(app, "_mounts", ()):
        if (size := _largest_websocket_message(mounted)) is not None:
            sizes.append(size)
    return max(sizes)


def _routes(args: argparse.Namespace) -> int:
    target = _target_of(args)
    app = load_target(target)
    routes = getattr(app, "routes", None)
    if routes is None:
        raise TargetError(f"{target} is not a lanner application")
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    for route in routes:
        handler = route.handler
        rows.append(
            (
                ",".join(sorted(route.methods)),
                route.path,
                route.name,
                f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}",
            )
        )
    for route in getattr(app, "websocket_routes", ()):
        handler = route.handler
        rows.append(
            (
                "WEBSOCKET",
                route.path,
                route.name,
                f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}",
            )
        )
    for prefix, mounted, name in getattr(app, "_mounts", ()):
        rows.append(("*", prefix + "/*", name or "", f"mount: {type(mounted).__name__}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (``lanner openapi``) or the AsyncAPI one (``lanner asyncapi``)."""
    target = _target_of(args)
    app = load_target(target)
    build = getattr(app, args.command, None)
    if not callable(build):
        raise TargetError(f"{target} is not a lanner application")
    document = build()
    if args.yaml:
        import yaml  # type: ignore[import-untyped]

        text = yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from lanner.migrate import MissingDependencyError, migrate_paths
    from lanner.migrate._flask_names import detect_source

    try:
        source = args.source or detect_source(args.paths)
        if source is None and detect_source(args.paths, lanner=True):
            print("nothing to migrate: the code imports lanner and neither Flask nor FastAPI")
            return 0
        if source is None:
            raise TargetError(
                "cannot tell which framework the code is written for: pass --from flask|fastapi"
            )
        report = migrate_paths(args.paths, source, write=not args.diff, openapi_compat=args.openapi_compat)
    except FileNotFoundError as exc:
        raise TargetError(str(exc)) from None
    except MissingDependencyError as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 1
    if args.diff:
        for result in report.changed:
            sys.stdout.write(result.diff())
    lines = report.lines()
    if args.report:
        Path(args.report).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        print(line)
    # Flask: 1 when something is left for a person to do. FastAPI's codemod keeps its exit status 0.
    if source == "flask" and (report.unmapped or report.errors):
        return 1
    return 0


_TARGET_HELP = "module:attr, or a file path such as app.py (default: --app, then $LANNER_APP)"


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
        description="Serve and inspect lanner apps.",
        epilog="Any other COMMAND is one of the app's own (@app.cli.command): "
        "lanner --app TARGET COMMAND, or with LANNER_APP set. lanner --app TARGET --help lists them.",
    )
    parser.add_argument(
        "--app",
        metavar="TARGET",
        help="the app (module:attr or a file path) whose commands to run, and the default TARGET of "
        "lanner's (default: $LANNER_APP)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("run", "serve the app for production with uvicorn, granian or gunicorn"),
        ("dev", "serve with auto-reload and debug tracebacks"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("target", nargs="?", help=_TARGET_HELP)
        command.add_argument(
            "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
        )
        command.add_argument("--port", type=int, default=8000, help="(default: 8000)")
        command.add_argument("--log-level", default="info", choices=_LOG_LEVELS, help="(default: info)")
        if name == "run":
            _add_run_options(command)
    routes = commands.add_parser(
        "routes", help="print the app's routes", description="print the app's routes"
    )
    routes.add_argument("target", nargs="?", help=_TARGET_HELP)
    openapi = commands.add_parser(
        "openapi",
        help="write the OpenAPI document; 'lanner openapi diff OLD NEW' compares two",
        description="Write the app's OpenAPI document with sorted keys, ready to commit and diff. "
        "'lanner openapi diff OLD NEW [--format text|json]' reports the changes between two "
        "documents and exits 1 when any is breaking.",
    )
    asyncapi = commands.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of the app's WebSocket routes",
        description="Write the AsyncAPI 3.0 document of the app's WebSocket routes (channels, "
        "handshake parameters, message schemas) with sorted keys.",
    )
    for command in (openapi, asyncapi):
        command.add_argument("target", nargs="?", help=_TARGET_HELP)
        command.add_argument("-o", "--output", help="write to FILE instead of standard output")
        command.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    migrate = commands.add_parser(
        "migrate",
        help="rewrite an app written for another framework to lanner",
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


def _leading_options(argv: list[str]) -> tuple[str | None, bool, list[str]]:
    """Split off the options given before the command: ``--app TARGET`` and ``-h``/``--help``.

    Returns:
        The ``--app`` value (None without it), whether help was asked for, and the arguments from
        the command on.
    """
    app: str | None = None
    wants_help = False
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        token = argv[index]
        if token == "--app" and index + 1 < len(argv):
            app = argv[index + 1]
            index += 2
        elif token.startswith("--app="):
            app = token.removeprefix("--app=")
            index += 1
        elif token in ("-h", "--help"):
            wants_help = True
            index += 1
        else:
            break
    return app, wants_help, argv[index:]


def _app_commands(target: str) -> Any:
    """The app's ``click.Group`` of project commands (``app.cli``).

    Raises:
        TargetError: TARGET cannot be loaded, or has no ``cli`` group.
    """
    import click  # installed with uvicorn

    group = getattr(load_target(target), "cli", None)
    if not isinstance(group, click.Group):
        raise TargetError(f"{target} has no commands of its own (declare them with @app.cli.command())")
    return group


def _run_app_command(target: str, args: list[str], prog_name: str) -> int:
    """Run one of the app's commands as click runs it: its output, its errors, its exit status."""
    group = _app_commands(target)
    try:
        # Standalone, as Flask runs its commands: click prints usage errors and exits with the
        # command's status. Not standalone, click would hand back what the command returns and a
        # ctx.exit() status alike, so a command returning 5 would exit with 5.
        group.main(args=args, prog_name=prog_name, standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        raise  # sys.exit("message"): Python prints it and exits with 1
    return 0  # pragma: no cover - standalone click always ends with SystemExit


def _print_help(parser: argparse.ArgumentParser, target: str | None, *, explicit: bool) -> int:
    """Print lanner's help, then the app's own commands when an app is named."""
    import click  # installed with uvicorn

    parser.print_help()
    if target is None:
        return 0
    try:
        group = _app_commands(target)
    except TargetError as exc:
        print(f"\nlanner: error: {exc}", file=sys.stderr)
        return 2 if explicit else 0  # a stale LANNER_APP must not break lanner --help
    context = click.Context(group, info_name="lanner")
    rows: list[tuple[str, str]] = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is not None and not command.hidden:
            rows.append((name, command.get_short_help_str(limit=70)))
    print(f"\ncommands of {target}:")
    width = max((len(name) for name, _ in rows), default=0)
    for name, text in rows or [("(none)", "")]:
        print(f"  {name.ljust(width)}  {text}".rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lanner`` command; return its exit status.

    2 for a bad target, path or server choice (and usage errors), 1 without LibCST; one of the
    app's own commands exits as click makes it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    app_option, wants_help, rest = _leading_options(argv)
    app_target = app_option or os.environ.get("LANNER_APP") or None
    parser = build_parser()
    try:
        if wants_help:
            return _print_help(parser, app_target, explicit=app_option is not None)
        if rest[:2] == ["openapi", "diff"]:
            return diff_main(rest[1:])
        if rest and not rest[0].startswith("-") and rest[0] not in COMMANDS:
            if app_target is None:
                parser.error(
                    f"unknown command {rest[0]!r}; an app's own commands need --app TARGET or LANNER_APP"
                )
            prog_name = f"lanner --app {app_option}" if app_option else "lanner"
            return _run_app_command(app_target, rest, prog_name)
        args = parser.parse_args(argv)
        if args.command == "run":
            return _serve(args, reload=args.reload, debug=False)
        if args.command == "dev":
            return _serve(args, reload=True, debug=True)
        if args.command in ("openapi", "asyncapi"):
            return _openapi(args)
        if args.command == "migrate":
            return _migrate(args)
        return _routes(args)
    except (TargetError, ServerError) as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
