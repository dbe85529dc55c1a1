"""A Flask blog in the style of Flask's tutorial, converted by ``lanner migrate`` and run on lanner.

``tests/fixtures/flask_blog/blogr`` is a Flask project written for this suite: an application
factory, an ``auth`` and a ``blog`` blueprint, a ``login_required`` decorator, SQLite through ``g``,
an ``init-db`` command, a JSON API, a 404 page and an app-level ``before_request`` check. The first
test runs it on Flask, so the expectations below are Flask's behaviour. The others convert a copy
with ``lanner migrate`` and run the blog's tests, ported by hand, against the converted copy.
"""

import contextlib
import functools
import importlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("libcst")
pytest.importorskip("jinja2")
pytest.importorskip("werkzeug")  # the blog hashes passwords with werkzeug.security

from click.testing import CliRunner

from lanner.cli import main
from lanner.testing import TestClient

FIXTURE = Path(__file__).parent / "fixtures" / "flask_blog"
PACKAGE = "blogr"
MODULES = ("blogr", "blogr.db", "blogr.auth", "blogr.blog", "blogr.api")
# What an import, a test run or `init-db` leaves next to the code; never part of the project.
LEFTOVERS = shutil.ignore_patterns("__pycache__", "instance")


@functools.cache
def seed_sql() -> str:
    """Two users (ann: ann-pw, bob: bob-pw) and one post by ann, as SQL."""
    from werkzeug.security import generate_password_hash

    ann, bob = (generate_password_hash(p, method="pbkdf2:sha256:1000") for p in ("ann-pw", "bob-pw"))
    return f"""
        INSERT INTO user (username, password) VALUES ('ann', '{ann}'), ('bob', '{bob}');
        INSERT INTO post (title, body, author_id, created)
        VALUES ('First light', 'line one' || x'0a' || 'line two', 1, '2020-03-04 05:06:07');
    """


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=LEFTOVERS)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the project under `root`, by relative path (without caches and instance data)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not {"__pycache__", "instance"} & set(path.relative_to(root).parts)
    }


def is_ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


@contextlib.contextmanager
def imported(root: Path) -> Iterator[ModuleType]:
    """The ``blogr`` package under `root`, imported apart from any other copy of it.

    The original and the converted project share the package name, so the modules of whichever copy
    is imported already are set aside and put back afterwards.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if is_ours(name)}
    sys.path.insert(0, str(root))
    try:
        try:
            package = importlib.import_module(PACKAGE)
            for name in MODULES[1:]:
                importlib.import_module(name)
        finally:
            sys.path.remove(str(root))
        assert Path(package.__file__ or "").parent == root / PACKAGE
        yield package
    finally:
        for name in [name for name in sys.modules if is_ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def login(client: Any, username: str = "ann", password: str = "ann-pw") -> Any:
    return client.post("/auth/login", data={"username": username, "password": password})


# -- the original, on Flask ---------------------------------------------------------------------


def test_the_original_project_runs_on_flask(tmp_path: Path) -> None:
    pytest.importorskip("flask")
    root = copy_project(FIXTURE, tmp_path / "original")
    with imported(root) as blogr:
        app = blogr.create_app({"TESTING": True, "DATABASE": str(tmp_path / "flask.sqlite")})
        assert app.test_cli_runner().invoke(args=["init-db"]).output == "Database created.\n"
        with app.app_context():
            blogr.db.get_db().executescript(seed_sql())
        client = app.test_client()
        assert client.get("/create").headers["Location"] == "/auth/login"
        assert "No account has that username." in login(client, "nobody").text
        assert login(client).headers["Location"] == "/"
        index = client.get("/").text
        assert "First light" in index and "ann, 04 Mar 2020" in index and 'href="/1/update"' in index
        page = client.post("/1/update", data={"title": "Kept title", "body": ""}).text
        assert "A post needs some text." in page and 'value="Kept title"' in page
        assert client.post("/api/posts", json={"title": "From JSON"}).status_code == 201
        assert client.get("/api/posts?limit=1").get_json() == {
            "posts": [{"id": 2, "title": "From JSON", "author": "ann"}]
        }
        missing = client.get("/no/such/page")
        assert missing.status_code == 404
        assert "Nothing lives at this address." in missing.text and "Signed in as" in missing.text
        anonymous = app.test_client()
        refused = anonymous.post("/api/posts", json={"title": "x"})
        assert (refused.status_code, refused.get_json()) == (401, {"error": "log in to use this endpoint"})


def test_flask_signs_sessions_with_the_instance_secret_key(tmp_path: Path) -> None:
    pytest.importorskip("flask")
    root = copy_project(FIXTURE, tmp_path / "original")
    database = tmp_path / "flask.sqlite"
    with imported(root) as blogr:
        development = blogr.create_app({"TESTING": True, "DATABASE": str(database)})
        development.test_cli_runner().invoke(args=["init-db"])
        with development.app_context():
            blogr.db.get_db().executescript(seed_sql())
        (root / "instance" / "config.py").write_text(
            f'SECRET_KEY = "deployed-secret"\nDATABASE = {str(database)!r}\n'
        )
        deployed = blogr.create_app()
        assert deployed.config["SECRET_KEY"] == "deployed-secret"
        client = development.test_client()
        login(client)
        cookie = client.get_cookie("session")
        assert cookie is not None
        stranger = deployed.test_client()
        stranger.set_cookie("session", cookie.value)
        assert "Signed in as" not in stranger.get("/").text


# -- the conversion -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, list[str]]:
    """A converted copy of the project: its root, the exit status and the printed report."""
    root = copy_project(FIXTURE, tmp_path_factory.mktemp("converted") / "project")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["migrate", str(root)])
    return root, status, out.getvalue().splitlines()


@pytest.fixture(scope="module")
def blogr(converted: tuple[Path, int, list[str]]) -> Iterator[ModuleType]:
    with imported(converted[0]) as package:
        yield package


@pytest.fixture
def app(blogr: ModuleType, tmp_path: Path) -> Any:
    app = blogr.create_app({"TESTING": True, "DATABASE": str(tmp_path / "blogr.sqlite")})
    with app.app_context() as ctx:
        blogr.db.init_db(ctx)
        blogr.db.get_db(ctx).executescript(seed_sql())
    return app


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def rows(blogr: ModuleType, app: Any, sql: str, *args: Any) -> list[sqlite3.Row]:
    """The rows `sql` selects, read through the converted app's own ``get_db``."""
    with app.app_context() as ctx:
        return blogr.db.get_db(ctx).execute(sql, args).fetchall()


