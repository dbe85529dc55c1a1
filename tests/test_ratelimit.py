"""lanner.ratelimit with the memory store: rates, GCRA's exact bounds, headers, keys, failures.

A controllable clock is injected into `MemoryStore`, so every count here is deterministic.
"""

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from lanner import Depends, HTTPException, Lanner, Request, Router
from lanner.ratelimit import (
    Decision,
    MemoryStore,
    Rate,
    RateLimit,
    RateLimitStore,
    RateLimitStoreError,
    client_ip,
    parse_rate,
    user,
)
from lanner.ratelimit._gcra import gcra
from lanner.ratelimit.keys import MAX_KEY_LENGTH, bounded_key
from lanner.responses import JSONResponse, Response
from lanner.testing import TestClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock=clock)


def limited_app(*limits: RateLimit) -> Lanner:
    app = Lanner()

    @app.get("/limited", dependencies=[Depends(limit) for limit in limits])
    async def limited() -> str:
        return "ok"

    return app


def statuses(client: TestClient, count: int, path: str = "/limited", **kwargs: Any) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(count)]


# -- rates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "period", "name"),
    [
        ("100/minute", 100, 60, "100-per-minute"),
        ("1/second", 1, 1, "1-per-second"),
        ("5/seconds", 5, 1, "5-per-second"),
        ("1000/hour", 1000, 3600, "1000-per-hour"),
        ("2/day", 2, 86400, "2-per-day"),
        ("10/5 minutes", 10, 300, "10-per-5-minutes"),
        ("10/5 minute", 10, 300, "10-per-5-minutes"),
        (" 3 / 2 Hours ", 3, 7200, "3-per-2-hours"),
        ("7 per minute", 7, 60, "7-per-minute"),
    ],
)
def test_rates_parse(text: str, limit: int, period: int, name: str) -> None:
    rate = parse_rate(text)
    assert (rate.limit, rate.period_us, rate.name) == (limit, period * 1_000_000, name)
    assert rate.period_seconds == period
    assert rate.capacity_us == rate.limit * rate.interval_us <= rate.period_us


@pytest.mark.parametrize(
    "text",
    [
        "",
        "100",
        "abc",
        "100/",
        "/minute",
        "0/minute",
        "10/0 minutes",
        "10/fortnight",
        "-1/minute",
        "1.5/minute",
        "10/minute/x",
        "10/minutes please",
        "2000000/second",
        "10/m",
    ],
)
def test_invalid_rates_raise_at_construction(text: str) -> None:
    with pytest.raises(ValueError, match="invalid rate"):
        parse_rate(text)
    with pytest.raises(ValueError, match="invalid rate"):
        RateLimit(text)


