"""The README's quickstart, verbatim."""

from typing import Annotated

from pydantic import BaseModel

from lanner import Lanner, Query

app = Lanner()


class Item(BaseModel):
    name: str
    price: float


@app.get("/items/{item_id:int}")
async def read_item(item_id: int, q: Annotated[str | None, Query(max_length=50)] = None):
    return {"item_id": item_id, "q": q}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@app.route("/hello", methods=["GET"])
def hello():  # plain def handlers run in a thread pool
    return {"message": "Hello, world"}
