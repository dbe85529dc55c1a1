"""Shared pieces of the benchmark apps: ASGI aliases, the order model, payload and app loading.

Every framework's app module exposes ``create_app(route_ids=range(ROUTE_COUNT), *,
basic_routes=True)``. ``basic_routes`` adds ``/json``, ``/items/{item_id}`` and ``/orders``;
``route_ids`` lists the numbered routes ``/r{i}/items/{item_id}`` to register after them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

from pydantic import BaseModel, Field

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTE_COUNT = 1000
ROUTE_TARGET = 987
"""The numbered route the routing scenario requests: near the end of the registration order."""

FRAMEWORKS: dict[str, str] = {
    "lanner": "benchmarks.apps.lanner_app",
    "fastapi": "benchmarks.apps.fastapi_app",
    "raw": "benchmarks.apps.raw_asgi",
}
"""Framework name → module defining its ``create_app`` factory."""


class Address(BaseModel):
    """Postal address of a customer."""

    street: str
    city: str
    postcode: str
    country: str = Field(min_length=2, max_length=2)


class Customer(BaseModel):
    """The customer who placed an order."""

    id: int
    name: str
    email: str
    address: Address


class LineItem(BaseModel):
    """One ordered product."""

    sku: str
    qty: int = Field(ge=1)
    price: float = Field(ge=0)


class Order(BaseModel):
    """The body of the validated POST scenario."""

    order_id: int
    customer: Customer
    items: list[LineItem]
    tags: list[str] = []
    note: str | None = None


ORDER_PAYLOAD: bytes = json.dumps(
    {
        "order_id": 73021,
        "customer": {
            "id": 5512,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "address": {
                "street": "12 Analytical Engine Row",
                "city": "London",
                "postcode": "NW1 6XE",
                "country": "GB",
            },
        },
        "items": [
            {"sku": "BK-1001-PAPER", "qty": 2, "price": 12.5},
            {"sku": "PN-2040-INK-BLUE", "qty": 10, "price": 1.25},
            {"sku": "NT-3300-GRID-A5", "qty": 3, "price": 4.75},
            {"sku": "ST-0101-STAPLER", "qty": 1, "price": 18.0},
            {"sku": "CL-9000-CLIPS-100", "qty": 4, "price": 2.5},
        ],
        "tags": ["stationery", "priority", "gift-wrap", "repeat-customer"],
        "note": "Please deliver to the side entrance before noon; ring twice and leave with "
        "reception if nobody answers.",
    },
    separators=(",", ":"),
).encode()
"""A valid ``Order`` as compact JSON, about 600 bytes."""


def order_summary(order: Order) -> dict[str, Any]:
    """Compute the answer of the POST scenario, shared by every app so the work is identical.

    Args:
        order: The validated order.

    Returns:
        ``{"order_id": ..., "total": sum(qty * price) rounded to cents, "items": n}``.
    """
    total = sum(item.qty * item.price for item in order.items)
    return {"order_id": order.order_id, "total": round(total, 2), "items": len(order.items)}


class AppFactory(Protocol):
    """The ``create_app`` signature every benchmark app module provides."""

    def __call__(self, route_ids: Iterable[int] = ..., *, basic_routes: bool = ...) -> ASGIApp:
        """Build the app; see the module docstring for the meaning of the arguments."""
        ...


def load_app_factory(framework: str) -> AppFactory:
    """Import one framework's app module and return its ``create_app``.

    The import is deferred so that a framework that is not installed only fails when asked for.

    Args:
        framework: A key of ``FRAMEWORKS``.

    Returns:
        The module's ``create_app`` factory.

    Raises:
        KeyError: If ``framework`` is unknown.
        ImportError: If the framework (or the app module) cannot be imported.
    """
    module = importlib.import_module(FRAMEWORKS[framework])
    factory: AppFactory = module.create_app
    return factory
