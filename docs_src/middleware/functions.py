import contextvars
import time
from collections.abc import Awaitable, Callable

from lanner import Lanner, Request, Response

app = Lanner()
tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="public")


@app.middleware("http")
async def add_timing(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    tenant.set(request.headers.get("x-tenant", "public"))  # the handler sees it
    started = time.perf_counter()
    response = await call_next(request)  # as soon as the headers are ready; the body streams
    response.headers["X-Elapsed-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
    return response


@app.get("/")
async def home() -> dict[str, str]:
    return {"tenant": tenant.get()}
