"""Cold start of one framework, measured in a fresh interpreter: import, build 100 routes, answer.

Run by the harness as ``python -m benchmarks.coldstart MODULE asgi|wsgi``; prints one JSON line
with milliseconds for the three steps. pydantic, the shared models and asyncio are imported
before the clock starts: every app needs them, and the raw app is nothing but them.
"""

import asyncio
import importlib
import json
import sys
import time
from typing import Any
from wsgiref.util import setup_testing_defaults

from benchmarks.core import LifespanRunner, LoadedApp, Scenario

ROUTES = 100
"""Numbered routes in the cold-start app (``/r0/items/{item_id}`` ... ``/r99/...``)."""

_FIRST = Scenario("first", "first request", "GET", "/r0/items/1", {"route": 0, "item_id": 1})


async def _first_asgi_response(app: Any) -> tuple[int, bytes]:
    runner = LifespanRunner(app)
    await runner.startup()
    try:
        response = await LoadedApp("app", app, runner).request(_FIRST)
    finally:
        await runner.shutdown()
    return response.status, response.body


def _first_wsgi_response(app: Any) -> tuple[int, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": _FIRST.path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append(status)

    body = b"".join(app(environ, start_response))
    return int(statuses[0].split()[0]), body


def measure(module_name: str, interface: str) -> dict[str, float]:
    """Import ``module_name``, build its app with ``ROUTES`` routes and serve one request.

    Args:
        module_name: An app module with ``create_app(route_ids, basic_routes=...)``.
        interface: ``asgi`` or ``wsgi``.

    Returns:
        ``import_ms``, ``build_ms``, ``first_ms`` (first answer, lifespan startup included) and
        ``total_ms``.

    Raises:
        RuntimeError: If the first answer is not the expected one.
    """
    start = time.perf_counter()
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    app = module.create_app(range(ROUTES), basic_routes=False)
    built = time.perf_counter()
    if interface == "asgi":
        status, body = asyncio.run(_first_asgi_response(app))
    else:
        status, body = _first_wsgi_response(app)
    answered = time.perf_counter()
    if status != 200 or json.loads(body) != _FIRST.expected_body:
        raise RuntimeError(f"{module_name} answered {status} {body[:200]!r} to GET {_FIRST.path}")
    return {
        "import_ms": (imported - start) * 1000,
        "build_ms": (built - imported) * 1000,
        "first_ms": (answered - built) * 1000,
        "total_ms": (answered - start) * 1000,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
