"""The benchmark app written with Starlette's routing and responses, as its documentation teaches.

Starlette has no parameter validation: the handlers parse and bound-check by hand (422 on bad
input), and the order is validated with ``Order.model_validate_json`` like everywhere else.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

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

_Endpoint = Callable[[Request], Awaitable[Response]]


async def _plaintext(request: Request) -> Response:
    return PlainTextResponse(PLAINTEXT_BODY)


async def _json(request: Request) -> Response:
    return JSONResponse({"message": "hello"})


async def _item(request: Request) -> Response:
    item_id: int = request.path_params["item_id"]
    try:
        limit = int(request.query_params.get("limit", "10"))
    except ValueError:
        return JSONResponse({"detail": "limit must be an integer"}, status_code=422)
    if not 1 <= limit <= 100:
        return JSONResponse({"detail": "limit must be within 1..100"}, status_code=422)
    return JSONResponse({"item_id": item_id, "limit": limit, "q": request.query_params.get("q")})


async def _order(request: Request) -> Response:
    try:
        order = Order.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return JSONResponse({"detail": [dict(e) for e in errors]}, status_code=422)
    return JSONResponse(order_summary(order))


async def _io(request: Request) -> Response:
    await asyncio.sleep(IO_DELAY)
    return JSONResponse(IO_BODY)


async def _cpu(request: Request) -> Response:
    cpu_work()
    return JSONResponse(CPU_BODY)


def _numbered_route(route: int) -> _Endpoint:
    async def handle(request: Request) -> Response:
        body: dict[str, Any] = {"route": route, "item_id": request.path_params["item_id"]}
        return JSONResponse(body)

    return handle


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> Starlette:
    """Build the Starlette app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The Starlette application.
    """
    routes: list[Route] = []
    if basic_routes:
        routes += [
            Route("/plaintext", _plaintext),
            Route("/json", _json),
            Route("/items/{item_id:int}", _item),
            Route("/orders", _order, methods=["POST"]),
            Route("/io", _io),
            Route("/cpu", _cpu),
        ]
    routes += [Route(f"/r{i}/items/{{item_id:int}}", _numbered_route(i)) for i in route_ids]
    return Starlette(routes=routes)
