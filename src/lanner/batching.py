"""Micro-batching for model serving: ``@batched`` gathers concurrent one-item calls into batches.

Each event loop gets its own queue and worker task, started by the first call made in that loop and
ended as soon as the queue is empty, so a batcher works unchanged across test clients, servers and
``asyncio.run`` calls. The app's lifespan calls `start_batchers` at startup and `drain_batchers` at
shutdown: queued items run at once and their callers get their answers before the loop closes.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import inspect
import logging
import math
import threading
import time
import types
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence, Set
from typing import Any, Generic, Protocol, Self, TypeVar, overload

from lanner.concurrency import run_in_threadpool
from lanner.exceptions import HTTPException

__all__ = [
    "BatchQueueFull",
    "BatchStats",
    "Batched",
    "BatcherStopped",
    "batched",
    "drain_batchers",
    "start_batchers",
]

logger = logging.getLogger("lanner.batching")

T = TypeVar("T")
R = TypeVar("R")

#: How many recent batches `BatchStats` keeps sizes and timings for.
STATS_WINDOW = 1024

# What a batch function may return: one result (or an Exception for that item) per item.
_Results = Sequence[R | Exception]
_Output = Awaitable[_Results[R]] | _Results[R]


class BatchQueueFull(HTTPException):
    """The batcher's queue holds ``max_queue`` items already; answered 503 with ``Retry-After``.

    `name` (the function's, never sent to clients) and `retry_after` (whole seconds, at least 1)
    are kept as ``batcher`` and ``retry_after``.
    """

    def __init__(self, name: str, retry_after: int) -> None:
        super().__init__(503, "The server is busy; retry later.", {"Retry-After": str(retry_after)})
        self.batcher = name
        self.retry_after = retry_after


class BatcherStopped(HTTPException):
    """The batcher was stopped (shutdown, drain timeout) before it answered this item; answered 503."""

    def __init__(self) -> None:
        super().__init__(503, "The server is shutting down; retry later.", {"Retry-After": "1"})


class BatchStats:
    """Counters and recent figures of one batcher, summed over the event loops it serves.

    Attributes:
        batches: batches run (failed ones included).
        items: items handed to the function.
        failed_batches: batches whose call raised or returned a wrong number of results.
        rejected: calls refused because the queue was full.
        dropped: calls cancelled while queued, removed before their batch ran.
        largest_batch: the most items run in one batch.
    """

    def __init__(self, depth: Callable[[], int], window: int = STATS_WINDOW) -> None:
        self._depth = depth
        self.batches = self.items = self.failed_batches = self.rejected = self.dropped = 0
        self.largest_batch = 0
        self._sizes: deque[float] = deque(maxlen=window)
        self._waits_ms: deque[float] = deque(maxlen=window)
        self._run_ms: deque[float] = deque(maxlen=window)
        self._recent_ms = 0.0  # moving average of the run time, for Retry-After

    @property
    def queue_depth(self) -> int:
        """Items waiting for a batch now."""
        return self._depth()

    def record(self, size: int, wait_ms: float, run_ms: float, failed: bool) -> None:
        """Count one batch of `size` items whose oldest item waited `wait_ms` and that ran `run_ms`."""
        self.batches += 1
        self.items += size
        self.failed_batches += failed
        self.largest_batch = max(self.largest_batch, size)
        self._sizes.append(size)
        self._waits_ms.append(wait_ms)
        self._run_ms.append(run_ms)
        self._recent_ms = run_ms if self.batches == 1 else 0.8 * self._recent_ms + 0.2 * run_ms

    def retry_after(self, depth: int, max_batch_size: int) -> int:
        """Seconds until a queue of `depth` items has likely been worked off (at least 1)."""
        return max(1, math.ceil(self._recent_ms / 1000 * depth / max_batch_size))

    def snapshot(self) -> dict[str, Any]:
        """Return the figures as plain data, for a metrics exporter or a status page.

        ``batch_size``, ``queue_wait_ms`` (how long the oldest item of each batch waited) and
        ``run_ms`` (how long the function took) each give ``mean``, ``p50``, ``p95`` and ``max``
        over the last `STATS_WINDOW` batches; zeros before the first batch.
        """
        return {
            "batches": self.batches,
            "items": self.items,
            "failed_batches": self.failed_batches,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "largest_batch": self.largest_batch,
            "queue_depth": self.queue_depth,
            "batch_size": _summary(self._sizes),
            "queue_wait_ms": _summary(self._waits_ms),
            "run_ms": _summary(self._run_ms),
        }


def _summary(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    count = len(ordered)
    return {
        "mean": sum(ordered) / count,
        "p50": ordered[math.ceil(0.50 * count) - 1],  # nearest rank
        "p95": ordered[math.ceil(0.95 * count) - 1],
        "max": ordered[-1],
    }


class _Entry(Generic[T, R]):
    """One queued call: its item, the future its caller awaits, and when it was queued."""

    __slots__ = ("enqueued", "future", "item", "taken")

    def __init__(self, item: T, future: asyncio.Future[R], enqueued: float) -> None:
        self.item = item
        self.future = future
        self.enqueued = enqueued
        self.taken = False


# Per event loop, the queues whose worker task is running: `drain_batchers` waits for these. Holding
# the tasks here also keeps a waiting worker from being garbage-collected.
_running: dict[asyncio.AbstractEventLoop, dict[asyncio.Task[None], _LoopQueue[Any, Any]]] = {}
# Loops inside `drain_batchers`: their workers run what is queued without waiting for more.
_draining: set[asyncio.AbstractEventLoop] = set()
_batchers: weakref.WeakSet[Batched[Any, Any]] = weakref.WeakSet()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():  # the caller was cancelled
        return
    if isinstance(exc, StopIteration):  # a Future refuses StopIteration
        stop, exc = exc, RuntimeError(f"the batch function gave StopIteration: {exc!r}")
        exc.__cause__ = stop
    future.set_exception(exc)


def _own_copy(exc: Exception) -> Exception:
    """A copy of a whole batch's exception for one of its callers.

    Each caller's request adds its own frames, notes and context to what it raises; one shared
    object would carry every caller's into the others' error reports. An exception that cannot
    be copied is shared.
    """
    try:
        own = copy.copy(exc)
    except Exception:
        return exc
    own.__cause__, own.__context__ = exc.__cause__, exc.__context__
    own.__suppress_context__ = exc.__suppress_context__
    own.__traceback__ = exc.__traceback__
    if hasattr(exc, "__notes__"):
        own.__notes__ = list(exc.__notes__)
    return own


def _check_results(name: str, results: Any, count: int) -> list[Any]:
    # Any sized iterable will do (a list, a tuple, a NumPy array), but not a str or a dict.
    if not isinstance(results, Collection) or isinstance(results, str | bytes | bytearray | Mapping | Set):
        raise TypeError(
            f"batched function {name} must return a list with one result per item, "
            f"not {type(results).__name__}"
        )
    if len(results) != count:
        raise ValueError(f"batched function {name} returned {len(results)} results for {count} items")
    return list(results)


def _check_options(max_batch_size: int, max_wait_ms: float, max_queue: int) -> None:
    if max_batch_size < 1 or max_queue < 1:
        raise ValueError(f"max_batch_size and max_queue must be at least 1: {max_batch_size}, {max_queue}")
    if not max_wait_ms >= 0:  # refuses NaN too
        raise ValueError(f"max_wait_ms must be zero or more, got {max_wait_ms}")


class _LoopQueue(Generic[T, R]):
    """A batcher's queue and worker task in one event loop."""

    __slots__ = ("entries", "finished", "loop", "owner", "task", "waiter")

    def __init__(self, owner: Batched[T, R], loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.entries: deque[_Entry[T, R]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None  # set while the worker waits for more items
        #: When the last batch ended: items queued while it ran may wait for company from then.
        self.finished = 0.0

    def start(self) -> None:
        # An empty context: the worker serves many requests, and must not carry the first caller's
        # context variables (a request id, say) into everyone's batches.
        task = self.loop.create_task(
            self._work(), name=f"lanner-batcher:{self.owner.name}", context=contextvars.Context()
        )
        self.task = task
        _running.setdefault(self.loop, {})[task] = self
        task.add_done_callback(self._finished)

    def wake(self) -> None:
        if self.waiter is not None:
            _wake(self.waiter)

    def fail_queued(self, exc: BaseException) -> None:
        while self.entries:
            entry = self.entries.popleft()
            entry.taken = True
            _fail(entry.future, exc)

    def _finished(self, task: asyncio.Task[None]) -> None:
        workers = _running[self.loop]
        del workers[task]
        if not workers:
            del _running[self.loop]
        if self.task is task:
            # The worker did not end by emptying its queue: it was cancelled (a drain timeout, the
            # loop closing) or failed, so nobody would answer the callers still queued.
            self.task = None
            self.fail_queued(BatcherStopped())
            if not task.cancelled() and task.exception() is not None:
                logger.error("Batcher %s failed", self.owner.name, exc_info=task.exception())

    async def _work(self) -> None:
        entries = self.entries
        while entries:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)
                self.finished = self.loop.time()
        self.task = None  # no await since the check above: a new call starts a new worker

    async def _gather(self) -> None:
        """Wait until a full batch is queued or the oldest item has waited ``max_wait_ms``."""
        owner = self.owner
        if len(self.entries) >= owner.max_batch_size or self.loop in _draining:
            return
        # Items that queued while the last batch ran start their wait when it ends: under a steady
        # load the callers it answered come back within moments, and join them rather than
        # leaving them for the batch after (which doubled the p99 of the model benchmark).
        start = max(self.entries[0].enqueued, self.finished)
        delay = start + owner.max_wait_ms / 1000 - self.loop.time()
        if delay <= 0:
            return
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(delay, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def _take(self) -> list[_Entry[T, R]]:
        batch: list[_Entry[T, R]] = []
        entries, size = self.entries, self.owner.max_batch_size
        while entries and len(batch) < size:
            entry = entries.popleft()
            entry.taken = True
            if entry.future.done():  # cancelled, its caller not resumed yet to remove it
                self.owner.stats.dropped += 1
            else:
                batch.append(entry)
        return batch

    async def _run(self, batch: list[_Entry[T, R]]) -> None:
        owner = self.owner
        wait_ms = (self.loop.time() - batch[0].enqueued) * 1000
        started = time.perf_counter()  # finer than uvloop's millisecond loop.time()
        failed = False
        try:
            results = _check_results(owner.name, await owner.batch([e.item for e in batch]), len(batch))
        except Exception as exc:
            failed = True
            for entry in batch:
                _fail(entry.future, _own_copy(exc))
        except BaseException:
            # Cancelled (the batcher is being stopped) or worse: its callers must not wait for ever.
            stopped = BatcherStopped()
            for entry in batch:
                _fail(entry.future, stopped)
            raise
        else:
            for entry, result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    _fail(entry.future, result)
                elif not entry.future.done():
                    entry.future.set_result(result)
        owner.stats.record(len(batch), wait_ms, (time.perf_counter() - started) * 1000, failed)


class Batched(Generic[T, R]):
    """A batch function called one item at a time; built by `batched`.

    ``await f(item)`` queues the item and returns its result once its batch has run; the function
    itself may return an ``Exception`` instance in an item's slot to fail only that caller. Used
    on a method, each instance gets a batcher (queue and stats) of its own, with ``self`` bound.

    Args:
        func: ``f(items: list[T]) -> list[R]``, ``async def`` or plain ``def`` (run in the
            thread pool).
        max_batch_size: the most items handed to one call.
        max_wait_ms: how long the oldest queued item may wait for a batch to fill.
        max_queue: the most items waiting in one event loop; more calls get `BatchQueueFull`.

    Raises:
        TypeError: if `func` is not callable.
        ValueError: if a size is less than 1 or the wait is negative.
    """

    def __init__(
        self, func: Callable[..., Any], *, max_batch_size: int, max_wait_ms: float, max_queue: int
    ) -> None:
        if not callable(func):
            raise TypeError(f"@batched needs a function, not {func!r}")
        _check_options(max_batch_size, max_wait_ms, max_queue)
        functools.update_wrapper(self, func)
        self._func = func
        self._is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__  # a callable object with an async __call__
        )
        self.name: str = getattr(func, "__qualname__", None) or repr(func)
        self.max_batch_size = max_batch_size
        self.max_wait_ms = float(max_wait_ms)
        self.max_queue = max_queue
        self.stats = BatchStats(self._depth)
        self._attribute: str | None = None
        self._queues: dict[asyncio.AbstractEventLoop, _LoopQueue[T, R]] = {}
        self._lock = threading.Lock()
        _batchers.add(self)

    def __repr__(self) -> str:
        return f"<batched {self.name} max_batch_size={self.max_batch_size} max_wait_ms={self.max_wait_ms:g}>"

    async def __call__(self, item: T) -> R:
        """Queue `item` and return its result once its batch has run.

        Raises:
            BatchQueueFull: ``max_queue`` items are waiting already (503 with ``Retry-After``).
            BatcherStopped: the batcher was stopped before the item ran.
            Exception: what the function raised for the whole batch or returned for this item;
                ``TypeError``/``ValueError`` when it did not return one result per item.
        """
        queue = self._queues.get(asyncio.get_running_loop()) or self._new_queue()
        entries = queue.entries
        if len(entries) >= self.max_queue:
            self.stats.rejected += 1
            raise BatchQueueFull(self.name, self.stats.retry_after(len(entries), self.max_batch_size))
        future: asyncio.Future[R] = queue.loop.create_future()
        entry = _Entry(item, future, queue.loop.time())
        entries.append(entry)
        if queue.task is None:
            queue.start()
        elif len(entries) >= self.max_batch_size:
            queue.wake()
        try:
            return await entry.future
        except asyncio.CancelledError:
            if not entry.taken:  # still queued: it must not reach the function
                entries.remove(entry)
                self.stats.dropped += 1
                if not entries:
                    queue.wake()  # nothing left to wait for: the worker ends now
            raise

    async def batch(self, items: list[T]) -> list[R]:
        """Call the function directly with `items`, bypassing the queue.

        A plain ``def`` runs in the thread pool, so this is awaitable either way. The function's own
        return value comes back as is, ``Exception`` slots included.

        Raises:
            Exception: whatever the function raises.
        """
        if self._is_async:
            result: list[R] = await self._func(items)
            return result
        result = await run_in_threadpool(self._func, items)
        if inspect.isawaitable(result):  # a plain def handing back a coroutine (a lambda)
            result = await result
        return result

    def __set_name__(self, owner: type, name: str) -> None:
        self._attribute = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> Batched[T, R]: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> Batched[T, R]:
        """On an instance, the batcher of that instance (created once, kept in its ``__dict__``).

        Raises:
            TypeError: the instance has no ``__dict__`` to keep its batcher in.
        """
        if instance is None:
            return self
        try:
            namespace = vars(instance)
        except TypeError:
            raise TypeError(
                f"@batched method {self.name} needs instances with a __dict__ to keep their queue"
            ) from None
        bound: Batched[T, R] = Batched(
            types.MethodType(self._func, instance),
            max_batch_size=self.max_batch_size,
            max_wait_ms=self.max_wait_ms,
            max_queue=self.max_queue,
        )
        # As with functools.cached_property: the instance attribute hides this descriptor from now on.
        namespace[self._attribute or self.name.rpartition(".")[2]] = bound
        return bound

    def _new_queue(self) -> _LoopQueue[T, R]:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._forget_closed_loops()
            queue = self._queues[loop] = _LoopQueue(self, loop)
        return queue

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._queues if loop.is_closed()]:
            del self._queues[loop]

    def _depth(self) -> int:
        return sum(len(queue.entries) for queue in list(self._queues.values()))


class _Decorator(Protocol):
    @overload
    def __call__(self, func: Callable[[list[T]], _Output[R]], /) -> Batched[T, R]: ...
    @overload
    def __call__(self, func: Callable[[Any, list[T]], _Output[R]], /) -> Batched[T, R]: ...


@overload
def batched(func: Callable[[list[T]], _Output[R]], /) -> Batched[T, R]: ...
@overload
def batched(func: Callable[[Any, list[T]], _Output[R]], /) -> Batched[T, R]: ...
@overload
def batched(
    func: None = None, /, *, max_batch_size: int = 32, max_wait_ms: float = 5.0, max_queue: int = 1024
) -> _Decorator: ...
def batched(
    func: Callable[..., Any] | None = None,
    /,
    *,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    max_queue: int = 1024,
) -> Batched[Any, Any] | _Decorator:
    """Turn ``f(items: list[T]) -> list[R]`` into a function called with one item at a time.

    Usable bare (``@batched``) or with options (``@batched(max_batch_size=16)``), on functions,
    ``async def`` or plain ``def`` (run in the thread pool), and on methods. Concurrent calls are
    gathered into batches of up to `max_batch_size` items, or whatever arrived within
    `max_wait_ms` of the oldest waiting item; each caller gets the result in its item's slot.

    Args:
        func: the batch function (given when used bare).
        max_batch_size: the most items handed to one call.
        max_wait_ms: how long the oldest queued item may wait for a batch to fill.
        max_queue: the most items waiting per event loop; beyond, calls raise `BatchQueueFull`,
            which a lanner app answers with 503 and ``Retry-After``.

    Raises:
        ValueError: if a size is less than 1 or the wait is negative.
        TypeError: if `func` is not callable.
    """
    _check_options(max_batch_size, max_wait_ms, max_queue)  # now, not when decorating

    def decorate(f: Callable[..., Any]) -> Batched[Any, Any]:
        return Batched(f, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue)

    if func is None:
        return decorate
    return decorate(func)


async def start_batchers() -> None:
    """Get the batchers ready to serve in the running event loop (the app calls it at startup).

    Workers start on the first call anyway; this forgets the queues kept for event loops that have
    closed since (earlier test clients, a restarted server).
    """
    for batcher in list(_batchers):
        with batcher._lock:
            batcher._forget_closed_loops()


async def drain_batchers(timeout: float | None = None) -> None:
    """Run every item queued in the running event loop, then stop the worker tasks.

    The app calls it at shutdown. Queued items run at once, without waiting for their batch to
    fill, and their callers get their answers. Calls made while draining are accepted and run
    too; after the drain the batchers stay usable (the next call starts a new worker).

    Args:
        timeout: seconds to wait at most (None: no limit). When it expires, the workers are
            cancelled and the callers not answered yet get `BatcherStopped`; a warning is logged.
    """
    loop = asyncio.get_running_loop()
    _draining.add(loop)
    try:
        async with asyncio.timeout(timeout):
            while workers := _running.get(loop):
                for queue in list(workers.values()):
                    queue.wake()
                await asyncio.wait(list(workers))
    except TimeoutError:
        left = sum(len(queue.entries) for queue in _running.get(loop, {}).values())
        logger.warning("Batchers not drained within %g seconds; %d queued items were dropped", timeout, left)
    finally:
        _draining.discard(loop)
        tasks = list(_running.get(loop, ()))
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
