"""``Lanner(openapi_compat="fastapi")`` against FastAPI itself: the same app, the same document.

Each test declares one small app once, against a namespace holding either FastAPI's or lanner's
names, builds it with both frameworks and compares the two OpenAPI documents whole. The only parts
left out are the ones lanner documents differently on purpose: its errors are RFC 9457 problem
documents (the 422 ``ValidationProblem`` instead of FastAPI's ``HTTPValidationError``, the
``Problem`` content of error responses, the 400/404/413/415 responses lanner answers itself).

Annotations are evaluated (no ``from __future__ import annotations``): the handlers use the names
of a namespace local to each test, which neither framework could resolve from a string.
"""

import copy
import json
import types
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field, HttpUrl, computed_field

import lanner
from lanner import Lanner
from lanner.openapi import CallbackRouter, WebhookRouter, get_openapi
from lanner.params import Security
from lanner.responses import HTMLResponse, PlainTextResponse

fastapi = pytest.importorskip("fastapi")
fastapi_responses = pytest.importorskip("fastapi.responses")
fastapi_security = pytest.importorskip("fastapi.security")

# The responses lanner documents on its own, for statuses it answers before any handler runs.
LANNER_OWN = {
    "400": "Malformed body",
    "404": "No resource at this path",
    "413": "Body larger than the limit",
    "415": "Unsupported body media type",
}
PROBLEM_SCHEMAS = {"Problem", "ValidationProblem", "HTTPValidationError", "ValidationError"}


