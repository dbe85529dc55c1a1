"""`Channels`: publish messages on named channels and subscribe to them, in one process or many."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from lanner.channels._codec import encode_message
from lanner.channels._subscription import Backend, Policy, Subscription
from lanner.channels.memory import MemoryBackend
from lanner.channels.redis import RedisBackend

__all__ = ["Channels"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_channel(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a channel name is a non-empty str, not {name!r}")
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"a channel name must be valid Unicode, not {name!r}") from None
    return name


class Channels:
    """Publish messages on named channels; every current subscriber of a channel receives them.

    A message is a str, bytes, or any value pydantic-core serialises to JSON (dicts, lists,
    numbers, pydantic models, dataclasses, datetimes...). Subscribers receive a str as a str and
    bytes as bytes; anything else comes back as parsed JSON (a model arrives as a dict, a datetime
    as its ISO string), the same through either backend. Nothing connects until the first publish
    or subscribe; `aclose` (or leaving ``async with``) ends every subscription and closes the
    connections.

    Args:
        backend: ``"memory"`` for the subscribers of this process only, or a Redis URL
            (``redis://host:6379/0``, ``rediss://...``, ``unix://...``) to reach the subscribers
            of every process using that server.
        max_queue: how many messages each subscriber may have waiting before `policy` applies.
        policy: when a subscriber's queue is full, ``"drop_oldest"`` drops its oldest message
            (counted in `Subscription.dropped`); ``"disconnect"`` ends that subscription, whose
            next `Subscription.get` raises `SlowSubscriberError`.

    Raises:
        ValueError: an unknown backend, a `max_queue` below 1, or an unknown policy.
        ImportError: a Redis URL without the redis package (``pip install 'lanner[redis]'``).
    """

    def __init__(
        self, backend: str = "memory", *, max_queue: int = 1024, policy: Policy = "drop_oldest"
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, not {max_queue}")
        if policy not in ("drop_oldest", "disconnect"):
            raise ValueError(f"policy must be 'drop_oldest' or 'disconnect', not {policy!r}")
        self.max_queue = max_queue
        self.policy: Policy = policy
        #: The backend moving the messages (`MemoryBackend` or `RedisBackend`).
        self.backend: Backend
        if backend == "memory":
            self.backend = MemoryBackend()
        elif backend.startswith(_REDIS_SCHEMES):
            self.backend = RedisBackend(backend)
        else:
            raise ValueError(f"backend must be 'memory' or a redis:// URL, not {backend!r}")

    def __repr__(self) -> str:
        return f"Channels({type(self.backend).__name__}, max_queue={self.max_queue}, policy={self.policy!r})"

    async def publish(self, channel: str, message: Any) -> None:
        """Send `message` to every current subscriber of `channel` (none is fine).

        Raises:
            ValueError: `channel` is not a non-empty str (or holds lone surrogates).
            pydantic_core.PydanticSerializationError: `message` cannot be serialised to JSON.
            ChannelsConnectionError: Redis cannot be reached.
        """
        await self.backend.publish(_check_channel(channel), encode_message(message))

    def subscribe(self, *channels: str) -> _Subscribing:
        """Subscribe to `channels` for the duration of an ``async with`` block.

        ``async with channels.subscribe("room:1") as sub: async for message in sub: ...``. Every
        message published after the block is entered is received (with Redis, entering waits for
        the server to confirm the subscription); leaving the block unsubscribes.

        Raises:
            ValueError: no channel, or a name that is not a non-empty str (or holds lone surrogates).
            ChannelsConnectionError: (on entering) Redis cannot be reached.
        """
        if not channels:
            raise ValueError("subscribe to at least one channel")
        names = tuple(dict.fromkeys(_check_channel(name) for name in channels))
        return _Subscribing(self, names)

    async def aclose(self) -> None:
        """End every subscription and close the backend's connections (a later use reconnects)."""
        await self.backend.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Subscribing:
    """The ``async with`` of `Channels.subscribe`: a `Subscription` while inside."""

    __slots__ = ("_channels", "_names", "_subscription")

    def __init__(self, channels: Channels, names: tuple[str, ...]) -> None:
        self._channels = channels
        self._names = names
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> Subscription:
        channels = self._channels
        subscription = Subscription(self._names, channels.max_queue, channels.policy)
        await channels.backend.subscribe(subscription)
        self._subscription = subscription
        return subscription

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        subscription, self._subscription = self._subscription, None
        assert subscription is not None, "__aexit__ without __aenter__"
        self._channels.backend.unsubscribe(subscription)
        subscription.close()
