"""Dependency injection (lanner.di): the flattened plan, caching, overrides, cleanup, app scope."""

# Markers as parameter defaults (``x: int = Query(1)``) are the API under test.
# ruff: noqa: B008

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from lanner import (
    BackgroundTasks,
    Depends,
    Header,
    HTTPException,
    Lanner,
    Query,
    Request,
    Response,
    Router,
)
from lanner.checks import RouteDefinitionError
from lanner.di import DependencyCycleError, build_dependency_plan
from lanner.exceptions import LannerError
from lanner.testing import TestClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call_asgi(
    app: Any, path: str, log: list[Any] | None = None, method: str = "GET", query: bytes = b""
) -> tuple[int, bytes]:
    """Drive `app` with one request and record what it sends in `log`."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"test")],
        "client": ("c", 1),
        "server": ("test", 80),
    }
    pending = [{"type": "http.request", "body": b"", "more_body": False}]
    status = 0
    body = b""

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if log is not None:
            log.append(message["type"])
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


# -- the plan ------------------------------------------------------------------------------------


def test_plan_orders_steps_and_shares_cached_slots() -> None:
    def config() -> str:
        return "cfg"

    def db(cfg: str = Depends(config)) -> str:
        return "db:" + cfg

    def audit() -> None:
        return None

    def handler(
        d: str = Depends(db), c: str = Depends(config), fresh: str = Depends(config, use_cache=False)
    ) -> None:
        return None

    plan = build_dependency_plan(handler, dependencies=[Depends(audit)])
    calls = [step.plan.call for step in plan.steps]
    assert calls == [audit, config, db, config, handler]
    assert [step.slot for step in plan.steps] == [0, 1, 2, 3, 4]
    assert plan.steps[2].inputs == (("cfg", 1),)
    assert plan.handler.plan.call is handler
    assert plan.handler.inputs == (("d", 2), ("c", 1), ("fresh", 3))
    assert plan.request_steps == plan.steps
    assert plan.app_steps == ()


def test_plan_applies_overrides() -> None:
    def real() -> int:
        return 1

    def fake(q: int = 0) -> int:
        return q

    def handler(v: int = Depends(real)) -> None:
        return None

    plan = build_dependency_plan(handler, overrides={real: fake})
    assert plan.steps[0].plan.call is fake
    assert plan.steps[0].plan.query is not None


def test_plan_separates_app_scoped_steps() -> None:
    def pool() -> str:
        return "pool"

    def repo(p: str = Depends(pool, scope="app")) -> str:
        return p

    def handler(r: str = Depends(repo), p: str = Depends(pool, scope="app")) -> None:
        return None

    plan = build_dependency_plan(handler)
    assert [s.plan.call for s in plan.app_steps] == [pool]
    assert [s.plan.call for s in plan.request_steps] == [repo, handler]
    assert plan.handler.inputs == (("r", 1), ("p", 0))


def test_body_parameters_of_several_steps_are_embedded() -> None:
    class A(BaseModel):
        a: int

    class B(BaseModel):
        b: int

    def dep(x: A) -> A:
        return x

    def handler(y: B, x: A = Depends(dep)) -> None:
        return None

    def alone(y: B) -> None:
        return None

    plan = build_dependency_plan(handler)
    for step in plan.steps:
        assert step.plan.body is not None and step.plan.body.embedded is not None
    assert [step.plan.body.keys for step in plan.steps if step.plan.body] == [("x",), ("y",)]
    whole = build_dependency_plan(alone).handler.plan.body
    assert whole is not None and whole.whole is not None


def _cycle_a(b: None = None) -> None:
    return None


def _cycle_b(a: None = Depends(_cycle_a)) -> None:
    return None


_cycle_a.__defaults__ = (Depends(_cycle_b),)


def _self_cycle(me: None = None) -> None:
    return None


_self_cycle.__defaults__ = (Depends(_self_cycle),)


def test_cycles_are_rejected() -> None:
    def handler(a: None = Depends(_cycle_a)) -> None:
        return None

    def selfish(x: None = Depends(_self_cycle)) -> None:
        return None

    with pytest.raises(DependencyCycleError, match="_cycle_a -> _cycle_b -> _cycle_a"):
        build_dependency_plan(handler)
    with pytest.raises(DependencyCycleError, match="_self_cycle -> _self_cycle"):
        build_dependency_plan(selfish)
    with pytest.raises(DependencyCycleError):
        build_dependency_plan(_noop, dependencies=[Depends(_cycle_b)])
    assert issubclass(DependencyCycleError, TypeError)


def test_cycles_are_rejected_when_the_route_is_registered() -> None:
    app = Lanner()

    with pytest.raises(RouteDefinitionError, match="dependency cycle") as caught:

        @app.get("/cycle")
        def cycle(a: None = Depends(_cycle_a)) -> None:
            return None

    assert isinstance(caught.value.__cause__, DependencyCycleError)
    assert app.routes == [] or all(route.path != "/cycle" for route in app.routes)


def _no_cycle() -> None:
    return None


def test_a_cycle_brought_by_an_override_fails_the_startup() -> None:
    app = Lanner()

    @app.get("/cycle")
    def cycle(a: None = Depends(_no_cycle)) -> None:
        return None

    app.dependency_overrides[_no_cycle] = _cycle_a  # compiled when the app starts
    with pytest.raises(RouteDefinitionError, match="dependency cycle") as caught:
        app.endpoints  # noqa: B018
    assert isinstance(caught.value.__cause__, DependencyCycleError)
    with pytest.raises(RuntimeError), TestClient(app):
        pass


def _noop() -> None:
    return None


def test_app_scoped_dependency_cannot_read_the_request() -> None:
    def needs_request(request: Request) -> None:
        return None

    def needs_query(q: int) -> None:
        return None

    def needs_header(x_key: str = Header()) -> None:
        return None

    def needs_tasks(tasks: BackgroundTasks) -> None:
        return None

    for dependency in (needs_request, needs_query, needs_header, needs_tasks):
        with pytest.raises(TypeError, match="cannot read the request"):
            build_dependency_plan(_noop, dependencies=[Depends(dependency, scope="app")])


def test_app_scoped_dependency_cannot_depend_on_a_request_scoped_one() -> None:
    def per_request() -> int:
        return 1

    def shared(v: int = Depends(per_request)) -> int:
        return v

    with pytest.raises(TypeError, match=r"depends on request-scoped .*per_request"):
        build_dependency_plan(_noop, dependencies=[Depends(shared, scope="app")])


# -- kinds of dependency -------------------------------------------------------------------------


class Pager:
    def __init__(self, page: int = 1, size: Annotated[int, Query(le=50)] = 10) -> None:
        self.page = page
        self.size = size


class Checker:
    def __init__(self, word: str) -> None:
        self.word = word

    async def __call__(self, q: str = "") -> bool:
        return self.word in q


def test_every_kind_of_dependency() -> None:
    events: list[str] = []

    def sync_dep() -> str:
        return "sync"

    async def async_dep() -> str:
        return "async"

    def gen_dep() -> Iterator[str]:
        events.append("gen-enter")
        yield "gen"
        events.append("gen-exit")

    async def agen_dep() -> AsyncIterator[str]:
        events.append("agen-enter")
        yield "agen"
        events.append("agen-exit")

    app = Lanner()

    @app.get("/kinds")
    async def kinds(
        a: str = Depends(sync_dep),
        b: str = Depends(async_dep),
        c: str = Depends(gen_dep),
        d: str = Depends(agen_dep),
        pager: Annotated[Pager, Depends()] = None,  # type: ignore[assignment]
        found: bool = Depends(Checker("foo")),
    ) -> list[Any]:
        events.append("handler")
        return [a, b, c, d, pager.page, pager.size, found]

    with TestClient(app) as client:
        assert client.get("/kinds?page=2&q=xfoo").json() == ["sync", "async", "gen", "agen", 2, 10, True]
        assert events == ["gen-enter", "agen-enter", "handler", "agen-exit", "gen-exit"]
        response = client.get("/kinds?size=99")
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [["query", "size"]]


def test_sub_dependencies_and_their_parameters() -> None:
    def token(x_token: str = Header()) -> str:
        return x_token

    def user(tok: str = Depends(token), q: int = 0) -> dict[str, Any]:
        return {"token": tok, "q": q}

    app = Lanner()

    @app.get("/me")
    def me(u: dict[str, Any] = Depends(user), limit: int = 1) -> dict[str, Any]:
        return {**u, "limit": limit}

    with TestClient(app) as client:
        assert client.get("/me?q=3&limit=2", headers={"x-token": "t"}).json() == {
            "token": "t",
            "q": 3,
            "limit": 2,
        }
        response = client.get("/me?q=x&limit=y")
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [
            ["header", "x-token"],
            ["query", "q"],
            ["query", "limit"],
        ]


def test_dependency_raising_http_exception_stops_the_request() -> None:
    ran: list[str] = []

    def guard(x_key: str = Header("")) -> None:
        if x_key != "ok":
            raise HTTPException(401, "no key", headers={"WWW-Authenticate": "Key"})

    app = Lanner()

    @app.get("/guarded", dependencies=[Depends(guard)])
    async def guarded() -> str:
        ran.append("handler")
        return "in"

    with TestClient(app) as client:
        response = client.get("/guarded")
        assert response.status_code == 401
        assert response.json()["detail"] == "no key"
        assert response.headers["www-authenticate"] == "Key"
        assert ran == []
        assert client.get("/guarded", headers={"x-key": "ok"}).json() == "in"


# -- caching -------------------------------------------------------------------------------------


def test_a_dependency_used_twice_runs_once_per_request() -> None:
    calls: list[int] = []

    def counted() -> int:
        calls.append(1)
        return len(calls)

    def first(n: int = Depends(counted)) -> int:
        return n

    def second(n: int = Depends(counted)) -> int:
        return n

    app = Lanner()

    @app.get("/cached", dependencies=[Depends(counted)])
    async def cached(
        a: int = Depends(first), b: int = Depends(second), c: Annotated[int, Depends(counted)] = 0
    ) -> list[int]:
        return [a, b, c]

    @app.get("/uncached")
    async def uncached(
        a: int = Depends(counted, use_cache=False), b: int = Depends(counted, use_cache=False)
    ) -> list[int]:
        return [a, b]

    with TestClient(app) as client:
        assert client.get("/cached").json() == [1, 1, 1]
        assert len(calls) == 1
        assert client.get("/cached").json() == [2, 2, 2]
        calls.clear()
        assert client.get("/uncached").json() == [1, 2]


# -- dependencies=[...] on routes, routers and the app -------------------------------------------


def test_dependencies_on_app_router_include_and_route() -> None:
    order: list[str] = []

    def mark(name: str) -> Any:
        def dependency() -> str:
            order.append(name)
            return name

        dependency.__qualname__ = f"mark_{name}"
        return dependency

    app = Lanner(dependencies=[Depends(mark("app"))])
    router = Router(prefix="/r", dependencies=[Depends(mark("router"))])

    @router.get("/x", dependencies=[Depends(mark("route"))])
    async def x() -> str:
        order.append("handler")
        return "x"

    app.include_router(router, dependencies=[Depends(mark("include"))])

    @app.get("/plain")
    def plain() -> str:
        order.append("plain")
        return "plain"

    with TestClient(app) as client:
        assert client.get("/r/x").json() == "x"
        assert order == ["app", "include", "router", "route", "handler"]
        order.clear()
        assert client.get("/plain").json() == "plain"
        assert order == ["app", "plain"]


# -- overrides -----------------------------------------------------------------------------------


def real_db() -> str:
    return "real"


def test_overrides_set_and_cleared_between_requests() -> None:
    def fake_db(q: str = "fake") -> str:
        return q

    def repo(db: str = Depends(real_db)) -> str:
        return "repo:" + db

    app = Lanner()

    @app.get("/db")
    async def db(d: str = Depends(real_db), r: str = Depends(repo)) -> list[str]:
        return [d, r]

    @app.get("/guarded", dependencies=[Depends(real_db)])
    async def guarded() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/db").json() == ["real", "repo:real"]
        app.dependency_overrides[real_db] = fake_db
        assert client.get("/db").json() == ["fake", "repo:fake"]
        assert client.get("/db?q=other").json() == ["other", "repo:other"]
        route = next(r for r in app.routes if r.path == "/db")
        assert app.endpoints[route].plan.steps[0].plan.call is fake_db
        app.dependency_overrides.clear()
        assert client.get("/db?q=other").json() == ["real", "repo:real"]
        assert app.endpoints[route].plan.steps[0].plan.call is real_db

        def failing() -> str:
            raise HTTPException(403)

        app.dependency_overrides[real_db] = failing
        assert client.get("/guarded").status_code == 403
        del app.dependency_overrides[real_db]
        assert client.get("/guarded").json() == "ok"
        app.dependency_overrides.update({real_db: failing})
        assert client.get("/guarded").status_code == 403
        app.dependency_overrides.pop(real_db)
        assert client.get("/guarded").status_code == 200


# -- generator cleanup ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cleanup_runs_after_the_response_is_sent() -> None:
    log: list[Any] = []

    async def resource() -> AsyncIterator[str]:
        log.append("open")
        yield "r"
        log.append("close")

    def sync_resource() -> Iterator[str]:
        log.append("sync-open")
        yield "s"
        log.append("sync-close")

    app = Lanner()

    @app.get("/res")
    async def res(
        r: str = Depends(resource), s: str = Depends(sync_resource), tasks: BackgroundTasks = None
    ) -> str:  # type: ignore[assignment]
        tasks.add_task(log.append, "background")
        log.append("handler")
        return r + s

    assert await call_asgi(app, "/res", log) == (200, b'"rs"')
    assert log == [
        "open",
        "sync-open",
        "handler",
        "http.response.start",
        "http.response.body",
        "sync-close",
        "close",
        "background",
    ]


@pytest.mark.anyio
async def test_generators_see_the_handlers_exception_and_clean_up_after_the_response() -> None:
    log: list[Any] = []

    async def async_resource() -> AsyncIterator[str]:
        try:
            yield "a"
        except Exception as exc:
            log.append(("async-saw", type(exc).__name__))
            raise
        finally:
            log.append("async-finally")

    def sync_resource() -> Iterator[str]:
        try:
            yield "s"
        except Exception as exc:
            log.append(("sync-saw", type(exc).__name__))
            raise
        finally:
            log.append("sync-finally")

    app = Lanner()

    @app.get("/boom")
    async def boom(a: str = Depends(async_resource), s: str = Depends(sync_resource)) -> None:
        raise ValueError("handler failed")

    @app.get("/teapot")
    def teapot(a: str = Depends(async_resource)) -> None:
        raise HTTPException(418, "short and stout")

    status, body = await call_asgi(app, "/boom", log)
    assert status == 500
    assert b"handler failed" not in body
    # On failure the cleanups run first: what they raise decides the answer.
    assert log == [
        ("sync-saw", "ValueError"),
        "sync-finally",
        ("async-saw", "ValueError"),
        "async-finally",
        "http.response.start",
        "http.response.body",
    ]
    log.clear()
    assert (await call_asgi(app, "/teapot", log))[0] == 418
    assert log == [
        ("async-saw", "HTTPException"),
        "async-finally",
        "http.response.start",
        "http.response.body",
    ]


def test_generator_that_swallows_the_exception_leaves_a_500() -> None:
    seen: list[str] = []

    def session() -> Iterator[str]:
        try:
            yield "s"
        except LookupError:
            seen.append("rolled back")

    app = Lanner()

    @app.get("/missing")
    def missing(s: str = Depends(session)) -> None:
        raise KeyError("nope")

    with TestClient(app, raise_server_exceptions=False) as client:
        # Nothing re-raised or replaced the error: a server error, never a silent 200.
        assert client.get("/missing").status_code == 500
    assert seen == ["rolled back"]


def test_failed_dependency_cleans_up_the_generators_entered_before_it() -> None:
    seen: list[Any] = []

    async def resource() -> AsyncIterator[str]:
        try:
            yield "r"
        except HTTPException as exc:
            seen.append(exc.status_code)
            raise

    def deny(r: str = Depends(resource)) -> None:
        raise HTTPException(403)

    app = Lanner()

    @app.get("/deny")
    async def denied(d: None = Depends(deny)) -> str:
        return "never"

    with TestClient(app) as client:
        assert client.get("/deny").status_code == 403
    assert seen == [403]


# -- threads -------------------------------------------------------------------------------------


def test_sync_handlers_and_dependencies_run_in_worker_threads() -> None:
    threads: dict[str, int] = {}

    def sync_dep() -> None:
        threads["sync_dep"] = threading.get_ident()

    def gen_dep() -> Iterator[None]:
        threads["gen_enter"] = threading.get_ident()
        yield
        threads["gen_exit"] = threading.get_ident()

    async def async_dep() -> None:
        threads["loop"] = threading.get_ident()

    app = Lanner()

    @app.get("/t", dependencies=[Depends(sync_dep), Depends(gen_dep), Depends(async_dep)])
    def handler() -> str:
        threads["handler"] = threading.get_ident()
        return threading.current_thread().name

    with TestClient(app) as client:
        name = client.get("/t").json()
    assert name.startswith("lanner")
    loop = threads.pop("loop")
    assert loop != threading.get_ident()
    assert all(ident != loop for ident in threads.values()), threads


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["handler", "dependency", "generator"])
async def test_blocking_sync_code_does_not_stall_the_loop(where: str) -> None:
    release = threading.Event()

    def wait_sync() -> bool:
        return release.wait(timeout=10)

    def wait_gen() -> Iterator[bool]:
        yield release.wait(timeout=10)

    app = Lanner()
    if where == "handler":
        app.get("/block")(wait_sync)
    else:
        blocker = wait_sync if where == "dependency" else wait_gen

        @app.get("/block")
        async def block(released: bool = Depends(blocker)) -> bool:
            return released

    @app.get("/release")
    async def release_it() -> bool:
        release.set()
        return True

    blocked = asyncio.ensure_future(call_asgi(app, "/block"))
    # If the blocking call ran on the loop, /release could not run before it timed out (False).
    assert await call_asgi(app, "/release") == (200, b"true")
    assert await blocked == (200, b"true")


# -- app-scoped dependencies ---------------------------------------------------------------------


class Pool:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.closed = False


def make_pool_app() -> tuple[Lanner, list[str], Any]:
    events: list[str] = []

    async def pool() -> AsyncIterator[Pool]:
        events.append("open")
        await asyncio.sleep(0)
        resource = Pool(events)
        yield resource
        resource.closed = True
        events.append("close")

    def settings() -> dict[str, str]:
        events.append("settings")
        return {"dsn": "memory"}

    def repo(p: Pool = Depends(pool, scope="app")) -> tuple[int, bool]:
        return id(p), p.closed

    app = Lanner()

    @app.get("/a")
    async def a(
        p: Annotated[Pool, Depends(pool, scope="app")],
        s: dict[str, str] = Depends(settings, scope="app"),
        r: tuple[int, bool] = Depends(repo),
    ) -> list[Any]:
        return [id(p), r[0], s["dsn"]]

    @app.get("/b")
    def b(p: Pool = Depends(pool, scope="app")) -> int:
        return id(p)

    return app, events, settings


def test_app_scoped_dependency_lives_from_startup_to_shutdown() -> None:
    app, events, _ = make_pool_app()
    with TestClient(app) as client:
        assert events == ["open", "settings"]
        first = client.get("/a").json()
        second = client.get("/a").json()
        assert first == second
        assert first[0] == first[1]
        assert first[2] == "memory"
        assert client.get("/b").json() == first[0]
        assert events == ["open", "settings"]
    assert events == ["open", "settings", "close"]


def test_app_scoped_dependency_is_created_lazily_without_lifespan() -> None:
    app, events, _ = make_pool_app()
    client = TestClient(app)
    try:
        assert events == []
        assert client.get("/b").status_code == 200
        assert events == ["open"]
        first = client.get("/a").json()
        assert events == ["open", "settings"]
        assert client.get("/a").json() == first
        assert events == ["open", "settings"]
    finally:
        client.close()


def test_an_app_scoped_dependency_may_depend_on_another_one() -> None:
    events: list[str] = []

    async def pool() -> AsyncIterator[Pool]:
        events.append("open pool")
        yield Pool(events)
        events.append("close pool")

    async def cache(p: Pool = Depends(pool, scope="app")) -> AsyncIterator[dict[str, int]]:
        events.append("open cache")
        yield {"pool": id(p)}
        events.append("close cache")

    app = Lanner()

    @app.get("/")
    async def read(
        c: Annotated[dict[str, int], Depends(cache, scope="app")],
        p: Annotated[Pool, Depends(pool, scope="app")],
    ) -> bool:
        return c["pool"] == id(p)

    with TestClient(app) as client:
        assert client.get("/").json() is True
        assert client.get("/").json() is True
        assert events == ["open pool", "open cache"]
    # Closed in reverse order of creation: what depends on the pool goes first.
    assert events == ["open pool", "open cache", "close cache", "close pool"]


@pytest.mark.anyio
async def test_concurrent_first_requests_create_an_app_scoped_dependency_once() -> None:
    app, events, _ = make_pool_app()
    results = await asyncio.gather(*(call_asgi(app, "/b") for _ in range(5)))
    assert len({body for _, body in results}) == 1
    assert events == ["open"]


def test_app_scoped_startup_failure_fails_the_lifespan() -> None:
    async def broken() -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    app = Lanner()

    @app.get("/x")
    async def x(b: None = Depends(broken, scope="app")) -> None:
        return None

    with pytest.raises(RuntimeError, match="no database"), TestClient(app):
        pass


def test_app_scoped_dependency_reading_the_request_fails_at_compile() -> None:
    def per_request(q: int = 0) -> int:
        return q

    app = Lanner()

    with pytest.raises(TypeError, match="cannot read the request"):

        @app.get("/x")
        async def x(v: int = Depends(per_request, scope="app")) -> int:
            return v


def test_overriding_an_app_scoped_dependency() -> None:
    app, events, settings = make_pool_app()

    def fake_settings() -> dict[str, str]:
        return {"dsn": "fake"}

    with TestClient(app) as client:
        assert client.get("/a").json()[2] == "memory"
        app.dependency_overrides[settings] = fake_settings
        assert client.get("/a").json()[2] == "fake"
        app.dependency_overrides.clear()
        assert client.get("/a").json()[2] == "memory"
    assert events.count("settings") == 1


def test_response_and_request_reach_dependencies() -> None:
    def tag(response: Response, request: Request) -> str:
        response.headers["X-Path"] = request.url.path
        return request.method

    app = Lanner()

    @app.post("/tagged")
    async def tagged(method: str = Depends(tag)) -> str:
        return method

    with TestClient(app) as client:
        response = client.post("/tagged")
        assert response.json() == "POST"
        assert response.headers["x-path"] == "/tagged"


# -- a yield dependency's except block chooses the answer (FastAPI since 0.106) -------------------


class _OwnerError(Exception):
    pass


def test_a_yield_dependency_turns_the_handlers_exception_into_an_http_error() -> None:
    seen: list[str] = []

    def owner() -> Iterator[str]:
        try:
            yield "Rick"
        except _OwnerError as exc:
            seen.append("except")
            raise HTTPException(400, f"Owner error: {exc}") from exc

    async def async_owner() -> AsyncIterator[str]:
        try:
            yield "Morty"
        except KeyError:
            raise HTTPException(404, "not here") from None
        finally:
            seen.append("finally")

    app = Lanner(freeze_gc=False)

    @app.get("/sync/{item}")
    def sync_item(item: str, name: Annotated[str, Depends(owner)]) -> str:
        if item == "bad":
            raise _OwnerError(name)
        return item

    @app.get("/async")
    async def async_item(name: Annotated[str, Depends(async_owner)]) -> str:
        raise KeyError(name)

    client = TestClient(app)
    assert client.get("/sync/ok").json() == "ok"
    bad = client.get("/sync/bad")
    assert (bad.status_code, bad.json()["detail"]) == (400, "Owner error: Rick")
    missing = client.get("/async")
    assert (missing.status_code, missing.json()["detail"]) == (404, "not here")
    assert seen == ["except", "finally"]


def test_a_yield_dependency_that_swallows_the_error_is_a_clear_server_error() -> None:
    def swallow() -> Iterator[str]:
        try:
            yield "x"
        except ValueError:
            return  # the mistake under test: the error is neither re-raised nor replaced

    app = Lanner(freeze_gc=False)

    @app.get("/")
    def handler(x: Annotated[str, Depends(swallow)]) -> str:
        raise ValueError("boom")

    with pytest.raises(LannerError, match="raising an exception and a dependency with yield"):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


def test_cleanup_after_a_successful_response_runs_after_sending() -> None:
    events: list[str] = []

    async def resource() -> AsyncIterator[str]:
        yield "r"
        events.append("cleanup")

    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def handler(r: Annotated[str, Depends(resource)]) -> str:
        events.append("handler")
        return r

    sent: list[str] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(f"sent, cleanup {'done' if 'cleanup' in events else 'pending'}")

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [],
            "root_path": "",
        }
        await app(scope, receive, send)

    asyncio.run(run())
    assert sent == ["sent, cleanup pending"]
    assert events == ["handler", "cleanup"]
