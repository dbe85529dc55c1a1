from typing import Annotated

from pydantic import BaseModel

from lanner import Lanner, Query, WebSocket, WebSocketException

app = Lanner()


class Stroke(BaseModel):
    x: int
    y: int


@app.websocket("/rooms/{room:int}", receives=Stroke, sends=Stroke)
async def draw(ws: WebSocket, room: int, name: Annotated[str, Query(max_length=20)]) -> None:
    await ws.accept()
    if room > 100:
        raise WebSocketException(4004, f"no room {room}")  # closes with that code and reason
    async for stroke in ws.iter_json(Stroke):  # each message parsed and validated in one pass
        await ws.send_json(stroke)
