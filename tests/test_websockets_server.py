"""WebSockets on a real uvicorn server, spoken to by the `websockets` client library."""

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Server, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.apps.websocket_server:app", "--port", str(port)]
    running = Server([*args, "--ws-max-size", str(16 * 1024 * 1024)], port)
    try:
        running.wait_ready("/health")
        yield running
    finally:
        running.stop()


def ws_url(server: Server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_echo_with_a_subprotocol(server: Server) -> None:
    async def talk() -> tuple[str | None, list[str]]:
        async with connect(ws_url(server, "/echo"), subprotocols=["echo.v1"]) as ws:  # type: ignore[list-item]
            replies = []
            for text in ("one", "two", "é" * 1000):
                await ws.send(text)
                replies.append(await ws.recv())
            return ws.subprotocol, replies

    subprotocol, replies = run(talk())
    assert subprotocol == "echo.v1"
    assert replies == ["one", "two", "é" * 1000]


def test_typed_messages_and_cleanup_on_disconnect(server: Server) -> None:
    async def talk() -> Any:
        async with connect(ws_url(server, "/moves?name=ada")) as ws:
            await ws.send(json.dumps({"x": 1, "y": 2}))
            return json.loads(await ws.recv())

    assert run(talk()) == {"x": 2, "y": 1}
    deadline = time.monotonic() + 5
    while "ada" not in httpx.get(server.url + "/health").json()["cleanups"]:
        assert time.monotonic() < deadline, "the yield dependency was not cleaned up"
        time.sleep(0.05)


def test_an_invalid_message_gets_close_code_1007(server: Server) -> None:
    async def talk() -> ConnectionClosed:
        async with connect(ws_url(server, "/moves")) as ws:
            await ws.send(json.dumps({"x": "left"}))
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            return caught.value

    closed = run(talk())
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1007


def test_an_oversized_message_gets_1009_and_nothing_is_kept(server: Server) -> None:
    async def talk() -> ConnectionClosed:
        async with connect(ws_url(server, "/echo"), max_size=None) as ws:
            await ws.send("x" * (64 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            return caught.value

    closed = run(talk())
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1009


def test_a_silent_client_is_closed_with_1001(server: Server) -> None:
    async def talk() -> ConnectionClosed:
        async with connect(ws_url(server, "/echo")) as ws:
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            return caught.value

    closed = run(talk())
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1001


def test_invalid_handshake_parameters_are_refused_with_a_422_problem(server: Server) -> None:
    async def talk() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(ws_url(server, "/private?token=x")):
                pass
        return caught.value

    refused = run(talk())
    assert refused.response.status_code == 422
    assert refused.response.headers["content-type"] == "application/problem+json"
    problem = json.loads(refused.response.body)
    assert problem["errors"][0]["loc"] == ["query", "token"]


def test_an_unknown_path_is_refused_with_404(server: Server) -> None:
    async def talk() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(ws_url(server, "/nowhere")):
                pass
        return caught.value

    assert run(talk()).response.status_code == 404
