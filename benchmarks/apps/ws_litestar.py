"""The WebSocket echo app written the way the Litestar documentation teaches.

``/echo`` is a plain ``@websocket`` handler looping over the socket, like the other apps;
``/json-untyped`` a ``websocket_listener`` taking and returning a dict.
``/json`` is a typed ``websocket_listener`` with a ``PydanticDTO``: Litestar decodes each message
into a `ChatMessage`, validated, and encodes the model the handler returns. Without the DTO a
listener's pydantic annotation is not validated at all (Litestar 2.25 decodes the message to a
plain dict and passes it on, a wrong ``sent_at`` or ``author.id`` included), which would compare a
bare JSON echo with the others' validation.
"""

from typing import Any

from litestar import Litestar, WebSocket, websocket, websocket_listener
from litestar.plugins.pydantic import PydanticDTO

from benchmarks.apps.ws_common import ECHO_PATH, JSON_PATH, UNTYPED_PATH, ChatMessage


@websocket(ECHO_PATH)
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    async for text in socket.iter_data("text"):
        await socket.send_text(text)


@websocket_listener(UNTYPED_PATH)
async def untyped(data: dict[str, Any]) -> dict[str, Any]:
    return data


@websocket_listener(JSON_PATH, dto=PydanticDTO[ChatMessage])
async def typed(data: ChatMessage) -> ChatMessage:
    return data


def create_app() -> Litestar:
    """Build the Litestar app: ``/echo``, ``/json-untyped`` and ``/json`` (see `ws_common`).

    Returns:
        The Litestar application.
    """
    return Litestar(route_handlers=[echo, untyped, typed])
