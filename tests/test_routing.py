"""Routing (lanner.routing, and how lanner.app dispatches): templates, the route tree, registration,
conflicts, 404/405, HEAD, trailing slashes, routers, url_path_for and mounts."""

from __future__ import annotations

import gzip
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, cast

import pytest
from pydantic import Field

from lanner import Body, Depends, HTTPException, Lanner, Request, Response, Router
from lanner._paths import _search, _walk
from lanner.exceptions import RequestValidationError, RouteConflictError
from lanner.responses import HTMLResponse, PlainTextResponse
from lanner.routing import (
    HTTP_METHODS,
    APIRoute,
    CompiledPath,
    NoMatchFound,
    Route,
    RouteOptions,
    RouteTable,
    compile_path,
)
from lanner.testing import TestClient
from lanner.types import Receive, Scope, Send

SAMPLE_UUID = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")
ClientFactory = Callable[[Any], TestClient]


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    clients: list[TestClient] = []

    def make(app: Any, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def table_of(*templates: str, methods: tuple[str, ...] = ("GET",)) -> RouteTable[str]:
    """A table whose targets are the templates themselves."""
    table: RouteTable[str] = RouteTable()
    for template in templates:
        table.add(compile_path(template), methods, template)
    return table


def found(table: RouteTable[str], path: str, method: str = "GET") -> tuple[str | None, dict[str, Any]]:
    target, params, _ = table.find(method, path)
    return target, params


def named(name: str, result: Any = None) -> Callable[..., Any]:
    """A parameterless handler called `name` that returns `result` (or its name)."""

    async def handler() -> Any:
        return name if result is None else result

    handler.__name__ = handler.__qualname__ = name
    return handler


# -- compile_path ---------------------------------------------------------------------------------


def test_compile_a_static_path() -> None:
    compiled = compile_path("/users/me")
    assert compiled.is_static
    assert compiled.param_names == ()
    assert compiled.shape == ("s:users", "s:me")


def test_compile_the_root() -> None:
    compiled = compile_path("/")
    assert compiled.is_static
    assert compiled.format({}) == "/"


def test_compile_typed_parameters() -> None:
    compiled = compile_path("/a/{n:int}/{f:float}/{u:uuid}/{s}/{t:str}/{rest:path}")
    assert not compiled.is_static
    assert compiled.param_names == ("n", "f", "u", "s", "t", "rest")
    assert compiled.param_types == {"n": int, "f": float, "u": uuid.UUID, "s": str, "t": str, "rest": str}
    assert compiled.shape == (
        "s:a",
        "param:int",
        "param:float",
        "param:uuid",
        "param:str",
        "param:str",
        "path:path",
    )


def test_compile_a_mixed_segment() -> None:
    compiled = compile_path("/files/{name}.{ext}")
    assert compiled.param_names == ("name", "ext")
    assert compiled.shape == ("s:files", "m:{str}.{str}")
    assert compile_path("/v{n:int}-{slug}").shape == ("m:v{int}-{str}",)


def test_parameter_names_do_not_change_the_shape() -> None:
    assert compile_path("/u/{a}/{b:int}").shape == compile_path("/u/{x}/{y:int}").shape
    assert compile_path("/u/{a}.{b}").shape == compile_path("/u/{c}.{d}").shape
    assert compile_path("/u/{a}").shape != compile_path("/u/{a:int}").shape


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("users", "must start with '/'"),
        ("", "must start with '/'"),
        ("users/{id}", "must start with '/'"),
        ("/a/{x}/{x}", "repeats parameter 'x'"),
        ("/a/{x}-{x:int}", "repeats parameter 'x'"),
        ("/a/{x:slug}", "unknown path convertor 'slug'"),
        ("/a/{p:path}/b", "path parameter must be a whole, last segment"),
        ("/a/{p:path}.txt", "path parameter must be a whole, last segment"),
        ("/a/x{p:path}", "path parameter must be a whole, last segment"),
        ("/a/{x", "malformed parameter"),
        ("/a/x}", "malformed parameter"),
        ("/a/{}", "malformed parameter"),
        ("/a/{1x}", "malformed parameter"),
        ("/a/{x-y}", "malformed parameter"),
        ("/a/{x}{", "malformed parameter"),
        ("/a/{{x}}", "malformed parameter"),
    ],
)
def test_invalid_templates_raise_value_error(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_path(template)


def test_invalid_templates_are_refused_at_registration() -> None:
    app = Lanner()
    for template in ("nope", "/a/{x}/{x}", "/a/{x:slug}", "/a/{p:path}/b"):
        with pytest.raises(ValueError):
            app.get(template)(named("h"))
    assert not any(route.path.startswith("/a/") for route in app.routes)


# -- CompiledPath.format --------------------------------------------------------------------------


def test_format_typed_parameters() -> None:
    compiled = compile_path("/u/{n:int}/{f:float}/{id:uuid}/{s}")
    assert compiled.format({"n": 3, "f": 2.5, "id": SAMPLE_UUID, "s": "x"}) == f"/u/3/2.5/{SAMPLE_UUID}/x"


def test_format_a_path_parameter_keeps_its_slashes() -> None:
    assert compile_path("/files/{p:path}").format({"p": "a/b c/d.txt"}) == "/files/a/b%20c/d.txt"


def test_format_percent_quotes_parameter_values() -> None:
    compiled = compile_path("/s/{q}")
    assert compiled.format({"q": "a b"}) == "/s/a%20b"
    assert compiled.format({"q": "ü"}) == "/s/%C3%BC"
    assert compiled.format({"q": "a?b#c%d"}) == "/s/a%3Fb%23c%25d"
    assert compiled.format({"q": "{other}"}) == "/s/%7Bother%7D"


def test_format_percent_quotes_the_template_text() -> None:
    assert compile_path("/café/{x}").format({"x": "1"}) == "/caf%C3%A9/1"
    assert compile_path("/a b/c@d:e").format({}) == "/a%20b/c@d:e"
    assert compile_path("/100%/{x}").format({"x": "1"}) == "/100%25/1"


def test_format_a_mixed_segment() -> None:
    compiled = compile_path("/files/{name}.{ext}")
    assert compiled.format({"name": "report", "ext": "pdf"}) == "/files/report.pdf"
    assert compiled.format({"name": "a b", "ext": "tar.gz"}) == "/files/a%20b.tar.gz"
    assert compile_path("/v{n:int}-{s}.json").format({"n": 2, "s": "x"}) == "/v2-x.json"


@pytest.mark.parametrize(
    "params",
    [{}, {"a": 1}, {"a": 1, "b": 2, "c": 3}, {"a": 1, "c": 2}],
)
def test_format_needs_exactly_the_template_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(NoMatchFound, match=r"takes parameters \['a', 'b'\]"):
        compile_path("/{a}/{b:int}").format(params)


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("/u/{n:int}", "abc"),
        ("/u/{n:int}", -1),
        ("/u/{n:int}", True),
        ("/u/{f:float}", float("inf")),
        ("/u/{id:uuid}", "nope"),
        ("/u/{s}", "a/b"),
        ("/u/{s}", ""),
        ("/u/{s}", ".."),
        ("/u/{p:path}", "a/../b"),
        ("/u/{a}.txt", "x/y"),
    ],
)
def test_format_refuses_values_that_would_not_match(template: str, value: Any) -> None:
    compiled = compile_path(template)
    with pytest.raises(NoMatchFound, match=template.replace("{", r"\{").replace("}", r"\}")):
        compiled.format({compiled.param_names[0]: value})


