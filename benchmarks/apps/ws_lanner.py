"""The WebSocket echo app written with lanner's WebSocket API, as its documentation teaches."""

from benchmarks.apps.ws_common import ECHO_PATH, JSON_PATH, UNTYPED_PATH, ChatMessage
from lanner import Lanner, WebSocket


def create_app() -> Lanner:
    """Build the lanner app: ``/echo``, ``/json-untyped`` and ``/json`` (see `ws_common`).

    Returns:
        The lanner application.
    """
    app = Lanner()

    @app.websocket(ECHO_PATH)
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(text)

    @app.websocket(UNTYPED_PATH)
    async def untyped(ws: WebSocket) -> None:
        await ws.accept()
        async for data in ws.iter_json():
            await ws.send_json(data)

    @app.websocket(JSON_PATH)
    async def typed(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws.iter_json(ChatMessage):
            await ws.send_json(message)

    return app
