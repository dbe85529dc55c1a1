"""A lanner (or any ASGI) app as a WSGI callable: `to_wsgi`, `WSGIAdapter` and `load`.

The adapter keeps one `_Worker` per process: the app's event loop and lifespan, started on the
first request (or at `WSGIAdapter.startup`) and shut down when the process exits.
"""

from __future__ import annotations

import atexit
import importlib
import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from lanner.types import ASGIApp
from lanner.wsgi._base import Environ, StartResponse, _a2wsgi
from lanner.wsgi._fork import _at_fork_in_child
from lanner.wsgi._worker import WSGIStartupError, _Worker

__all__ = ["WSGIAdapter", "WSGIStartupError", "load", "to_wsgi"]


class WSGIAdapter:
    """A lanner (or any ASGI) app as a WSGI callable, lifespan included; made by `to_wsgi`.

    Each process runs the app on an event loop of its own. Under a single-threaded server (the
    request's ``wsgi.multithread`` is false: gunicorn's sync workers) the thread serving the request
    runs the loop itself, so tasks the lifespan leaves running pause between requests; under a
    multi-threaded one (gthread, waitress) the loop runs in a daemon thread and a2wsgi hands each
    request over to it. The first request decides. The lifespan starts on that first request (or
    at `startup`) and shuts down when the process exits. A process forked from one that had
    started gets its own loop and lifespan.

    Args:
        app: the ASGI application.

    Raises:
        ImportError: if a2wsgi is not installed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._asgi = _a2wsgi().asgi
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._serving: _Worker | None = None  # `_worker`, once started in this very process
        # A forked child starts its own worker; and a fork taken while another thread held the
        # lock would leave it locked in the child.
        _at_fork_in_child(self._after_fork)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request (starting the app in this process first if need be).

        Raises:
            WSGIStartupError: if the app's startup failed in this process.
            Exception: what the ASGI app raised instead of answering (the server answers 500).
        """
        # PERF(wsgi sync JSON): no pid to ask the system for on every request: a fork clears it.
        worker = self._serving
        if worker is None:
            worker = self._start()
        if worker.failure is not None:
            raise worker.failure
        return worker.serve(environ, start_response)

    def startup(self) -> None:
        """Run the lifespan startup in this process now, unless it already ran.

        Raises:
            WSGIStartupError: if it failed (now or on an earlier call).
        """
        failure = self._start().failure
        if failure is not None:
            raise failure

    def shutdown(self) -> None:
        """Run the lifespan shutdown in this process now, if it started here (else do nothing).

        The process exit does it otherwise. A request served afterwards starts the app again.
        """
        with self._lock:
            worker, self._worker = self._worker, None
            self._serving = None
        if worker is not None and worker.pid == os.getpid():
            atexit.unregister(worker.stop)
            worker.stop()

    def _start(self) -> _Worker:
        with self._lock:
            worker = self._worker
            if worker is None or worker.pid != os.getpid():
                worker = _Worker(self.app, self._asgi)
                worker.start()
                self._worker = worker
                atexit.register(worker.stop)
            self._serving = worker
            return worker

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._serving = None  # the parent's: this process starts its own


_adapters: weakref.WeakKeyDictionary[Any, WSGIAdapter] = weakref.WeakKeyDictionary()
_adapters_lock = threading.Lock()


def to_wsgi(app: ASGIApp) -> WSGIAdapter:
    """Return `app` as a WSGI callable: the same `WSGIAdapter` each time for the same app.

    One adapter per app means one lifespan per process however often it is asked for.

    Args:
        app: the ASGI application (a `Lanner` app).

    Returns:
        The app's adapter; a new one each time for an app that cannot be weakly referenced.

    Raises:
        ImportError: if a2wsgi is not installed (``pip install 'lanner[wsgi]'``).
    """
    with _adapters_lock:
        try:
            adapter = _adapters.get(app)
        except TypeError:  # not weakly referenceable: not shared
            return WSGIAdapter(app)
        if adapter is None:
            adapter = _adapters[app] = WSGIAdapter(app)
        return adapter


def load(target: str) -> WSGIAdapter:
    """Import the app named by `target` (``"module:attribute"``) and return it as a WSGI callable.

    For WSGI servers that take a call but not an attribute path:
    ``gunicorn 'lanner.wsgi:load("myapp:app")'``.

    Args:
        target: ``"module:attribute"``, the attribute possibly dotted (``"myapp:api.app"``).

    Returns:
        The app's `WSGIAdapter`, as `to_wsgi` gives it.

    Raises:
        ValueError: if `target` is not ``module:attribute``.
        ImportError: if the module cannot be imported.
        AttributeError: if it has no such attribute.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'module:attribute', got {target!r}")
    app: Any = importlib.import_module(module_name)
    for name in attribute.split("."):
        app = getattr(app, name)
    return to_wsgi(app)