@pytest.mark.parametrize(
    ("template", "params"),
    [
        ("/u/{n:int}/x", {"n": 12}),
        ("/u/{f:float}", {"f": 1e-7}),
        ("/u/{f:float}", {"f": 1e20}),
        ("/u/{id:uuid}", {"id": SAMPLE_UUID}),
        ("/u/{s}", {"s": "héllo wörld"}),
        ("/u/{s}", {"s": "a?b#c"}),
        ("/u/{p:path}", {"p": "a/b/ü c"}),
        ("/u/{name}.{ext}", {"name": "a b", "ext": "tar.gz"}),
        ("/café/{s}", {"s": "x"}),
    ],
)
def test_url_path_for_round_trips_through_the_app(
    template: str, params: dict[str, Any], client_for: ClientFactory
) -> None:
    app = Lanner()

    @app.get(template, name="target")
    async def target(request: Request) -> dict[str, str]:
        return {key: str(value) for key, value in request.path_params.items()}

    response = client_for(app).get(app.url_path_for("target", **params))
    assert response.status_code == 200
    assert response.json() == {key: str(value) for key, value in params.items()}


# -- RouteTable: lookup ---------------------------------------------------------------------------


def test_table_finds_static_and_dynamic_routes() -> None:
    table = table_of("/", "/users", "/users/{id:int}", "/users/{id:int}/files/{name}")
    assert found(table, "/") == ("/", {})
    assert found(table, "/users") == ("/users", {})
    assert found(table, "/users/7") == ("/users/{id:int}", {"id": 7})
    assert found(table, "/users/7/files/a.txt") == (
        "/users/{id:int}/files/{name}",
        {"id": 7, "name": "a.txt"},
    )
    assert found(table, "/users/x") == (None, {})
    assert found(table, "/users/7/files") == (None, {})
    assert found(table, "/nothing") == (None, {})


def test_table_converts_values_to_the_template_types() -> None:
    table = table_of("/i/{v:int}", "/f/{v:float}", "/u/{v:uuid}", "/s/{v}", "/p/{v:path}")
    assert found(table, "/i/0042")[1] == {"v": 42}
    assert found(table, "/f/2.5")[1] == {"v": 2.5}
    assert found(table, f"/u/{SAMPLE_UUID}")[1] == {"v": SAMPLE_UUID}
    assert found(table, "/s/abc")[1] == {"v": "abc"}
    assert found(table, "/p/a/b/c")[1] == {"v": "a/b/c"}
    assert type(found(table, "/f/3")[1]["v"]) is float


def test_table_typed_parameters_refuse_other_text() -> None:
    table = table_of("/i/{v:int}", "/f/{v:float}", "/u/{v:uuid}")
    for path in ("/i/abc", "/i/-1", "/i/1.5", "/f/abc", "/f/1e3", "/u/xyz", f"/u/{SAMPLE_UUID.hex}"):
        assert found(table, path) == (None, {}), path


def test_int_parameter_refuses_non_ascii_digits() -> None:
    table = table_of("/n/{v:int}")
    for digits in ("\u0661\u0662", "\uff11\uff12", "\u00b2", "\u07c1"):
        assert found(table, f"/n/{digits}") == (None, {})
    assert found(table_of("/n/{v:int}", "/n/{v}"), "/n/\u0661\u0662") == ("/n/{v}", {"v": "\u0661\u0662"})


def test_table_plain_parameters_never_match_an_empty_segment() -> None:
    table = table_of("/a/{x}", "/b/{x}/c")
    assert found(table, "/a/") == (None, {})
    assert found(table, "/b//c") == (None, {})


def test_trailing_slash_is_part_of_the_path() -> None:
    table = table_of("/a/{x}/", "/b/{x}")
    assert found(table, "/a/1/") == ("/a/{x}/", {"x": "1"})
    assert found(table, "/a/1") == (None, {})
    assert found(table, "/b/1/") == (None, {})


@pytest.mark.parametrize("reverse", [False, True])
def test_static_beats_a_parameter_at_the_same_position(reverse: bool) -> None:
    templates = ["/users/{id}", "/users/me", "/{org}/settings", "/about/{page}"]
    table = table_of(*(reversed(templates) if reverse else templates))
    assert found(table, "/users/me") == ("/users/me", {})
    assert found(table, "/users/42") == ("/users/{id}", {"id": "42"})
    assert found(table, "/about/settings") == ("/about/{page}", {"page": "settings"})
    assert found(table, "/acme/settings") == ("/{org}/settings", {"org": "acme"})


@pytest.mark.parametrize("reverse", [False, True])
def test_typed_parameters_are_tried_before_plain_ones(reverse: bool) -> None:
    templates = ["/v/{x}", "/v/{x:float}", "/v/{x:int}", "/v/{x:uuid}"]
    table = table_of(*(reversed(templates) if reverse else templates))
    assert found(table, "/v/12") == ("/v/{x:int}", {"x": 12})
    assert found(table, "/v/1.5") == ("/v/{x:float}", {"x": 1.5})
    assert found(table, f"/v/{SAMPLE_UUID}") == ("/v/{x:uuid}", {"x": SAMPLE_UUID})
    assert found(table, "/v/abc") == ("/v/{x}", {"x": "abc"})


@pytest.mark.parametrize("reverse", [False, True])
def test_mixed_segments_come_between_typed_and_plain_parameters(reverse: bool) -> None:
    templates = ["/f/{any}", "/f/{name}.{ext}", "/f/{n:int}"]
    table = table_of(*(reversed(templates) if reverse else templates))
    assert found(table, "/f/7") == ("/f/{n:int}", {"n": 7})
    assert found(table, "/f/a.txt") == ("/f/{name}.{ext}", {"name": "a", "ext": "txt"})
    assert found(table, "/f/readme") == ("/f/{any}", {"any": "readme"})


@pytest.mark.parametrize("reverse", [False, True])
def test_the_mixed_segment_with_more_literal_text_wins(reverse: bool) -> None:
    templates = ["/f/{name}.{ext}", "/f/{name}.tar.gz", "/f/v{n:int}.{ext}"]
    table = table_of(*(reversed(templates) if reverse else templates))
    assert found(table, "/f/a.tar.gz") == ("/f/{name}.tar.gz", {"name": "a"})
    assert found(table, "/f/a.zip") == ("/f/{name}.{ext}", {"name": "a", "ext": "zip"})
    assert found(table, "/f/v2.zip") == ("/f/v{n:int}.{ext}", {"n": 2, "ext": "zip"})


