"""The event loop of a WSGI worker process, which the serving thread may run eagerly.

Under a single-threaded WSGI server the thread serving a request runs the loop itself. Running it
the ordinary way (``run_until_complete``) costs more than a lanner request that waits for nothing:
the loop is entered and left, and it polls for I/O twice. `_WorkerLoop.start` instead starts the
request's task eagerly, as Python 3.12's eager tasks start: its first step runs at once, then
whatever became ready, with the loop marked as running in this thread, exactly as the loop would
run them; it stops as soon as the caller has what it waits for or nothing is ready, and the caller
then runs the loop the ordinary way, which waits for I/O, timers and threads. The task is an
ordinary `asyncio.Task`: ``asyncio.current_task()``, timeouts, cancellation, context variables and
async generators behave as they do on any loop.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import sys
import threading
from asyncio import events
from collections.abc import Awaitable, Callable, Sized
from contextvars import Context
from types import CoroutineType
from typing import Any

# Passes over the ready callbacks before `start` and `run_ready` hand over to the loop proper, which
# polls for I/O: an app that waits by spinning (``await asyncio.sleep(0)`` until a socket is
# readable) would otherwise spin for ever.
_EAGER_PASSES = 32

# What `_run_once` does with cancelled timers, so that a loop run mostly eagerly drops them too.
_MIN_SCHEDULED = 100
_MIN_CANCELLED_FRACTION = 0.5

# The loop internals the eager runs rely on, as CPython 3.11 to 3.13 have them: without them the
# loop runs the ordinary way only.
_INTERNALS = (
    "_ready",
    "_scheduled",
    "_timer_cancelled_count",
    "_thread_id",
    "_closed",
    "_asyncgen_firstiter_hook",
    "_asyncgen_finalizer_hook",
)


class _WorkerLoop(asyncio.SelectorEventLoop):
    """A selector event loop that a thread may run eagerly: ready callbacks, without polling for I/O.

    Args:
        selector: the loop's selector.
    """

    def __init__(self, selector: Any) -> None:
        super().__init__(selector)
        internals: Any = self
        self._eager = all(hasattr(self, name) for name in _INTERNALS)
        self._queue: Any = getattr(self, "_ready", None) if self._eager else None
        # The first step of a task being created by `start`, kept rather than queued.
        self._capturing = False
        self._step: tuple[Callable[..., object], Context | None] | None = None
        if self._eager:
            self._hooks = (internals._asyncgen_firstiter_hook, internals._asyncgen_finalizer_hook)
            # PERF(wsgi sync JSON): every future and task made asks its loop `get_debug()`; a C
            # callable reading the same flag answers without a Python frame.
            internals.get_debug = functools.partial(getattr, self, "_debug")

    def call_soon(  # type: ignore[override]  # returns None for the step it keeps (see below)
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> Any:
        """Schedule `callback` as the base loop does (and keep the first step of a task `start` makes)."""
        if self._capturing and not args:
            # PERF(wsgi sync JSON): `start` runs this step itself, at once: no handle to make and run.
            self._capturing = False
            self._step = (callback, context)
            return None  # the task drops what call_soon returns
        return super().call_soon(callback, *args, context=context)

    def start(self, coro: Awaitable[Any], out: Sized) -> asyncio.Future[Any]:
        """Create the task of `coro` and run it at once, as far as it goes before it waits.

        Its first step runs now, then whatever became ready, pass after pass, until the task is
        done, `out` has something, or nothing is ready (the task waits for I/O, a timer or a thread:
        `run_ready` goes no further, and the caller runs the loop the ordinary way).

        Args:
            coro: the awaitable to run (a request's ASGI app call): a coroutine starts eagerly.
            out: where the task puts what the caller waits for (its response messages).

        Returns:
            The task, done or not.

        Raises:
            RuntimeError: if the loop is closed or already running.
        """
        debug: bool = getattr(self, "_debug", True)
        if not self._eager or debug or not (type(coro) is CoroutineType or asyncio.iscoroutine(coro)):
            future = asyncio.ensure_future(coro, loop=self)
            self.run_ready(future, out)
            return future
        # `_enter`, inline (PERF(wsgi sync JSON): every request comes through here).
        internals: Any = self
        if internals._closed:
            raise RuntimeError("Event loop is closed")
        if internals._thread_id is not None or events._get_running_loop() is not None:
            raise RuntimeError("This event loop is already running")
        internals._thread_id = threading.get_ident()
        hooks = self._hooks
        previous: Any = sys.get_asyncgen_hooks()
        if previous.firstiter is hooks[0] and previous.finalizer is hooks[1]:
            previous = None  # ours already: nothing to restore
        else:
            sys.set_asyncgen_hooks(*hooks)
        events._set_running_loop(self)
        try:
            if sys.version_info >= (3, 12):
                # The task runs its first step itself; one done at once is never registered as pending.
                task = asyncio.Task(coro, loop=self, eager_start=True)
            else:
                self._capturing = True
                try:
                    task = asyncio.Task(coro, loop=self)
                finally:
                    self._capturing = False
                step, self._step = self._step, None
                if step is not None:
                    callback, context = step
                    if context is None:
                        callback()
                    else:
                        context.run(callback)  # what the task's handle would run (its steps never raise)
            if not out and not task.done():
                self._run_passes(task, out)
        finally:
            # `_leave`, inline.
            internals._thread_id = None
            events._set_running_loop(None)
            if previous is not None:
                sys.set_asyncgen_hooks(*previous)
        if internals._scheduled:
            self._drop_cancelled_timers()
        return task

    def run_ready(self, task: asyncio.Future[Any], out: Sized) -> bool:
        """Run the ready callbacks until `task` is done, `out` has something, or nothing is ready.

        The loop counts as running in this thread meanwhile (``asyncio.get_running_loop()``,
        ``loop.is_running()``, async generator hooks), as within ``run_forever``.

        Args:
            task: the task the caller waits for.
            out: where the task puts what the caller waits for (its response messages).

        Returns:
            Whether `task` is done or `out` has something: False when the rest needs the loop proper
            (I/O, a timer, another thread).

        Raises:
            RuntimeError: if the loop is closed or already running.
        """
        if out or task.done():
            return True
        if not self._queue or self.get_debug():
            return False
        previous = self._enter()
        try:
            self._run_passes(task, out)
        finally:
            self._leave(previous)
        return bool(out) or task.done()

    def _enter(self) -> Any:
        # As run_forever enters: the loop runs in this thread, with its async generator hooks.
        internals: Any = self
        if internals._closed:
            raise RuntimeError("Event loop is closed")
        if internals._thread_id is not None or events._get_running_loop() is not None:
            raise RuntimeError("This event loop is already running")
        internals._thread_id = threading.get_ident()
        previous: Any = sys.get_asyncgen_hooks()
        if previous.firstiter is not self._hooks[0] or previous.finalizer is not self._hooks[1]:
            sys.set_asyncgen_hooks(*self._hooks)
        else:
            previous = None  # ours already: nothing to restore
        events._set_running_loop(self)
        return previous

    def _leave(self, previous: Any) -> None:
        internals: Any = self
        internals._thread_id = None
        events._set_running_loop(None)
        if previous is not None:
            sys.set_asyncgen_hooks(*previous)
        if internals._scheduled:
            self._drop_cancelled_timers()

    def _run_passes(self, task: asyncio.Future[Any], out: Sized) -> None:
        ready = self._queue
        for _ in range(_EAGER_PASSES):
            # As `_run_once` runs them: those ready now; what they schedule waits for the next pass.
            for _ in range(len(ready)):
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
            if out or not ready or task.done():
                return

    def _drop_cancelled_timers(self) -> None:
        # As `_run_once` does before polling: a timer cancelled by every request (a timeout
        # middleware's) must not pile up in a loop that rarely runs the ordinary way.
        internals: Any = self
        scheduled: list[Any] = internals._scheduled
        cancelled: int = internals._timer_cancelled_count
        if len(scheduled) > _MIN_SCHEDULED and cancelled / len(scheduled) > _MIN_CANCELLED_FRACTION:
            kept = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    kept.append(handle)
            heapq.heapify(kept)
            internals._scheduled = kept
            internals._timer_cancelled_count = 0
            return
        while scheduled and scheduled[0]._cancelled:
            internals._timer_cancelled_count -= 1
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
