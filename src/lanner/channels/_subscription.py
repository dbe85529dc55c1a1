"""`Subscription`: one subscriber's bounded queue of messages; the errors; the backend interface."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Literal

from lanner.channels._codec import decode_message

__all__ = [
    "Backend",
    "ChannelsConnectionError",
    "ChannelsError",
    "Policy",
    "SlowSubscriberError",
    "Subscription",
    "SubscriptionClosed",
]

#: What happens when a subscriber's queue is full and another message arrives.
Policy = Literal["drop_oldest", "disconnect"]


class ChannelsError(Exception):
    """The base of the errors `lanner.channels` raises."""


class SlowSubscriberError(ChannelsError):
    """A subscriber with the ``"disconnect"`` policy fell `max_queue` messages behind.

    Raised by its next `Subscription.get` (and so out of ``async for``); the subscription receives
    nothing more.
    """


class ChannelsConnectionError(ChannelsError):
    """The backend cannot be reached, or the connection that delivered messages was lost.

    Raised by `Channels.publish` and `Channels.subscribe` when Redis cannot be reached, and by a
    subscription's `Subscription.get` (after the messages it had already received) when its
    connection dropped. A new subscription connects again.
    """


class SubscriptionClosed(ChannelsError):
    """`Subscription.get` was called on a subscription that ended normally.

    A subscription ends when its ``async with`` block is left or its `Channels` is closed;
    ``async for`` then simply stops.
    """


class Subscription:
    """The messages published on some channels since the subscription started, in order.

    Made by `Channels.subscribe`; iterate it (``async for message in sub``) or call `get`. Each
    subscriber has its own queue of at most `max_queue` messages. When it is full, the
    ``"drop_oldest"`` policy drops the oldest queued message to make room (counted in `dropped`);
    the ``"disconnect"`` policy discards the queue and ends the subscription: the next `get`
    raises `SlowSubscriberError`. Messages are decoded when taken out of the queue, so every
    subscriber gets its own copy of a JSON message.

    Attributes:
        channels: the channel names subscribed to.
        max_queue: how many received messages may wait to be taken out.
        policy: ``"drop_oldest"`` or ``"disconnect"``.
        dropped: how many messages this subscriber lost because its queue was full.
    """

    __slots__ = (
        "_ended",
        "_error",
        "_queue",
        "_wakeup",
        "backend_state",
        "channels",
        "dropped",
        "max_queue",
        "policy",
    )

    def __init__(self, channels: tuple[str, ...], max_queue: int, policy: Policy) -> None:
        self.channels = channels
        self.max_queue = max_queue
        self.policy: Policy = policy
        self.dropped = 0
        #: Whatever the backend keeps about this subscriber (the Redis connection it joined).
        self.backend_state: Any = None
        self._queue: deque[tuple[str, bytes]] = deque()
        self._wakeup = asyncio.Event()
        self._error: ChannelsError | None = None
        self._ended = False

    def __repr__(self) -> str:
        return f"Subscription({', '.join(map(repr, self.channels))}, queued={len(self._queue)})"

    @property
    def queued(self) -> int:
        """How many received messages wait to be taken out."""
        return len(self._queue)

    @property
    def active(self) -> bool:
        """Whether messages are still delivered to this subscription."""
        return not self._ended and self._error is None

    def deliver(self, channel: str, payload: bytes) -> None:
        """Queue an encoded message (called by the backend), applying the policy when full."""
        if self._ended or self._error is not None:
            return
        queue = self._queue
        if len(queue) >= self.max_queue:
            if self.policy == "disconnect":
                self.dropped += len(queue) + 1
                queue.clear()
                self.fail(
                    SlowSubscriberError(
                        f"the subscriber to {', '.join(self.channels)} fell {self.max_queue} messages "
                        "behind and was disconnected"
                    )
                )
                return
            queue.popleft()
            self.dropped += 1
        queue.append((channel, payload))
        self._wakeup.set()

    def fail(self, error: ChannelsError) -> None:
        """End the subscription with `error`, raised once the queued messages are taken out."""
        if self._error is None and not self._ended:
            self._error = error
            self._wakeup.set()

    def close(self) -> None:
        """End the subscription normally: iteration stops after the queued messages."""
        self._ended = True
        self._wakeup.set()

    async def get_item(self, timeout: float | None = None) -> tuple[str, Any]:
        """Wait for the next message and return ``(channel name, message)``.

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Raises:
            TimeoutError: no message came within `timeout`.
            SlowSubscriberError: the ``"disconnect"`` policy ended the subscription.
            ChannelsConnectionError: the connection delivering messages was lost.
            SubscriptionClosed: the subscription ended (its block was left, or Channels closed).
        """
        if not self._queue and not self._ended and self._error is None:
            if timeout is None:
                await self._wait()
            else:
                async with asyncio.timeout(timeout):
                    await self._wait()
        if self._queue:
            channel, payload = self._queue.popleft()
            return channel, decode_message(payload)
        if self._error is not None:
            # A fresh traceback each time: raised again by every later get, it must not grow.
            raise self._error.with_traceback(None)
        raise SubscriptionClosed(f"the subscription to {', '.join(self.channels)} has ended")

    async def get(self, timeout: float | None = None) -> Any:
        """Wait for the next message and return it (str, bytes, or parsed JSON).

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Raises:
            TimeoutError: no message came within `timeout`.
            SlowSubscriberError: the ``"disconnect"`` policy ended the subscription.
            ChannelsConnectionError: the connection delivering messages was lost.
            SubscriptionClosed: the subscription ended (its block was left, or Channels closed).
        """
        return (await self.get_item(timeout))[1]

    async def _wait(self) -> None:
        while not self._queue and not self._ended and self._error is None:
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        try:
            return (await self.get_item())[1]
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def items(self) -> AsyncIterator[tuple[str, Any]]:
        """Iterate over ``(channel name, message)`` pairs, for a subscription to several channels.

        Raises:
            SlowSubscriberError: the ``"disconnect"`` policy ended the subscription.
            ChannelsConnectionError: the connection delivering messages was lost.
        """
        while True:
            try:
                item = await self.get_item()
            except SubscriptionClosed:
                return
            yield item


class Backend(ABC):
    """How `Channels` moves messages: within this process, or through Redis between processes."""

    @abstractmethod
    async def publish(self, channel: str, payload: bytes) -> None:
        """Send an encoded message to every subscriber of `channel`."""

    @abstractmethod
    async def subscribe(self, subscription: Subscription) -> None:
        """Start delivering to `subscription`; return once a message published next would reach it."""

    @abstractmethod
    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to `subscription` (without waiting: safe while being cancelled)."""

    @abstractmethod
    async def aclose(self) -> None:
        """End every subscription and close the connections; a later use connects again."""
