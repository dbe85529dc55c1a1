from contextlib import asynccontextmanager

from lanner import Lanner


@asynccontextmanager
async def lifespan(app):
    raise RuntimeError("database unreachable")
    yield


app = Lanner(lifespan=lifespan)
