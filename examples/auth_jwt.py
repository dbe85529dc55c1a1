"""Log in with a user name and password, get a JWT, call protected and scoped routes.

Needs ``pip install 'lanner[jwt,passwords,forms]'``. Run it with ``lanner run examples/auth_jwt.py``,
open /docs, click Authorize and log in as ann / wonderland (may read and add notes) or
bob / builder (may only read); or:

    TOKEN=$(curl -s -d username=ann -d password=wonderland http://127.0.0.1:8000/token | jq -r .access_token)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/me
    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"text": "hi"}' \\
        http://127.0.0.1:8000/notes

Passwords are stored as Argon2 hashes, checked so that unknown users cost as much as known ones,
and upgraded when the hashing costs change. Tokens last 15 minutes and carry the user's scopes.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated, Any

from pydantic import BaseModel

from lanner import Depends, HTTPException, Lanner, Security
from lanner.security import OAuth2PasswordRequestForm
from lanner.security.jwt import JWTAuth, token_scopes
from lanner.security.passwords import PasswordHasher

app = Lanner(title="Notes with JWT", version="1.0.0")

# A real app reads the secret from its configuration; a random one means tokens die with the process.
SECRET = os.environ.get("AUTH_JWT_SECRET") or secrets.token_urlsafe(32)
TOKEN_LIFETIME = 15 * 60

auth = JWTAuth(
    SECRET,
    algorithms=["HS256"],
    issuer="lanner-example",
    audience="notes-api",
    token_url="token",  # Swagger UI's Authorize button logs in there
    scopes={"notes:read": "Read your notes", "notes:write": "Add notes"},
)
hasher = PasswordHasher()


class User(BaseModel):
    """A user as the database would hold it."""

    name: str
    password_hash: str
    scopes: list[str]


USERS = {
    "ann": User(name="ann", password_hash=hasher.hash("wonderland"), scopes=["notes:read", "notes:write"]),
    "bob": User(name="bob", password_hash=hasher.hash("builder"), scopes=["notes:read"]),
}
NOTES: dict[str, list[str]] = {"ann": ["buy milk"], "bob": []}


class Note(BaseModel):
    """A note to add."""

    text: str


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    """Trade a user name and password for a token (OAuth2 password grant).

    A sync handler: Argon2 is slow on purpose, so it runs in the thread pool.
    """
    user = USERS.get(form.username)
    # None for an unknown user still costs one hash check, so timing does not tell who exists.
    ok, new_hash = hasher.verify_and_update(form.password, user.password_hash if user else None)
    if not ok or user is None:
        raise HTTPException(400, "Incorrect username or password")
    if new_hash:
        user.password_hash = new_hash
    # Grant what was asked for among what the user may have; everything when nothing was asked.
    granted = [scope for scope in (form.scopes or user.scopes) if scope in user.scopes]
    token = auth.issue(user.name, scopes=granted, expires_in=TOKEN_LIFETIME)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": " ".join(granted),
    }


def current_user(claims: Annotated[dict[str, Any], Depends(auth)]) -> str:
    """The user the token was issued to; the scopes of a ``Security`` above reach `auth`."""
    return str(claims["sub"])


@app.get("/me")
async def me(claims: Annotated[dict[str, Any], Depends(auth)]) -> dict[str, Any]:
    """Who the token belongs to and what it allows (any valid token)."""
    return {"username": claims["sub"], "scopes": sorted(token_scopes(claims))}


@app.get("/notes")
async def list_notes(user: Annotated[str, Security(current_user, scopes=["notes:read"])]) -> list[str]:
    """The user's notes (needs the notes:read scope)."""
    return NOTES[user]


@app.post("/notes", status_code=201)
async def add_note(
    note: Note, user: Annotated[str, Security(current_user, scopes=["notes:write"])]
) -> list[str]:
    """Add a note (needs the notes:write scope)."""
    NOTES[user].append(note.text)
    return NOTES[user]
