"""Shared pieces of the SSE fan-out apps: the broadcaster that ticks ten times a second.

One task per server publishes ``{"n": n, "t": time.time()}`` on the ``ticks`` channel of an
in-process `lanner.channels.Channels` every 100 ms, on a fixed schedule (a late tick is not
skipped, the next one simply comes sooner). Each connected stream is a subscriber with its own
bounded queue, as in a real app pushing one feed (prices, a chat room, notifications) to many
browsers. ``n`` is the event id: a client that sees ids jump has lost events. Both apps
(``sse_lanner.py``, ``sse_raw.py``) use this same broadcaster, so the difference between them is
what sending the events costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from lanner.channels import Channels

EVENTS_PATH = "/events"
"""The event stream's path."""

CHANNEL = "ticks"
"""The channel the broadcaster publishes on."""

TICK_SECONDS = 0.1
"""Seconds between two events: ten events a second to every client."""

MAX_QUEUE = 64
"""Events a slow client may have waiting (6.4 s) before its oldest is dropped."""


async def tick(channels: Channels, period: float = TICK_SECONDS) -> None:
    """Publish event ``n = 1, 2, ...`` every `period` seconds, for ever."""
    loop = asyncio.get_running_loop()
    start, n = loop.time(), 0
    while True:
        n += 1
        await channels.publish(CHANNEL, {"n": n, "t": time.time()})
        await asyncio.sleep(max(0.0, start + n * period - loop.time()))


@contextlib.asynccontextmanager
async def broadcasting(channels: Channels) -> AsyncIterator[None]:
    """Run the broadcaster while the block runs (the app's lifespan), then close the channels."""
    ticker = asyncio.create_task(tick(channels))
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await channels.aclose()


def new_channels() -> Channels:
    """The in-process channels of one app: bounded queues, the oldest event dropped when full."""
    return Channels("memory", max_queue=MAX_QUEUE, policy="drop_oldest")


def event_id(tick_message: dict[str, Any]) -> int:
    """The id of a tick event (its number)."""
    return int(tick_message["n"])
