from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lanner.concurrency import (
    ThreadPool,
    cleanup_pool,
    configure_cleanup_pool,
    configure_default_pool,
    configure_dependency_pool,
    configure_file_pool,
    default_pool,
    dependency_pool,
    file_pool,
    iterate_in_threadpool,
    run_cleanup,
    run_file_io,
    run_in_threadpool,
)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")

WAIT = 10  # generous safety net so a broken implementation fails instead of hanging


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    pool = ThreadPool(max_workers=2)
    yield pool
    pool.shutdown()


@pytest.mark.anyio
async def test_run_returns_result_and_passes_arguments(pool: ThreadPool) -> None:
    def add(a: int, b: int, *, scale: int = 1) -> int:
        return (a + b) * scale

    assert await pool.run(add, 1, 2) == 3
    assert await pool.run(add, 1, 2, scale=10) == 30


@pytest.mark.anyio
async def test_run_happens_in_a_named_worker_thread(pool: ThreadPool) -> None:
    name = await pool.run(lambda: threading.current_thread().name)
    assert name.startswith("lanner")
    assert name != threading.current_thread().name


@pytest.mark.anyio
async def test_blocking_call_does_not_block_the_event_loop(pool: ThreadPool) -> None:
    released = threading.Event()

    async def release_soon() -> None:
        await asyncio.sleep(0)
        released.set()

    releaser = asyncio.create_task(release_soon())
    # If the loop were blocked, the releaser could never run and wait() would return False.
    assert await pool.run(released.wait, WAIT) is True
    await releaser


@pytest.mark.anyio
async def test_two_blocking_calls_run_concurrently(pool: ThreadPool) -> None:
    barrier = threading.Barrier(2, timeout=WAIT)

    def meet() -> int:
        # Only returns if the other call is waiting at the barrier at the same time.
        return barrier.wait()

    results = await asyncio.gather(pool.run(meet), pool.run(meet))
    assert sorted(results) == [0, 1]


@pytest.mark.anyio
async def test_context_variables_are_visible_in_the_worker(pool: ThreadPool) -> None:
    token = request_id.set("abc")
    try:
        assert await pool.run(request_id.get) == "abc"
    finally:
        request_id.reset(token)
    assert await pool.run(request_id.get) == "unset"


@pytest.mark.anyio
async def test_worker_changes_to_context_do_not_leak_back(pool: ThreadPool) -> None:
    await pool.run(request_id.set, "from-thread")
    assert request_id.get() == "unset"


@pytest.mark.anyio
async def test_exceptions_propagate(pool: ThreadPool) -> None:
    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await pool.run(fail)


@pytest.mark.anyio
async def test_the_bound_is_respected(pool: ThreadPool) -> None:
    lock = threading.Lock()
    gate = threading.Event()
    active = 0
    peak = 0
    started = 0

    def work() -> None:
        nonlocal active, peak, started
        with lock:
            active += 1
            started += 1
            peak = max(peak, active)
        gate.wait(WAIT)
        with lock:
            active -= 1

    tasks = [asyncio.ensure_future(pool.run(work)) for _ in range(6)]
    while started < 2:
        await asyncio.sleep(0.01)
    # Give a broken (unbounded) pool every chance to start more calls before releasing them.
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert started == 2
    gate.set()
    await asyncio.gather(*tasks)
    assert started == 6
    assert peak == 2


@pytest.mark.anyio
async def test_iterate_yields_every_item_pulled_in_workers(pool: ThreadPool) -> None:
    threads: list[str] = []

    def numbers() -> Iterator[int]:
        for i in range(3):
            threads.append(threading.current_thread().name)
            yield i

    assert [i async for i in pool.iterate(numbers())] == [0, 1, 2]
    assert all(name.startswith("lanner") for name in threads)


@pytest.mark.anyio
async def test_iterate_accepts_plain_iterables_and_empty_ones(pool: ThreadPool) -> None:
    assert [i async for i in pool.iterate([1, 2])] == [1, 2]
    empty: list[int] = []
    assert [i async for i in pool.iterate(empty)] == []


@pytest.mark.anyio
async def test_iterate_propagates_exceptions_after_earlier_items(pool: ThreadPool) -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad item")

    seen: list[int] = []
    with pytest.raises(ValueError, match="bad item"):
        async for i in pool.iterate(broken()):
            seen.append(i)
    assert seen == [1]


@pytest.mark.anyio
async def test_iterate_survives_a_stopiteration_raised_by_the_source(pool: ThreadPool) -> None:
    class Countdown:
        def __init__(self) -> None:
            self.n = 2

        def __iter__(self) -> Countdown:
            return self

        def __next__(self) -> int:
            if self.n == 0:
                raise StopIteration
            self.n -= 1
            return self.n

    assert [i async for i in pool.iterate(Countdown())] == [1, 0]


