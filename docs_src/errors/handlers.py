from lanner import HTTPException, Lanner, Request, Response
from lanner.errors import ProblemResponse, http_exception_handler
from lanner.responses import HTMLResponse

app = Lanner()


class OutOfStock(Exception):
    def __init__(self, item: str) -> None:
        self.item = item


@app.exception_handler(OutOfStock)
async def out_of_stock(request: Request, exc: OutOfStock) -> Response:
    return ProblemResponse(409, f"{exc.item} is out of stock", title="Out of stock", item=exc.item)


@app.exception_handler(404)
async def not_found(request: Request, exc: HTTPException) -> Response:
    if request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)  # the usual problem document
    return HTMLResponse("<h1>Nothing here</h1>", status_code=404)


@app.get("/api/items/{name}")
async def buy(name: str) -> dict[str, str]:
    raise OutOfStock(name)
