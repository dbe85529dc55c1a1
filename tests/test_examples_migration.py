"""The migration guides' examples (``examples/migration/``): every step runs, as the guides say.

docs/migrating-from-flask.md and docs/migrating-from-fastapi.md move a small app to lanner in four
steps: mount it, move routes one at a time, run ``lanner migrate``, delete the mount. Each step is a
file under ``examples/migration/{flask,fastapi}/``, run here with lanner's TestClient; the same visit
passes at every step (and on the original framework), and what differs between steps on purpose
(error bodies, who answers a path) is checked step by step. ``step3_converted/`` is compared with
what ``lanner migrate`` makes of ``legacy.py`` today, and the guides' Python blocks must be
copied from these files.
"""

import ast
import difflib
import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("fastapi")
pytest.importorskip("a2wsgi")
pytest.importorskip("libcst")

from lanner import Lanner, Session
from lanner.cli import main as lanner_main
from lanner.migrate import names_table
from lanner.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "migration"
FLASK = EXAMPLES / "flask"
FASTAPI = EXAMPLES / "fastapi"
GUIDES = {
    "flask": ROOT / "docs" / "migrating-from-flask.md",
    "fastapi": ROOT / "docs" / "migrating-from-fastapi.md",
}
# The example modules share these names across the two folders; each test imports them afresh.
MODULES = ("legacy", "step1_mount", "step2_move_routes", "step4_lanner_only")


@pytest.fixture
def load() -> Iterator[Callable[[Path, str], ModuleType]]:
    """Import `name` from an example folder, as ``lanner run folder/name.py`` does; forget it after."""
    folders: list[str] = []

    def forget() -> None:
        for name in MODULES:
            sys.modules.pop(name, None)

    def load(folder: Path, name: str) -> ModuleType:
        forget()  # a module of the other folder, or of an earlier step, must not answer
        sys.path.insert(0, str(folder))
        folders.append(str(folder))
        module = importlib.import_module(name)
        assert Path(module.__file__).parent == folder
        return module

    yield load
    forget()
    for folder in folders:
        sys.path.remove(folder)


def test_every_migration_example_is_here() -> None:
    found = {
        p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py") if "__pycache__" not in p.parts
    }
    steps = {
        "legacy.py",
        "step1_mount.py",
        "step2_move_routes.py",
        "step3_converted/legacy.py",
        "step4_lanner_only.py",
    }
    assert found == {f"{framework}/{step}" for framework in ("flask", "fastapi") for step in steps}
    assert not (EXAMPLES / "__init__.py").exists()  # tests/test_examples.py lists example packages


# -- the guides show the examples' code ---------------------------------------------------------


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_every_python_block_of_the_guide_is_copied_from_an_example(framework: str) -> None:
    guide = GUIDES[framework].read_text(encoding="utf-8")
    blocks = python_blocks(guide)
    assert len(blocks) >= 4, "each step shows its code"
    sources = {p: p.read_text(encoding="utf-8") for p in (EXAMPLES / framework).rglob("*.py")}
    for block in blocks:
        homes = [p.relative_to(ROOT).as_posix() for p, text in sources.items() if block in text]
        assert homes, f"{GUIDES[framework].name} shows code that is in no example file:\n{block}"
    for step in ("step1_mount.py", "step2_move_routes.py", "step4_lanner_only.py"):
        assert f"examples/migration/{framework}/{step}" in guide


def test_the_flask_guide_has_the_codemods_names_table() -> None:
    guide = GUIDES["flask"].read_text(encoding="utf-8")
    assert names_table("flask") in guide, "paste lanner.migrate.names_table('flask') into the guide"


# -- Flask ---------------------------------------------------------------------------------------