@pytest.mark.parametrize("reverse", [False, True])
def test_a_path_parameter_never_hides_a_static_route(reverse: bool) -> None:
    templates = ["/files/{p:path}", "/files/special", "/files/special/{x:int}", "/files/{name}.txt"]
    table = table_of(*(reversed(templates) if reverse else templates))
    assert found(table, "/files/special") == ("/files/special", {})
    assert found(table, "/files/special/3") == ("/files/special/{x:int}", {"x": 3})
    assert found(table, "/files/a.txt") == ("/files/{name}.txt", {"name": "a"})
    assert found(table, "/files/special/x") == ("/files/{p:path}", {"p": "special/x"})
    assert found(table, "/files/a/b/c.txt") == ("/files/{p:path}", {"p": "a/b/c.txt"})
    assert found(table, "/files/other") == ("/files/{p:path}", {"p": "other"})


def test_a_path_parameter_takes_the_rest_even_when_empty_or_with_empty_segments() -> None:
    table = table_of("/files/{p:path}")
    assert found(table, "/files/") == ("/files/{p:path}", {"p": ""})
    assert found(table, "/files/a//b/") == ("/files/{p:path}", {"p": "a//b/"})
    assert found(table, "/files") == (None, {})
    assert found(table_of("/{p:path}"), "/") == ("/{p:path}", {"p": ""})


def test_lookup_backtracks_when_a_deeper_static_segment_fails() -> None:
    table = table_of("/a/static/c", "/a/{x}/b", "/a/{x:int}/d", "/a/{x}/{y:int}")
    assert found(table, "/a/static/c") == ("/a/static/c", {})
    assert found(table, "/a/static/b") == ("/a/{x}/b", {"x": "static"})
    assert found(table, "/a/5/b") == ("/a/{x}/b", {"x": "5"})
    assert found(table, "/a/5/d") == ("/a/{x:int}/d", {"x": 5})
    assert found(table, "/a/static/9") == ("/a/{x}/{y:int}", {"x": "static", "y": 9})


def test_backtracking_does_not_leak_values_from_abandoned_branches() -> None:
    table = table_of("/t/{a:int}/{b:int}/x", "/t/{c}.{d}/{e}/y", "/t/{f}/{g}/z", "/t/{rest:path}")
    assert found(table, "/t/1/2/z") == ("/t/{f}/{g}/z", {"f": "1", "g": "2"})
    assert found(table, "/t/1.5/2/y") == ("/t/{c}.{d}/{e}/y", {"c": "1", "d": "5", "e": "2"})
    assert found(table, "/t/1/2/w") == ("/t/{rest:path}", {"rest": "1/2/w"})


def test_the_greedy_walk_agrees_with_the_full_search() -> None:
    templates = [
        "/t/{a:int}/{b:int}/x",
        "/t/{c}.{d}/{e}/y",
        "/t/{f}/{g}/z",
        "/t/{rest:path}",
        "/t/me/{h}/x",
        "/t/{i:float}/w",
        "/t/{j:uuid}/x",
        "/u/{k}",
        "/u/{k}/v",
        "/u/fixed/{l:int}",
        "/v/{m:int}",
        "/v/{n}",
    ]
    table = table_of(*templates)
    words = ["t", "u", "v", "me", "fixed", "1", "2.5", "1.5", "x", "y", "z", "w", "", str(SAMPLE_UUID)]
    walked = 0
    for length in (1, 2, 3, 4):
        for parts in itertools.product(words, repeat=length):
            segments = list(parts)
            greedy_values: list[Any] = []
            greedy = _walk(table._root, segments, greedy_values, "GET")
            values: list[Any] = []
            full = _search(table._root, segments, 0, values, "GET", set())
            if greedy is not None:
                walked += 1
                assert (greedy, greedy_values) == (full, values), segments
            path = "/" + "/".join(segments)
            assert table.find("GET", path)[0] == (full[0] if full else None), path
    assert walked > 40  # the walk answers many lookups by itself


def test_table_reports_allowed_methods_for_405() -> None:
    table: RouteTable[str] = RouteTable()
    table.add(compile_path("/users/me"), ["GET", "HEAD"], "me")
    table.add(compile_path("/users/{id}"), ["DELETE"], "delete")
    table.add(compile_path("/users/{id:int}"), ["PUT"], "put")
    table.add(compile_path("/users/{p:path}"), ["PATCH"], "patch")
    assert table.find("POST", "/users/me") == (None, {}, {"GET", "HEAD", "DELETE", "PATCH"})
    assert table.find("POST", "/users/5") == (None, {}, {"PUT", "DELETE", "PATCH"})
    assert table.find("POST", "/users/a/b") == (None, {}, {"PATCH"})
    assert table.find("POST", "/nobody") == (None, {}, set())
    # A method allowed by a parameter route is served by it even where a static route exists.
    assert table.find("DELETE", "/users/me")[:2] == ("delete", {"id": "me"})


def test_table_one_target_for_several_methods() -> None:
    table: RouteTable[str] = RouteTable()
    table.add(compile_path("/x/{id}"), ["GET", "POST"], "both")
    table.add(compile_path("/x/{id}"), ["DELETE"], "delete")
    table.add(compile_path("/s"), ["GET"], "s-get")
    table.add(compile_path("/s"), ["PUT"], "s-put")
    assert found(table, "/x/1", "POST") == ("both", {"id": "1"})
    assert found(table, "/x/1", "DELETE") == ("delete", {"id": "1"})
    assert found(table, "/s", "PUT") == ("s-put", {})
    assert table.find("PATCH", "/s") == (None, {}, {"GET", "PUT"})


def test_a_static_hit_has_no_params_and_no_allowed_methods() -> None:
    table = table_of("/static")
    target, params, allowed = table.find("GET", "/static")
    assert (target, params, allowed) == ("/static", {}, set())


def test_each_lookup_returns_its_own_params_dict() -> None:
    table = table_of("/static")
    first = table.find("GET", "/static")[1]
    first["polluted"] = True
    assert table.find("GET", "/static")[1] == {}
    missed = table.find("GET", "/missing")[1]
    missed["polluted"] = True
    assert table.find("GET", "/missing")[1] == {}


def test_path_params_changed_by_one_request_do_not_leak_into_the_next(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.get("/static")
    async def static(request: Request) -> dict[str, Any]:
        seen = dict(request.path_params)
        request.path_params["leak"] = 1
        return seen

    client = client_for(app)
    assert client.get("/static").json() == {}
    assert client.get("/static").json() == {}


def test_one_thousand_parametrised_routes() -> None:
    table: RouteTable[int] = RouteTable()
    for i in range(1000):
        table.add(compile_path(f"/r{i}/items/{{item_id:int}}"), ["GET"], i)
        table.add(compile_path(f"/r{i}/users/{{name}}/posts/{{post:int}}"), ["GET", "POST"], 10_000 + i)
    for i in (0, 1, 17, 500, 999):
        assert table.find("GET", f"/r{i}/items/5") == (i, {"item_id": 5}, set())
        assert table.find("POST", f"/r{i}/users/ann/posts/3") == (
            10_000 + i,
            {"name": "ann", "post": 3},
            set(),
        )
    assert table.find("GET", "/r1000/items/5") == (None, {}, set())
    assert table.find("GET", "/r5/items/x") == (None, {}, set())
    assert table.find("DELETE", "/r5/items/1") == (None, {}, {"GET"})


def test_hostile_mixed_segments_are_answered() -> None:
    # No timing assertion: with a backtracking regex this would not finish before pytest-timeout.
    table = table_of("/f/{a}-{b}-{c}-{d}-{e}.txt", "/g/{a}-{b:int}")
    assert found(table, "/f/" + "-" * 3000 + "x") == (None, {})
    assert found(table, "/g/" + "-" * 3000 + "x") == (None, {})
    target, params = found(table, "/f/" + "-" * 3000 + "x.txt")
    assert target == "/f/{a}-{b}-{c}-{d}-{e}.txt"
    assert params["e"] == "-" * 2992 + "x"


# -- Router: registration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decorator", "methods"),
    [
        ("get", {"GET"}),
        ("post", {"POST"}),
        ("put", {"PUT"}),
        ("patch", {"PATCH"}),
        ("delete", {"DELETE"}),
        ("options", {"OPTIONS"}),
        ("head", {"HEAD"}),
    ],
)
def test_each_method_decorator_registers_its_method(decorator: str, methods: set[str]) -> None:
    router = Router()
    handler = named("handler")
    assert getattr(router, decorator)("/x")(handler) is handler
    (route,) = router.routes
    assert route.methods == methods
    assert route.path == "/x"
    assert route.handler is handler
    assert route.name == "handler"


