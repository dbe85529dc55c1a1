"""The WebSocket connection object: messages, typed JSON, limits and close codes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from pydantic import BaseModel

from lanner import Lanner, WebSocket, WebSocketDisconnect, WebSocketState
from lanner.testing import TestClient
from lanner.websockets import CloseCode, WebSocketLimits


class Chat(BaseModel):
    text: str
    n: int


def echo_app(**options: Any) -> Lanner:
    app = Lanner(**options)

    @app.websocket("/text")
    async def text(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws.iter_text():
            await ws.send_text(message.upper())

    @app.websocket("/bytes")
    async def binary(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws.iter_bytes():
            await ws.send_bytes(message[::-1])

    @app.websocket("/json")
    async def json_echo(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws.iter_json():
            await ws.send_json({"got": message})

    @app.websocket("/typed")
    async def typed(ws: WebSocket) -> None:
        await ws.accept()
        async for chat in ws.iter_json(Chat):
            assert isinstance(chat, Chat)
            await ws.send_json(chat.model_copy(update={"n": chat.n + 1}))

    @app.websocket("/typed-reply", on_invalid="reply")
    async def typed_reply(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            chat = await ws.receive_json(Chat)
            await ws.send_json({"n": chat.n})

    return app


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(echo_app()) as client:
        yield client


def test_text_bytes_and_json_round_trip(client: TestClient) -> None:
    with client.websocket_connect("/text") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "HELLO"
        ws.send_text("élan")
        assert ws.receive_text() == "ÉLAN"
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"\x00\x01\x02")
        assert ws.receive_bytes() == b"\x02\x01\x00"
    with client.websocket_connect("/json") as ws:
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"got": {"a": [1, 2]}}
        ws.send_json({"b": None}, mode="binary")
        assert ws.receive_json() == {"got": {"b": None}}


def test_typed_messages_are_validated_and_models_are_sent_as_json(client: TestClient) -> None:
    with client.websocket_connect("/typed") as ws:
        ws.send_json({"text": "hi", "n": "41"})
        assert ws.receive_json() == {"text": "hi", "n": 42}


def test_an_invalid_typed_message_closes_with_1007_and_a_reason(client: TestClient) -> None:
    with client.websocket_connect("/typed") as ws:
        ws.send_json({"text": "hi", "n": "many"})
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1007
    assert caught.value.reason.startswith("n: Input should be a valid integer")


def test_malformed_json_closes_with_1007(client: TestClient) -> None:
    for path in ("/json", "/typed"):
        with client.websocket_connect(path) as ws:
            ws.send_text('{"text": ')
            with pytest.raises(WebSocketDisconnect) as caught:
                ws.receive_text()
        assert caught.value.code == 1007
        assert "Invalid JSON" in caught.value.reason


def test_nan_is_not_json(client: TestClient) -> None:
    with client.websocket_connect("/json") as ws:
        ws.send_text('{"x": NaN}')
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1007


def test_on_invalid_reply_answers_an_error_and_keeps_the_socket_open(client: TestClient) -> None:
    with client.websocket_connect("/typed-reply") as ws:
        ws.send_json({"text": "hi"})
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["detail"] == "n: Field required"
        assert error["errors"] == [{"type": "missing", "loc": ["message", "n"], "msg": "Field required"}]
        ws.send_text("not json")
        assert ws.receive_json()["errors"][0]["type"] == "json_invalid"
        ws.send_json({"text": "hi", "n": 3})
        assert ws.receive_json() == {"n": 3}


def test_a_binary_message_where_text_is_expected_closes_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/text") as ws:
        ws.send_bytes(b"raw")
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1003
    with client.websocket_connect("/bytes") as ws:
        ws.send_text("text")
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_bytes()
    assert caught.value.code == 1003


def test_a_message_over_the_app_limit_closes_with_1009() -> None:
    with TestClient(echo_app(max_message_size=10)) as client:
        with client.websocket_connect("/text") as ws:
            ws.send_text("0123456789")
            assert ws.receive_text() == "0123456789"
            ws.send_text("é" * 6)  # six characters, twelve bytes
            with pytest.raises(WebSocketDisconnect) as caught:
                ws.receive_text()
        assert caught.value.code == 1009
        with client.websocket_connect("/bytes") as ws:
            ws.send_bytes(b"x" * 11)
            with pytest.raises(WebSocketDisconnect) as caught:
                ws.receive_bytes()
        assert caught.value.code == 1009


def test_the_default_message_limit_is_one_mebibyte(client: TestClient) -> None:
    assert WebSocketLimits().max_message_size == 1_048_576
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"x" * 1_048_576)
        assert len(ws.receive_bytes()) == 1_048_576
        ws.send_bytes(b"x" * 1_048_577)
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_bytes()
    assert caught.value.code == 1009


def test_route_limits_override_the_app_s() -> None:
    app = Lanner(max_message_size=4)

    @app.websocket("/big", max_message_size=100, idle_timeout=0.05)
    async def big(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.receive_text()  # then nothing comes

    with TestClient(app) as client, client.websocket_connect("/big") as ws:
        ws.send_text("x" * 50)
        assert ws.receive_text() == "x" * 50
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1001
    assert "no message for 0.05 seconds" in caught.value.reason


def test_the_app_idle_timeout_closes_a_silent_client_with_1001() -> None:
    client = TestClient(echo_app(idle_timeout=0.05))
    with client.websocket_connect("/text") as ws, pytest.raises(WebSocketDisconnect) as caught:
        ws.receive_text()
    assert caught.value.code == 1001


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_message_size"):
        WebSocketLimits(max_message_size=0)
    with pytest.raises(ValueError, match="idle_timeout"):
        WebSocketLimits(idle_timeout=0)
    with pytest.raises(ValueError, match="max_send_queue"):
        WebSocketLimits(max_send_queue=0)
    with pytest.raises(ValueError, match="on_invalid"):
        WebSocketLimits(on_invalid="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_send_queue"):
        Lanner(max_send_queue=0)


def test_accept_with_subprotocol_and_headers_and_connection_details() -> None:
    app = Lanner()
    seen: dict[str, Any] = {}

    @app.websocket("/info/{room}")
    async def info(ws: WebSocket) -> None:
        seen["before"] = (ws.client_state, ws.application_state)
        await ws.accept(subprotocol="chat.v2", headers={"X-Server": "lanner"})
        seen["after"] = (ws.client_state, ws.application_state)
        ws.state.user = "ada"
        await ws.send_json(
            {
                "url": str(ws.url),
                "room": ws.path_params["room"],
                "q": ws.query_params.get("q"),
                "header": ws.headers.get("x-client"),
                "cookie": ws.cookies.get("sid"),
                "offered": ws.subprotocols,
                "user": ws.state.user,
                "client": list(ws.client or ()),
                "for": ws.url_for("info", room="b"),
            }
        )
        await ws.close(4000, "bye")
        await ws.close()  # twice is a no-op
        seen["closed"] = ws.application_state

    client = TestClient(app, cookies={"sid": "s1"})
    with client.websocket_connect(
        "/info/a?q=1", subprotocols=["chat.v1", "chat.v2"], headers={"X-Client": "t"}
    ) as ws:
        assert ws.accepted_subprotocol == "chat.v2"
        assert (b"x-server", b"lanner") in ws.extra_headers
        assert ws.receive_json() == {
            "url": "ws://testserver/info/a?q=1",
            "room": "a",
            "q": "1",
            "header": "t",
            "cookie": "s1",
            "offered": ["chat.v1", "chat.v2"],
            "user": "ada",
            "client": ["testclient", 50000],
            "for": "/info/b",
        }
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert (caught.value.code, caught.value.reason) == (4000, "bye")
    assert seen["before"] == (WebSocketState.CONNECTING, WebSocketState.CONNECTING)
    assert seen["after"] == (WebSocketState.CONNECTED, WebSocketState.CONNECTED)
    assert seen["closed"] is WebSocketState.DISCONNECTED


def test_closing_before_accept_refuses_the_handshake() -> None:
    app = Lanner()

    @app.websocket("/no")
    async def no(ws: WebSocket) -> None:
        await ws.close(1008, "go away")

    with pytest.raises(WebSocketDisconnect) as caught, TestClient(app).websocket_connect("/no"):
        pass
    assert (caught.value.code, caught.value.reason) == (1008, "go away")


def test_a_long_close_reason_is_cut_to_123_bytes() -> None:
    app = Lanner()

    @app.websocket("/long")
    async def long(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(4001, "é" * 100)

    with TestClient(app).websocket_connect("/long") as ws, pytest.raises(WebSocketDisconnect) as caught:
        ws.receive_text()
    assert len(caught.value.reason.encode()) <= 123
    assert caught.value.reason.endswith("...")


def test_receiving_before_accept_or_after_disconnect_is_a_programming_error() -> None:
    app = Lanner()
    errors: list[str] = []

    @app.websocket("/early")
    async def early(ws: WebSocket) -> None:
        try:
            await ws.receive_text()
        except RuntimeError as exc:
            errors.append(str(exc))
        await ws.accept()
        try:
            await ws.accept()
        except RuntimeError as exc:
            errors.append(str(exc))
        with contextlib.suppress(WebSocketDisconnect):
            await ws.receive_text()
        try:
            await ws.receive()
        except RuntimeError as exc:
            errors.append(str(exc))

    with TestClient(app).websocket_connect("/early"):
        pass
    assert errors == [
        "the WebSocket is not accepted: call `await websocket.accept()` first",
        "accept() on a WebSocket that is connected",
        "receive() after the client disconnected",
    ]


def test_a_client_that_disconnects_raises_websocket_disconnect_with_its_code() -> None:
    app = Lanner()
    codes: list[int] = []
    done = asyncio.Event()

    @app.websocket("/wait")
    async def wait(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            codes.append(exc.code)
        done.set()

    with TestClient(app) as client, client.websocket_connect("/wait") as ws:
        ws.close(4321)
    assert codes == [4321]


def test_json_sends_models_datetimes_and_binary() -> None:
    import datetime
    import uuid

    app = Lanner()

    @app.websocket("/j")
    async def j(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"at": datetime.date(2026, 12, 4), "id": uuid.UUID(int=1)})
        await ws.send_json(Chat(text="a", n=1), mode="binary")

    with TestClient(app).websocket_connect("/j") as ws:
        assert ws.receive_json() == {"at": "2026-12-04", "id": "00000000-0000-0000-0000-000000000001"}
        assert ws.receive_bytes() == b'{"text":"a","n":1}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_too_many_waiting_sends_close_a_slow_client_with_1008() -> None:
    release = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        if message["type"] == "websocket.send":
            await release.wait()
        sent.append(message)

    scope = {"type": "websocket", "path": "/", "headers": []}
    ws = WebSocket(scope, receive, send, WebSocketLimits(max_send_queue=2))
    await ws.accept()
    waiting = [asyncio.ensure_future(ws.send_text(str(i))) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(WebSocketDisconnect) as caught:
        await ws.send_text("one too many")
    assert caught.value.code == CloseCode.POLICY_VIOLATION
    assert ws.application_state is WebSocketState.DISCONNECTED
    release.set()
    await asyncio.gather(*waiting)
    for _ in range(5):
        await asyncio.sleep(0)
    assert {
        "type": "websocket.close",
        "code": 1008,
        "reason": "send queue full: the client reads too slowly",
    } in sent
    assert [m.get("text") for m in sent if m["type"] == "websocket.send"] == ["0", "1"]


@pytest.mark.anyio
async def test_a_send_to_a_gone_client_raises_websocket_disconnect_1006() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        if message["type"] == "websocket.send":
            raise OSError("connection reset")

    ws = WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as caught:
        await ws.send_text("x")
    assert caught.value.code == 1006
    assert ws.client_state is WebSocketState.DISCONNECTED
    await ws.close()  # nothing to send to: no error


def test_websocket_disconnect_describes_itself() -> None:
    assert str(WebSocketDisconnect(1001, "idle")) == "WebSocket closed with code 1001: idle"
    assert str(WebSocketDisconnect()) == "WebSocket closed with code 1000"


def test_a_client_that_keeps_talking_is_never_idle() -> None:
    import time

    client = TestClient(echo_app(idle_timeout=0.2))
    with client.websocket_connect("/text") as ws:
        deadline = time.monotonic() + 0.8  # four timeouts
        while time.monotonic() < deadline:
            ws.send_text("still here")
            assert ws.receive_text() == "STILL HERE"
            time.sleep(0.02)


class FakeChannel:
    """A scripted client for driving a `WebSocket` directly; it answers a close as a server does."""

    def __init__(self, *incoming: dict[str, Any], fail_send: bool = False) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in incoming:
            self.incoming.put_nowait(message)
        self.sent: list[dict[str, Any]] = []
        self.fail_send = fail_send

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: Any) -> None:
        if self.fail_send:
            raise OSError("gone")
        self.sent.append(message)
        if message["type"] == "websocket.close":
            self.incoming.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    def socket(self, **limits: Any) -> WebSocket:
        scope = {"type": "websocket", "path": "/", "headers": [(b"cookie", b"a=1")], "query_string": b"q=2"}
        return WebSocket(scope, self.receive, self.send, WebSocketLimits(**limits))


@pytest.mark.anyio
async def test_a_client_that_leaves_during_the_handshake() -> None:
    channel = FakeChannel({"type": "websocket.disconnect", "code": 1001})
    ws = channel.socket()
    with pytest.raises(WebSocketDisconnect) as caught:
        await ws.accept()
    assert caught.value.code == 1001
    assert ws.client_state is WebSocketState.DISCONNECTED
    await ws.close()  # nobody to tell
    assert channel.sent == []


@pytest.mark.anyio
async def test_raw_receive_tracks_the_states_and_parsed_parts_are_cached() -> None:
    channel = FakeChannel({"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000})
    ws = channel.socket()
    assert (await ws.receive())["type"] == "websocket.connect"
    assert ws.client_state is WebSocketState.CONNECTED
    assert ws.query_params is ws.query_params
    assert ws.cookies is ws.cookies and ws.cookies == {"a": "1"}
    assert (await ws.receive())["type"] == "websocket.disconnect"
    assert ws.client_state is ws.application_state is WebSocketState.DISCONNECTED


@pytest.mark.anyio
async def test_a_close_that_cannot_be_sent_marks_the_client_gone() -> None:
    channel = FakeChannel({"type": "websocket.connect"})
    ws = channel.socket()
    await ws.accept()
    channel.fail_send = True
    await ws.close(1000)
    assert ws.client_state is WebSocketState.DISCONNECTED
    ws._close_soon(1008, "again")  # already closed: nothing more to do
    assert ws._closed_by == (1000, "")


@pytest.mark.anyio
async def test_after_an_idle_close_every_receive_says_why() -> None:
    channel = FakeChannel({"type": "websocket.connect"})
    ws = channel.socket(idle_timeout=0.02)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as caught:
        await asyncio.wait_for(ws.receive_text(), 5.0)
    assert (caught.value.code, caught.value.reason) == (1001, "no message for 0.02 seconds")
    # The close frame went out from its own task, and later receives report the same reason.
    assert channel.sent[-1]["code"] == 1001
    with pytest.raises(WebSocketDisconnect) as again:
        await ws.receive_text()
    assert again.value.code == 1001
    ws.release()


@pytest.mark.anyio
async def test_a_close_frame_that_fails_in_the_background_is_quiet() -> None:
    channel = FakeChannel({"type": "websocket.connect"})
    ws = channel.socket()
    await ws.accept()
    channel.fail_send = True
    ws._close_soon(1008, "slow")
    for _ in range(3):
        await asyncio.sleep(0)
    assert ws._closed_by == (1008, "slow")


def test_iter_text_closes_on_a_binary_message_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/text") as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "OK"
        ws.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1003


def test_accept_takes_header_pairs_of_bytes_too() -> None:
    app = Lanner()

    @app.websocket("/h")
    async def h(ws: WebSocket) -> None:
        await ws.accept(headers=[(b"X-Raw", b"1"), ("X-Text", "2")])
        await ws.close()

    with TestClient(app).websocket_connect("/h") as ws:
        assert ws.extra_headers == [(b"x-raw", b"1"), (b"x-text", b"2")]


def test_a_send_after_the_close_says_why_instead_of_reaching_the_server() -> None:
    app = Lanner()
    outcomes: list[tuple[int, str]] = []

    @app.websocket("/bye")
    async def bye(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(4001, "done")
        for attempt in (ws.send_text("late"), ws.receive_text()):
            try:
                await attempt
            except WebSocketDisconnect as exc:
                outcomes.append((exc.code, exc.reason))

    with TestClient(app).websocket_connect("/bye") as ws, pytest.raises(WebSocketDisconnect):
        ws.receive_text()
    assert outcomes == [(4001, "done"), (4001, "done")]


def test_a_push_only_handler_ends_when_the_test_client_leaves() -> None:
    app = Lanner()
    ended: list[int] = []

    @app.websocket("/push")
    async def push(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(0.001)
        except WebSocketDisconnect as exc:
            ended.append(exc.code)

    with TestClient(app).websocket_connect("/push") as ws:
        assert ws.receive_text() == "tick"
    assert ended == [1006]


def test_close_codes_an_application_may_not_send_are_refused() -> None:
    from lanner import WebSocketException

    for code in (999, 1004, 1005, 1006, 1015, 2000, 5000):
        with pytest.raises(ValueError, match="not a close code"):
            WebSocketException(code)
    for code in (1000, 1011, 1014, 3000, 4999):
        assert WebSocketException(code).code == code


@pytest.mark.anyio
async def test_close_refuses_a_reserved_code_before_sending_anything() -> None:
    channel = FakeChannel({"type": "websocket.connect"})
    ws = channel.socket()
    await ws.accept()
    with pytest.raises(ValueError):
        await ws.close(1006)
    assert ws.application_state is WebSocketState.CONNECTED


@pytest.mark.anyio
async def test_accept_refuses_headers_that_would_split_the_answer() -> None:
    channel = FakeChannel({"type": "websocket.connect"})
    ws = channel.socket()
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await ws.accept(headers={"X-A": "1\r\nSet-Cookie: admin=1"})
    assert channel.sent == []


def test_raw_receive_is_bounded_by_the_message_limit() -> None:
    app = Lanner(max_message_size=10)

    @app.websocket("/raw")
    async def raw(ws: WebSocket) -> None:
        await ws.accept()
        message = await ws.receive()
        await ws.send_text(str(len(message.get("bytes") or b"")))

    with TestClient(app).websocket_connect("/raw") as ws:
        ws.send_bytes(b"x" * 11)
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1009


def test_malformed_json_is_described_in_words(client: TestClient) -> None:
    with client.websocket_connect("/typed-reply") as ws:
        ws.send_text("nope")
        detail = ws.receive_json()["detail"]
    assert detail.startswith("Invalid JSON: expected ident at line 1 column 2")
