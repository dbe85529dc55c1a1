from typing import Annotated

from lanner import Lanner, Query

app = Lanner()


@app.get("/books")
async def list_books(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[str]:
    return ["Dune", "Emma"][:limit]
