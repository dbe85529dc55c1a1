"""SessionConfig with the cookie and memory stores: cookies read from hand-built ASGI scopes and
written to real `Response` objects."""

import base64
import hashlib
import subprocess
import sys
import time
from typing import Any

import pydantic_core
import pytest
from itsdangerous import TimestampSigner

import lanner.sessions
from lanner.responses import Response
from lanner.sessions import (
    CookieSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionConfig,
    SessionStore,
    SessionTooLarge,
)
from lanner.sessions import stores as stores_module
from lanner.sessions.config import BROWSER_SESSION_LIFETIME, MAX_COOKIE_SIZE

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_scope(cookie: str | None = None, scheme: str = "http", **extra: Any) -> dict[str, Any]:
    headers = [(b"host", b"example.com")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {"type": "http", "method": "GET", "scheme": scheme, "path": "/", "headers": headers, **extra}


def set_cookies(response: Response) -> list[str]:
    return [value.decode("latin-1") for name, value in response.raw_headers if name == b"set-cookie"]


def only_set_cookie(response: Response) -> str:
    headers = set_cookies(response)
    assert len(headers) == 1, headers
    return headers[0]


def cookie_value(header: str, name: str = "session") -> str:
    pair = header.split(";", 1)[0]
    key, _, value = pair.partition("=")
    assert key == name
    return value


def attributes(header: str) -> list[str]:
    return [part.strip() for part in header.split(";")[1:]]


async def commit(config: SessionConfig, session: Session, scope: dict[str, Any] | None = None) -> Response:
    response = Response("ok")
    await config.commit(session, scope or make_scope(), response)
    return response


async def round_trip(config: SessionConfig, values: dict[str, Any]) -> str:
    """Save a new session holding `values`; return the cookie header to send back."""
    session = await config.load(make_scope())
    session.update(values)
    response = await commit(config, session)
    return f"{config.cookie_name}={cookie_value(only_set_cookie(response), config.cookie_name)}"


# --- the Session mapping -------------------------------------------------------------------


def test_session_starts_unmodified() -> None:
    session = Session({"a": 1}, session_id="sid")
    assert session == {"a": 1}
    assert session.session_id == "sid"
    assert not session.modified
    assert session.previous_id is None
    assert list(session) == ["a"]
    assert repr(session) == "Session({'a': 1}, modified=False)"
    assert session.get("a") == 1
    assert "a" in session


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.clear(),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("b", 2),
        lambda s: s.update(b=2),
        lambda s: s.__ior__({"b": 2}),
        lambda s: s.regenerate(),
    ],
)
def test_every_change_marks_the_session_modified(change: Any) -> None:
    session = Session({"a": 1})
    change(session)
    assert session.modified


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.clear() if not s else None,
        lambda s: s.pop("missing", None),
        lambda s: s.setdefault("a", 2),
    ],
)
def test_no_op_changes_leave_the_session_unmodified(read: Any) -> None:
    session = Session({"a": 1})
    read(session)
    assert not session.modified
    empty = Session()
    empty.clear()
    assert not empty.modified


def test_in_place_or_returns_the_session() -> None:
    session = Session()
    session |= {"a": 1}
    assert isinstance(session, Session)
    assert session == {"a": 1}
    assert session.modified


def test_regenerate_keeps_the_first_previous_id() -> None:
    session = Session({"a": 1}, session_id="first")
    session.regenerate()
    second = session.session_id
    assert second is not None and second != "first"
    assert len(second) == 43
    session.regenerate()
    assert session.session_id not in ("first", second)
    assert session.previous_id == "first"
    assert session == {"a": 1}
    cookie_session = Session({"a": 1})
    cookie_session.regenerate()
    assert cookie_session.previous_id is None
    assert cookie_session.modified


def test_popitem_and_pop_of_missing_keys_raise() -> None:
    with pytest.raises(KeyError):
        Session().popitem()
    with pytest.raises(KeyError):
        Session().pop("missing")


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": []}, "secret_key"),
        ({"secret_key": ["new", ""]}, "secret_key"),
        ({"secret_key": "k", "cookie_name": "bad name"}, "cookie name"),
        ({"secret_key": "k", "cookie_name": ""}, "cookie name"),
        ({"secret_key": "k", "max_age": 0}, "max_age"),
        ({"secret_key": "k", "same_site": "sometimes"}, "same_site"),
        ({"secret_key": "k", "same_site": "none", "secure": False}, "Secure"),
        ({"secret_key": "k", "path": "/a;b"}, "path"),
        ({"secret_key": "k", "domain": "example.com\r\nx"}, "domain"),
    ],
)
def test_invalid_configuration_raises_value_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionConfig(**kwargs)


