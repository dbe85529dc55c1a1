"""`RedisSessionStore`: sessions kept in Redis, the cookie carrying only a signed random id."""

from __future__ import annotations

from typing import Any

from lanner.sessions.mapping import Session, new_session_id
from lanner.sessions.stores import SessionStore, decode_data, encode_data

__all__ = ["RedisSessionStore"]


class RedisSessionStore(SessionStore):
    """Keep each session as JSON in Redis under ``prefix + session id``, expiring after `max_age`.

    The cookie carries only the id (43 random URL-safe characters), signed like any session
    cookie, so a forged or guessed id is refused before Redis is asked. Logging out
    (``session.clear()``) deletes the key, and ``session.regenerate()`` moves the data to a new id
    and deletes the old key. The key's TTL is set when the session is saved, that is when it
    changed; reading a session does not extend it (the cookie's signature has the same age limit,
    so refreshing only the key would not keep the session alive).

    Args:
        url: the Redis server, e.g. ``redis://localhost:6379/0`` or ``rediss://...`` for TLS.
        prefix: put before every session id to make the Redis key.
        client: a ``redis.asyncio.Redis`` to use instead of connecting to `url` (then `aclose`
            leaves it open: its owner closes it).

    Raises:
        ImportError: the redis package is missing (``pip install 'lanner[redis]'``).
    """

    def __init__(
        self, url: str = "redis://localhost:6379/0", *, prefix: str = "lanner:session:", client: Any = None
    ) -> None:
        self.prefix = prefix
        self._owns_client = client is None
        if client is None:
            try:
                import redis.asyncio
            except ImportError as exc:
                raise ImportError(
                    "RedisSessionStore needs the redis package: pip install 'lanner[redis]'"
                ) from exc
            client = redis.asyncio.from_url(url)
        #: The ``redis.asyncio.Redis`` client the store talks through.
        self.client: Any = client

    def key(self, session_id: str) -> str:
        """The Redis key a session id is kept under."""
        return self.prefix + session_id

    async def load(self, value: str) -> Session:
        """Return the session kept under the id `value` (empty if unknown or expired).

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached or answers with an error.
        """
        raw = await self.client.get(self.key(value))
        data = None if raw is None else decode_data(raw)
        return Session() if data is None else Session(data, session_id=value)

    async def save(self, session: Session, max_age: int) -> str:
        """Write the session's values with a TTL of `max_age` seconds; return its id.

        Raises:
            pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
            redis.exceptions.RedisError: Redis cannot be reached or answers with an error.
        """
        if session.session_id is None:
            session.session_id = new_session_id()
        await self.client.set(self.key(session.session_id), encode_data(session), ex=max_age)
        return session.session_id

    async def delete(self, session_id: str) -> None:
        """Delete the key of `session_id`.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached or answers with an error.
        """
        await self.client.delete(self.key(session_id))

    async def aclose(self) -> None:
        """Close the connections the store opened (not those of a `client` it was given)."""
        if self._owns_client:
            await self.client.aclose()
