"""The AsyncAPI 3.0 document of the WebSocket routes (`lanner.openapi.asyncapi`), served at /asyncapi.json.

Every document is checked against the official AsyncAPI 3.0.0 JSON Schema (from the npm package
``@asyncapi/specs``, kept in tests/fixtures with its license).
"""

import copy
import enum
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from lanner import Depends, Header, Lanner, Query, Router, WebSocket
from lanner.openapi.asyncapi import INVALID_MESSAGE_SCHEMA, build_asyncapi
from lanner.openapi.generator import OpenAPIInfo
from lanner.testing import TestClient

from .test_openapi_websockets import Join, Said, chat_app

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "asyncapi-3.0.0.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def check(document: dict[str, Any]) -> dict[str, Any]:
    """Fail with every error when `document` is not a valid AsyncAPI 3.0.0 document."""
    errors = [
        f"{list(error.absolute_path)}: {error.message[:300]}" for error in VALIDATOR.iter_errors(document)
    ]
    assert errors == []
    return document


def test_the_validation_catches_invalid_documents() -> None:
    document = check(chat_app().asyncapi())
    broken = copy.deepcopy(document)
    broken["operations"]["room_receive"]["action"] = "publish"  # AsyncAPI 2's word
    assert not VALIDATOR.is_valid(broken)
    broken = copy.deepcopy(document)
    broken["channels"]["room"]["bindings"]["ws"]["method"] = "PUT"
    assert not VALIDATOR.is_valid(broken)
    broken = copy.deepcopy(document)
    broken["channels"]["room"]["parameters"]["room"]["schema"] = {"type": "integer"}
    assert not VALIDATOR.is_valid(broken)


def test_the_chat_document() -> None:
    document = check(chat_app(description="Rooms to talk in.").asyncapi())
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "Chat", "version": "0.1.0", "description": "Rooms to talk in."}
    assert "servers" not in document  # none declared
    assert document["defaultContentType"] == "application/json"
    # The hidden route is left out.
    assert list(document["channels"]) == ["room", "echo"]
    assert document["channels"]["room"] == {
        "address": "/v1/rooms/{room}",
        "summary": "Room",
        "description": "Talk in a room.",
        "parameters": {"room": {}},
        "messages": {
            "room_receives": {"$ref": "#/components/messages/room_receives"},
            "Said": {"$ref": "#/components/messages/Said"},
        },
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {
                    "type": "object",
                    "properties": {"token": {"type": "string", "description": "An access token."}},
                    "required": ["token"],
                },
                "headers": {
                    "type": "object",
                    "properties": {
                        "x-client": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "default": None,
                            "description": "The client's name.",
                        }
                    },
                },
                "bindingVersion": "0.1.0",
            }
        },
    }
    assert document["operations"] == {
        "room_receive": {
            "action": "receive",
            "channel": {"$ref": "#/channels/room"},
            "summary": "Room",
            "tags": [{"name": "chat"}],
            "messages": [{"$ref": "#/channels/room/messages/room_receives"}],
        },
        "room_send": {
            "action": "send",
            "channel": {"$ref": "#/channels/room"},
            "summary": "Room",
            "tags": [{"name": "chat"}],
            "messages": [{"$ref": "#/channels/room/messages/Said"}],
        },
    }


def test_messages_and_schemas_are_components() -> None:
    components = check(chat_app().asyncapi())["components"]
    assert components["messages"] == {
        # A union has no name of its own: the message is named after the route.
        "room_receives": {
            "name": "room_receives",
            "payload": {
                "oneOf": [{"$ref": "#/components/schemas/Join"}, {"$ref": "#/components/schemas/Say"}],
                # AsyncAPI's discriminator is the property's name.
                "discriminator": "type",
            },
        },
        "Said": {"name": "Said", "payload": {"$ref": "#/components/schemas/Said"}},
    }
    schemas = components["schemas"]
    assert sorted(schemas) == ["Author", "Join", "Said", "Say"]  # nested ones included
    assert schemas["Said"]["properties"]["author"] == {"$ref": "#/components/schemas/Author"}
    assert schemas["Said"]["description"] == Said.__doc__
    assert schemas["Say"]["properties"]["text"] == {"maxLength": 500, "title": "Text", "type": "string"}
    # Sent models are described as sent: every field is there.
    assert schemas["Author"]["required"] == ["name", "avatar"]