class OAuth2Password:
    """A lanner security dependency declaring FastAPI's ``OAuth2PasswordBearer`` scheme."""

    security_scheme_name = "OAuth2PasswordBearer"

    def __init__(self, token_url: str, scopes: dict[str, str]) -> None:
        self.security_scheme = {
            "type": "oauth2",
            "flows": {"password": {"scopes": scopes, "tokenUrl": token_url}},
        }

    async def __call__(self, request: lanner.Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ")


FASTAPI = types.SimpleNamespace(
    name="fastapi",
    app=lambda **kw: fastapi.FastAPI(**kw),
    Router=fastapi.APIRouter,
    CallbackRouter=fastapi.APIRouter,
    Query=fastapi.Query,
    Path=fastapi.Path,
    Header=fastapi.Header,
    Cookie=fastapi.Cookie,
    Body=fastapi.Body,
    Form=fastapi.Form,
    File=fastapi.File,
    Depends=fastapi.Depends,
    Security=fastapi.Security,
    UploadFile=fastapi.UploadFile,
    HTMLResponse=fastapi_responses.HTMLResponse,
    PlainTextResponse=fastapi_responses.PlainTextResponse,
    oauth2=lambda token_url, scopes: fastapi_security.OAuth2PasswordBearer(tokenUrl=token_url, scopes=scopes),
)
LANNER = types.SimpleNamespace(
    name="lanner",
    app=lambda **kw: Lanner(
        openapi_compat="fastapi",
        title="FastAPI",
        webhooks=WebhookRouter(),
        docs_url=None,
        redoc_url=None,
        **kw,
    ),
    Router=lanner.Router,
    CallbackRouter=CallbackRouter,
    Query=lanner.Query,
    Path=lanner.Path,
    Header=lanner.Header,
    Cookie=lanner.Cookie,
    Body=lanner.Body,
    Form=lanner.Form,
    File=lanner.File,
    Depends=lanner.Depends,
    Security=Security,
    UploadFile=lanner.UploadFile,
    HTMLResponse=HTMLResponse,
    PlainTextResponse=PlainTextResponse,
    oauth2=OAuth2Password,
)


def without_deliberate_differences(document: dict[str, Any]) -> dict[str, Any]:
    """`document` without the error responses and schemas lanner documents its own way."""
    document = copy.deepcopy(document)

    def operations(group: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for item in group.values():
            for operation in item.values():
                found.append(operation)
                for callback in operation.get("callbacks", {}).values():
                    found.extend(operations(callback))
        return found

    for operation in [*operations(document["paths"]), *operations(document.get("webhooks", {}))]:
        responses = operation["responses"]
        responses.pop("422", None)
        for code, response in list(responses.items()):
            if LANNER_OWN.get(code) == response["description"]:
                del responses[code]
                continue
            content = response.get("content", {})
            content.pop("application/problem+json", None)
            if "content" in response and not content:
                del response["content"]
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    for name in PROBLEM_SCHEMAS & set(schemas):
        del schemas[name]
    if "schemas" in components and not schemas:
        del components["schemas"]
    if "components" in document and not components:
        del document["components"]
    return document


def documents(
    build: Callable[[types.SimpleNamespace, Any], Any], *, validate_document: bool = True, **app_options: Any
) -> tuple[Any, Any]:
    """Build the app with FastAPI and with lanner; return both documents, comparable.

    lanner's document must be valid OpenAPI 3.1 unless FastAPI's is not either
    (`validate_document`: FastAPI writes OpenAPI 3.2's ``itemSchema`` for streams).
    """
    apps = []
    for ns in (FASTAPI, LANNER):
        app = ns.app(**app_options)
        build(ns, app)
        apps.append(app)
    expected, got = (app.openapi() for app in apps)
    if validate_document:
        validate(got)
    return without_deliberate_differences(expected), without_deliberate_differences(got)


def assert_same(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Equal documents (lists in the same order); on failure, show where they first differ."""
    if got == expected:
        return
    lines = list(
        zip(
            json.dumps(expected, indent=1, sort_keys=True).splitlines(),
            json.dumps(got, indent=1, sort_keys=True).splitlines(),
            strict=False,
        )
    )
    first = next((i for i, (a, b) in enumerate(lines) if a != b), len(lines))
    shown = "\n".join(f"{a:70} | {b}" for a, b in lines[max(first - 8, 0) : first + 8])
    pytest.fail(f"the documents differ (FastAPI | lanner) at line {first}:\n{shown}")


class Item(BaseModel):
    name: str
    description: str | None = Field(None, description="What it is\fnot shown")
    price: float = Field(gt=0)
    tags: list[str] = []


class Filters(BaseModel):
    colour: str | None = None
    sizes: list[int] = []


class Message(BaseModel):
    message: str


def test_parameters_titles_descriptions_and_order():
    def build(ns: Any, app: Any) -> None:
        def paging(
            skip: int = 0, limit: Annotated[int, ns.Query(le=100, description="At most")] = 10
        ) -> dict[str, int]:
            return {"skip": skip, "limit": limit}

        def user_agent(user_agent: Annotated[str | None, ns.Header()] = None) -> str | None:
            return user_agent

        @app.get("/items/{item_id}", dependencies=[ns.Depends(user_agent)])
        def read_item(
            item_id: Annotated[int, ns.Path(title="The item", ge=1)],
            page: Annotated[dict[str, int], ns.Depends(paging)],
            q: Annotated[str | None, ns.Query(alias="item-query", min_length=3, deprecated=True)] = None,
            x_token: Annotated[str, ns.Header(description="Secret")] = "none",
            strange_header: Annotated[str | None, ns.Header(convert_underscores=False)] = None,
            session: Annotated[str | None, ns.Cookie()] = None,
            limit: Annotated[int, ns.Query(examples=[5])] = 1,
        ) -> Item:
            """Read one item.

            Long text.
            \f
            Not for the docs.
            """
            return Item(name="x", price=1)

        @app.get("/search")
        def search(filters: Annotated[Filters, ns.Query()], flag: bool = False) -> list[Item]:
            return []

    expected, got = documents(build)
    operation = got["paths"]["/items/{item_id}"]["get"]
    assert operation["operationId"] == "read_item_items__item_id__get"
    assert operation["summary"] == "Read Item"
    assert operation["description"] == "Read one item.\n\nLong text."
    assert [(p["in"], p["name"], p["schema"].get("title")) for p in operation["parameters"]] == [
        ("path", "item_id", "The item"),
        ("query", "item-query", "Item-Query"),
        ("query", "limit", "Limit"),
        ("query", "skip", "Skip"),
        ("header", "x-token", "X-Token"),
        ("header", "strange_header", "Strange Header"),
        ("header", "user-agent", "User-Agent"),
        ("cookie", "session", "Session"),
    ]
    assert_same(expected, got)


def test_request_bodies():
    def build(ns: Any, app: Any) -> None:
        @app.post("/items", status_code=201)
        def create_item(item: Item) -> Item:
            return item

        @app.post("/many")
        def create_many(items: list[Item], dry_run: bool = False) -> dict[str, int]:
            return {"count": len(items)}

        @app.put("/items/{item_id}")
        def update_item(
            item_id: int, item: Item, note: Annotated[str, ns.Body(max_length=20)], importance: int = 1
        ) -> Message:
            return Message(message="ok")

        @app.post("/embedded", response_model=None)
        def embedded(item: Annotated[Item, ns.Body(embed=True)]) -> None:
            return None

        @app.post("/optional")
        def optional(item: Item | None = None) -> Message:
            return Message(message="ok")

    expected, got = documents(build)
    body = got["paths"]["/items/{item_id}"]["put"]["requestBody"]
    assert body == {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Body_update_item_items__item_id__put"}
            }
        },
    }
    assert got["components"]["schemas"]["Body_update_item_items__item_id__put"]["title"] == (
        "Body_update_item_items__item_id__put"
    )
    assert "required" not in got["paths"]["/optional"]["post"]["requestBody"]
    assert_same(expected, got)


def test_form_and_file_bodies():
    class Login(BaseModel):
        username: str
        password: str

    class Profile(BaseModel):
        name: str

    def build(ns: Any, app: Any) -> None:
        @app.post("/login")
        def login(form: Annotated[Login, ns.Form()]) -> Message:
            return Message(message="hi")

        @app.post("/token")
        def token(username: Annotated[str, ns.Form()], password: Annotated[str, ns.Form()]) -> Message:
            return Message(message="hi")

        @app.post("/upload")
        def upload(
            note: Annotated[str, ns.Form()],
            file: ns.UploadFile,
            extra: Annotated[list[bytes], ns.File(description="More files")] = [],  # noqa: B006
        ) -> Message:
            return Message(message="ok")

        @app.post("/profiles")
        def profiles(profile: Annotated[Profile, ns.Form()], avatar: ns.UploadFile) -> Message:
            return Message(message="ok")

    expected, got = documents(build)
    upload = got["components"]["schemas"]["Body_upload_upload_post"]
    assert upload["properties"]["file"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "title": "File",
    }
    assert upload["required"] == ["note", "file"]
    assert got["paths"]["/login"]["post"]["requestBody"]["content"] == {
        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Login"}}
    }
    assert_same(expected, got)


def test_responses():
    def build(ns: Any, app: Any) -> None:
        @app.get(
            "/items/{item_id}",
            response_model=Item,
            response_description="The item",
            responses={
                404: {"model": Message, "description": "Not there"},
                403: {"description": "Not yours"},
                "4XX": {"model": list[Message]},
                200: {"content": {"image/png": {}}, "description": "Item or picture"},
            },
        )
        def read_item(item_id: str) -> dict[str, Any]:
            return {}

        @app.get("/anything")
        def anything() -> dict[str, Any]:
            return {}

        @app.get("/page", response_class=ns.HTMLResponse)
        def page() -> str:
            return "<p>hi</p>"

        @app.get("/text", response_class=ns.PlainTextResponse, tags=["text"], deprecated=True)
        def text() -> str:
            return "hi"

        @app.delete("/items/{item_id}", status_code=204, summary="Remove it", operation_id="remove")
        def delete_item(item_id: str) -> None:
            return None

    expected, got = documents(build)
    responses = got["paths"]["/items/{item_id}"]["get"]["responses"]
    # A declared description wins over response_description, as in FastAPI.
    assert responses["200"]["description"] == "Item or picture"
    assert set(responses["200"]["content"]) == {"application/json", "image/png"}
    assert got["paths"]["/page"]["get"]["responses"]["200"]["description"] == "Successful Response"
    assert responses["4XX"]["content"]["application/json"]["schema"]["title"] == (
        "Response 4Xx Read Item Items  Item Id  Get"
    )
    # lanner's error responses stay problem documents where nothing else is declared.
    unexplained = Lanner(openapi_compat="fastapi")
    unexplained.get("/x", responses={403: {"description": "Not yours"}})(lambda: None)
    assert (
        "application/problem+json"
        in unexplained.openapi()["paths"]["/x"]["get"]["responses"]["403"]["content"]
    )
    assert_same(expected, got)


def test_router_tags_dependencies_and_duplicate_names():
    def build(ns: Any, app: Any) -> None:
        def token(x_token: Annotated[str, ns.Header()]) -> str:
            return x_token

        router = ns.Router(prefix="/users", tags=["users"], dependencies=[ns.Depends(token)])

        @router.get("/")
        def read_users(skip: int = 0) -> list[str]:
            return []

        @router.get("/{username}", tags=["one"])
        def read_user(username: str) -> dict[str, str]:
            return {}

        app.include_router(router, responses={418: {"description": "Teapot"}})

        @app.get("/", tags=["root"])
        def root() -> dict[str, str]:
            return {}

    expected, got = documents(build, openapi_tags=[{"name": "users", "description": "People"}])
    assert got["tags"] == [{"name": "users", "description": "People"}]
    assert got["paths"]["/users/"]["get"]["operationId"] == "read_users_users__get"
    assert_same(expected, got)


def test_security_scopes_are_collected_like_fastapis():
    """docs_src/security/tutorial005's operations, without the JWT parts."""

    def build(ns: Any, app: Any) -> None:
        scheme = ns.oauth2(
            "token", {"me": "Read information about the current user.", "items": "Read items."}
        )

        async def get_current_user(token: Annotated[str, ns.Depends(scheme)]) -> str:
            return token

        async def get_current_active_user(
            user: Annotated[str, ns.Security(get_current_user, scopes=["me"])],
        ) -> str:
            return user

        @app.get("/users/me/")
        async def read_users_me(user: Annotated[str, ns.Depends(get_current_active_user)]) -> dict[str, str]:
            return {}

        @app.get("/users/me/items/")
        async def read_own_items(
            user: Annotated[str, ns.Security(get_current_active_user, scopes=["items"])],
        ) -> dict[str, str]:
            return {}

        @app.get("/status/")
        async def read_system_status(user: Annotated[str, ns.Depends(get_current_user)]) -> dict[str, str]:
            return {}

    expected, got = documents(build)
    assert got["paths"]["/users/me/"]["get"]["security"] == [{"OAuth2PasswordBearer": ["me"]}]
    assert got["paths"]["/users/me/items/"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items", "me"]}]
    assert got["paths"]["/status/"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert_same(expected, got)


class Subscription(BaseModel):
    username: str
    monthly_fee: float
    start_date: datetime


def test_webhooks():
    """docs_src/openapi_webhooks/tutorial001."""

    def build(ns: Any, app: Any) -> None:
        @app.webhooks.post("new-subscription")
        def new_subscription(body: Subscription) -> None:
            """
            When a new user subscribes to your service we'll send you a POST request with this
            data to the URL that you register for the event `new-subscription` in the dashboard.
            """

        @app.get("/users/")
        def read_users() -> list[str]:
            return ["Rick", "Morty"]

    expected, got = documents(build)
    webhook = got["webhooks"]["new-subscription"]["post"]
    assert webhook["operationId"] == "new_subscriptionnew_subscription_post"
    assert webhook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Subscription"
    }
    assert "new-subscription" not in json.dumps(got["paths"])
    assert_same(expected, got)


class Invoice(BaseModel):
    id: str
    title: str | None = None
    customer: str
    total: float


class InvoiceEvent(BaseModel):
    description: str
    paid: bool


class InvoiceEventReceived(BaseModel):
    ok: bool


def test_callbacks():
    """docs_src/openapi_callbacks/tutorial001."""

    def build(ns: Any, app: Any) -> None:
        callbacks = ns.CallbackRouter()

        @callbacks.post("{$callback_url}/invoices/{$request.body.id}", response_model=InvoiceEventReceived)
        def invoice_notification(body: InvoiceEvent) -> None:
            pass

        @app.post("/invoices/", callbacks=callbacks.routes)
        def create_invoice(invoice: Invoice, callback_url: HttpUrl | None = None) -> dict[str, str]:
            """Create an invoice and send a notification back, as a callback."""
            return {"msg": "Invoice received"}

    expected, got = documents(build)
    callback = got["paths"]["/invoices/"]["post"]["callbacks"]["invoice_notification"]
    operation = callback["{$callback_url}/invoices/{$request.body.id}"]["post"]
    assert operation["operationId"] == "invoice_notification__callback_url__invoices___request_body_id__post"
    assert_same(expected, got)


def test_openapi_extra_and_custom_unique_ids():
    """docs_src/path_operation_advanced_configuration and docs_src/generate_clients/tutorial003."""

    def custom_generate_unique_id(route: Any) -> str:
        return f"{route.tags[0]}-{route.name}"

    def build(ns: Any, app: Any) -> None:
        @app.post("/items/", response_model=Message, tags=["items"])
        async def create_item(item: Item) -> dict[str, str]:
            return {"message": "Item received"}

        @app.get("/items/", response_model=list[Item], tags=["items"])
        async def get_items() -> list[dict[str, Any]]:
            return []

        @app.get(
            "/portal",
            tags=["extra"],
            openapi_extra={
                "x-aperture-labs-portal": "blue",
                "requestBody": {
                    "content": {"application/x-yaml": {"schema": Item.model_json_schema()}},
                    "required": True,
                },
                "responses": {"200": {"headers": {"X-Rate": {"schema": {"type": "integer"}}}}},
                "parameters": [{"name": "x-extra", "in": "header", "schema": {"type": "string"}}],
            },
        )
        async def portal(q: str | None = None) -> dict[str, str]:
            return {}

        @app.get("/explicit", tags=["explicit"], operation_id="explicit_id")
        async def explicit(q: str | None = None) -> dict[str, str]:
            return {}

    expected, got = documents(build, generate_unique_id_function=custom_generate_unique_id)
    assert got["paths"]["/items/"]["get"]["operationId"] == "items-get_items"
    assert (
        got["paths"]["/items/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["title"]
        == "Response Items-Get Items"
    )
    portal = got["paths"]["/portal"]["get"]
    assert portal["x-aperture-labs-portal"] == "blue"
    assert [p["name"] for p in portal["parameters"]] == ["q", "x-extra"]
    assert_same(expected, got)


class Priced(BaseModel):
    name: str
    price: Decimal  # read as a number or a string, written as a string


class Totalled(BaseModel):
    price: float
    quantity: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> float:
        return self.price * self.quantity


@pytest.mark.parametrize("separate", [True, False])
def test_input_and_output_schemas(separate):
    """docs_src/separate_openapi_schemas, with models whose output really differs."""

    def build(ns: Any, app: Any) -> None:
        @app.post("/items/")
        def create_item(item: Item, priced: Priced) -> Priced:
            return priced

        @app.get("/items/")
        def read_items() -> list[Item]:
            return []

        @app.post("/totals/")
        def total(totalled: Totalled) -> Totalled:
            return totalled

    expected, got = documents(build, separate_input_output_schemas=separate)
    names = set(got["components"]["schemas"])
    assert ({"Priced-Input", "Priced-Output"} <= names) is separate
    assert ("Priced" in names) is not separate
    # A computed field is output only: that model is split either way.
    assert {"Item", "Totalled-Input", "Totalled-Output"} <= names
    assert_same(expected, got)


def test_get_openapi_documents_app_routes_like_fastapis():
    """docs_src/extending_openapi: get_openapi(routes=app.routes) as FastAPI builds it."""

    def build(ns: Any, app: Any) -> None:
        @app.get("/items/")
        async def read_items(q: str | None = None) -> list[Item]:
            return []

        @app.webhooks.post("ping")
        def ping(body: Message) -> None:
            pass

    apps = []
    for ns in (FASTAPI, LANNER):
        app = ns.app()
        build(ns, app)
        apps.append(app)
    options = {
        "title": "Custom title",
        "version": "2.5.0",
        "summary": "This is a very custom OpenAPI schema",
        "description": "Here's a longer description of the custom **OpenAPI** schema",
        "servers": [{"url": "https://example.com"}],
        "tags": [{"name": "items"}],
    }
    expected = fastapi.openapi.utils.get_openapi(
        routes=apps[0].routes, webhooks=apps[0].webhooks.routes, **options
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = get_openapi(routes=apps[1].routes, webhooks=apps[1].webhooks.routes, **options)
    validate(got)
    assert_same(without_deliberate_differences(expected), without_deliberate_differences(got))


def test_duplicate_operation_ids_warn_like_fastapi():
    app = Lanner(openapi_compat="fastapi")

    async def listing() -> list[str]:
        return []

    app.get("/a", operation_id="same")(listing)
    app.get("/b", operation_id="same")(listing)
    with pytest.warns(UserWarning, match="Duplicate Operation ID same"):
        app.openapi()


def test_a_route_with_two_methods_gets_one_id_per_method():
    app = Lanner(openapi_compat="fastapi")

    @app.route("/things", methods=["GET", "POST"])
    async def things() -> list[str]:
        return []

    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/things"]["get"]["operationId"] == "things_things_get"
    assert doc["paths"]["/things"]["post"]["operationId"] == "things_things_post"


def test_streams_of_json_lines():
    """docs_src/stream_json_lines: a handler that yields documents each item's schema."""

    def build(ns: Any, app: Any) -> None:
        @app.get("/items/stream")
        async def stream_items() -> AsyncIterator[Item]:
            yield Item(name="x", price=1)

        @app.get("/items/plain")
        def stream_plain() -> Iterator[dict[str, int]]:
            yield {"a": 1}

        @app.get("/items/untyped")
        async def stream_untyped():  # type: ignore[no-untyped-def]
            yield {"a": 1}

    expected, got = documents(build, validate_document=False)
    content = got["paths"]["/items/stream"]["get"]["responses"]["200"]["content"]
    assert content == {"application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Item"}}}
    assert_same(expected, got)
