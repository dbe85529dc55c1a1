"""Every file under docs_src/ runs here, so the documentation site never shows code that does not work.

The pages in docs/ include these files (``--8<-- "docs_src/..."``; tests/test_docs_site.py checks
that no page shows code from anywhere else). Each app is imported and sent real requests with the
TestClient, and the documents a page shows (a problem document, an OpenAPI fragment, a diff report)
are compared with what lanner produces today. The ``test_*.py`` files shown on the pages are run by
pytest in a subprocess, as a reader would run them.
"""

import asyncio
import importlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lanner.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
DOCS_SRC = ROOT / "docs_src"


@pytest.fixture
def load() -> Iterator[Callable[[str], ModuleType]]:
    """Import ``docs_src/<folder>/<name>.py`` as ``name``, its folder on sys.path, as a reader runs it."""
    loaded: list[tuple[str, str]] = []

    def load(relative: str) -> ModuleType:
        path = DOCS_SRC / relative
        folder, name = str(path.parent), path.stem
        sys.modules.pop(name, None)  # a module of the same name from another folder must not answer
        sys.path.insert(0, folder)
        loaded.append((folder, name))
        module = importlib.import_module(name)
        assert Path(module.__file__ or "").resolve() == path.resolve()
        return module

    yield load
    for folder, name in loaded:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)


# Every file under docs_src/, and the test that exercises it ("tests" for the test_*.py files, run
# by test_the_tests_shown_on_the_pages_pass). A new file must be added here, with a test.
EXERCISED = {
    "asyncapi/drawing.py": "test_asyncapi_fragment_is_what_the_app_documents",
    "asyncapi/x_websockets.json": "test_asyncapi_fragment_is_what_the_app_documents",
    "batching/embed.py": "test_batching",
    "batching/test_embed.py": "tests",
    "bodies/forms.py": "test_forms",
    "bodies/json_body.py": "test_json_bodies",
    "bodies/limits.py": "test_body_limits",
    "bodies/raw.py": "test_raw_bodies",
    "channels/basics.py": "test_channels_basics",
    "channels/chat.py": "test_chat_room",
    "dependencies/app_scope.py": "test_app_scoped_dependency_and_lifespan",
    "dependencies/basics.py": "test_dependencies",
    "dependencies/hooks.py": "test_hooks",
    "dependencies/yield_deps.py": "test_yield_dependency",
    "deployment/aws_lambda.py": "test_aws_lambda_handler",
    "deployment/commands.py": "test_project_command",
    "deployment/wsgi.py": "test_wsgi_application",
    "errors/debug.py": "test_debug_mode",
    "errors/handlers.py": "test_exception_handlers",
    "errors/http_exception.py": "test_http_exception",
    "errors/problem.json": "test_the_problem_document_shown",
    "errors/validation.py": "test_the_problem_document_shown",
    "getting_started/hello.py": "test_hello",
    "getting_started/test_hello.py": "tests",
    "middleware/functions.py": "test_function_middleware",
    "middleware/probes.py": "test_probes",
    "middleware/pure_asgi.py": "test_pure_asgi_middleware",
    "middleware/rate_limits.py": "test_rate_limits",
    "openapi/books_v1.py": "test_the_diff_report_shown",
    "openapi/books_v2.py": "test_the_diff_report_shown",
    "openapi/diff_output.txt": "test_the_diff_report_shown",
    "openapi/metadata.py": "test_openapi_metadata",
    "parameters/aliases.py": "test_aliases",
    "parameters/headers_cookies.py": "test_headers_and_cookies",
    "parameters/query.py": "test_query_parameters",
    "parameters/query_model.py": "test_query_model",
    "responses/test_encoder.py": "tests",
    "responses/response_classes.py": "test_response_classes",
    "responses/return_values.py": "test_return_values",
    "responses/streaming.py": "test_streaming",
    "routing/methods.py": "test_methods",
    "routing/mount.py": "test_mount",
    "routing/paths.py": "test_path_templates",
    "routing/routers.py": "test_routers",
    "sessions/cart.py": "test_cookie_session",
    "sessions/csrf.py": "test_csrf",
    "sessions/flash_messages.py": "test_flash_messages",
    "sessions/server_side.py": "test_server_side_session",
    "sse/test_ticks.py": "tests",
    "sse/ticks.js": "test_the_browser_code_listens_for_the_events_sent",
    "sse/ticks.py": "test_the_browser_code_listens_for_the_events_sent",
    "static_files/files.py": "test_static_files",
    "static_files/public/hello.txt": "test_static_files",
    "static_files/site/404.html": "test_static_files",
    "static_files/site/index.html": "test_static_files",
    "static_files/static/app.css": "test_static_files",
    "templates/blog_templates/blog_index.html": "test_templates",
    "templates/shop.py": "test_templates",
    "templates/static/shop.css": "test_templates",
    "templates/templates/home.html": "test_templates",
    "templates/templates/layout.html": "test_templates",
    "templates/templates/missing.html": "test_templates",
    "templates/templates/product.html": "test_templates",
    "testing/test_weather.py": "tests",
    "testing/weather.py": "tests",
    "tutorial_api/invalid_task.json": "test_tutorial_step1",
    "tutorial_api/step1.py": "test_tutorial_step1",
    "tutorial_api/step2.py": "test_tutorial_step2",
    "tutorial_api/tasks.py": "tests",
    "tutorial_api/test_tasks.py": "tests",
    "tutorial_pages/guestbook.py": "tests",
    "tutorial_pages/static/style.css": "tests",
    "tutorial_pages/templates/base.html": "tests",
    "tutorial_pages/templates/index.html": "tests",
    "tutorial_pages/test_guestbook.py": "tests",
    "websockets/rooms.py": "tests",
    "websockets/test_rooms.py": "tests",
}
# The test functions of the docs_src/**/test_*.py files: a file that loses one, or gains one
# without updating this count, fails test_the_tests_shown_on_the_pages_pass.
SHOWN_TESTS = 16


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process, without the parent run's pytest options and coverage hooks.

    Under CI's coverage run, PYTEST_ADDOPTS would make a child pytest collect and report coverage
    of its own, and pytest-cov's COV_CORE_* variables would start coverage in any child.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS" and not k.startswith("COV_CORE_")}
    return {**env, **extra}