def test_an_untyped_route_is_a_channel_without_operations() -> None:
    document = check(chat_app().asyncapi())
    assert document["channels"]["echo"] == {
        "address": "/echo",
        "summary": "Echo text",
        "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
        "x-deprecated": True,
    }
    assert not any(name.startswith("echo") for name in document["operations"])


def test_an_app_without_websocket_routes() -> None:
    app = Lanner(title="Plain", version="2.0.0")

    @app.get("/items")
    async def items() -> list[int]:
        return []

    assert check(app.asyncapi()) == {
        "asyncapi": "3.0.0",
        "info": {"title": "Plain", "version": "2.0.0"},
        "defaultContentType": "application/json",
        "channels": {},
        "operations": {},
    }


class Level(enum.IntEnum):
    """How much detail."""

    LOW = 1
    HIGH = 2


def test_path_parameters_carry_their_values_but_no_schema() -> None:
    app = Lanner()

    @app.websocket("/feeds/{kind}/{page:int}/{level}/{raw}")
    async def feed(
        ws: WebSocket,
        kind: Literal["news", "sport"],
        page: Annotated[int, Field(description="From 1.", examples=[1, 2])],
        level: Level,
    ) -> None:
        await ws.accept()

    document = check(app.asyncapi())
    assert document["channels"]["feed"]["parameters"] == {
        "kind": {"enum": ["news", "sport"]},
        "page": {"description": "From 1.", "examples": ["1", "2"]},
        "level": {"description": "How much detail.", "enum": ["1", "2"]},  # from the enum's schema
        "raw": {},  # in the address though the handler does not read it
    }
    assert document["channels"]["feed"]["address"] == "/feeds/{kind}/{page}/{level}/{raw}"


def test_a_model_both_received_and_sent_is_one_message_unless_its_schemas_differ() -> None:
    class Move(BaseModel):
        x: int
        y: int

    class Step(BaseModel):
        dx: int
        dy: int = 0

    app = Lanner()

    @app.websocket("/moves", receives=Move, sends=Move)
    async def moves(ws: WebSocket) -> None:
        await ws.accept()

    @app.websocket("/steps", receives=Step, sends=Step)
    async def steps(ws: WebSocket) -> None:
        await ws.accept()

    document = check(app.asyncapi())
    assert document["channels"]["moves"]["messages"] == {"Move": {"$ref": "#/components/messages/Move"}}
    operations = document["operations"]
    assert operations["moves_receive"]["messages"] == operations["moves_send"]["messages"]
    assert list(document["channels"]["steps"]["messages"]) == ["Step-Input", "Step-Output"]
    schemas = document["components"]["schemas"]
    assert schemas["Step-Input"]["required"] == ["dx"]
    assert schemas["Step-Output"]["required"] == ["dx", "dy"]
    flat = build_asyncapi(
        OpenAPIInfo("t", "1"), app.iter_websocket_routes(), separate_input_output_schemas=False
    )
    assert list(check(flat)["channels"]["steps"]["messages"]) == ["Step"]


