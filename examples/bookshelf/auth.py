"""Passwords (scrypt from the standard library) and who is logged in (the session).

A password is stored as ``scrypt$n$r$p$salt$hash`` with a random 16-byte salt per user, and
checked with ``hmac.compare_digest``. Hashing takes tens of milliseconds on purpose, so it runs
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
from typing import Annotated
from urllib.parse import quote

from lanner import Depends, Request, Session
from lanner.sessions import flash

# Interactive-login parameters from RFC 7914 (16 MiB of memory per hash).
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """Hash `password` with a fresh salt, for storing."""
    salt = os.urandom(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_HASH_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` result (False for a malformed one)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@functools.cache
def _dummy_hash() -> str:
    """Checked when the user name is unknown, so that a wrong name takes as long as a wrong password."""
    return hash_password("not a password anyone has")


async def check_password(password: str, stored: str | None) -> bool:
    """`verify_password` in a worker thread; `stored` None (no such user) is always False."""
    matches = await asyncio.to_thread(verify_password, password, stored or _dummy_hash())
    return matches and stored is not None


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread."""
    return await asyncio.to_thread(hash_password, password)


def log_in(session: Session, user_id: int, username: str) -> None:
    """Remember the user in the session, under a new session id (against session fixation)."""
    session.regenerate()
    session["user_id"] = user_id
    session["username"] = username


def current_username(session: Session) -> str | None:
    """The logged-in user's name, or None for a visitor."""
    name = session.get("username")
    return name if isinstance(name, str) else None


class LoginRequired(Exception):
    """A page needs a logged-in user; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def require_user(request: Request, session: Session) -> str:
    """The logged-in user's name; for a visitor, a redirect to ``/login?next=<this page>``.

    Raises:
        LoginRequired: nobody is logged in.
    """
    name = current_username(session)
    if name is None:
        flash(session, "Please log in first.", category="info")
        raise LoginRequired(request.url.path)
    return name


#: A handler parameter ``user: User`` makes the page need a logged-in user.
User = Annotated[str, Depends(require_user)]


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default` (no open redirects).

    ``//evil.example`` and ``/\\evil.example`` are links to another host in browsers, so only
    a single leading slash followed by something else is accepted.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return default
    return target


def login_url(login_path: str, next_url: str) -> str:
    """The login page's URL that comes back to `next_url` afterwards."""
    return f"{login_path}?next={quote(next_url, safe='/')}"
