"""The soak app for lanner (``python -m benchmarks.soak``), with default settings but the body limit.

It is the benchmark app's basic routes (JSON GET, validated parameters, order), plus an upload that
reads the raw body (413 over ``MAX_BODY_SIZE``, through the app's ``max_body_size``) and the hidden
probe route. ``soak_fastapi.py`` behaves the same way.
"""

from typing import Any

from benchmarks.apps.lanner_app import create_app as create_benchmark_app
from benchmarks.apps.soak_probe import MAX_BODY_SIZE, SOAK_PATH, install_probe
from lanner import Lanner, Request


def create_app() -> Lanner:
    """Build the lanner soak app and install the garbage collector probe.

    Returns:
        The lanner application; ``freeze_gc`` is left at its default (on).
    """
    probe = install_probe()
    app = create_benchmark_app(route_ids=())
    app.max_body_size = MAX_BODY_SIZE

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        return {"size": len(await request.body())}

    @app.get(SOAK_PATH, include_in_schema=False)
    async def soak() -> dict[str, Any]:
        return probe.snapshot()

    return app
