"""The app running in one WSGI server process: its event loop, its lifespan, and its requests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from lanner.types import ASGIApp, Message
from lanner.wsgi._answers import _BODY_CUT_SHORT, _LENGTH_REQUIRED, _answer, _refusal
from lanner.wsgi._base import Environ, StartResponse, logger
from lanner.wsgi._fork import _ForkSafeSelector
from lanner.wsgi._inline import _InlineCall
from lanner.wsgi._loop import _WorkerLoop
from lanner.wsgi._scope import _http_scope
from lanner.wsgi._threaded import _Call, _Response

T = TypeVar("T")

# Seconds to wait for the shutdown beyond the app's own shutdown_timeout (which bounds the work).
_SHUTDOWN_GRACE = 5.0


class WSGIStartupError(RuntimeError):
    """The app's lifespan startup failed in this process, so the process cannot serve requests."""


class _Worker:
    """The app running in one process: its event loop, its lifespan, and how requests reach it.

    Args:
        app: the ASGI app.
        asgi: a2wsgi's ``asgi`` module.
    """

    def __init__(self, app: ASGIApp, asgi: Any) -> None:
        self.app = app
        self.pid = os.getpid()
        self.failure: WSGIStartupError | None = None
        self.asgi = asgi
        self.state: dict[str, Any] = {}
        self.loop = _WorkerLoop(_ForkSafeSelector())
        # Held by the thread running the loop, as long as the loop has no thread of its own.
        self.turn = threading.Lock()
        self._thread: threading.Thread | None = None
        self._inline: bool | None = None  # decided by the first request
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._stopping = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop: in this thread, unless the loop runs in a thread of its own."""
        with self.turn:
            if self._thread is None:
                return self.loop.run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def start(self) -> None:
        """Run the lifespan startup; a failure is kept in `failure`, for every request to raise."""
        try:
            self.run(self._begin())
        except Exception as exc:
            self.failure = WSGIStartupError(
                f"the app's startup failed in process {self.pid}, which cannot serve requests: {exc}"
            )
            self.failure.__cause__ = exc

    def stop(self) -> None:
        """Run the lifespan shutdown (once, in the process that started it) and close the loop."""
        if self._stopping or self.pid != os.getpid():
            return
        self._stopping = True
        try:
            if self.failure is None and self._started is not None:
                self.run(self._end())
        except Exception as exc:
            logger.error("the app's shutdown failed in process %s: %s", self.pid, exc)
        finally:
            self._close()

    def serve(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request: on this thread, or through the loop's thread (a2wsgi)."""
        upgrade = environ.get("HTTP_UPGRADE")
        if upgrade is not None:
            refusal = _refusal(environ)
            if refusal is not None:
                return _answer(refusal, start_response)
        if self._inline is None:
            self._choose(environ)
        if self._inline:
            scope = _http_scope(environ, self.state)
            answer = _InlineCall(self.app, self.loop, self.turn, scope, environ).respond(start_response)
            return _answer(_BODY_CUT_SHORT, start_response) if answer is None else answer
        _make_decodable(environ)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get(
            "CONTENT_LENGTH"
        ):
            return _answer(_LENGTH_REQUIRED, start_response)
        call = _Call(self.app, self.state)
        chunks = self.asgi.ASGIResponder(call, self.loop, None)(environ, start_response)
        return _Response(chunks, call, self.loop)

    def _choose(self, environ: Environ) -> None:
        with self.turn:
            if self._inline is not None:
                return
            # PERF(wsgi sync JSON): a thread running the loop itself hands nothing over: one gunicorn
            # sync worker answers ~4,000 requests/s, against ~1,650 through a2wsgi's loop thread.
            self._inline = not environ.get("wsgi.multithread", True)
            if not self._inline:
                self._thread = threading.Thread(target=self.loop.run_forever, name="lanner-wsgi", daemon=True)
                self._thread.start()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.run(_cancel_others())
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(_SHUTDOWN_GRACE)
            if self._thread.is_alive():
                return
        self.loop.close()

    async def _begin(self) -> None:
        loop = asyncio.get_running_loop()
        self._started, self._stopped = loop.create_future(), loop.create_future()
        self._inbox.put_nowait({"type": "lifespan.startup"})
        self._lifespan_task = asyncio.ensure_future(self._lifespan())
        await self._started

    async def _end(self) -> None:
        assert self._stopped is not None
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        limit = getattr(self.app, "shutdown_timeout", None)
        async with asyncio.timeout(None if limit is None else limit + _SHUTDOWN_GRACE):
            await self._stopped

    async def _lifespan(self) -> None:
        assert self._started is not None and self._stopped is not None
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        failure: BaseException | None = None
        try:
            await self.app(scope, self._inbox.get, self._lifespan_send)
        except BaseException as exc:  # handed to whoever waits for the startup or the shutdown
            failure = exc
        for future in (self._started, self._stopped):
            if future.done():
                continue
            if failure is None:
                # The app returned without a word: it has no lifespan, and serves without one.
                future.set_result(None)
            else:
                # Reported once: to the startup if it is still waiting, else to the shutdown.
                future.set_exception(_as_exception(failure))
                failure = None

    async def _lifespan_send(self, message: Message) -> None:
        assert self._started is not None and self._stopped is not None
        kind = message["type"]
        detail = message.get("message") or kind
        if kind == "lifespan.startup.complete":
            self._started.set_result(None)
        elif kind == "lifespan.startup.failed":
            self._started.set_exception(RuntimeError(detail))
        elif kind == "lifespan.shutdown.complete":
            self._stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            self._stopped.set_exception(RuntimeError(detail))


async def _cancel_others() -> None:
    """Cancel the tasks still on the loop (requests cut short by the exit) and let them unwind."""
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE)


def _as_exception(error: BaseException) -> Exception:
    # A cancelled or interrupted lifespan still reaches the waiting thread as an ordinary error.
    if isinstance(error, Exception):
        return error
    wrapped = RuntimeError(f"the lifespan was interrupted: {error!r}")
    wrapped.__cause__ = error
    return wrapped


def _make_decodable(environ: Environ) -> None:
    """Rewrite the URL parts of `environ` that a2wsgi could not decode, as ASGI servers decode them.

    WSGI strings carry the request's bytes; a2wsgi decodes the path as UTF-8 and the query string
    as ASCII, and fails on anything else, which the server would answer with a 500. An invalid
    UTF-8 byte of the path becomes U+FFFD (as uvicorn decodes it, so the app answers its 404), a
    non-ASCII byte of the query string is percent-encoded (it decodes to the same parameters).
    """
    for key in ("SCRIPT_NAME", "PATH_INFO"):
        value = environ.get(key, "")
        if not value.isascii():
            environ[key] = value.encode("latin-1").decode("utf-8", "replace").encode().decode("latin-1")
    query = environ.get("QUERY_STRING", "")
    if not query.isascii():
        environ["QUERY_STRING"] = "".join(
            chr(byte) if byte < 128 else f"%{byte:02X}" for byte in query.encode("latin-1")
        )
