"""The OpenAPI features shared with FastAPI, in lanner's own conventions.

Webhooks, callbacks, ``openapi_extra``, ``generate_unique_id_function``, ``response_description``,
OAuth2 scopes, ``separate_input_output_schemas``, `get_openapi` and a replaced ``app.openapi``.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from lanner import Body, Depends, Header, Lanner, Query, Router
from lanner.exceptions import RouteConflictError
from lanner.openapi import CallbackRouter, RouteView, WebhookRouter, generate_unique_id, get_openapi
from lanner.params import Security
from lanner.requests import Request
from lanner.testing import TestClient


class Event(BaseModel):
    kind: str
    at: int


class Ack(BaseModel):
    ok: bool = True


class Item(BaseModel):
    name: str
    tags: list[str] = []


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method): op for path, item in document["paths"].items() for method, op in item.items()}


# -- webhooks and callbacks ----------------------------------------------------------------------


def test_webhooks_are_documented_not_served():
    webhooks = WebhookRouter()

    @webhooks.post("new-event", tags=["events"])
    def new_event(body: Event) -> Ack:
        """Sent when something happens."""
        return Ack()

    app = Lanner(webhooks=webhooks)

    @app.get("/status")
    def status() -> dict[str, str]:
        return {"status": "ok"}

    doc = app.openapi()
    validate(doc)
    assert set(doc["paths"]) == {"/status"}
    hook = doc["webhooks"]["new-event"]["post"]
    assert hook["operationId"] == "new_event_post"
    assert hook["description"] == "Sent when something happens."
    assert hook["tags"] == ["events"]
    assert hook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Event"
    }
    # lanner sends these requests: the errors lanner answers itself are not documented for them.
    assert set(hook["responses"]) == {"200"}
    assert hook["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ack"
    }
    assert {"Event", "Ack"} <= set(doc["components"]["schemas"])
    assert {"name": "events"} in doc["tags"]
    client = TestClient(app)
    assert client.post("/new-event", json={"kind": "x", "at": 1}).status_code == 404


def test_webhook_routers_take_names_and_refuse_duplicates():
    webhooks = WebhookRouter(prefix="/v1", tags=["hooks"])
    route = webhooks.post("/paid")(lambda body: None)
    assert webhooks.routes[0].path == "/v1/paid"
    assert webhooks.routes[0].options.tags == ("hooks",)
    assert route is not None
    bare = WebhookRouter()
    bare.post("paid")(lambda: None)
    bare.get("paid")(lambda: None)
    with pytest.raises(RouteConflictError, match="POST paid is documented twice"):
        bare.post("paid")(lambda: None)
    with pytest.raises(ValueError, match="needs a name"):
        bare.post("")(lambda: None)
    with pytest.raises(ValueError, match="unsupported HTTP method"):
        bare.route("x", methods=["BREW"])(lambda: None)


def test_callbacks_are_documented_under_their_operation():
    callbacks = CallbackRouter()

    @callbacks.post("{$request.body.callback_url}/events/{event_id}", response_model=Ack)
    def event_notification(event_id: str, body: Event) -> None:
        pass

    app = Lanner()

    class Subscription(BaseModel):
        callback_url: str

    @app.post("/subscriptions", status_code=201, callbacks=callbacks.routes)
    def subscribe(subscription: Subscription) -> dict[str, str]:
        return {}

    @app.post("/other", callbacks=callbacks.routes)
    def other(subscription: Subscription) -> dict[str, str]:
        return {}

    doc = app.openapi()
    validate(doc)
    operation = doc["paths"]["/subscriptions"]["post"]
    callback = operation["callbacks"]["event_notification"]["{$request.body.callback_url}/events/{event_id}"]
    sent = callback["post"]
    assert sent["operationId"] == "event_notification_post"
    assert sent["parameters"] == [
        {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert sent["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Event"
    }
    assert set(sent["responses"]) == {"200"}
    # Every operation id stays unique, callbacks' included (the second gets its path).
    other_callback = doc["paths"]["/other"]["post"]["callbacks"]["event_notification"]
    assert other_callback["{$request.body.callback_url}/events/{event_id}"]["post"]["operationId"] == (
        "event_notification_request_body_callback_url_events_event_id_post"
    )
    # The callback routes are not served.
    assert TestClient(app).post("/events/1", json={}).status_code == 404


def test_router_callbacks_apply_to_every_route_and_use_the_apps_overrides():
    callbacks = CallbackRouter()

    def signature(x_signature: Annotated[str, Header()]) -> str:
        return x_signature

    @callbacks.post("{$callback_url}", dependencies=[Depends(signature)])
    def notify(body: Event) -> None:
        pass

    router = Router(prefix="/jobs", callbacks=callbacks.routes)

    @router.post("")
    def start(name: str) -> dict[str, str]:
        return {}

    app = Lanner()
    app.include_router(router)
    doc = app.openapi()
    validate(doc)
    sent = doc["paths"]["/jobs"]["post"]["callbacks"]["notify"]["{$callback_url}"]["post"]
    assert [p["name"] for p in sent["parameters"]] == ["x-signature"]

    def no_signature() -> str:
        return ""

    app.dependency_overrides[signature] = no_signature
    sent = app.openapi()["paths"]["/jobs"]["post"]["callbacks"]["notify"]["{$callback_url}"]["post"]
    assert "parameters" not in sent


# -- operation settings --------------------------------------------------------------------------


def test_openapi_extra_is_merged_deeply_into_the_operation():
    extra = {
        "x-rate-limit": 10,
        "parameters": [{"name": "x-trace", "in": "header", "schema": {"type": "string"}}],
        "responses": {"200": {"headers": {"x-count": {"schema": {"type": "integer"}}}}},
        "requestBody": {"content": {"application/x-yaml": {"schema": {"type": "object"}}}},
    }
    app = Lanner()

    @app.post("/items", openapi_extra=extra)
    def create(item: Item, dry_run: bool = False) -> Item:
        return item

    doc = app.openapi()
    validate(doc)
    operation = doc["paths"]["/items"]["post"]
    assert operation["x-rate-limit"] == 10
    assert [p["name"] for p in operation["parameters"]] == ["dry_run", "x-trace"]
    assert operation["responses"]["200"]["headers"] == {"x-count": {"schema": {"type": "integer"}}}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item-Output"
    }
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/x-yaml"}
    # The document never shares objects with the route's settings.
    operation["parameters"][-1]["name"] = "changed"
    assert extra["parameters"][0]["name"] == "x-trace"


def test_generate_unique_id_function_at_every_level():
    seen: list[RouteView] = []

    def by_tag(route: RouteView) -> str:
        seen.append(route)
        return f"{route.tags[0]}-{route.name}"

    def by_path(route: RouteView) -> str:
        return route.path_format.strip("/").replace("/", "_").replace("{", "").replace("}", "")

    app = Lanner(generate_unique_id_function=by_tag)
    items = Router(prefix="/items", tags=["items"])

    @items.get("/{item_id:int}")
    def read_item(item_id: int) -> dict[str, int]:
        return {}

    @items.get("/{item_id:int}/again", operation_id="explicit")
    def again(item_id: int) -> dict[str, int]:
        return {}

    app.include_router(items)
    users = Router(prefix="/users", tags=["users"], generate_unique_id_function=by_path)

    @users.get("/{name}")
    def read_user(name: str) -> dict[str, str]:
        return {}

    @users.get("/{name}/copy", generate_unique_id_function=lambda route: "copy")
    def copy_user(name: str) -> dict[str, str]:
        return {}

    @users.get("/{name}/copy2", generate_unique_id_function=lambda route: "copy")
    def copy_user_again(name: str) -> dict[str, str]:
        return {}

    app.include_router(users)
    ids = {path: op["operationId"] for (path, _), op in operations(app.openapi()).items()}
    assert ids == {
        "/items/{item_id}": "items-read_item",
        "/items/{item_id}/again": "explicit",
        "/users/{name}": "users_name",
        "/users/{name}/copy": "copy",
        "/users/{name}/copy2": "copy_2",
    }
    view = seen[0]
    assert isinstance(view, RouteView)
    assert (view.path, view.path_format, view.endpoint, view.methods) == (
        "/items/{item_id:int}",
        "/items/{item_id}",
        read_item,
        frozenset({"GET"}),
    )
    assert view.summary is None and view.operation_id is None
    with pytest.raises(AttributeError):
        _ = view.no_such_setting


def test_fastapis_default_unique_id():
    app = Lanner()

    @app.route("/items/{item_id:int}/sub-path", methods=["PUT", "POST"])
    def update(item_id: int) -> None:
        return None

    route = app.routes[-1]
    assert generate_unique_id(route) == "update_items__item_id__sub_path_post"
    assert generate_unique_id(route, "PUT") == "update_items__item_id__sub_path_put"


def test_response_description_deprecated_and_form_feed():
    app = Lanner()

    @app.get("/items", response_description="Every item", deprecated=True)
    def items() -> list[Item]:
        """List the items.

        \f
        :returns: for the code's readers only.
        """
        return []

    @app.get("/plain", description="Shown\fhidden")
    def plain() -> None:
        return None

    doc = app.openapi()
    operation = doc["paths"]["/items"]["get"]
    assert operation["responses"]["200"]["description"] == "Every item"
    assert operation["description"] == "List the items."
    assert operation["deprecated"] is True
    assert doc["paths"]["/plain"]["get"]["description"] == "Shown"


def test_declared_responses_keep_their_other_fields():
    app = Lanner()
    headers = {"retry-after": {"schema": {"type": "integer"}}}

    @app.get("/busy", responses={503: {"description": "Busy", "headers": headers}})
    def busy() -> None:
        return None

    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/busy"]["get"]["responses"]["503"]["headers"] == headers


def test_parameters_left_out_of_the_schema():
    app = Lanner()

    def internal(x_internal: Annotated[str | None, Header(include_in_schema=False)] = None) -> str | None:
        return x_internal

    @app.get("/items")
    def items(
        q: str | None = None,
        debug: Annotated[bool, Query(include_in_schema=False)] = False,
        seen: Annotated[str | None, Depends(internal)] = None,
    ) -> dict[str, Any]:
        return {"debug": debug, "seen": seen}

    doc = app.openapi()
    assert [p["name"] for p in doc["paths"]["/items"]["get"]["parameters"]] == ["q"]
    client = TestClient(app)
    answer = client.get("/items", params={"debug": "true"}, headers={"x-internal": "yes"}).json()
    assert answer == {"debug": True, "seen": "yes"}


def test_a_body_read_by_several_functions_documents_every_key():
    app = Lanner()

    class Owner(BaseModel):
        email: str

    def owner(owner: Owner) -> str:
        return owner.email

    @app.post("/items")
    def create(item: Item, email: Annotated[str, Depends(owner)], note: Annotated[str, Body()] = "") -> str:
        return email

    doc = app.openapi()
    validate(doc)
    body = doc["paths"]["/items"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert set(schema["properties"]) == {"owner", "item", "note"}
    assert schema["required"] == ["owner", "item"]
    answer = TestClient(app).post("/items", json={"owner": {"email": "a@b"}, "item": {"name": "x"}})
    assert answer.json() == "a@b"


# -- security scopes ----------------------------------------------------------------------------


class ScopedBearer:
    """A security dependency as lanner's generator reads one (see `lanner.security`)."""

    security_scheme_name = "oauth"
    security_scheme = {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "token", "scopes": {"me": "", "items": "", "admin": ""}}},
    }

    def __init__(self, *scopes: str) -> None:
        self.security_scopes = scopes

    async def __call__(self, request: Request) -> str:
        return request.headers.get("authorization", "")