def docs_src_files() -> set[str]:
    return {
        p.relative_to(DOCS_SRC).as_posix()
        for p in DOCS_SRC.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_every_docs_src_file_is_exercised() -> None:
    assert docs_src_files() == set(EXERCISED)
    names = set(globals())
    for relative, test in EXERCISED.items():
        assert test == "tests" or test in names, f"{relative}: no test named {test}"


def test_the_tests_shown_on_the_pages_pass() -> None:
    files = sorted(str(p) for p in DOCS_SRC.rglob("test_*.py"))
    assert {Path(f).relative_to(DOCS_SRC).as_posix() for f in files} == {
        relative
        for relative, test in EXERCISED.items()
        if test == "tests" and Path(relative).name.startswith("test_")
    }
    # A child pytest with the project's settings (filterwarnings=error...), as a reader runs them.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *files],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(rf"\b{SHOWN_TESTS} passed\b", output), output


# -- getting started and the tutorial ------------------------------------------------------------


def test_hello(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("getting_started/hello.py").app)
    assert client.get("/", params={"name": "Ada"}).json() == {"message": "Hello, Ada"}
    assert client.get("/docs").status_code == 200


def test_tutorial_step1(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("tutorial_api/step1.py").app)
    created = client.post("/tasks", json={"title": "Buy milk", "id": 99})
    assert created.status_code == 201
    assert created.json() == {"title": "Buy milk", "done": False, "id": 1}
    assert client.get("/tasks").json() == [created.json()]
    invalid = client.post("/tasks", json={"title": "", "done": "maybe"})
    assert invalid.status_code == 422
    assert invalid.json() == json.loads((DOCS_SRC / "tutorial_api/invalid_task.json").read_text())


def test_tutorial_step2(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("tutorial_api/step2.py").app)
    client.post("/tasks", json={"title": "Buy milk"})
    client.post("/tasks", json={"title": "Walk the dog", "done": True})
    assert [t["title"] for t in client.get("/tasks", params={"done": True}).json()] == ["Walk the dog"]
    assert client.get("/tasks", params={"done": "maybe"}).status_code == 422
    assert client.get("/tasks", params={"limit": 101}).status_code == 422
    assert len(client.get("/tasks", params={"limit": 1}).json()) == 1
    assert client.get("/tasks/abc").status_code == 404  # {task_id:int} does not match
    missing = client.get("/tasks/9")
    assert (missing.status_code, missing.json()["detail"]) == (404, "No task 9")
    deleted = client.delete("/tasks/1")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.delete("/tasks/1").status_code == 404


# -- routing and parameters ----------------------------------------------------------------------


def test_methods(load: Callable[[str], ModuleType]) -> None:
    module = load("routing/methods.py")
    client = TestClient(module.app)
    assert client.get("/books").json() == ["Dune", "Emma"]
    assert client.post("/books").status_code == 201
    assert client.get("/ping").json() == client.post("/ping").json() == "pong"
    refused = client.delete("/books")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, POST"
    operation = module.app.openapi()["paths"]["/books"]["post"]
    assert (operation["tags"], operation["summary"]) == (["books"], "Add a book")


def test_path_templates(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("routing/paths.py").app)
    assert client.get("/items/5").json() == {"item_id": 5}
    assert client.get("/items/five").status_code == 404
    order = "8f1e0b7e-6b0e-4d5e-9d8e-2d7a8f3b9c10"
    assert client.get(f"/orders/{order}").json() == {"order_id": order}
    assert client.get("/orders/not-a-uuid").status_code == 404
    assert client.get("/files/report.pdf").json() == {"name": "report", "ext": "pdf"}
    assert client.get("/files/latest").json() == {"name": "latest"}  # static first, whatever the order
    assert client.get("/files/a/b/c.txt").json() == {"path": "a/b/c.txt"}


def test_routers(load: Callable[[str], ModuleType]) -> None:
    module = load("routing/routers.py")
    client = TestClient(module.app)
    assert client.get("/api/users/3").json() == {"id": 3}
    assert client.get("/").json() == {"first_user": "/api/users/1"}
    assert module.app.openapi()["paths"]["/api/users/{user_id}"]["get"]["tags"] == ["users"]
    slash = client.get("/api/users/3/", follow_redirects=False)
    assert (slash.status_code, slash.headers["location"]) == (308, "/api/users/3")


def test_mount(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("routing/mount.py").app)
    assert client.get("/").json() == "lanner"
    assert client.get("/legacy/old/page").text == "legacy app: /legacy/old/page"


def test_query_parameters(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("parameters/query.py").app)
    answer = client.get("/search", params=[("q", "tea"), ("tag", "a"), ("tag", "b"), ("sort", "year")])
    assert answer.json() == {"q": "tea", "page": 1, "tag": ["a", "b"], "limit": 10, "sort": "year"}
    missing = client.get("/search")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["query", "q"]
    bad = client.get("/search", params={"q": "tea", "page": "two", "limit": 0, "sort": "price"})
    assert [e["loc"][1] for e in bad.json()["errors"]] == ["page", "limit", "sort"]


def test_aliases(load: Callable[[str], ModuleType]) -> None:
    module = load("parameters/aliases.py")
    client = TestClient(module.app)
    assert client.get("/items", params={"filter": "pen", "old": "true"}).json() == {
        "filter": "pen",
        "old": True,
    }
    parameters = module.app.openapi()["paths"]["/items"]["get"]["parameters"]
    assert [(p["name"], p.get("description"), p.get("deprecated")) for p in parameters] == [
        ("filter", "Part of the name", None),
        ("old", None, True),
    ]


def test_query_model(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("parameters/query_model.py").app)
    assert client.get("/books", params={"author": "Austen", "order": "year"}).json() == {
        "author": "Austen",
        "year_from": 0,
        "order": "year",
    }
    refused = client.get("/books", params={"year_from": -1})
    assert refused.json()["errors"][0]["loc"] == ["query", "year_from"]


def test_headers_and_cookies(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("parameters/headers_cookies.py").app, cookies={"theme": "dark"})
    answer = client.get("/whoami", headers={"X-Request-ID": "abc"})
    assert answer.json() == {"user_agent": "testclient", "request_id": "abc", "theme": "dark"}
    too_long = client.get("/whoami", headers={"X-Request-ID": "x" * 65})
    assert too_long.json()["errors"][0]["loc"] == ["header", "x-request-id"]


# -- bodies and forms ----------------------------------------------------------------------------


def test_json_bodies(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("bodies/json_body.py").app)
    created = client.post("/items", json={"name": "pen", "price": 2, "secret": "x"})
    assert (created.status_code, created.json()) == (201, {"name": "pen", "price": 2.0, "tags": []})
    invalid = client.post("/items", json={"name": "", "price": 0})
    assert [e["loc"] for e in invalid.json()["errors"]] == [["body", "name"], ["body", "price"]]
    assert client.post("/points", json={"x": 1, "y": 2}).json() == {"sum": 3}
    replaced = client.put("/items/3", json={"item": {"name": "pen", "price": 2}, "note": "new"})
    assert replaced.json() == {"item_id": 3, "name": "pen", "note": "new"}
    embedded = client.post("/items/embedded", json={"item": {"name": "pen", "price": 2}})
    assert embedded.json()["name"] == "pen"
    assert client.post("/items", content=b'{"name": "pen", "price": 2}').status_code == 415
    assert (
        client.post("/items", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    )


def test_forms(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("bodies/forms.py").app)
    assert client.post("/login", data={"username": "ann", "password": "pw"}).json() == {"user": "ann"}
    too_long = client.post("/comments", data={"text": "x" * 201})
    assert too_long.json()["errors"][0]["loc"] == ["form", "text"]
    upload = client.post("/covers", files={"cover": ("a.png", b"12345", "image/png")}, data={"caption": "c"})
    assert upload.json() == {"name": "a.png", "type": "image/png", "size": 5, "caption": "c"}
    several = client.post("/attachments", files=[("files", ("a.txt", b"1")), ("files", ("b.txt", b"2"))])
    assert several.json() == ["a.txt", "b.txt"]
    assert client.post("/small", files={"data": ("a.bin", b"123")}).json() == {"size": 3}
    assert client.post("/covers").json()["errors"][0]["loc"] == ["file", "cover"]


def test_body_limits(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("bodies/limits.py").app)
    assert client.post("/videos", files={"video": ("v.mp4", b"1" * 100)}).json() == {"size": 100}
    two = [("video", ("v.mp4", b"1")), ("video", ("w.mp4", b"1"))]
    assert client.post("/videos", files=two).status_code == 400  # the route allows one file
    big_report = {"lines": ["x" * 1000] * 400}  # about 400 KiB: over the app's 256 KiB
    assert client.post("/notes", json=big_report).status_code == 413
    assert client.post("/reports", json=big_report).json() == {"lines": 400}
    assert client.post("/notes", json={"lines": ["x"]}).json() == {"lines": 1}


def test_raw_bodies(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("bodies/raw.py").app)
    echoed = client.post("/echo", content=b"hello", headers={"content-type": "text/plain"})
    assert echoed.json() == {"length": 5, "content_type": "text/plain"}
    assert client.post("/count", content=b"x" * 100_000).json() == {"bytes": 100_000}


# -- responses and errors ------------------------------------------------------------------------


def test_return_values(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("responses/return_values.py").app)
    assert client.get("/numbers").json() == [1, 2, 3]
    created = client.post("/users", json={"name": "ann", "password": "hunter2"})
    assert created.json() == {"name": "ann", "nickname": None}
    assert client.get("/users/bob").json() == {"name": "bob"}


def test_response_classes(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("responses/response_classes.py").app)
    hello = client.get("/hello")
    assert (hello.headers["content-type"], hello.text) == ("text/html; charset=utf-8", "<h1>Hello</h1>")
    assert client.get("/robots.txt").headers["content-type"] == "text/plain; charset=utf-8"
    moved = client.get("/old-home", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (307, "/")
    teapot = client.get("/teapot")
    assert (teapot.status_code, teapot.headers["x-brew"]) == (418, "tea")
    home = client.get("/")
    assert home.json() == {"page": "home"}
    assert home.headers["cache-control"] == "max-age=60"
    assert home.headers["set-cookie"] == "visited=yes; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"


def test_streaming(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("responses/streaming.py").app)
    squares = client.get("/squares", params={"count": 3})
    assert squares.headers["content-type"] == "application/jsonl"
    assert [json.loads(line) for line in squares.text.splitlines()] == [
        {"n": 0, "square": 0},
        {"n": 1, "square": 1},
        {"n": 2, "square": 4},
    ]
    report = client.get("/report.csv")
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.text == "n,square\n0,0\n1,1\n2,4\n"


def test_the_problem_document_shown(load: Callable[[str], ModuleType]) -> None:
    answer = TestClient(load("errors/validation.py").app).get("/books", params={"limit": 500})
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == json.loads((DOCS_SRC / "errors/problem.json").read_text())


def test_http_exception(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("errors/http_exception.py").app)
    assert client.get("/books/1").json() == {"title": "Dune"}
    missing = client.get("/books/2")
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No book 2",
    }
    refused = client.delete("/books/1")
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    page = client.get("/books/2", headers={"Accept": "text/html"})  # a browser gets a page
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "No book 2" in page.text


def test_exception_handlers(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("errors/handlers.py").app)
    stock = client.get("/api/items/pen")
    assert stock.status_code == 409
    assert stock.json() == {
        "type": "about:blank",
        "title": "Out of stock",
        "status": 409,
        "detail": "pen is out of stock",
        "item": "pen",
    }
    page = client.get("/nowhere")
    assert (page.status_code, page.text) == (404, "<h1>Nothing here</h1>")
    api = client.get("/api/nowhere")
    assert (api.status_code, api.headers["content-type"]) == (404, "application/problem+json")


def test_debug_mode(load: Callable[[str], ModuleType], caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(load("errors/debug.py").app, raise_server_exceptions=False)
    assert client.get("/divide", params={"a": 6, "b": 3}).json() == 2.0
    with caplog.at_level("ERROR", logger="lanner.error"):
        failed = client.get("/divide", params={"a": 1, "b": 0})
    assert failed.status_code == 500
    assert "ZeroDivisionError" in failed.json()["traceback"]
    assert "ZeroDivisionError" in caplog.text


# -- dependencies --------------------------------------------------------------------------------


def test_dependencies(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("dependencies/basics.py").app)
    assert client.get("/books", params={"offset": 5}).json() == {"offset": 5, "size": 10}
    assert client.get("/books", params={"size": 99}).status_code == 422
    assert client.get("/me").json() == {"user": "guest"}
    assert client.get("/me", headers={"X-User": "ann"}).json() == {"user": "ann"}
    assert client.delete("/books", headers={"X-User": "ann"}).status_code == 403
    assert client.delete("/books", headers={"X-User": "admin"}).json() == {"status": "cleared"}


def test_yield_dependency(load: Callable[[str], ModuleType]) -> None:
    module = load("dependencies/yield_deps.py")
    module.EVENTS.clear()
    client = TestClient(module.app)
    assert client.post("/rows/a").json() == ["a"]
    assert module.EVENTS == ["begin", "commit"]
    conflict = client.post("/rows/bad")
    assert (conflict.status_code, conflict.json()["detail"]) == (409, "bad is not a good value")
    assert module.EVENTS == ["begin", "commit", "begin", "rollback"]


def test_app_scoped_dependency_and_lifespan(load: Callable[[str], ModuleType]) -> None:
    module = load("dependencies/app_scope.py")
    with TestClient(module.app) as client:
        assert client.get("/status").json() == {"pool_open": True, "started": "yes"}
        assert client.get("/status").json()["pool_open"] is True  # the same pool, still open


def test_hooks(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("dependencies/hooks.py").app)
    home = client.get("/")
    assert home.json() == {"page": "home"}
    assert home.headers["server-timing"].startswith("app;dur=")
    early = client.get("/", headers={"X-Maintenance": "on"})
    assert (early.status_code, early.text) == (503, "Back soon")
    assert "server-timing" in early.headers  # after_request hooks see early answers too


# -- templates, sessions, static files -----------------------------------------------------------


def test_templates(load: Callable[[str], ModuleType]) -> None:
    module = load("templates/shop.py")
    client = TestClient(module.app)
    home = client.get("/")
    assert '<a href="/products/1">Tea</a>: €4.50' in home.text
    assert "&lt;b&gt;Cake&lt;/b&gt;" in home.text and "<b>Cake</b>" not in home.text
    assert '<a href="/blog/">Blog</a>' in home.text
    stylesheet = re.search(r'href="(/static/shop\.css\?v=[0-9a-f]+)"', home.text)
    assert stylesheet, home.text
    assert "font-family" in client.get(stylesheet[1]).text
    product = client.get("/products/1")
    assert "<title>Tea · Corner shop</title>" in product.text
    missing = client.get("/products/3")
    assert (missing.status_code, "We do not sell that" in missing.text) == (404, True)
    blog = client.get("/blog/")
    assert "<title>Blog · Corner shop</title>" in blog.text
    assert "<h2>Opening day</h2>" in blog.text


def test_cookie_session(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("sessions/cart.py").app)
    client.post("/cart/tea")
    assert client.post("/cart/cake").json() == ["tea", "cake"]
    assert client.get("/cart").json() == ["tea", "cake"]
    assert TestClient(client.app).get("/cart").json() == []  # another browser, another cart
    client.delete("/cart")
    assert client.get("/cart").json() == []


def test_server_side_session(load: Callable[[str], ModuleType]) -> None:
    module = load("sessions/server_side.py")
    client = TestClient(module.app)
    assert client.post("/login", data={"username": "ann", "password": "nope"}).status_code == 401
    assert client.post("/login", data={"username": "ann", "password": "demo"}).json() == {"user": "ann"}
    assert client.get("/me").json() == {"user": "ann"}
    assert len(module.store) == 1  # the data is on the server, the cookie only names it
    assert TestClient(module.app).get("/me").json() == {"user": None}


def test_flash_messages(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("sessions/flash_messages.py").app)
    assert client.post("/save").json() == {"messages": [["success", "Saved"]]}  # after the redirect
    assert client.get("/").json() == {"messages": []}  # shown once


def test_csrf(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("sessions/csrf.py").app)
    assert client.post("/login", data={"username": "ann"}).status_code == 403  # no session, no token
    token = client.get("/token").json()["csrf_token"]
    assert client.post("/login", data={"username": "ann", "csrf_token": token}).json() == {"user": "ann"}
    assert client.post("/profile", data={"name": "Ann"}).status_code == 403
    assert client.post("/profile", data={"name": "Ann", "csrf_token": token}).json() == {"name": "Ann"}
    assert client.post("/profile", data={"name": "Bo"}, headers={"X-CSRF-Token": token}).json() == {
        "name": "Bo"
    }
    assert client.post("/hooks/payment").json() == {"status": "received"}


def test_static_files(load: Callable[[str], ModuleType]) -> None:
    module = load("static_files/files.py")
    client = TestClient(module.app)
    css = client.get("/static/app.css")
    assert css.text == (DOCS_SRC / "static_files/static/app.css").read_text()
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]}).status_code == 304
    assert re.fullmatch(r"/static/app\.css\?v=[0-9a-f]+", module.app.static_url("app.css"))
    moved = client.get("/site", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "/site/")
    assert "<h1>Welcome</h1>" in client.get("/site/").text
    miss = client.get("/site/nope")
    assert (miss.status_code, "<h1>No such page</h1>" in miss.text) == (404, True)
    assert client.get("/downloads/hello.txt").text == "Hello from a public file.\n"
    partial = client.get("/downloads/hello.txt", headers={"Range": "bytes=0-4"})
    assert (partial.status_code, partial.text) == (206, "Hello")
    for escape in ("/downloads/%2e%2e/app.py", "/downloads/..%2fapp.py", "/downloads/%2e%2e%2fapp.py"):
        assert client.get(escape).status_code == 404, escape