def test_invalid_limit_arguments() -> None:
    with pytest.raises(ValueError, match="at least one rate"):
        RateLimit()
    with pytest.raises(ValueError, match="same rate twice"):
        RateLimit("10/minute", "10/minutes")
    with pytest.raises(ValueError, match="on_store_error"):
        RateLimit("10/minute", on_store_error="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        RateLimit("10/minute", key="client_ip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_keys"):
        MemoryStore(max_keys=0)
    with pytest.raises(ValueError, match="sweep_interval"):
        MemoryStore(sweep_interval=-1)


def test_an_uneven_period_still_allows_exactly_the_limit() -> None:
    rate = parse_rate("7/minute")  # 60 s / 7 is not a whole number of microseconds
    decision, tats = gcra([0], 0, [rate])
    admitted = 0
    now = 5_000_000
    state = [0]
    while True:
        decision, tats = gcra(state, now, [rate])
        if tats is None:
            break
        state = tats
        admitted += 1
    assert admitted == 7
    assert decision.retry_after_us == rate.interval_us


# -- GCRA through an app -----------------------------------------------------------------------------


def test_exactly_n_then_429_then_one_per_interval_then_full_refill(clock: Clock, store: MemoryStore) -> None:
    app = limited_app(RateLimit("5/minute", store=store))  # one request every 12 s
    with TestClient(app) as client:
        assert statuses(client, 6) == [200] * 5 + [429]
        clock.advance(11.9)
        refused = client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"  # 0.1 s, rounded up
        clock.advance(0.1)
        assert statuses(client, 2) == [200, 429]
        clock.advance(24)
        assert statuses(client, 3) == [200, 200, 429]
        clock.advance(60)
        assert statuses(client, 6) == [200] * 5 + [429]


def test_refused_requests_do_not_count(clock: Clock, store: MemoryStore) -> None:
    app = limited_app(RateLimit("2/second", store=store))
    with TestClient(app) as client:
        assert statuses(client, 2) == [200, 200]
        assert statuses(client, 50) == [429] * 50
        clock.advance(0.5)
        assert statuses(client, 2) == [200, 429]


def test_successful_responses_carry_the_ratelimit_headers(clock: Clock, store: MemoryStore) -> None:
    app = limited_app(RateLimit("100/minute", store=store))
    with TestClient(app) as client:
        first = client.get("/limited")
        assert first.headers["ratelimit-policy"] == '"100-per-minute";q=100;w=60'
        assert first.headers["ratelimit"] == '"100-per-minute";r=99;t=1'
        for _ in range(49):
            response = client.get("/limited")
        assert response.headers["ratelimit"] == '"100-per-minute";r=50;t=30'
        clock.advance(6)  # ten intervals of 0.6 s refill ten requests
        assert client.get("/limited").headers["ratelimit"] == '"100-per-minute";r=59;t=25'


def test_headers_can_be_turned_off(store: MemoryStore) -> None:
    app = limited_app(RateLimit("1/minute", store=store, headers=False))
    with TestClient(app) as client:
        response = client.get("/limited")
        assert response.status_code == 200
        assert "ratelimit" not in response.headers
        refused = client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers["ratelimit"] == '"1-per-minute";r=0;t=60'


# -- the 429 answer ----------------------------------------------------------------------------------


def test_the_429_is_a_problem_document_with_retry_after_and_ratelimit_headers(
    clock: Clock, store: MemoryStore
) -> None:
    app = limited_app(RateLimit("3/minute", store=store))
    with TestClient(app) as client:
        statuses(client, 3)
        clock.advance(2.5)
        refused = client.get("/limited")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Rate limit exceeded (3-per-minute)",
    }
    assert refused.headers["retry-after"] == "18"  # 20 s interval, 2.5 s gone: 17.5 rounded up
    assert refused.headers["ratelimit-policy"] == '"3-per-minute";q=3;w=60'
    assert refused.headers["ratelimit"] == '"3-per-minute";r=0;t=18'


