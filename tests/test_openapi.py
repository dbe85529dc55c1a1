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


def test_info_carries_the_optional_document_fields():
    app = Lanner(
        title="Shop",
        summary="Buy things",
        terms_of_service="https://shop.example.test/terms",
        contact={"name": "Support", "email": "help@shop.example.test"},
        license_info={"name": "MIT", "identifier": "MIT"},
    )
    doc = app.openapi()
    validate(doc)
    assert doc["info"] == {
        "title": "Shop",
        "version": "0.1.0",
        "summary": "Buy things",
        "termsOfService": "https://shop.example.test/terms",
        "contact": {"name": "Support", "email": "help@shop.example.test"},
        "license": {"name": "MIT", "identifier": "MIT"},
    }


class Money(BaseModel):
    amount: int
    currency: str


class Line(BaseModel):
    sku: str
    price: Money


class Order(BaseModel):
    lines: list[Line]


class Unused(BaseModel):
    flag: bool


def test_models_reached_only_through_other_models_are_in_the_components():
    app = Lanner()

    @app.get("/orders/latest")
    async def latest() -> Order:
        return Order(lines=[])

    doc = app.openapi()
    validate(doc)
    schemas = doc["components"]["schemas"]
    # Order is referenced by the operation, Line only by Order, Money only by Line.
    assert {"Order", "Line", "Money"} <= set(schemas)
    assert schemas["Line"]["properties"]["price"] == {"$ref": "#/components/schemas/Money"}
    assert "Unused" not in schemas


def test_a_parameter_read_by_a_dependency_and_by_the_handler_is_listed_once():
    app = Lanner()

    def paging(limit: int = 10) -> int:
        return limit

    @app.get("/things")
    async def things(limit: int = 10, page: Annotated[int, Depends(paging)] = 0) -> dict[str, int]:
        return {"limit": limit}

    doc = app.openapi()
    validate(doc)
    parameters = doc["paths"]["/things"]["get"]["parameters"]
    assert [(p["name"], p["in"]) for p in parameters] == [("limit", "query")]
    assert TestClient(app).get("/things", params={"limit": 3}).json() == {"limit": 3}


