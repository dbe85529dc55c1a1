"""Served by tests/test_metrics_workers.py under uvicorn with two workers and PROMETHEUS_MULTIPROC_DIR set."""

import os

from lanner import Lanner

app = Lanner(metrics_url="/metrics")


@app.get("/items/{id}")
async def read_item(id: int) -> dict[str, int]:
    return {"id": id, "pid": os.getpid()}