def test_route_decorator_takes_several_methods_in_any_case() -> None:
    router = Router()
    handler = named("handler")
    assert router.route("/x", methods=["get", "Post", "DELETE"])(handler) is handler
    assert router.routes[0].methods == {"GET", "POST", "DELETE"}
    router.route("/y")(named("default"))
    assert router.routes[1].methods == {"GET"}


def test_add_route_returns_the_route() -> None:
    router = Router(prefix="/api")
    route = router.add_route("/x/{id:int}", named("h"), ["PUT"], status_code=202)
    assert isinstance(route, Route)
    assert route in router.routes
    assert (route.path, route.methods, route.options.status_code) == ("/api/x/{id:int}", {"PUT"}, 202)
    assert isinstance(route.compiled, CompiledPath)
    assert route.compiled.param_names == ("id",)


def test_every_supported_http_method() -> None:
    router = Router()
    router.route("/all", methods=HTTP_METHODS)(named("h"))
    assert router.routes[0].methods == set(HTTP_METHODS)


@pytest.mark.parametrize("methods", [["TRACE"], ["GET", "FETCH"], ["CONNECT"]])
def test_unknown_methods_are_refused(methods: list[str]) -> None:
    with pytest.raises(ValueError, match="unsupported HTTP method"):
        Router().route("/x", methods=methods)(named("h"))


def test_an_empty_method_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one HTTP method"):
        Router().route("/x", methods=[])(named("h"))


def test_decorator_options_are_stored_on_the_route() -> None:
    router = Router()
    dependency = Depends(named("dep"))
    router.get(
        "/x",
        status_code=201,
        response_model=dict,
        response_model_exclude_none=True,
        response_class=PlainTextResponse,
        name="the-x",
        tags=["a", "b"],
        summary="Sum",
        description="Desc",
        operation_id="op",
        dependencies=[dependency],
        responses={404: {"description": "missing"}},
        include_in_schema=False,
        deprecated=True,
        max_body_size=10,
    )(named("h"))
    options = router.routes[0].options
    assert options == RouteOptions(
        status_code=201,
        response_model=dict,
        response_model_exclude_none=True,
        response_class=PlainTextResponse,
        name="the-x",
        tags=("a", "b"),
        summary="Sum",
        description="Desc",
        operation_id="op",
        dependencies=(dependency,),
        responses={404: {"description": "missing"}},
        include_in_schema=False,
        deprecated=True,
        max_body_size=10,
    )
    assert router.routes[0].name == "the-x"


def test_default_options() -> None:
    router = Router()
    router.get("/x", tags=None, dependencies=None, responses=None)(named("h"))
    assert router.routes[0].options == RouteOptions()


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="colour"):
        Router().get("/x", colour="red")(named("h"))


@pytest.mark.parametrize("where", ["route", "router", "include"])
def test_tags_given_as_one_string_are_refused(where: str) -> None:
    with pytest.raises(TypeError, match="list of strings"):
        if where == "route":
            Router().get("/x", tags="items")(named("h"))
        elif where == "router":
            Router(tags="items")  # type: ignore[arg-type]
        else:
            Router().include_router(Router(), tags="items")  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["api", "/api/", "/"])
def test_router_prefix_must_start_and_not_end_with_a_slash(prefix: str) -> None:
    with pytest.raises(ValueError, match="router prefix"):
        Router(prefix=prefix)


def test_router_paths_must_start_with_a_slash() -> None:
    router = Router(prefix="/api")
    with pytest.raises(ValueError, match="must start with '/'"):
        router.get("items")(named("h"))
    with pytest.raises(ValueError, match="must start with '/'"):
        Router().get("")(named("h"))
    assert router.routes == []


def test_an_empty_path_in_a_prefixed_router_is_the_prefix_itself() -> None:
    router = Router(prefix="/api")
    router.get("")(named("root"))
    router.get("/")(named("slash"))
    assert [route.path for route in router.routes] == ["/api", "/api/"]


def test_router_prefix_tags_and_dependencies_apply_to_its_routes() -> None:
    outer = Depends(named("outer"))
    own = Depends(named("own"))
    router = Router(prefix="/items", tags=["items", "shared"], dependencies=[outer])
    router.get("/{id:int}", tags=["shared", "extra"], dependencies=[own])(named("h"))
    route = router.routes[0]
    assert route.path == "/items/{id:int}"
    assert route.options.tags == ("items", "shared", "extra")
    assert route.options.dependencies == (outer, own)


# -- conflicts ------------------------------------------------------------------------------------


def first_handler() -> None:
    """A module-level handler, for conflict messages."""


def second_handler() -> None:
    """Another one."""


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/items", "/items"),
        ("/items/{id}", "/items/{name}"),
        ("/items/{id:int}", "/items/{n:int}"),
        ("/items/{a:str}", "/items/{b}"),
        ("/f/{name}.{ext}", "/f/{stem}.{suffix}"),
        ("/f/{p:path}", "/f/{rest:path}"),
        ("/u/{id:uuid}/x", "/u/{other:uuid}/x"),
    ],
)
def test_routes_that_can_never_be_told_apart_conflict(first: str, second: str) -> None:
    router = Router()
    router.get(first)(first_handler)
    with pytest.raises(RouteConflictError) as info:
        router.get(second)(second_handler)
    message = str(info.value)
    assert f"{__name__}.first_handler" in message
    assert f"{__name__}.second_handler" in message
    assert first in message
    assert second in message
    assert isinstance(info.value, ValueError)
    assert len(router.routes) == 1


def test_a_conflict_needs_a_shared_method() -> None:
    router = Router()
    router.route("/x/{id}", methods=["GET", "POST"])(first_handler)
    router.put("/x/{other}")(second_handler)
    router.head("/x/{third}")(named("head"))
    with pytest.raises(RouteConflictError, match="POST"):
        router.route("/x/{fourth}", methods=["DELETE", "POST"])(named("clash"))
    assert len(router.routes) == 3


