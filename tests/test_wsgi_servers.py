"""lanner.wsgi on real servers: gunicorn sync workers serving a lanner app, and uvicorn serving a
lanner app with a real Flask app mounted at ``/legacy``."""

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import Server, free_port

pytestmark = pytest.mark.slow


# -- gunicorn sync workers serving a lanner app through to_wsgi ---------------------------------


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wsgi") / "markers"


@pytest.fixture(scope="module")
def gunicorn(markers: Path) -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync"]
    args += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "--graceful-timeout", "10"]
    env = {**os.environ, "LANNER_WSGI_MARKERS": str(markers)}
    server = Server([*args, "tests.apps.wsgi_lanner:application"], port, env)
    try:
        server.wait_ready("/")
        yield server
    finally:
        server.stop()


def read_markers(markers: Path) -> list[str]:
    return markers.read_text().splitlines() if markers.exists() else []


def test_gunicorn_runs_startup_once_in_each_worker(gunicorn: Server, markers: Path) -> None:
    def get(_: int) -> dict[str, object]:
        # Each request holds its sync worker a while, so both workers get some.
        with httpx.Client(base_url=gunicorn.url, timeout=10) as client:
            client.get("/stream?n=2&delay=0.3").raise_for_status()
            answer: dict[str, object] = client.get("/").json()
            return answer

    answers: list[dict[str, object]] = []
    deadline = time.monotonic() + 15
    # The second worker may still be booting when the first answers: ask until both have.
    while len({answer["pid"] for answer in answers}) < 2 and time.monotonic() < deadline:
        with ThreadPoolExecutor(6) as pool:
            answers += pool.map(get, range(12))
    pids = {answer["pid"] for answer in answers}
    assert len(pids) == 2, "both workers should have served"
    assert all(answer["startups"] == 1 for answer in answers)
    assert all(answer["greeting"] == "hello from the lifespan" for answer in answers)
    startups = [line for line in read_markers(markers) if line.startswith("startup")]
    assert sorted(startups) == sorted(f"startup {pid}" for pid in pids)


