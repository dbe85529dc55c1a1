import pytest
from rooms import app

from lanner import WebSocketDisconnect
from lanner.testing import TestClient, WebSocketDenialResponse


def test_echo_a_stroke() -> None:
    with TestClient(app).websocket_connect("/rooms/1?name=ada") as ws:
        ws.send_json({"x": 1, "y": 2})
        assert ws.receive_json() == {"x": 1, "y": 2}


def test_an_invalid_message_closes_with_1007() -> None:
    with TestClient(app).websocket_connect("/rooms/1?name=ada") as ws:
        ws.send_json({"x": "left"})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1007


def test_a_bad_handshake_is_refused() -> None:
    client = TestClient(app)
    too_long = "x" * 21
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect(f"/rooms/1?name={too_long}"),
    ):
        pass  # the handshake is refused before the block runs
    assert refused.value.status_code == 422
    assert refused.value.json()["errors"][0]["loc"] == ["query", "name"]


def test_no_such_room() -> None:
    with (
        TestClient(app).websocket_connect("/rooms/101?name=ada") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (4004, "no room 101")
