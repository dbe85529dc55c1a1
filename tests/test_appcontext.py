import asyncio
import logging
import sqlite3
import threading
from typing import Any

import pytest
from click.testing import CliRunner

from lanner import AppContext, HTTPException, Lanner, Request, pass_app_context
from lanner.concurrency import run_in_threadpool
from lanner.testing import TestClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_teardown_hooks_run_after_every_response_last_registered_first() -> None:
    app = Lanner()
    calls: list[tuple[str, Any, str | None]] = []

    @app.teardown_request
    def first(request: Request, error: BaseException | None) -> None:
        calls.append(("first", request.state.get("db"), type(error).__name__ if error else None))

    @app.teardown_request
    async def second(request: Request, error: BaseException | None) -> None:
        calls.append(("second", request.state.get("db"), type(error).__name__ if error else None))

    @app.get("/")
    def home(request: Request) -> dict[str, bool]:
        request.state.db = "open"
        return {"ok": True}

    @app.get("/boom")
    def boom(request: Request) -> None:
        request.state.db = "half-open"
        raise ValueError("broken")

    @app.get("/missing")
    def missing() -> None:
        raise HTTPException(404)

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").status_code == 200
    assert calls == [("second", "open", None), ("first", "open", None)]
    calls.clear()
    assert client.get("/boom").status_code == 500
    assert calls == [("second", "half-open", "ValueError"), ("first", "half-open", "ValueError")]
    calls.clear()
    # An HTTP error is an answer, not a failure; an unknown path runs the hooks too.
    assert client.get("/missing").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert calls == [("second", None, None), ("first", None, None)] * 2


def test_a_failing_teardown_hook_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    app = Lanner()
    ran: list[str] = []

    @app.teardown_request
    def closes(request: Request, error: BaseException | None) -> None:
        ran.append("closes")

    @app.teardown_request
    def fails(request: Request, error: BaseException | None) -> None:
        raise RuntimeError("cannot close")

    @app.get("/")
    def home() -> str:
        return "ok"

    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        response = TestClient(app).get("/")
    assert response.status_code == 200 and response.json() == "ok"
    assert ran == ["closes"]
    assert "teardown hook" in caplog.text and "cannot close" in caplog.text


def test_app_context_gives_app_and_state_and_runs_the_teardown_hooks() -> None:
    app = Lanner()
    app.config["DATABASE"] = ":memory:"
    closed: list[Any] = []

    def get_db(request: Any) -> sqlite3.Connection:
        if "db" not in request.state:
            request.state.db = sqlite3.connect(request.app.config["DATABASE"])
        return request.state.db  # type: ignore[no-any-return]

    @app.teardown_request
    def close_db(request: Any, error: BaseException | None) -> None:
        db = request.state.pop("db", None)
        if db is not None:
            db.close()
            closed.append(error)

    @app.get("/users/{user_id:int}", name="user")
    def user(user_id: int) -> int:
        return user_id

    with app.app_context() as context:
        assert isinstance(context, AppContext) and context.app is app
        db = get_db(context)
        assert db is get_db(context)
        assert context.url_for("user", user_id=3) == "/users/3"
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("select 1")
    assert closed == [None]
    with pytest.raises(KeyError), app.app_context() as context:
        get_db(context)
        raise KeyError("x")
    assert isinstance(closed[-1], KeyError)


@pytest.mark.anyio
async def test_async_with_app_context_awaits_async_hooks() -> None:
    app = Lanner()
    seen: list[str] = []

    @app.teardown_request
    async def close(request: Any, error: BaseException | None) -> None:
        await asyncio.sleep(0)
        seen.append(request.state.get("name"))

    async with app.app_context() as context:
        context.state.name = "job"
    assert seen == ["job"]
    # A plain `with` inside a running loop cannot run the coroutine: it says so.
    with pytest.raises(RuntimeError, match="async with"), app.app_context():
        pass


def test_a_plain_with_runs_an_async_hook_outside_a_loop() -> None:
    app = Lanner()
    seen: list[bool] = []

    @app.teardown_request
    async def close(request: Any, error: BaseException | None) -> None:
        seen.append(True)

    with app.app_context():
        pass
    assert seen == [True]


