"""Shared pieces of the benchmark apps: ASGI aliases, the order model, payload and app loading.

Every framework's app module exposes ``create_app(route_ids=range(ROUTE_COUNT), *,
basic_routes=True)``. ``basic_routes`` adds ``/json``, ``/items/{item_id}`` and ``/orders``, plus
``/plaintext``, ``/io`` and ``/cpu`` for the server benchmark (``python -m benchmarks``);
``route_ids`` lists the numbered routes ``/r{i}/items/{item_id}`` to register after them.
"""

from __future__ import annotations

import importlib
import json
import time
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


PLAINTEXT_BODY = "Hello, World!"
"""The answer of the plaintext scenario, served as ``text/plain``."""

IO_DELAY = 0.05
"""Seconds the I/O-bound handler waits (``await asyncio.sleep`` or, in Flask, ``time.sleep``)."""

IO_BODY: dict[str, Any] = {"slept_ms": 50}
"""The answer of the I/O-bound scenario."""

CPU_WORK_SECONDS = 0.005
"""CPU time the model-bound handler burns per request."""

CPU_BODY: dict[str, Any] = {"cpu_ms": 5}
"""The answer of the model-bound scenario."""


def cpu_work(seconds: float = CPU_WORK_SECONDS) -> int:
    """Burn ``seconds`` of this thread's CPU time on integer arithmetic, like a small model would.

    The loop is bounded by CPU time (``time.thread_time``), not by a count, so a request costs the
    same on any machine and time spent waiting for the CPU or the GIL is not counted.

    Args:
        seconds: CPU time to spend.

    Returns:
        How many blocks of arithmetic ran (varies; only useful to keep the work observable).
    """
    deadline = time.thread_time() + seconds
    blocks = 0
    acc = 0
    while time.thread_time() < deadline:
        for i in range(100):
            acc = (acc * 31 + i) % 1_000_003
        blocks += 1
    return blocks


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
