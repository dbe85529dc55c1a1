from typing import Annotated

from lanner import Cookie, Header, Lanner

app = Lanner()


@app.get("/whoami")
async def whoami(
    user_agent: Annotated[str | None, Header()] = None,  # reads the user-agent header
    x_request_id: Annotated[str | None, Header(max_length=64)] = None,  # X-Request-ID
    theme: Annotated[str, Cookie()] = "light",
) -> dict[str, str | None]:
    return {"user_agent": user_agent, "request_id": x_request_id, "theme": theme}
