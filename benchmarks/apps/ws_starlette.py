"""The WebSocket echo app written with Starlette's WebSocket routes, as its documentation teaches.

Starlette has no typed messages: ``/json`` validates with ``ChatMessage.model_validate_json`` and
answers with ``model_dump_json``, by hand.
"""

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from benchmarks.apps.ws_common import ECHO_PATH, JSON_PATH, UNTYPED_PATH, ChatMessage


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


async def _untyped(websocket: WebSocket) -> None:
    await websocket.accept()
    async for data in websocket.iter_json():
        await websocket.send_json(data)


async def _typed(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        message = ChatMessage.model_validate_json(text)
        await websocket.send_text(message.model_dump_json())


def create_app() -> Starlette:
    """Build the Starlette app: ``/echo``, ``/json-untyped`` and ``/json`` (see `ws_common`).

    Returns:
        The Starlette application.
    """
    routes = [
        WebSocketRoute(ECHO_PATH, _echo),
        WebSocketRoute(UNTYPED_PATH, _untyped),
        WebSocketRoute(JSON_PATH, _typed),
    ]
    return Starlette(routes=routes)
