"""Bounded thread pools that let async code call blocking functions and iterators.

lanner keeps three pools so that one kind of blocking work can never starve another:

- the default pool (40 threads) runs sync handlers, dependencies, hooks and sync iterators;
- the dependency pool (40 threads) runs the setup of sync generator dependencies (the code before
  ``yield``), which often blocks waiting for a resource, so that waiting never takes the threads
  the requests holding that resource need to finish;
- the file pool (4 threads) stats, opens and reads files for `FileResponse`, so files (the docs
  assets included) are served while every handler thread is busy;
- the cleanup pool (16 threads) runs the code after ``yield`` in sync generator dependencies, so a
  dependency can always give back what it holds (a connection from a small pool, say) even when
  every default thread is blocked waiting for that very resource.

An app with sync hooks lends each request one thread of its own (`RequestThreads`) for its sync
hooks, handler and dependencies, as Flask does.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = [
    "RequestThreads",
    "ThreadPool",
    "cleanup_pool",
    "configure_cleanup_pool",
    "configure_default_pool",
    "configure_dependency_pool",
    "configure_file_pool",
    "default_pool",
    "dependency_pool",
    "file_pool",
    "iterate_in_threadpool",
    "request_threads",
    "run_cleanup",
    "run_file_io",
    "run_in_threadpool",
]

P = ParamSpec("P")
T = TypeVar("T")


class _Exhausted(enum.Enum):
    # StopIteration cannot travel through a Future, so the worker returns this marker instead.
    TOKEN = enum.auto()


def _next_item(iterator: Iterator[T]) -> T | _Exhausted:
    return next(iterator, _Exhausted.TOKEN)


def _check_workers(max_workers: int) -> None:
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")


#: Every pool, so a forked child (a gunicorn worker, a multiprocessing child) starts its own threads.
_POOLS: weakref.WeakSet[ThreadPool] = weakref.WeakSet()


class ThreadPool:
    """A thread pool with a fixed number of workers for running blocking code from async code.

    The underlying executor is created on first use, so building a pool costs nothing until it runs
    something. Context variables of the calling task are visible inside the worker; changes made in
    the worker are not copied back.

    Args:
        max_workers: how many blocking calls may run at the same time.

    Raises:
        ValueError: if ``max_workers`` is less than 1.

    """

    __slots__ = ("__weakref__", "_executor", "_lock", "_max_workers", "_name")

    def __init__(self, max_workers: int = 40, name: str = "lanner") -> None:
        _check_workers(max_workers)
        self._max_workers = max_workers
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        _POOLS.add(self)

    def _forget_after_fork(self) -> None:
        # A forked child has none of the parent's threads: a fresh executor starts on first use.
        self._executor = None
        self._lock = threading.Lock()

    @property
    def max_workers(self) -> int:
        """The number of calls that may run at the same time."""
        return self._max_workers

    def _get_executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                executor = self._executor
                if executor is None:
                    executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._name)
                    self._executor = executor
        return executor

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` in a worker thread and return its result.

        Waits for a free worker when all of them are busy. If the awaiting task is cancelled, the
        call keeps running in its thread but its result is discarded.

        Raises:
            Exception: whatever ``fn`` raises.

        """
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await loop.run_in_executor(self._get_executor(), call)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` in a worker thread, with the caller's context variables.

        For code that must follow the call after its awaiting task is cancelled; `run` is simpler
        otherwise.
        """
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return self._get_executor().submit(call)

    async def iterate(self, iterator: Iterable[T]) -> AsyncGenerator[T, None]:
        """Iterate a blocking iterable asynchronously, pulling each item in a worker thread.

        If the async iterator is closed early (``aclose()``), the source's ``close()`` is called
        in a worker thread when it has one, so generators run their ``finally`` blocks.

        Raises:
            Exception: whatever the source raises while producing an item.

        """
        source = iter(iterator)
        while True:
            item = await self.run(_next_item, source)
            if item is _Exhausted.TOKEN:
                return
            try:
                yield item
            except GeneratorExit:
                close = getattr(source, "close", None)
                if close is not None:
                    await self.run(close)
                raise

    def resize(self, max_workers: int) -> None:
        """Change the number of workers.

        Calls already submitted finish on the previous executor, so for a short while the total
        number of busy threads may exceed the new bound.

        Raises:
            ValueError: if ``max_workers`` is less than 1.

        """
        _check_workers(max_workers)
        with self._lock:
            if max_workers == self._max_workers:
                return
            old, self._executor = self._executor, None
            self._max_workers = max_workers
        if old is not None:
            old.shutdown(wait=False)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the worker threads, waiting for running calls when ``wait`` is true.

        The pool stays usable: the next call starts a fresh executor.
        """
        with self._lock:
            old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=wait)


_default_pool = ThreadPool(40, "lanner")
_dependency_pool = ThreadPool(40, "lanner-dependency")
_file_pool = ThreadPool(4, "lanner-file")
_cleanup_pool = ThreadPool(16, "lanner-cleanup")


def default_pool() -> ThreadPool:
    """Return the process-wide pool used by `run_in_threadpool` and `iterate_in_threadpool`."""
    return _default_pool


def dependency_pool() -> ThreadPool:
    """Return the process-wide pool that enters sync generator dependencies (40 threads)."""
    return _dependency_pool


def file_pool() -> ThreadPool:
    """Return the process-wide pool that `FileResponse` reads files in (4 threads)."""
    return _file_pool


def cleanup_pool() -> ThreadPool:
    """Return the process-wide pool that runs sync dependency cleanups (16 threads)."""
    return _cleanup_pool


def configure_dependency_pool(max_workers: int) -> None:
    """Set the number of threads entering sync generator dependencies.

    Raises:
        ValueError: if ``max_workers`` is less than 1.

    """
    _dependency_pool.resize(max_workers)


def configure_file_pool(max_workers: int) -> None:
    """Set the number of threads reading files.

    Raises:
        ValueError: if ``max_workers`` is less than 1.

    """
    _file_pool.resize(max_workers)


def configure_cleanup_pool(max_workers: int) -> None:
    """Set the number of threads running sync dependency cleanups.

    Raises:
        ValueError: if ``max_workers`` is less than 1.

    """
    _cleanup_pool.resize(max_workers)


async def run_file_io(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the blocking file operation ``fn(*args, **kwargs)`` in the file pool.

    Raises:
        Exception: whatever ``fn`` raises.

    """
    return await _file_pool.run(fn, *args, **kwargs)


async def run_cleanup(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the blocking cleanup ``fn(*args, **kwargs)`` in the cleanup pool.

    Raises:
        Exception: whatever ``fn`` raises.

    """
    return await _cleanup_pool.run(fn, *args, **kwargs)


def configure_default_pool(max_workers: int) -> None:
    """Set the number of workers of the process-wide pool.

    Raises:
        ValueError: if ``max_workers`` is less than 1.

    """
    _default_pool.resize(max_workers)


async def run_in_threadpool(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn(*args, **kwargs)`` in the default pool and return its result.

    Inside `RequestThreads.pinned`, the call runs in the thread lent to the request instead.

    Raises:
        Exception: whatever ``fn`` raises.

    """
    lane = _request_thread.get()
    if lane is not None:
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(lane, call)
    return await _default_pool.run(fn, *args, **kwargs)


#: The one-thread executor lent to the request being served, when its app pins requests to a thread.
_request_thread: contextvars.ContextVar[ThreadPoolExecutor | None] = contextvars.ContextVar(
    "lanner.request_thread", default=None
)


class RequestThreads:
    """One thread per request for its sync code, as Flask runs a request: hooks, handler, teardown.

    A sqlite3 connection (or any object tied to the thread that made it) opened in a sync
    ``before_request`` hook is then usable in the handler and closed in the teardown hook. Apps
    with sync hooks use it; the others let each sync call take any thread of the default pool.
    At most as many requests as the default pool has threads run sync code at once; the others
    wait for a thread.
    """

    def __init__(self) -> None:
        self._idle: list[ThreadPoolExecutor] = []
        self._made = 0
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def pinned(self, serve: Callable[[], Awaitable[None]]) -> None:
        """Await ``serve()`` with every `run_in_threadpool` call in it sent to one thread."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(_default_pool.max_workers), loop
        slots = self._slots
        async with slots:
            lane = self._idle.pop() if self._idle else self._new_lane()
            token = _request_thread.set(lane)
            try:
                await serve()
            finally:
                _request_thread.reset(token)
                self._idle.append(lane)

    def _new_lane(self) -> ThreadPoolExecutor:
        self._made += 1
        return ThreadPoolExecutor(1, thread_name_prefix=f"lanner-request-{self._made}")

    def _forget_after_fork(self) -> None:
        self._idle, self._slots, self._loop = [], None, None


request_threads = RequestThreads()


def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncGenerator[T, None]:
    """Iterate a blocking iterable asynchronously, pulling each item in the default pool.

    Raises:
        Exception: whatever the source raises while producing an item.

    """
    return _default_pool.iterate(iterator)


def _reset_pools_after_fork() -> None:
    for pool in list(_POOLS):
        pool._forget_after_fork()
    request_threads._forget_after_fork()


os.register_at_fork(after_in_child=_reset_pools_after_fork)
