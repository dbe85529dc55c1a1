"""The ASGI lifespan protocol: startup and shutdown work around the life of the server."""

from __future__ import annotations

import contextlib
import inspect
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from lanner.types import Receive, Scope, Send

logger = logging.getLogger("lanner.lifespan")

LifespanFactory = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]
Hook = Callable[[], Any]


class Lifespan:
    """Run startup hooks, the user's lifespan context and app-scoped resources, in that order.

    Args:
        app: passed to the lifespan factory.
        factory: ``Lanner(lifespan=...)``: an async context manager factory taking the app; a dict it
            yields becomes the lifespan state seen by `Request.state`.
        on_startup: functions (sync or async) run first at startup.
        on_shutdown: functions run last at shutdown.
        prepare: lanner's own startup work (compiling routes, app-scoped dependencies).
        close: lanner's own shutdown work.
    """

    def __init__(
        self,
        app: Any,
        factory: LifespanFactory | None,
        on_startup: Sequence[Hook],
        on_shutdown: Sequence[Hook],
        prepare: Callable[[], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._app = app
        self._factory = factory
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._prepare = prepare
        self._close = close

    @contextlib.asynccontextmanager
    async def _run(self) -> AsyncIterator[Any]:
        for hook in self._on_startup:
            await _call(hook)
        try:
            async with contextlib.AsyncExitStack() as stack:
                state = None
                if self._factory is not None:
                    state = await stack.enter_async_context(self._factory(self._app))
                stack.push_async_callback(self._close)
                await self._prepare()
                yield state
        finally:
            # The startup hooks ran, so their shutdown counterparts run even when the lifespan's
            # own exit failed; the first failure is the one reported.
            await _call_all(self._on_shutdown)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Speak the lifespan protocol with the server.

        Startup and shutdown failures are logged and reported to the server as
        ``lifespan.startup.failed`` / ``lifespan.shutdown.failed``.
        """
        message = await receive()
        assert message["type"] == "lifespan.startup"
        manager = self._run()
        try:
            state = await manager.__aenter__()
            if isinstance(state, dict) and "state" not in scope:
                await manager.__aexit__(None, None, None)
                raise RuntimeError(
                    "the server does not support lifespan state; "
                    "yield None from the lifespan instead of a dict"
                )
        except BaseException as exc:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            logger.error("Application startup failed:\n%s", text)
            await send(
                {
                    "type": "lifespan.startup.failed",
                    "message": f"Application startup failed: {type(exc).__name__}: {exc}",
                }
            )
            if not isinstance(exc, Exception):
                raise
            return
        if isinstance(state, dict):
            scope["state"].update(state)
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        try:
            await manager.__aexit__(None, None, None)
        except Exception as exc:
            logger.error("Application shutdown failed", exc_info=exc)
            await send(
                {
                    "type": "lifespan.shutdown.failed",
                    "message": f"Application shutdown failed: {type(exc).__name__}: {exc}",
                }
            )
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _call(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


async def _call_all(hooks: Sequence[Hook]) -> None:
    """Call every hook in order, even after one fails; then raise the first failure."""
    failure: Exception | None = None
    for hook in hooks:
        try:
            await _call(hook)
        except Exception as exc:
            if failure is None:
                failure = exc
            else:
                logger.error("Shutdown hook %r failed", hook, exc_info=exc)
    if failure is not None:
        raise failure


async def report_startup_failure(receive: Receive, send: Send, exc: BaseException) -> None:
    """Answer the server's startup message with ``lifespan.startup.failed`` naming `exc`."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    logger.error("Application startup failed:\n%s", text)
    message = await receive()
    if message["type"] == "lifespan.startup":
        await send(
            {
                "type": "lifespan.startup.failed",
                "message": f"Application startup failed: {type(exc).__name__}: {exc}",
            }
        )
