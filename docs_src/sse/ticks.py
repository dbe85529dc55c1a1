import asyncio
from typing import Annotated

from lanner import Header, Lanner
from lanner.sse import EventSourceResponse, ServerSentEvent

app = Lanner()
GONE: list[int] = []  # who left, for the test


@app.get("/ticks", response_class=EventSourceResponse)
async def ticks(last_event_id: Annotated[int | None, Header(ge=0)] = None) -> EventSourceResponse:
    start = 0 if last_event_id is None else last_event_id + 1

    async def events():
        n = start
        try:
            while True:
                yield ServerSentEvent({"n": n}, event="tick", id=n)
                n += 1
                await asyncio.sleep(1)
        finally:
            GONE.append(n)  # runs as soon as the client disconnects

    return EventSourceResponse(events(), ping=15)
