"""Where sessions live: the `SessionStore` interface, the signed-cookie store and the memory store.

A store turns a `Session` into the value its cookie carries and back. `SessionConfig` signs that
value before it leaves the server and checks the signature (and its age) before a store ever sees
it, so a store is only handed values it produced itself: it never parses attacker-made input.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from time import monotonic
from typing import Any

import pydantic_core

from lanner.sessions.mapping import Session, new_session_id

__all__ = [
    "CookieSessionStore",
    "MemorySessionStore",
    "SessionStore",
    "async_only",
    "decode_data",
    "encode_data",
]


def encode_data(session: Session) -> bytes:
    """Serialise a session's values to JSON bytes.

    Raises:
        pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
    """
    return pydantic_core.to_json(dict(session))


def decode_data(raw: bytes | str) -> dict[str, Any] | None:
    """Parse what `encode_data` wrote; None when it is not a JSON object."""
    try:
        data = pydantic_core.from_json(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def async_only(store: SessionStore) -> RuntimeError:
    """The error for loading, without awaiting, a session from a store that needs I/O."""
    return RuntimeError(
        f"{type(store).__name__} sessions are loaded asynchronously: declare `session: Session` on the route"
    )


class SessionStore(ABC):
    """The interface every session store implements.

    `save` returns the value the session cookie will carry (before signing); `load` gets that value
    back, already verified, on a later request. A server-side store keeps the data under
    ``session.session_id`` and returns the id; the cookie store returns the data itself.
    """

    #: Whether `load_sync` works (a store that needs no I/O); server-side stores leave it False.
    sync: bool = False

    @abstractmethod
    async def load(self, value: str) -> Session:
        """Return the session `save` stored as `value`, or an empty new one if it is gone."""

    def load_sync(self, value: str) -> Session:
        """Load without awaiting, for code that cannot await (``request.session`` in a sync handler).

        Raises:
            RuntimeError: always, unless the store overrides it (and sets `sync`).
        """
        raise async_only(self)

    @abstractmethod
    async def save(self, session: Session, max_age: int) -> str:
        """Keep `session` for `max_age` seconds; return the value its cookie must carry.

        A server-side store gives a session without an id a new one (`new_session_id`) first.
        The value must be made of URL-safe characters.
        """

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget the data kept under `session_id` (nothing happens if there is none)."""

    async def aclose(self) -> None:  # noqa: B027 - a hook: most stores hold nothing to close
        """Release connections the store holds (call it at shutdown)."""


class CookieSessionStore(SessionStore):
    """Keep the whole session in its cookie: JSON, base64url-encoded, then signed.

    Nothing is kept on the server, so any process with the secret key reads any session, and
    logging out cannot revoke a cookie someone copied before (it expires with its signature's
    age). The data is readable by the client (signed, not encrypted): keep secrets out of it.
    The data is not compressed, so the cookie's length tells nothing about a secret in it.
    Browsers keep cookies up to 4,096 bytes: `SessionConfig.commit` raises `SessionTooLarge`
    beyond that.
    """

    sync = True

    async def load(self, value: str) -> Session:
        """Decode the session the cookie carries (an empty one if it does not decode)."""
        return self.load_sync(value)

    def load_sync(self, value: str) -> Session:
        """Decode the session the cookie carries, without I/O."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return Session()
        data = decode_data(raw)
        return Session() if data is None else Session(data)

    async def save(self, session: Session, max_age: int) -> str:
        """Encode the session's values; the signature's age enforces `max_age`.

        Raises:
            pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
        """
        return base64.urlsafe_b64encode(encode_data(session)).rstrip(b"=").decode("ascii")

    async def delete(self, session_id: str) -> None:
        """Nothing to do: the data lives in the cookie, which `SessionConfig.commit` deletes."""


class MemorySessionStore(SessionStore):
    """Keep sessions in a dict of this process, each until its `max_age` runs out.

    For tests and single-process servers: the sessions vanish on restart and are not shared
    between worker processes. Expired entries are dropped when read, and swept each time the
    number of entries has doubled since the last sweep.
    """

    sync = True

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._sweep_at = 64

    def __len__(self) -> int:
        """The number of sessions kept (expired ones not yet swept included)."""
        return len(self._entries)

    async def load(self, value: str) -> Session:
        """Return the session kept under the id `value` (empty if unknown or expired)."""
        return self.load_sync(value)

    def load_sync(self, value: str) -> Session:
        """Return the session kept under the id `value`, without awaiting."""
        entry = self._entries.get(value)
        if entry is None:
            return Session()
        expires, raw = entry
        if expires <= monotonic():
            del self._entries[value]
            return Session()
        data = decode_data(raw)
        return Session() if data is None else Session(data, session_id=value)

    async def save(self, session: Session, max_age: int) -> str:
        """Keep a copy of the session's values (as JSON, like other stores) for `max_age` seconds.

        Raises:
            pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
        """
        if session.session_id is None:
            session.session_id = new_session_id()
        now = monotonic()
        self._entries[session.session_id] = (now + max_age, encode_data(session))
        if len(self._entries) >= self._sweep_at:
            self._entries = {key: entry for key, entry in self._entries.items() if entry[0] > now}
            self._sweep_at = max(64, 2 * len(self._entries))
        return session.session_id

    async def delete(self, session_id: str) -> None:
        """Forget the session kept under `session_id`."""
        self._entries.pop(session_id, None)
