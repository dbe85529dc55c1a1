"""Served by tests/test_ratelimit_redis.py under uvicorn with four workers sharing one Redis.

``/limited`` allows 100 requests an hour per client, counted in the Redis at ``REDIS_URL``. The
limit is given no scope: its default one must be the same in every worker.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lanner import Depends, Lanner, Request
from lanner.middleware.functions import CallNext
from lanner.ratelimit import RateLimit, RedisStore
from lanner.responses import Response

store = RedisStore(os.environ["REDIS_URL"])


@asynccontextmanager
async def lifespan(app: Lanner) -> AsyncIterator[None]:
    yield
    await store.aclose()


app = Lanner(lifespan=lifespan)


@app.middleware("http")
async def name_the_worker(request: Request, call_next: CallNext) -> Response:
    """Every answer, 429s included, says which worker process gave it."""
    response = await call_next(request)
    response.headers["X-Worker-PID"] = str(os.getpid())
    return response


@app.get("/")
async def index() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.get("/limited", dependencies=[Depends(RateLimit("100/hour", store=store))])
async def limited() -> dict[str, int]:
    return {"pid": os.getpid()}