def test_pass_app_context_hands_commands_an_app_context() -> None:
    import click

    app = Lanner()
    app.config["GREETING"] = "hello"
    closed: list[str] = []

    @app.teardown_request
    def close(request: Any, error: BaseException | None) -> None:
        closed.append(request.state.get("opened", "nothing"))

    @app.cli.command("greet")
    @click.argument("name")
    @pass_app_context
    def greet(context: AppContext, name: str) -> None:
        context.state.opened = "db"
        click.echo(f"{context.app.config['GREETING']}, {name}")

    result = CliRunner().invoke(app.cli, ["greet", "Ada"])
    assert result.exit_code == 0 and result.output == "hello, Ada\n"
    assert closed == ["db"]

    # Added from elsewhere, as Flask projects do with app.cli.add_command().
    @click.command("orphan")
    @pass_app_context
    def orphan(context: AppContext) -> None:
        click.echo(str(context.app is app))

    app.cli.add_command(orphan)
    assert CliRunner().invoke(app.cli, ["orphan"]).output == "True\n"
    alone = CliRunner().invoke(orphan, [])
    assert alone.exit_code == 2 and "needs its app" in alone.output


def test_sync_hooks_handler_and_teardown_share_one_thread_per_request() -> None:
    # Flask runs a request in one thread; an sqlite3 connection opened in a hook must work later.
    app = Lanner()
    app.config["DATABASE"] = ":memory:"
    threads: list[set[int]] = []

    @app.before_request
    def open_db(request: Request) -> None:
        request.state.threads = {threading.get_ident()}
        request.state.db = sqlite3.connect(request.app.config["DATABASE"])

    @app.teardown_request
    def close_db(request: Request, error: BaseException | None) -> None:
        request.state.threads.add(threading.get_ident())
        request.state.db.close()
        threads.append(request.state.threads)

    @app.get("/")
    def home(request: Request) -> int:
        request.state.threads.add(threading.get_ident())
        return int(request.state.db.execute("select 41 + 1").fetchone()[0])

    @app.get("/async")
    async def from_async(request: Request) -> int:
        # run_in_threadpool from an async handler goes to the request's thread as well.
        def query() -> int:
            request.state.threads.add(threading.get_ident())
            return int(request.state.db.execute("select 1").fetchone()[0])

        return await run_in_threadpool(query)

    client = TestClient(app)
    for _ in range(5):
        assert client.get("/").json() == 42
        assert client.get("/async").json() == 1
    assert len(threads) == 10 and all(len(seen) == 1 for seen in threads)


def test_apps_with_only_async_hooks_do_not_pin_a_thread() -> None:
    app = Lanner()

    @app.before_request
    async def noop(request: Request) -> None:
        return None

    @app.get("/")
    def home() -> str:
        return "ok"

    endpoint = next(iter(app.endpoints.values()))
    assert endpoint.serve.__name__ != "_serve_pinned"
    assert TestClient(app).get("/").json() == "ok"


def test_open_resource_reads_beside_the_module_creating_the_app(tmp_path: Any) -> None:
    app = Lanner()
    with app.open_resource("test_appcontext.py") as source:
        assert source.read().startswith(b"import asyncio")
    with app.open_resource("test_appcontext.py", "r") as text:
        assert text.read(6) == "import"
    with pytest.raises(ValueError, match="reads files"):
        app.open_resource("x.sql", "w")


def test_url_alias_names_a_path_for_url_for() -> None:
    app = Lanner()

    @app.get("/", name="blog.index")
    def index() -> str:
        return "posts"

    app.add_url_alias("index", "/")
    app.add_url_alias("post", "/{id:int}")
    assert app.url_path_for("index") == "/"
    assert app.url_path_for("post", id=4) == "/4"
    client = TestClient(app)
    assert client.get("/").json() == "posts"
    with pytest.raises(ValueError):
        app.add_url_alias("bad", "/{id:nope}")
