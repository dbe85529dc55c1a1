"""Lanner apps for tests/test_wsgi_servers.py, one per direction of the WSGI bridge.

``app`` is served by gunicorn sync workers through `to_wsgi` (``application``). Its startup and
shutdown append ``startup <pid>`` / ``shutdown <pid>`` lines to the file named by the
``LANNER_WSGI_MARKERS`` environment variable, when set; with ``LANNER_WSGI_FAIL_STARTUP`` set, the
startup fails.

``host`` is served by uvicorn, with the Flask app of tests/apps/flask_legacy.py mounted at
``/legacy`` through `WSGIMount`.
"""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from lanner import Lanner, Request, WebSocket
from lanner.responses import StreamingResponse
from lanner.wsgi import WSGIMount, to_wsgi
from tests.apps.flask_legacy import app as flask_app

STARTED: list[int] = []


def mark(event: str) -> None:
    path = os.environ.get("LANNER_WSGI_MARKERS")
    if path:
        with open(path, "a") as markers:
            markers.write(f"{event} {os.getpid()}\n")


def on_startup() -> None:
    STARTED.append(os.getpid())
    mark("startup")
    if os.environ.get("LANNER_WSGI_FAIL_STARTUP"):
        raise ConnectionError("the database refused the test's connection")


def on_shutdown() -> None:
    mark("shutdown")


@asynccontextmanager
async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
    yield {"greeting": "hello from the lifespan"}


app = Lanner(lifespan=lifespan, on_startup=[on_startup], on_shutdown=[on_shutdown])


@app.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "startups": len(STARTED), "greeting": request.state.greeting}


@app.get("/items/{item_id:int}")
def item(item_id: int, q: str = "") -> dict[str, Any]:
    return {"id": item_id, "q": q}


@app.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.get("/stream")
async def stream(n: int = 3, delay: float = 0.0) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield f"part {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/sync-stream")
def sync_stream() -> StreamingResponse:
    def chunks() -> Iterator[str]:
        yield from ("a", "b", "c")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


#: What a WSGI server imports: ``gunicorn tests.apps.wsgi_lanner:application``.
application = to_wsgi(app)


host = Lanner()


@host.get("/")
async def host_index() -> dict[str, str]:
    return {"app": "lanner"}


@host.get("/legacy/hello")
async def moved_hello() -> str:
    # Moved out of the Flask app: lanner's route wins over the mount.
    return "hello from lanner"


if hasattr(host, "mount_wsgi"):
    host.mount_wsgi("/legacy", flask_app, threads=4)
else:  # until the app grows mount_wsgi
    host.mount("/legacy", WSGIMount(flask_app, threads=4))
