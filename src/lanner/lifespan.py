"""The ASGI lifespan protocol: startup and shutdown work around the life of the server."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import math
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from lanner.types import Receive, Scope, Send

logger = logging.getLogger("lanner.lifespan")

LifespanFactory = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]
Hook = Callable[[], Any]

#: Seconds the shutdown may take before it is cancelled (``Lanner(shutdown_timeout=...)``).
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
# Seconds the cancelled shutdown gets to unwind (its finally blocks) before it is given up on.
_UNWIND_GRACE = 1.0


def check_shutdown_timeout(value: float | None) -> float | None:
    """Return `value` as a shutdown timeout: seconds, or None for no limit (infinity is None too).

    Raises:
        ValueError: if `value` is not a positive number.
    """
    if value is None:
        return None
    if not value > 0:  # also refuses NaN
        raise ValueError(f"shutdown_timeout must be a positive number of seconds, got {value!r}")
    return None if math.isinf(value) else float(value)


class Lifespan:
    """Run startup hooks, the user's lifespan context and app-scoped resources, in that order.

    Shutdown runs them in reverse: app-scoped resources are closed, the lifespan context exits, then
    the shutdown hooks run. Sync shutdown hooks run in a daemon thread of their own, so a blocked one
    neither stalls the event loop nor keeps the process alive once abandoned; sync startup hooks run
    on the event loop.

    The whole shutdown is bounded by `shutdown_timeout`; startup is not (a slow startup is the
    application's business). When the timeout expires, the step running then is cancelled, its
    cleanup code gets one more second to unwind, the shutdown hooks not started yet are skipped, and
    the server receives ``lifespan.shutdown.failed`` so that it can exit. A blocked sync hook cannot
    be interrupted: its thread is left behind.

    Args:
        app: passed to the lifespan factory.
        factory: ``Lanner(lifespan=...)``: an async context manager factory taking the app; a dict it
            yields becomes the lifespan state seen by `Request.state`.
        on_startup: functions (sync or async) run first at startup.
        on_shutdown: functions run last at shutdown.
        prepare: lanner's own startup work (compiling routes, app-scoped dependencies).
        close: lanner's own shutdown work.
        shutdown_timeout: seconds the whole shutdown may take; None (or infinity) waits for ever.

    Raises:
        ValueError: if `shutdown_timeout` is not a positive number.
    """

    def __init__(
        self,
        app: Any,
        factory: LifespanFactory | None,
        on_startup: Sequence[Hook],
        on_shutdown: Sequence[Hook],
        prepare: Callable[[], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        *,
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        self._app = app
        self._factory = factory
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._prepare = prepare
        self._close = close
        self._shutdown_timeout = check_shutdown_timeout(shutdown_timeout)
        self._deadline: asyncio.Timeout | None = None
        self._step = "the shutdown"

    @contextlib.asynccontextmanager
    async def _run(self) -> AsyncIterator[Any]:
        for hook in self._on_startup:
            await _call(hook)
        try:
            async with contextlib.AsyncExitStack() as stack:
                state = None
                if self._factory is not None:
                    state = await stack.enter_async_context(self._factory(self._app))
                    # Runs just before the factory's exit: names the step a timeout would cut off.
                    stack.callback(self._enter_step, f"the exit of the lifespan {_name(self._factory)}")
                stack.push_async_callback(self._close_resources)
                await self._prepare()
                yield state
        finally:
            # The startup hooks ran, so their shutdown counterparts run even when the lifespan's
            # own exit failed; the first failure is the one reported.
            await self._call_shutdown_hooks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Speak the lifespan protocol with the server.

        Startup and shutdown failures, a shutdown that outlives `shutdown_timeout` included, are
        logged and reported to the server as ``lifespan.startup.failed`` /
        ``lifespan.shutdown.failed``.

        Raises:
            BaseException: a non-`Exception` raised at startup (``KeyboardInterrupt``, a
                cancellation), after reporting it.
        """
        self._deadline = None
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
            await self._shut_down(manager)
        except Exception as exc:
            logger.error("Application shutdown failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            await send(
                {
                    "type": "lifespan.shutdown.failed",
                    "message": f"Application shutdown failed: {type(exc).__name__}: {exc}",
                }
            )
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _shut_down(self, manager: contextlib.AbstractAsyncContextManager[Any]) -> None:
        """Exit `manager` within the shutdown timeout.

        Runs in the task that entered it: a lifespan holding a task group or a cancel scope across
        its ``yield`` must exit where it entered.

        Raises:
            TimeoutError: the shutdown outlived `shutdown_timeout` and was cancelled.
            Exception: whatever the shutdown work raised.
        """
        limit = self._shutdown_timeout
        if limit is None:
            await manager.__aexit__(None, None, None)
            return
        # The outer bound catches cleanup code that awaits again once cancelled; past it, the
        # shutdown is left wherever it stands.
        deadline = asyncio.timeout(limit)
        self._deadline = deadline
        try:
            async with asyncio.timeout(limit + _UNWIND_GRACE), deadline:
                await manager.__aexit__(None, None, None)
        except Exception as exc:
            # Both timeouts turn their own cancellation into TimeoutError; a CancelledError that
            # gets here comes from outside (the server cancelling the lifespan) and propagates.
            if not deadline.expired():
                raise
            failure: Exception | None = exc
        else:
            if not deadline.expired():
                return
            # The cancelled step swallowed the cancellation. A test runs this line, but CPython 3.11
            # emits no trace event for a frame resumed by a throw, so coverage cannot see it
            # (python/cpython#106749, coveragepy/coveragepy#2124).
            failure = None  # pragma: no cover
        raise TimeoutError(
            f"the shutdown did not finish within {limit:g} seconds (shutdown_timeout); "
            f"{self._step} was cancelled"
        ) from failure

    def _expired(self) -> bool:
        return self._deadline is not None and self._deadline.expired()

    def _enter_step(self, step: str) -> None:
        # After the timeout, keep naming the step that was cut off, not the unwinding after it.
        if not self._expired():
            self._step = step

    async def _close_resources(self) -> None:
        self._enter_step("the cleanup of app-scoped dependencies")
        await self._close()

    async def _call_shutdown_hooks(self) -> None:
        """Call every shutdown hook in order, even after one fails; then raise the first failure.

        Hooks not started when the shutdown timeout expires are skipped.
        """
        failure: Exception | None = None
        hooks = self._on_shutdown
        for index, hook in enumerate(hooks):
            if self._expired():
                _log_skipped(hooks[index:])
                break
            self._enter_step(f"the on_shutdown hook {_name(hook)}")
            try:
                await _call_shutdown_hook(hook)
            except asyncio.CancelledError:
                if self._expired():
                    _log_skipped(hooks[index + 1 :])
                raise
            except Exception as exc:
                if failure is None:
                    failure = exc
                else:
                    logger.error("Shutdown hook %s failed", _name(hook), exc_info=exc)
        if failure is not None:
            raise failure


def _log_skipped(hooks: Sequence[Hook]) -> None:
    if hooks:
        names = ", ".join(_name(hook) for hook in hooks)
        logger.error("Skipped the on_shutdown hooks not started before the shutdown timeout: %s", names)


async def _call(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


async def _call_shutdown_hook(hook: Hook) -> None:
    if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(type(hook).__call__):
        await hook()
        return
    result = await _call_in_daemon_thread(hook)
    # A sync callable may still hand back a coroutine (a lambda around an async call).
    if inspect.isawaitable(result):
        await result


async def _call_in_daemon_thread(fn: Hook) -> Any:
    """Call `fn` in a new daemon thread and wait for its result without blocking the event loop.

    Not the thread pool: its threads are joined at interpreter exit, so a hook blocked for good
    would keep the process alive after the timeout gave up on it.

    Raises:
        BaseException: whatever `fn` raises.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the wait was cancelled
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(fn)
        except StopIteration as exc:  # a Future refuses StopIteration
            error = RuntimeError(f"shutdown hook raised StopIteration: {exc!r}")
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed while the hook was blocked
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=f"lanner-shutdown-{_name(fn)}", daemon=True).start()
    return await future


def _name(fn: Any) -> str:
    """A readable name for a hook or factory in log messages: ``module.qualname`` when it has one."""
    qualname = getattr(fn, "__qualname__", None)
    if qualname is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


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
