"""The SSE fan-out app written with lanner: an `EventSourceResponse` over a channel subscription."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from benchmarks.apps.sse_common import CHANNEL, EVENTS_PATH, broadcasting, event_id, new_channels
from lanner import Lanner
from lanner.sse import EventSourceResponse, ServerSentEvent


def create_app() -> Lanner:
    """Build the lanner app: ``GET /events`` streams every tick as a ``tick`` event with its id.

    Returns:
        The lanner application; its lifespan runs the broadcaster.
    """
    channels = new_channels()

    def lifespan(app: Any) -> AbstractAsyncContextManager[None]:
        return broadcasting(channels)

    app = Lanner(lifespan=lifespan)

    @app.get(EVENTS_PATH)
    async def events() -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            async with channels.subscribe(CHANNEL) as subscription:
                async for tick in subscription:
                    yield ServerSentEvent(tick, event="tick", id=event_id(tick))

        return EventSourceResponse(stream(), ping=15)

    return app