def test_defaults() -> None:
    config = SessionConfig("k")
    assert isinstance(config.store, CookieSessionStore)
    assert config.cookie_name == "session"
    assert config.max_age == 14 * 24 * 3600
    assert (config.path, config.domain, config.same_site) == ("/", None, "lax")
    assert config.http_only is True
    assert config.secure is None


def test_missing_itsdangerous_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "itsdangerous", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[sessions\]'"):
        SessionConfig("k")


def test_importing_the_package_loads_no_optional_dependency() -> None:
    code = (
        "import sys, lanner.sessions; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('itsdangerous', 'redis')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_public_names() -> None:
    assert set(lanner.sessions.__all__) == {
        "Session",
        "SessionConfig",
        "SessionStore",
        "CookieSessionStore",
        "MemorySessionStore",
        "RedisSessionStore",
        "SessionTooLarge",
        "flash",
        "get_flashed_messages",
        "csrf_token",
        "verify_csrf_token",
    }
    assert issubclass(SessionTooLarge, ValueError)


# --- reading the cookie ---------------------------------------------------------------------


def test_has_cookie() -> None:
    config = SessionConfig("k")
    assert config.has_cookie(make_scope("session=abc"))
    assert config.has_cookie(make_scope("theme=dark; session=abc"))
    assert not config.has_cookie(make_scope())
    assert not config.has_cookie(make_scope("theme=dark"))
    assert not config.has_cookie(make_scope("session="))
    assert not config.has_cookie(make_scope("sessionx=abc"))
    assert not config.has_cookie({"type": "http"})
    # HTTP/2 clients may send one cookie per header line.
    scope = make_scope("theme=dark")
    scope["headers"].append((b"cookie", b"session=abc"))
    assert config.has_cookie(scope)


async def test_oversized_cookie_header_is_no_session() -> None:
    config = SessionConfig("k")
    cookie = await round_trip(config, {"user": 1})
    scope = make_scope(cookie + "; junk=" + "x" * (64 * 1024))
    assert not config.has_cookie(scope)
    assert await config.load(scope) == {}


async def test_new_session_is_empty_and_unmodified() -> None:
    config = SessionConfig("k")
    session = await config.load(make_scope())
    assert session == {}
    assert not session.modified
    assert set_cookies(await commit(config, session)) == []


# --- cookie store round trip ----------------------------------------------------------------


async def test_cookie_store_round_trip() -> None:
    config = SessionConfig("k")
    session = await config.load(make_scope())
    session["user"] = {"id": 7, "name": "Zoë"}
    session["cart"] = [1, 2, 3]
    response = await commit(config, session)
    header = only_set_cookie(response)
    assert attributes(header) == ["Max-Age=1209600", "Path=/", "HttpOnly", "SameSite=Lax"]
    assert not session.modified

    loaded = await config.load(make_scope(f"session={cookie_value(header)}"))
    assert loaded == {"user": {"id": 7, "name": "Zoë"}, "cart": [1, 2, 3]}
    assert not loaded.modified
    assert loaded.session_id is None
    # Reading costs nothing: no Set-Cookie for an unchanged session.
    assert set_cookies(await commit(config, loaded)) == []


async def test_cookie_value_is_signed_json_readable_by_the_client() -> None:
    config = SessionConfig("k")
    cookie = await round_trip(config, {"a": 1})
    value = cookie.split("=", 1)[1]
    payload, _timestamp, signature = value.split(".")
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == b'{"a":1}'
    assert len(signature) == 43  # HMAC-SHA256, base64url
    signer = TimestampSigner("k", salt="lanner.session", digest_method=hashlib.sha256)
    assert signer.unsign(value) == payload.encode("ascii")


def test_load_sync_with_the_cookie_store() -> None:
    config = SessionConfig("k", store=MemorySessionStore())
    assert config.load_sync(make_scope()) == {}
    assert SessionConfig("k").load_sync(make_scope("session=nonsense")) == {}


async def test_load_sync_round_trip() -> None:
    config = SessionConfig("k")
    cookie = await round_trip(config, {"a": [1]})
    assert config.load_sync(make_scope(cookie)) == {"a": [1]}


async def test_tampered_cookie_gives_empty_session() -> None:
    config = SessionConfig("k")
    cookie = await round_trip(config, {"role": "user"})
    value = cookie.split("=", 1)[1]
    payload, timestamp, signature = value.split(".")
    forged_payload = base64.urlsafe_b64encode(b'{"role":"admin"}').rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (
        f"{forged_payload}.{timestamp}.{signature}",
        f"{payload}.{timestamp}.{flipped}",
        f"{payload}.{timestamp}",
        f"{payload}..{signature}",
        "garbage",
        "a.b.c",
        "é.ü.ß",
        '"quoted\\054value"',
    ):
        session = await config.load(make_scope(f"session={bad}"))
        assert session == {}, bad
        assert not session.modified
    assert await SessionConfig("other key").load(make_scope(cookie)) == {}


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", b"\xff\xfe", b'"text"'])
async def test_cookie_store_refuses_a_payload_that_is_not_a_json_object(raw: bytes) -> None:
    store = CookieSessionStore()
    assert await store.load(base64.urlsafe_b64encode(raw).decode()) == {}


@pytest.mark.parametrize("value", ["%%%", "A", "é", ""])
def test_cookie_store_refuses_values_that_are_not_base64(value: str) -> None:
    assert CookieSessionStore().load_sync(value) == {}


async def test_expired_cookie_gives_empty_session(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SessionConfig("k", max_age=60)
    cookie = await round_trip(config, {"a": 1})
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 59)
    assert await config.load(make_scope(cookie)) == {"a": 1}
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 62)
    assert await config.load(make_scope(cookie)) == {}
    # A timestamp from the future is refused too.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 10)
    assert await config.load(make_scope(cookie)) == {}


