"""Server-sent events: push a stream of events to the browser over one long HTTP response.

Return an `EventSourceResponse` around a generator; each item it yields becomes one event::

    import asyncio
    from typing import Annotated

    from lanner import Header, Lanner
    from lanner.sse import EventSourceResponse, ServerSentEvent

    app = Lanner()


    @app.get("/ticks", response_class=EventSourceResponse)
    async def ticks(last_event_id: Annotated[int | None, Header(ge=0)] = None) -> EventSourceResponse:
        start = 0 if last_event_id is None else last_event_id + 1

        async def events():
            for n in range(start, start + 10):
                yield ServerSentEvent({"n": n}, event="tick", id=n)
                await asyncio.sleep(1)

        return EventSourceResponse(events(), ping=15)

In the browser: ``new EventSource("/ticks").addEventListener("tick", e => JSON.parse(e.data))``.

- A browser that reconnects sends the id of the last event it saw as ``Last-Event-ID``: the
  handler reads it like any other header (``Annotated[str | None, Header()]`` takes it as it came).
- A ``: ping`` comment goes out after every `ping` seconds without an event.
- When the client leaves, the generator is closed at once, even while it awaits its next item, so
  its ``finally`` blocks release what it holds.
- Sync generators work too: they are pulled in the thread pool.
- ``response_class=EventSourceResponse`` documents ``text/event-stream`` in the OpenAPI document.
"""

from __future__ import annotations

from lanner.responses import EventSourceResponse, ServerSentEvent

__all__ = ["EventSourceResponse", "ServerSentEvent"]
