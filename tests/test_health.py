"""app.health() and app.ready() (lanner.observability.health)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lanner import Lanner
from lanner.observability.health import Lifecycle
from lanner.testing import TestClient
from lanner.types import Message


async def get(app: Lanner, path: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI interface, without the test client (usable mid-lifespan)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [], "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": "",
        "http_version": "1.1", "asgi": {"version": "3.0"},
    }  # fmt: skip
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_liveness_is_always_ok_and_undocumented() -> None:
    app = Lanner()
    app.health()
    with TestClient(app) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"
        assert client.head("/healthz").status_code == 200
        assert "/healthz" not in client.get("/openapi.json").json()["paths"]


def test_readiness_runs_every_check_and_names_the_failures(caplog: pytest.LogCaptureFixture) -> None:
    state = {"db": True}

    async def database() -> None:
        if not state["db"]:
            raise ConnectionError("connection refused")

    def cache() -> bool:  # sync checks run in the thread pool
        return True

    app = Lanner()
    app.ready("/readyz", checks=[database, cache])
    with TestClient(app) as client:
        ok = client.get("/readyz")
        assert ok.status_code == 200
        assert ok.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}
        state["db"] = False
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"] == {"database": "ConnectionError", "cache": "ok"}
        assert "connection refused" not in down.text
        assert down.json()["status"] == "unavailable"
    assert "database failed: ConnectionError: connection refused" in caplog.text


def test_a_check_returning_false_or_hanging_fails_within_the_timeout() -> None:
    async def hangs() -> None:
        await asyncio.sleep(30)

    async def says_no() -> bool:
        return False

    app = Lanner()
    app.ready("/readyz", checks=[hangs, says_no], timeout=0.2)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"hangs": "timed out after 0.2s", "says_no": "failed"}


def test_readiness_is_false_during_startup_and_shutdown() -> None:
    seen: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        seen["startup"] = (app.lifecycle, await get(app, "/readyz"))
        yield
        seen["shutdown"] = (app.lifecycle, await get(app, "/readyz"))

    app = Lanner(lifespan=lifespan)
    app.ready()
    app.health()
    assert app.lifecycle is Lifecycle.IDLE
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        assert app.lifecycle is Lifecycle.RUNNING
    status, body = seen["startup"][1]
    assert seen["startup"][0] is Lifecycle.STARTING and status == 503 and b'"reason":"starting"' in body
    status, body = seen["shutdown"][1]
    assert seen["shutdown"][0] is Lifecycle.STOPPING and status == 503 and b'"reason":"stopping"' in body


@pytest.mark.anyio
async def test_without_a_lifespan_the_checks_decide(anyio_backend: str) -> None:
    app = Lanner()
    app.ready()
    assert await get(app, "/readyz") == (200, b'{"status":"ready","checks":{}}')


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
