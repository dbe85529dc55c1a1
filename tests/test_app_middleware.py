"""How the app stacks middleware: the fixed layers, the route known before the middleware runs,
routes that opt out of a middleware, and the ``rate_limit=`` route option."""

from typing import Any, ClassVar

import pytest

from lanner import Depends, Lanner, Request
from lanner.middleware import FunctionMiddleware
from lanner.responses import Response
from lanner.testing import TestClient
from lanner.types import ASGIApp, Receive, Scope, Send


class Recorder:
    """A pure ASGI middleware writing its name and what it saw of the route to a shared list."""

    log: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp, name: str = "") -> None:
        self.app = app
        self.name = name or type(self).__name__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = scope.get("route")
            self.log.append(f"{self.name}:{route.path if route is not None else '-'}")
        await self.app(scope, receive, send)


def layered(name: str, layer: int) -> type[Recorder]:
    return type(name, (Recorder,), {"layer": layer})


@pytest.fixture(autouse=True)
def clear_log() -> None:
    Recorder.log.clear()


def test_lanners_layers_take_their_fixed_place_whatever_the_order_they_are_added_in() -> None:
    app = Lanner()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    # Added in a scrambled order: compression first, errors-side layers last.
    app.add_middleware(layered("Compression", 900))
    app.add_middleware(layered("CORS", 100))
    app.add_middleware(Recorder, name="mine-first")
    app.add_middleware(layered("AccessLog", 60))
    app.add_middleware(Recorder, name="mine-second")
    app.add_middleware(layered("Timeout", 20))
    app.add_middleware(layered("RequestID", 30))
    with TestClient(app) as client:
        assert client.get("/items/3").json() == {"id": 3}
    names = [entry.split(":")[0] for entry in Recorder.log]
    # Outermost first: timeouts, request id, logging, CORS, then yours (the last added outermost),
    # then compression innermost.
    assert names == ["Timeout", "RequestID", "AccessLog", "CORS", "mine-second", "mine-first", "Compression"]


def test_the_route_template_is_known_before_the_middleware_runs() -> None:
    app = Lanner()

    @app.get("/items/{item_id}")
    async def item(item_id: int, request: Request) -> dict[str, Any]:
        return {"id": item_id, "route": request.scope["route"].path}

    app.add_middleware(Recorder)
    with TestClient(app) as client:
        assert client.get("/items/7").json() == {"id": 7, "route": "/items/{item_id}"}
        assert client.get("/nowhere").status_code == 404
        assert client.post("/items/7").status_code == 405
    assert Recorder.log == ["Recorder:/items/{item_id}", "Recorder:-", "Recorder:-"]


def test_a_mounted_app_has_no_route_of_the_parent() -> None:
    inner = Lanner()

    @inner.get("/x")
    async def x(request: Request) -> dict[str, str]:
        return {"route": request.scope["route"].path}

    app = Lanner()

    @app.get("/sub/y")  # a route of the parent wins over the mount
    async def parents() -> dict[str, str]:
        return {"route": "parent"}

    app.mount("/sub", inner)
    app.add_middleware(Recorder)
    inner.add_middleware(Recorder, name="inner")
    with TestClient(app) as client:
        assert client.get("/sub/x").json() == {"route": "/x"}
        assert client.get("/sub/y").json() == {"route": "parent"}
    assert Recorder.log == ["Recorder:-", "inner:/x", "Recorder:/sub/y"]


def test_a_middleware_that_rewrites_the_path_gets_the_new_route() -> None:
    app = Lanner()

    @app.get("/old")
    async def old() -> str:
        return "old"

    @app.get("/new")
    async def new() -> str:
        return "new"

    async def rewrite(request: Request, call_next: Any) -> Response:
        request.scope["path"] = "/new"
        return await call_next(request)  # type: ignore[no-any-return]

    app.add_middleware(FunctionMiddleware, dispatch=rewrite)
    app.add_middleware(Recorder)  # outside the rewrite: it sees the first match
    seen: list[str] = []

    @app.after_request
    def note_route(request: Request, response: Response) -> Response:
        seen.append(request.scope["route"].path)
        return response

    with TestClient(app) as client:
        assert client.get("/old").json() == "new"
    assert Recorder.log == ["Recorder:/old"]
    assert seen == ["/new"]


def test_a_route_can_opt_out_of_one_middleware() -> None:
    Tagger = layered("Tagger", 900)
    app = Lanner()

    @app.get("/page")
    async def page() -> str:
        return "page"

    @app.get("/download", skip_middleware=[Tagger])
    async def download() -> str:
        return "file"

    app.add_middleware(Tagger)
    app.add_middleware(Recorder, name="kept")
    with TestClient(app) as client:
        assert client.get("/page").json() == "page"
        assert client.get("/download").json() == "file"
        assert client.get("/download").json() == "file"
    assert Recorder.log == ["kept:/page", "Tagger:/page", "kept:/download", "kept:/download"]


class CountingLimit:
    """Stands in for a RateLimit: a callable dependency refusing past `allowed` calls."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.calls = 0

    async def __call__(self, request: Request) -> None:
        from lanner import HTTPException

        self.calls += 1
        if self.calls > self.allowed:
            raise HTTPException(429, "Too Many Requests")


def test_the_rate_limit_option_runs_each_limit_as_a_dependency() -> None:
    one, two = CountingLimit(3), CountingLimit(1)
    app = Lanner()

    @app.get("/single", rate_limit=one)
    async def single() -> str:
        return "ok"

    seen: list[str] = []

    def other_dependency() -> None:
        seen.append("dep")

    @app.get("/both", rate_limit=[CountingLimit(5), two], dependencies=[Depends(other_dependency)])
    async def both() -> str:
        return "ok"

    with TestClient(app) as client:
        assert [client.get("/single").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert [client.get("/both").status_code for _ in range(2)] == [200, 429]
    assert one.calls == 4 and two.calls == 2
    assert seen == ["dep", "dep"]  # the route's own dependencies run first


def test_lanners_middleware_options_are_checked_when_added() -> None:
    from lanner.middleware import CORSMiddleware, TrustedHostMiddleware

    app = Lanner()
    with pytest.raises(ValueError, match="allow_credentials"):
        app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(ValueError):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["exa*mple.com"])
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_credentials=True)
    assert len(app._middleware) == 1


def test_a_timed_out_request_is_logged_with_the_status_the_client_got() -> None:
    import asyncio
    import logging

    from lanner.middleware import Timeout, TimeoutMiddleware

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("lanner.access")
    logger.addHandler(handler)
    app = Lanner(access_log="json")
    app.add_middleware(TimeoutMiddleware, request_timeout=0.2)

    @app.get("/slow", timeout=Timeout(request=0.1))
    async def slow() -> str:
        await asyncio.sleep(5)
        return "never"

    try:
        with TestClient(app) as client:
            assert client.get("/slow").status_code == 504
    finally:
        logger.removeHandler(handler)
    assert [(record.route, record.status) for record in records] == [("/slow", 504)]  # type: ignore[attr-defined]


def test_a_bad_route_timeout_is_refused_at_registration() -> None:
    app = Lanner()
    with pytest.raises(TypeError, match="timeout"):
        app.add_route("/x", lambda: None, timeout="soon")
    with pytest.raises(ValueError):
        app.add_route("/y", lambda: None, timeout=-1)
