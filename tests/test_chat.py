"""examples/chat: rooms through TestClient (memory and Redis channels), then two real uvicorn
workers sharing a room through a real redis-server."""

import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from websockets.asyncio.client import connect

from lanner import WebSocketDisconnect
from lanner.testing import TestClient, WebSocketDenialResponse
from tests.conftest import Server, free_port
from tests.redis_support import running_redis

APP_FILE = Path(__file__).resolve().parent.parent / "examples" / "chat" / "app.py"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


def load_worker(name: str) -> ModuleType:
    """A fresh copy of the app module, as each worker process has its own."""
    spec = importlib.util.spec_from_file_location(f"chat_worker_{name}", APP_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(kind: str, user: str, text: str = "") -> dict[str, str]:
    return {"kind": kind, "user": user, "text": text}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("CHAT_CHANNELS", raising=False)
    with TestClient(load_worker("memory").app) as client:
        yield client


def test_the_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "new WebSocket(" in page.text


def test_members_of_a_room_see_each_others_messages_and_no_other_room(client: TestClient) -> None:
    with client.websocket_connect("/ws/lobby?name=ada") as ada:
        assert ada.receive_json() == event("joined", "ada")
        with client.websocket_connect("/ws/lobby?name=bob") as bob:
            assert bob.receive_json() == event("joined", "bob")
            assert ada.receive_json() == event("joined", "bob")
            with client.websocket_connect("/ws/garden?name=cy") as cy:
                assert cy.receive_json() == event("joined", "cy")
                cy.send_text("elsewhere")
                assert cy.receive_json() == event("message", "cy", "elsewhere")
            ada.send_text("hi")
            assert ada.receive_json() == event("message", "ada", "hi")
            assert bob.receive_json() == event("message", "ada", "hi")
            bob.send_text("hello ☃")
            assert bob.receive_json() == event("message", "bob", "hello ☃")
        # Nothing from the garden came in between.
        assert ada.receive_json() == event("message", "bob", "hello ☃")
        assert ada.receive_json() == event("left", "bob")


def test_bad_room_names_are_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws/no%20spaces"):
        pass
    assert refused.value.status_code == 422
    assert refused.value.json()["errors"][0]["loc"] == ["path", "room"]


def test_two_workers_share_rooms_through_redis(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_CHANNELS", redis_url)
    one, two = TestClient(load_worker("one").app), TestClient(load_worker("two").app)
    with one, two, one.websocket_connect("/ws/shared?name=ada") as ada:
        assert ada.receive_json() == event("joined", "ada")
        with two.websocket_connect("/ws/shared?name=bob") as bob:
            assert bob.receive_json() == event("joined", "bob")
            assert ada.receive_json() == event("joined", "bob")
            bob.send_text("from worker two")
            assert ada.receive_json() == event("message", "bob", "from worker two")
            assert bob.receive_json() == event("message", "bob", "from worker two")
        assert ada.receive_json() == event("left", "bob")


def test_a_lost_redis_connection_closes_the_sockets_with_1011(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_CHANNELS", redis_url)
    direct: redis.Redis = redis.Redis.from_url(redis_url)
    try:
        with TestClient(load_worker("lost").app) as client, client.websocket_connect("/ws/x?name=ada") as ada:
            assert ada.receive_json() == event("joined", "ada")
            assert direct.client_kill_filter(_type="pubsub") >= 1
            with pytest.raises(WebSocketDisconnect) as closed:
                ada.receive_json()
            assert closed.value.code == 1011
            assert closed.value.reason == "the chat backend is unavailable, try again"
    finally:
        direct.close()


# -- two real uvicorn workers ------------------------------------------------------------------


@pytest.mark.slow
def test_two_uvicorn_workers_share_a_room(redis_url: str) -> None:
    env = {**os.environ, "CHAT_CHANNELS": redis_url}
    servers = []
    try:
        # Two processes on two ports: which worker each client reaches is then certain.
        for _ in range(2):
            port = free_port()
            args = [sys.executable, "-m", "uvicorn", "examples.chat.app:app", "--port", str(port)]
            servers.append(Server(args, port, env=env))
        for server in servers:
            server.wait_ready("/")

        async def talk() -> tuple[list[Any], list[Any]]:
            one, two = (f"ws://127.0.0.1:{server.port}/ws/lobby" for server in servers)
            async with connect(one + "?name=ada") as ada:
                seen_by_ada = [json.loads(await ada.recv())]
                async with connect(two + "?name=bob") as bob:
                    seen_by_bob = [json.loads(await bob.recv())]
                    seen_by_ada.append(json.loads(await ada.recv()))
                    await bob.send("hello from worker two")
                    seen_by_ada.append(json.loads(await ada.recv()))
                    await ada.send("hello from worker one")
                    seen_by_bob += [json.loads(await bob.recv()) for _ in range(2)]
                seen_by_ada += [json.loads(await ada.recv()) for _ in range(2)]
            return seen_by_ada, seen_by_bob

        seen_by_ada, seen_by_bob = asyncio.run(asyncio.wait_for(talk(), 20))
        assert seen_by_ada == [
            event("joined", "ada"),
            event("joined", "bob"),
            event("message", "bob", "hello from worker two"),
            event("message", "ada", "hello from worker one"),
            event("left", "bob"),
        ]
        assert seen_by_bob == [
            event("joined", "bob"),
            event("message", "bob", "hello from worker two"),
            event("message", "ada", "hello from worker one"),
        ]
    finally:
        outputs = [server.stop() for server in servers]
    for output in outputs:
        assert "Traceback" not in output, output