async def test_browser_session_cookie_has_no_max_age_but_still_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SessionConfig("k", max_age=None)
    session = await config.load(make_scope())
    session["a"] = 1
    header = only_set_cookie(await commit(config, session))
    assert not any(part.startswith(("Max-Age", "Expires")) for part in attributes(header))
    cookie = f"session={cookie_value(header)}"
    assert await config.load(make_scope(cookie)) == {"a": 1}
    later = int(time.time()) + BROWSER_SESSION_LIFETIME + 2
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert await config.load(make_scope(cookie)) == {}


async def test_key_rotation() -> None:
    old_cookie = await round_trip(SessionConfig("old"), {"a": 1})
    rotated = SessionConfig(["new", "old"])
    session = await rotated.load(make_scope(old_cookie))
    assert session == {"a": 1}
    session["b"] = 2
    new_cookie = f"session={cookie_value(only_set_cookie(await commit(rotated, session)))}"
    # Signed with the first key: accepted by the new key alone, refused by the old one alone.
    assert await SessionConfig("new").load(make_scope(new_cookie)) == {"a": 1, "b": 2}
    assert await SessionConfig("old").load(make_scope(new_cookie)) == {}
    assert await SessionConfig(("new",)).load(make_scope(old_cookie)) == {}


async def test_oversized_session_raises_session_too_large() -> None:
    config = SessionConfig("k")
    session = await config.load(make_scope())
    session["blob"] = "x" * 5000
    response = Response("ok")
    with pytest.raises(SessionTooLarge) as info:
        await config.commit(session, make_scope(), response)
    # '{"blob":"xxx..."}' is 5,011 bytes, 6,682 in base64; then ".timestamp.signature" and the name.
    assert str(info.value) == (
        "The session cookie 'session' would be 6,741 bytes, over the 4,096-byte limit browsers keep: "
        "store less in the session or use a server-side store (RedisSessionStore)"
    )
    assert MAX_COOKIE_SIZE == 4096
    assert set_cookies(response) == []


async def test_session_up_to_the_limit_is_sent() -> None:
    config = SessionConfig("k")
    # 3,016 x's: 3,027 bytes of JSON, 4,036 of base64, 4,095 with the name, timestamp and signature.
    session = Session({"blob": "x" * 3016})
    session.modified = True
    header = only_set_cookie(await commit(config, session))
    assert len(header.split(";")[0]) == 4095
    oversized = Session({"blob": "x" * 3017})
    oversized.modified = True
    with pytest.raises(SessionTooLarge, match=r"would be 4,097 bytes, over the 4,096-byte limit"):
        await commit(config, oversized)


