"""Health and readiness endpoints: ``app.health("/healthz")`` and ``app.ready("/readyz", checks=[...])``.

Liveness answers "is the process able to answer at all": it runs nothing and always says 200, so an
orchestrator restarts only a process that is really stuck. Readiness answers "should traffic come
here now": 503 while the app starts up or shuts down (the ASGI lifespan says which), and otherwise
the result of the checks, run concurrently, each bounded by a timeout, so one hung database does not
hang the probe.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from lanner.concurrency import run_in_threadpool
from lanner.errors import loggable
from lanner.responses import JSONResponse, Response

__all__ = ["Lifecycle", "ReadinessCheck", "health_handler", "readiness_handler"]

logger = logging.getLogger("lanner.health")

#: A readiness check: an async (or sync) callable taking no argument. It passes unless it raises
#: or returns False.
ReadinessCheck = Callable[[], Awaitable[Any] | Any]


class Lifecycle(enum.Enum):
    """Where the application stands in its ASGI lifespan."""

    #: No lifespan has run (a server or test client without lifespan support): checks decide.
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


def health_handler() -> Callable[[], Awaitable[Response]]:
    """The liveness handler: always ``200 {"status": "ok"}``."""
    body = JSONResponse({"status": "ok"}).body

    async def health() -> Response:
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    return health


def readiness_handler(
    lifecycle: Callable[[], Lifecycle], checks: Sequence[ReadinessCheck], timeout: float
) -> Callable[[], Awaitable[Response]]:
    """The readiness handler: 200 when the app runs and every check passes, else 503.

    The body names each check with ``"ok"`` or why it failed (the exception's type; its message is
    logged on ``lanner.health``, not shown), so ``curl /readyz`` tells an operator where to look.

    Args:
        lifecycle: returns the app's lifespan state; starting or stopping is never ready.
        checks: run concurrently on each probe.
        timeout: seconds each check may take before it counts as failed.
    """
    named = [(_name(check, index), check) for index, check in enumerate(checks)]

    async def ready() -> Response:
        state = lifecycle()
        if state in (Lifecycle.STARTING, Lifecycle.STOPPING):
            return _answer(503, {"status": "unavailable", "reason": state.value, "checks": {}})
        results = await asyncio.gather(*(_run(check, timeout) for _, check in named))
        report = {name: result for (name, _), result in zip(named, results, strict=True)}
        ok = all(result == "ok" for result in results)
        return _answer(200 if ok else 503, {"status": "ready" if ok else "unavailable", "checks": report})

    return ready


async def _run(check: ReadinessCheck, timeout: float) -> str:
    """Run one check; ``"ok"`` or a short reason."""
    try:
        async with asyncio.timeout(timeout):
            if inspect.iscoroutinefunction(check):
                outcome = await check()
            else:
                outcome = await run_in_threadpool(check)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
    except TimeoutError:
        return f"timed out after {timeout:g}s"
    except Exception as exc:
        # The probe may be reachable from outside: its body names the exception's type only; the
        # message (hosts, user names, connection strings) goes to the log.
        logger.warning(
            "Readiness check %s failed: %s", _name(check, 0), loggable(f"{type(exc).__name__}: {exc}")
        )
        return type(exc).__name__
    return "failed" if outcome is False else "ok"


def _name(check: ReadinessCheck, index: int) -> str:
    return getattr(check, "__name__", None) or f"check{index}"


def _answer(status: int, document: dict[str, Any]) -> Response:
    return JSONResponse(document, status_code=status, headers={"Cache-Control": "no-store"})
