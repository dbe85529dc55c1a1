from typing import Annotated

from lanner import Lanner, Query

app = Lanner()


@app.get("/items")
async def items(
    item_filter: Annotated[
        str | None, Query(alias="filter", description="Part of the name")
    ] = None,
    old: Annotated[bool, Query(deprecated=True)] = False,
) -> dict[str, object]:
    return {"filter": item_filter, "old": old}
