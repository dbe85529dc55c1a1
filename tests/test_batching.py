from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import json
import logging
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from lanner import HTTPException, Lanner
from lanner.batching import (
    Batched,
    BatcherStopped,
    BatchQueueFull,
    BatchStats,
    batched,
    drain_batchers,
    start_batchers,
)
from lanner.testing import TestClient

WAIT = 10  # a safety net so that a broken batcher fails a test instead of hanging it
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "batching.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def recorder(**options: Any) -> tuple[Batched[int, int], list[list[int]]]:
    """A batched ``double`` that records every batch it is called with."""
    seen: list[list[int]] = []

    @batched(**options)
    async def double(items: list[int]) -> list[int]:
        seen.append(list(items))
        return [item * 2 for item in items]

    return double, seen


def workers() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("lanner-batcher:")]


async def within(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, WAIT)


# -- the decorator -------------------------------------------------------------------------------


def test_decorator_bare_and_with_options() -> None:
    @batched
    async def plain(items: list[int]) -> list[int]:
        """Its own docstring."""
        return items

    assert isinstance(plain, Batched)
    assert (plain.max_batch_size, plain.max_wait_ms, plain.max_queue) == (32, 5.0, 1024)
    assert plain.__name__ == "plain"
    assert plain.__doc__ == "Its own docstring."
    assert plain.__wrapped__ is not None  # type: ignore[attr-defined]
    assert "plain" in repr(plain)

    configured = batched(max_batch_size=4, max_wait_ms=0, max_queue=8)(plain.__wrapped__)  # type: ignore[attr-defined]
    assert (configured.max_batch_size, configured.max_wait_ms, configured.max_queue) == (4, 0.0, 8)


@pytest.mark.parametrize(
    "options",
    [{"max_batch_size": 0}, {"max_queue": 0}, {"max_wait_ms": -1}, {"max_wait_ms": float("nan")}],
)
def test_bad_options_are_refused_at_once(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_"):
        batched(**options)


def test_a_non_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="needs a function"):
        batched(42)  # type: ignore[call-overload]


# -- grouping ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_callers_are_batched_and_each_gets_its_own_result() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=50)
    results = await within(asyncio.gather(*(double(i) for i in range(100))))
    assert results == [i * 2 for i in range(100)]
    # All 100 are queued before the worker first runs: full batches go at once, in arrival order,
    # and the rest after max_wait_ms.
    assert [len(batch) for batch in seen] == [32, 32, 32, 4]
    assert [item for batch in seen for item in batch] == list(range(100))
    assert double.stats.batches == 4
    assert double.stats.items == 100
    assert double.stats.largest_batch == 32


@pytest.mark.anyio
async def test_a_partial_batch_waits_for_max_wait_ms_and_gathers_late_callers() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=500)
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = asyncio.create_task(double(1))
    await asyncio.sleep(0.02)
    assert not first.done()
    assert seen == []
    second = asyncio.create_task(double(2))
    assert await within(asyncio.gather(first, second)) == [2, 4]
    assert seen == [[1, 2]]
    assert loop.time() - start >= 0.45  # a lower bound only: the machine may be slow


@pytest.mark.anyio
async def test_a_full_batch_does_not_wait() -> None:
    double, seen = recorder(max_batch_size=2, max_wait_ms=60_000)
    first = asyncio.create_task(double(0))
    await asyncio.sleep(0.01)  # the worker is waiting for more items now
    rest = [asyncio.create_task(double(i)) for i in (1, 2, 3)]
    assert await within(asyncio.gather(first, *rest)) == [0, 2, 4, 6]
    assert seen == [[0, 1], [2, 3]]


@pytest.mark.anyio
async def test_zero_wait_runs_whatever_is_queued() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=0)
    assert await within(double(5)) == 10
    assert await within(asyncio.gather(double(1), double(2))) == [2, 4]
    assert seen == [[5], [1, 2]]


@pytest.mark.anyio
async def test_a_plain_def_handing_back_a_coroutine_is_awaited() -> None:
    async def triple(items: list[int]) -> list[int]:
        return [item * 3 for item in items]

    tripled = batched(lambda items: triple(items))
    assert await within(tripled(2)) == 6


@pytest.mark.anyio
async def test_a_plain_def_runs_in_the_thread_pool() -> None:
    threads: list[int] = []

    @batched(max_wait_ms=1)
    def upper(items: list[str]) -> list[str]:
        threads.append(threading.get_ident())
        return [item.upper() for item in items]

    assert await within(asyncio.gather(upper("a"), upper("b"))) == ["A", "B"]
    assert threads
    assert threading.get_ident() not in threads
    assert await within(upper.batch(["x", "y"])) == ["X", "Y"]


