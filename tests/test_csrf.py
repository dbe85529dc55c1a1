"""CSRF tokens bound to the session: masked per call, verified in constant time."""

import base64
import hmac
import re
from typing import Any

import pytest

from lanner.responses import Response
from lanner.sessions import Session, SessionConfig, csrf_token, verify_csrf_token
from lanner.sessions import csrf as csrf_module

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_token_is_url_safe_and_verifies() -> None:
    session = Session()
    token = csrf_token(session)
    assert URL_SAFE.fullmatch(token)
    assert len(token) == 86
    assert verify_csrf_token(session, token)


def test_first_token_stores_a_secret_later_ones_do_not_change_it() -> None:
    session = Session()
    first = csrf_token(session)
    assert session.modified
    secret = session["_csrf_token"]
    session.modified = False
    second = csrf_token(session)
    # Masked anew on each call (BREACH), over the same secret.
    assert second != first
    assert session["_csrf_token"] == secret
    assert not session.modified
    assert verify_csrf_token(session, first)
    assert verify_csrf_token(session, second)


def test_masking_hides_the_secret() -> None:
    session = Session()
    token = csrf_token(session)
    raw = base64.urlsafe_b64decode(token + "==")
    secret = base64.urlsafe_b64decode(session["_csrf_token"] + "=")
    mask, masked = raw[:32], raw[32:]
    assert secret not in raw
    assert bytes(a ^ b for a, b in zip(mask, masked, strict=True)) == secret


@pytest.mark.parametrize(
    "token",
    [None, "", "short", "A" * 85, "A" * 87, "!" * 86, "é" * 86, "A" * 84 + "==", b"bytes"],
)
def test_missing_or_malformed_tokens_fail(token: Any) -> None:
    session = Session()
    csrf_token(session)
    assert not verify_csrf_token(session, token)


def test_a_random_token_of_the_right_shape_fails() -> None:
    session = Session()
    csrf_token(session)
    other = csrf_token(Session())
    assert len(other) == 86
    assert not verify_csrf_token(session, other)


def test_token_of_another_session_fails_both_ways() -> None:
    alice, mallory = Session(), Session()
    alice_token, mallory_token = csrf_token(alice), csrf_token(mallory)
    assert not verify_csrf_token(alice, mallory_token)
    assert not verify_csrf_token(mallory, alice_token)


def test_session_without_a_secret_verifies_nothing_and_stays_unchanged() -> None:
    issued = csrf_token(Session())
    session = Session({"user": 1})
    assert not verify_csrf_token(session, issued)
    assert not session.modified
    assert "_csrf_token" not in session


def test_a_corrupt_stored_secret_is_replaced() -> None:
    for corrupt in ("not base64!", "c2hvcnQ", 12345):
        session = Session({"_csrf_token": corrupt})
        assert not verify_csrf_token(session, csrf_token(Session()))
        token = csrf_token(session)
        assert session["_csrf_token"] != corrupt
        assert verify_csrf_token(session, token)


def test_clearing_the_session_invalidates_its_tokens() -> None:
    session = Session()
    token = csrf_token(session)
    session.clear()
    assert not verify_csrf_token(session, token)
    assert not verify_csrf_token(session, csrf_token(Session()))


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(left: bytes, right: bytes) -> bool:
        calls.append((left, right))
        return real(left, right)

    monkeypatch.setattr(csrf_module.hmac, "compare_digest", spy)
    session = Session()
    token = csrf_token(session)
    assert verify_csrf_token(session, token)
    assert not verify_csrf_token(session, csrf_token(Session()))
    assert len(calls) == 2
    assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in calls)


async def test_token_survives_the_cookie_round_trip() -> None:
    config = SessionConfig("k")
    session = await config.load({"type": "http", "headers": []})
    token = csrf_token(session)
    response = Response("form")
    await config.commit(session, {"type": "http", "scheme": "http", "headers": []}, response)
    (set_cookie,) = [value for name, value in response.raw_headers if name == b"set-cookie"]
    cookie = set_cookie.split(b";", 1)[0]
    next_session = await config.load({"type": "http", "headers": [(b"cookie", cookie)]})
    assert verify_csrf_token(next_session, token)
    assert verify_csrf_token(next_session, csrf_token(next_session))
    assert not next_session.modified