def test_browsers_get_an_html_429_page(store: MemoryStore) -> None:
    app = limited_app(RateLimit("1/minute", store=store))
    with TestClient(app) as client:
        client.get("/limited")
        refused = client.get("/limited", headers={"accept": "text/html,*/*;q=0.8"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "429 Too Many Requests" in refused.text
    assert refused.headers["retry-after"] == "60"


def test_the_apps_exception_handlers_answer_the_429(store: MemoryStore) -> None:
    app = limited_app(RateLimit("1/minute", store=store))

    @app.exception_handler(429)
    async def slow_down(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"slow": "down"}, 429, headers=exc.headers)

    with TestClient(app) as client:
        client.get("/limited")
        refused = client.get("/limited")
    assert refused.json() == {"slow": "down"}
    assert refused.headers["retry-after"] == "60"


# -- several limits ----------------------------------------------------------------------------------


def test_several_rates_in_one_limit_are_checked_together(clock: Clock, store: MemoryStore) -> None:
    app = limited_app(RateLimit("2/second", "3/minute", store=store))
    with TestClient(app) as client:
        assert statuses(client, 2) == [200, 200]
        per_second = client.get("/limited")
        assert per_second.status_code == 429
        assert per_second.headers["retry-after"] == "1"
        # The refused request counted against neither rate: one of the three per minute is left.
        assert per_second.headers["ratelimit"] == '"2-per-second";r=0;t=1, "3-per-minute";r=1;t=40'
        clock.advance(1)
        last = client.get("/limited")
        assert last.status_code == 200
        assert last.headers["ratelimit-policy"] == '"2-per-second";q=2;w=1, "3-per-minute";q=3;w=60'
        assert last.headers["ratelimit"] == '"2-per-second";r=1;t=1, "3-per-minute";r=0;t=19'
        per_minute = client.get("/limited")
        assert per_minute.status_code == 429
        assert per_minute.headers["retry-after"] == "19"  # the tighter rate now: the minute's


def test_two_limits_on_one_route_the_tighter_wins(clock: Clock, store: MemoryStore) -> None:
    app = limited_app(RateLimit("10/second", store=store), RateLimit("4/minute", store=store))
    with TestClient(app) as client:
        ok = client.get("/limited")
        assert ok.headers["ratelimit-policy"] == '"10-per-second";q=10;w=1, "4-per-minute";q=4;w=60'
        assert ok.headers["ratelimit"] == '"10-per-second";r=9;t=1, "4-per-minute";r=3;t=15'
        assert statuses(client, 4) == [200, 200, 200, 429]
        clock.advance(1)
        refused = client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"] == '"4-per-minute";q=4;w=60'
        assert refused.headers["retry-after"] == "14"


def test_router_and_app_level_limits(store: MemoryStore) -> None:
    app_limit = RateLimit("5/minute", store=store)
    router_limit = RateLimit("2/minute", store=store)
    app = Lanner(dependencies=[Depends(app_limit)])
    router = Router(prefix="/api", dependencies=[Depends(router_limit)])

    @router.get("/a")
    async def a() -> str:
        return "a"

    @router.get("/b")
    async def b() -> str:
        return "b"

    @app.get("/free")
    async def free() -> str:
        return "free"

    app.include_router(router)
    with TestClient(app) as client:
        # One router limit shared by its routes: two requests in all.
        assert [client.get(p).status_code for p in ("/api/a", "/api/b", "/api/a")] == [200, 200, 429]
        # The app's limit saw those three; two more pass anywhere.
        assert statuses(client, 3, "/free") == [200, 200, 429]


def test_route_option_rate_limit(store: MemoryStore) -> None:
    """``rate_limit=`` on the route decorator: one limit, or a list of them."""
    app = Lanner()

    @app.get("/one", rate_limit=RateLimit("2/minute", store=store))
    async def one() -> str:
        return "one"

    @app.get("/two", rate_limit=[RateLimit("5/minute", store=store), RateLimit("3/hour", store=store)])
    async def two() -> str:
        return "two"

    with TestClient(app) as client:
        assert statuses(client, 3, "/one") == [200, 200, 429]
        assert statuses(client, 4, "/two") == [200, 200, 200, 429]
        assert client.get("/two").headers["ratelimit-policy"] == '"3-per-hour";q=3;w=3600'


# -- buckets and keys --------------------------------------------------------------------------------


def test_clients_have_their_own_buckets(store: MemoryStore) -> None:
    app = limited_app(RateLimit("2/minute", store=store))
    with (
        TestClient(app, client=("10.0.0.1", 5000)) as first,
        TestClient(app, client=("10.0.0.2", 5000)) as second,
    ):
        assert statuses(first, 3) == [200, 200, 429]
        assert statuses(second, 3) == [200, 200, 429]


def test_each_limit_has_its_own_buckets_unless_they_share_a_scope(store: MemoryStore) -> None:
    app = Lanner()
    shared = [RateLimit("2/minute", store=store, scope="login") for _ in range(2)]

    @app.get("/a", dependencies=[Depends(RateLimit("2/minute", store=store))])
    async def a() -> str:
        return "a"

    @app.get("/b", dependencies=[Depends(RateLimit("2/minute", store=store))])
    async def b() -> str:
        return "b"

    @app.get("/c", dependencies=[Depends(shared[0])])
    async def c() -> str:
        return "c"

    @app.get("/d", dependencies=[Depends(shared[1])])
    async def d() -> str:
        return "d"

    with TestClient(app) as client:
        assert statuses(client, 3, "/a") == [200, 200, 429]
        assert statuses(client, 3, "/b") == [200, 200, 429]
        assert [client.get(p).status_code for p in ("/c", "/d", "/c", "/d")] == [200, 200, 429, 429]


def test_default_scopes_are_the_same_in_every_process() -> None:
    first = RateLimit("9/minute", "99/day", key=user)
    second = RateLimit("9/minute", "99/day", key=user)
    # Made of the rates, the key function's name and an ordinal: no address or process id.
    assert first.scope.startswith("9-per-minute+99-per-day:user#")
    assert int(second.scope.rsplit("#")[1]) == int(first.scope.rsplit("#")[1]) + 1
    assert RateLimit("9/minute", scope="named").scope == "named"


def test_client_ip_key() -> None:
    assert client_ip(Request({"type": "http", "client": ("203.0.113.9", 4000)})) == "203.0.113.9"
    assert client_ip(Request({"type": "http", "client": None})) == ""


class Account:
    def __init__(self, id: int | None = None, username: str | None = None) -> None:
        self.id = id
        self.username = username


@pytest.mark.parametrize(
    ("identity", "expected"),
    [("ana", "user:ana"), (42, "user:42"), (Account(id=7), "user:7"), (Account(username="bo"), "user:bo")],
)
def test_user_key_prefers_the_authenticated_identity(identity: object, expected: str) -> None:
    request = Request({"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"authorization", b"x")]})
    request.state.user = identity
    assert user(request) == expected


def test_user_key_falls_back_to_the_credentials_hash_then_the_ip() -> None:
    header = b"Bearer secret-token"
    with_auth = Request({"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"authorization", header)]})
    key = user(with_auth)
    assert key == "auth:" + hashlib.sha256(header).hexdigest()[:32]
    assert "secret" not in key
    anonymous = Request({"type": "http", "client": ("1.2.3.4", 1), "headers": []})
    assert user(anonymous) == "ip:1.2.3.4"
    nameless = Request({"type": "http", "client": ("1.2.3.4", 1), "headers": []})
    nameless.state.user = Account()  # neither id nor username
    assert user(nameless) == "ip:1.2.3.4"


def test_user_key_through_an_app(store: MemoryStore) -> None:
    def authenticate(request: Request) -> None:
        name = request.headers.get("x-user")
        if name:
            request.state.user = name

    app = Lanner()

    @app.get(
        "/me", dependencies=[Depends(authenticate), Depends(RateLimit("2/minute", key=user, store=store))]
    )
    async def me() -> str:
        return "me"

    with (
        TestClient(app, client=("10.0.0.1", 1)) as home,
        TestClient(app, client=("10.0.0.2", 1)) as office,
    ):
        # The same user from two addresses shares one bucket.
        assert [c.get("/me", headers={"x-user": "ana"}).status_code for c in (home, office, home)] == [
            200,
            200,
            429,
        ]
        # The same token from two addresses too; another token is another bucket.
        token = {"authorization": "Bearer one"}
        assert [c.get("/me", headers=token).status_code for c in (home, office, office)] == [200, 200, 429]
        assert home.get("/me", headers={"authorization": "Bearer two"}).status_code == 200
        # Anonymous clients are counted by address.
        assert statuses(home, 3, "/me") == [200, 200, 429]
        assert statuses(office, 1, "/me") == [200]


def test_custom_key_functions_sync_and_async(store: MemoryStore) -> None:
    def tenant(request: Request) -> str | None:
        return request.headers.get("x-tenant")

    async def api_key(request: Request) -> str:
        return request.query_params.get("key", "")

    def account_number(request: Request) -> int:  # not a string: used as str(key)
        return int(request.headers.get("x-account", "0"))

    class ByPath:
        async def __call__(self, request: Request) -> str:
            return request.url.path

    app = Lanner()

    @app.get("/t", dependencies=[Depends(RateLimit("1/minute", key=tenant, store=store))])
    async def t() -> str:
        return "t"

    @app.get("/k", dependencies=[Depends(RateLimit("1/minute", key=api_key, store=store))])
    async def k() -> str:
        return "k"

    @app.get("/n", dependencies=[Depends(RateLimit("1/minute", key=account_number, store=store))])
    async def n() -> str:
        return "n"

    @app.get("/p/{name}", dependencies=[Depends(RateLimit("1/minute", key=ByPath(), store=store))])
    async def p(name: str) -> str:
        return name

    with TestClient(app) as client:
        acme = {"x-tenant": "acme"}
        assert [client.get("/t", headers=h).status_code for h in (acme, acme, {"x-tenant": "b"})] == [
            200,
            429,
            200,
        ]
        # A key of None is not limited at all (and gets no headers).
        untracked = client.get("/t")
        assert untracked.status_code == 200
        assert "ratelimit" not in untracked.headers
        assert statuses(client, 3, "/t") == [200, 200, 200]
        assert [client.get(f"/k?key={k}").status_code for k in ("a", "a", "b")] == [200, 429, 200]
        assert [client.get(f"/p/{n}").status_code for n in ("x", "x", "y")] == [200, 429, 200]
        accounts = [{"x-account": a} for a in ("7", "7", "8")]
        assert [client.get("/n", headers=h).status_code for h in accounts] == [200, 429, 200]


class RecordingStore(RateLimitStore):
    """Admits everything and remembers the keys it was asked about."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def hit(self, key: str, rates: Sequence[Rate]) -> Decision:
        self.keys.append(key)
        return Decision(True, 0, tuple(rate.interval_us for rate in rates))


def test_long_keys_are_hashed() -> None:
    store = RecordingStore()
    app = limited_app(
        RateLimit("1/second", key=lambda request: request.headers["x-key"], store=store, scope="s")
    )
    with TestClient(app) as client:
        client.get("/limited", headers={"x-key": "k" * MAX_KEY_LENGTH})
        client.get("/limited", headers={"x-key": "k" * 5000})
        client.get("/limited", headers={"x-key": "k" * 5001})
    exact, long, longer = store.keys
    assert exact == "s:" + "k" * MAX_KEY_LENGTH
    assert long == "s:" + bounded_key("k" * 5000) and len(long) == 2 + 7 + 32
    assert long != longer
    assert bounded_key("k" * 5000).startswith("sha256:")


# -- when the store fails ----------------------------------------------------------------------------


class BrokenStore(RateLimitStore):
    async def hit(self, key: str, rates: Sequence[Rate]) -> Decision:
        raise RateLimitStoreError("connection refused")


def test_a_failing_store_fails_open_by_default_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = limited_app(RateLimit("1/minute", store=BrokenStore(), scope="open"))
    with caplog.at_level(logging.WARNING, logger="lanner.ratelimit"), TestClient(app) as client:
        responses = [client.get("/limited") for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "ratelimit" not in responses[0].headers
    warnings = [r for r in caplog.records if r.name == "lanner.ratelimit"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "allowing requests" in warnings[0].getMessage()
    assert "connection refused" in warnings[0].getMessage()


def test_a_failing_store_can_fail_closed(caplog: pytest.LogCaptureFixture) -> None:
    app = limited_app(RateLimit("1/minute", store=BrokenStore(), on_store_error="deny"))
    with caplog.at_level(logging.WARNING, logger="lanner.ratelimit"), TestClient(app) as client:
        responses = [client.get("/limited") for _ in range(3)]
    assert [r.status_code for r in responses] == [503] * 3
    assert responses[0].headers["content-type"] == "application/problem+json"
    assert responses[0].json()["detail"] == "Rate limiting is unavailable; try again later"
    assert len([r for r in caplog.records if r.name == "lanner.ratelimit"]) == 1


def test_the_warning_counts_the_failures_it_held_back(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lanner.ratelimit.limit

    monkeypatch.setattr(lanner.ratelimit.limit, "WARNING_INTERVAL", 0.0)
    app = limited_app(RateLimit("1/minute", store=BrokenStore()))
    with caplog.at_level(logging.WARNING, logger="lanner.ratelimit"), TestClient(app) as client:
        statuses(client, 2)
    assert [r.getMessage().count("(0 more failures") for r in caplog.records] == [1, 1]


# -- the memory store --------------------------------------------------------------------------------

SECOND = parse_rate("1/second")
MINUTE = parse_rate("1/minute")


def test_memory_store_sweeps_refilled_records(clock: Clock) -> None:
    store = MemoryStore(clock=clock, sweep_interval=10)
    for i in range(50):
        assert store.check(f"client{i}", [SECOND]).allowed
    assert store.check("steady", [MINUTE]).allowed
    assert len(store) == 51
    clock.advance(5)  # refilled, but no sweep is due yet
    store.check("another", [SECOND])
    assert len(store) == 52
    clock.advance(6)
    store.check("another", [SECOND])
    # The per-second records were dropped; the minute's record and the new one remain.
    assert len(store) == 2
    assert not store.check("steady", [MINUTE]).allowed


def test_memory_store_caps_its_records_dropping_the_least_recently_admitted(clock: Clock) -> None:
    store = MemoryStore(clock=clock, max_keys=3)
    rate = [parse_rate("2/minute")]
    for name in ("a", "b", "c", "a"):  # "a" is now the most recently admitted, and spent
        assert store.check(name, rate).allowed
    assert store.check("d", rate).allowed
    assert len(store) == 3
    assert not store.check("a", rate).allowed  # still counted
    # "b" was dropped (forgiven): it gets its whole burst of two again.
    assert store.check("b", rate).allowed
    assert store.check("b", rate).allowed
    assert not store.check("b", rate).allowed
    assert len(store) == 3


@pytest.mark.anyio
async def test_memory_store_hit_is_check(clock: Clock) -> None:
    store = MemoryStore(clock=clock)
    first = await store.hit("k", [parse_rate("2/minute")])
    assert first == Decision(True, 0, (30_000_000,))
    assert first.remaining(0, parse_rate("2/minute")) == 1
    await store.hit("k", [parse_rate("2/minute")])
    refused = await store.hit("k", [parse_rate("2/minute")])
    assert refused == Decision(False, 30_000_000, (60_000_000,))
    await store.aclose()


def test_the_real_clock_works() -> None:
    store = MemoryStore()
    app = limited_app(RateLimit("3/hour", store=store))
    with TestClient(app) as client:
        assert statuses(client, 4) == [200, 200, 200, 429]


def test_the_default_store_is_shared_by_the_process() -> None:
    first, second = RateLimit("1/minute"), RateLimit("1/hour")
    assert first.store is second.store
    assert isinstance(first.store, MemoryStore)
    assert "1-per-minute" in repr(first)


def test_one_rate_counts_exactly_as_gcra_does(clock: Clock) -> None:
    """The one-rate path of the memory store against `gcra`, request by request."""
    store = MemoryStore(clock=clock)
    rate = parse_rate("7/minute")  # an uneven interval
    tat = 0
    steps = [0.0, 0.0, 1.5, 0.0, 8.6, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 12.0, 0.001, 60.0, 0.0]
    for step in steps:
        clock.advance(step)
        now = round(clock.now * 1_000_000)
        expected, tats = gcra([tat], now, [rate])
        assert store.check("client", [rate]) == expected
        if tats is not None:
            tat = tats[0]
    assert len(store) == 1


def test_one_rate_and_several_rates_share_the_records_of_a_scope(clock: Clock, store: MemoryStore) -> None:
    app = Lanner()

    @app.get("/one", rate_limit=RateLimit("2/minute", store=store, scope="shared"))
    async def one() -> str:
        return "one"

    @app.get("/both", rate_limit=RateLimit("2/minute", "10/hour", store=store, scope="shared"))
    async def both() -> str:
        return "both"

    with TestClient(app) as client:
        assert client.get("/one").status_code == 200
        last = client.get("/both")
        assert last.headers["ratelimit"] == '"2-per-minute";r=0;t=30, "10-per-hour";r=9;t=360'
        assert client.get("/one").status_code == 429
    assert len(store) == 2  # testclient|2-per-minute and testclient|10-per-hour


def test_a_memory_store_subclass_that_overrides_check_is_asked(store: MemoryStore) -> None:
    class Counting(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[str] = []

        def check(self, key: str, rates: Sequence[Rate]) -> Decision:
            self.asked.append(key)
            return super().check(key, rates)

    counting = Counting()
    app = limited_app(RateLimit("2/minute", store=counting, scope="counted"))
    with TestClient(app, client=("10.0.0.7", 1)) as client:
        assert statuses(client, 3) == [200, 200, 429]
    assert counting.asked == ["counted:10.0.0.7"] * 3


@pytest.mark.anyio
async def test_the_default_key_of_a_request_without_a_client(store: MemoryStore) -> None:
    limit = RateLimit("1/minute", store=store, scope="anonymous")
    response = Response()
    response.raw_headers.clear()
    await limit(Request({"type": "http", "client": None}), response)
    assert response.raw_headers == [
        (b"ratelimit-policy", b'"1-per-minute";q=1;w=60'),
        (b"ratelimit", b'"1-per-minute";r=0;t=60'),
    ]
    with pytest.raises(HTTPException) as refused:
        await limit(Request({"type": "http"}), Response())
    assert refused.value.status_code == 429
    assert store.check("anonymous:", [parse_rate("1/minute")]).allowed is False


# -- headers a dependency sets on its Response parameter ----------------------------------------------


def test_the_limits_headers_replace_those_of_the_handlers_response(store: MemoryStore) -> None:
    app = Lanner()

    @app.get("/own", rate_limit=RateLimit("5/minute", store=store))
    async def own() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"RateLimit": "stale", "X-Kept": "yes"})

    with TestClient(app) as client:
        for remaining in (4, 3):  # the second request merges names seen before
            response = client.get("/own")
            assert response.headers.get_list("ratelimit") == [
                f'"5-per-minute";r={remaining};t={12 * (5 - remaining)}'
            ]
            assert response.headers["x-kept"] == "yes"
            assert response.headers["ratelimit-policy"] == '"5-per-minute";q=5;w=60'


def test_raw_headers_a_dependency_adds_are_checked_and_normalised() -> None:
    """Lines added to ``response.raw_headers`` arrive as ``response.headers[name] = value`` sets them."""
    app = Lanner()

    def add(lines: list[tuple[bytes, bytes]]) -> Any:
        def dependency(response: Response) -> None:
            response.raw_headers.extend(lines)

        return Depends(dependency)

    @app.get(
        "/fine",
        dependencies=[add([(b"X-Upper", b"v"), (b"x-dup", b"1"), (b"x-dup", b"2"), (b"x-tab", b"a\tb")])],
    )
    async def fine() -> str:
        return "fine"

    @app.get("/cookies", dependencies=[add([(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")])])
    async def cookies() -> str:
        return "cookies"

    @app.get("/length", dependencies=[add([(b"content-type", b"text/x-mine")])])
    async def length() -> str:
        return "length"

    @app.get("/bad-value", dependencies=[add([(b"x-dup", b"a\nb")])])
    async def bad_value() -> str:
        return "never sent"

    @app.get("/bad-name", dependencies=[add([(b"x bad", b"v")])])
    async def bad_name() -> str:
        return "never sent"

    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(2):  # the first request checks each name, the second takes the shortcut
            response = client.get("/fine")
            assert response.status_code == 200
            assert response.headers.get_list("x-upper") == ["v"]
            assert response.headers.get_list("x-dup") == ["2"]
            assert response.headers["x-tab"] == "a\tb"
            assert [name for name, _ in response.headers.raw if name.lower() == b"x-upper"] == [b"x-upper"]
            assert client.get("/cookies").headers.get_list("set-cookie") == ["a=1", "b=2"]
            assert client.get("/length").headers.get_list("content-type") == ["text/x-mine"]
            assert client.get("/bad-value").status_code == 500
            assert client.get("/bad-name").status_code == 500


# -- OpenAPI -----------------------------------------------------------------------------------------


def test_openapi_responses_describe_the_429() -> None:
    limit = RateLimit("10/minute")
    app = Lanner()

    @app.get("/documented", dependencies=[Depends(limit)], responses=limit.openapi_responses)
    async def documented() -> str:
        return "ok"

    response = app.openapi()["paths"]["/documented"]["get"]["responses"]["429"]
    assert response["description"].startswith("Too Many Requests")
    assert set(response["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    assert response["content"]["application/problem+json"]


def test_importing_the_package_does_not_import_redis() -> None:
    import subprocess
    import sys

    code = "import sys, lanner.ratelimit; print('redis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_openapi_document_lists_the_429_of_every_limit_on_the_way() -> None:
    router = Router(prefix="/r", dependencies=[Depends(RateLimit("100/minute"))])

    @router.get("/a")
    async def a() -> str:
        return "a"

    app = Lanner()
    app.include_router(router)

    @app.get("/b", rate_limit=RateLimit("5/second"))
    async def b() -> str:
        return "b"

    @app.get("/c")
    async def c() -> str:
        return "c"

    paths = app.openapi()["paths"]
    for path in ("/r/a", "/b"):
        entry = paths[path]["get"]["responses"]["429"]
        assert set(entry["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
        assert "application/problem+json" in entry["content"]
    assert "429" not in paths["/c"]["get"]["responses"]


def test_ipv6_clients_share_a_bucket_per_64_network() -> None:
    from lanner.ratelimit.keys import network_key

    assert network_key("2001:db8:1:2:aaaa::1") == network_key("2001:db8:1:2:ffff::9")
    assert network_key("2001:db8:1:2::1") != network_key("2001:db8:1:3::1")
    assert network_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert network_key("192.0.2.1") == "192.0.2.1"
    assert network_key("not:an:address") == "not:an:address"

    limit = RateLimit("2/minute")
    app = Lanner()

    @app.get("/", dependencies=[Depends(limit)])
    async def index() -> str:
        return "ok"

    codes = [
        TestClient(app, client=(f"2001:db8:1:2::{n}", 1)).get("/").status_code for n in range(1, 4)
    ] + [TestClient(app, client=("2001:db8:9:9::1", 1)).get("/").status_code]
    assert codes == [200, 200, 429, 200]


def test_a_full_memory_store_evicts_the_least_recently_admitted_in_constant_time() -> None:
    store = MemoryStore(max_keys=3)
    rate = parse_rate("10/minute")
    for name in ("a", "b", "c", "a", "d"):  # "a" admitted again before "d" arrives: "b" goes
        store.hit_one(name, rate)
    assert list(store._tats) == ["c", "a", "d"]
