"""lanner.channels: the memory backend, and the Redis backend against a real redis-server.

The behaviour both backends share runs in both modes (the `pair` fixture); with Redis, the
publisher and the subscriber are two `Channels` instances, as two worker processes would be.
"""

import asyncio
import dataclasses
import datetime
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pydantic
import pytest
import redis

from lanner import Depends, Lanner
from lanner.channels import (
    Channels,
    ChannelsConnectionError,
    MemoryBackend,
    RedisBackend,
    SlowSubscriberError,
    Subscription,
    SubscriptionClosed,
)
from lanner.channels._codec import decode_message, encode_message
from lanner.testing import TestClient
from tests.conftest import free_port
from tests.redis_support import running_redis

pytestmark = pytest.mark.anyio

WAIT = 5.0  # bound on every wait for a message that should come


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@pytest.fixture(scope="module")
def direct(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at the server and to publish as a foreign client would."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def channel() -> str:
    """A channel name of this test only (the Redis server is shared by the module)."""
    return f"salle:é:{uuid.uuid4().hex}"


Factory = Any  # (**options) -> (publisher, subscriber); both are closed after the test


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    opened: list[Channels] = []

    def make(**options: Any) -> tuple[Channels, Channels]:
        if request.param == "memory":
            one = Channels(**options)
            opened.append(one)
            return one, one
        url = request.getfixturevalue("redis_url")
        publisher, subscriber = Channels(url, **options), Channels(url, **options)
        opened.extend((publisher, subscriber))
        return publisher, subscriber

    yield make
    for instance in opened:
        await instance.aclose()


async def wait_for(subscription: Subscription, message: Any) -> None:
    """Take messages out of `subscription` until `message` (raising if it does not come)."""
    while await subscription.get(timeout=WAIT) != message:
        pass


# -- semantics shared by both backends -----------------------------------------------------------


async def test_fan_out_to_every_subscriber(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    await publisher.publish(channel, "before anyone listens")
    async with subscriber.subscribe(channel) as a, subscriber.subscribe(channel) as b:
        async with subscriber.subscribe(channel) as c:
            await publisher.publish(channel, "one")
            assert [await s.get(timeout=WAIT) for s in (a, b, c)] == ["one"] * 3
        await publisher.publish(channel, "two")
        assert [await s.get(timeout=WAIT) for s in (a, b)] == ["two"] * 2
        assert c.queued == 0
        assert not c.active


MESSAGES: list[Any] = [
    "text, é ☃",
    "",
    b"\x00\x01\xffbytes",
    b"",
    {"user": "ada", "n": [1, 2.5, None, True]},
    [1, "two"],
    42,
    None,
]


async def test_payloads_round_trip(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    async with subscriber.subscribe(channel) as sub:
        for message in MESSAGES:
            await publisher.publish(channel, message)
        received = [await sub.get(timeout=WAIT) for _ in MESSAGES]
    assert received == MESSAGES
    assert [type(value) for value in received] == [type(value) for value in MESSAGES]


class Note(pydantic.BaseModel):
    text: str
    at: datetime.datetime


@dataclasses.dataclass
class Point:
    x: int
    y: int


async def test_models_arrive_as_parsed_json(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    at = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    async with subscriber.subscribe(channel) as sub:
        await publisher.publish(channel, Note(text="hi", at=at))
        await publisher.publish(channel, Point(1, 2))
        await publisher.publish(channel, bytearray(b"ba"))
        assert await sub.get(timeout=WAIT) == {"text": "hi", "at": "2026-01-02T03:04:05Z"}
        assert await sub.get(timeout=WAIT) == {"x": 1, "y": 2}
        assert await sub.get(timeout=WAIT) == b"ba"


async def test_each_subscriber_gets_its_own_copy(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    message = {"members": ["ada"]}
    async with subscriber.subscribe(channel) as a, subscriber.subscribe(channel) as b:
        await publisher.publish(channel, message)
        message["members"].append("changed after publishing")
        first = await a.get(timeout=WAIT)
        first["members"].append("changed by a")
        assert await b.get(timeout=WAIT) == {"members": ["ada"]}


async def test_several_channels_in_one_subscription(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    other, unrelated = channel + ":other", channel + ":unrelated"
    async with subscriber.subscribe(channel, other, channel) as sub:
        assert sub.channels == (channel, other)
        await publisher.publish(unrelated, "not for us")
        await publisher.publish(channel, 1)
        await publisher.publish(other, 2)
        assert await sub.get_item(timeout=WAIT) == (channel, 1)
        assert await sub.get_item(timeout=WAIT) == (other, 2)
        await publisher.publish(other, "last")
        items = sub.items()
        assert await anext(items) == (other, "last")
        await items.aclose()
        with pytest.raises(TimeoutError):
            await sub.get(timeout=0.05)


async def test_leaving_the_block_unsubscribes_and_ends_iteration(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    async with subscriber.subscribe(channel) as sub:
        await publisher.publish(channel, "kept")
        await wait_for(sub, "kept")
    await publisher.publish(channel, "after")
    with pytest.raises(SubscriptionClosed):
        await sub.get(timeout=WAIT)
    assert [message async for message in sub] == []
    assert [item async for item in sub.items()] == []


async def test_aclose_ends_iteration_after_the_queued_messages(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair()
    received: list[Any] = []
    entered = asyncio.Event()

    async def listen() -> None:
        async with subscriber.subscribe(channel) as sub:
            entered.set()
            async for message in sub:
                received.append(message)

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(entered.wait(), WAIT)
    async with subscriber.subscribe(channel) as probe:
        await publisher.publish(channel, "last words")
        await wait_for(probe, "last words")  # so the listener has it queued too
    await subscriber.aclose()
    await asyncio.wait_for(listener, WAIT)
    assert received == ["last words"]
    # The instance connects again when used after closing.
    async with subscriber.subscribe(channel) as sub:
        await publisher.publish(channel, "again")
        assert await sub.get(timeout=WAIT) == "again"


async def test_drop_oldest_keeps_the_newest_and_counts(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair(max_queue=3)
    async with subscriber.subscribe(channel) as slow, subscriber.subscribe(channel) as fast:
        for n in range(5):
            await publisher.publish(channel, n)
            assert await fast.get(timeout=WAIT) == n  # the fast one keeps up
        assert slow.queued == 3
        assert slow.dropped == 2
        assert [await slow.get(timeout=WAIT) for _ in range(3)] == [2, 3, 4]
        assert slow.active
        await publisher.publish(channel, 5)
        assert await slow.get(timeout=WAIT) == 5
        assert slow.dropped == fast.dropped + 2 == 2


async def test_disconnect_policy_ends_the_slow_subscriber_only(pair: Factory, channel: str) -> None:
    publisher, subscriber = pair(max_queue=2, policy="disconnect")
    async with subscriber.subscribe(channel) as slow, subscriber.subscribe(channel) as fast:
        for n in range(3):
            await publisher.publish(channel, n)
            assert await fast.get(timeout=WAIT) == n
        assert not slow.active
        assert slow.queued == 0  # its queue is freed at once
        assert slow.dropped == 3
        with pytest.raises(SlowSubscriberError, match="fell 2 messages behind"):
            async for _ in slow:
                pass
        await publisher.publish(channel, 3)
        assert await fast.get(timeout=WAIT) == 3
        with pytest.raises(SlowSubscriberError):
            await slow.get(timeout=WAIT)


# -- the memory backend --------------------------------------------------------------------------


async def test_memory_is_the_default_and_forgets_empty_channels() -> None:
    async with Channels() as channels:
        assert isinstance(channels.backend, MemoryBackend)
        assert repr(channels) == "Channels(MemoryBackend, max_queue=1024, policy='drop_oldest')"
        async with channels.subscribe("a", "b") as sub:
            assert repr(sub) == "Subscription('a', 'b', queued=0)"
            assert set(channels.backend._routes) == {"a", "b"}
        assert channels.backend._routes == {}


async def test_waiting_subscriber_is_woken_by_a_publish() -> None:
    async with Channels() as channels, channels.subscribe("a") as sub:
        waiter = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        assert not waiter.done()
        await channels.publish("a", "wake")
        assert await asyncio.wait_for(waiter, WAIT) == "wake"


async def test_the_first_ending_of_a_subscription_wins() -> None:
    closed = Subscription(("a",), 10, "drop_oldest")
    closed.close()
    closed.fail(ChannelsConnectionError("too late"))
    closed.deliver("a", encode_message("too late"))
    assert [message async for message in closed] == []

    failed = Subscription(("a",), 10, "drop_oldest")
    failed.deliver("a", encode_message("queued"))
    failed.fail(ChannelsConnectionError("first"))
    failed.fail(ChannelsConnectionError("second"))
    failed.close()
    assert await failed.get() == "queued"
    for _ in range(2):  # raised again by every later get
        with pytest.raises(ChannelsConnectionError, match=r"^first$"):
            await failed.get()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="backend must be 'memory' or a redis:// URL"):
        Channels("postgres://x")
    with pytest.raises(ValueError, match="max_queue must be at least 1"):
        Channels(max_queue=0)
    with pytest.raises(ValueError, match="policy must be"):
        Channels(policy="block")  # type: ignore[arg-type]
    channels = Channels()
    with pytest.raises(ValueError, match="at least one channel"):
        channels.subscribe()
    with pytest.raises(ValueError, match="non-empty str"):
        channels.subscribe("")
    with pytest.raises(ValueError, match="valid Unicode"):
        channels.subscribe("ok", "\ud800")
    with pytest.raises(ValueError, match="non-empty str"):
        asyncio.run(channels.publish(b"room", "x"))  # type: ignore[arg-type]


def test_foreign_payloads_arrive_as_bytes() -> None:
    assert decode_message(b"hello") == b"hello"
    assert decode_message(b"") == b""
    assert decode_message(b"\x00\xff") == b"\x00\xff"  # tagged text that is not UTF-8
    assert decode_message(b"\x02{nope") == b"\x02{nope"
    assert encode_message("é") == b"\x00\xc3\xa9"
    assert encode_message({"a": 1}) == b'\x02{"a":1}'


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[redis\]'"):
        Channels("redis://localhost:6379/0")


closed_channels: list[Channels] = []


async def get_channels() -> AsyncIterator[Channels]:
    async with Channels() as channels:
        yield channels
    closed_channels.append(channels)


@pytest.mark.anyio(False)
def test_app_scoped_dependency_is_shared_and_closed_at_shutdown() -> None:
    app = Lanner()
    AppChannels = Annotated[Channels, Depends(get_channels, scope="app")]

    @app.get("/echo/{text}")
    async def echo(text: str, channels: AppChannels) -> dict[str, Any]:
        async with channels.subscribe("echo") as sub:
            await channels.publish("echo", {"text": text})
            return {"id": id(channels), "got": await sub.get(timeout=WAIT)}

    closed_channels.clear()
    with TestClient(app) as client:
        first = client.get("/echo/a").json()
        second = client.get("/echo/b").json()
        assert first["got"] == {"text": "a"}
        assert second["got"] == {"text": "b"}
        assert first["id"] == second["id"]
        assert closed_channels == []
    assert [id(channels) for channels in closed_channels] == [first["id"]]


# -- the Redis backend ---------------------------------------------------------------------------


async def test_a_publish_right_after_subscribing_is_never_missed(redis_url: str) -> None:
    async with Channels(redis_url) as publisher, Channels(redis_url) as subscriber:
        for n in range(20):
            name = f"fresh:{uuid.uuid4().hex}"
            async with subscriber.subscribe(name) as sub:
                await publisher.publish(name, n)
                assert await sub.get(timeout=WAIT) == n


async def test_concurrent_subscribers_share_one_confirmed_subscription(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as publisher, Channels(redis_url) as subscriber:
        # Enter together: the second joins a subscription whose confirmation is still pending.
        first_ctx, second_ctx = subscriber.subscribe(channel), subscriber.subscribe(channel)
        first, second = await asyncio.gather(first_ctx.__aenter__(), second_ctx.__aenter__())
        await publisher.publish(channel, "both")
        assert await first.get(timeout=WAIT) == await second.get(timeout=WAIT) == "both"
        assert direct.pubsub_numsub(channel) == [(channel.encode(), 1)]
        await first_ctx.__aexit__(None, None, None)
        await second_ctx.__aexit__(None, None, None)


async def test_one_pubsub_connection_per_instance_and_unused_channels_are_released(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as channels:
        names = [f"{channel}:{n}" for n in range(5)]
        async with channels.subscribe(names[0]) as sub:
            for name in names:
                async with channels.subscribe(name):
                    pass
            pubsub_clients = [c for c in direct.client_list(_type="pubsub") if c["sub"] != "0"]
            assert len(pubsub_clients) == 1
            await channels.publish(names[0], "still here")
            assert await sub.get(timeout=WAIT) == "still here"
            # A later SUBSCRIBE is confirmed only after the UNSUBSCRIBEs queued before it.
            async with channels.subscribe(channel + ":barrier"):
                counts = dict(direct.pubsub_numsub(*names))
        assert counts == {names[0].encode(): 1, **{name.encode(): 0 for name in names[1:]}}


async def test_cancelled_subscribe_leaves_nothing_subscribed(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as channels:
        async with channels.subscribe(channel + ":warm"):
            pass  # connected: the next subscribe waits only for its confirmation

        async def enter() -> None:
            async with channels.subscribe(channel):
                raise AssertionError("cancelled before entering")

        task = asyncio.create_task(enter())
        await asyncio.sleep(0)  # the task waits for the confirmation now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert isinstance(channels.backend, RedisBackend)
        link = channels.backend._link
        assert link is not None
        assert channel.encode() not in link.routes
        async with channels.subscribe(channel + ":barrier"):
            assert direct.pubsub_numsub(channel) == [(channel.encode(), 0)]
        # SUBSCRIBE, UNSUBSCRIBE, SUBSCRIBE: the second waits for the second confirmation.
        task = asyncio.create_task(enter())
        await asyncio.sleep(0)
        task.cancel()
        async with channels.subscribe(channel) as sub:
            assert direct.pubsub_numsub(channel) == [(channel.encode(), 1)]
            await channels.publish(channel, "subscribed")
            assert await sub.get(timeout=WAIT) == "subscribed"
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_closing_while_a_subscription_waits_for_confirmation_ends_it(
    redis_url: str, channel: str
) -> None:
    channels = Channels(redis_url)
    async with channels.subscribe(channel + ":warm"):
        pass
    received: list[Any] = []

    async def listen() -> None:
        async with channels.subscribe(channel) as sub:
            received.extend([message async for message in sub])

    task = asyncio.create_task(listen())
    await asyncio.sleep(0)  # the task waits for the confirmation now
    await channels.aclose()
    await asyncio.wait_for(task, WAIT)
    assert received == []


async def test_a_foreign_publisher_is_received_as_bytes(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as channels, channels.subscribe(channel) as sub:
        direct.publish(channel, "plain text")
        assert await sub.get(timeout=WAIT) == b"plain text"


async def test_a_lost_connection_ends_subscriptions_with_an_error(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as publisher, Channels(redis_url) as subscriber:
        both = subscriber.subscribe(channel + ":2", channel + ":3")
        async with subscriber.subscribe(channel) as sub, both as other:
            await publisher.publish(channel, "queued before the drop")
            async with subscriber.subscribe(channel) as probe:
                await wait_for(probe, "queued before the drop")
            assert direct.client_kill_filter(_type="pubsub") >= 1
            assert await sub.get(timeout=WAIT) == "queued before the drop"
            lost = "connection to Redis was lost: ConnectionError: "
            with pytest.raises(ChannelsConnectionError, match=lost):
                await sub.get(timeout=WAIT)
            with pytest.raises(ChannelsConnectionError):
                async for _ in other:
                    pass
        # A new subscription opens a new connection.
        async with subscriber.subscribe(channel) as sub:
            await publisher.publish(channel, "reconnected")
            assert await sub.get(timeout=WAIT) == "reconnected"


async def test_a_connection_lost_while_subscribing_is_raised(
    redis_url: str, direct: redis.Redis, channel: str
) -> None:
    async with Channels(redis_url) as channels:
        async with channels.subscribe(channel + ":warm"):
            pass

        async def enter() -> None:
            async with channels.subscribe(channel):
                raise AssertionError("the connection was lost before the confirmation")

        task = asyncio.create_task(enter())
        await asyncio.sleep(0)  # the task waits for the confirmation now
        assert direct.client_kill_filter(_type="pubsub") >= 1  # blocks the loop: nothing was sent yet
        with pytest.raises(ChannelsConnectionError, match="connection to Redis was lost"):
            await asyncio.wait_for(task, WAIT)
        async with channels.subscribe(channel) as sub:
            await channels.publish(channel, "after")
            assert await sub.get(timeout=WAIT) == "after"


async def test_an_unreachable_server_is_reported() -> None:
    channels = Channels(f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(channels.backend, RedisBackend)
    with pytest.raises(ChannelsConnectionError, match="cannot connect to Redis"):
        async with channels.subscribe("a"):
            pass
    with pytest.raises(ChannelsConnectionError, match="cannot publish to Redis"):
        await channels.publish("a", "x")
    await channels.aclose()
