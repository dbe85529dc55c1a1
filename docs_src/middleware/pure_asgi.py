from lanner import Lanner
from lanner.types import ASGIApp, Message, Receive, Scope, Send


class ServerHeader:
    """Pure ASGI middleware: it sees every message and buffers nothing."""

    def __init__(self, app: ASGIApp, value: str = "lanner") -> None:
        self.app, self.value = app, value.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"server", self.value)]
            await send(message)

        await self.app(scope, receive, send_with_header)


app = Lanner()
app.add_middleware(ServerHeader, value="bookshop")


@app.get("/")
async def home() -> dict[str, str]:
    return {"page": "home"}