def test_invalid_message_replies_are_sent_messages() -> None:
    class Step(BaseModel):
        dx: int

    app = Lanner(on_invalid="reply")

    @app.websocket("/steps", receives=Step)
    async def steps(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json(Step)

    @app.websocket("/strict", receives=Step, sends=Step, on_invalid="close")
    async def strict(ws: WebSocket) -> None:
        await ws.accept()

    document = check(app.asyncapi())
    assert document["operations"]["steps_send"]["messages"] == [
        {"$ref": "#/channels/steps/messages/InvalidMessage"}
    ]
    assert document["components"]["schemas"]["InvalidMessage"] == INVALID_MESSAGE_SCHEMA
    assert document["operations"]["strict_send"]["messages"] == [{"$ref": "#/channels/strict/messages/Step"}]
    # The documented reply is the one the socket sends.
    with TestClient(app).websocket_connect("/steps") as ws:
        ws.send_text('{"dx": "far"}')
        reply = ws.receive_json()
    assert VALIDATOR.evolve(schema=INVALID_MESSAGE_SCHEMA).is_valid(reply)
    assert reply["type"] == "error"


def test_ids_are_valid_keys_and_unique() -> None:
    app = Lanner()
    left, right = Router(prefix="/left"), Router(prefix="/right")

    for router in (left, right):

        @router.websocket("/live", receives=int)
        async def live(ws: WebSocket) -> None:
            await ws.accept()

        app.include_router(router)

    @app.websocket("/odd", name="odd name/ü", sends=list[str])
    async def odd(ws: WebSocket) -> None:
        await ws.accept()

    document = check(app.asyncapi())
    assert list(document["channels"]) == ["live", "live_2", "odd_name"]
    assert sorted(document["operations"]) == ["live_2_receive", "live_receive", "odd_name_send"]
    # A payload without a model of its own is named after its route.
    assert document["components"]["messages"] == {
        "live_receives": {"name": "live_receives", "payload": {"type": "integer"}},
        "live_2_receives": {"name": "live_2_receives", "payload": {"type": "integer"}},
        "odd_name_sends": {
            "name": "odd_name_sends",
            "payload": {"type": "array", "items": {"type": "string"}},
        },
    }


def test_info_servers_and_tags_are_mapped_from_the_app() -> None:
    app = Lanner(
        title="Chat",
        summary="Talk.",
        contact={"name": "Ops", "email": "ops@example.com"},
        license_info={"name": "MIT", "identifier": "MIT"},
        terms_of_service="https://example.com/terms",
        servers=[
            {"url": "https://chat.example.com/api", "description": "Production"},
            {"url": "http://localhost:8000"},
            {
                "url": "https://{region}.example.com",
                "variables": {"region": {"default": "eu", "enum": ["eu", "us"]}},
            },
            {"url": "/relative"},  # AsyncAPI servers need a host: left out
        ],
        openapi_tags=[{"name": "chat", "description": "Talking."}],
    )

    @app.websocket("/chat", tags=["chat", "live"], sends=str)
    async def chat(ws: WebSocket, lang: Annotated[str, Query(examples=["en"])] = "en") -> None:
        await ws.accept()

    document = check(app.asyncapi())
    assert document["info"] == {
        "title": "Chat",
        "version": "0.1.0",
        "description": "Talk.",  # AsyncAPI's info has no summary
        "termsOfService": "https://example.com/terms",
        "contact": {"name": "Ops", "email": "ops@example.com"},
        "license": {"name": "MIT"},
    }
    assert document["servers"] == {
        "chat.example.com": {
            "host": "chat.example.com",
            "protocol": "wss",
            "pathname": "/api",
            "description": "Production",
        },
        "localhost_8000": {"host": "localhost:8000", "protocol": "ws"},
        "region_.example.com": {
            "host": "{region}.example.com",
            "protocol": "wss",
            "variables": {"region": {"default": "eu", "enum": ["eu", "us"]}},
        },
    }
    assert document["operations"]["chat_send"]["tags"] == [
        {"name": "chat", "description": "Talking."},
        {"name": "live"},
    ]
    assert document["channels"]["chat"]["bindings"]["ws"]["query"] == {
        "type": "object",
        "properties": {"lang": {"type": "string", "default": "en", "examples": ["en"]}},
    }


def test_dependencies_parameters_are_the_handshakes() -> None:
    def locale(accept_language: Annotated[str, Header()], region: Annotated[str, Query()] = "eu") -> str:
        return f"{accept_language}-{region}"

    app = Lanner()

    @app.websocket("/news", dependencies=[Depends(locale)])
    async def news(ws: WebSocket) -> None:
        await ws.accept()

    binding = check(app.asyncapi())["channels"]["news"]["bindings"]["ws"]
    assert binding["query"] == {
        "type": "object",
        "properties": {"region": {"type": "string", "default": "eu"}},
    }
    assert binding["headers"] == {
        "type": "object",
        "properties": {"accept-language": {"type": "string"}},
        "required": ["accept-language"],
    }


def test_the_document_is_served() -> None:
    app = chat_app()
    client = TestClient(app)
    response = client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == app.asyncapi()
    # A docs page, not an operation of the API.
    assert "/asyncapi.json" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("options", "url", "served"),
    [
        ({"asyncapi_url": None}, "/asyncapi.json", False),
        ({"asyncapi_url": "/docs/asyncapi.json"}, "/docs/asyncapi.json", True),
        ({"asyncapi_url": "/docs/asyncapi.json"}, "/asyncapi.json", False),
        # An app that hides its OpenAPI document hides this one too.
        ({"openapi_url": None}, "/asyncapi.json", False),
    ],
)
def test_the_url_can_move_or_be_turned_off(options: dict[str, Any], url: str, served: bool) -> None:
    response = TestClient(Lanner(**options)).get(url)
    assert response.status_code == (200 if served else 404)


