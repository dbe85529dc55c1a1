"""A small API protected two ways: users sign in with a bearer token, services with an API key.

Run it with ``lanner run examples/secure.py`` and use the Authorize button at /docs, or:

    curl -H "Authorization: Bearer token-ann" http://127.0.0.1:8000/me
    curl -H "X-API-Key: service-key" http://127.0.0.1:8000/stats

The security helpers only find the credentials; the checks below decide whether they are good,
with `compare_secret` so the time a comparison takes does not leak how much of a guess was right.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from lanner import Depends, HTTPException, Lanner
from lanner.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, compare_secret

app = Lanner(title="Secure notes", version="1.0.0")

bearer = HTTPBearer(description="A user's session token.")
service_key = APIKeyHeader("x-api-key", scheme_name="ServiceKey", description="For back-end services.")

# A real app would look tokens up in a database; keys come from configuration, never the code.
TOKENS = {"token-ann": "ann", "token-bob": "bob"}
SERVICE_KEY = "service-key"
NOTES: dict[str, list[str]] = {"ann": ["buy milk"], "bob": []}


class User(BaseModel):
    """The signed-in user."""

    name: str


class Note(BaseModel):
    """A note to add."""

    text: str


def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> User:
    """Turn the bearer token into a user, or answer 401."""
    for token, name in TOKENS.items():
        if compare_secret(credentials.credentials, token):
            return User(name=name)
    raise HTTPException(401, "Unknown token", headers={"WWW-Authenticate": "Bearer"})


def require_service(key: Annotated[str, Depends(service_key)]) -> None:
    """Let only callers holding the service key through."""
    if not compare_secret(key, SERVICE_KEY):
        raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "APIKey"})


@app.get("/me")
async def me(user: Annotated[User, Depends(current_user)]) -> User:
    """Who the token belongs to."""
    return user


@app.get("/notes")
async def list_notes(user: Annotated[User, Depends(current_user)]) -> list[str]:
    """The signed-in user's notes."""
    return NOTES[user.name]


@app.post("/notes", status_code=201)
async def add_note(note: Note, user: Annotated[User, Depends(current_user)]) -> list[str]:
    """Add a note for the signed-in user."""
    NOTES[user.name].append(note.text)
    return NOTES[user.name]


@app.get("/stats", dependencies=[Depends(require_service)])
async def stats() -> dict[str, int]:
    """How many notes there are (for services only)."""
    return {"users": len(NOTES), "notes": sum(len(n) for n in NOTES.values())}


@app.get("/health")
async def health() -> dict[str, str]:
    """Open to everyone."""
    return {"status": "ok"}
