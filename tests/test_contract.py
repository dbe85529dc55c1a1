"""Contract tests: the demo app against the OpenAPI document it serves.

schemathesis generates requests from ``/openapi.json`` and checks every response against the document
(no 5xx, documented status code and content type, body matching the schema); openapi-python-client
builds a client from the same document, which then talks to a real uvicorn process.
"""

import importlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.config import SchemathesisConfig

from lanner.testing import TestClient

from .conftest import LANNER, ROOT

pytestmark = pytest.mark.slow


def _load_demo() -> ModuleType:
    # A private copy of the module: the fuzzer's POSTs fill this shelf, not the one other tests load.
    spec = importlib.util.spec_from_file_location("contract_demo", ROOT / "examples" / "demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEMO = _load_demo()
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": 30, "deterministic": True, "database": "none"},
        # The demo's key is a plain required header (no security scheme): a generated value would stop every
        # write at the 401, and valid bodies would never reach the handler.
        "parameters": {"x-api-key": "secret"},
    }
)
# Loaded through the app, so the document under test is the one served at /openapi.json.
schema = schemathesis.openapi.from_asgi("/openapi.json", DEMO.app, config=CONFIG)

# negative_data_rejection is left out on purpose: lanner validates with pydantic's lax mode, so an integer
# field takes false or "1999" (test_integer_fields_take_lax_input pins that down).
RESPONSE_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.missing_required_header,
    schemathesis.checks.unsupported_method,
    schemathesis.checks.allow_header_conformance,
]
ALL_CHECKS = [*RESPONSE_CHECKS, schemathesis.checks.status_code_conformance]

# Error statuses the demo answers outside its handlers' success path, with requests producing each;
# the document must list every one (the fuzzer found them undocumented once).
ERROR_STATUSES = {
    ("GET", "/books/{book_id}", 404): [{"url": "/books/-1"}, {"url": "/books/404"}],
    ("POST", "/books", 400): [
        {
            "url": "/books",
            "content": b"{",
            "headers": {"x-api-key": "secret", "content-type": "application/json"},
        }
    ],
    ("POST", "/books", 401): [
        {"url": "/books", "json": {"title": "t", "author": "a", "year": 1}, "headers": {"x-api-key": "no"}}
    ],
    ("POST", "/books", 415): [
        {
            "url": "/books",
            "content": b"title=t",
            "headers": {"x-api-key": "secret", "content-type": "text/plain"},
        }
    ],
}


@settings(deadline=None)
def _fuzz(case: Any) -> None:
    case.call_and_validate(checks=ALL_CHECKS)


# One test per operation: with pytest 9.2, schemathesis 4.32 gives every item of a multi-operation
# parametrize() the same node id, so failures and -k could not tell the operations apart.
FUZZED = ("list_books_get", "get_book_get", "add_book_post")
test_fuzz_list_books = schema.include(operation_id="list_books_get").parametrize()(_fuzz)
test_fuzz_get_book = schema.include(operation_id="get_book_get").parametrize()(_fuzz)
test_fuzz_add_book = schema.include(operation_id="add_book_post").parametrize()(_fuzz)


def test_every_operation_is_fuzzed() -> None:
    document = DEMO.app.openapi()
    operation_ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert operation_ids == set(FUZZED)


# The fuzzer never picked an existing book id (every GET /books/{book_id} got a 404), so each success
# response is also checked here with a request known to produce it.
_KEY = {"x-api-key": "secret"}
CHOSEN = [
    pytest.param("/books", "GET", {}, 200, id="list"),
    pytest.param("/books", "GET", {"query": {"author": "Jane Austen", "limit": 1}}, 200, id="list-filtered"),
    pytest.param("/books", "GET", {"query": {"limit": 0}}, 422, id="list-bad-limit"),
    pytest.param("/books/{book_id}", "GET", {"path_parameters": {"book_id": 1}}, 200, id="get"),
    pytest.param(
        "/books",
        "POST",
        {"headers": _KEY, "body": {"title": "Persuasion", "author": "Jane Austen", "year": 1817}},
        201,
        id="add",
    ),
    pytest.param(
        "/books", "POST", {"headers": _KEY, "body": {"title": "", "year": -1}}, 422, id="add-invalid"
    ),
]


