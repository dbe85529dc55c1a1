"""A small inventory API, written for FastAPI.

docs/migrating-from-fastapi.md moves it to lanner in four steps; each step is a file beside this
one. step3_converted/legacy.py is this file after ``lanner migrate``.
"""

from contextlib import asynccontextmanager
from typing import Annotated

from pydantic import BaseModel

from lanner import Depends, Header, HTTPException, Lanner, Query, Router
from lanner.middleware import CORSMiddleware


class Item(BaseModel):
    name: str
    price: float


# A database would live here; a dict filled at startup keeps the example self-contained.
ITEMS: dict[int, Item] = {}


@asynccontextmanager
async def lifespan(app: Lanner):
    ITEMS[1] = Item(name="Pen", price=1.5)
    yield
    ITEMS.clear()


app = Lanner(title="Inventory", lifespan=lifespan, openapi_compat="fastapi")
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://shop.example"],
    allow_methods=["GET", "POST"],
    allow_headers=["X-API-Key"],
)
router = Router(prefix="/items", tags=["items"])


def check_key(x_api_key: Annotated[str, Header()]) -> None:
    if x_api_key != "secret":
        raise HTTPException(401, "Wrong API key")


@router.get("")
async def list_items(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[Item]:
    return list(ITEMS.values())[:limit]


@router.get("/{item_id}")
async def read_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(404, "Item not found")
    return ITEMS[item_id]


@router.post("", status_code=201, dependencies=[Depends(check_key)])
async def create_item(item: Item) -> dict[str, int]:
    item_id = max(ITEMS, default=0) + 1
    ITEMS[item_id] = item
    return {"id": item_id}


app.include_router(router)
