from typing import Annotated

from lanner import Form, HTTPException, Lanner, Session
from lanner.sessions import MemorySessionStore

# The data stays on the server; the cookie holds only a random id.
# RedisSessionStore("redis://localhost:6379/0") shares sessions between workers.
store = MemorySessionStore()
app = Lanner(secret_key="change me", session_store=store)


@app.post("/login")
async def login(
    username: Annotated[str, Form()], password: Annotated[str, Form()], session: Session
) -> dict[str, str]:
    if password != "demo":  # a real app checks a password hash
        raise HTTPException(401, "Wrong username or password")
    session.regenerate()  # a new id after a login: an id set before it is worthless
    session["user"] = username
    return {"user": username}


@app.get("/me")
async def me(session: Session) -> dict[str, str | None]:
    return {"user": session.get("user")}
