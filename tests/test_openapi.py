"""The OpenAPI document generated from the compiled route plans."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from lanner import Body, Cookie, Depends, Header, Lanner, Query, Router
from lanner import Path as PathParam
from lanner.openapi.generator import openapi_path
from lanner.responses import HTMLResponse, PlainTextResponse
from lanner.testing import TestClient

from .test_examples import EXAMPLES, load

SNAPSHOTS = Path(__file__).parent / "snapshots"


class Item(BaseModel):
    name: str
    price: float = Field(gt=0, description="Price in euros")
    secret: str | None = None


class PublicItem(BaseModel):
    name: str
    price: float


class Missing(BaseModel):
    detail: str


class Filters(BaseModel):
    colour: str | None = None
    sizes: list[int] = []


def make_app() -> Lanner:
    app = Lanner(
        title="Shop",
        version="2.0.0",
        description="A shop.",
        servers=[{"url": "https://api.example.test"}],
        openapi_tags=[{"name": "items", "description": "Things we sell"}],
    )
    items = Router(prefix="/items", tags=["items"])

    @items.get("/{item_id:int}", response_model=PublicItem,
               responses={404: {"model": Missing, "description": "No such item"}})
    async def read_item(
        item_id: Annotated[int, PathParam(description="The item's number")],
        verbose: bool = False,
        limit: Annotated[int, Query(ge=1, le=100, examples=[5])] = 10,
    ):
        """Fetch one item.

        Longer text.
        """
        return {"name": "pen", "price": 1.0, "secret": "x"}

    @items.post("", status_code=201, summary="Create an item")
    async def create_item(item: Item, x_request_id: Annotated[str | None, Header()] = None) -> PublicItem:
        return PublicItem(name=item.name, price=item.price)

    @items.get("/search", deprecated=True)
    async def search(
        filters: Annotated[Filters, Query()], session: Annotated[str, Cookie()]
    ) -> list[PublicItem]:
        return []

    @items.delete("/{item_id:int}", status_code=204)
    async def delete_item(item_id: int) -> None:
        return None

    app.include_router(items)

    @app.put("/pair")
    async def pair(a: Item, b: Item, note: Annotated[str, Body()]) -> dict[str, Any]:
        return {}

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> dict[str, Any]:
        return {}

    @app.get("/text", response_class=PlainTextResponse, operation_id="plainText")
    async def text() -> str:
        return "hi"

    async def raw(scope, receive, send):
        pass

    app.mount("/legacy", raw)
    return app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc = make_app().openapi()
    validate(doc)
    return doc


def test_info_servers_and_tags(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Shop", "version": "2.0.0", "description": "A shop."}
    assert document["servers"] == [{"url": "https://api.example.test"}]
    assert document["tags"] == [{"name": "items", "description": "Things we sell"}]


def test_paths_leave_out_hidden_routes_mounts_and_docs(document):
    assert set(document["paths"]) == {
        "/items/{item_id}", "/items", "/items/search", "/pair", "/page", "/text"
    }


def test_operation_metadata(document):
    read = document["paths"]["/items/{item_id}"]["get"]
    assert read["tags"] == ["items"]
    assert read["summary"] == "Read item"
    assert read["description"] == "Fetch one item.\n\nLonger text."
    assert read["operationId"] == "read_item_get"
    assert document["paths"]["/items"]["post"]["summary"] == "Create an item"
    assert document["paths"]["/items/search"]["get"]["deprecated"] is True
    assert document["paths"]["/text"]["get"]["operationId"] == "plainText"
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))


def test_parameters_carry_location_required_constraints_and_examples(document):
    params = {p["name"]: p for p in document["paths"]["/items/{item_id}"]["get"]["parameters"]}
    assert params["item_id"] == {
        "name": "item_id", "in": "path", "required": True,
        "description": "The item's number", "schema": {"type": "integer"},
    }
    assert params["verbose"]["in"] == "query"
    assert params["verbose"]["required"] is False
    assert params["verbose"]["schema"] == {"type": "boolean", "default": False}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert params["limit"]["examples"] == {"example1": {"value": 5}}
    header = document["paths"]["/items"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in header] == [("x-request-id", "header", False)]


def test_query_model_and_cookie_parameters(document):
    params = {p["name"]: p for p in document["paths"]["/items/search"]["get"]["parameters"]}
    assert params["colour"]["in"] == "query"
    assert params["sizes"]["schema"]["type"] == "array"
    assert params["session"] == {"name": "session", "in": "cookie", "required": True,
                                 "schema": {"type": "string"}}


def test_request_bodies(document):
    body = document["paths"]["/items"]["post"]["requestBody"]
    assert body == {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Item"}}}}
    embedded = document["paths"]["/pair"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(embedded["properties"]) == {"a", "b", "note"}
    assert embedded["required"] == ["a", "b", "note"]


def test_responses(document):
    read = document["paths"]["/items/{item_id}"]["get"]["responses"]
    assert read["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PublicItem"}
    assert read["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"}
    assert read["404"] == {"description": "No such item", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Missing"}}}}
    created = document["paths"]["/items"]["post"]["responses"]
    assert set(created) == {"201", "400", "413", "415", "422"}
    assert created["415"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"}
    assert read["404"]["description"] == "No such item"  # the route's own entry wins
    assert "404" not in document["paths"]["/page"]["get"]["responses"]
    deleted = document["paths"]["/items/{item_id}"]["delete"]["responses"]["204"]
    assert "content" not in deleted
    page = document["paths"]["/page"]["get"]["responses"]
    assert set(page) == {"200"}
    assert list(page["200"]["content"]) == ["text/html"]
    assert list(document["paths"]["/text"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_components_hold_models_only_once(document):
    schemas = document["components"]["schemas"]
    assert {"Item", "PublicItem", "Missing", "ValidationProblem"} <= set(schemas)
    assert schemas["Item"]["properties"]["price"]["description"] == "Price in euros"
    assert not any("Parameters" in name for name in schemas)


def test_input_and_output_schemas_split_where_they_differ():
    class WithDefault(BaseModel):
        name: str
        note: str = Field(default="x")

    app = Lanner()

    @app.post("/echo")
    async def echo(body: WithDefault) -> WithDefault:
        return body

    doc = app.openapi()
    validate(doc)
    schemas = doc["components"]["schemas"]
    echo_op = doc["paths"]["/echo"]["post"]
    in_ref = echo_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    out_ref = echo_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert (in_ref, out_ref) == ("#/components/schemas/WithDefault-Input",
                                 "#/components/schemas/WithDefault-Output")
    # an output field with a default is always present, so the output schema requires it
    assert schemas["WithDefault-Input"]["required"] == ["name"]
    assert schemas["WithDefault-Output"]["required"] == ["name", "note"]


def test_same_model_name_in_two_modules_does_not_collide():
    def model_in(module: str, field: str) -> type[BaseModel]:
        model = type("User", (BaseModel,), {"__annotations__": {field: str}, "__module__": module})
        return model

    first, second = model_in("app.accounts", "email"), model_in("app.billing", "iban")
    app = Lanner()

    @app.post("/a")
    async def a(user: first) -> dict[str, Any]:  # type: ignore[valid-type]
        return {}

    @app.post("/b")
    async def b(user: second) -> dict[str, Any]:  # type: ignore[valid-type]
        return {}

    doc = app.openapi()
    validate(doc)
    refs = [doc["paths"][p]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            for p in ("/a", "/b")]
    assert refs[0] != refs[1]
    schemas = doc["components"]["schemas"]
    fields = [set(schemas[r.rsplit("/", 1)[1]]["properties"]) for r in refs]
    assert fields == [{"email"}, {"iban"}]


def test_security_dependencies_declare_schemes():
    class BearerAuth:
        security_scheme_name = "bearer"
        security_scheme = {"type": "http", "scheme": "bearer"}
        security_scopes = ("read",)

        async def __call__(self, authorization: Annotated[str, Header()]) -> str:
            return authorization

    app = Lanner()

    @app.get("/me")
    async def me(token: Annotated[str, Depends(BearerAuth())]) -> dict[str, str]:
        return {"token": token}

    doc = app.openapi()
    validate(doc)
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert doc["paths"]["/me"]["get"]["security"] == [{"bearer": ["read"]}]


def test_document_is_cached_and_rebuilt_after_changes():
    app = Lanner()

    @app.get("/one")
    async def one() -> dict[str, Any]:
        return {}

    first = app.openapi()
    assert app.openapi() is first

    @app.get("/two")
    async def two() -> dict[str, Any]:
        return {}

    assert set(app.openapi()["paths"]) == {"/one", "/two"}


def test_openapi_json_is_served_and_can_be_turned_off():
    client = TestClient(make_app())
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == make_app().openapi()
    off = Lanner(openapi_url=None)
    assert TestClient(off).get("/openapi.json").status_code == 404
    assert TestClient(off).get("/docs").status_code == 404


def test_root_path_becomes_the_server():
    app = Lanner()
    client = TestClient(app, root_path="/api")
    doc = client.get("/api/openapi.json").json()
    assert doc["servers"] == [{"url": "/api"}]


def test_openapi_path_conversion():
    assert openapi_path("/a/{id:int}/b/{rest:path}") == "/a/{id}/b/{rest}"
    assert openapi_path("/files/{name}.{ext}") == "/files/{name}.{ext}"


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_every_example_app_has_a_valid_document(name):
    validate(load(name).app.openapi())


def test_demo_document_snapshot():
    """The demo's document is committed, so any change to generation shows up in review."""
    snapshot = SNAPSHOTS / "demo_openapi.json"
    current = json.dumps(load("demo").app.openapi(), indent=2, sort_keys=True) + "\n"
    if not snapshot.exists():  # first run writes it; review and commit the file
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(current)
    assert current == snapshot.read_text()


@dataclass
class Point:
    x: int
    y: int


def test_dataclass_bodies_and_responses():
    app = Lanner()

    @app.post("/points")
    async def add(point: Point) -> Point:
        return point

    doc = app.openapi()
    validate(doc)
    assert "Point" in doc["components"]["schemas"]


def test_two_different_schemes_with_one_name_are_refused():
    from lanner import APIKeyHeader

    app = Lanner()

    @app.get("/a")
    async def a(key: Annotated[str, Depends(APIKeyHeader("x-a"))]) -> dict[str, Any]:
        return {}

    @app.get("/b")
    async def b(key: Annotated[str, Depends(APIKeyHeader("x-b"))]) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="both named 'APIKeyHeader'"):
        app.openapi()
