"""Request validation (lanner._validation): 422 problem documents, bodies, hostile JSON, 400/413/415.

End-to-end tests run on the direct path for plain handlers and, with an app-level dependency, on
the full dependency path.
"""

# Markers as parameter defaults (``x: int = Query(1)``) are the API under test.
# ruff: noqa: B008

import dataclasses
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field
from pydantic import dataclasses as pydantic_dataclasses
from typing_extensions import TypedDict

from lanner import Body, Cookie, Depends, Header, Lanner, Path, Query, Request
from lanner._validation import (
    FieldSpec,
    ResponseSerializer,
    SourceValidator,
    ValueValidator,
    check_hostile_json,
    is_model_type,
    is_sequence_type,
    model_field_keys,
    no_default,
    wants_response_model,
)
from lanner.exceptions import MalformedBodyError, ResponseValidationError
from lanner.testing import TestClient

JSON = {"content-type": "application/json"}


def _noop() -> None:
    return None


@pytest.fixture(params=["direct", "full"])
def app(request: pytest.FixtureRequest) -> Lanner:
    return Lanner(dependencies=[Depends(_noop)] if request.param == "full" else None)


@pytest.fixture
def client(app: Lanner) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert "traceback" not in document
    return document


def errors_of(response: Any) -> list[tuple[list[Any], str]]:
    return [(e["loc"], e["type"]) for e in problem(response, 422)["errors"]]


class Item(BaseModel):
    name: str
    price: float


class Measure(BaseModel):
    value: float
    label: str = ""


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


@pydantic_dataclasses.dataclass
class Reading:
    celsius: float


# -- the 422 problem document --------------------------------------------------------------------


def test_every_failing_field_is_listed_with_its_source(app: Lanner, client: TestClient) -> None:
    @app.post("/orders/{order_id}")
    async def order(
        order_id: int,
        item: Item,
        limit: int = Query(le=100),
        x_version: int = Header(),
        session: int = Cookie(),
    ) -> int:
        return 1

    response = client.post(
        "/orders/abc?limit=500", json={"name": 5}, headers={"x-version": "v2", "cookie": "session=s"}
    )
    document = problem(response, 422)
    assert document["title"] == "Unprocessable Content"
    assert document["type"] == "about:blank"
    assert document["detail"] == "6 fields failed validation"
    assert [(e["loc"], e["type"]) for e in document["errors"]] == [
        (["path", "order_id"], "int_parsing"),
        (["query", "limit"], "less_than_equal"),
        (["header", "x-version"], "int_parsing"),
        (["cookie", "session"], "int_parsing"),
        (["body", "name"], "string_type"),
        (["body", "price"], "missing"),
    ]
    for error in document["errors"]:
        assert {"loc", "msg", "type", "input"} <= set(error) <= {"loc", "msg", "type", "input", "ctx"}
        assert isinstance(error["msg"], str) and error["msg"]


def test_single_error_detail_is_singular(app: Lanner, client: TestClient) -> None:
    @app.get("/one")
    async def one(n: int) -> int:
        return n

    assert problem(client.get("/one"), 422)["detail"] == "1 field failed validation"


CONSTRAINTS = [
    # (marker keywords, type, good value, bad value, error type)
    ({"ge": 1}, int, "1", "0", "greater_than_equal"),
    ({"gt": 1}, int, "2", "1", "greater_than"),
    ({"le": 5}, int, "5", "6", "less_than_equal"),
    ({"lt": 5}, float, "4.5", "5", "less_than"),
    ({"min_length": 2}, str, "ab", "a", "string_too_short"),
    ({"max_length": 3}, str, "abc", "abcd", "string_too_long"),
    ({"pattern": r"^[a-z]+$"}, str, "abc", "ABC", "string_pattern_mismatch"),
]


@pytest.mark.parametrize(("keywords", "kind", "good", "bad", "error"), CONSTRAINTS)
@pytest.mark.parametrize("style", ["default", "annotated"])
def test_query_constraints(
    app: Lanner,
    client: TestClient,
    keywords: dict[str, Any],
    kind: type,
    good: str,
    bad: str,
    error: str,
    style: str,
) -> None:
    if style == "default":

        def handler(v: kind = Query(**keywords)) -> Any:  # type: ignore[valid-type]
            return v
    else:

        def handler(v: Annotated[kind, Query(**keywords)]) -> Any:  # type: ignore[valid-type]
            return v

    app.get("/c")(handler)
    assert client.get("/c", params={"v": good}).json() == kind(good)
    assert errors_of(client.get("/c", params={"v": bad})) == [(["query", "v"], error)]


