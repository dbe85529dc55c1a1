"""Shutting down a real uvicorn process: requests in flight, cleanups, background failures."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Server, free_port

pytestmark = pytest.mark.slow

UVICORN = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1"]
GRACEFUL_APP = "tests.apps.graceful_shutdown:app"
REQUESTS = 50


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def serve(target: str, log: Path, *options: str) -> Server:
    port = free_port()
    env = {**os.environ, "LANNER_SHUTDOWN_LOG": str(log)}
    server = Server([*UVICORN, target, *options, "--port", str(port)], port, env)
    server.wait_ready("/")
    return server


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests that only talk to it (the shutdown tests own their process)."""
    server = serve(GRACEFUL_APP, tmp_path_factory.mktemp("running") / "cleanup.log")
    yield server
    server.stop()


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        await asyncio.sleep(0.02)


async def exit_code(server: Server, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while server.process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return server.process.poll()


@pytest.mark.anyio
async def test_sigterm_lets_requests_in_flight_finish_then_cleans_up_once(tmp_path: Path) -> None:
    log = tmp_path / "cleanup.log"
    server = serve(GRACEFUL_APP, log, "--timeout-graceful-shutdown", "10")
    try:
        limits = httpx.Limits(max_connections=REQUESTS + 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=20, limits=limits) as client:
            calls = [asyncio.create_task(client.get("/slow", params={"i": i})) for i in range(REQUESTS)]

            async def all_arrived() -> bool:
                async with httpx.AsyncClient(base_url=server.url) as probe:
                    return bool((await probe.get("/arrived")).json() == REQUESTS)

            await wait_for(all_arrived, f"{REQUESTS} requests did not reach the handler")
            server.process.send_signal(signal.SIGTERM)

            async def refused() -> bool:
                try:
                    async with httpx.AsyncClient(base_url=server.url, timeout=1) as fresh:
                        await fresh.get("/")
                except httpx.ConnectError:
                    return True
                except httpx.TransportError:
                    pass  # accepted just before the listener closed, then dropped
                return False

            await wait_for(refused, "new connections were still accepted after SIGTERM", timeout=5)
            # The listener closed while the slow requests were still being served.
            assert not all(call.done() for call in calls)
            responses = await asyncio.gather(*calls)
        assert [r.status_code for r in responses] == [200] * REQUESTS
        assert [r.json() for r in responses] == [
            {"i": i, "shared": "shared", "mine": f"mine {i}"} for i in range(REQUESTS)
        ]
        # uvicorn (>= 0.29) re-raises the captured SIGTERM once its graceful shutdown is over, so a
        # clean exit is "terminated by SIGTERM" (-15 here, 143 in a shell), not 0.
        assert await exit_code(server, timeout=10) == -signal.SIGTERM
    finally:
        output = server.stop()
    assert "Application shutdown complete" in output, output
    assert "Finished server process" in output
    assert "Traceback" not in output
    lines = log.read_text().splitlines()
    # Every request's cleanup ran once, then the app-scoped one, once, at the lifespan shutdown.
    assert sorted(lines[:-1]) == sorted(f"request cleanup {i}" for i in range(REQUESTS))
    assert lines[-1] == "app cleanup"


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_failing_background_task_is_logged_and_the_worker_keeps_serving(running: Server, kind: str) -> None:
    with httpx.Client(base_url=running.url, timeout=10) as client:
        for _ in range(3):
            response = client.post(f"/background/{kind}")
            assert response.status_code == 200
            assert response.json() == f"queued {kind}"
        assert client.get("/").json() == "up"
        deadline = time.monotonic() + 5
        while running.output().count(f"RuntimeError: {kind} background boom") < 3:
            assert time.monotonic() < deadline, running.output()
            time.sleep(0.05)
        assert client.get("/").json() == "up"
    assert running.process.poll() is None
    output = running.output()
    assert "Exception in a background task of POST /background/" + kind in output


def test_a_shutdown_that_hangs_is_cut_off_and_the_server_exits(tmp_path: Path) -> None:
    server = serve("tests.apps.hung_shutdown:app", tmp_path / "unused.log")
    try:
        assert httpx.get(server.url + "/").json() == "up"
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        # The hook blocks its thread for good; the timeout (0.5 s) abandons it and the daemon thread
        # does not hold the interpreter open.
        server.process.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        output = server.stop()
    assert elapsed < 10
    assert "the shutdown did not finish within 0.5 seconds (shutdown_timeout)" in output, output
    assert "the on_shutdown hook tests.apps.hung_shutdown.hang was cancelled" in output
    assert "Application shutdown failed. Exiting." in output
