"""WebSocket routes in the OpenAPI document: the ``x-websockets`` extension."""

from datetime import datetime
from typing import Annotated, Any, Literal

from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from lanner import APIKeyHeader, Cookie, Depends, Header, Lanner, Query, Router, WebSocket
from lanner.testing import TestClient


class Join(BaseModel):
    type: Literal["join"]
    name: str


class Say(BaseModel):
    type: Literal["say"]
    text: str = Field(max_length=500)
    reply_to: int | None = None


ClientMessage = Annotated[Join | Say, Field(discriminator="type")]


class Author(BaseModel):
    name: str
    avatar: str | None = None


class Said(BaseModel):
    """One message of a room, as the server sends it."""

    author: Author
    text: str
    at: datetime


async def current_user(token: Annotated[str, Query(description="An access token.")]) -> str:
    return token


def chat_app(**options: Any) -> Lanner:
    """A chat: a typed room under a router prefix, an untyped echo and a hidden route."""
    app = Lanner(title="Chat", **options)
    rooms = Router(prefix="/v1", tags=["chat"])

    @rooms.websocket("/rooms/{room:int}", receives=ClientMessage, sends=Said)
    async def room(
        ws: WebSocket,
        room: int,
        user: Annotated[str, Depends(current_user)],
        x_client: Annotated[str | None, Header(description="The client's name.")] = None,
        sid: Annotated[str | None, Cookie()] = None,
    ) -> None:
        """Talk in a room.

        \f
        Not for the document.
        """
        await ws.accept()

    app.include_router(rooms)

    @app.get("/v1/rooms/{room:int}/history")
    async def history(room: int) -> list[Said]:
        return []

    @app.websocket("/echo", summary="Echo text", deprecated=True)
    async def echo(ws: WebSocket) -> None:
        await ws.accept()

    @app.websocket("/internal", include_in_schema=False, receives=Join)
    async def internal(ws: WebSocket) -> None:
        await ws.accept()

    return app


def test_the_document_lists_the_documented_routes_and_still_validates() -> None:
    doc = chat_app().openapi()
    validate(doc)
    assert list(doc["x-websockets"]) == ["/v1/rooms/{room}", "/echo"]
    # The WebSocket routes are not HTTP operations.
    assert list(doc["paths"]) == ["/v1/rooms/{room}/history"]


def test_a_route_is_described_like_an_operation() -> None:
    entry = chat_app().openapi()["x-websockets"]["/v1/rooms/{room}"]
    assert entry["tags"] == ["chat"]
    assert entry["summary"] == "Room"
    assert entry["description"] == "Talk in a room."
    assert entry["operationId"] == "room_websocket"
    assert "deprecated" not in entry
    assert entry["parameters"] == [
        # The dependency's parameter comes first, as for HTTP operations.
        {
            "name": "token",
            "in": "query",
            "required": True,
            "description": "An access token.",
            "schema": {"type": "string"},
        },
        {"name": "room", "in": "path", "required": True, "schema": {"type": "integer"}},
        {
            "name": "x-client",
            "in": "header",
            "required": False,
            "description": "The client's name.",
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        {
            "name": "sid",
            "in": "cookie",
            "required": False,
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
    ]


def test_message_schemas_refer_to_the_components() -> None:
    doc = chat_app().openapi()
    entry = doc["x-websockets"]["/v1/rooms/{room}"]
    assert entry["receives"] == {
        "oneOf": [{"$ref": "#/components/schemas/Join"}, {"$ref": "#/components/schemas/Say"}],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"join": "#/components/schemas/Join", "say": "#/components/schemas/Say"},
        },
    }
    assert entry["sends"] == {"$ref": "#/components/schemas/Said"}
    schemas = doc["components"]["schemas"]
    # Nested models are components too; the hidden route's models are not documented.
    assert {"Join", "Say", "Said", "Author"} <= set(schemas)
    assert schemas["Said"]["properties"]["author"] == {"$ref": "#/components/schemas/Author"}
    assert schemas["Say"]["properties"]["text"]["maxLength"] == 500