@pytest.mark.anyio
async def test_closing_iterate_early_closes_the_source_generator(pool: ThreadPool) -> None:
    closed_in: list[str] = []

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed_in.append(threading.current_thread().name)

    iterator = pool.iterate(endless())
    assert await anext(iterator) == 1
    await iterator.aclose()
    assert len(closed_in) == 1
    assert closed_in[0].startswith("lanner")


@pytest.mark.anyio
async def test_resize_and_shutdown_keep_the_pool_usable(pool: ThreadPool) -> None:
    assert await pool.run(lambda: 1) == 1
    pool.resize(3)
    assert pool.max_workers == 3
    barrier = threading.Barrier(3, timeout=WAIT)
    assert sorted(await asyncio.gather(*(pool.run(barrier.wait) for _ in range(3)))) == [0, 1, 2]
    pool.shutdown()
    assert await pool.run(lambda: 2) == 2


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThreadPool(0)
    pool = ThreadPool(1)
    with pytest.raises(ValueError, match="at least 1"):
        pool.resize(-1)
    assert pool.max_workers == 1
    with pytest.raises(ValueError, match="at least 1"):
        configure_default_pool(0)


@pytest.mark.anyio
async def test_module_helpers_use_the_default_pool() -> None:
    pool = default_pool()
    assert default_pool() is pool
    assert await run_in_threadpool(lambda x: x * 2, 21) == 42
    assert [i async for i in iterate_in_threadpool(iter("ab"))] == ["a", "b"]

    configure_default_pool(3)
    try:
        assert default_pool() is pool
        assert pool.max_workers == 3
        barrier = threading.Barrier(3, timeout=WAIT)
        results = await asyncio.gather(*(run_in_threadpool(barrier.wait) for _ in range(3)))
        assert sorted(results) == [0, 1, 2]
    finally:
        configure_default_pool(40)


@pytest.mark.anyio
async def test_closing_iterate_early_over_a_plain_iterator(pool: ThreadPool) -> None:
    source = iter([1, 2, 3])  # no close() to call
    iterator = pool.iterate(source)
    assert await anext(iterator) == 1
    await iterator.aclose()
    assert next(source) == 2  # left where it was


def test_shutting_down_an_unused_pool_is_a_no_op() -> None:
    pool = ThreadPool(1)
    pool.shutdown()
    pool.shutdown(wait=False)
    assert pool.submit(lambda: 3).result(WAIT) == 3
    pool.shutdown()


class RendezvousLock:
    """A lock that lets nobody in until two threads are waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(2, timeout=WAIT)

    def __enter__(self) -> None:
        self._barrier.wait()
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


def test_two_first_calls_racing_share_one_executor() -> None:
    pool = ThreadPool(2)
    # Both callers find no executor, then queue for the lock: the second must reuse the first's.
    pool._lock = RendezvousLock()  # type: ignore[assignment]
    executors: list[object] = []
    callers = [threading.Thread(target=lambda: executors.append(pool._get_executor())) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(WAIT)
    pool._lock = threading.Lock()  # type: ignore[assignment]
    assert len(executors) == 2
    assert executors[0] is executors[1] is pool._executor
    assert pool.submit(lambda: 4).result(WAIT) == 4
    pool.shutdown()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("configure", "get_pool", "default"),
    [
        (configure_dependency_pool, dependency_pool, 40),
        (configure_file_pool, file_pool, 4),
        (configure_cleanup_pool, cleanup_pool, 16),
    ],
)
async def test_each_special_pool_can_be_resized(configure: Any, get_pool: Any, default: int) -> None:
    pool = get_pool()
    assert pool.max_workers == default
    configure(2)
    try:
        assert get_pool() is pool
        assert pool.max_workers == 2
        barrier = threading.Barrier(2, timeout=WAIT)
        assert sorted(await asyncio.gather(*(pool.run(barrier.wait) for _ in range(2)))) == [0, 1]
    finally:
        configure(default)
    assert pool.max_workers == default
    with pytest.raises(ValueError, match="at least 1"):
        configure(0)


@pytest.mark.anyio
async def test_file_io_and_cleanups_run_in_their_own_pools() -> None:
    def where() -> str:
        return threading.current_thread().name

    assert (await run_file_io(where)).startswith("lanner-file_")
    assert (await run_cleanup(where)).startswith("lanner-cleanup_")
    with pytest.raises(OSError):
        await run_file_io(open, "/nonexistent/lanner/file")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_sync_calls_on_threads_of_its_own() -> None:
    import asyncio

    from lanner.concurrency import ThreadPool

    pool = ThreadPool(2, name="forked")
    assert asyncio.run(pool.run(lambda: 1)) == 1  # the parent's threads exist now
    pid = os.fork()
    if pid == 0:  # the child: exits 0 only when its call ran
        try:
            code = 0 if asyncio.run(asyncio.wait_for(pool.run(lambda: 2), 5)) == 2 else 1
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
