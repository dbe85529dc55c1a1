"""The floor of the SSE fan-out: a hand-written ASGI event stream over the same broadcaster.

One task per connection takes the ticks out of its subscription and sends each as one body
message; the request's own coroutine waits for ``http.disconnect`` and then cancels it. No
framework, no per-event task, the event encoded with one f-string.
"""

import asyncio
import contextlib

import pydantic_core

from benchmarks.apps import ASGIApp, Receive, Scope, Send
from benchmarks.apps.sse_common import CHANNEL, EVENTS_PATH, broadcasting, event_id, new_channels
from lanner.channels import Channels

_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


async def _lifespan(channels: Channels, receive: Receive, send: Send) -> None:
    await receive()  # lifespan.startup
    async with broadcasting(channels):
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
    await send({"type": "lifespan.shutdown.complete"})


async def _pump(channels: Channels, send: Send) -> None:
    async with channels.subscribe(CHANNEL) as subscription:
        async for tick in subscription:
            data = pydantic_core.to_json(tick).decode()
            body = f"event: tick\nid: {event_id(tick)}\ndata: {data}\n\n".encode()
            await send({"type": "http.response.body", "body": body, "more_body": True})


async def _events(channels: Channels, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    pump = asyncio.create_task(_pump(channels, send))
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await pump


def create_app() -> ASGIApp:
    """Build the raw ASGI app: ``GET /events`` streams the ticks; anything else is a 404.

    Returns:
        An ASGI callable handling ``http`` and ``lifespan`` scopes.
    """
    channels = new_channels()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(channels, receive, send)
        elif kind == "http" and scope["path"] == EVENTS_PATH:
            await _events(channels, receive, send)
        elif kind == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            raise RuntimeError(f"unsupported scope type {kind!r}")

    return app
