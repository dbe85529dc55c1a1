import asyncio

from lanner.channels import Channels


async def main() -> list[object]:
    received: list[object] = []
    async with Channels(
        "memory"
    ) as channels:  # this process; Channels("redis://localhost:6379/0") for all

        async def listen() -> None:  # in one task (a WebSocket handler, say)
            async with channels.subscribe("room:1") as sub:
                ready.set()
                async for message in sub:  # or: await sub.get(timeout=5)
                    received.append(message)
                    if len(received) == 2:
                        return

        ready = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(listen())
            await ready.wait()
            # In any other task (of any worker, with Redis):
            await channels.publish("room:1", {"user": "ada", "text": "hi"})
            await channels.publish("room:1", "plain text stays a str")
    return received


if __name__ == "__main__":
    print(asyncio.run(main()))