def test_the_report_lists_nothing_left_to_do(converted: tuple[Path, int, list[str]]) -> None:
    root, status, report = converted
    *findings, summary = report
    assert status == 0, report
    assert re.fullmatch(
        r"migrated 9 of 12 file\(s\); 0 use\(s\) without a lanner equivalent, \d+ note\(s\)", summary
    )
    # Notes are things worth a look that were converted; anything else would be left for a person.
    assert findings and all(line.startswith(str(root)) and ": note: " in line for line in findings), findings
    for python in (root / PACKAGE).rglob("*.py"):
        source = python.read_text()
        assert "from flask" not in source and "import flask" not in source, python
    base = (root / PACKAGE / "templates" / "base.html").read_text()
    assert "g.user" not in base and "url_for('static', filename='blogr.css')" in base


def test_converting_the_package_folder_gives_the_same_project(
    converted: tuple[Path, int, list[str]], tmp_path: Path
) -> None:
    root = copy_project(FIXTURE, tmp_path / "project")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["migrate", str(root / PACKAGE)]) == 0
    assert snapshot(root) == snapshot(converted[0])


@pytest.mark.parametrize("extra", [[], ["--from", "flask"]], ids=["detected", "forced"])
def test_a_second_run_changes_nothing(
    converted: tuple[Path, int, list[str]], tmp_path: Path, extra: list[str]
) -> None:
    root = copy_project(converted[0], tmp_path / "again")
    before = snapshot(root)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["migrate", *extra, str(root)]) == 0
    assert snapshot(root) == before


# -- the blog's tests, ported to the converted app ---------------------------------------------


def test_config(blogr: ModuleType, converted: tuple[Path, int, list[str]]) -> None:
    app = blogr.create_app()
    assert not app.testing
    assert Path(app.instance_path) == converted[0] / "instance" and Path(app.instance_path).is_dir()
    assert app.config["DATABASE"] == os.path.join(app.instance_path, "blogr.sqlite")
    assert blogr.create_app({"TESTING": True}).testing


# lanner follows app.config["SECRET_KEY"] loaded after the app is built, as Flask does.
def test_sessions_use_the_instance_secret_key(converted: tuple[Path, int, list[str]], tmp_path: Path) -> None:
    root = copy_project(converted[0], tmp_path / "deployed")
    database = tmp_path / "blogr.sqlite"
    with imported(root) as deployed_blogr:
        development = deployed_blogr.create_app({"TESTING": True, "DATABASE": str(database)})
        with development.app_context() as ctx:
            deployed_blogr.db.init_db(ctx)
            deployed_blogr.db.get_db(ctx).executescript(seed_sql())
        (root / "instance" / "config.py").write_text(
            f'SECRET_KEY = "deployed-secret"\nDATABASE = {str(database)!r}\n'
        )
        deployed = deployed_blogr.create_app()
        assert deployed.config["SECRET_KEY"] == "deployed-secret"
        with TestClient(development, follow_redirects=False) as client:
            assert login(client).status_code == 302
            assert "Signed in as" in client.get("/").text
            with TestClient(deployed, cookies=client.cookies) as stranger:
                assert "Signed in as" not in stranger.get("/").text


