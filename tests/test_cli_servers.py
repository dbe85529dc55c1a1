"""`lanner run` on real servers: uvicorn, granian, gunicorn (ASGI and --wsgi), and their graceful shutdown.

Every server serves tests/apps/slow_app.py, which leaves marker files: one per worker when its
app-scoped dependency is created (at startup) and when it is cleaned up (at shutdown).
"""

import asyncio
import importlib.util
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import LANNER, Server, free_port

pytestmark = pytest.mark.slow

APP = "tests/apps/slow_app.py"  # a file path, as a team would type it
REQUESTS = 50
PROXY_OPTIONS = ["--root-path", "/api", "--proxy-headers", "--forwarded-allow-ips=127.0.0.1"]
# name: (options of `lanner run`, modules the server needs)
SERVERS = {
    "uvicorn": ([], ()),
    "granian": (["--server", "granian"], ("granian",)),
    "gunicorn": (["--server", "gunicorn"], ("gunicorn", "uvicorn_worker")),
    "gunicorn-wsgi": (["--server", "gunicorn", "--wsgi"], ("gunicorn", "a2wsgi", "lanner.wsgi")),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start(folder: Path, *options: str) -> Server:
    """Start `lanner run` on the slow app; its markers go to `folder`."""
    port = free_port()
    runtime = folder / "runtime"
    runtime.mkdir()
    # gunicorn (>= 25) opens a control socket in $XDG_RUNTIME_DIR: one per server, not one per user.
    env = {**os.environ, "LANNER_MARKERS": str(folder), "XDG_RUNTIME_DIR": str(runtime)}
    server = Server([*LANNER, "run", APP, *options, "--port", str(port)], port, env)
    try:
        server.wait_ready("/")
    except BaseException:
        print(server.stop())
        raise
    return server


def markers(folder: Path, kind: str) -> dict[int, list[str]]:
    """The lines of each worker's `kind` marker file, by worker pid."""
    return {
        int(path.name.removeprefix(f"{kind}-")): path.read_text().splitlines()
        for path in folder.glob(f"{kind}-*")
    }


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        await asyncio.sleep(0.02)


async def refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as fresh:
            await fresh.get(url + "/")
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        pass  # accepted just before the listener closed, then dropped
    return False


async def exit_code(server: Server, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while server.process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return server.process.poll()


@pytest.mark.anyio
async def test_sigterm_lets_50_requests_finish_on_two_uvicorn_workers(tmp_path: Path) -> None:
    server = start(tmp_path, "--workers", "2", "--timeout-graceful-shutdown", "10")
    try:
        await wait_for(lambda: len(markers(tmp_path, "started")) == 2, "both workers did not start")
        limits = httpx.Limits(max_connections=REQUESTS + 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            calls = [asyncio.create_task(client.get("/slow", params={"i": i})) for i in range(REQUESTS)]
            await wait_for(
                lambda: len(list(tmp_path.glob("arrived-*"))) == REQUESTS,
                f"{REQUESTS} requests did not reach the handler",
            )
            server.process.send_signal(signal.SIGTERM)  # to `lanner run` itself, as a process manager does
            deadline = time.monotonic() + 5
            while not await refused(server.url):
                assert time.monotonic() < deadline, "new connections were still accepted after SIGTERM"
                await asyncio.sleep(0.02)
            # The listener closed while the slow requests were still being served.
            assert not all(call.done() for call in calls)
            responses = await asyncio.gather(*calls, return_exceptions=True)
        failures = [r for r in responses if not isinstance(r, httpx.Response) or r.status_code != 200]
        assert failures == []
        assert await exit_code(server, timeout=15) == 0
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    bodies = [r.json() for r in responses if isinstance(r, httpx.Response)]
    assert sorted(body["i"] for body in bodies) == list(range(REQUESTS))
    started = markers(tmp_path, "started")
    assert len(started) == 2
    assert server.process.pid not in started  # workers are processes of their own
    assert {body["worker"] for body in bodies} <= {f"worker {pid}" for pid in started}
    # Each worker cleaned its app-scoped dependency up once, at its own shutdown.
    assert markers(tmp_path, "cleanup") == {pid: ["cleaned up"] for pid in started}
    request_cleanups = [line for lines in markers(tmp_path, "requests").values() for line in lines]
    assert sorted(request_cleanups) == sorted(f"request {i}" for i in range(REQUESTS))


@pytest.fixture(scope="module", params=list(SERVERS))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    """Each server in turn, two workers, behind a proxy that strips /api and sends X-Forwarded-*."""
    options, modules = SERVERS[request.param]
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    folder = tmp_path_factory.mktemp(request.param)
    server = start(folder, *options, "--workers", "2", *PROXY_OPTIONS)
    yield server, folder
    server.stop()


def test_the_server_answers(served: tuple[Server, Path]) -> None:
    server, _ = served
    assert httpx.get(server.url + "/").json() == "up"
    body = httpx.get(server.url + "/slow", params={"i": 7}, timeout=10).json()
    assert body["i"] == 7
    assert body["worker"].startswith("worker ")


def test_the_root_path_reaches_the_app(served: tuple[Server, Path]) -> None:
    server, _ = served
    body = httpx.get(server.url + "/whoami").json()
    assert body["root_path"] == "/api"
    assert body["url"] == "/api/whoami"


def test_a_trusted_proxy_names_the_client(served: tuple[Server, Path]) -> None:
    server, _ = served
    assert httpx.get(server.url + "/whoami").json()["client"] == "127.0.0.1"
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    body = httpx.get(server.url + "/whoami", headers=forwarded).json()
    assert (body["client"], body["scheme"]) == ("203.0.113.7", "https")


@pytest.mark.anyio
async def test_sigterm_finishes_requests_and_cleans_up_each_worker_once(served: tuple[Server, Path]) -> None:
    # Last of the tests on `served`: it stops the server. Two slow requests: one per gunicorn
    # sync worker, which serves one at a time.
    server, folder = served
    started = markers(folder, "started")
    assert len(started) == 2  # the lifespan ran at each worker's startup
    before = len(list(folder.glob("arrived-*")))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        calls = [asyncio.create_task(client.get("/slow", params={"i": 100 + i})) for i in range(2)]
        await wait_for(lambda: len(list(folder.glob("arrived-*"))) == before + 2, "requests did not arrive")
        server.process.send_signal(signal.SIGTERM)
        responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200, 200]
    assert await exit_code(server, timeout=15) == 0
    assert markers(folder, "cleanup") == {pid: ["cleaned up"] for pid in started}
    assert "Traceback" not in server.output()