def test_gunicorn_bodies_in_and_out(gunicorn: Server) -> None:
    body = os.urandom(2 * 1024 * 1024 // 3)
    response = httpx.post(gunicorn.url + "/echo", content=body, timeout=10)
    assert response.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert httpx.get(gunicorn.url + "/items/5?q=x").json() == {"id": 5, "q": "x"}
    missing = httpx.get(gunicorn.url + "/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_gunicorn_streams_a_lanner_response(gunicorn: Server) -> None:
    arrivals: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with httpx.stream("GET", gunicorn.url + "/stream?n=3&delay=0.5", timeout=10) as response:
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    assert b"".join(chunk for _, chunk in arrivals) == b"part 0\npart 1\npart 2\n"
    assert arrivals[0][0] < 0.4, f"the first chunk took {arrivals[0][0]:.2f}s"
    assert arrivals[-1][0] >= 1.0


def test_gunicorn_answers_a_websocket_with_501_not_a_hang(gunicorn: Server) -> None:
    async def handshake() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"ws://127.0.0.1:{gunicorn.port}/ws", open_timeout=5):
                pass
        return caught.value

    refused = asyncio.run(asyncio.wait_for(handshake(), 10))
    assert refused.response.status_code == 501
    assert b"ASGI server" in refused.response.body


def test_gunicorn_workers_shut_down_on_sigterm(gunicorn: Server, markers: Path) -> None:
    for _ in range(4):
        httpx.get(gunicorn.url + "/").raise_for_status()
    started = {line.split()[1] for line in read_markers(markers) if line.startswith("startup")}
    assert started
    gunicorn.process.terminate()
    assert gunicorn.process.wait(20) == 0, gunicorn.output()
    stopped = {line.split()[1] for line in read_markers(markers) if line.startswith("shutdown")}
    assert stopped == started, gunicorn.output()


def run_failing_gunicorn(tmp_path: Path, *extra: str) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    args += ["--no-control-socket", *extra, "tests.apps.wsgi_lanner:application"]
    env = {**os.environ, "LANNER_WSGI_FAIL_STARTUP": "1", "LANNER_WSGI_MARKERS": str(tmp_path / "markers")}
    return Server(args, port, env)


def test_gunicorn_a_failing_startup_answers_500_and_says_why(tmp_path: Path) -> None:
    server = run_failing_gunicorn(tmp_path)
    try:
        server.wait_ready("/")
        assert httpx.get(server.url + "/").status_code == 500
        assert httpx.get(server.url + "/").status_code == 500
    finally:
        output = server.stop()
    assert "WSGIStartupError" in output
    assert "the database refused the test's connection" in output
    assert len((tmp_path / "markers").read_text().splitlines()) == 1, "the startup is not retried"


def test_gunicorn_a_failing_startup_in_post_worker_init_stops_the_server(tmp_path: Path) -> None:
    config = tmp_path / "gunicorn_conf.py"
    config.write_text("def post_worker_init(worker):\n    worker.wsgi.startup()\n")
    server = run_failing_gunicorn(tmp_path, "--config", str(config))
    try:
        returncode = server.process.wait(30)
    finally:
        output = server.stop()
    assert returncode != 0
    assert "Worker failed to boot" in output
    assert "the database refused the test's connection" in output


# -- uvicorn serving a lanner app with the Flask app mounted ------------------------------------


@pytest.fixture(scope="module")
def uvicorn() -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.apps.wsgi_lanner:host", "--port", str(port)]
    server = Server(args, port)
    try:
        server.wait_ready("/")
        yield server
    finally:
        server.stop()


def test_uvicorn_flask_session_across_requests(uvicorn: Server) -> None:
    with httpx.Client(base_url=uvicorn.url, follow_redirects=True, timeout=10) as client:
        assert client.post("/legacy/login", data={"user": "grace"}).json() == {"user": "grace", "visits": 1}
        assert client.get("/legacy/whoami").json() == {"user": "grace", "visits": 2}
        streamed = client.get("/legacy/stream?n=2").text
        assert streamed == "chunk 0 for grace\nchunk 1 for grace\n"
    with httpx.Client(base_url=uvicorn.url, timeout=10) as stranger:
        assert stranger.get("/legacy/whoami").json() == {"user": None, "visits": 1}


def test_uvicorn_flask_generator_streams_chunk_by_chunk(uvicorn: Server) -> None:
    arrivals: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with httpx.stream("GET", uvicorn.url + "/legacy/stream?n=3&delay=0.5", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/plain")
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    body = b"".join(chunk for _, chunk in arrivals)
    assert body == b"chunk 0 for anonymous\nchunk 1 for anonymous\nchunk 2 for anonymous\n"
    assert arrivals[0][0] < 0.4, f"the first chunk took {arrivals[0][0]:.2f}s"
    assert len(arrivals) >= 3
    assert arrivals[-1][0] >= 1.0


def test_uvicorn_flask_error_pages_stay_its_own(uvicorn: Server) -> None:
    missing = httpx.get(uvicorn.url + "/legacy/nope")
    assert (missing.status_code, missing.text) == (404, "<h1>legacy 404</h1><p>/nope is not here</p>")
    broken = httpx.get(uvicorn.url + "/legacy/boom")
    assert broken.status_code == 500
    assert "legacy 500" in broken.text
    outside = httpx.get(uvicorn.url + "/nope")
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"


def test_uvicorn_flask_redirect_to_a_moved_route(uvicorn: Server) -> None:
    redirect = httpx.get(uvicorn.url + "/legacy/old-hello")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/legacy/hello"
    # /legacy/hello has moved to lanner: its route wins over the mount.
    assert httpx.get(uvicorn.url + "/legacy/old-hello", follow_redirects=True).json() == "hello from lanner"
    assert httpx.get(uvicorn.url + "/legacy/links").json()["item"] == "/legacy/items/7"


def test_uvicorn_flask_multipart_upload(uvicorn: Server) -> None:
    data = os.urandom(3 * 1024 * 1024)
    form = httpx.get(uvicorn.url + "/legacy/upload").text
    assert 'action="/legacy/upload"' in form
    response = httpx.post(
        uvicorn.url + "/legacy/upload",
        files={"file": ("scan.pdf", data, "application/pdf")},
        data={"title": "scan"},
        timeout=20,
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "scan.pdf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": "scan",
    }
