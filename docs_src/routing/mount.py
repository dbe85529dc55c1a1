from lanner import Lanner
from lanner.types import Receive, Scope, Send


async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
    """Any ASGI application: here, a hand-written one."""
    body = f"legacy app: {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = Lanner()
app.mount("/legacy", legacy)


@app.get("/")
async def home() -> str:
    return "lanner"
