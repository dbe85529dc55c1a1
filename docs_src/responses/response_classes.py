from lanner import Lanner, Response
from lanner.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

app = Lanner()


@app.get("/hello", response_class=HTMLResponse)
async def hello() -> str:
    return "<h1>Hello</h1>"  # a str, sent as text/html


@app.get("/robots.txt", response_class=PlainTextResponse)
async def robots() -> str:
    return "User-agent: *\nDisallow:\n"


@app.get("/old-home", response_class=RedirectResponse)
async def old_home() -> str:
    return "/"  # the URL; 307 unless status_code= says otherwise


@app.get("/teapot")
async def teapot() -> JSONResponse:
    return JSONResponse({"detail": "short and stout"}, status_code=418, headers={"X-Brew": "tea"})


@app.get("/")
async def home(response: Response) -> dict[str, str]:
    # Declare a Response to set headers, cookies and the status code on the answer.
    response.headers["Cache-Control"] = "max-age=60"
    response.set_cookie("visited", "yes", max_age=3600, httponly=True)
    return {"page": "home"}
