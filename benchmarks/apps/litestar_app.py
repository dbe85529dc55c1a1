"""The benchmark app written the way the Litestar documentation teaches, with default settings.

Litestar answers invalid input with 400 (not 422) by default; the timed requests are all valid.
"""

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any

from litestar import Litestar, MediaType, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from benchmarks.apps import (
    CPU_BODY,
    IO_BODY,
    IO_DELAY,
    PLAINTEXT_BODY,
    ROUTE_COUNT,
    Order,
    cpu_work,
    order_summary,
)


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return PLAINTEXT_BODY


@get("/json")
async def json_get() -> dict[str, Any]:
    return {"message": "hello"}


@get("/items/{item_id:int}")
async def item(
    item_id: FromPath[int],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
    q: FromQuery[str | None] = None,
) -> dict[str, Any]:
    return {"item_id": item_id, "limit": limit, "q": q}


@post("/orders", status_code=200)
async def order(data: JSONBody[Order]) -> dict[str, Any]:
    return order_summary(data)


@get("/io")
async def io() -> dict[str, Any]:
    await asyncio.sleep(IO_DELAY)
    return IO_BODY


@get("/cpu")
async def cpu() -> dict[str, Any]:
    cpu_work()
    return CPU_BODY


def _numbered_route(route: int) -> HTTPRouteHandler:
    async def handle(item_id: FromPath[int]) -> dict[str, Any]:
        return {"route": route, "item_id": item_id}

    handle.__name__ = handle.__qualname__ = f"route_{route}"
    return get(f"/r{route}/items/{{item_id:int}}", name=f"route_{route}")(handle)


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> Litestar:
    """Build the Litestar app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The Litestar application.
    """
    handlers: list[HTTPRouteHandler] = []
    if basic_routes:
        handlers += [plaintext, json_get, item, order, io, cpu]
    handlers += [_numbered_route(i) for i in route_ids]
    return Litestar(route_handlers=handlers)