def test_different_shapes_do_not_conflict() -> None:
    router = Router()
    for template in (
        "/x/{a}",
        "/x/{a:int}",
        "/x/{a:float}",
        "/x/{a:uuid}",
        "/x/{a:path}",
        "/x/{a}.{b}",
        "/x/a",
    ):
        router.get(template)(named("h"))
    assert len(router.routes) == 7


def test_conflicts_through_include_router_name_both_handlers() -> None:
    app = Lanner()
    app.get("/api/items/{id}")(first_handler)
    router = Router(prefix="/items")
    router.get("/{item_id}")(second_handler)
    with pytest.raises(RouteConflictError) as info:
        app.include_router(router, prefix="/api")
    assert "first_handler" in str(info.value)
    assert "second_handler" in str(info.value)


def test_include_router_adds_nothing_when_one_route_conflicts() -> None:
    app = Lanner()
    app.get("/b")(first_handler)
    before = list(app.routes)
    router = Router()
    router.get("/a")(named("a"))
    router.get("/b")(second_handler)
    with pytest.raises(RouteConflictError):
        app.include_router(router)
    assert app.routes == before


def test_a_router_cannot_include_itself() -> None:
    router = Router()
    router.get("/x")(named("h"))
    with pytest.raises(ValueError, match="itself"):
        router.include_router(router, prefix="/again")


@pytest.mark.parametrize("prefix", ["api", "/api/"])
def test_include_prefix_must_start_and_not_end_with_a_slash(prefix: str) -> None:
    with pytest.raises(ValueError, match="include prefix"):
        Lanner().include_router(Router(), prefix=prefix)


# -- nested routers -------------------------------------------------------------------------------


def test_nested_routers_join_prefixes_tags_and_dependencies_outside_in(client_for: ClientFactory) -> None:
    calls: list[str] = []

    def dependency(tag: str) -> Depends:
        async def record() -> None:
            calls.append(tag)

        record.__name__ = f"dep_{tag}"
        return Depends(record)

    app = Lanner(dependencies=[dependency("app")])
    outer = Router(prefix="/outer", tags=["outer"], dependencies=[dependency("outer")])
    inner = Router(prefix="/inner", tags=["inner", "outer"], dependencies=[dependency("inner")])

    @inner.get("/leaf/{n:int}", tags=["route"], dependencies=[dependency("route")], name="leaf")
    async def leaf(n: int) -> dict[str, int]:
        calls.append("handler")
        return {"n": n}

    outer.include_router(inner, prefix="/inc", tags=["inc"], dependencies=[dependency("include-inner")])
    app.include_router(outer, prefix="/top", tags=["top"], dependencies=[dependency("include-outer")])

    route = next(route for route in app.routes if route.name == "leaf")
    assert route.path == "/top/outer/inc/inner/leaf/{n:int}"
    assert route.options.tags == ("top", "outer", "inc", "inner", "route")
    response = client_for(app).get("/top/outer/inc/inner/leaf/4")
    assert response.status_code == 200
    assert response.json() == {"n": 4}
    assert calls == ["app", "include-outer", "outer", "include-inner", "inner", "route", "handler"]
    assert app.url_path_for("leaf", n=4) == "/top/outer/inc/inner/leaf/4"
    # The routers keep their own copies, under their own prefixes.
    assert [r.path for r in inner.routes] == ["/inner/leaf/{n:int}"]
    assert [r.path for r in outer.routes] == ["/outer/inc/inner/leaf/{n:int}"]


def test_a_router_can_be_included_twice_under_different_prefixes(client_for: ClientFactory) -> None:
    router = Router()

    @router.get("/ping")
    async def ping(request: Request) -> str:
        return request.url.path

    app = Lanner()
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v2")
    client = client_for(app)
    assert client.get("/v1/ping").json() == "/v1/ping"
    assert client.get("/v2/ping").json() == "/v2/ping"


def test_include_router_dependencies_can_refuse_a_request(client_for: ClientFactory) -> None:
    async def require_token(request: Request) -> None:
        if request.headers.get("x-token") != "secret":
            raise HTTPException(403, "no token")

    router = Router()
    router.get("/admin")(named("admin", {"ok": True}))
    app = Lanner()
    app.include_router(router, dependencies=[Depends(require_token)])
    client = client_for(app)
    assert client.get("/admin").status_code == 403
    assert client.get("/admin", headers={"x-token": "secret"}).json() == {"ok": True}


def test_routes_added_to_a_router_after_including_it_are_not_included() -> None:
    router = Router()
    router.get("/early")(named("early"))
    app = Lanner(openapi_url=None)
    app.include_router(router)
    router.get("/late")(named("late"))
    assert [route.path for route in app.routes] == ["/early"]


# -- the app: decorators end to end ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_each_decorator_serves_its_method(method: str, client_for: ClientFactory) -> None:
    app = Lanner()
    getattr(app, method.lower())("/thing")(named("thing", {"method": method}))
    client = client_for(app)
    response = client.request(method, "/thing")
    assert response.status_code == 200
    assert response.json() == {"method": method}
    other = "POST" if method == "GET" else "GET"
    assert client.request(other, "/thing").status_code == 405


