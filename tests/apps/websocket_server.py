"""A lanner app with WebSocket routes, served by a real uvicorn in tests/test_websockets_server.py."""

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import BaseModel

from lanner import Depends, Lanner, Query, WebSocket

app = Lanner(max_message_size=64 * 1024, idle_timeout=2.0)
cleanups: list[str] = []


class Move(BaseModel):
    x: int
    y: int


@app.get("/health")
async def health() -> dict[str, list[str]]:
    return {"cleanups": cleanups}


async def session_log(name: Annotated[str, Query()] = "anon") -> AsyncIterator[str]:
    try:
        yield name
    finally:
        cleanups.append(name)


@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    await ws.accept(subprotocol="echo.v1" if "echo.v1" in ws.subprotocols else None)
    async for text in ws.iter_text():
        await ws.send_text(text)


@app.websocket("/moves", receives=Move, sends=Move)
async def moves(ws: WebSocket, name: Annotated[str, Depends(session_log)]) -> None:
    await ws.accept()
    async for move in ws.iter_json(Move):
        await ws.send_json(Move(x=move.y, y=move.x))


@app.websocket("/private")
async def private(ws: WebSocket, token: Annotated[str, Query(min_length=3)]) -> None:
    await ws.accept()
    await ws.send_text(token)
