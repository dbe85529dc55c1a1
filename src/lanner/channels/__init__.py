"""Publish/subscribe: messages on named channels, across connections and worker processes.

``channels = Channels("memory")`` reaches the subscribers of this process; ``Channels("redis://...")``
those of every process using that Redis server (``pip install 'lanner[redis]'``). Publish with
``await channels.publish("room:1", message)``; receive with
``async with channels.subscribe("room:1") as sub: async for message in sub: ...``. Importing this
package does not load redis: a Redis backend imports it when built.
"""

from lanner.channels._channels import Channels
from lanner.channels._subscription import (
    Backend,
    ChannelsConnectionError,
    ChannelsError,
    Policy,
    SlowSubscriberError,
    Subscription,
    SubscriptionClosed,
)
from lanner.channels.memory import MemoryBackend
from lanner.channels.redis import RedisBackend

__all__ = [
    "Backend",
    "Channels",
    "ChannelsConnectionError",
    "ChannelsError",
    "MemoryBackend",
    "Policy",
    "RedisBackend",
    "SlowSubscriberError",
    "Subscription",
    "SubscriptionClosed",
]
