import pytest
from tasks import Store, app, get_store

from lanner.testing import TestClient


@pytest.fixture
def client():
    store = Store()  # a fresh, empty store for each test
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()


def test_create_then_finish(client: TestClient) -> None:
    created = client.post("/tasks", json={"title": "Write the docs"})
    assert created.status_code == 201
    assert created.json() == {"title": "Write the docs", "done": False, "id": 1}
    assert client.patch("/tasks/1").json()["done"] is True
    assert client.get("/tasks", params={"done": False}).json() == []


def test_errors(client: TestClient) -> None:
    assert client.get("/tasks/7").status_code == 404
    empty = client.post("/tasks", json={"title": ""})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["loc"] == ["body", "title"]
