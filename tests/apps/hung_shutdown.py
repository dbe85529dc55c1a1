"""Served by tests/test_shutdown.py under uvicorn: a sync shutdown hook that never returns."""

import threading

from lanner import Lanner


def hang() -> None:
    threading.Event().wait()  # blocks for good, like a client stuck on a dead socket


app = Lanner(on_shutdown=[hang], shutdown_timeout=0.5)


@app.get("/")
async def index() -> str:
    return "up"