# -- real time -----------------------------------------------------------------------------------


def test_the_browser_code_listens_for_the_events_sent(load: Callable[[str], ModuleType]) -> None:
    script = (DOCS_SRC / "sse/ticks.js").read_text()
    path = re.search(r'new EventSource\("([^"]+)"\)', script)
    event = re.search(r'addEventListener\("([^"]+)"', script)
    assert path and event
    module = load("sse/ticks.py")
    with TestClient(module.app).stream("GET", path[1]) as response:
        assert next(response.iter_lines()) == f"event: {event[1]}"


def test_channels_basics(load: Callable[[str], ModuleType]) -> None:
    received = asyncio.run(load("channels/basics.py").main())
    assert received == [{"user": "ada", "text": "hi"}, "plain text stays a str"]


def test_chat_room(load: Callable[[str], ModuleType]) -> None:
    module = load("channels/chat.py")
    with (
        TestClient(module.app) as client,
        client.websocket_connect("/ws/lobby") as ada,
        client.websocket_connect("/ws/lobby") as bob,
        client.websocket_connect("/ws/kitchen") as cook,
    ):
        ada.send_text("hello")
        assert ada.receive_json() == bob.receive_json() == {"text": "hello"}
        cook.send_text("soup")
        assert cook.receive_json() == {"text": "soup"}  # the first message this room saw


