"""Step 1: serve the FastAPI app from lanner, unchanged.

``app.mount("/", ...)`` makes it the fallback for every path lanner does not serve yet. A
mounted app's lifespan is not run by lanner, so lanner's lifespan runs it; and lanner serves
no OpenAPI document of its own for now, so ``/openapi.json`` and ``/docs`` stay FastAPI's.
"""

from contextlib import asynccontextmanager

from legacy import app as fastapi_app

from lanner import Lanner


@asynccontextmanager
async def lifespan(app: Lanner):
    async with fastapi_app.router.lifespan_context(fastapi_app):
        yield


app = Lanner(lifespan=lifespan, openapi_url=None)
app.mount("/", fastapi_app)
