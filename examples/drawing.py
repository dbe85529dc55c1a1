"""A typed WebSocket API: run with `lanner dev examples/drawing.py`, then open ws://127.0.0.1:8000/rooms/1?name=ada."""

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lanner import Depends, Lanner, Query, WebSocket, WebSocketException

app = Lanner(title="Drawing board", idle_timeout=120)
boards: dict[int, list["Stroke"]] = {}


class Stroke(BaseModel):
    """What a client sends: one stroke on the board."""

    kind: Literal["line", "dot"]
    x: int = Field(ge=0, le=1000)
    y: int = Field(ge=0, le=1000)


class Ack(BaseModel):
    """What the server answers: the stroke's number on the board."""

    number: int
    by: str


async def board(room: int) -> AsyncIterator[list[Stroke]]:
    """The room's strokes; a yield dependency, cleaned up when the socket closes."""
    strokes = boards.setdefault(room, [])
    try:
        yield strokes
    finally:
        if not strokes:
            boards.pop(room, None)


@app.websocket("/rooms/{room:int}", receives=Stroke, sends=Ack, on_invalid="reply")
async def draw(
    ws: WebSocket,
    room: int,
    name: Annotated[str, Query(min_length=1, max_length=20)],
    strokes: Annotated[list[Stroke], Depends(board)],
) -> None:
    """Draw on a board: every valid stroke is acknowledged; an invalid one gets an error message."""
    await ws.accept()
    if room > 100:  # after accept: the client sees the code (before it, a refused handshake)
        raise WebSocketException(4004, f"no room {room}")
    async for stroke in ws.iter_json(Stroke):
        strokes.append(stroke)
        await ws.send_json(Ack(number=len(strokes), by=name))