def test_index(client: TestClient) -> None:
    page = client.get("/").text
    assert "Sign in" in page and "Sign up" in page and "Write a post" not in page
    login(client)
    page = client.get("/").text
    assert "Sign out" in page and '<b class="who">ann</b>' in page
    assert "First light" in page and "ann, 04 Mar 2020" in page and "line one\nline two" in page
    assert 'href="/1/update"' in page and 'href="/create"' in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/create"),
        ("POST", "/create"),
        ("GET", "/1/update"),
        ("POST", "/1/update"),
        ("POST", "/1/delete"),
    ],
)
def test_login_required(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 302
    assert response.headers["location"] == "/auth/login"


def test_author_required(blogr: ModuleType, app: Any, client: TestClient) -> None:
    login(client, "bob", "bob-pw")
    assert client.get("/1/update").status_code == 403
    assert client.post("/1/update", data={"title": "mine now", "body": "x"}).status_code == 403
    assert client.post("/1/delete").status_code == 403
    page = client.get("/").text
    assert "First light" in page and 'href="/1/update"' not in page
    assert rows(blogr, app, "SELECT title FROM post WHERE id = 1")[0]["title"] == "First light"


@pytest.mark.parametrize("path", ["/2/update", "/2/delete"])
def test_exists_required(client: TestClient, path: str) -> None:
    login(client)
    response = client.post(path, data={"title": "t", "body": "b"})
    assert response.status_code == 404
    assert "Nothing lives at this address." in response.text  # the app's own 404 page


def test_create(blogr: ModuleType, app: Any, client: TestClient) -> None:
    login(client)
    form = client.get("/create")
    assert form.status_code == 200 and 'value=""' in form.text
    response = client.post("/create", data={"title": "Second", "body": "more"})
    assert (response.status_code, response.headers["location"]) == (302, "/")
    assert [
        tuple(row) for row in rows(blogr, app, "SELECT title, body, author_id FROM post WHERE id = 2")
    ] == [("Second", "more", 1)]
    assert "Second" in client.get("/").text


def test_update(blogr: ModuleType, app: Any, client: TestClient) -> None:
    login(client)
    form = client.get("/1/update")
    assert form.status_code == 200 and 'value="First light"' in form.text
    response = client.post("/1/update", data={"title": "Updated", "body": "new text"})
    assert (response.status_code, response.headers["location"]) == (302, "/")
    post = rows(blogr, app, "SELECT * FROM post WHERE id = 1")[0]
    assert (post["title"], post["body"]) == ("Updated", "new text")


@pytest.mark.parametrize("path", ["/create", "/1/update"])
def test_validate(blogr: ModuleType, app: Any, client: TestClient, path: str) -> None:
    login(client)
    assert "A post needs a title." in client.post(path, data={"title": "", "body": "text"}).text
    page = client.post(path, data={"title": "Kept title", "body": ""})
    assert page.status_code == 200
    assert "A post needs some text." in page.text
    assert 'value="Kept title"' in page.text  # the form shows what was posted
    assert [row["title"] for row in rows(blogr, app, "SELECT title FROM post")] == ["First light"]


def test_delete(blogr: ModuleType, app: Any, client: TestClient) -> None:
    login(client)
    response = client.post("/1/delete")
    assert (response.status_code, response.headers["location"]) == (302, "/")
    assert rows(blogr, app, "SELECT * FROM post WHERE id = 1") == []
    assert "Nobody has written anything yet." in client.get("/").text


def test_register(blogr: ModuleType, app: Any, client: TestClient) -> None:
    assert client.get("/auth/register").status_code == 200
    response = client.post("/auth/register", data={"username": "cy", "password": "cy-pw"})
    assert (response.status_code, response.headers["location"]) == (302, "/auth/login")
    assert rows(blogr, app, "SELECT id FROM user WHERE username = 'cy'") != []
    assert login(client, "cy", "cy-pw").headers["location"] == "/"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", "", "Pick a username."),
        ("cy", "", "Pick a password."),
        ("ann", "whatever", "The name ann is taken."),
    ],
)
def test_register_validate(client: TestClient, username: str, password: str, message: str) -> None:
    response = client.post("/auth/register", data={"username": username, "password": password})
    assert response.status_code == 200 and message in response.text


