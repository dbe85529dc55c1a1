"""`RedisBackend`: channels shared by every process connected to one Redis server.

Each `Channels` keeps one pub/sub connection, shared by all its subscribers in this process: a
channel is subscribed in Redis while at least one local subscriber wants it, and what Redis sends
is fanned out to the local subscribers by channel name. A reader task takes everything off that
connection; a writer task sends the SUBSCRIBE and UNSUBSCRIBE commands in the order they were
asked for, so leaving a subscription never has to wait (and is safe while being cancelled).
Publishing goes through an ordinary connection pool.

The pub/sub connection does not reconnect by itself: when it drops, every subscriber through it
receives the messages already queued and then `ChannelsConnectionError`; the next subscription
opens a new connection. (A silent gap in a conversation is worse than a visible error.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from lanner.channels._subscription import Backend, ChannelsConnectionError, Subscription

__all__ = ["RedisBackend"]


class _Route:
    """The local subscribers of one Redis channel, and whether Redis confirmed the subscription."""

    __slots__ = ("name", "ready", "subscribers")

    def __init__(self, name: str, ready: asyncio.Future[None]) -> None:
        self.name = name
        self.ready = ready
        self.subscribers: set[Subscription] = set()


class _Link:
    """One pub/sub connection, what is subscribed through it, and its reader and writer tasks."""

    __slots__ = (
        "client",
        "closing",
        "commands",
        "error",
        "pending",
        "pubsub",
        "reader",
        "routes",
        "writer",
    )

    def __init__(self, client: Any, pubsub: Any) -> None:
        self.client = client
        self.pubsub = pubsub
        self.routes: dict[bytes, _Route] = {}
        # Per channel, the futures of the SUBSCRIBE commands sent and not yet confirmed, oldest
        # first: Redis confirms each command once, in order, even when it was already subscribed.
        self.pending: dict[bytes, deque[asyncio.Future[None]]] = {}
        self.commands: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
        self.error: ChannelsConnectionError | None = None
        # Checked by the reader and the writer after each await: on Python 3.11, redis-py's use
        # of asyncio.wait_for can swallow a cancellation that lands as a command completes.
        self.closing = False
        self.reader: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def settle(self) -> None:
        """Wake every subscriber waiting for a confirmation (the link is going away)."""
        for waiting in self.pending.values():
            for future in waiting:
                future.set_result(None)
        self.pending.clear()


class RedisBackend(Backend):
    """Deliver messages through Redis pub/sub, to subscribers in every process using the server.

    Args:
        url: the Redis server, e.g. ``redis://localhost:6379/0`` (``rediss://`` for TLS).

    Raises:
        ImportError: the redis package is missing (``pip install 'lanner[redis]'``).
    """

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio
            import redis.exceptions
        except ImportError as exc:
            raise ImportError(
                "Channels with a Redis backend needs the redis package: pip install 'lanner[redis]'"
            ) from exc
        self.url = url
        self._redis: Any = redis.asyncio
        self._errors: tuple[type[Exception], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            OSError,
        )
        self._client: Any = None
        self._link: _Link | None = None
        self._connecting = asyncio.Lock()

    async def publish(self, channel: str, payload: bytes) -> None:
        """PUBLISH `payload` on `channel`.

        Raises:
            ChannelsConnectionError: Redis cannot be reached.
            redis.exceptions.RedisError: Redis answered with an error.
        """
        if self._client is None:
            self._client = self._redis.from_url(self.url)
        try:
            await self._client.publish(channel, payload)
        except self._errors as exc:
            raise ChannelsConnectionError(f"cannot publish to Redis: {exc}") from exc

    async def subscribe(self, subscription: Subscription) -> None:
        """Add `subscription` to the shared connection; return once Redis confirmed its channels.

        Raises:
            ChannelsConnectionError: Redis cannot be reached, or the connection dropped meanwhile.
        """
        link = await self._connect()
        subscription.backend_state = link
        loop = asyncio.get_running_loop()
        new: list[str] = []
        waits: set[asyncio.Future[None]] = set()
        for name in subscription.channels:
            key = name.encode("utf-8")
            route = link.routes.get(key)
            if route is None:
                route = link.routes[key] = _Route(name, loop.create_future())
                link.pending.setdefault(key, deque()).append(route.ready)
                new.append(name)
            route.subscribers.add(subscription)
            if not route.ready.done():
                waits.add(route.ready)
        if new:
            link.commands.put_nowait(("SUBSCRIBE", new))
        try:
            # asyncio.wait, not gather: a cancelled waiter must not cancel a future others share.
            if waits:
                await asyncio.wait(waits)
            if link.error is not None:
                raise ChannelsConnectionError(*link.error.args) from link.error.__cause__
        except BaseException:
            self.unsubscribe(subscription)
            raise

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove `subscription`; UNSUBSCRIBE (in the background) the channels nobody wants now."""
        joined, subscription.backend_state = subscription.backend_state, None
        link = self._link
        if link is None or joined is not link:
            return  # never subscribed, or through a connection since lost or closed
        gone: list[str] = []
        for name in subscription.channels:
            key = name.encode("utf-8")
            route = link.routes[key]
            route.subscribers.discard(subscription)
            if not route.subscribers:
                del link.routes[key]
                gone.append(name)
        if gone:
            link.commands.put_nowait(("UNSUBSCRIBE", gone))

    async def aclose(self) -> None:
        """End every subscription and close the pub/sub connection and the publishing pool."""
        link, self._link = self._link, None
        if link is not None:
            link.settle()
            for route in link.routes.values():
                for subscription in route.subscribers:
                    subscription.close()
            link.routes.clear()
            await self._stop(link)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _connect(self) -> _Link:
        link = self._link
        if link is not None:
            return link
        async with self._connecting:
            if self._link is not None:
                return self._link
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # No retries, and no error counted as retryable (so no reconnection attempt either):
            # redis-py would reconnect and resubscribe behind our back, from the reader and the
            # writer at once, and the confirmations that brings would be taken for others.
            client = self._redis.from_url(self.url, retry=Retry(NoBackoff(), 0, supported_errors=()))
            pubsub = client.pubsub()
            try:
                await pubsub.connect()
            except self._errors as exc:
                await pubsub.aclose()
                await client.aclose()
                raise ChannelsConnectionError(f"cannot connect to Redis: {exc}") from exc
            link = _Link(client, pubsub)
            link.reader = asyncio.create_task(self._read(link), name="lanner.channels reader")
            link.writer = asyncio.create_task(self._write(link), name="lanner.channels writer")
            self._link = link
            return link

    async def _read(self, link: _Link) -> None:
        pubsub = link.pubsub
        try:
            while not link.closing:
                message = await pubsub.get_message(timeout=None)
                kind = None if message is None else message["type"]
                if kind == "message":
                    route = link.routes.get(message["channel"])
                    if route is not None:
                        # PERF: the payload stays encoded here; each subscriber decodes what it
                        # takes out, so a message dropped from a full queue costs no parsing.
                        for subscription in route.subscribers:
                            subscription.deliver(route.name, message["data"])
                elif kind == "subscribe":
                    waiting = link.pending.get(message["channel"])
                    if waiting:  # else a confirmation from before a reconnection attempt
                        waiting.popleft().set_result(None)
                        if not waiting:
                            del link.pending[message["channel"]]
        except Exception as exc:
            await self._lose(link, exc)

    async def _write(self, link: _Link) -> None:
        pubsub = link.pubsub
        try:
            while not link.closing:
                command, names = await link.commands.get()
                if command == "SUBSCRIBE":
                    await pubsub.subscribe(*names)
                else:
                    await pubsub.unsubscribe(*names)
        except Exception as exc:
            await self._lose(link, exc)

    async def _lose(self, link: _Link, exc: Exception) -> None:
        """The connection failed: end its subscriptions with an error, and forget it."""
        if link.error is not None:
            return
        error = ChannelsConnectionError(f"the connection to Redis was lost: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        link.error = error
        if self._link is link:
            self._link = None
        link.settle()
        for route in link.routes.values():
            for subscription in route.subscribers:
                if subscription.active:  # one error each: tracebacks are not shared between tasks
                    lost = ChannelsConnectionError(*error.args)
                    lost.__cause__ = exc
                    subscription.fail(lost)
        link.routes.clear()
        await self._stop(link)

    async def _stop(self, link: _Link) -> None:
        link.closing = True
        current = asyncio.current_task()
        tasks = [task for task in (link.reader, link.writer) if task is not None and task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        with contextlib.suppress(*self._errors):
            await link.pubsub.aclose()
        with contextlib.suppress(*self._errors):
            await link.client.aclose()