def test_security_requirements_collect_the_scopes_on_the_way():
    bearer = ScopedBearer()
    admin_bearer = ScopedBearer("admin")

    async def current_user(token: Annotated[str, Depends(bearer)]) -> str:
        return token

    async def active_user(user: Annotated[str, Security(current_user, scopes=["me"])]) -> str:
        return user

    app = Lanner()

    @app.get("/me")
    async def me(user: Annotated[str, Depends(active_user)]) -> str:
        return user

    @app.get("/me/items")
    async def my_items(user: Annotated[str, Security(active_user, scopes=["items"])]) -> str:
        return user

    @app.get("/admin")
    async def admin(
        user: Annotated[str, Security(active_user, scopes=["items"])],
        token: Annotated[str, Depends(admin_bearer)],
    ) -> str:
        return user

    @app.get("/status")
    async def status(user: Annotated[str, Depends(current_user)]) -> str:
        return user

    doc = app.openapi()
    validate(doc)
    security = {path: op["security"] for (path, _), op in operations(doc).items()}
    assert security == {
        "/me": [{"oauth": ["me"]}],
        "/me/items": [{"oauth": ["items", "me"]}],
        # The same scheme required twice: one requirement, with the scopes of both uses.
        "/admin": [{"oauth": ["items", "me", "admin"]}],
        "/status": [{"oauth": []}],
    }
    assert doc["components"]["securitySchemes"] == {"oauth": ScopedBearer.security_scheme}