def test_one_route_with_two_methods_documents_both_operations():
    app = Lanner()

    @app.route("/things", methods=["GET", "POST"])
    async def things(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    doc = app.openapi()
    validate(doc)
    operations = doc["paths"]["/things"]
    assert set(operations) == {"get", "post"}
    assert operations["get"]["parameters"] == operations["post"]["parameters"]
    assert (operations["get"]["operationId"], operations["post"]["operationId"]) == (
        "things_get",
        "things_post",
    )


def test_operation_ids_stay_unique():
    app = Lanner()

    async def listing() -> dict[str, Any]:
        return {}

    # One handler at two paths has one name: the second id gets its path.
    app.get("/items")(listing)
    app.get("/archive/items")(listing)
    # An explicit id given twice gets a counter.
    app.get("/a", operation_id="fetch")(listing)
    app.get("/b", operation_id="fetch")(listing)
    doc = app.openapi()
    validate(doc)
    ids = {path: ops["get"]["operationId"] for path, ops in doc["paths"].items()}
    assert ids == {
        "/items": "listing_get",
        "/archive/items": "listing_archive_items_get",
        "/a": "fetch",
        "/b": "fetch_2",
    }


def test_declared_responses_keep_their_content_and_get_problems_only_for_errors():
    app = Lanner()
    csv = {"text/csv": {"schema": {"type": "string"}}}

    @app.get(
        "/report",
        responses={
            200: {"description": "The report", "content": csv},
            302: {"description": "Moved elsewhere"},
            404: {},
            "default": {"description": "Anything else"},
            "5XX": {},
        },
    )
    async def report() -> dict[str, Any]:
        return {}

    doc = app.openapi()
    validate(doc)
    responses = doc["paths"]["/report"]["get"]["responses"]
    assert responses["200"] == {"description": "The report", "content": csv}
    assert responses["302"] == {"description": "Moved elsewhere"}
    assert responses["404"] == {
        "description": "Not Found",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    assert responses["default"] == {"description": "Anything else"}
    assert responses["5XX"] == {"description": "Response"}


@pytest.mark.parametrize("spec", ["Not found", None, Missing])
def test_a_declared_response_that_is_not_a_mapping_is_refused(spec):
    app = Lanner()

    @app.get("/a", responses={404: spec})
    async def a() -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match=r"GET /a: responses\[404\] must be a mapping"):
        app.openapi()


def test_a_scheme_required_twice_by_one_route_is_listed_once():
    from lanner import APIKeyHeader

    app = Lanner()

    def user(key: Annotated[str, Depends(APIKeyHeader("x-key"))]) -> str:
        return key

    @app.get("/me")
    async def me(
        key: Annotated[str, Depends(APIKeyHeader("x-key"))], name: Annotated[str, Depends(user)]
    ) -> dict[str, str]:
        return {"name": name}

    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/me"]["get"]["security"] == [{"APIKeyHeader": []}]
    assert TestClient(app).get("/me", headers={"x-key": "k"}).json() == {"name": "k"}


def test_form_and_upload_request_bodies():
    from lanner.forms import UploadFile
    from lanner.params import File, Form

    class Login(BaseModel):
        username: str
        password: str = Field(min_length=8)

    app = Lanner(title="Forms", version="1")

    @app.post("/login")
    async def login(form: Annotated[Login, Form()], remember: Annotated[bool, Form()] = False):
        return {}

    @app.post("/upload")
    async def upload(
        file: UploadFile,
        files: list[UploadFile],
        note: Annotated[str | None, Form()] = None,
        raw: Annotated[bytes | None, File()] = None,
    ):
        return {}

    doc = app.openapi()
    validate(doc)
    binary = {"type": "string", "format": "binary"}
    login_body = doc["paths"]["/login"]["post"]["requestBody"]
    assert login_body["required"] is True
    schema = login_body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["type"] == "object"
    assert list(schema["properties"]) == ["remember", "username", "password"]
    assert schema["properties"]["password"]["minLength"] == 8
    assert schema["required"] == ["username", "password"]
    upload_op = doc["paths"]["/upload"]["post"]
    schema = upload_op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert list(upload_op["requestBody"]["content"]) == ["multipart/form-data"]
    assert {k: v for k, v in schema["properties"]["file"].items() if k != "title"} == binary
    assert schema["properties"]["files"]["items"] == binary
    assert binary in schema["properties"]["raw"]["anyOf"]
    assert list(schema["properties"]) == ["note", "file", "files", "raw"]
    assert schema["required"] == ["file", "files"]
    assert {"400", "413", "415", "422"} <= set(upload_op["responses"])
    assert "Login" not in doc.get("components", {}).get("schemas", {})


def test_a_form_read_by_a_dependency_and_by_the_handler_is_one_multipart_body():
    from lanner.forms import UploadFile
    from lanner.params import Form

    app = Lanner()

    async def avatar(picture: UploadFile) -> str:
        return picture.filename or ""

    @app.post("/profile")
    async def profile(
        picture: Annotated[str, Depends(avatar)], nickname: Annotated[str | None, Form()] = None
    ) -> dict[str, Any]:
        return {"picture": picture, "nickname": nickname}

    @app.post("/search")
    async def search(q: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        return {"q": q}

    doc = app.openapi()
    validate(doc)
    # The file read by the dependency makes the body multipart, whatever the handler reads.
    body = doc["paths"]["/profile"]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert list(schema["properties"]) == ["picture", "nickname"]
    assert schema["required"] == ["picture"]
    # A form of optional fields only: nothing required.
    search_body = doc["paths"]["/search"]["post"]["requestBody"]
    assert search_body["required"] is False
    assert "required" not in search_body["content"]["application/x-www-form-urlencoded"]["schema"]
    client = TestClient(app)
    sent = client.post("/profile", files={"picture": ("me.png", b"png")}, data={"nickname": "al"})
    assert sent.json() == {"picture": "me.png", "nickname": "al"}
    assert client.post("/search", data={}).json() == {"q": None}