@pytest.mark.anyio
async def test_batch_calls_the_function_directly() -> None:
    @batched
    async def check(items: list[int]) -> list[int | Exception]:
        return [ValueError("odd") if item % 2 else item for item in items]

    result = await within(check.batch([0, 1]))
    assert result[0] == 0
    assert isinstance(result[1], ValueError)  # returned, not raised
    assert check.stats.batches == 0  # not queued


@pytest.mark.anyio
async def test_the_batch_runs_without_the_callers_context_variables() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
    seen: list[str] = []

    @batched(max_wait_ms=0)
    async def look(items: list[int]) -> list[int]:
        seen.append(request_id.get())
        return items

    request_id.set("first caller")
    assert await within(look(1)) == 1
    assert seen == ["none"]


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_exception_in_an_items_slot_fails_only_that_caller() -> None:
    @batched(max_wait_ms=20)
    async def check(items: list[int]) -> list[int | Exception]:
        return [ValueError(f"odd {item}") if item % 2 else item for item in items]

    results = await within(asyncio.gather(*(check(i) for i in range(4)), return_exceptions=True))
    assert results[0] == 0
    assert results[2] == 2
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "odd 1"
    assert str(results[3]) == "odd 3"
    assert check.stats.failed_batches == 0


@pytest.mark.anyio
async def test_a_stop_iteration_in_a_slot_becomes_a_runtime_error() -> None:
    @batched(max_wait_ms=0)
    async def stop(items: list[int]) -> list[Exception]:
        return [StopIteration() for _ in items]

    with pytest.raises(RuntimeError, match="StopIteration"):
        await within(stop(1))


@pytest.mark.anyio
async def test_a_failing_batch_fails_every_caller_in_it_and_the_worker_goes_on() -> None:
    calls = 0

    @batched(max_batch_size=8, max_wait_ms=20)
    async def flaky(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model crashed")
        return items

    results = await within(asyncio.gather(flaky(1), flaky(2), flaky(3), return_exceptions=True))
    assert all(isinstance(r, RuntimeError) and str(r) == "model crashed" for r in results)
    assert await within(flaky(4)) == 4
    assert (flaky.stats.batches, flaky.stats.failed_batches) == (2, 1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        ([1], ValueError, "returned 1 results for 2 items"),
        ([1, 2, 3], ValueError, "returned 3 results for 2 items"),
        (None, TypeError, "not NoneType"),
        ("ab", TypeError, "not str"),
        ({1: 1, 2: 2}, TypeError, "not dict"),
    ],
)
async def test_a_wrong_result_fails_the_batch_naming_the_function(
    result: Any, error: type[Exception], message: str
) -> None:
    @batched(max_wait_ms=20)
    async def wrong(items: list[int]) -> Any:
        return result

    outcomes = await within(asyncio.gather(wrong(1), wrong(2), return_exceptions=True))
    for outcome in outcomes:
        assert isinstance(outcome, error)
        assert message in str(outcome)
        assert "wrong" in str(outcome)  # the function's name
    assert wrong.stats.failed_batches == 1


