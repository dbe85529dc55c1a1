"""Served by tests/test_shutdown.py under uvicorn: slow requests and the cleanups they leave behind.

Every cleanup appends a line to the file named by the ``LANNER_SHUTDOWN_LOG`` environment variable.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

from lanner import BackgroundTasks, Depends, Lanner

LOG = os.environ["LANNER_SHUTDOWN_LOG"]

app = Lanner()
arrived = 0


def record(line: str) -> None:
    with open(LOG, "a") as log:
        log.write(line + "\n")


def shared_resource() -> Iterator[str]:
    yield "shared"
    record("app cleanup")


async def request_resource(i: int) -> AsyncIterator[str]:
    yield f"mine {i}"
    record(f"request cleanup {i}")


@app.get("/")
async def index() -> str:
    return "up"


@app.get("/slow")
async def slow(
    i: int,
    shared: str = Depends(shared_resource, scope="app"),
    mine: str = Depends(request_resource),
) -> dict[str, object]:
    global arrived
    arrived += 1
    await asyncio.sleep(1)
    return {"i": i, "shared": shared, "mine": mine}


@app.get("/arrived")
async def arrivals() -> int:
    return arrived


async def explode_async() -> None:
    raise RuntimeError("async background boom")


def explode_sync() -> None:
    raise RuntimeError("sync background boom")


@app.post("/background/{kind}")
async def background(kind: str, tasks: BackgroundTasks) -> str:
    tasks.add_task(explode_async if kind == "async" else explode_sync)
    return f"queued {kind}"
