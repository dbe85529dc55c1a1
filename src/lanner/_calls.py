"""Call a route's functions and clean up after them: the life of its dependencies in one request.

Sync functions run in the thread pools, generator dependencies are entered on the request's
`AsyncExitStack`, and their cleanups run exactly once, shielded from cancellation, either after the
response (`cleanup`) or, when the route failed, before the answer is chosen (`unwind`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from lanner.concurrency import cleanup_pool, dependency_pool, run_cleanup, run_in_threadpool
from lanner.exceptions import LannerError
from lanner.signature import CallPlan

logger = logging.getLogger("lanner.error")


class ThreadedContext:
    """Run a sync generator dependency's setup and cleanup in threads.

    The setup runs in the dependency pool and the cleanup in the cleanup pool, never in the pool
    of handlers: when every handler thread is blocked waiting for a resource (a connection from a
    small pool), the requests holding one can still finish and give it back.
    """

    def __init__(self, manager: contextlib.AbstractContextManager[Any]) -> None:
        self._manager = manager

    async def __aenter__(self) -> Any:
        setup = dependency_pool().submit(self._manager.__enter__)
        try:
            return await asyncio.wrap_future(setup)
        except asyncio.CancelledError:
            # The thread cannot be stopped: once the setup it is running succeeds, undo it.
            setup.add_done_callback(self._undo)
            raise

    def _undo(self, setup: Future[Any]) -> None:
        if not setup.cancelled() and setup.exception() is None:
            cancelled = asyncio.CancelledError()
            cleanup_pool().submit(exit_quietly, self._manager, cancelled)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await run_cleanup(self._manager.__exit__, exc_type, exc, tb)


def exit_quietly(manager: contextlib.AbstractContextManager[Any], failure: BaseException) -> None:
    """Exit `manager` as if `failure` were raised in its block; log what the exit raises."""
    try:
        manager.__exit__(type(failure), failure, None)
    except BaseException as exc:  # a generator re-raising `failure` makes __exit__ return False
        logger.error("Exception in dependency cleanup", exc_info=exc)


def wrap(plan: CallPlan) -> Callable[..., Any]:
    """What to call for `plan`: generators become context managers entered on the stack."""
    if plan.kind == "async_generator":
        return contextlib.asynccontextmanager(plan.call)
    if plan.kind == "generator":
        return contextlib.contextmanager(plan.call)
    return plan.call


async def invoke(
    plan: CallPlan, call: Callable[..., Any], kwargs: dict[str, Any], stack: AsyncExitStack | None
) -> Any:
    """Call `call` (from `wrap`) with `kwargs` as `plan`'s kind needs; return its result."""
    kind = plan.kind
    if kind == "async":
        return await call(**kwargs)
    if kind == "sync":
        return await run_in_threadpool(call, **kwargs)
    assert stack is not None
    if kind == "async_generator":
        return await stack.enter_async_context(call(**kwargs))
    return await stack.enter_async_context(ThreadedContext(call(**kwargs)))


def starter(call: Callable[..., Any]) -> Callable[..., Any]:
    """An async function that creates `call`'s generator without running any of it."""

    async def start(**kwargs: Any) -> Any:
        return call(**kwargs)

    return start


async def cleanup(stack: AsyncExitStack, failure: BaseException | None) -> None:
    """Run the code after ``yield`` in the request's dependencies, exactly once.

    The cleanups run in a task of their own, shielded: a request cancelled while they run (a second
    timeout, a server shutdown) does not cut them short; they finish in the background.
    """
    task = asyncio.ensure_future(close_stack(stack, failure))
    await asyncio.shield(task)


async def unwind(stack: AsyncExitStack, failure: Exception) -> Exception:
    """Run the cleanups with `failure` raised in them; return the exception to answer.

    That is `failure` when they re-raise it, or the exception one of them raised instead. A
    cleanup that swallows it leaves nothing to answer with: that is the user's mistake, reported
    as a `LannerError` (a 500).
    """

    async def run() -> Exception:
        try:
            swallowed = await stack.__aexit__(type(failure), failure, failure.__traceback__)
        except Exception as raised:
            return raised
        if not swallowed:
            return failure
        error = LannerError(
            "No response to send: the route ended by raising an exception and a dependency with "
            f"yield caught it ({failure!r}) without raising it again. Re-raise it (or raise an "
            "HTTPException) in the dependency's except block."
        )
        error.__cause__ = failure
        return error

    # Shielded like `cleanup`: a cancelled request does not cut the cleanups short.
    return await asyncio.shield(asyncio.ensure_future(run()))


async def close_stack(stack: AsyncExitStack, failure: BaseException | None) -> None:
    """Close `stack` (with `failure` raised in it, if any); log what the cleanups raise."""
    try:
        if failure is None:
            await stack.aclose()
        else:
            await stack.__aexit__(type(failure), failure, failure.__traceback__)
    except BaseException as exc:  # the stack does not re-raise `failure` itself, only new errors
        logger.error("Exception in dependency cleanup", exc_info=exc)