def test_a_model_shared_with_an_http_route_is_one_schema() -> None:
    doc = chat_app().openapi()
    response = doc["paths"]["/v1/rooms/{room}/history"]["get"]["responses"]["200"]
    items = response["content"]["application/json"]["schema"]["items"]
    assert items == doc["x-websockets"]["/v1/rooms/{room}"]["sends"] == {"$ref": "#/components/schemas/Said"}
    assert [name for name in doc["components"]["schemas"] if name.startswith("Said")] == ["Said"]


def test_a_model_read_by_both_kinds_of_route_is_named_as_for_http() -> None:
    class Move(BaseModel):
        x: int
        y: int = 0

    app = Lanner()

    @app.post("/moves")
    async def add_move(move: Move) -> Move:
        return move

    @app.websocket("/moves", receives=Move, sends=Move)
    async def moves(ws: WebSocket) -> None:
        await ws.accept()

    doc = app.openapi()
    validate(doc)
    operation = doc["paths"]["/moves"]["post"]
    entry = doc["x-websockets"]["/moves"]
    # Read, Move has an optional field; sent, every field is there: two schemas, as for HTTP.
    assert entry["receives"] == operation["requestBody"]["content"]["application/json"]["schema"]
    assert entry["receives"] == {"$ref": "#/components/schemas/Move-Input"}
    assert entry["sends"] == operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert entry["sends"] == {"$ref": "#/components/schemas/Move-Output"}


def test_an_untyped_route_has_no_message_schemas() -> None:
    entry = chat_app().openapi()["x-websockets"]["/echo"]
    assert entry == {"summary": "Echo text", "operationId": "echo_websocket", "deprecated": True}


def test_security_dependencies_are_documented() -> None:
    app = Lanner()
    api_key = APIKeyHeader(name="X-API-Key")

    @app.websocket("/secure")
    async def secure(ws: WebSocket, key: Annotated[str, Depends(api_key)]) -> None:
        await ws.accept()

    doc = app.openapi()
    validate(doc)
    assert doc["x-websockets"]["/secure"]["security"] == [{"APIKeyHeader": []}]
    assert doc["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


def test_an_app_without_documented_websocket_routes_has_no_extension() -> None:
    app = Lanner()

    @app.get("/items")
    async def items() -> list[int]:
        return []

    plain = app.openapi()
    assert "x-websockets" not in plain

    @app.websocket("/hidden", include_in_schema=False)
    async def hidden(ws: WebSocket) -> None:
        await ws.accept()

    assert app.openapi() == plain


def test_fastapi_conventions_leave_the_extension_out() -> None:
    doc = chat_app(openapi_compat="fastapi").openapi()
    validate(doc)
    assert "x-websockets" not in doc
    # Models only WebSocket routes use are not documented either.
    assert {"Join", "Say"}.isdisjoint(doc["components"]["schemas"])


def test_a_new_route_resets_the_cached_document() -> None:
    app = Lanner()
    first = app.openapi()
    assert app.openapi() is first
    assert "x-websockets" not in first

    @app.websocket("/live")
    async def live(ws: WebSocket) -> None:
        await ws.accept()

    assert list(app.openapi()["x-websockets"]) == ["/live"]
    router = Router()

    @router.websocket("/more")
    async def more(ws: WebSocket) -> None:
        await ws.accept()

    app.include_router(router, prefix="/v2")
    assert list(app.openapi()["x-websockets"]) == ["/live", "/v2/more"]


def test_the_served_document_has_the_extension() -> None:
    app = chat_app()
    served = TestClient(app).get("/openapi.json").json()
    assert served["x-websockets"] == app.openapi()["x-websockets"]


def test_a_router_s_schema_and_deprecation_defaults_reach_its_websocket_routes() -> None:
    async def socket(ws: WebSocket) -> None: ...

    hidden = Router(prefix="/hidden", include_in_schema=False)
    hidden.websocket("/ws")(socket)
    old = Router(prefix="/old")
    old.websocket("/ws")(socket)
    app = Lanner()
    app.include_router(hidden)
    app.include_router(old, deprecated=True)
    sockets = app.openapi()["x-websockets"]
    assert "/hidden/ws" not in sockets
    assert sockets["/old/ws"]["deprecated"] is True