async def test_unserialisable_value_raises_at_commit() -> None:
    config = SessionConfig("k")
    session = Session()
    session["when"] = object()
    with pytest.raises(pydantic_core.PydanticSerializationError):
        await commit(config, session)


# --- cookie attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "secure", "expected"),
    [
        ("http", None, False),
        ("https", None, True),
        ("ws", None, False),
        ("wss", None, True),
        ("https", False, False),
        ("http", True, True),
    ],
)
async def test_secure_attribute(scheme: str, secure: bool | None, expected: bool) -> None:
    config = SessionConfig("k", secure=secure)
    session = Session({"a": 1})
    session.modified = True
    header = only_set_cookie(await commit(config, session, make_scope(scheme=scheme)))
    assert ("Secure" in attributes(header)) is expected


async def test_domain_path_same_site_http_only() -> None:
    config = SessionConfig(
        "k",
        cookie_name="sid",
        domain="example.com",
        path="/app",
        same_site="Strict",
        http_only=False,
        max_age=3600,
    )
    session = Session()
    session["a"] = 1
    header = only_set_cookie(await commit(config, session))
    assert header.startswith("sid=")
    assert attributes(header) == ["Max-Age=3600", "Path=/app", "Domain=example.com", "SameSite=Strict"]
    cookie = f"sid={cookie_value(header, 'sid')}"
    assert await config.load(make_scope(cookie)) == {"a": 1}
    assert await config.load(make_scope(cookie.replace("sid=", "session="))) == {}


async def test_same_site_none_is_secure_on_https() -> None:
    config = SessionConfig("k", same_site="none")
    session = Session({"a": 1})
    session.modified = True
    header = only_set_cookie(await commit(config, session, make_scope(scheme="https")))
    assert "SameSite=None" in attributes(header)
    assert "Secure" in attributes(header)


# --- clearing and regenerating --------------------------------------------------------------


async def test_cleared_session_deletes_the_cookie() -> None:
    config = SessionConfig("k", domain="example.com", path="/app")
    cookie = await round_trip(config, {"user": 1})
    session = await config.load(make_scope(cookie))
    session.clear()
    header = only_set_cookie(await commit(config, session, make_scope(cookie)))
    assert header.startswith("session=;") or header.startswith('session="";')
    assert "Max-Age=0" in attributes(header)
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in attributes(header)
    assert "Path=/app" in attributes(header)
    assert "Domain=example.com" in attributes(header)
    assert not session.modified


async def test_emptied_session_without_a_cookie_sends_nothing() -> None:
    config = SessionConfig("k")
    session = await config.load(make_scope())
    session["a"] = 1
    del session["a"]
    assert session.modified
    assert set_cookies(await commit(config, session)) == []


async def test_regenerated_cookie_session_gets_a_fresh_cookie() -> None:
    config = SessionConfig("k")
    cookie = await round_trip(config, {"user": 1})
    session = await config.load(make_scope(cookie))
    session.regenerate()
    header = only_set_cookie(await commit(config, session, make_scope(cookie)))
    assert await config.load(make_scope(f"session={cookie_value(header)}")) == {"user": 1}


# --- memory store ---------------------------------------------------------------------------


async def test_memory_store_round_trip() -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store)
    session = await config.load(make_scope())
    session["user"] = 42
    header = only_set_cookie(await commit(config, session))
    session_id = session.session_id
    assert session_id is not None
    assert len(store) == 1
    value = cookie_value(header)
    # The cookie carries the signed id, not the data.
    assert value.split(".")[0] == session_id
    # Not "42": a random id contains those two characters now and then.
    assert "user" not in value

    loaded = await config.load(make_scope(f"session={value}"))
    assert loaded == {"user": 42}
    assert loaded.session_id == session_id
    assert config.load_sync(make_scope(f"session={value}")) == {"user": 42}
    # The data is a copy: changing the loaded session without committing changes nothing stored.
    loaded["user"] = 43
    assert await config.load(make_scope(f"session={value}")) == {"user": 42}


async def test_memory_store_refuses_unsigned_and_unknown_ids() -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store)
    cookie = await round_trip(config, {"a": 1})
    session_id = cookie.split("=", 1)[1].split(".")[0]
    assert await config.load(make_scope(f"session={session_id}")) == {}
    await store.delete(session_id)
    unknown = await config.load(make_scope(cookie))
    assert unknown == {}
    assert unknown.session_id is None
    await store.delete(session_id)  # deleting twice is fine


