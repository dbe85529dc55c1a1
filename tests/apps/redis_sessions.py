"""Served by tests/test_session_redis.py under uvicorn with two workers sharing a Redis store."""

import os

from lanner import Lanner, Session
from lanner.sessions import RedisSessionStore

app = Lanner(secret_key="two-workers", session_store=RedisSessionStore(os.environ["REDIS_URL"]))


@app.post("/login")
async def login(session: Session, user: str) -> dict[str, object]:
    session["user"] = user
    session.regenerate()
    return {"pid": os.getpid()}


@app.get("/me")
async def me(session: Session) -> dict[str, object]:
    return {"pid": os.getpid(), "user": session.get("user")}
