"""The ceiling: a hand-written ASGI WebSocket echo, with no framework at all.

``/echo`` sends every text message back; ``/json-untyped`` parses it with
``pydantic_core.from_json`` and answers with ``to_json``; ``/json`` validates it with
``ChatMessage.model_validate_json`` and answers with ``model_dump_json``, like the hand-written
framework apps. Anything else is refused (HTTP 403 for a WebSocket handshake).
"""

import pydantic_core

from benchmarks.apps import ASGIApp, Receive, Scope, Send
from benchmarks.apps.ws_common import ECHO_PATH, JSON_PATH, UNTYPED_PATH, ChatMessage


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _echo(receive: Receive, send: Send, path: str) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is None:
                await send({"type": "websocket.close", "code": 1003, "reason": ""})
                return
            if path == JSON_PATH:
                text = ChatMessage.model_validate_json(text).model_dump_json()
            elif path == UNTYPED_PATH:
                text = pydantic_core.to_json(pydantic_core.from_json(text)).decode()
            await send({"type": "websocket.send", "text": text})
        elif kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        else:  # websocket.disconnect
            return


def create_app() -> ASGIApp:
    """Build the raw ASGI app.

    Returns:
        An ASGI callable handling ``websocket`` and ``lifespan`` scopes.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket" and scope["path"] in (ECHO_PATH, UNTYPED_PATH, JSON_PATH):
            await _echo(receive, send, scope["path"])
        elif kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
        elif kind == "lifespan":
            await _lifespan(receive, send)
        else:
            raise RuntimeError(f"unsupported scope type {kind!r}")

    return app
