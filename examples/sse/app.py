"""A clock streamed to the browser over server-sent events, resuming where a reconnect left off.

Run it from the repository's root::

    lanner run examples.sse.app

then open http://127.0.0.1:8000/, or watch the raw stream with ``curl -N localhost:8000/clock``.
Each tick is an event named ``tick`` whose id is its number: a browser that reconnects sends the
last id it saw as ``Last-Event-ID``, and the stream carries on from the next tick. ``/streams``
counts the clocks open now and those that ended: a client that goes away ends its stream at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from lanner import Header, Lanner, Query
from lanner.responses import HTMLResponse
from lanner.sse import EventSourceResponse, ServerSentEvent

app = Lanner()
streams = {"open": 0, "closed": 0}

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>lanner clock</title>
<h1>Clock</h1>
<p id="now">waiting for the first tick...</p>
<script>
  const now = document.getElementById("now");
  new EventSource("/clock").addEventListener("tick", (event) => {
    const tick = JSON.parse(event.data);
    now.textContent = `${tick.time} (tick ${tick.n})`;
  });
</script>
"""


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


async def ticks(start: int, interval: float, count: int | None) -> AsyncIterator[ServerSentEvent]:
    streams["open"] += 1
    try:
        numbers = itertools.count(start) if count is None else range(start, start + count)
        for n in numbers:
            if n != start:
                await asyncio.sleep(interval)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            yield ServerSentEvent({"n": n, "time": now}, event="tick", id=n)
    finally:
        # Runs as soon as the client leaves, even in the middle of the sleep.
        streams["open"] -= 1
        streams["closed"] += 1


# The response class puts text/event-stream in the OpenAPI document.
@app.get("/clock", response_class=EventSourceResponse)
async def clock(
    last_event_id: Annotated[int | None, Header(ge=0, le=2**53)] = None,
    interval: Annotated[float, Query(gt=0, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
) -> EventSourceResponse:
    start = 0 if last_event_id is None else last_event_id + 1
    return EventSourceResponse(ticks(start, interval, count), ping=15)


@app.get("/streams")
async def open_streams() -> dict[str, int]:
    return dict(streams)
