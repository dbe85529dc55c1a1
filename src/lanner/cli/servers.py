"""Serve the app: ``lanner run`` on uvicorn (the default), granian or gunicorn, and ``lanner dev``.

Each server runs inside this process, so that the signals a process manager sends reach the server
itself: on SIGTERM it stops listening (new connections are refused), lets the requests in flight
finish (up to ``--timeout-graceful-shutdown``), runs each worker's lifespan shutdown, where the
app-scoped dependencies are cleaned up once per worker, and exits. granian and gunicorn are
optional extras (``pip install 'lanner[granian]'``, ``'lanner[gunicorn]'``).

With ``--reload`` (``lanner dev``), uvicorn's reloader imports the app in a child process through
`lanner.cli.reloading`, so an app that fails to import is reported and the reloader keeps watching.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from lanner.cli.reloading import RELOAD_TARGET, RELOADED_APP
from lanner.cli.targets import AppLoadError, app_attribute, load_target, split_target
from lanner.middleware._addresses import TrustedProxies
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["SERVERS", "ServerError", "serve"]

#: The servers ``lanner run --server`` can start; uvicorn is the default and always installed.
SERVERS = ("uvicorn", "granian", "gunicorn")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
UvicornRunner = Callable[..., None]


class ServerError(Exception):
    """The chosen server cannot run as asked: it is not installed, or an option does not apply to it."""


def serve(
    args: argparse.Namespace, target: str, *, reload: bool, debug: bool, run_uvicorn: UvicornRunner
) -> int:
    """Serve TARGET with the server ``--server`` names, until the server stops; return 0.

    Args:
        args: the parsed options of ``lanner run`` or ``lanner dev``.
        target: the app.
        reload: restart when the code changes (uvicorn only).
        debug: turn the app's debug mode on (``LANNER_DEBUG=1``).
        run_uvicorn: what starts uvicorn, `_run_uvicorn`; the ``lanner`` entry point passes its
            own reference, which is where it can be replaced.

    Raises:
        ServerError: the server is not installed or an option does not apply to it.
        TargetError: TARGET cannot be loaded (with ``reload``, only when its file does not exist).
    """
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
        _serve_uvicorn(args, target, reload=reload, debug=debug, run_uvicorn=run_uvicorn)
    return 0


def _serve_uvicorn(
    args: argparse.Namespace, target: str, *, reload: bool, debug: bool, run_uvicorn: UvicornRunner
) -> None:
    module_name, attr, directory = split_target(target)
    try:
        app = load_target(target)  # fail fast with a clear message before uvicorn starts
    except AppLoadError:
        if not reload:
            raise
        # Like uvicorn --reload: the reloaded process reports the error, and again after each
        # change, until a save fixes it.
        app = None
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
    if reload:
        # Each reload imports the app afresh through lanner's loader, which reads TARGET here.
        app_string = RELOADED_APP
        options["factory"] = True
        saved = os.environ.get(RELOAD_TARGET)
        os.environ[RELOAD_TARGET] = target
    else:
        attr, is_factory = app_attribute(sys.modules[module_name], attr, explicit=":" in target)
        app_string = f"{module_name}:{attr}"
        if is_factory:
            options["factory"] = True
    try:
        run_uvicorn(
            app_string,
            host=args.host,
            port=args.port,
            workers=None if reload else args.workers,
            reload=reload,
            reload_dirs=[directory or os.getcwd()] if reload else None,
            app_dir=directory or os.getcwd(),
            log_level=args.log_level,
            **options,
        )
    finally:
        if reload:
            _restore(RELOAD_TARGET, saved)


def _restore(name: str, value: str | None) -> None:
    """Put environment variable `name` back as it was (`value`, or unset)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


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
