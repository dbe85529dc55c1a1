"""The soak app for FastAPI (``python -m benchmarks.soak``), behaving like ``soak_lanner.py``.

FastAPI has no body limit of its own, so the upload route checks ``Content-Length`` (and the
length it read) and answers 413 over ``MAX_BODY_SIZE``, the way its documentation suggests
handling headers; everything else keeps FastAPI's defaults.
"""

from typing import Any

from fastapi import FastAPI, HTTPException, Request

from benchmarks.apps.fastapi_app import create_app as create_benchmark_app
from benchmarks.apps.soak_probe import MAX_BODY_SIZE, SOAK_PATH, install_probe


def _too_large() -> HTTPException:
    return HTTPException(413, f"Request body exceeds {MAX_BODY_SIZE} bytes")


def create_app() -> FastAPI:
    """Build the FastAPI soak app and install the garbage collector probe.

    Returns:
        The FastAPI application.
    """
    probe = install_probe()
    app = create_benchmark_app(route_ids=())

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_SIZE:
            raise _too_large()
        body = await request.body()
        if len(body) > MAX_BODY_SIZE:
            raise _too_large()
        return {"size": len(body)}

    @app.get(SOAK_PATH, include_in_schema=False)
    async def soak() -> dict[str, Any]:
        return probe.snapshot()

    return app
