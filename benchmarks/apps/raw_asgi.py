"""The baseline: a hand-written ASGI callable doing the same work as the framework apps.

It routes with one dict lookup on the first path segment, parses and bounds-checks parameters by
hand (422 on bad input) and validates the order with ``Order.model_validate_json`` like the
frameworks do, so the gap to it is what a framework costs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from benchmarks.apps import (
    CPU_BODY,
    IO_BODY,
    IO_DELAY,
    PLAINTEXT_BODY,
    ROUTE_COUNT,
    ASGIApp,
    Order,
    Receive,
    Scope,
    Send,
    cpu_work,
    order_summary,
)

_Handler = Callable[[list[str], Scope, Receive, Send], Awaitable[None]]

_JSON_HEADER = (b"content-type", b"application/json")
_PLAINTEXT = PLAINTEXT_BODY.encode()
_PLAINTEXT_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_PLAINTEXT)).encode("ascii")),
]


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON_HEADER, (b"content-length", str(len(body)).encode("ascii"))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    """Return the whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_int(value: str, name: str, low: int | None = None, high: int | None = None) -> int:
    """Parse ``value`` as an int within ``[low, high]``; ValueError names the parameter."""
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if low is not None and number < low:
        raise ValueError(f"{name} must be >= {low}")
    if high is not None and number > high:
        raise ValueError(f"{name} must be <= {high}")
    return number


def _error_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without input or context, which may not be JSON serialisable."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return [dict(error) for error in errors]


async def _not_found(send: Send) -> None:
    await _send_json(send, 404, {"detail": "Not Found"})


async def _method_not_allowed(send: Send) -> None:
    await _send_json(send, 405, {"detail": "Method Not Allowed"})


async def _json_hello(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 1:
        return await _not_found(send)
    if scope["method"] != "GET":
        return await _method_not_allowed(send)
    await _send_json(send, 200, {"message": "hello"})


async def _plaintext(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 1:
        return await _not_found(send)
    if scope["method"] != "GET":
        return await _method_not_allowed(send)
    await send({"type": "http.response.start", "status": 200, "headers": _PLAINTEXT_HEADERS})
    await send({"type": "http.response.body", "body": _PLAINTEXT})


async def _io(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 1:
        return await _not_found(send)
    if scope["method"] != "GET":
        return await _method_not_allowed(send)
    await asyncio.sleep(IO_DELAY)
    await _send_json(send, 200, IO_BODY)


async def _cpu(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 1:
        return await _not_found(send)
    if scope["method"] != "GET":
        return await _method_not_allowed(send)
    cpu_work()
    await _send_json(send, 200, CPU_BODY)


async def _item(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 2:
        return await _not_found(send)
    if scope["method"] != "GET":
        return await _method_not_allowed(send)
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    try:
        item_id = _parse_int(segments[1], "item_id")
        limit = _parse_int(query.get("limit", "10"), "limit", 1, 100)
    except ValueError as exc:
        return await _send_json(send, 422, {"detail": str(exc)})
    await _send_json(send, 200, {"item_id": item_id, "limit": limit, "q": query.get("q")})


async def _order(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
    if len(segments) != 1:
        return await _not_found(send)
    if scope["method"] != "POST":
        return await _method_not_allowed(send)
    body = await _read_body(receive)
    if body is None:
        return
    try:
        order = Order.model_validate_json(body)
    except ValidationError as exc:
        return await _send_json(send, 422, {"detail": _error_details(exc)})
    await _send_json(send, 200, order_summary(order))


def _numbered_route(route: int) -> _Handler:
    async def handle(segments: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        if len(segments) != 3 or segments[1] != "items":
            return await _not_found(send)
        if scope["method"] != "GET":
            return await _method_not_allowed(send)
        try:
            item_id = _parse_int(segments[2], "item_id")
        except ValueError as exc:
            return await _send_json(send, 422, {"detail": str(exc)})
        await _send_json(send, 200, {"route": route, "item_id": item_id})

    return handle


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(route_ids: Iterable[int] = range(ROUTE_COUNT), *, basic_routes: bool = True) -> ASGIApp:
    """Build the raw ASGI app.

    Args:
        route_ids: Numbers ``i`` of the routes ``/r{i}/items/{item_id}`` to serve.
        basic_routes: Whether to serve ``/json``, ``/items/{item_id}``, ``/orders``,
            ``/plaintext``, ``/io`` and ``/cpu``.

    Returns:
        An ASGI callable handling ``http`` and ``lifespan`` scopes.
    """
    handlers: dict[str, _Handler] = {}
    if basic_routes:
        handlers.update(json=_json_hello, items=_item, orders=_order)
        handlers.update(plaintext=_plaintext, io=_io, cpu=_cpu)
    for route in route_ids:
        handlers[f"r{route}"] = _numbered_route(route)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope type {scope['type']!r}")
        segments = scope["path"][1:].split("/")
        handler = handlers.get(segments[0])
        if handler is None:
            return await _not_found(send)
        await handler(segments, scope, receive, send)

    return app