# -- schemas -------------------------------------------------------------------------------------


class Priced(BaseModel):
    name: str
    price: float = Field(1.0, gt=0)


@pytest.mark.parametrize("separate", [True, False])
def test_separate_input_output_schemas(separate):
    app = Lanner(separate_input_output_schemas=separate)

    @app.post("/items")
    def create(item: Priced) -> Priced:
        return item

    doc = app.openapi()
    validate(doc)
    schemas = doc["components"]["schemas"]
    if separate:
        # lanner marks output fields with defaults required: a response always carries them.
        assert schemas["Priced-Output"]["required"] == ["name", "price"]
        assert schemas["Priced-Input"]["required"] == ["name"]
    else:
        assert set(schemas) == {"Priced", "Problem", "ValidationProblem"}
        assert schemas["Priced"]["required"] == ["name"]


# -- get_openapi and a replaced app.openapi -------------------------------------------------------


def make_app() -> Lanner:
    webhooks = WebhookRouter()

    @webhooks.post("ping")
    def ping(body: Event) -> None:
        pass

    app = Lanner(title="Shop", version="3", webhooks=webhooks)

    @app.get("/items/{item_id:int}", tags=["items"])
    def read_item(item_id: int, q: str | None = None) -> Item:
        return Item(name="x")

    @app.get("/hidden", include_in_schema=False)
    def hidden() -> None:
        return None

    return app