@pytest.mark.parametrize(("path", "method", "request_data", "status"), CHOSEN)
def test_chosen_requests_match_the_document(
    path: str, method: str, request_data: dict[str, Any], status: int
) -> None:
    case = schema[path][method].Case(**request_data)
    response = case.call_and_validate(checks=ALL_CHECKS)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("method", "path", "status", "request_data"),
    [(*key, request_data) for key, requests in ERROR_STATUSES.items() for request_data in requests],
    ids=lambda value: value["url"] if isinstance(value, dict) else None,
)
def test_error_statuses_are_answered_and_documented(
    method: str, path: str, status: int, request_data: dict[str, Any]
) -> None:
    with TestClient(DEMO.app) as client:
        response = client.request(method, **request_data)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    documented = DEMO.app.openapi()["paths"][path][method.lower()]["responses"][str(status)]
    assert documented["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def test_integer_fields_take_lax_input() -> None:
    with TestClient(DEMO.app) as client:
        for year in (False, "1999", 1999.0):
            body = {"title": "Lax", "author": "Pydantic", "year": year}
            response = client.post("/books", json=body, headers={"x-api-key": "secret"})
            assert response.status_code == 201
            assert response.json()["year"] == int(year)


CLIENT_PACKAGE = "bookshelf_client"


@pytest.fixture
def generated_client(start_server: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Serve the demo with uvicorn, generate a client from its served document, and import it."""
    pytest.importorskip(
        "openapi_python_client", reason="openapi-python-client is not installed (it is in the test extra)"
    )
    server = start_server([*LANNER, "run", "examples/demo.py"])
    server.wait_ready("/openapi.json")
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(server.url + "/openapi.json").content)
    # No post hooks: by default the generator runs ruff on its output, which need not be on PATH.
    config = tmp_path / "generator.json"
    config.write_text(json.dumps({"post_hooks": []}))
    generate = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)]
    options = ["--output-path", str(tmp_path / CLIENT_PACKAGE), "--meta", "none", "--config", str(config)]
    result = subprocess.run(
        [*generate, *options, "--fail-on-warning"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield importlib.import_module(CLIENT_PACKAGE).Client(
            base_url=server.url, raise_on_unexpected_status=True
        )
    finally:
        for name in [name for name in sys.modules if name.partition(".")[0] == CLIENT_PACKAGE]:
            del sys.modules[name]


def test_generated_client_talks_to_a_real_server(generated_client: Any) -> None:
    api = f"{CLIENT_PACKAGE}.api.books"
    list_books = importlib.import_module(f"{api}.list_books_get")
    get_book = importlib.import_module(f"{api}.get_book_get")
    add_book = importlib.import_module(f"{api}.add_book_post")
    models = importlib.import_module(f"{CLIENT_PACKAGE}.models")
    dune = models.Book(title="Dune", author="Frank Herbert", year=1965, tags=["sf"], id=1)
    with generated_client as client:
        books = list_books.sync(client=client)
        assert [book.title for book in books] == ["Dune", "Emma"]
        assert books[0] == dune
        assert get_book.sync(1, client=client) == dune
        assert [book.id for book in list_books.sync(client=client, author="Jane Austen")] == [2]

        problem = list_books.sync(client=client, limit=0)
        assert isinstance(problem, models.ValidationProblem)
        assert (problem.status, problem.errors[0].loc) == (422, ["query", "limit"])

        new = models.BookIn(title="Persuasion", author="Jane Austen", year=1817)
        created = add_book.sync_detailed(client=client, body=new, x_api_key="secret")
        assert created.status_code == 201
        assert created.parsed == models.Book(
            title="Persuasion", author="Jane Austen", year=1817, tags=[], id=3
        )
        assert get_book.sync(3, client=client).title == "Persuasion"
