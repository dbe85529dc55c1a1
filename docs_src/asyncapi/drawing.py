from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lanner import Lanner, Query, WebSocket

app = Lanner(title="Drawing board")


class Stroke(BaseModel):
    kind: Literal["line", "dot"]
    x: int = Field(ge=0, le=1000)
    y: int = Field(ge=0, le=1000)


class Ack(BaseModel):
    number: int
    by: str


@app.websocket("/rooms/{room:int}", receives=Stroke, sends=Ack, on_invalid="reply")
async def draw(ws: WebSocket, room: int, name: Annotated[str, Query(max_length=20)]) -> None:
    """Draw on a board: every valid stroke is acknowledged."""
    await ws.accept()
    strokes: list[Stroke] = []
    async for stroke in ws.iter_json(Stroke):
        strokes.append(stroke)
        await ws.send_json(Ack(number=len(strokes), by=name))
