"""The WebSocket echo app written the way the BlackSheep documentation teaches.

BlackSheep raises ``WebSocketDisconnectError`` from a receive once the client has left. It has no
typed messages: ``/json`` validates with ``ChatMessage.model_validate_json`` by hand.
"""

from blacksheep import Application, WebSocket, WebSocketDisconnectError

from benchmarks.apps.ws_common import ECHO_PATH, JSON_PATH, UNTYPED_PATH, ChatMessage


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnectError:
        pass


async def _untyped(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_json(await websocket.receive_json())
    except WebSocketDisconnectError:
        pass


async def _typed(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = ChatMessage.model_validate_json(await websocket.receive_text())
            await websocket.send_text(message.model_dump_json())
    except WebSocketDisconnectError:
        pass


def create_app() -> Application:
    """Build the BlackSheep app: ``/echo``, ``/json-untyped`` and ``/json`` (see `ws_common`).

    Returns:
        The BlackSheep application (it starts itself on the ASGI lifespan startup).
    """
    app = Application()
    app.router.add_ws(ECHO_PATH, _echo)
    app.router.add_ws(UNTYPED_PATH, _untyped)
    app.router.add_ws(JSON_PATH, _typed)
    return app
