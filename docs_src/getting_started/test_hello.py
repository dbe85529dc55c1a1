from hello import app

from lanner.testing import TestClient


def test_hello() -> None:
    client = TestClient(app)
    assert client.get("/").json() == {"message": "Hello, world"}
    assert client.get("/", params={"name": "Ada"}).json() == {"message": "Hello, Ada"}