def test_login(client: TestClient) -> None:
    assert client.get("/auth/login").status_code == 200
    response = login(client)
    assert (response.status_code, response.headers["location"]) == (302, "/")
    assert '<b class="who">ann</b>' in client.get("/").text


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("nobody", "ann-pw", "No account has that username."), ("ann", "bob-pw", "That password is wrong.")],
)
def test_login_validate(client: TestClient, username: str, password: str, message: str) -> None:
    response = login(client, username, password)
    assert response.status_code == 200 and message in response.text
    assert "Signed in as" not in client.get("/").text


def test_logout(client: TestClient) -> None:
    login(client)
    response = client.get("/auth/logout")
    assert (response.status_code, response.headers["location"]) == (302, "/")
    page = client.get("/").text
    assert "Sign in" in page and "Signed in as" not in page


def test_get_close_db(blogr: ModuleType, app: Any) -> None:
    with app.app_context() as ctx:
        db = blogr.db.get_db(ctx)
        assert db is blogr.db.get_db(ctx)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("SELECT 1")


def test_init_db_command(blogr: ModuleType, app: Any) -> None:
    result = CliRunner().invoke(app.cli, ["init-db"])
    assert (result.exit_code, result.output) == (0, "Database created.\n")
    assert rows(blogr, app, "SELECT * FROM post") == [] and rows(blogr, app, "SELECT * FROM user") == []


# -- the parts beyond the tutorial: JSON, the 404 page, the app-level check ----------------------


def test_api_lists_and_reads_posts(client: TestClient) -> None:
    login(client)
    for title in ("Two", "Three"):
        client.post("/create", data={"title": title, "body": "b"})
    everything = client.get("/api/posts").json()["posts"]
    assert {post["title"] for post in everything} == {"First light", "Two", "Three"}
    assert client.get("/api/posts", params={"limit": 1}).json() == {
        "posts": [{"id": 3, "title": "Three", "author": "ann"}]
    }
    assert client.get("/api/posts/1").json() == {
        "id": 1,
        "title": "First light",
        "body": "line one\nline two",
        "author": "ann",
    }
    missing = client.get("/api/posts/9")
    assert missing.status_code == 404 and "Nothing lives at this address." in missing.text


def test_api_writes_need_a_login(blogr: ModuleType, app: Any, client: TestClient) -> None:
    refused = client.post("/api/posts", json={"title": "sneaky"})
    assert (refused.status_code, refused.json()) == (401, {"error": "log in to use this endpoint"})
    assert client.get("/api/posts/1").status_code == 200  # reading stays public
    assert len(rows(blogr, app, "SELECT id FROM post")) == 1


def test_api_creates_posts(blogr: ModuleType, app: Any, client: TestClient) -> None:
    login(client, "bob", "bob-pw")
    created = client.post("/api/posts", json={"title": "  Via JSON ", "body": "hello"})
    assert (created.status_code, created.json()) == (201, {"id": 2, "title": "Via JSON"})
    assert [
        tuple(row) for row in rows(blogr, app, "SELECT title, body, author_id FROM post WHERE id = 2")
    ] == [("Via JSON", "hello", 2)]
    rejected = client.post("/api/posts", json={"title": " "})
    assert (rejected.status_code, rejected.json()) == (400, {"error": "title is required"})


def test_the_404_page(client: TestClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<title>Not here · Blogr</title>" in missing.text and 'href="/"' in missing.text
    login(client)
    # The user is loaded before the 404 is raised, as on Flask.
    assert "Signed in as" in client.get("/no/such/page").text


def test_static_files_and_plain_text(client: TestClient) -> None:
    css = client.get("/static/blogr.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.content == (FIXTURE / PACKAGE / "static" / "blogr.css").read_bytes()
    assert client.get("/ping").text == "pong"


# -- the converted project's command, from the lanner CLI ------------------------------------------


def test_lanner_cli_runs_init_db(converted: tuple[Path, int, list[str]], tmp_path: Path) -> None:
    root = copy_project(converted[0], tmp_path / "project")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("LANNER_APP", None)
    command = [sys.executable, "-m", "lanner.cli", "--app", PACKAGE]
    listed = subprocess.run(
        [*command, "--help"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0 and re.search(r"init-db\s+Create empty tables", listed.stdout), listed
    database = root / "instance" / "blogr.sqlite"
    assert not database.exists()
    done = subprocess.run(
        [*command, "init-db"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "Database created.\n"), done.stderr
    with contextlib.closing(sqlite3.connect(database)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"user", "post"} <= tables
