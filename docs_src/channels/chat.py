import asyncio
import os
from typing import Annotated

from lanner import Depends, Lanner, WebSocket
from lanner.channels import Channels, SlowSubscriberError

app = Lanner(idle_timeout=None)


async def get_channels():
    backend = os.environ.get("CHAT_CHANNELS", "memory")
    async with Channels(backend, max_queue=100, policy="disconnect") as channels:
        yield channels


@app.websocket("/ws/{room}")
async def chat(
    ws: WebSocket, room: str, channels: Annotated[Channels, Depends(get_channels, scope="app")]
):
    async with channels.subscribe(f"room:{room}") as sub:
        await ws.accept()

        async def read():  # the member speaks
            async for text in ws.iter_text():  # ends when the client leaves
                await channels.publish(f"room:{room}", {"text": text})

        async def relay():  # the room speaks
            try:
                async for message in sub:
                    await ws.send_json(message)
            except SlowSubscriberError:
                await ws.close(1008, "too slow")

        async with asyncio.TaskGroup() as tasks:
            reading, relaying = tasks.create_task(read()), tasks.create_task(relay())
            reading.add_done_callback(lambda _: relaying.cancel())
            relaying.add_done_callback(lambda _: reading.cancel())
