"""Flash messages, with Flask's semantics: read once, all taken on the first read of a request."""

from typing import Any

import pytest

from lanner.responses import Response
from lanner.sessions import Session, SessionConfig, flash, get_flashed_messages

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scope(cookie: str | None) -> dict[str, Any]:
    headers = [] if cookie is None else [(b"cookie", cookie.encode("latin-1"))]
    return {"type": "http", "scheme": "http", "headers": headers}


async def next_request(config: SessionConfig, session: Session, cookie: str | None) -> tuple[Session, str]:
    """Commit `session` as a response would, then load it as the browser's next request."""
    response = Response("ok")
    await config.commit(session, scope(cookie), response)
    for name, value in response.raw_headers:
        if name == b"set-cookie":
            pair = value.decode("latin-1").split(";", 1)[0]
            cookie = None if "Max-Age=0" in value.decode("latin-1") else pair
    return await config.load(scope(cookie)), cookie or ""


def test_flash_stores_messages_in_order() -> None:
    session = Session()
    flash(session, "Saved")
    flash(session, "Disk almost full", "warning")
    assert session.modified
    assert get_flashed_messages(session) == ["Saved", "Disk almost full"]
    assert "_flashes" not in session


def test_with_categories_returns_tuples() -> None:
    session = Session()
    flash(session, "Saved")
    flash(session, "Bad password", "error")
    assert get_flashed_messages(session, with_categories=True) == [
        ("message", "Saved"),
        ("error", "Bad password"),
    ]


def test_same_list_on_every_call_of_one_request() -> None:
    session = Session()
    flash(session, "one")
    flash(session, "two", "info")
    first = get_flashed_messages(session)
    assert get_flashed_messages(session) == first == ["one", "two"]
    assert get_flashed_messages(session, with_categories=True) == [("message", "one"), ("info", "two")]


def test_category_filter_returns_only_those_but_takes_all() -> None:
    session = Session()
    flash(session, "Saved")
    flash(session, "Bad password", "error")
    flash(session, "Locked", "error")
    flash(session, "FYI", "info")
    assert get_flashed_messages(session, category_filter=["error"]) == ["Bad password", "Locked"]
    # Flask takes every message out on the first read, whatever the filter...
    assert "_flashes" not in session
    # ...and later calls in the same request still see the others.
    assert get_flashed_messages(session, with_categories=True, category_filter=("info", "message")) == [
        ("message", "Saved"),
        ("info", "FYI"),
    ]
    assert len(get_flashed_messages(session)) == 4


def test_no_messages_leaves_the_session_unchanged() -> None:
    session = Session({"user": 1})
    assert get_flashed_messages(session) == []
    assert get_flashed_messages(session, with_categories=True) == []
    assert not session.modified


def test_flash_after_reading_waits_for_the_next_read() -> None:
    session = Session()
    flash(session, "early")
    assert get_flashed_messages(session) == ["early"]
    flash(session, "late")
    assert get_flashed_messages(session) == ["early"]
    assert session["_flashes"] == [["message", "late"]]


def test_malformed_stored_flashes_are_ignored() -> None:
    assert get_flashed_messages(Session({"_flashes": "junk"})) == []
    session = Session({"_flashes": [["ok", "kept"], 5, ["short"], [1, "bad category"], ("tuple", "too")]})
    assert get_flashed_messages(session, with_categories=True) == [("ok", "kept"), ("tuple", "too")]
    replaced = Session({"_flashes": {"not": "a list"}})
    flash(replaced, "fresh")
    assert replaced["_flashes"] == [["message", "fresh"]]


async def test_messages_survive_one_redirect_and_are_read_once() -> None:
    config = SessionConfig("k")
    # Request 1: a form handler flashes and redirects.
    session = await config.load(scope(None))
    session["user"] = "ada"
    flash(session, "Welcome back", "success")
    flash(session, "2 new messages")
    session, cookie = await next_request(config, session, None)
    # Request 2: the page shows them (a layout and the page both ask).
    assert get_flashed_messages(session, with_categories=True) == [
        ("success", "Welcome back"),
        ("message", "2 new messages"),
    ]
    assert get_flashed_messages(session) == ["Welcome back", "2 new messages"]
    session, cookie = await next_request(config, session, cookie)
    # Request 3: nothing left, the rest of the session kept.
    assert get_flashed_messages(session) == []
    assert session == {"user": "ada"}
