from ticks import GONE, app

from lanner.testing import TestClient


def test_read_two_ticks_then_leave() -> None:
    GONE.clear()
    client = TestClient(app)
    with client.stream("GET", "/ticks", headers={"Last-Event-ID": "41"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert [next(lines) for _ in range(4)] == ["event: tick", "id: 42", 'data: {"n":42}', ""]
        assert [next(lines) for _ in range(3)] == ["event: tick", "id: 43", 'data: {"n":43}']
    # Leaving the block disconnected the client and waited for the app: the generator is closed.
    assert len(GONE) == 1


def test_a_bad_last_event_id_is_a_422() -> None:
    assert TestClient(app).get("/ticks", headers={"Last-Event-ID": "-1"}).status_code == 422
