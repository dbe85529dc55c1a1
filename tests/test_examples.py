"""Every file in examples/ is exercised here, so the README never shows code that does not work."""

import importlib.util
from pathlib import Path

import pytest

from lanner.testing import TestClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    # batching: tests/test_batching.py
    tested = {"auth_jwt", "batching", "demo", "drawing", "production", "quickstart", "secure"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested
    # Example packages have a test module of their own.
    packages = {p.parent.name for p in EXAMPLES.glob("*/__init__.py")}
    assert packages == {"bookshelf", "chat", "embedder", "sse"}
    for name in packages:
        assert (Path(__file__).parent / f"test_{name}.py").is_file()


def test_quickstart():
    client = TestClient(load("quickstart").app)
    assert client.get("/items/5", params={"q": "x"}).json() == {"item_id": 5, "q": "x"}
    assert client.get("/items/five").status_code == 404
    too_long = client.get("/items/5", params={"q": "x" * 51})
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["loc"] == ["query", "q"]
    created = client.post("/items", json={"name": "pen", "price": 1.5, "secret": 1})
    assert created.status_code == 201
    assert created.json() == {"name": "pen", "price": 1.5}
    assert client.get("/hello").json() == {"message": "Hello, world"}


@pytest.fixture
def demo():
    module = load("demo")
    with TestClient(module.app) as client:
        yield module, client


def test_demo_home_page(demo):
    _, client = demo
    page = client.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<li>Dune (1965)</li>" in page.text


def test_demo_home_page_escapes_what_was_posted(demo):
    _, client = demo
    title = "<script>alert(1)</script>"
    added = client.post(
        "/books", json={"title": title, "author": "Mallory", "year": 2024}, headers={"X-API-Key": "secret"}
    )
    assert added.status_code == 201
    page = client.get("/").text
    assert "<script>" not in page
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt; (2024)</li>" in page


def test_demo_lists_and_filters(demo):
    _, client = demo
    assert [b["title"] for b in client.get("/books").json()] == ["Dune", "Emma"]
    assert [b["title"] for b in client.get("/books", params={"author": "Jane Austen"}).json()] == [
        "Emma"
    ]
    assert client.get("/books", params={"limit": 101}).status_code == 422
    assert client.get("/books/2").json()["author"] == "Jane Austen"
    missing = client.get("/books/99")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No book 99"


def test_demo_add_needs_key_and_logs_in_background(demo):
    module, client = demo
    book = {"title": "Beloved", "author": "Toni Morrison", "year": 1987}
    denied = client.post("/books", json=book)
    assert denied.status_code == 422  # the header is required
    wrong = client.post("/books", json=book, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "ApiKey"
    created = client.post("/books", json=book, headers={"x-api-key": "secret"})
    assert created.status_code == 201
    assert created.json()["id"] == 3
    assert module.SHELF.log == ["added 3"]
    invalid = client.post("/books", json={**book, "year": -1}, headers={"x-api-key": "secret"})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"] == ["body", "year"]


def test_secure():
    app = load("secure").app
    client = TestClient(app)
    ann = {"authorization": "Bearer token-ann"}
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/me", headers=ann).json() == {"name": "ann"}
    missing = client.get("/me")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = client.get("/me", headers={"authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "Unknown token"
    assert client.get("/me", headers={"authorization": "Basic dG9rZW4tYW5u"}).status_code == 401
    assert client.post("/notes", json={"text": "call mum"}, headers=ann).status_code == 201
    assert client.get("/notes", headers=ann).json() == ["buy milk", "call mum"]
    assert client.get("/notes", headers={"authorization": "Bearer token-bob"}).json() == []
    assert client.get("/stats", headers=ann).status_code == 401
    wrong_key = client.get("/stats", headers={"x-api-key": "guess"})
    assert wrong_key.status_code == 401
    assert wrong_key.headers["www-authenticate"] == "APIKey"
    assert client.get("/stats", headers={"x-api-key": "service-key"}).json() == {"users": 2, "notes": 2}
    doc = app.openapi()
    assert set(doc["components"]["securitySchemes"]) == {"HTTPBearer", "ServiceKey"}
    assert doc["paths"]["/me"]["get"]["security"] == [{"HTTPBearer": []}]
    assert doc["paths"]["/stats"]["get"]["security"] == [{"ServiceKey": []}]
    assert "security" not in doc["paths"]["/health"]["get"]


def test_auth_jwt():
    module = load("auth_jwt")
    client = TestClient(module.app)
    assert client.post("/token", data={"username": "ann", "password": "nope"}).status_code == 400
    assert client.post("/token", data={"username": "nobody", "password": "x"}).status_code == 400
    bob = client.post("/token", data={"username": "bob", "password": "builder"}).json()
    assert (bob["token_type"], bob["scope"]) == ("bearer", "notes:read")
    headers = {"authorization": f"Bearer {bob['access_token']}"}
    assert client.get("/me", headers=headers).json() == {"username": "bob", "scopes": ["notes:read"]}
    assert client.get("/notes", headers=headers).json() == []
    denied = client.post("/notes", json={"text": "hi"}, headers=headers)
    assert denied.status_code == 403
    assert 'scope="notes:write"' in denied.headers["www-authenticate"]
    ann = client.post("/token", data={"username": "ann", "password": "wonderland"}).json()
    headers = {"authorization": f"Bearer {ann['access_token']}"}
    assert client.post("/notes", json={"text": "hi"}, headers=headers).json() == ["buy milk", "hi"]
    assert client.get("/me").headers["www-authenticate"] == "Bearer"
    doc = client.get("/openapi.json").json()
    assert doc["paths"]["/notes"]["post"]["security"] == [{"JWTAuth": ["notes:write"]}]


def test_drawing_example():
    from lanner import WebSocketDisconnect
    from lanner.testing import WebSocketDenialResponse

    module = load("drawing")
    client = TestClient(module.app)
    with client.websocket_connect("/rooms/1?name=ada") as ws:
        ws.send_json({"kind": "dot", "x": 1, "y": 2})
        assert ws.receive_json() == {"number": 1, "by": "ada"}
        ws.send_json({"kind": "dot", "x": 5000, "y": 2})
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["errors"][0]["loc"] == ["message", "x"]
        ws.send_json({"kind": "line", "x": 3, "y": 4})
        assert ws.receive_json() == {"number": 2, "by": "ada"}
    assert len(module.boards[1]) == 2
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/rooms/1"):
        pass
    assert refused.value.status_code == 422
    with client.websocket_connect("/rooms/101?name=bob") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4004, "no room 101")
    assert 101 not in module.boards  # the dependency's cleanup ran


def test_production():
    app = load("production").app
    with TestClient(app) as client:
        probe = client.get("/healthz")
        assert probe.status_code == 200
        assert probe.headers["x-content-type-options"] == "nosniff"
        assert probe.headers["content-security-policy"] == "default-src 'none'"
        assert len(probe.headers["x-request-id"]) == 36
        assert client.get("/healthz", headers={"host": "evil.example.org"}).status_code == 400
        preflight = {"access-control-request-method": "GET"}
        good = client.options("/reports", headers={"origin": "https://app.example.com", **preflight})
        assert good.headers["access-control-allow-origin"] == "https://app.example.com"
        bad = client.options("/reports", headers={"origin": "https://evil.example", **preflight})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers

        wrong = {"username": "ann", "password": "guess"}
        assert [client.post("/token", data=wrong).status_code for _ in range(5)] == [400] * 5
        limited = client.post("/token", data={"username": "ann", "password": "wonderland"})
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) > 0
        assert "ratelimit-policy" in limited.headers

    app = load("production").app  # a fresh memory store
    with TestClient(app) as client:
        token = client.post("/token", data={"username": "ann", "password": "wonderland"}).json()
        headers = {"authorization": f"Bearer {token['access_token']}", "accept-encoding": "gzip"}
        reports = client.get("/reports", headers=headers)
        assert reports.status_code == 200
        assert reports.headers["content-encoding"] == "gzip"
        assert reports.json()[0] == {"owner": "ann", "title": "Q3"}
        export = client.get("/reports/export", headers=headers)
        assert export.status_code == 200 and "content-encoding" not in export.headers
        assert export.text.startswith("owner,title\nann,Q3\n")
        assert client.get("/reports").status_code == 401
        metrics = client.get("/metrics").text
        assert 'route="/reports/export",status="2xx"} 1.0' in metrics
