from typing import Annotated

from lanner import Lanner, Query

app = Lanner()


@app.get("/search")
async def search(
    q: str,  # required: a request without ?q= gets a 422
    page: int = 1,  # optional, converted and validated as an int
    tag: list[str] | None = None,  # ?tag=a&tag=b collects repeated keys
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    sort: str = Query("title", pattern="^(title|year)$"),  # the same, as a default
) -> dict[str, object]:
    return {"q": q, "page": page, "tag": tag, "limit": limit, "sort": sort}