class Visitor:
    """One browser session on an app: lanner's TestClient, or Flask's own test client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str) -> tuple[int, Any, str]:
        return self._answer(self.client.get(path, follow_redirects=False))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, Any, str]:
        return self._answer(self.client.post(path, data=data, follow_redirects=False))

    def json(self, path: str) -> Any:
        response = self.client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
        return response.json() if callable(response.json) else response.json

    @staticmethod
    def _answer(response: Any) -> tuple[int, Any, str]:
        if hasattr(response, "close"):  # Flask's test client holds a static file open until closed
            text = response.text
            response.close()
        else:
            text = response.text
        return response.status_code, response.headers, text


def visit_bookmarks(site: Visitor) -> None:
    """The same visit, on the Flask app and at every step of its migration."""
    status, _, home = site.get("/")
    assert status == 200
    assert '<a href="/bookmarks/1">Python</a>' in home and 'href="/static/style.css"' in home
    assert site.get("/static/style.css")[2].startswith("body {")

    status, headers, _ = site.get("/bookmarks/new")  # login_required: Flask's 302, kept by the codemod
    assert (status, headers["location"]) == (302, "/login")
    assert "Log in first." in site.get("/login")[2]  # flashed through the session
    status, _, page = site.post("/login", {"name": ""})
    assert status == 200 and "A name is required." in page
    status, headers, _ = site.post("/login", {"name": "ann"})
    assert (status, headers["location"]) == (302, "/")

    status, headers, _ = site.post("/bookmarks/new", {"title": "Flask", "url": "https://flask.example"})
    assert (status, headers["location"]) == (302, "/bookmarks/2")
    _, _, page = site.get("/bookmarks/2")
    assert "<h1>Flask</h1>" in page and '<p class="flash">Saved.</p>' in page
    assert '<span class="user">ann</span>' in page and 'href="/api/bookmarks/2"' in page
    status, _, page = site.get("/bookmarks/two")  # {bookmark_id:int}, as <int:bookmark_id>, refuses it
    assert status == 404 and "Nothing here." in page

    assert site.json("/api/bookmarks?limit=1") == [
        {"id": 1, "title": "Python", "url": "https://www.python.org"}
    ]
    assert site.json("/api/bookmarks/2") == {"id": 2, "title": "Flask", "url": "https://flask.example"}
    assert site.json("/api/me") == {"user": "ann"}
    status, headers, page = site.get("/no/such/page")
    assert status == 404 and headers["content-type"].startswith("text/html") and "Nothing here." in page

    status, headers, _ = site.get("/logout")
    assert (status, headers["location"]) == (302, "/")
    assert site.json("/api/me") == {"user": None}


def flask_paths(flask_app: Any) -> list[str]:
    """Record the path of every request that reaches `flask_app` (a WSGI middleware, as usual)."""
    seen: list[str] = []
    inner = flask_app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    flask_app.wsgi_app = recording
    return seen


def flask_session_of(client: TestClient, flask_app: Any) -> dict[str, Any]:
    """What Flask's session cookie in `client` holds, read with Flask's own serializer."""
    serializer = flask_app.session_interface.get_signing_serializer(flask_app)
    return dict(serializer.loads(client.cookies["session"]))


def test_the_flask_app_passes_the_visit_on_flask(load) -> None:
    legacy = load(FLASK, "legacy")
    visit_bookmarks(Visitor(legacy.app.test_client()))
    status, _, page = Visitor(legacy.app.test_client()).get("/api/bookmarks/9")
    assert status == 404 and "Nothing here." in page  # Flask's 404 page, for the API too
    listed = Visitor(legacy.app.test_client()).json("/api/bookmarks?limit=abc")
    assert len(listed) == 2  # type=int turns "abc" into the default, 10


def test_step1_the_mounted_flask_app_answers_everything(load) -> None:
    step1 = load(FLASK, "step1_mount")
    seen = flask_paths(step1.flask_app)
    with TestClient(step1.app) as client:
        visit_bookmarks(Visitor(client))
        assert not [path for path in ("/", "/login", "/api/me", "/no/such/page") if path not in seen]
        Visitor(client).post("/login", {"name": "bob"})
        assert flask_session_of(client, step1.flask_app)["user"] == "bob"  # Flask's own cookie
        missing = client.get("/api/bookmarks/9")
        assert missing.status_code == 404 and "Nothing here." in missing.text  # Flask's 404 page


def test_step2_moved_routes_are_lanners_and_the_rest_still_flasks(load) -> None:
    step2 = load(FLASK, "step2_move_routes")
    seen = flask_paths(step2.flask_app)
    with TestClient(step2.app) as client:
        visit_bookmarks(Visitor(client))
        assert "/api/bookmarks/2" not in seen and "/api/me" not in seen  # lanner answered them
        assert "/login" in seen and "/api/bookmarks" in seen

        missing = client.get("/api/bookmarks/9")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["detail"] == "No bookmark 9"
        other = client.get("/api/bookmarks/nine")  # not an int: no lanner route, so Flask's 404 page
        assert other.status_code == 404 and "Nothing here." in other.text and "/api/bookmarks/nine" in seen

        login = client.post("/login", data={"name": "cy"}, follow_redirects=False)
        assert "session=" in login.headers["set-cookie"]  # Flask wrote its session...
        me = client.get("/api/me")
        assert me.json() == {"user": "cy"} and "set-cookie" not in me.headers  # ...lanner only reads it
        cookie = client.cookies["session"]

    with TestClient(step2.app) as stranger:
        stranger.cookies.set("session", cookie[:-4] + "AAAA")  # a forged signature
        assert stranger.get("/api/me").json() == {"user": None}


def test_while_flask_is_mounted_a_lanner_session_needs_a_cookie_of_its_own(load) -> None:
    flask_app = load(FLASK, "legacy").app
    outcomes = {}
    for cookie_name in ("session", "lanner_session"):
        app = Lanner(secret_key="another key", session_cookie=cookie_name)

        @app.post("/cart")
        def add_to_cart(session: Session) -> dict[str, int]:
            session["items"] = session.get("items", 0) + 1
            return {"items": session["items"]}

        app.mount_wsgi("/", flask_app)
        with TestClient(app) as client:
            client.post("/login", data={"name": "ann"})
            assert client.get("/api/me").json() == {"user": "ann"}
            assert client.post("/cart").json() == {"items": 1}
            outcomes[cookie_name] = client.get("/api/me").json()
    # lanner's cookie of the same name replaced Flask's: the user was logged out of the Flask pages.
    assert outcomes == {"session": {"user": None}, "lanner_session": {"user": "ann"}}


def test_while_flask_is_mounted_lanners_middleware_wraps_it_and_its_hooks_do_not(load) -> None:
    flask_app = load(FLASK, "legacy").app
    hooked: list[str] = []
    app = Lanner()

    @app.middleware("http")
    async def stamp(request, call_next):
        response = await call_next(request)
        response.headers["X-Stamp"] = "lanner"
        return response

    @app.before_request
    def note(request) -> None:
        hooked.append(request.url.path)

    @app.get("/api/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    app.mount_wsgi("/", flask_app)
    with TestClient(app) as client:
        for path in ("/api/ping", "/", "/login"):
            assert client.get(path).headers["x-stamp"] == "lanner"
    assert hooked == ["/api/ping"]


@pytest.mark.parametrize("openapi_url", ["/openapi.json", None])
def test_lanners_docs_paths_come_before_a_root_mount_unless_turned_off(load, openapi_url) -> None:
    flask_app = load(FLASK, "legacy").app
    app = Lanner(openapi_url=openapi_url)
    app.mount_wsgi("/", flask_app)
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/asyncapi.json"):
            answer = client.get(path)
            flasks = answer.status_code == 404 and "Nothing here." in answer.text
            assert flasks == (openapi_url is None), path


def run_lanner(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = lanner_main(args)
    return code, capsys.readouterr().out


def tidy(path: Path) -> None:
    """What the guide tells you to run after the codemod: sort the imports, format."""
    config = ["--config", str(ROOT / "pyproject.toml")]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", *config, "--select", "I", "--fix", "--quiet", str(path)], check=True)
    subprocess.run([*ruff, "format", *config, "--quiet", str(path)], check=True)


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def assert_same_tree(made: Path, kept: Path) -> None:
    made_files, kept_files = files_under(made), files_under(kept)
    assert sorted(made_files) == sorted(kept_files)
    for name, data in made_files.items():
        if data != kept_files[name]:
            diff = "".join(
                difflib.unified_diff(
                    kept_files[name].decode().splitlines(keepends=True),
                    data.decode().splitlines(keepends=True),
                    f"{kept.relative_to(ROOT)}/{name}",
                    "lanner migrate + ruff, today",
                )
            )
            pytest.fail(
                f"{kept.relative_to(ROOT)} is no longer what the codemod makes of legacy.py; if the change "
                f"is meant, copy the new output there (and check the guide):\n{diff}"
            )


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_step3_the_codemod_makes_step3_converted_from_the_flask_app(tmp_path, capsys) -> None:
    pytest.importorskip("ruff")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("legacy.py", "templates", "static"):
        source = FLASK / name
        if source.is_dir():
            shutil.copytree(source, project / name)
        else:
            shutil.copy(source, project / name)
    report = tmp_path / "report.txt"

    _, out = run_lanner(["migrate", str(project), "--diff"], capsys)
    assert "-from flask import (" in out and "+from lanner import" in out
    assert (project / "legacy.py").read_bytes() == (FLASK / "legacy.py").read_bytes()

    code, out = run_lanner(["migrate", str(project), "--report", str(report)], capsys)
    # app.run() is left for a person, so the report is not empty and the exit status says so.
    assert code == 1
    left = f"{project / 'legacy.py'}:{line_of(FLASK / 'legacy.py', 'app.run(')}:"
    assert left in report.read_text(encoding="utf-8") and left in out
    tidy(project / "legacy.py")
    assert_same_tree(project, FLASK / "step3_converted")

    before = files_under(project)
    run_lanner(["migrate", str(project)], capsys)
    assert files_under(project) == before  # running it again changes nothing


def test_step3_the_converted_flask_app_runs_on_lanner(load) -> None:
    converted = load(FLASK / "step3_converted", "legacy")
    assert isinstance(converted.app, Lanner)
    source = (FLASK / "step3_converted" / "legacy.py").read_text(encoding="utf-8")
    imported = {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "flask" not in imported and "lanner" in imported
    with TestClient(converted.app) as client:
        visit_bookmarks(Visitor(client))
        missing = client.get("/api/bookmarks/9")  # the converted errorhandler answers every 404
        assert missing.status_code == 404 and "Nothing here." in missing.text
        assert is_problem(client.get("/api/bookmarks?limit=abc"), 422)  # a typed parameter: refused


def test_step4_one_lanner_app_without_flask(load, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)  # importing Flask now fails: step 4 must not
    step4 = load(FLASK, "step4_lanner_only")
    with TestClient(step4.app) as client:
        visit_bookmarks(Visitor(client))
        missing = client.get("/api/bookmarks/9")  # the API keeps problem+json...
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["detail"] == "No bookmark 9"
        page = client.get("/bookmarks/9")  # ...and the pages the site's own 404 page
        assert page.status_code == 404 and "Nothing here." in page.text


def test_step4_a_flask_session_cookie_is_an_empty_session(load) -> None:
    """At the switch every user is logged out once: lanner cannot read Flask's cookies."""
    step1 = load(FLASK, "step1_mount")
    with TestClient(step1.app) as client:
        client.post("/login", data={"name": "ann"})
        flask_cookie = client.cookies["session"]
    step4 = load(FLASK, "step4_lanner_only")
    with TestClient(step4.app) as client:
        client.cookies.set("session", flask_cookie)
        assert client.get("/api/me").json() == {"user": None}
        assert client.get("/").status_code == 200


