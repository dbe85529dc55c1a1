"""The benchmark app written the way the Flask documentation teaches: a WSGI app, sync views.

It is served by gunicorn (``python -m benchmarks`` runs it with sync and gthread workers). The
I/O-bound view sleeps in its worker thread, as a Flask view waiting on a database would.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
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

_View = Callable[[int], dict[str, Any]]
_Answer = dict[str, Any] | tuple[dict[str, Any], int]


def _plaintext() -> tuple[str, int, dict[str, str]]:
    return PLAINTEXT_BODY, 200, {"Content-Type": "text/plain; charset=utf-8"}


def _json() -> dict[str, Any]:
    return {"message": "hello"}


def _item(item_id: int) -> _Answer:
    try:
        limit = int(request.args.get("limit", "10"))
    except ValueError:
        return {"detail": "limit must be an integer"}, 422
    if not 1 <= limit <= 100:
        return {"detail": "limit must be within 1..100"}, 422
    return {"item_id": item_id, "limit": limit, "q": request.args.get("q")}


def _order() -> _Answer:
    try:
        order = Order.model_validate_json(request.get_data())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return {"detail": [dict(e) for e in errors]}, 422
    return order_summary(order)


def _io() -> dict[str, Any]:
    time.sleep(IO_DELAY)
    return IO_BODY


def _cpu() -> dict[str, Any]:
    cpu_work()
    return CPU_BODY


def _numbered_route(route: int) -> _View:
    def view(item_id: int) -> dict[str, Any]:
        return {"route": route, "item_id": item_id}

    return view


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> Flask:
    """Build the Flask app (WSGI).

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        The Flask application.
    """
    app = Flask(__name__)
    if basic_routes:
        app.add_url_rule("/plaintext", view_func=_plaintext)
        app.add_url_rule("/json", view_func=_json)
        app.add_url_rule("/items/<int:item_id>", view_func=_item)
        app.add_url_rule("/orders", view_func=_order, methods=["POST"])
        app.add_url_rule("/io", view_func=_io)
        app.add_url_rule("/cpu", view_func=_cpu)
    for route in route_ids:
        app.add_url_rule(f"/r{route}/items/<int:item_id>", f"route_{route}", _numbered_route(route))
    return app