async def test_memory_store_regenerate_deletes_the_old_id() -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store)
    cookie = await round_trip(config, {"user": 1})
    session = await config.load(make_scope(cookie))
    old_id = session.session_id
    assert old_id is not None
    session.regenerate()
    header = only_set_cookie(await commit(config, session, make_scope(cookie)))
    assert session.session_id != old_id
    assert session.previous_id is None
    assert await store.load(old_id) == {}
    assert len(store) == 1
    assert await config.load(make_scope(cookie)) == {}
    assert await config.load(make_scope(f"session={cookie_value(header)}")) == {"user": 1}


async def test_memory_store_clear_deletes_data_and_cookie() -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store)
    cookie = await round_trip(config, {"user": 1})
    session = await config.load(make_scope(cookie))
    session.clear()
    header = only_set_cookie(await commit(config, session, make_scope(cookie)))
    assert "Max-Age=0" in header
    assert len(store) == 0
    assert session.session_id is None


async def test_memory_store_regenerate_then_clear_deletes_both_ids() -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store)
    cookie = await round_trip(config, {"user": 1})
    session = await config.load(make_scope(cookie))
    session.regenerate()
    session.clear()
    await commit(config, session, make_scope(cookie))
    assert len(store) == 0


async def test_memory_store_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemorySessionStore()
    config = SessionConfig("k", store=store, max_age=60)
    cookie = await round_trip(config, {"a": 1})
    now = time.monotonic()
    monkeypatch.setattr(stores_module, "monotonic", lambda: now + 59)
    assert await config.load(make_scope(cookie)) == {"a": 1}
    monkeypatch.setattr(stores_module, "monotonic", lambda: now + 61)
    assert await config.load(make_scope(cookie)) == {}
    assert len(store) == 0


async def test_memory_store_sweeps_expired_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemorySessionStore()
    now = time.monotonic()
    for _ in range(40):
        await store.save(Session({"a": 1}), 10)
    monkeypatch.setattr(stores_module, "monotonic", lambda: now + 20)
    for _ in range(24):
        await store.save(Session({"b": 2}), 10)
    # The 64th entry triggered a sweep of the 40 expired ones.
    assert len(store) == 24


async def test_memory_store_ignores_corrupt_data() -> None:
    store = MemorySessionStore()
    session_id = await store.save(Session({"a": 1}), 60)
    store._entries[session_id] = (time.monotonic() + 60, b"[1]")
    assert await store.load(session_id) == {}


# --- the store interface --------------------------------------------------------------------


class ListStore(SessionStore):
    """A store of our own, to check what SessionConfig asks of the interface."""

    def __init__(self) -> None:
        self.saved: list[tuple[dict[str, Any], int]] = []
        self.deleted: list[str] = []
        self.closed = False

    async def load(self, value: str) -> Session:
        data, _ = self.saved[int(value)]
        return Session(data, session_id=value)

    async def save(self, session: Session, max_age: int) -> str:
        self.saved.append((dict(session), max_age))
        session.session_id = str(len(self.saved) - 1)
        return session.session_id

    async def delete(self, session_id: str) -> None:
        self.deleted.append(session_id)

    async def aclose(self) -> None:
        self.closed = True


async def test_custom_store_gets_verified_values_and_the_lifetime() -> None:
    store = ListStore()
    config = SessionConfig("k", store=store, max_age=300)
    cookie = await round_trip(config, {"a": 1})
    assert store.saved == [({"a": 1}, 300)]
    assert cookie.split("=", 1)[1].startswith("0.")
    session = await config.load(make_scope(cookie))
    assert session == {"a": 1}
    assert session.session_id == "0"
    with pytest.raises(RuntimeError, match="ListStore sessions are loaded asynchronously"):
        config.load_sync(make_scope(cookie))
    await config.aclose()
    assert store.closed


async def test_default_aclose_does_nothing() -> None:
    await SessionConfig("k").aclose()
    await MemorySessionStore().aclose()


async def test_load_sync_refuses_the_redis_store() -> None:
    store = RedisSessionStore()
    config = SessionConfig("k", store=store)
    try:
        with pytest.raises(RuntimeError) as info:
            config.load_sync(make_scope())
        assert str(info.value) == (
            "RedisSessionStore sessions are loaded asynchronously: declare `session: Session` on the route"
        )
        with pytest.raises(RuntimeError, match="asynchronously"):
            store.load_sync("id")
    finally:
        await config.aclose()
