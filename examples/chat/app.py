"""The chat app: ``/ws/{room}?name=ada`` joins a room; ``/`` serves a page to try it.

Each connection subscribes to the channel ``room:{room}`` before accepting the socket (so nothing
published after the handshake is missed), then runs two tasks until either ends: one reads the
socket and publishes what the member says, the other sends the room's messages to the socket. The
channels backend comes from ``CHAT_CHANNELS`` (``memory`` by default; a ``redis://`` URL to share
rooms between worker processes).
"""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Annotated, Literal

from pydantic import BaseModel

from lanner import Depends, Lanner, Path, Query, WebSocket, WebSocketDisconnect
from lanner.channels import Channels, ChannelsConnectionError, SlowSubscriberError, Subscription
from lanner.responses import HTMLResponse

PAGE = (FilePath(__file__).parent / "index.html").read_text(encoding="utf-8")

# Lurkers are welcome: uvicorn's WebSocket pings (every 20 s) notice clients that vanished.
app = Lanner(title="Chat", max_message_size=4096, idle_timeout=None)


class ChatEvent(BaseModel):
    """What every member of a room receives: a message, or someone joining or leaving."""

    kind: Literal["message", "joined", "left"]
    user: str
    text: str = ""


async def get_channels() -> AsyncIterator[Channels]:
    """One Channels per worker, opened at startup and closed at shutdown."""
    backend = os.environ.get("CHAT_CHANNELS", "memory")
    # A member 100 messages behind is disconnected rather than silently missing some.
    async with Channels(backend, max_queue=100, policy="disconnect") as channels:
        yield channels


AppChannels = Annotated[Channels, Depends(get_channels, scope="app")]
RoomName = Annotated[str, Path(pattern=r"^[\w-]{1,40}$")]
UserName = Annotated[str, Query(min_length=1, max_length=40)]


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home() -> str:
    return PAGE


@app.websocket("/ws/{room}", receives=str, sends=ChatEvent)
async def chat(ws: WebSocket, room: RoomName, channels: AppChannels, name: UserName = "anonymous") -> None:
    channel = f"room:{room}"
    async with channels.subscribe(channel) as subscription:
        await ws.accept()
        await channels.publish(channel, ChatEvent(kind="joined", user=name))
        try:
            async with asyncio.TaskGroup() as tasks:
                reading = tasks.create_task(read(ws, channels, channel, name))
                relaying = tasks.create_task(relay(subscription, ws))
                # Whichever side ends first (the member left, or the room dropped them) ends both.
                reading.add_done_callback(lambda _: relaying.cancel())
                relaying.add_done_callback(lambda _: reading.cancel())
        finally:
            await channels.publish(channel, ChatEvent(kind="left", user=name))


async def read(ws: WebSocket, channels: Channels, channel: str, name: str) -> None:
    """Publish every text message of the member, until they leave."""
    async for text in ws.iter_text():
        await channels.publish(channel, ChatEvent(kind="message", user=name, text=text))


async def relay(subscription: Subscription, ws: WebSocket) -> None:
    """Send the room's messages to the member, until the subscription or the socket ends."""
    try:
        async for event in subscription:
            await ws.send_json(event)
    except SlowSubscriberError:
        await ws.close(1008, "too slow: you fell behind the room")
        return
    except ChannelsConnectionError:
        await ws.close(1011, "the chat backend is unavailable, try again")
        return
    except WebSocketDisconnect:
        return
    await ws.close(1001, "the server is shutting down")