@pytest.mark.parametrize(("keywords", "kind", "good", "bad", "error"), CONSTRAINTS)
def test_constraints_in_every_source(
    app: Lanner, client: TestClient, keywords: dict[str, Any], kind: type, good: str, bad: str, error: str
) -> None:
    @app.get("/all/{p}")
    async def every(
        p: Annotated[kind, Path(**keywords)],  # type: ignore[valid-type]
        h: Annotated[kind, Header(alias="x-h", **keywords)],  # type: ignore[valid-type]
        c: Annotated[kind, Cookie(**keywords)],
    ) -> list[Any]:  # type: ignore[valid-type]
        return [p, h, c]

    ok = client.get(f"/all/{good}", headers={"x-h": good, "cookie": f"c={good}"})
    assert ok.json() == [kind(good)] * 3
    response = client.get(f"/all/{bad}", headers={"x-h": bad, "cookie": f"c={bad}"})
    assert errors_of(response) == [
        (["path", "p"], error),
        (["header", "x-h"], error),
        (["cookie", "c"], error),
    ]


@pytest.mark.parametrize(("keywords", "kind", "good", "bad", "error"), CONSTRAINTS)
def test_constraints_on_embedded_body_values(
    app: Lanner, client: TestClient, keywords: dict[str, Any], kind: type, good: str, bad: str, error: str
) -> None:
    @app.post("/b")
    async def embedded(v: Annotated[kind, Body(embed=True, **keywords)]) -> Any:  # type: ignore[valid-type]
        return v

    assert client.post("/b", json={"v": kind(good)}).json() == kind(good)
    assert errors_of(client.post("/b", json={"v": kind(bad)})) == [(["body", "v"], error)]


def test_aliases_are_what_the_client_sends(app: Lanner, client: TestClient) -> None:
    @app.get("/alias")
    async def alias(
        page_size: int = Query(alias="page-size", ge=1),
        token: str = Header(alias="X-Auth"),
        sid: str = Cookie(alias="session-id"),
    ) -> list[Any]:
        return [page_size, token, sid]

    ok = client.get("/alias?page-size=2", headers={"x-auth": "t", "cookie": "session-id=s"})
    assert ok.json() == [2, "t", "s"]
    assert errors_of(client.get("/alias?page_size=2")) == [
        (["query", "page-size"], "missing"),
        (["header", "x-auth"], "missing"),
        (["cookie", "session-id"], "missing"),
    ]


def test_documentation_keywords_do_not_change_validation(app: Lanner, client: TestClient) -> None:
    @app.post("/doc/{p}")
    async def doc(
        p: int = Path(title="P", description="the p", examples=[1], deprecated=True),
        q: int = Query(1, description="q", examples=[1, 2], deprecated=True),
        item: Item = Body(description="an item", examples=[{"name": "n", "price": 1}], deprecated=True),
    ) -> list[Any]:
        return [p, q, item.name]

    assert client.post("/doc/3?q=4", json={"name": "n", "price": 1}).json() == [3, 4, "n"]


# -- bodies --------------------------------------------------------------------------------------


