import time

from lanner import Lanner, Request, Response
from lanner.responses import PlainTextResponse

app = Lanner()


@app.before_request
async def maintenance(request: Request) -> Response | None:
    request.state.started = time.perf_counter()
    if request.headers.get("x-maintenance") == "on":
        return PlainTextResponse("Back soon", status_code=503)  # answers early: no handler runs
    return None


@app.after_request
async def timing(request: Request, response: Response) -> Response:  # early answers too
    elapsed = time.perf_counter() - request.state.started
    response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.1f}"
    return response


@app.get("/")
async def home() -> dict[str, str]:
    return {"page": "home"}