# -- FastAPI -------------------------------------------------------------------------------------

SHOP = {"Origin": "https://shop.example"}
KEY = {"X-API-Key": "secret"}


def visit_items(client: TestClient) -> None:
    """The same visit, on the FastAPI app and at every step of its migration."""
    assert client.get("/items").json() == [{"name": "Pen", "price": 1.5}]  # filled by the lifespan
    assert client.get("/items/1").json() == {"name": "Pen", "price": 1.5}
    created = client.post("/items", json={"name": "Ink", "price": 3}, headers=KEY)
    assert (created.status_code, created.json()) == (201, {"id": 2})
    assert client.get("/items/2").json() == {"name": "Ink", "price": 3.0}
    assert client.get("/items", params={"limit": 1}).json() == [{"name": "Pen", "price": 1.5}]
    assert client.get("/items", params={"limit": 0}).status_code == 422
    assert client.post("/items", json={"name": "Ink", "price": 3}).status_code == 422  # no key
    assert (
        client.post("/items", json={"name": "Ink", "price": 3}, headers={"X-API-Key": "no"}).status_code
        == 401
    )

    for path in ("/items", "/items/1"):
        answer = client.get(path, headers=SHOP)
        assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    assert (
        "access-control-allow-origin"
        not in client.get("/items/1", headers={"Origin": "https://evil.example"}).headers
    )
    preflight = client.options(
        "/items",
        headers={
            **SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert (
        preflight.status_code == 200
        and preflight.headers["access-control-allow-origin"] == "https://shop.example"
    )


def is_problem(answer: Any, status: int) -> bool:
    return answer.status_code == status and answer.headers["content-type"] == "application/problem+json"


def test_the_fastapi_app_passes_the_visit_on_fastapi(load) -> None:
    legacy = load(FASTAPI, "legacy")
    with TestClient(legacy.app) as client:
        visit_items(client)
        assert client.get("/items/9").json() == {"detail": "Item not found"}


def test_step1_the_mounted_fastapi_app_answers_everything(load) -> None:
    step1 = load(FASTAPI, "step1_mount")
    with TestClient(step1.app) as client:
        visit_items(client)  # the items come from FastAPI's lifespan, which lanner's runs
        missing = client.get("/items/9")
        assert (missing.status_code, missing.json()) == (404, {"detail": "Item not found"})  # FastAPI's
        assert client.get("/openapi.json").json()["info"]["title"] == "Inventory"  # FastAPI's document
        assert "/items/{item_id}" in client.get("/openapi.json").json()["paths"]
    assert sys.modules["legacy"].ITEMS == {}  # and its shutdown ran too


def test_a_mounted_apps_lifespan_is_not_run_by_lanner(load) -> None:
    legacy = load(FASTAPI, "legacy")
    app = Lanner(openapi_url=None)
    app.mount("/", legacy.app)
    with TestClient(app) as client:
        assert client.get("/items").json() == []  # why step 1 runs it from lanner's lifespan


def test_step2_the_moved_route_is_lanners(load) -> None:
    step2 = load(FASTAPI, "step2_move_routes")
    with TestClient(step2.app) as client:
        visit_items(client)
        missing = client.get("/items/9")
        assert is_problem(missing, 404) and missing.json()["detail"] == "Item not found"  # lanner's
        bad = client.get("/items/nine")
        assert is_problem(bad, 422) and bad.json()["errors"][0]["loc"] == ["path", "item_id"]
        wrong = client.post("/items", json={"name": "Ink", "price": 3}, headers={"X-API-Key": "no"})
        assert wrong.json() == {"detail": "Wrong API key"}  # still FastAPI's
        assert client.get("/openapi.json").json()["info"]["title"] == "Inventory"
        # lanner's CORS middleware covers the moved route and answers every preflight.
        assert (
            client.get("/items/9", headers=SHOP).headers["access-control-allow-origin"]
            == "https://shop.example"
        )


def test_step3_the_codemod_makes_step3_converted_from_the_fastapi_app(tmp_path, capsys) -> None:
    pytest.importorskip("ruff")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(FASTAPI / "legacy.py", project / "legacy.py")
    report = tmp_path / "report.txt"
    code, out = run_lanner(["migrate", str(project), "--report", str(report)], capsys)
    # Starlette's CORS middleware becomes lanner's: nothing is left for a person.
    assert code == 0
    assert "0 use(s) without a lanner equivalent" in out
    tidy(project / "legacy.py")
    assert_same_tree(project, FASTAPI / "step3_converted")


def test_step3_the_converted_fastapi_app_runs_on_lanner(load) -> None:
    fastapi_app = load(FASTAPI, "legacy").app
    original = fastapi_app.openapi()
    converted = load(FASTAPI / "step3_converted", "legacy")
    assert isinstance(converted.app, Lanner)
    with TestClient(converted.app) as client:
        visit_items(client)  # with lanner's CORS middleware, which takes Starlette's arguments
        assert is_problem(client.get("/items/9"), 404)
        assert is_problem(client.post("/items", json={"name": "Ink", "price": 3}), 422)
        document = client.get("/openapi.json").json()

    def operation_ids(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
        return {
            (path, method): op["operationId"]
            for path, ops in doc["paths"].items()
            for method, op in ops.items()
        }

    assert operation_ids(document) == operation_ids(original)  # openapi_compat="fastapi"
    assert document["info"]["title"] == original["info"]["title"] == "Inventory"


def test_step4_one_lanner_app_without_fastapi(load, monkeypatch) -> None:
    for name in ("fastapi", "starlette"):
        monkeypatch.setitem(sys.modules, name, None)  # importing them now fails: step 4 must not
    step4 = load(FASTAPI, "step4_lanner_only")
    with TestClient(step4.app) as client:
        visit_items(client)
        assert is_problem(client.get("/items/9"), 404)
        wrong = client.post("/items", json={"name": "Ink", "price": 3}, headers={"X-API-Key": "no"})
        assert is_problem(wrong, 401) and wrong.json()["detail"] == "Wrong API key"
    assert step4.ITEMS == {}  # its own lifespan's shutdown ran
