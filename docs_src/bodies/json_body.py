from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

from lanner import Body, Lanner

app = Lanner()


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


@dataclass
class Point:
    x: int
    y: int


@app.post("/items", status_code=201)
async def create_item(item: Item) -> Item:  # the whole body is one Item
    return item


@app.post("/points")
async def add_point(point: Point) -> dict[str, int]:  # dataclasses and TypedDicts work too
    return {"sum": point.x + point.y}


@app.put("/items/{item_id:int}")
async def replace_item(
    item_id: int,
    item: Item,
    note: Annotated[str, Body(max_length=100)],  # two body parameters: each under its name
) -> dict[str, object]:
    return {"item_id": item_id, "name": item.name, "note": note}


@app.post("/items/embedded")
async def create_embedded(item: Annotated[Item, Body(embed=True)]) -> Item:  # {"item": {...}}
    return item