def test_body_model_dataclass_typeddict_and_list(app: Lanner, client: TestClient) -> None:
    @app.post("/model")
    async def model(item: Item) -> dict[str, Any]:
        assert isinstance(item, Item)
        return {"name": item.name, "price": item.price}

    @app.post("/dataclass")
    async def dataclass(point: Point) -> int:
        assert isinstance(point, Point)
        return point.x + point.y

    @app.post("/typeddict")
    async def typeddict(movie: Movie) -> str:
        return f"{movie['title']} ({movie['year']})"

    @app.post("/list")
    async def many(items: list[Item]) -> float:
        return sum(item.price for item in items)

    assert client.post("/model", json={"name": "bolt", "price": 2}).json() == {"name": "bolt", "price": 2.0}
    assert client.post("/dataclass", json={"x": 1, "y": 2}).json() == 3
    assert client.post("/typeddict", json={"title": "Up", "year": 2009}).json() == "Up (2009)"
    assert (
        client.post(
            "/list",
            json=[{"name": "a", "price": 1}, {"name": "b", "price": 2.5}],
        ).json()
        == 3.5
    )
    assert errors_of(client.post("/dataclass", json={"x": "one"})) == [
        (["body", "x"], "int_parsing"),
        (["body", "y"], "missing"),
    ]
    assert errors_of(client.post("/typeddict", json={"title": "Up"})) == [(["body", "year"], "missing")]
    assert errors_of(client.post("/list", json=[{"name": "a", "price": 1}, {"name": "b"}])) == [
        (["body", 1, "price"], "missing")
    ]
    assert errors_of(client.post("/list", json={"name": "a"})) == [(["body"], "list_type")]


def test_several_body_parameters_are_embedded_by_name(app: Lanner, client: TestClient) -> None:
    @app.post("/pair")
    async def pair(item: Item, point: Point, note: str = Body("none")) -> list[Any]:
        return [item.name, point.x, note]

    payload = {"item": {"name": "n", "price": 1}, "point": {"x": 1, "y": 2}}
    assert client.post("/pair", json=payload).json() == ["n", 1, "none"]
    assert client.post("/pair", json={**payload, "note": "hi"}).json() == ["n", 1, "hi"]
    assert errors_of(client.post("/pair", json={"item": {"name": "n"}})) == [
        (["body", "item", "price"], "missing"),
        (["body", "point"], "missing"),
    ]
    assert errors_of(client.post("/pair", json={"name": "n", "price": 1})) == [
        (["body", "item"], "missing"),
        (["body", "point"], "missing"),
    ]


def test_several_body_parameters_missing_are_each_reported(app: Lanner, client: TestClient) -> None:
    @app.post("/both")
    async def both(item: Item, user: Item) -> str:
        return item.name + user.name

    expected = [
        {"type": "missing", "loc": ["body", "item"], "msg": "Field required", "input": None},
        {"type": "missing", "loc": ["body", "user"], "msg": "Field required", "input": None},
    ]
    assert problem(client.post("/both"), 422)["errors"] == expected
    assert problem(client.post("/both", json=[]), 422)["errors"] == expected
    assert problem(client.post("/both", json={}), 422)["errors"] == expected


def test_body_embed_true(app: Lanner, client: TestClient) -> None:
    @app.post("/embed")
    async def embed(item: Item = Body(embed=True)) -> str:
        return item.name

    assert client.post("/embed", json={"item": {"name": "n", "price": 1}}).json() == "n"
    assert errors_of(client.post("/embed", json={"name": "n", "price": 1})) == [(["body", "item"], "missing")]
    # Not an object: no key was sent (FastAPI's answer too).
    assert errors_of(client.post("/embed", json=[1])) == [(["body", "item"], "missing")]


def test_single_scalar_body(app: Lanner, client: TestClient) -> None:
    @app.post("/count")
    async def count(n: Annotated[int, Body(ge=0)]) -> int:
        return n * 2

    assert client.post("/count", json=21).json() == 42
    assert errors_of(client.post("/count", json=-1)) == [(["body"], "greater_than_equal")]


def test_optional_body(app: Lanner, client: TestClient) -> None:
    @app.post("/maybe")
    async def maybe(item: Item | None = None) -> dict[str, Any]:
        return {"name": item.name if item else None}

    @app.post("/maybe-marked")
    async def maybe_marked(item: Annotated[Item | None, Body()] = None) -> bool:
        return item is not None

    assert client.post("/maybe").json() == {"name": None}
    assert client.post("/maybe", json=None).json() == {"name": None}
    assert client.post("/maybe", json={"name": "n", "price": 1}).json() == {"name": "n"}
    assert errors_of(client.post("/maybe", json={"name": "n"})) == [(["body", "price"], "missing")]
    assert client.post("/maybe-marked").json() is False
    assert client.post("/maybe-marked", json={"name": "n", "price": 1}).json() is True


