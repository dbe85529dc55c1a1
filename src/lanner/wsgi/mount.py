"""A WSGI app (Flask, Django...) inside a lanner app: `WSGIMount`, its thread pool and its streams.

The WSGI app sees ``SCRIPT_NAME`` = the mount prefix (ASGI ``root_path``) and ``PATH_INFO`` = the
rest of the path (`split_path`), so its own ``url_for`` builds ``/legacy/...`` links. It runs in a
thread pool of its own, apart from lanner's pool for sync handlers, so a slow old app cannot starve
new routes. Request bodies stream in as it reads them, responses stream out chunk by chunk; the
thread never waits for the event loop (``_relay``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
from typing import Any

from lanner.types import Receive, Scope, Send
from lanner.wsgi._base import Environ, WSGIApp, _a2wsgi
from lanner.wsgi._relay import _Relay

__all__ = ["WSGIMount", "split_path"]


class WSGIMount:
    """An ASGI app serving a WSGI app, for ``app.mount(prefix, WSGIMount(wsgi_app))``.

    Request bodies stream in as the WSGI app reads them (at most a couple of messages are read
    ahead); its response streams out chunk by chunk, at most `send_queue_size` chunks ahead of the
    client. When the client goes away, the WSGI app's response iterable is closed at its next chunk,
    as a WSGI server does when a write fails, so an endless generator does not hold a thread for
    ever. Its status codes, error pages and cookies pass through untouched.

    The thread running the WSGI app never waits for the event loop: a response whose
    ``Content-Length`` is reached goes to the loop in one handoff, start and end included.

    Args:
        app: the WSGI application.
        threads: size of the thread pool running the WSGI app, its own: a slow WSGI app queues its
            requests here and never takes threads from lanner's sync handlers.
        send_queue_size: response chunks buffered between the WSGI thread and the client.

    Raises:
        ValueError: if `threads` or `send_queue_size` is below 1.
        ImportError: if a2wsgi is not installed.
    """

    def __init__(self, app: WSGIApp, *, threads: int = 10, send_queue_size: int = 10) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads!r}")
        if send_queue_size < 1:
            raise ValueError(f"send_queue_size must be at least 1, got {send_queue_size!r}")
        # a2wsgi reads the bodies that come in pieces.
        self._body_type = _a2wsgi().wsgi.Body
        self.app = app
        self.threads = threads
        self.send_queue_size = send_queue_size
        #: The thread pool the WSGI app runs in.
        self.executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="lanner-wsgi-mount")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: HTTP through the WSGI app; a lifespan acknowledged, a WebSocket refused.

        Raises:
            Exception: what the WSGI app raised (the server answers 500 if nothing was sent), or an
                error raised by `send` or `receive` (other than the client going away), once the
                WSGI app has finished with the request.
        """
        if scope["type"] != "http":
            await _not_http(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        relay = _Relay(self.app, loop, receive, send, self.send_queue_size, self._body_type)
        job: concurrent.futures.Future[None] | None = None
        try:
            environ = _environ(scope, relay.take_body())
            # The WSGI app sees the request's context variables, as a2wsgi and lanner's sync
            # handlers show them.
            job = self.executor.submit(contextvars.copy_context().run, relay.run, environ)
            await relay.relay()
        finally:
            relay.end()
            if job is not None:
                job.cancel()  # not started yet (the task was cancelled): it never will be
        if relay.error is not None:
            raise relay.error

    def close(self) -> None:
        """Stop the thread pool once the requests running in it are over; it serves no more after."""
        self.executor.shutdown(wait=False, cancel_futures=True)


async def _not_http(scope: Scope, receive: Receive, send: Send) -> None:
    # What a WSGI app can do with other connections: refuse a WebSocket, acknowledge a lifespan.
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    elif scope["type"] == "lifespan":
        for step in ("startup", "shutdown"):
            message = await receive()
            if message["type"] != f"lifespan.{step}":
                return
            await send({"type": f"lifespan.{step}.complete"})


# Header names as WSGI environ keys, worked out once each (bounded: clients choose the names).
_HEADER_KEYS: dict[bytes, str] = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_HEADER_KEYS_MAX = 512


def _environ(scope: Scope, body: Any) -> Environ:
    """The WSGI environ of an ASGI HTTP scope, reading the request body from `body`."""
    script_name, path_info = split_path(scope)
    server = scope.get("server") or ("localhost", 80)
    environ: Environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        # The input ends where the ASGI body ends, so a body without a length is readable too.
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "asgi.scope": scope,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    keys = _HEADER_KEYS
    for name, value in scope.get("headers", ()):
        key = keys.get(name)
        if key is None:
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            if len(keys) < _HEADER_KEYS_MAX:
                keys[name] = key
        text = value.decode("latin-1")
        if key in environ:
            text = environ[key] + "," + text  # repeated headers, joined as one
        environ[key] = text
    return environ


def split_path(scope: Scope) -> tuple[str, str]:
    """Return ``(SCRIPT_NAME, PATH_INFO)`` for an ASGI HTTP scope, as WSGI strings.

    ``root_path`` is the script name. The path holds it in front (ASGI 2.4, what lanner's mounts
    pass); a path without it (older servers) is all path info. Unlike a2wsgi, a ``SCRIPT_NAME``
    environment variable of the process does not replace the mount prefix.

    Args:
        scope: the ASGI HTTP scope, with ``path`` and optionally ``root_path``.

    Returns:
        The script name and the path info, each the URL-decoded UTF-8 bytes as latin-1 strings.
    """
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        path = path[len(root_path) :]
    # WSGI strings are the URL-decoded UTF-8 bytes, one character per byte.
    return root_path.encode().decode("latin-1"), path.encode().decode("latin-1")
