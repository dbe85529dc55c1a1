from typing import Annotated

from lanner import Form, HTTPException, Lanner, Session
from lanner.sessions import csrf_token, verify_csrf_token

app = Lanner(secret_key="change me", csrf=True)


@app.get("/token")
async def token(session: Session) -> dict[str, str]:
    return {"csrf_token": csrf_token(session)}  # templates call csrf_token() instead


@app.post("/profile")
async def update_profile(name: Annotated[str, Form()], session: Session) -> dict[str, str]:
    session["name"] = name  # only reached with the right token (form field or X-CSRF-Token)
    return {"name": name}


@app.post("/hooks/payment", csrf_exempt=True)  # a webhook: no browser session involved
async def payment_webhook() -> dict[str, str]:
    return {"status": "received"}


@app.post("/login")
async def login(
    username: Annotated[str, Form()],
    session: Session,
    csrf: Annotated[str | None, Form(alias="csrf_token")] = None,
) -> dict[str, str]:
    # Without a session cookie yet, the automatic check does not apply: check the token yourself.
    if not verify_csrf_token(session, csrf):
        raise HTTPException(403, "Invalid CSRF token")
    session["user"] = username
    return {"user": username}