def test_route_decorator_serves_each_listed_method(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.route("/thing", methods=["GET", "POST"])
    async def thing(request: Request) -> str:
        return request.method

    client = client_for(app)
    assert client.get("/thing").json() == "GET"
    assert client.post("/thing").json() == "POST"
    assert client.head("/thing").status_code == 200
    response = client.put("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_status_code_and_response_class_options(client_for: ClientFactory) -> None:
    app = Lanner()
    app.post("/created", status_code=201)(named("created", {"id": 1}))
    app.get("/text", response_class=PlainTextResponse)(named("text", "plain"))
    app.get("/html", response_class=HTMLResponse, status_code=202)(named("html", "<b>hi</b>"))
    client = client_for(app)
    created = client.post("/created")
    assert (created.status_code, created.json()) == (201, {"id": 1})
    text = client.get("/text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "plain"
    html = client.get("/html")
    assert html.status_code == 202
    assert html.headers["content-type"].startswith("text/html")
    assert html.text == "<b>hi</b>"


def test_route_dependencies_run_before_the_handler(client_for: ClientFactory) -> None:
    calls: list[str] = []

    async def audit() -> None:
        calls.append("audit")

    app = Lanner()

    @app.get("/x", dependencies=[Depends(audit)])
    async def x() -> str:
        calls.append("handler")
        return "x"

    assert client_for(app).get("/x").json() == "x"
    assert calls == ["audit", "handler"]


def test_documentation_options_reach_the_openapi_document() -> None:
    app = Lanner()
    app.get("/shown", tags=["t"], summary="Sum", description="Desc", deprecated=True, name="shown")(
        named("shown")
    )
    app.get("/hidden", include_in_schema=False)(named("hidden"))
    paths = app.openapi()["paths"]
    assert "/hidden" not in paths
    operation = paths["/shown"]["get"]
    assert operation["tags"] == ["t"]
    assert operation["summary"] == "Sum"
    assert operation["description"] == "Desc"
    assert operation["deprecated"] is True


# -- the app: typed templates and validation ------------------------------------------------------


@pytest.fixture
def typed_app() -> Lanner:
    app = Lanner()

    @app.get("/int/{x:int}")
    async def by_int(x: int) -> dict[str, Any]:
        return {"x": x, "type": type(x).__name__}

    @app.get("/float/{x:float}")
    async def by_float(x: float) -> dict[str, Any]:
        return {"x": x, "type": type(x).__name__}

    @app.get("/uuid/{x:uuid}")
    async def by_uuid(x: uuid.UUID) -> dict[str, Any]:
        return {"x": str(x), "type": type(x).__name__}

    @app.get("/path/{x:path}")
    async def by_path(x: str) -> dict[str, Any]:
        return {"x": x}

    @app.get("/annotated/{x}")
    async def annotated(x: int) -> dict[str, Any]:
        return {"x": x}

    @app.get("/bare/{x:int}")
    async def bare(x):  # type: ignore[no-untyped-def]
        return {"x": x, "type": type(x).__name__}

    @app.get("/files/{name}.{ext}")
    async def file(name: str, ext: str) -> dict[str, str]:
        return {"name": name, "ext": ext}

    return app


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/int/42", {"x": 42, "type": "int"}),
        ("/int/007", {"x": 7, "type": "int"}),
        ("/float/2.5", {"x": 2.5, "type": "float"}),
        ("/float/3", {"x": 3.0, "type": "float"}),
        (f"/uuid/{SAMPLE_UUID}", {"x": str(SAMPLE_UUID), "type": "UUID"}),
        (f"/uuid/{str(SAMPLE_UUID).upper()}", {"x": str(SAMPLE_UUID), "type": "UUID"}),
        ("/path/a/b/c.txt", {"x": "a/b/c.txt"}),
        ("/annotated/12", {"x": 12}),
        ("/bare/5", {"x": 5, "type": "int"}),
        ("/files/report.pdf", {"name": "report", "ext": "pdf"}),
        ("/files/archive.tar.gz", {"name": "archive", "ext": "tar.gz"}),
    ],
)
def test_typed_templates_deliver_typed_values(
    typed_app: Lanner, path: str, body: dict[str, Any], client_for: ClientFactory
) -> None:
    response = client_for(typed_app).get(path)
    assert response.status_code == 200
    assert response.json() == body


@pytest.mark.parametrize(
    "path",
    [
        "/int/abc",
        "/int/-3",
        "/int/1.5",
        "/int/\u0661\u0662",
        "/float/abc",
        "/float/1e5",
        "/uuid/nope",
        "/files/readme",
    ],
)
def test_a_value_the_convertor_refuses_is_a_404(
    typed_app: Lanner, path: str, client_for: ClientFactory
) -> None:
    response = client_for(typed_app).get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_annotation_validates_a_plain_parameter(typed_app: Lanner, client_for: ClientFactory) -> None:
    response = client_for(typed_app).get("/annotated/abc")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert [error["loc"] for error in problem["errors"]] == [["path", "x"]]
    assert problem["errors"][0]["type"] == "int_parsing"


def test_the_annotation_can_narrow_a_typed_parameter(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.get("/page/{n:int}")
    async def page(n: Annotated[int, Field(ge=1, le=10)]) -> int:
        return n

    client = client_for(app)
    assert client.get("/page/3").json() == 3
    response = client.get("/page/11")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "n"]


@pytest.mark.xfail(
    strict=True,
    reason="signature/_validation: a {x:int} or {x:uuid} value is converted before validation, so a "
    "`str` annotation refuses the int/UUID (422 for a request the route matched)",
)
def test_a_str_annotation_on_a_typed_parameter_gets_the_text(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.get("/a/{x:int}")
    async def a(x: str) -> str:
        return x

    assert client_for(app).get("/a/5").json() == "5"


# -- the app: precedence --------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
def test_app_precedence_in_either_registration_order(reverse: bool, client_for: ClientFactory) -> None:
    registrations: list[tuple[str, str]] = [
        ("/files/{p:path}", "catch-all"),
        ("/files/special", "special"),
        ("/files/{name}.{ext}", "mixed"),
        ("/items/{x}", "plain"),
        ("/items/{x:int}", "int"),
        ("/items/me", "me"),
    ]
    app = Lanner()
    for index, (template, label) in enumerate(reversed(registrations) if reverse else registrations):
        app.get(template)(named(f"h{index}", label))
    client = client_for(app)
    expected = {
        "/files/special": "special",
        "/files/a/b": "catch-all",
        "/files/special/more": "catch-all",
        "/files/a.txt": "mixed",
        "/items/me": "me",
        "/items/12": "int",
        "/items/twelve": "plain",
    }
    assert {path: client.get(path).json() for path in expected} == expected


# -- the app: 404 and 405 -------------------------------------------------------------------------


def test_unknown_path_is_a_404_problem(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/items")(named("items"))
    response = client_for(app).get("/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert "allow" not in response.headers


def test_wrong_method_is_a_405_with_allow(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/items")(named("list"))
    app.post("/items")(named("create"))
    response = client_for(app).delete("/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 405


def test_405_when_the_path_matches_only_through_a_parameter_route(client_for: ClientFactory) -> None:
    app = Lanner()
    app.post("/users/{id:int}")(named("update"))
    app.delete("/users/{name}")(named("remove"))
    client = client_for(app)
    response = client.get("/users/5")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, POST"
    response = client.get("/users/ann")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE"


def test_405_allow_merges_static_and_parameter_routes(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/users/me")(named("me"))
    app.delete("/users/{id}")(named("remove"))
    app.patch("/users/{rest:path}")(named("patch"))
    client = client_for(app)
    response = client.put("/users/me")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert client.delete("/users/me").json() == "remove"


def test_405_for_an_explicit_head_only_route(client_for: ClientFactory) -> None:
    app = Lanner()
    app.head("/probe")(named("probe"))
    response = client_for(app).get("/probe")
    assert response.status_code == 405
    assert response.headers["allow"] == "HEAD"


def test_a_type_mismatch_on_every_route_is_a_404_not_a_405(client_for: ClientFactory) -> None:
    app = Lanner()
    app.post("/n/{x:int}")(named("n"))
    assert client_for(app).get("/n/abc").status_code == 404


# -- the app: HEAD --------------------------------------------------------------------------------


def test_head_is_served_for_every_get(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.get("/items/{id:int}")
    async def item(id: int, response: Response) -> dict[str, int]:
        response.headers["x-item"] = str(id)
        return {"id": id, "twice": id * 2}

    client = client_for(app)
    get = client.get("/items/21")
    head = client.head("/items/21")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert get.content == b'{"id":21,"twice":42}'
    assert dict(head.headers) == dict(get.headers)
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["x-item"] == "21"


def test_head_for_a_static_get(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/", response_class=PlainTextResponse)(named("root", "hello"))
    response = client_for(app).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "5"


def test_an_explicit_head_route_wins(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/doc/{id}")(named("doc_get", {"body": "full"}))

    @app.head("/doc/{key}")
    async def doc_head(key: str) -> Response:
        return Response(headers={"x-head": key})

    client = client_for(app)
    head = client.head("/doc/7")
    assert head.headers["x-head"] == "7"
    assert head.content == b""
    assert client.get("/doc/7").json() == {"body": "full"}
    assert client.post("/doc/7").headers["allow"] == "GET, HEAD"


def test_head_is_not_added_to_other_methods(client_for: ClientFactory) -> None:
    app = Lanner()
    app.post("/only-post")(named("p"))
    response = client_for(app).head("/only-post")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_get_and_head_together_conflict_with_an_explicit_head() -> None:
    app = Lanner()
    app.route("/x", methods=["GET", "HEAD"])(named("both"))
    with pytest.raises(RouteConflictError, match="HEAD"):
        app.head("/x")(named("head"))


# -- the app: trailing slashes --------------------------------------------------------------------


@pytest.fixture
def slash_app() -> Lanner:
    app = Lanner()
    app.get("/items")(named("items"))
    app.get("/dir/")(named("dir"))
    app.get("/users/{id:int}")(named("user"))
    app.post("/forms")(named("forms"))
    return app


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/items/", "/items"),
        ("/dir", "/dir/"),
        ("/users/5/", "/users/5"),
        ("/items/?q=1&tag=a%20b", "/items?q=1&tag=a%20b"),
        ("/dir?x=1", "/dir/?x=1"),
    ],
)
def test_redirect_slashes_answers_308_both_ways(
    slash_app: Lanner, path: str, location: str, client_for: ClientFactory
) -> None:
    response = client_for(slash_app).get(path, follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == location


def test_redirect_slashes_keeps_the_method_and_is_followed(
    slash_app: Lanner, client_for: ClientFactory
) -> None:
    client = client_for(slash_app)
    response = client.post("/forms/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (308, "/forms")
    followed = client.get("/items/", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json() == "items"
    assert client.head("/items/", follow_redirects=False).status_code == 308


def test_no_redirect_when_neither_form_exists_or_the_method_differs(
    slash_app: Lanner, client_for: ClientFactory
) -> None:
    client = client_for(slash_app)
    assert client.get("/nothing/", follow_redirects=False).status_code == 404
    assert client.get("/users/x/", follow_redirects=False).status_code == 404
    assert client.post("/items/", follow_redirects=False).status_code == 404


def test_redirect_slashes_off(client_for: ClientFactory) -> None:
    app = Lanner(redirect_slashes=False)
    app.get("/items")(named("items"))
    app.get("/dir/")(named("dir"))
    client = client_for(app)
    assert client.get("/items/", follow_redirects=False).status_code == 404
    assert client.get("/dir", follow_redirects=False).status_code == 404
    assert client.get("/items").status_code == 200


def test_the_redirect_keeps_the_root_path(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/items")(named("items"))
    client = client_for(app, root_path="/api")
    response = client.get("/api/items/?a=1", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/api/items?a=1"
    assert client.get("/api/items").json() == "items"


# -- the app: url_path_for ------------------------------------------------------------------------


def test_url_path_for() -> None:
    app = Lanner()
    app.get("/")(named("home"))
    app.get("/users/{id:int}")(named("user"))
    app.get("/users/{id:int}/files/{p:path}", name="user-file")(named("file"))
    app.get("/price/{amount:float}")(named("price"))
    app.get("/things/{id:uuid}")(named("thing"))
    app.get("/search/{q}")(named("search"))
    assert app.url_path_for("home") == "/"
    assert app.url_path_for("user", id=3) == "/users/3"
    assert app.url_path_for("user-file", id=3, p="a/b.txt") == "/users/3/files/a/b.txt"
    assert app.url_path_for("price", amount=9.5) == "/price/9.5"
    assert app.url_path_for("thing", id=SAMPLE_UUID) == f"/things/{SAMPLE_UUID}"
    assert app.url_path_for("search", q="a b&c") == "/search/a%20b%26c"
    assert app.url_path_for("search", q="ünï") == "/search/%C3%BCn%C3%AF"


def test_url_path_for_unknown_name() -> None:
    app = Lanner()
    app.get("/x")(named("x"))
    with pytest.raises(NoMatchFound, match="no route named 'y'"):
        app.url_path_for("y")
    assert isinstance(NoMatchFound("x"), LookupError)


@pytest.mark.parametrize(
    "params",
    [{}, {"id": 1, "extra": 2}, {"other": 1}, {"id": "abc"}, {"id": -1}, {"id": None}],
)
def test_url_path_for_wrong_params(params: dict[str, Any]) -> None:
    app = Lanner()
    app.get("/users/{id:int}")(named("user"))
    with pytest.raises(NoMatchFound):
        app.url_path_for("user", **params)


def test_url_path_for_a_slash_in_a_plain_parameter_is_refused() -> None:
    app = Lanner()
    app.get("/search/{q}")(named("search"))
    with pytest.raises(NoMatchFound, match="not a valid path segment"):
        app.url_path_for("search", q="a/b")


def test_url_path_for_the_first_route_registered_under_a_name_wins() -> None:
    app = Lanner()
    app.get("/first", name="dup")(named("a"))
    app.get("/second", name="dup")(named("b"))
    assert app.url_path_for("dup") == "/first"


def test_url_path_for_sees_routes_added_after_a_first_call() -> None:
    app = Lanner()
    app.get("/a")(named("a"))
    assert app.url_path_for("a") == "/a"
    app.get("/b")(named("b"))
    assert app.url_path_for("b") == "/b"


# -- the app: mounts ------------------------------------------------------------------------------


async def echo_scope(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI app answering with what it saw."""
    body = json.dumps(
        {
            "path": scope["path"],
            "root_path": scope.get("root_path", ""),
            "query": scope["query_string"].decode(),
            "method": scope["method"],
        }
    ).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def test_a_mounted_asgi_app_sees_its_prefix_in_root_path(client_for: ClientFactory) -> None:
    app = Lanner()
    app.mount("/sub", echo_scope)
    client = client_for(app)
    assert client.get("/sub/x/y?a=1").json() == {
        "path": "/sub/x/y",
        "root_path": "/sub",
        "query": "a=1",
        "method": "GET",
    }
    assert client.post("/sub").json()["root_path"] == "/sub"
    assert client.get("/sub/").json()["path"] == "/sub/"


def test_a_mount_behind_a_root_path(client_for: ClientFactory) -> None:
    app = Lanner()
    app.mount("/sub", echo_scope)
    seen = client_for(app, root_path="/api").get("/api/sub/x").json()
    assert (seen["path"], seen["root_path"]) == ("/api/sub/x", "/api/sub")


def test_a_route_wins_over_a_mount_which_serves_the_rest_of_its_prefix(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/static/logo.png")(named("route"))
    app.get("/staticfiles")(named("neighbour"))
    app.mount("/static", echo_scope)
    client = client_for(app)
    assert client.get("/static/logo.png").json() == "route"
    # Another method on the route's path, and every other path under the prefix: the mount.
    assert client.post("/static/logo.png").json()["root_path"] == "/static"
    assert client.get("/static/other.png").json()["root_path"] == "/static"
    assert client.get("/staticfiles").json() == "neighbour"
    assert client.get("/stat").status_code == 404


def test_a_root_mount_serves_whatever_no_route_serves(client_for: ClientFactory) -> None:
    app = Lanner()
    app.get("/moved")(named("lanner"))
    app.mount("/", echo_scope)
    client = client_for(app)
    assert client.get("/moved").json() == "lanner"
    legacy = client.get("/not/moved/yet").json()
    assert (legacy["path"], legacy["root_path"]) == ("/not/moved/yet", "")
    assert client.delete("/moved").json()["path"] == "/moved"


def test_a_lanner_app_mounted_in_another(client_for: ClientFactory) -> None:
    child = Lanner()

    @child.get("/items/{id:int}", name="item")
    async def item(id: int, request: Request) -> dict[str, Any]:
        return {"id": id, "path": request.path, "url": request.url_for("item", id=id)}

    parent = Lanner()
    parent.mount("/child", child)
    client = client_for(parent)
    assert client.get("/child/items/3").json() == {"id": 3, "path": "/items/3", "url": "/child/items/3"}
    assert client.get("/child/items/x").status_code == 404
    assert client.get("/child/items/3/", follow_redirects=False).headers["location"] == "/child/items/3"


@pytest.mark.parametrize("prefix", ["sub", "/sub/", "//"])
def test_mount_prefix_must_start_and_not_end_with_a_slash(prefix: str) -> None:
    with pytest.raises(ValueError, match="mount prefix"):
        Lanner().mount(prefix, echo_scope)


# -- the app: unicode and percent-encoded paths ---------------------------------------------------


def test_unicode_and_percent_encoded_paths(client_for: ClientFactory) -> None:
    app = Lanner()

    @app.get("/café/{name}")
    async def cafe(name: str) -> str:
        return name

    app.get("/ünï/cödé")(named("static", "static"))
    client = client_for(app)
    assert client.get("/café/crème brûlée").json() == "crème brûlée"
    assert client.get("/caf%C3%A9/cr%C3%A8me%20br%C3%BBl%C3%A9e").json() == "crème brûlée"
    assert client.get("/café/100%25").json() == "100%"
    assert client.get("/café/😀").json() == "😀"
    assert client.get("/%C3%BCn%C3%AF/c%C3%B6d%C3%A9").json() == "static"
    assert client.get("/cafe/x").status_code == 404
    assert client.get(app.url_path_for("cafe", name="a b?")).json() == "a b?"


# -- the app: many routes -------------------------------------------------------------------------


def test_one_thousand_parametrised_routes_in_an_app(client_for: ClientFactory) -> None:
    app = Lanner()

    def make(i: int) -> Callable[..., Any]:
        async def handler(item_id: int) -> dict[str, int]:
            return {"route": i, "item_id": item_id}

        handler.__name__ = handler.__qualname__ = f"route_{i}"
        return handler

    for i in range(1000):
        app.get(f"/r{i}/items/{{item_id:int}}")(make(i))
    client = client_for(app)
    for i in (0, 1, 10, 100, 537, 999):
        assert client.get(f"/r{i}/items/5").json() == {"route": i, "item_id": 5}
    assert client.get("/r1000/items/5").status_code == 404
    assert client.get("/r5/items/x").status_code == 404
    assert app.url_path_for("route_537", item_id=9) == "/r537/items/9"


def test_dot_segments_never_fill_a_parameter() -> None:
    # Clients remove "." and ".." from URLs, so url_path_for refuses them; matching must agree, or
    # a handler calling url_for with its own values fails, and {p:path} hands out "a/../b".
    table: RouteTable[str] = RouteTable()
    table.add(compile_path("/users/{name}"), ["GET"], "user")
    table.add(compile_path("/files/{rest:path}"), ["GET"], "files")
    for path in ("/users/..", "/users/.", "/files/a/../b", "/files/..", "/files/./x"):
        assert table.find("GET", path)[0] is None, path
    assert table.find("GET", "/users/...")[:2] == ("user", {"name": "..."})
    assert table.find("GET", "/files/a/.b/..c")[:2] == ("files", {"rest": "a/.b/..c"})


def test_a_named_router_prefixes_its_route_names_like_a_blueprint() -> None:
    blog = Router(prefix="/blog", name="blog")

    @blog.get("/")
    async def index() -> str:
        return "blog"

    @blog.get("/posts/{slug}", name="post")
    async def show(slug: str) -> str:
        return slug

    admin = Router(prefix="/admin", name="admin")
    admin.include_router(blog)
    app = Lanner(freeze_gc=False)
    app.include_router(blog)
    app.include_router(admin)
    assert app.url_path_for("blog.index") == "/blog/"
    assert app.url_path_for("blog.post", slug="hello") == "/blog/posts/hello"
    assert app.url_path_for("admin.blog.post", slug="x") == "/admin/blog/posts/x"
    with pytest.raises(NoMatchFound):
        app.url_path_for("index")
    for bad in ("", "a.b"):
        with pytest.raises(ValueError, match="router name"):
            Router(name=bad)


def test_router_folders_are_relative_to_the_file_that_creates_the_router(tmp_path: Path) -> None:
    here = Path(__file__).parent
    router = Router(prefix="/shop", name="shop", templates="shop_templates", static="shop_static")
    assert router.template_folders == (str(here / "shop_templates"),)
    assert router.statics[0].prefix == "/shop/static"
    assert router.statics[0].directory == str(here / "shop_static")
    assert router.statics[0].name == "shop.static"
    absolute = Router(templates=tmp_path)
    assert absolute.template_folders == (str(tmp_path),)


def test_a_folder_found_only_in_the_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "only_in_cwd_templates").mkdir()
    monkeypatch.chdir(tmp_path)
    router = Router(templates="only_in_cwd_templates")
    assert router.template_folders == (str(tmp_path / "only_in_cwd_templates"),)


# -- custom route classes (FastAPI's "custom request and route" tutorial) ------------------------


class _GzipRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            body = await super().body()
            if "gzip" in self.headers.getlist("Content-Encoding"):
                body = gzip.decompress(body)
            self._body = body
        return self._body


class _GzipRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Any], Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return cast(Response, await original(_GzipRequest(request.scope, request.receive)))

        return handler


class _ErrorBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Any], Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return cast(Response, await original(request))
            except RequestValidationError as exc:
                body = await request.body()
                raise HTTPException(422, {"errors": exc.errors(), "body": body.decode()}) from exc

        return handler


def test_a_custom_route_class_can_replace_the_request() -> None:
    app = Lanner(freeze_gc=False)
    app.router.route_class = _GzipRoute

    @app.post("/sum")
    async def total(numbers: Annotated[list[int], Body()]) -> int:
        return sum(numbers)

    client = TestClient(app)
    zipped = client.post(
        "/sum",
        content=gzip.compress(b"[1, 2, 3]"),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    assert zipped.json() == 6
    assert client.post("/sum", json=[4, 5]).json() == 9


def test_a_custom_route_class_sees_the_handlers_errors_as_exceptions() -> None:
    router = Router(route_class=_ErrorBodyRoute)

    @router.post("/")
    async def total(numbers: Annotated[list[int], Body()]) -> int:
        return sum(numbers)

    app = Lanner(freeze_gc=False)
    app.include_router(router)
    client = TestClient(app)
    assert client.post("/", json=[1, 2]).json() == 3
    detail = client.post("/", json={"numbers": [1]}).json()["detail"]
    assert detail["body"] == '{"numbers":[1]}'
    assert [(e["loc"], e["type"]) for e in detail["errors"]] == [(["body"], "list_type")]