def test_asyncapi_fragment_is_what_the_app_documents(load: Callable[[str], ModuleType]) -> None:
    module = load("asyncapi/drawing.py")
    shown = json.loads((DOCS_SRC / "asyncapi/x_websockets.json").read_text())
    assert {"x-websockets": module.app.openapi()["x-websockets"]} == shown
    assert set(module.app.asyncapi()["operations"]) == {"draw_receive", "draw_send"}
    with TestClient(module.app).websocket_connect("/rooms/1?name=ada") as ws:
        ws.send_json({"kind": "dot", "x": 1, "y": 2})
        assert ws.receive_json() == {"number": 1, "by": "ada"}
        ws.send_json({"kind": "dot", "x": 2000, "y": 2})  # on_invalid="reply": an error message
        assert ws.receive_json()["type"] == "error"


def test_batching(load: Callable[[str], ModuleType]) -> None:
    module = load("batching/embed.py")
    client = TestClient(module.app)
    assert client.post("/embed", json={"text": "hi there"}).json() == [8.0, 1.0]
    stats = client.get("/embed/stats").json()
    assert stats["items"] >= 1 and set(stats["batch_size"]) == {"mean", "p50", "p95", "max"}


# -- middleware, probes, OpenAPI -----------------------------------------------------------------


def test_function_middleware(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("middleware/functions.py").app)
    answer = client.get("/", headers={"X-Tenant": "acme"})
    assert answer.json() == {"tenant": "acme"}  # the context variable reached the handler
    assert float(answer.headers["x-elapsed-ms"]) >= 0