def test_behind_a_proxy_the_served_document_names_the_host_and_prefix() -> None:
    app = chat_app()
    served = TestClient(app, root_path="/chat").get("/chat/asyncapi.json").json()
    assert served["servers"] == {"default": {"host": "testserver", "pathname": "/chat", "protocol": "ws"}}
    assert "servers" not in app.asyncapi()  # the cached document is left alone
    check(served)


def test_the_document_is_cached_until_the_routes_change() -> None:
    app = Lanner()
    first = app.asyncapi()
    assert app.asyncapi() is first
    assert first["channels"] == {}

    @app.websocket("/live", receives=Join)
    async def live(ws: WebSocket) -> None:
        await ws.accept()

    second = app.asyncapi()
    assert list(second["channels"]) == ["live"]
    assert TestClient(app).get("/asyncapi.json").json() == second
    router = Router(prefix="/v2")

    @router.websocket("/more")
    async def more(ws: WebSocket) -> None:
        await ws.accept()

    app.include_router(router)
    assert [c["address"] for c in app.asyncapi()["channels"].values()] == ["/live", "/v2/more"]


def test_a_replaced_asyncapi_method_is_served() -> None:
    app = Lanner()
    app.asyncapi = lambda: {"asyncapi": "3.0.0", "info": {"title": "Custom", "version": "1"}}  # type: ignore[method-assign]
    assert TestClient(app).get("/asyncapi.json").json()["info"]["title"] == "Custom"


def test_the_example_app_is_documented() -> None:
    from .test_examples import load

    app = load("drawing").app
    document = check(app.asyncapi())
    assert document["channels"]["draw"]["address"] == "/rooms/{room}"
    assert [m["$ref"] for m in document["operations"]["draw_send"]["messages"]] == [
        "#/channels/draw/messages/Ack",
        "#/channels/draw/messages/InvalidMessage",
    ]


def test_edge_cases_keep_the_document_valid() -> None:
    def make_model(extra: bool) -> type[BaseModel]:
        if extra:

            class Note(BaseModel):
                text: str
                pinned: bool

            return Note

        class Note(BaseModel):  # type: ignore[no-redef]
            text: str

        return Note

    first, second = make_model(False), make_model(True)  # two different models with one name

    class Other(BaseModel):
        count: int

    class InvalidMessage(BaseModel):  # an application model with lanner's reserved name
        why: str

    app = Lanner(
        servers=[{"url": "https://api.example.com/v1"}, {"url": "https://api.example.com/v2"}],
        license_info={"name": "MIT"},
    )

    @app.websocket("/a", receives=first, sends=InvalidMessage, on_invalid="reply")
    async def a(
        ws: WebSocket,
        loud: Annotated[bool, Query(deprecated=True, description="shout")] = True,
    ) -> None: ...

    @app.websocket("/b", receives=second, sends=Annotated[Other, {"unhashable": []}])
    async def b(ws: WebSocket) -> None: ...

    document = check(app.asyncapi())
    assert {"MIT"} == {document["info"]["license"]["name"]}
    assert len(document["servers"]) == 2
    assert len(document["components"]["messages"]) >= 4  # two Notes, Other, InvalidMessage...
    binding = document["channels"]["a"]["bindings"]["ws"]["query"]["properties"]["loud"]
    assert binding["deprecated"] is True and binding["description"] == "shout"
    assert any(name.startswith("InvalidMessage_") for name in document["components"]["schemas"])
