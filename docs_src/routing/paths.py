from uuid import UUID

from lanner import Lanner

app = Lanner()


@app.get("/items/{item_id:int}")
async def item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/orders/{order_id:uuid}")
async def order(order_id: UUID) -> dict[str, str]:
    return {"order_id": str(order_id)}


@app.get("/files/{name}.{ext}")
async def file_by_type(name: str, ext: str) -> dict[str, str]:
    return {"name": name, "ext": ext}


@app.get("/files/latest")
async def latest_file() -> dict[str, str]:
    return {"name": "latest"}


@app.get("/files/{rest:path}")
async def any_file(rest: str) -> dict[str, str]:
    return {"path": rest}