def test_required_body_missing(app: Lanner, client: TestClient) -> None:
    @app.post("/need")
    async def need(item: Item) -> str:
        return item.name

    assert problem(client.post("/need"), 422)["errors"] == [
        {"loc": ["body"], "msg": "Field required", "type": "missing", "input": None}
    ]
    assert errors_of(client.post("/need", content=b"", headers=JSON)) == [(["body"], "missing")]


def test_body_from_a_dependency_and_the_handler_is_embedded(app: Lanner, client: TestClient) -> None:
    def current_point(point: Point) -> int:
        return point.x

    @app.post("/shared")
    async def shared(item: Item, x: int = Depends(current_point)) -> list[Any]:
        return [item.name, x]

    payload = {"item": {"name": "n", "price": 1}, "point": {"x": 5, "y": 6}}
    assert client.post("/shared", json=payload).json() == ["n", 5]
    assert errors_of(client.post("/shared", json={"item": {"name": "n", "price": 1}})) == [
        (["body", "point"], "missing")
    ]


# -- malformed and hostile JSON ------------------------------------------------------------------


@pytest.fixture
def item_client(app: Lanner, client: TestClient) -> TestClient:
    @app.post("/item")
    async def item(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/any")
    async def anything(data: Annotated[Any, Body()]) -> bool:
        return True

    @app.post("/embedded")
    async def embedded(item: Item, measure: Measure) -> bool:
        return True

    return client


@pytest.mark.parametrize(
    "raw", [b"{bad", b'{"name": "n",}', b"[1, 2", b"nul", b"   ", b'{"name": "n"} trailing', b"\xff\xfe"]
)
def test_malformed_json_is_400(item_client: TestClient, raw: bytes) -> None:
    document = problem(item_client.post("/item", content=raw, headers=JSON), 400)
    assert document["title"] == "Bad Request"
    assert document["detail"].startswith("Malformed JSON")


@pytest.mark.parametrize("path", ["/item", "/any", "/embedded"])
@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "n", "price": NaN}',
        b'{"name": "n", "price": Infinity}',
        b'{"name": "n", "price": -Infinity}',
        b"[NaN]",
    ],
)
def test_nan_and_infinity_literals_are_400(item_client: TestClient, path: str, raw: bytes) -> None:
    problem(item_client.post(path, content=raw, headers=JSON), 400)


def test_the_word_nan_inside_a_string_is_fine(item_client: TestClient) -> None:
    raw = b'{"name": "NaN Infinity -Infinity", "price": 1}'
    assert item_client.post("/item", content=raw, headers=JSON).json() == {
        "name": "NaN Infinity -Infinity",
        "price": 1.0,
    }


@pytest.mark.parametrize(
    "value", ['"NaN"', '"nan"', '"inf"', '"-Infinity"', "1e999", "-1e400", "1" + "0" * 400]
)
def test_non_finite_floats_in_any_other_spelling_are_422(item_client: TestClient, value: str) -> None:
    raw = f'{{"name": "n", "price": {value}}}'.encode()
    assert errors_of(item_client.post("/item", content=raw, headers=JSON)) == [
        (["body", "price"], "finite_number")
    ]
    raw = f'{{"item": {{"name": "n", "price": 1}}, "measure": {{"value": {value}}}}}'.encode()
    assert errors_of(item_client.post("/embedded", content=raw, headers=JSON)) == [
        (["body", "measure", "value"], "finite_number")
    ]


def test_nesting_ten_thousand_deep_is_400(item_client: TestClient) -> None:
    for path in ("/item", "/any", "/embedded"):
        deep = b"[" * 10_000 + b"]" * 10_000
        problem(item_client.post(path, content=deep, headers=JSON), 400)
        objects = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
        problem(item_client.post(path, content=objects, headers=JSON), 400)


def test_moderate_nesting_is_fine(item_client: TestClient) -> None:
    nested = b"[" * 50 + b"]" * 50
    assert item_client.post("/any", content=nested, headers=JSON).json() is True


@pytest.mark.parametrize("path", ["/item", "/any"])
def test_five_thousand_digit_integer_is_rejected(item_client: TestClient, path: str) -> None:
    raw = b'{"name": "n", "price": ' + b"7" * 5000 + b"}"
    response = item_client.post(path, content=raw, headers=JSON)
    assert response.status_code in (400, 422)
    problem(response, response.status_code)