# -- backpressure --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_full_queue_refuses_calls_with_a_503() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    @batched(max_batch_size=1, max_wait_ms=0, max_queue=2)
    async def slow(items: list[int]) -> list[int]:
        started.set()
        await release.wait()
        return items

    first = asyncio.create_task(slow(0))
    await within(started.wait())  # running: out of the queue
    queued = [asyncio.create_task(slow(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    assert slow.stats.queue_depth == 2
    with pytest.raises(BatchQueueFull) as info:
        await slow(3)
    assert isinstance(info.value, HTTPException)
    assert info.value.status_code == 503
    assert info.value.headers is not None
    assert int(info.value.headers["Retry-After"]) >= 1
    assert slow.stats.rejected == 1
    release.set()
    assert await within(asyncio.gather(first, *queued)) == [0, 1, 2]


def test_retry_after_grows_with_the_queue_and_recent_batch_time() -> None:
    stats = BatchStats(lambda: 0)
    assert stats.retry_after(1000, 10) == 1  # nothing measured yet
    stats.record(10, 1.0, 2000.0, False)  # batches take 2 s
    assert stats.retry_after(10, 10) == 2
    assert stats.retry_after(50, 10) == 10
    assert stats.retry_after(0, 10) == 1


def test_a_full_queue_answers_503_problem_json_through_the_app() -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    @batched(max_batch_size=1, max_wait_ms=0, max_queue=1)
    async def slow(items: list[int]) -> list[int]:
        started.set()
        await gate.wait()
        return [item * 2 for item in items]

    app = Lanner()
    pending: list[asyncio.Task[int]] = []

    @app.post("/fill")
    async def fill() -> dict[str, int]:
        pending.append(asyncio.create_task(slow(1)))
        await within(started.wait())  # the first item runs
        pending.append(asyncio.create_task(slow(2)))
        await asyncio.sleep(0)  # the second one waits: the queue is full
        return {"queued": slow.stats.queue_depth}

    @app.get("/double/{value:int}")
    async def double(value: int) -> dict[str, int]:
        return {"value": await slow(value)}

    @app.post("/release")
    async def release() -> list[int]:
        gate.set()
        return list(await within(asyncio.gather(*pending)))

    client = TestClient(app)
    assert client.post("/fill").json() == {"queued": 1}
    busy = client.get("/double/5")
    assert busy.status_code == 503
    assert busy.headers["content-type"] == "application/problem+json"
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["status"] == 503
    assert busy.json()["detail"] == "The server is busy; retry later."
    assert client.post("/release").json() == [2, 4]
    assert client.get("/double/5").json() == {"value": 10}
    client.close()


# -- cancellation --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_caller_cancelled_while_queued_is_left_out_of_its_batch() -> None:
    double, seen = recorder(max_batch_size=3, max_wait_ms=60_000)
    gone = asyncio.create_task(double(1))
    kept = asyncio.create_task(double(2))
    await asyncio.sleep(0)
    assert double.stats.queue_depth == 2
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert double.stats.queue_depth == 1
    assert double.stats.dropped == 1
    more = [asyncio.create_task(double(i)) for i in (3, 4)]
    assert await within(asyncio.gather(kept, *more)) == [4, 6, 8]
    assert seen == [[2, 3, 4]]


@pytest.mark.anyio
async def test_a_caller_cancelled_just_before_its_batch_is_taken_is_skipped() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=0)
    gone = asyncio.create_task(double(1))
    kept = asyncio.create_task(double(2))
    await asyncio.sleep(0)  # both queued; the worker runs next, before `gone` resumes
    gone.cancel()
    assert await within(kept) == 4
    assert gone.cancelled()
    assert seen == [[2]]
    assert double.stats.dropped == 1


@pytest.mark.anyio
@pytest.mark.parametrize("fails", [False, True])
async def test_a_caller_cancelled_while_its_batch_runs_does_not_stop_the_batch(fails: bool) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    seen: list[list[int]] = []

    @batched(max_batch_size=2, max_wait_ms=60_000)
    async def slow(items: list[int]) -> list[int]:
        seen.append(items)
        started.set()
        await release.wait()
        if fails and len(seen) == 1:
            raise RuntimeError("model crashed")
        return [item * 10 for item in items]

    gone = asyncio.create_task(slow(1))
    kept = asyncio.create_task(slow(2))
    await within(started.wait())
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    release.set()
    if fails:
        with pytest.raises(RuntimeError, match="model crashed"):
            await within(kept)
    else:
        assert await within(kept) == 20
    assert seen == [[1, 2]]
    assert await within(asyncio.gather(slow(3), slow(4))) == [30, 40]  # still serving


@pytest.mark.anyio
async def test_the_worker_ends_when_its_only_caller_is_cancelled() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=60_000)
    gone = asyncio.create_task(double(1))
    await asyncio.sleep(0.01)
    assert workers()
    gone.cancel()
    await asyncio.sleep(0.01)
    assert not workers()  # did not sit out the 60 s wait
    assert seen == []


@pytest.mark.anyio
async def test_a_base_exception_stops_the_worker_and_its_callers(caplog: pytest.LogCaptureFixture) -> None:
    class Abort(BaseException):
        pass

    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    @batched(max_batch_size=1, max_wait_ms=0)
    async def abort(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await release.wait()
            raise Abort()
        return items

    running = asyncio.create_task(abort(1))
    await within(started.wait())
    queued = asyncio.create_task(abort(2))
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="lanner.batching"):
        release.set()
        for task in (running, queued):
            with pytest.raises(BatcherStopped):
                await within(task)
    assert "Batcher" in caplog.text
    assert "abort failed" in caplog.text
    assert await within(abort(3)) == 3  # a new worker serves the next call


# -- event loops and methods ---------------------------------------------------------------------


def test_each_event_loop_gets_its_own_worker() -> None:
    double, seen = recorder(max_batch_size=32, max_wait_ms=60_000)

    async def abandon() -> None:
        asyncio.create_task(double(1))  # noqa: RUF006 - asyncio.run cancels it on exit
        await asyncio.sleep(0.01)  # queued; the worker waits for more

    asyncio.run(abandon())

    async def full_batch() -> list[int]:
        return list(await within(asyncio.gather(*(double(i) for i in range(32)))))

    assert asyncio.run(full_batch()) == [i * 2 for i in range(32)]
    assert seen == [list(range(32))]  # the abandoned loop's item never ran, nor hung this one


def test_loops_in_several_threads_at_once() -> None:
    double, _ = recorder(max_batch_size=8, max_wait_ms=1)
    results: dict[int, list[int]] = {}

    def run(offset: int) -> None:
        async def main() -> list[int]:
            return list(await within(asyncio.gather(*(double(offset + i) for i in range(20)))))

        results[offset] = asyncio.run(main())

    threads = [threading.Thread(target=run, args=(offset,)) for offset in (0, 100, 200, 300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert results == {offset: [(offset + i) * 2 for i in range(20)] for offset in (0, 100, 200, 300)}
    assert double.stats.items == 80


@pytest.mark.anyio
async def test_a_batched_method_gets_a_batcher_per_instance() -> None:
    class Scaler:
        def __init__(self, factor: int) -> None:
            self.factor = factor

        @batched(max_wait_ms=5)
        async def scale(self, items: list[int]) -> list[int]:
            return [item * self.factor for item in items]

    two, ten = Scaler(2), Scaler(10)
    assert await within(asyncio.gather(two.scale(1), ten.scale(1), two.scale(3))) == [2, 10, 6]
    assert two.scale is two.scale
    assert two.scale is not ten.scale
    assert (two.scale.stats.items, ten.scale.stats.items) == (2, 1)
    assert isinstance(Scaler.scale, Batched)
    assert Scaler.scale.stats.items == 0


def test_a_batched_method_needs_instances_with_a_dict() -> None:
    class Slotted:
        __slots__ = ()

        @batched
        async def run(self, items: list[int]) -> list[int]:
            return items

    with pytest.raises(TypeError, match="__dict__"):
        _ = Slotted().run


# -- stats ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stats_snapshot() -> None:
    double, _ = recorder(max_batch_size=2, max_wait_ms=0)
    empty = double.stats.snapshot()
    assert empty["batches"] == 0
    assert empty["batch_size"] == {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    await within(asyncio.gather(*(double(i) for i in range(5))))
    snapshot = double.stats.snapshot()
    assert {k: snapshot[k] for k in ("batches", "items", "largest_batch", "queue_depth", "rejected")} == {
        "batches": 3,
        "items": 5,
        "largest_batch": 2,
        "queue_depth": 0,
        "rejected": 0,
    }
    assert snapshot["batch_size"] == {"mean": 5 / 3, "p50": 2, "p95": 2, "max": 2}
    waits = snapshot["queue_wait_ms"]
    assert 0 <= waits["p50"] <= waits["p95"] <= waits["max"]
    assert snapshot["run_ms"]["max"] >= 0
    json.dumps(snapshot)  # plain data for an exporter


def test_stats_keep_a_bounded_window() -> None:
    stats = BatchStats(lambda: 7, window=3)
    for size in (1, 100, 2, 3, 4):
        stats.record(size, float(size), 0.0, size == 100)
    snapshot = stats.snapshot()
    assert snapshot["batch_size"] == {"mean": 3.0, "p50": 3, "p95": 4, "max": 4}
    assert (snapshot["largest_batch"], snapshot["failed_batches"], snapshot["queue_depth"]) == (100, 1, 7)


# -- lifespan ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_drain_runs_queued_items_at_once_and_stops_the_worker() -> None:
    await start_batchers()
    double, seen = recorder(max_batch_size=32, max_wait_ms=60_000)
    tasks = [asyncio.create_task(double(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in tasks)
    assert workers()
    await within(drain_batchers())
    assert [task.result() for task in tasks] == [0, 2, 4]
    assert seen == [[0, 1, 2]]
    assert not workers()
    # Still usable afterwards: the next call starts a new worker.
    later = asyncio.create_task(double(5))
    await asyncio.sleep(0)
    await within(drain_batchers())
    assert later.result() == 10


@pytest.mark.anyio
async def test_calls_made_while_draining_are_answered() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    @batched(max_batch_size=1, max_wait_ms=60_000)
    async def slow(items: list[int]) -> list[int]:
        started.set()
        await release.wait()
        return items

    first = asyncio.create_task(slow(1))
    await within(started.wait())
    drain = asyncio.create_task(drain_batchers())
    await asyncio.sleep(0)
    late = asyncio.create_task(slow(2))
    await asyncio.sleep(0)
    release.set()
    await within(drain)
    assert (first.result(), late.result()) == (1, 2)
    assert not workers()


@pytest.mark.anyio
async def test_a_drain_that_times_out_stops_the_callers_left(caplog: pytest.LogCaptureFixture) -> None:
    @batched(max_batch_size=1, max_wait_ms=0)
    async def stuck(items: list[int]) -> list[int]:
        await asyncio.Event().wait()
        return items

    running = asyncio.create_task(stuck(1))
    queued = asyncio.create_task(stuck(2))
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="lanner.batching"):
        await within(drain_batchers(timeout=0.05))
    assert "not drained within 0.05 seconds; 1 queued items were dropped" in caplog.text
    for task in (running, queued):
        with pytest.raises(BatcherStopped):
            task.result()
    assert not workers()


def test_app_shutdown_drains_batchers() -> None:
    # Needs the app's lifespan to call drain_batchers() at shutdown (Lanner._shutdown).
    double, seen = recorder(max_batch_size=32, max_wait_ms=60_000)
    app = Lanner()
    pending: list[asyncio.Task[int]] = []

    @app.post("/later/{value:int}")
    async def later(value: int) -> dict[str, bool]:
        pending.append(asyncio.create_task(double(value)))
        return {"queued": True}

    with TestClient(app) as client:
        assert client.post("/later/1").json() == {"queued": True}
        assert client.post("/later/2").json() == {"queued": True}
        assert seen == []
    assert seen == [[1, 2]]
    assert [task.result() for task in pending] == [2, 4]


# -- the example ---------------------------------------------------------------------------------


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_batching", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_doubles_through_the_app() -> None:
    example = load_example()
    with TestClient(example.app) as client:
        assert client.post("/double", json={"value": 21}).json() == {"value": 42}
        assert client.post("/double", json={"value": "x"}).status_code == 422
        stats = client.get("/batching/stats").json()
    assert stats["items"] == 1
    assert stats["batches"] == 1


@pytest.mark.anyio
async def test_example_under_concurrent_requests() -> None:
    example = load_example()
    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = await within(
            asyncio.gather(*(client.post("/double", json={"value": i}) for i in range(50)))
        )
    assert [r.json() for r in responses] == [{"value": i * 2} for i in range(50)]
    stats = example.double.stats.snapshot()
    assert stats["items"] == 50
    assert stats["largest_batch"] <= 32


def test_items_queued_during_a_batch_wait_for_the_callers_it_answers() -> None:
    sizes: list[int] = []
    gate: asyncio.Event

    @batched(max_batch_size=10, max_wait_ms=200)
    async def work(items: list[int]) -> list[int]:
        sizes.append(len(items))
        if len(sizes) == 1:
            await gate.wait()
        return items

    async def main() -> None:
        nonlocal gate
        gate = asyncio.Event()
        first = asyncio.ensure_future(work(0))
        while not sizes:
            await asyncio.sleep(0.01)
        during = [asyncio.ensure_future(work(i)) for i in (1, 2)]  # queued while batch 1 runs
        await asyncio.sleep(0.3)  # longer than max_wait_ms: they have "waited" already
        gate.set()
        await first
        await asyncio.sleep(0.01)
        after = [asyncio.ensure_future(work(i)) for i in (3, 4, 5)]  # answered callers return
        assert await asyncio.gather(*during, *after) == [1, 2, 3, 4, 5]

    asyncio.run(main())
    assert sizes == [1, 5]


def test_each_caller_of_a_failed_batch_gets_its_own_exception() -> None:
    @batched(max_batch_size=8, max_wait_ms=20)
    async def model(items: list[int]) -> list[int]:
        raise RuntimeError("out of memory")

    async def caller(i: int) -> BaseException:
        try:
            await model(i)
        except RuntimeError as exc:
            exc.add_note(f"request {i}")
            return exc
        raise AssertionError("the batch failed: the caller must see it")

    async def main() -> list[BaseException]:
        return await asyncio.gather(*(caller(i) for i in range(3)))

    errors = asyncio.run(main())
    assert [str(e) for e in errors] == ["out of memory"] * 3
    assert [e.__notes__ for e in errors] == [["request 0"], ["request 1"], ["request 2"]]
