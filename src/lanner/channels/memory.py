"""`MemoryBackend`: channels within one process (one worker), with nothing to install or run."""

from __future__ import annotations

from lanner.channels._subscription import Backend, Subscription

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Deliver messages to the subscribers of this process only.

    Enough for one worker and for tests; with several workers, each has its own subscribers and
    a message reaches only those of the worker it was published in (use Redis then).
    """

    def __init__(self) -> None:
        self._routes: dict[str, set[Subscription]] = {}

    async def publish(self, channel: str, payload: bytes) -> None:
        """Queue `payload` for every subscriber of `channel` in this process."""
        for subscription in self._routes.get(channel, ()):
            subscription.deliver(channel, payload)

    async def subscribe(self, subscription: Subscription) -> None:
        """Start delivering to `subscription` (at once: nothing to confirm)."""
        for channel in subscription.channels:
            self._routes.setdefault(channel, set()).add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to `subscription`."""
        for channel in subscription.channels:
            subscribers = self._routes.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._routes[channel]

    async def aclose(self) -> None:
        """End every subscription."""
        routes, self._routes = self._routes, {}
        for subscribers in routes.values():
            for subscription in subscribers:
                subscription.close()