def test_huge_integer_in_an_int_field(app: Lanner, client: TestClient) -> None:
    @app.post("/int")
    async def integer(n: Annotated[int, Body(embed=True)]) -> bool:
        return True

    response = client.post("/int", content=b'{"n": ' + b"9" * 5000 + b"}", headers=JSON)
    assert response.status_code in (400, 422)
    response = client.get("/int")  # the route still answers afterwards
    assert response.status_code == 405


def test_huge_integer_in_the_query_is_422(app: Lanner, client: TestClient) -> None:
    @app.get("/q")
    async def q(n: int) -> int:
        return n

    assert errors_of(client.get("/q", params={"n": "9" * 5000})) == [(["query", "n"], "int_parsing_size")]


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_non_finite_query_floats_are_422(app: Lanner, client: TestClient, value: str) -> None:
    @app.get("/f")
    async def f(x: float = 0, m: Annotated[Measure, Query()] = None) -> float:  # type: ignore[assignment]
        return x

    assert errors_of(client.get("/f", params={"x": value, "value": 1})) == [(["query", "x"], "finite_number")]
    assert errors_of(client.get("/f", params={"value": value})) == [(["query", "value"], "finite_number")]


# -- content type and size -----------------------------------------------------------------------


def test_form_post_to_a_json_endpoint_is_415(item_client: TestClient) -> None:
    response = item_client.post("/item", data={"name": "n", "price": "1"})
    document = problem(response, 415)
    assert "application/x-www-form-urlencoded" in document["detail"]
    raw = b'{"name": "n", "price": 1}'
    problem(item_client.post("/item", content=raw, headers={"content-type": "text/plain"}), 415)
    multipart = item_client.post("/item", files={"f": ("a.json", raw, "application/json")})
    problem(multipart, 415)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
def test_json_content_types_are_accepted(item_client: TestClient, content_type: str) -> None:
    response = item_client.post(
        "/item", content=b'{"name": "n", "price": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 200


def _chunks(count: int, size: int = 100) -> Iterator[bytes]:
    yield b'{"name": "'
    for _ in range(count):
        yield b"x" * size
    yield b'", "price": 1}'


def test_max_body_size_per_app_and_per_route() -> None:
    app = Lanner(max_body_size=1000)

    @app.post("/app")
    async def app_limit(item: Item) -> int:
        return len(item.name)

    @app.post("/bigger", max_body_size=10_000)
    async def bigger(item: Item) -> int:
        return len(item.name)

    @app.post("/smaller", max_body_size=100)
    async def smaller(item: Item) -> int:
        return len(item.name)

    @app.post("/raw")
    async def raw(request: Request) -> int:
        return len(await request.body())

    with TestClient(app) as client:
        assert client.post("/app", json={"name": "x" * 900, "price": 1}).json() == 900
        document = problem(client.post("/app", json={"name": "x" * 1000, "price": 1}), 413)
        assert document["title"] == "Content Too Large"
        assert client.post("/bigger", json={"name": "x" * 5000, "price": 1}).json() == 5000
        problem(client.post("/bigger", json={"name": "x" * 10_000, "price": 1}), 413)
        problem(client.post("/smaller", json={"name": "x" * 100, "price": 1}), 413)
        assert client.post("/smaller", json={"name": "x", "price": 1}).json() == 1
        problem(client.post("/raw", content=b"x" * 1001), 413)
        assert client.post("/raw", content=b"x" * 1000).json() == 1000


def test_max_body_size_without_content_length() -> None:
    app = Lanner(max_body_size=1000)

    @app.post("/app")
    async def app_limit(item: Item) -> int:
        return len(item.name)

    @app.post("/route", max_body_size=5000)
    async def route_limit(item: Item) -> int:
        return len(item.name)

    @app.post("/deps", dependencies=[Depends(_noop)])
    async def with_deps(item: Item) -> int:
        return len(item.name)

    @app.post("/raw")
    async def raw(request: Request) -> int:
        return len(await request.body())

    with TestClient(app) as client:
        for path, fits, too_big in (("/app", 8, 11), ("/route", 40, 60), ("/deps", 8, 11)):
            ok = client.post(path, content=_chunks(fits), headers=JSON)
            assert "content-length" not in ok.request.headers
            assert ok.json() == fits * 100
            problem(client.post(path, content=_chunks(too_big), headers=JSON), 413)
        problem(client.post("/raw", content=_chunks(11)), 413)
        assert client.post("/raw", content=_chunks(5)).json() == 524


# -- the validators themselves -------------------------------------------------------------------


def test_field_spec_required() -> None:
    assert FieldSpec("a", "a", int).required
    assert FieldSpec("a", "a", int, no_default()).required
    assert not FieldSpec("a", "a", int, None).required


def test_source_validator_collects_values_and_errors() -> None:
    validator = SourceValidator(
        "query",
        [
            FieldSpec("page", "page", int, 1, {"ge": 1}),
            FieldSpec("model_fields", "model-fields", str),  # names that shadow BaseModel attributes
            FieldSpec("ratio", "ratio", float, 0.5),
        ],
    )
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    validator.validate({"model-fields": "x", "unrelated": "y"}, out, errors)
    assert (out, errors) == ({"page": 1, "model_fields": "x", "ratio": 0.5}, [])
    out.clear()
    validator.validate({"page": "0", "ratio": "nan"}, out, errors)
    assert out == {}
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "page"], "greater_than_equal"),
        (["query", "model-fields"], "missing"),
        (["query", "ratio"], "finite_number"),
    ]
    assert validator.location == "query"
    assert [spec.name for spec in validator.fields] == ["page", "model_fields", "ratio"]