def test_get_openapi_documents_routes_outside_the_app():
    app = make_app()
    expected = app.openapi()
    for routes in (app.routes, list(app.iter_routes())):
        got = get_openapi(
            title="Shop", version="3", routes=routes, webhooks=app.webhooks.routes, compat="lanner"
        )
        assert got == expected
    fastapi_style = get_openapi(title="Shop", version="3", routes=app.routes, tags=[{"name": "items"}])
    validate(fastapi_style)
    assert fastapi_style["paths"]["/items/{item_id}"]["get"]["operationId"] == "read_item_items__item_id__get"
    assert "webhooks" not in fastapi_style
    assert fastapi_style["tags"] == [{"name": "items"}]
    assert get_openapi(title="x", version="1", openapi_version="3.1.1", routes=[])["openapi"] == "3.1.1"


def test_a_replaced_app_openapi_is_served():
    """FastAPI's way of customising the document (docs_src/extending_openapi)."""
    app = make_app()
    calls = []

    def custom_openapi() -> dict[str, Any]:
        calls.append(1)
        schema = get_openapi(title="Custom title", version="2.5.0", routes=app.routes, compat="lanner")
        schema["info"]["x-logo"] = {"url": "https://example.com/logo.png"}
        return schema

    client = TestClient(app)
    assert client.get("/openapi.json").json()["info"]["title"] == "Shop"
    app.openapi = custom_openapi  # type: ignore[method-assign]
    served = client.get("/openapi.json").json()
    assert served["info"] == {
        "title": "Custom title",
        "version": "2.5.0",
        "x-logo": {"url": "https://example.com/logo.png"},
    }
    assert set(served["paths"]) == {"/items/{item_id}"}
    assert calls == [1]


def test_streams_of_json_lines_stay_valid_openapi_3_1():
    app = Lanner()

    @app.get("/events")
    async def events() -> AsyncIterator[Event]:
        yield Event(kind="x", at=1)

    @app.get("/numbers", response_description="One number a line")
    def numbers() -> Iterator[int]:
        yield 1

    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/events"]["get"]["responses"]["200"]["content"] == {
        "application/jsonl": {
            "schema": {"type": "string"},
            "x-itemSchema": {"$ref": "#/components/schemas/Event"},
        }
    }
    numbers_response = doc["paths"]["/numbers"]["get"]["responses"]["200"]
    assert numbers_response["description"] == "One number a line"
    assert numbers_response["content"]["application/jsonl"]["x-itemSchema"] == {"type": "integer"}
    assert TestClient(app).get("/events").text == '{"kind":"x","at":1}\n'
