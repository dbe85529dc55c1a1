"""`SessionConfig`: the app's session settings, which read the session cookie and write it back."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from lanner.cookies import parse_cookies
from lanner.exceptions import HTTPException
from lanner.responses import Response
from lanner.sessions.mapping import Session
from lanner.sessions.stores import CookieSessionStore, SessionStore, async_only
from lanner.types import Scope

__all__ = ["BROWSER_SESSION_LIFETIME", "MAX_COOKIE_SIZE", "SessionConfig", "SessionTooLarge"]

#: The largest ``name=value`` a session cookie may have, in bytes: what browsers keep at least.
MAX_COOKIE_SIZE = 4096
#: How long, in seconds, a browser-session cookie (``max_age=None``) stays valid on the server
#: side: its signature's age and a server-side store's TTL (14 days).
BROWSER_SESSION_LIFETIME = 14 * 24 * 3600

_SALT = "lanner.session"
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_ATTRIBUTE = re.compile(r"[\x00-\x1f\x7f;]")
_SAME_SITE = ("lax", "strict", "none")
_SECURE_SCHEMES = ("https", "wss")


class SessionTooLarge(ValueError):
    """The session cookie would be longer than browsers keep (4,096 bytes); nothing was sent.

    Browsers drop such a cookie without a word, which would log the user out at random: store
    less in the session, or keep it on the server (``MemorySessionStore``, ``RedisSessionStore``).
    """


class SessionConfig:
    """The session settings of an application, and the code that reads and writes its cookie.

    Every cookie value is signed with HMAC-SHA256 and a timestamp (itsdangerous'
    ``TimestampSigner``), checked before a store sees it: a tampered, forged or expired cookie
    gives an empty session, never an error. Sessions are written back only when they changed,
    and expire `max_age` seconds after that last write (the signature's age and a server-side
    store's TTL both enforce it); reading one does not extend it.

    Args:
        secret_key: the key that signs cookies, or several: the first signs, and all are accepted,
            so a new key can be put first while cookies signed with the old one stay valid.
        store: where the data lives: `CookieSessionStore` (the default), `MemorySessionStore`,
            `RedisSessionStore` or your own `SessionStore`.
        cookie_name: the session cookie's name.
        max_age: the session's lifetime in seconds; ``None`` for a cookie the browser forgets when
            it closes (still refused by the server after `BROWSER_SESSION_LIFETIME`).
        path: the cookie's ``Path``.
        domain: the cookie's ``Domain`` (``None``: this host only).
        same_site: ``"lax"``, ``"strict"`` or ``"none"`` (which needs ``secure`` not False).
        http_only: hide the cookie from JavaScript.
        secure: send the cookie over HTTPS only; ``None`` sets it when the request came over
            https or wss.

    Raises:
        ValueError: an empty key or key list, a cookie name that is not a token, a `max_age`
            under 1, an unknown `same_site` (or ``"none"`` with ``secure=False``), or a path or
            domain holding control characters or ``;``.
        ImportError: itsdangerous is missing (``pip install 'lanner[sessions]'``).
    """

    def __init__(
        self,
        secret_key: str | Sequence[str],
        store: SessionStore | None = None,
        cookie_name: str = "session",
        max_age: int | None = 14 * 24 * 3600,
        path: str = "/",
        domain: str | None = None,
        same_site: str = "lax",
        http_only: bool = True,
        secure: bool | None = None,
    ) -> None:
        keys = [secret_key] if isinstance(secret_key, str) else list(secret_key)
        if not keys or not all(isinstance(key, str) and key for key in keys):
            raise ValueError("secret_key must be a non-empty string or a non-empty list of them")
        if _COOKIE_NAME.fullmatch(cookie_name) is None:
            raise ValueError(f"Invalid session cookie name {cookie_name!r}: it must be a token")
        if max_age is not None and max_age < 1:
            raise ValueError(f"max_age must be at least 1 second or None, not {max_age!r}")
        same_site = same_site.lower()
        if same_site not in _SAME_SITE:
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {same_site!r}")
        if same_site == "none" and secure is False:
            raise ValueError("same_site='none' needs a Secure cookie: browsers refuse it otherwise")
        for name, value in (("path", path), ("domain", domain or "")):
            if _UNSAFE_ATTRIBUTE.search(value) is not None:
                raise ValueError(f"Invalid session cookie {name} {value!r}")
        try:
            from itsdangerous import BadData, TimestampSigner
        except ImportError as exc:
            raise ImportError("sessions need itsdangerous: pip install 'lanner[sessions]'") from exc
        self._bad_signature = BadData
        # itsdangerous signs with the last key of its list; ours signs with the first.
        self._signer = TimestampSigner(keys[::-1], salt=_SALT, digest_method=hashlib.sha256)
        self.store: SessionStore = CookieSessionStore() if store is None else store
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.path = path
        self.domain = domain
        self.same_site = same_site
        self.http_only = http_only
        self.secure = secure
        self._lifetime = BROWSER_SESSION_LIFETIME if max_age is None else max_age

    def has_cookie(self, scope: Scope) -> bool:
        """Whether the request carries a (non-empty) session cookie, valid or not."""
        return self._cookie(scope) is not None

    async def load(self, scope: Scope) -> Session:
        """The session of the request in `scope`: an empty new one unless its cookie is valid.

        A missing, tampered, malformed or expired cookie, or one naming data the store no longer
        has, gives an empty session without raising.

        Raises:
            Exception: what the store raises when it cannot be reached (a ``RedisError``...).
        """
        value = self._verified(scope)
        return Session() if value is None else await self.store.load(value)

    def load_sync(self, scope: Scope) -> Session:
        """Like `load`, without awaiting: for stores that need no I/O (cookie, memory).

        Raises:
            RuntimeError: the store loads asynchronously (``RedisSessionStore``).
        """
        if not self.store.sync:
            raise async_only(self.store)
        value = self._verified(scope)
        return Session() if value is None else self.store.load_sync(value)

    async def commit(self, session: Session, scope: Scope, response: Response) -> None:
        """Save a changed session and add its ``Set-Cookie`` header to `response`.

        An unchanged session costs nothing. An emptied one has its server-side data deleted, and
        its cookie deleted if the request carried one. A regenerated one has the data under its
        previous id deleted once the new id is saved.

        Raises:
            SessionTooLarge: the signed cookie would exceed `MAX_COOKIE_SIZE` bytes.
            pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
            ValueError: a cookie attribute is invalid.
        """
        if not session.modified:
            return
        if session:
            value = self._signer.sign(await self.store.save(session, self._lifetime)).decode("ascii")
            size = len(self.cookie_name) + 1 + len(value)
            if size > MAX_COOKIE_SIZE:
                raise SessionTooLarge(
                    f"The session cookie {self.cookie_name!r} would be {size:,} bytes, over the "
                    f"{MAX_COOKIE_SIZE:,}-byte limit browsers keep: store less in the session or "
                    "use a server-side store (RedisSessionStore)"
                )
            response.set_cookie(self.cookie_name, value, max_age=self.max_age, **self._attributes(scope))
        else:
            if session.session_id is not None:
                await self.store.delete(session.session_id)
                session.session_id = None
            if self.has_cookie(scope):
                response.delete_cookie(self.cookie_name, **self._attributes(scope))
        if session.previous_id is not None:
            await self.store.delete(session.previous_id)
            session.previous_id = None
        session.modified = False

    async def aclose(self) -> None:
        """Close the store's connections (call it at shutdown)."""
        await self.store.aclose()

    def _attributes(self, scope: Scope) -> dict[str, Any]:
        secure = self.secure
        if secure is None:
            secure = scope.get("scheme") in _SECURE_SCHEMES
        return {
            "path": self.path,
            "domain": self.domain,
            "secure": secure,
            "httponly": self.http_only,
            "samesite": self.same_site,
        }

    def _cookie(self, scope: Scope) -> str | None:
        lines = [value for name, value in scope.get("headers", ()) if name == b"cookie"]
        if not lines:
            return None
        try:
            cookies = parse_cookies("; ".join(line.decode("latin-1") for line in lines))
        except HTTPException:  # over 64 KiB: treated as no cookie, the request gets no session
            return None
        return cookies.get(self.cookie_name) or None

    def _verified(self, scope: Scope) -> str | None:
        """The cookie's value as the store wrote it, if its signature is valid and young enough."""
        cookie = self._cookie(scope)
        if cookie is None:
            return None
        try:
            return self._signer.unsign(cookie, max_age=self._lifetime).decode("ascii")
        except self._bad_signature:
            return None