def test_source_validator_validates_embedded_json() -> None:
    validator = SourceValidator("body", [FieldSpec("item", "item", Item), FieldSpec("n", "n", int, 0)])
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    validator.validate_json(b'{"item": {"name": "a", "price": 2}}', out, errors)
    assert out == {"item": Item(name="a", price=2), "n": 0}
    with pytest.raises(MalformedBodyError):
        validator.validate_json(b'{"item": ', out, errors)
    with pytest.raises(MalformedBodyError):
        validator.validate_json(b'{"n": NaN}', out, errors)


class TreeNode(BaseModel):
    name: str
    children: list["TreeNode"] = []


def test_source_validator_handles_recursive_models_and_defaults() -> None:
    validator = SourceValidator(
        "body",
        [
            FieldSpec("tree", "tree", TreeNode),
            FieldSpec("tags", "tags", list[str], []),
        ],
    )
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    validator.validate_json(b'{"tree": {"name": "a", "children": [{"name": "b"}]}}', out, errors)
    assert errors == []
    assert out["tree"] == TreeNode(name="a", children=[TreeNode(name="b")])
    assert out["tags"] == [] and set(out) == {"tree", "tags"}
    out.clear()
    validator.validate_json(b'{"tree": {"children": [{}]}, "tags": [1]}', out, errors)
    assert out == {}
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "tree", "name"], "missing"),
        (["body", "tree", "children", 0, "name"], "missing"),
        (["body", "tags", 0], "string_type"),
    ]


def test_value_validator() -> None:
    validator = ValueValidator("body", list[int], {"max_length": 2, "deprecated": True})
    errors: list[dict[str, Any]] = []
    assert validator.validate_json(b"[1, 2]", errors) == [1, 2]
    assert validator.validate_json(b"[1, 2, 3]", errors) is None
    assert validator.validate_python(["4"], errors) == [4]
    assert [(e["loc"], e["type"]) for e in errors] == [(["body"], "too_long")]
    with pytest.raises(MalformedBodyError, match="Malformed JSON"):
        validator.validate_json(b"[1,", errors)
    assert validator.annotation == list[int]


def test_non_finite_floats_are_refused_without_touching_the_users_models() -> None:
    validator = ValueValidator("body", list[Reading])
    errors: list[dict[str, Any]] = []
    assert validator.validate_json(b'[{"celsius": "inf"}]', errors) is None
    assert errors[0]["type"] == "finite_number"
    assert type(validator.validate_json(b'[{"celsius": 3}]', errors)[0]) is Reading
    # The user's own classes keep accepting what pydantic accepts by default.
    assert Measure.model_validate_json(b'{"value": "nan"}').value != 0
    assert Measure.__pydantic_complete__ is True
    assert Reading.__pydantic_complete__ is True  # type: ignore[attr-defined]


