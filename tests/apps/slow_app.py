"""Served by tests/test_cli_servers.py through `lanner run`: slow requests, and who the client is.

Markers go to the folder named by ``LANNER_MARKERS``, one file per worker process:
``started-PID`` when the worker's app-scoped dependency is created (at its startup),
``cleanup-PID`` with one line each time it is cleaned up (at its shutdown), ``requests-PID`` with a
line per request-scoped cleanup, and ``arrived-I`` when slow request I reaches its handler.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from lanner import Depends, Lanner, Request

MARKERS = Path(os.environ["LANNER_MARKERS"])

app = Lanner()


def append(name: str, line: str) -> None:
    with open(MARKERS / f"{name}-{os.getpid()}", "a") as marker:
        marker.write(line + "\n")


def worker_resource() -> Iterator[str]:
    append("started", "created")
    yield f"worker {os.getpid()}"
    append("cleanup", "cleaned up")


async def request_resource(i: int) -> AsyncIterator[int]:
    yield i
    append("requests", f"request {i}")


@app.get("/")
async def index() -> str:
    return "up"


@app.get("/slow")
async def slow(
    i: int,
    worker: str = Depends(worker_resource, scope="app"),
    mine: int = Depends(request_resource),
) -> dict[str, object]:
    (MARKERS / f"arrived-{i}").touch()
    await asyncio.sleep(1.5)
    return {"i": mine, "worker": worker}


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, object]:
    client = request.client
    return {
        "client": client.host if client else None,
        "scheme": request.url.scheme,
        "root_path": request.scope.get("root_path", ""),
        "url": str(request.url_for("whoami")),
        "pid": os.getpid(),
    }
