"""The benchmark app written the way the BlackSheep documentation teaches, with default settings.

BlackSheep binds ``FromJSON[Order]`` through pydantic and answers invalid input with 400; the
bound check of ``limit`` is written by hand (422), as BlackSheep has no constraint markers.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from blacksheep import Application, FromJSON, Response, json, text

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

_Handler = Callable[[int], Awaitable[Response]]


async def _plaintext() -> Response:
    return text(PLAINTEXT_BODY)


async def _json() -> Response:
    return json({"message": "hello"})


async def _item(item_id: int, limit: int = 10, q: str | None = None) -> Response:
    if not 1 <= limit <= 100:
        return json({"detail": "limit must be within 1..100"}, status=422)
    return json({"item_id": item_id, "limit": limit, "q": q})


async def _order(data: FromJSON[Order]) -> Response:
    return json(order_summary(data.value))


async def _io() -> Response:
    await asyncio.sleep(IO_DELAY)
    return json(IO_BODY)


async def _cpu() -> Response:
    cpu_work()
    return json(CPU_BODY)


def _numbered_route(route: int) -> _Handler:
    async def handle(item_id: int) -> Response:
        return json({"route": route, "item_id": item_id})

    return handle


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> Application:
    """Build the BlackSheep app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The BlackSheep application (it starts itself on the ASGI lifespan startup).
    """
    app = Application()
    router = app.router
    if basic_routes:
        router.add_get("/plaintext", _plaintext)
        router.add_get("/json", _json)
        router.add_get("/items/{int:item_id}", _item)
        router.add_post("/orders", _order)
        router.add_get("/io", _io)
        router.add_get("/cpu", _cpu)
    for route in route_ids:
        router.add_get(f"/r{route}/items/{{int:item_id}}", _numbered_route(route))
    return app
