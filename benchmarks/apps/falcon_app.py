"""The benchmark app written the way the Falcon documentation teaches: ASGI resources, defaults.

Falcon answers a bad ``limit`` with its own 400 (``get_param_as_int`` bounds); an invalid order
gets 422 from the resource.
"""

import asyncio
from collections.abc import Iterable

import falcon
from falcon.asgi import App, Request, Response
from pydantic import ValidationError

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


class _Plaintext:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = PLAINTEXT_BODY


class _Json:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.media = {"message": "hello"}


class _Item:
    async def on_get(self, req: Request, resp: Response, item_id: int) -> None:
        limit = req.get_param_as_int("limit", min_value=1, max_value=100, default=10)
        resp.media = {"item_id": item_id, "limit": limit, "q": req.get_param("q")}


class _Orders:
    async def on_post(self, req: Request, resp: Response) -> None:
        try:
            order = Order.model_validate_json(await req.stream.read())
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            resp.status = 422
            resp.media = {"detail": [dict(e) for e in errors]}
            return
        resp.media = order_summary(order)


class _Io:
    async def on_get(self, req: Request, resp: Response) -> None:
        await asyncio.sleep(IO_DELAY)
        resp.media = IO_BODY


class _Cpu:
    async def on_get(self, req: Request, resp: Response) -> None:
        cpu_work()
        resp.media = CPU_BODY


class _Numbered:
    def __init__(self, route: int) -> None:
        self.route = route

    async def on_get(self, req: Request, resp: Response, item_id: int) -> None:
        resp.media = {"route": self.route, "item_id": item_id}


def create_app(
    route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True
) -> App[Request, Response]:
    """Build the Falcon ASGI app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The Falcon application.
    """
    app = App()
    if basic_routes:
        app.add_route("/plaintext", _Plaintext())
        app.add_route("/json", _Json())
        app.add_route("/items/{item_id:int}", _Item())
        app.add_route("/orders", _Orders())
        app.add_route("/io", _Io())
        app.add_route("/cpu", _Cpu())
    for route in route_ids:
        app.add_route(f"/r{route}/items/{{item_id:int}}", _Numbered(route))
    return app
