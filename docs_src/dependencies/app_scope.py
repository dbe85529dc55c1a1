from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from lanner import Depends, Lanner, Request


class Pool:
    """Stands for a database pool or a loaded model: costly to open, shared by every request."""

    def __init__(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.open = False


async def get_pool() -> AsyncIterator[Pool]:
    pool = Pool()  # once, at startup
    yield pool
    await pool.close()  # once, at shutdown


@asynccontextmanager
async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
    yield {"started": "yes"}  # a dict yielded here is on every request.state


app = Lanner(lifespan=lifespan)


@app.get("/status")
async def status(
    request: Request, pool: Annotated[Pool, Depends(get_pool, scope="app")]
) -> dict[str, object]:
    return {"pool_open": pool.open, "started": request.state.started}