def test_pure_asgi_middleware(load: Callable[[str], ModuleType]) -> None:
    answer = TestClient(load("middleware/pure_asgi.py").app).get("/")
    assert (answer.json(), answer.headers["server"]) == ({"page": "home"}, "bookshop")


def test_rate_limits(load: Callable[[str], ModuleType]) -> None:
    client = TestClient(load("middleware/rate_limits.py").app)
    statuses = [client.get("/search", params={"q": "tea"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/search", params={"q": "tea"})
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    items = client.get("/api/items")
    assert items.json() == ["tea"]
    assert items.headers["ratelimit-policy"] == '"10-per-second";q=10;w=1, "1000-per-hour";q=1000;w=3600'


def test_probes(load: Callable[[str], ModuleType]) -> None:
    module = load("middleware/probes.py")
    module.DATABASE["up"] = True
    with TestClient(module.app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": "ok"}}
        module.DATABASE["up"] = False
        down = client.get("/readyz")
        assert (down.status_code, down.json()["checks"]) == (503, {"database": "failed"})
        assert client.get("/healthz").status_code == 200


def test_openapi_metadata(load: Callable[[str], ModuleType]) -> None:
    module = load("openapi/metadata.py")
    document = module.app.openapi()
    assert document["info"] == {
        "title": "Bookshelf",
        "version": "2.1.0",
        "description": "Books and the people who read them.",
        "contact": {"name": "Shelf team", "email": "shelf@example.com"},
        "license": {"name": "MIT"},
    }
    assert document["servers"] == [{"url": "https://api.example.com", "description": "Production"}]
    get_book = document["paths"]["/books/{book_id}"]["get"]
    assert get_book["summary"] == "Get book"
    assert get_book["description"].startswith("Fetch one book.")
    assert get_book["responses"]["404"]["description"] == "No such book"
    assert document["paths"]["/books/{book_id}/legacy"]["get"]["deprecated"] is True
    assert "/internal/stats" not in document["paths"]
    client = TestClient(module.app)
    assert client.get("/api-docs").status_code == 200
    assert client.get("/docs").status_code == client.get("/redoc").status_code == 404
    assert client.get("/books/1/legacy").json() == {"title": "Dune", "year": 1965}


def test_the_diff_report_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lanner.cli import main

    old, new = tmp_path / "openapi.json", tmp_path / "new.json"
    assert main(["openapi", str(DOCS_SRC / "openapi/books_v1.py"), "-o", str(old)]) == 0
    assert main(["openapi", str(DOCS_SRC / "openapi/books_v2.py"), "-o", str(new)]) == 0
    capsys.readouterr()
    assert main(["openapi", "diff", str(old), str(new)]) == 1  # one change is breaking
    assert capsys.readouterr().out == (DOCS_SRC / "openapi/diff_output.txt").read_text()


# -- deployment ----------------------------------------------------------------------------------


def test_wsgi_application(load: Callable[[str], ModuleType]) -> None:
    pytest.importorskip("a2wsgi")
    from wsgiref.util import setup_testing_defaults

    module = load("deployment/wsgi.py")
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    started: list[str] = []
    body = b"".join(module.application(environ, lambda status, headers, *exc: started.append(status)))
    assert started == ["200 OK"]
    assert json.loads(body) == {"served_by": "a WSGI server"}


def test_aws_lambda_handler(load: Callable[[str], ModuleType]) -> None:
    pytest.importorskip("mangum")
    loop = asyncio.new_event_loop()  # Mangum runs on the thread's loop and never closes it
    asyncio.set_event_loop(loop)
    try:
        module = load("deployment/aws_lambda.py")
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/hello",
            "rawQueryString": "",
            "headers": {"host": "abc.lambda-url.us-east-2.on.aws", "x-forwarded-proto": "https"},
            "requestContext": {
                "domainName": "abc.lambda-url.us-east-2.on.aws",
                "http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
                "requestId": "id",
                "routeKey": "$default",
                "stage": "$default",
            },
            "isBase64Encoded": False,
        }
        result = module.handler(event, object())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"message": "Hello from Lambda"}


def test_project_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from lanner.cli import main

    target = str(DOCS_SRC / "deployment/commands.py")
    monkeypatch.delenv("LANNER_DATABASE", raising=False)
    assert main(["--app", target, "init-db", "--drop"]) == 0
    assert capsys.readouterr().out == "Dropped and created the tables in books.db\n"
    # A fresh process, as a shell runs it: the environment overrides the mapping.
    result = subprocess.run(
        [sys.executable, "-m", "lanner.cli", "--app", target, "init-db"],
        env=child_env(LANNER_DATABASE='"test.db"'),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "Created the tables in test.db\n"), result.stderr