def test_check_hostile_json() -> None:
    check_hostile_json(b'{"a": "NaN and Infinity in text"}')
    check_hostile_json(b"[1.5, -2e10]")
    for raw in (b"NaN", b"[Infinity]", b'{"a": -Infinity}'):
        with pytest.raises(MalformedBodyError) as info:
            check_hostile_json(raw)
        assert info.value.status_code == 400


def test_is_sequence_type() -> None:
    for annotation in (
        list[int],
        tuple[str, ...],
        set[int],
        frozenset[str],
        list,
        tuple,
        list[int] | None,
        Annotated[list[int], "x"],
    ):
        assert is_sequence_type(annotation), annotation
    for annotation in (int, str, dict[str, int], Item, int | None, bytes):
        assert not is_sequence_type(annotation), annotation


def test_is_model_type() -> None:
    for annotation in (Item, Point, Movie, Reading, Annotated[Item, "x"]):
        assert is_model_type(annotation), annotation
    for annotation in (int, list[Item], dict, Item | None, "Item"):
        assert not is_model_type(annotation), annotation


def test_model_field_keys() -> None:
    class Paged(BaseModel):
        page: int = 1
        ids: list[int] = []
        sort_by: str = Field("x", alias="sort-by")

    assert model_field_keys(Paged) == [("page", False), ("ids", True), ("sort-by", False)]
    with pytest.raises(TypeError, match="not a pydantic model"):
        model_field_keys(Point)


def test_wants_response_model() -> None:
    for annotation in (Any, dict, list, object, None, type(None), dict[str, Any], list[Any]):
        assert not wants_response_model(annotation), annotation
    for annotation in (Item, list[Item], dict[str, int], int, Annotated[Item, "x"]):
        assert wants_response_model(annotation), annotation


def test_response_serializer_filters_and_checks() -> None:
    class Public(BaseModel):
        name: str
        note: str | None = None

    class Private(Public):
        secret: str

    serializer = ResponseSerializer(Public)
    assert serializer.serialize(Public(name="n")) == b'{"name":"n","note":null}'
    assert serializer.serialize(Private(name="n", secret="s")) == b'{"name":"n","note":null}'
    assert serializer.serialize({"name": "d", "secret": "s"}) == b'{"name":"d","note":null}'
    assert ResponseSerializer(Public, exclude_none=True).serialize({"name": "n"}) == b'{"name":"n"}'
    with pytest.raises(ResponseValidationError) as info:
        serializer.serialize({"title": "no name"})
    assert info.value.errors()[0]["loc"] == ["response", "name"]
    assert ResponseSerializer().serialize({"a": [1, None]}) == b'{"a":[1,null]}'


def test_response_model_include_exclude_unset_and_defaults(app: Lanner, client: TestClient) -> None:
    class Stock(BaseModel):
        name: str
        description: str | None = None
        price: float
        tax: float = 10.5

    data = {"name": "Foo", "price": 50.2}

    @app.get("/unset", response_model=Stock, response_model_exclude_unset=True)
    async def unset() -> Any:
        return data

    @app.get("/defaults", response_model=Stock, response_model_exclude_defaults=True)
    async def defaults() -> Any:
        return {**data, "tax": 10.5, "description": "d"}

    @app.get("/include", response_model=Stock, response_model_include={"name", "description"})
    async def include() -> Any:
        return data

    @app.get("/exclude", response_model=Stock, response_model_exclude=["tax"])
    async def exclude() -> Any:
        return data

    assert client.get("/unset").json() == {"name": "Foo", "price": 50.2}
    assert client.get("/defaults").json() == {"name": "Foo", "description": "d", "price": 50.2}
    assert client.get("/include").json() == {"name": "Foo", "description": None}
    assert client.get("/exclude").json() == {"name": "Foo", "description": None, "price": 50.2}


def test_response_fields_are_named_by_alias_unless_asked(app: Lanner, client: TestClient) -> None:
    class Aliased(BaseModel):
        item_id: int = Field(alias="itemId")

    @app.get("/alias", response_model=Aliased)
    async def alias() -> Any:
        return {"itemId": 1}

    @app.get("/names", response_model=Aliased, response_model_by_alias=False)
    async def names() -> Any:
        return {"itemId": 1}

    assert client.get("/alias").json() == {"itemId": 1}
    assert client.get("/names").json() == {"item_id": 1}
