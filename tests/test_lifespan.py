"""The lifespan protocol (lanner.lifespan), alone and through TestClient and uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from lanner import Depends, Lanner, Request
from lanner import Path as PathParam
from lanner import lifespan as lifespan_module
from lanner.lifespan import Lifespan
from lanner.testing import TestClient

Message = dict[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def speak(
    app: Any,
    *,
    state: bool = True,
    shutdown: bool = True,
) -> tuple[list[Message], dict[str, Any]]:
    """Run the lifespan protocol against an ASGI app; return what it sent and the state dict."""
    incoming = [{"type": "lifespan.startup"}]
    if shutdown:
        incoming.append({"type": "lifespan.shutdown"})
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}
    if state:
        scope["state"] = {}
    await app(scope, receive, send)
    return sent, scope.get("state", {})


def kinds(sent: list[Message]) -> list[str]:
    return [m["type"] for m in sent]


def make_lifespan(
    log: list[str],
    factory: Any = None,
    on_startup: Any = (),
    on_shutdown: Any = (),
    shutdown_timeout: float | None = 30.0,
) -> Lifespan:
    async def prepare() -> None:
        log.append("prepare")

    async def close() -> None:
        log.append("close")

    return Lifespan(
        "the app",
        factory,
        list(on_startup),
        list(on_shutdown),
        prepare,
        close,
        shutdown_timeout=shutdown_timeout,
    )


def recording_factory(
    log: list[str], value: Any = None, fail_enter: bool = False, fail_exit: bool = False
) -> Callable[[Any], Any]:
    @contextlib.asynccontextmanager
    async def factory(app: Any) -> AsyncIterator[Any]:
        log.append(f"enter {app}")
        if fail_enter:
            raise ConnectionError("database unreachable")
        yield value
        log.append("exit")
        if fail_exit:
            raise OSError("could not flush")

    return factory


# -- Lifespan (unit) -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_full_order_of_a_lifespan() -> None:
    log: list[str] = []

    async def async_start() -> None:
        log.append("async start")

    async def async_stop() -> None:
        log.append("async stop")

    lifespan = make_lifespan(
        log,
        recording_factory(log),
        on_startup=[lambda: log.append("sync start"), async_start],
        on_shutdown=[async_stop, lambda: log.append("sync stop")],
    )
    sent, _ = await speak(lifespan)
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == [
        "sync start",
        "async start",
        "enter the app",
        "prepare",
        "close",
        "exit",
        "async stop",
        "sync stop",
    ]


@pytest.mark.anyio
async def test_a_yielded_dict_becomes_the_server_state() -> None:
    resource = object()
    lifespan = make_lifespan([], recording_factory([], {"pool": resource}))
    sent, state = await speak(lifespan)
    assert kinds(sent)[0] == "lifespan.startup.complete"
    assert state == {"pool": resource}


@pytest.mark.anyio
async def test_a_yielded_non_dict_is_ignored() -> None:
    sent, state = await speak(make_lifespan([], recording_factory([], ["not", "a", "dict"])))
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert state == {}


@pytest.mark.anyio
async def test_state_without_server_support_fails_startup_and_cleans_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    lifespan = make_lifespan(
        log, recording_factory(log, {"pool": 1}), on_shutdown=[lambda: log.append("shutdown hook")]
    )
    sent, _ = await speak(lifespan, state=False, shutdown=False)
    assert kinds(sent) == ["lifespan.startup.failed"]
    assert "does not support lifespan state" in sent[0]["message"]
    assert log == ["enter the app", "prepare", "close", "exit", "shutdown hook"]


@pytest.mark.anyio
async def test_a_failing_lifespan_enter_reports_startup_failed(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    lifespan = make_lifespan(log, recording_factory(log, fail_enter=True))
    sent, _ = await speak(lifespan, shutdown=False)
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "Application startup failed: ConnectionError: database unreachable",
        }
    ]
    assert "prepare" not in log
    assert "Application startup failed" in caplog.text
    assert "database unreachable" in caplog.text


@pytest.mark.anyio
async def test_a_failing_startup_hook_stops_before_the_lifespan() -> None:
    log: list[str] = []

    def broken() -> None:
        raise ValueError("missing setting")

    lifespan = make_lifespan(
        log, recording_factory(log), on_startup=[broken, lambda: log.append("second hook")]
    )
    sent, _ = await speak(lifespan, shutdown=False)
    assert kinds(sent) == ["lifespan.startup.failed"]
    assert sent[0]["message"] == "Application startup failed: ValueError: missing setting"
    assert log == []


@pytest.mark.anyio
async def test_a_failing_prepare_unwinds_the_lifespan() -> None:
    log: list[str] = []

    async def prepare() -> None:
        raise RuntimeError("dependency failed")

    async def close() -> None:
        log.append("close")

    @contextlib.asynccontextmanager
    async def factory(app: Any) -> AsyncIterator[None]:
        log.append("enter")
        try:
            yield
        except RuntimeError as exc:
            log.append(f"exit saw {exc}")
            raise

    lifespan = Lifespan("app", factory, [], [], prepare, close)
    sent, _ = await speak(lifespan, shutdown=False)
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "Application startup failed: RuntimeError: dependency failed",
        }
    ]
    assert log == ["enter", "close", "exit saw dependency failed"]


@pytest.mark.anyio
async def test_base_exceptions_at_startup_are_reported_then_reraised() -> None:
    class Stop(BaseException):
        pass

    def stop() -> None:
        raise Stop()

    sent: list[Message] = []
    lifespan = make_lifespan([], on_startup=[stop])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(Stop):
        await lifespan({"type": "lifespan", "state": {}}, receive, send)
    assert kinds(sent) == ["lifespan.startup.failed"]


@pytest.mark.anyio
async def test_a_failing_lifespan_exit_reports_shutdown_failed_but_runs_the_hooks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    lifespan = make_lifespan(
        log, recording_factory(log, fail_exit=True), on_shutdown=[lambda: log.append("shutdown hook")]
    )
    sent, _ = await speak(lifespan)
    assert sent[1] == {
        "type": "lifespan.shutdown.failed",
        "message": "Application shutdown failed: OSError: could not flush",
    }
    assert log[-3:] == ["close", "exit", "shutdown hook"]
    assert "Application shutdown failed" in caplog.text


@pytest.mark.anyio
async def test_every_shutdown_hook_runs_and_the_first_failure_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    def first() -> None:
        log.append("first")
        raise ValueError("first failure")

    async def second() -> None:
        log.append("second")
        raise KeyError("second failure")

    lifespan = make_lifespan(log, on_shutdown=[first, second, lambda: log.append("third")])
    sent, _ = await speak(lifespan)
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert sent[1]["message"] == "Application shutdown failed: ValueError: first failure"
    assert log == ["prepare", "close", "first", "second", "third"]
    assert "second failure" in caplog.text


@pytest.mark.anyio
async def test_lanner_speaks_the_protocol_without_any_hooks() -> None:
    sent, state = await speak(Lanner())
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert state == {}


# -- shutdown timeout ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_hanging_async_shutdown_hook_is_cancelled_at_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    async def hang() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("hang cancelled")
            raise

    def later() -> None:
        log.append("later")

    lifespan = make_lifespan(log, on_shutdown=[hang, later], shutdown_timeout=0.2)
    started = time.monotonic()
    sent, _ = await speak(lifespan)
    assert time.monotonic() - started < 3
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert sent[1]["message"] == (
        "Application shutdown failed: TimeoutError: the shutdown did not finish within 0.2 seconds "
        f"(shutdown_timeout); the on_shutdown hook {__name__}.{hang.__qualname__} was cancelled"
    )
    # The hook that was running is cancelled; the ones not started yet are skipped, and said so.
    assert log == ["prepare", "close", "hang cancelled"]
    records = [r for r in caplog.records if r.name == "lanner.lifespan"]
    assert any("did not finish within 0.2 seconds" in r.getMessage() for r in records)
    assert any("Skipped" in r.getMessage() and "later" in r.getMessage() for r in records)


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """An event that blocked test hooks wait on; set at teardown so their threads end."""
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.anyio
async def test_a_blocked_sync_shutdown_hook_runs_in_a_daemon_thread_and_is_abandoned(
    released: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    # A sync hook cannot be interrupted. It runs in a daemon thread of its own, so the event loop
    # keeps turning (the timeout can fire), and the thread left behind does not keep the process
    # alive at exit the way a thread-pool worker would.
    seen: list[threading.Thread] = []

    def block() -> None:
        seen.append(threading.current_thread())
        released.wait(3600)

    lifespan = make_lifespan([], on_shutdown=[block], shutdown_timeout=0.2)
    started = time.monotonic()
    sent, _ = await speak(lifespan)
    assert time.monotonic() - started < 3
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "did not finish within 0.2 seconds" in sent[1]["message"]
    assert f"the on_shutdown hook {__name__}.{block.__qualname__} was cancelled" in sent[1]["message"]
    [thread] = seen
    assert thread is not threading.main_thread()
    assert thread.daemon
    assert thread.is_alive()
    released.set()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.anyio
async def test_sync_shutdown_hooks_still_run_in_order_and_fail_as_before() -> None:
    log: list[str] = []

    def broken() -> None:
        log.append(f"broken in {threading.current_thread().name}")
        raise OSError("disk full")

    lifespan = make_lifespan(log, on_shutdown=[broken, lambda: log.append("after")], shutdown_timeout=5)
    sent, _ = await speak(lifespan)
    assert sent[1]["message"] == "Application shutdown failed: OSError: disk full"
    assert log[-2].startswith("broken in lanner-shutdown-")
    assert log[-1] == "after"


@pytest.mark.anyio
async def test_a_hanging_lifespan_exit_is_cancelled_after_the_app_cleanups_ran() -> None:
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def stuck(app: Any) -> AsyncIterator[None]:
        yield
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("exit cancelled")
            raise

    lifespan = make_lifespan(log, stuck, on_shutdown=[lambda: log.append("hook")], shutdown_timeout=0.2)
    sent, _ = await speak(lifespan)
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert f"the exit of the lifespan {__name__}.{stuck.__qualname__} was cancelled" in sent[1]["message"]
    assert log == ["prepare", "close", "exit cancelled"]


@pytest.mark.anyio
async def test_cleanup_that_hangs_again_once_cancelled_is_abandoned_after_a_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifespan_module, "_UNWIND_GRACE", 0.1)
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def stubborn(app: Any) -> AsyncIterator[None]:
        yield
        try:
            await asyncio.sleep(3600)
        finally:
            log.append("unwinding")
            await asyncio.sleep(3600)

    lifespan = make_lifespan(log, stubborn, shutdown_timeout=0.2)
    started = time.monotonic()
    sent, _ = await speak(lifespan)
    assert time.monotonic() - started < 3
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "stubborn was cancelled" in sent[1]["message"]
    assert log == ["prepare", "close", "unwinding"]


@pytest.mark.anyio
async def test_a_step_that_swallows_the_cancellation_is_still_reported_as_timed_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def swallowing(app: Any) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    lifespan = make_lifespan(log, swallowing, on_shutdown=[lambda: log.append("hook")], shutdown_timeout=0.2)
    sent, _ = await speak(lifespan)
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "did not finish within 0.2 seconds" in sent[1]["message"]
    assert "hook" not in log
    [failure] = [r.exc_info[1] for r in caplog.records if r.exc_info and "shutdown failed" in r.getMessage()]
    assert isinstance(failure, TimeoutError)
    assert failure.__cause__ is None  # nothing was raised: the step returned once cancelled


@pytest.mark.anyio
async def test_a_lifespan_that_timed_out_runs_its_hooks_again_next_time() -> None:
    log: list[str] = []
    calls = iter([3600, 0])

    async def slow_then_quick() -> None:
        await asyncio.sleep(next(calls))
        log.append("hook done")

    hooks = [slow_then_quick, lambda: log.append("after")]
    lifespan = make_lifespan(log, on_shutdown=hooks, shutdown_timeout=0.2)
    first, _ = await speak(lifespan)
    second, _ = await speak(lifespan)
    assert kinds(first)[1] == "lifespan.shutdown.failed"
    assert kinds(second)[1] == "lifespan.shutdown.complete"
    assert log == ["prepare", "close", "prepare", "close", "hook done", "after"]


@pytest.mark.anyio
async def test_a_shutdown_within_the_timeout_completes() -> None:
    log: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        log.append("quick")

    sent, _ = await speak(make_lifespan(log, on_shutdown=[quick], shutdown_timeout=0.2))
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["prepare", "close", "quick"]


@pytest.mark.anyio
@pytest.mark.parametrize("timeout", [None, math.inf])
async def test_without_a_shutdown_timeout_the_shutdown_is_awaited(timeout: float | None) -> None:
    sent, _ = await speak(make_lifespan([], shutdown_timeout=timeout))
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.parametrize("timeout", [0, -1, math.nan])
def test_the_shutdown_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="shutdown_timeout must be a positive number"):
        make_lifespan([], shutdown_timeout=timeout)


@pytest.mark.anyio
async def test_the_startup_is_not_bounded_by_the_shutdown_timeout() -> None:
    async def slow_start() -> None:
        await asyncio.sleep(0.3)

    sent, _ = await speak(make_lifespan([], on_startup=[slow_start], shutdown_timeout=0.1))
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.anyio
async def test_a_hanging_cleanup_of_app_scoped_dependencies_is_named_when_cancelled() -> None:
    log: list[str] = []

    async def close() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cleanup cancelled")
            raise

    async def prepare() -> None:
        pass

    @contextlib.asynccontextmanager
    async def resources(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            log.append("lifespan exit")

    lifespan = Lifespan("the app", resources, [], [], prepare, close, shutdown_timeout=0.2)
    sent, _ = await speak(lifespan)
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    # The lifespan's own exit ran after the cancelled cleanup, but the step named is the cleanup.
    assert sent[1]["message"].endswith("the cleanup of app-scoped dependencies was cancelled")
    assert log == ["cleanup cancelled", "lifespan exit"]


@pytest.mark.anyio
async def test_a_server_cancelling_the_shutdown_cancels_it_without_skipping_hooks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    running = asyncio.Event()

    async def slow() -> None:
        running.set()
        await asyncio.sleep(3600)

    lifespan = make_lifespan(log, on_shutdown=[slow, lambda: log.append("later")], shutdown_timeout=30)
    server = asyncio.create_task(speak(lifespan))
    await running.wait()
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server
    assert log == ["prepare", "close"]
    # Not a timeout: nothing is reported as skipped, the cancellation just propagates.
    assert not [r for r in caplog.records if r.name == "lanner.lifespan"]


@pytest.mark.anyio
async def test_a_sync_shutdown_hook_that_returns_a_coroutine_has_it_awaited() -> None:
    log: list[str] = []

    async def flush() -> None:
        log.append(f"flushed on {threading.current_thread().name}")

    sent, _ = await speak(make_lifespan(log, on_shutdown=[lambda: flush()]))
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["prepare", "close", f"flushed on {threading.current_thread().name}"]


@pytest.mark.anyio
async def test_a_sync_shutdown_hook_raising_stopiteration_fails_the_shutdown() -> None:
    log: list[str] = []
    # A Future refuses StopIteration; the hook's failure is reported as a RuntimeError instead.
    hooks = [lambda: next(iter(())), lambda: log.append("after")]
    sent, _ = await speak(make_lifespan(log, on_shutdown=hooks))
    assert sent[1] == {
        "type": "lifespan.shutdown.failed",
        "message": (
            "Application shutdown failed: RuntimeError: shutdown hook raised StopIteration: StopIteration()"
        ),
    }
    assert log[-1] == "after"


@pytest.mark.anyio
async def test_a_hook_without_a_qualified_name_is_logged_by_its_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail(what: str) -> None:
        raise OSError(what)

    second = functools.partial(fail, "second")
    sent, _ = await speak(make_lifespan([], on_shutdown=[functools.partial(fail, "first"), second]))
    assert sent[1]["message"] == "Application shutdown failed: OSError: first"
    assert f"Shutdown hook {second!r} failed" in caplog.text


async def _fine() -> None: ...


async def _broken(item_id: Annotated[int, PathParam()]) -> None: ...


@pytest.mark.anyio
async def test_a_route_error_is_reported_only_in_answer_to_the_startup_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/items")
    async def items(value: Annotated[None, Depends(_fine)]) -> None: ...

    # An override is compiled when the app starts: the error comes then, not at registration.
    app.dependency_overrides[_fine] = _broken

    # A server out of protocol opens with a shutdown: the app answers nothing and returns.
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == []
    assert "Path parameter 'item_id' is not in the route path" in caplog.text
    # A server that follows the protocol is told why the app cannot start.
    sent_ok, _ = await speak(app)
    assert kinds(sent_ok) == ["lifespan.startup.failed"]
    assert "is not in the route path" in sent_ok[0]["message"]


# -- through TestClient --------------------------------------------------------------------------


def test_lifespan_runs_around_the_with_block() -> None:
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        log.append("start")
        yield
        log.append("stop")

    app = Lanner(lifespan=lifespan)

    @app.get("/")
    async def index() -> list[str]:
        return list(log)

    with TestClient(app) as client:
        assert log == ["start"]
        assert client.get("/").json() == ["start"]
    assert log == ["start", "stop"]


def test_without_with_the_lifespan_does_not_run() -> None:
    log: list[str] = []
    app = Lanner(on_startup=[lambda: log.append("start")])

    @app.get("/")
    async def index() -> str:
        return "ok"

    assert TestClient(app).get("/").json() == "ok"
    assert log == []


def test_the_factory_receives_the_app_and_its_dict_reaches_request_state() -> None:
    seen: list[Any] = []

    class Pool:
        pass

    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
        seen.append(app)
        yield {"pool": Pool(), "name": "db"}

    app = Lanner(lifespan=lifespan)

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        request.state.touched = True
        return {"name": request.state.name, "pool": id(request.state.pool)}

    @app.get("/fresh")
    async def fresh(request: Request) -> bool:
        return hasattr(request.state, "touched")

    with TestClient(app) as client:
        first = client.get("/").json()
        second = client.get("/").json()
        assert first["name"] == "db"
        # The same object serves every request; the per-request namespace is not shared.
        assert first["pool"] == second["pool"]
        assert client.get("/fresh").json() is False
    assert seen == [app]


def test_startup_and_shutdown_hooks_sync_and_async_in_order() -> None:
    log: list[str] = []

    async def async_start() -> None:
        log.append("async start")

    async def async_stop() -> None:
        log.append("async stop")

    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        log.append("lifespan enter")
        yield
        log.append("lifespan exit")

    app = Lanner(
        lifespan=lifespan,
        on_startup=[lambda: log.append("sync start"), async_start],
        on_shutdown=[async_stop, lambda: log.append("sync stop")],
    )
    app.on_startup.append(lambda: log.append("appended start"))
    with TestClient(app):
        assert log == ["sync start", "async start", "appended start", "lifespan enter"]
        log.clear()
    assert log == ["lifespan exit", "async stop", "sync stop"]


def test_a_failing_startup_raises_a_clear_error_in_the_client() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        raise ConnectionRefusedError("cannot reach postgres on 5432")
        yield

    app = Lanner(lifespan=lifespan)
    with pytest.raises(RuntimeError) as caught, TestClient(app):
        pytest.fail("the body must not run")
    assert str(caught.value) == (
        "Application startup failed: ConnectionRefusedError: cannot reach postgres on 5432"
    )


def test_a_failing_startup_hook_raises_in_the_client() -> None:
    async def check_config() -> None:
        raise ValueError("SECRET_KEY is not set")

    with (
        pytest.raises(RuntimeError, match="startup failed: ValueError: SECRET_KEY is not set"),
        TestClient(Lanner(on_startup=[check_config])),
    ):
        pass


def test_a_failing_shutdown_raises_after_the_block() -> None:
    log: list[str] = []

    def broken() -> None:
        raise OSError("disk full")

    app = Lanner(on_shutdown=[broken, lambda: log.append("still ran")])

    @app.get("/")
    async def index() -> str:
        return "ok"

    with (
        pytest.raises(RuntimeError, match="Application shutdown failed: OSError: disk full"),
        TestClient(app) as client,
    ):
        assert client.get("/").json() == "ok"
    assert log == ["still ran"]


def test_app_scoped_dependencies_live_between_startup_and_shutdown() -> None:
    log: list[str] = []

    async def pool() -> AsyncIterator[dict[str, int]]:
        log.append("open")
        yield {"connections": 4}
        log.append("close")

    app = Lanner()
    pooled = Depends(pool, scope="app")

    @app.get("/")
    async def index(value: dict[str, int] = pooled) -> dict[str, int]:
        return value

    with TestClient(app) as client:
        assert log == ["open"]
        assert client.get("/").json() == {"connections": 4}
        assert client.get("/").json() == {"connections": 4}
        assert log == ["open"]
    assert log == ["open", "close"]


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_app_scoped_cleanups_run_once_when_the_lifespan_raises_on_exit(kind: str) -> None:
    log: list[str] = []

    async def async_pool() -> AsyncIterator[str]:
        log.append("open")
        yield "pool"
        log.append("close")

    def sync_pool() -> Iterator[str]:
        log.append("open")
        yield "pool"
        log.append("close")

    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        yield
        log.append("lifespan exit")
        raise OSError("could not flush")

    app = Lanner(lifespan=lifespan, on_shutdown=[lambda: log.append("hook")])
    pooled = Depends(async_pool if kind == "async" else sync_pool, scope="app")

    @app.get("/")
    async def index(value: str = pooled) -> str:
        return value

    for _ in range(2):
        with (
            pytest.raises(RuntimeError, match="Application shutdown failed: OSError: could not flush"),
            TestClient(app) as client,
        ):
            assert client.get("/").json() == "pool"
            assert client.get("/").json() == "pool"
        # Cleaned up once, before the lifespan's exit (created after it entered), and the shutdown
        # hooks still ran; a new run opens and closes a fresh one.
        assert log == ["open", "close", "lifespan exit", "hook"]
        log.clear()


def test_the_lifespan_can_run_again_with_a_new_client() -> None:
    log: list[str] = []
    app = Lanner(on_startup=[lambda: log.append("start")], on_shutdown=[lambda: log.append("stop")])
    for _ in range(2):
        with TestClient(app):
            pass
    assert log == ["start", "stop", "start", "stop"]


# -- under uvicorn -------------------------------------------------------------------------------


@pytest.mark.slow
def test_uvicorn_exits_non_zero_with_the_message_when_startup_fails(tmp_path: Path) -> None:
    module = tmp_path / "failing_app.py"
    module.write_text(
        textwrap.dedent("""
        from lanner import Lanner

        def connect():
            raise ConnectionError("broker unreachable")

        app = Lanner(on_startup=[connect])
    """)
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "failing_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--lifespan",
        "on",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "Application startup failed: ConnectionError: broker unreachable" in result.stderr


@pytest.mark.anyio
async def test_the_app_passes_its_shutdown_timeout_to_the_lifespan() -> None:
    async def hang() -> None:
        await asyncio.sleep(3600)

    app = Lanner(on_shutdown=[hang], shutdown_timeout=0.2, freeze_gc=False)
    started = time.monotonic()
    sent, _ = await speak(app)
    assert time.monotonic() - started < 3
    assert kinds(sent) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "within 0.2 seconds" in sent[1]["message"]


def test_a_bad_shutdown_timeout_is_refused_when_the_app_is_built() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="shutdown_timeout"):
            Lanner(shutdown_timeout=bad)
    assert Lanner(shutdown_timeout=None).shutdown_timeout is None
