"""Micro-batching: concurrent requests share one call of a batch function (docs/batching.md).

Run it with ``lanner run examples/batching.py`` and POST ``{"value": 21}`` to
http://127.0.0.1:8000/double; ``GET /batching/stats`` shows how requests were grouped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lanner import Lanner
from lanner.batching import batched

app = Lanner(title="Batching example")


@batched(max_batch_size=32, max_wait_ms=5)
async def double(values: list[int]) -> list[int]:
    """Stands in for a model: one call for many inputs is what makes batching pay off."""
    return [value * 2 for value in values]


class Number(BaseModel):
    """A request or response body: one integer."""

    value: int


@app.post("/double")
async def double_one(number: Number) -> Number:
    """Double one number; concurrent requests are doubled together."""
    return Number(value=await double(number.value))


@app.get("/batching/stats")
async def batching_stats() -> dict[str, Any]:
    """Batch sizes and queue waits of the `double` batcher."""
    return double.stats.snapshot()
