"""The benchmark app written against lanner's public API, mirroring the FastAPI app."""

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Annotated, Any

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
from lanner import Lanner, Query
from lanner.responses import PlainTextResponse

_RouteHandler = Callable[[int], Coroutine[Any, Any, dict[str, Any]]]


def _numbered_route(route: int) -> _RouteHandler:
    async def handle(item_id: int) -> dict[str, Any]:
        return {"route": route, "item_id": item_id}

    # Distinct names keep route names and operation ids unique.
    handle.__name__ = handle.__qualname__ = f"route_{route}"
    return handle


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> Lanner:
    """Build the lanner app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The lanner application.
    """
    app = Lanner()

    if basic_routes:

        @app.get("/json")
        async def json_get() -> dict[str, Any]:
            return {"message": "hello"}

        @app.get("/items/{item_id:int}")
        async def item(
            item_id: int,
            limit: Annotated[int, Query(ge=1, le=100)] = 10,
            q: str | None = None,
        ) -> dict[str, Any]:
            return {"item_id": item_id, "limit": limit, "q": q}

        @app.post("/orders")
        async def order(order: Order) -> dict[str, Any]:
            return order_summary(order)

        @app.get("/plaintext", response_class=PlainTextResponse)
        async def plaintext() -> str:
            return PLAINTEXT_BODY

        @app.get("/io")
        async def io() -> dict[str, Any]:
            await asyncio.sleep(IO_DELAY)
            return IO_BODY

        @app.get("/cpu")
        async def cpu() -> dict[str, Any]:
            cpu_work()
            return CPU_BODY

    for route in route_ids:
        app.get(f"/r{route}/items/{{item_id:int}}")(_numbered_route(route))
    return app
