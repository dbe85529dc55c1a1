"""Step 2: move routes one at a time; a lanner route wins over the mount.

``GET /items/{item_id}`` now runs on lanner: the same handler, imported from lanner instead of
FastAPI. Listing and creating items still reach the FastAPI app.
"""

from contextlib import asynccontextmanager

from legacy import ITEMS, Item
from legacy import app as fastapi_app

from lanner import HTTPException, Lanner
from lanner.middleware import CORSMiddleware


@asynccontextmanager
async def lifespan(app: Lanner):
    async with fastapi_app.router.lifespan_context(fastapi_app):
        yield


app = Lanner(lifespan=lifespan, openapi_url=None)
# The FastAPI app's middleware covers only what reaches it: the moved routes need lanner's.
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://shop.example"],
    allow_methods=["GET", "POST"],
    allow_headers=["X-API-Key"],
)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(404, "Item not found")
    return ITEMS[item_id]


app.mount("/", fastapi_app)  # everything lanner does not serve yet
