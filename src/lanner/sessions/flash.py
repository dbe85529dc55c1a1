"""Flash messages, as in Flask: stored in the session by one request, shown once by a later one."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal, overload

from lanner.sessions.mapping import Session

__all__ = ["flash", "get_flashed_messages"]

# Flask's key, so sessions migrated from Flask keep their pending messages.
_FLASHES = "_flashes"


def flash(session: Session, message: Any, category: str = "message") -> None:
    """Store `message` in the session for the next `get_flashed_messages` (usually the next page).

    Args:
        session: the client's session.
        message: what to show, usually a ``str``; it must serialise to JSON.
        category: any string; Flask's conventions are ``"message"``, ``"error"``, ``"info"`` and
            ``"warning"``.
    """
    flashes = session.get(_FLASHES)
    pending = list(flashes) if isinstance(flashes, list) else []
    pending.append([category, message])
    session[_FLASHES] = pending


@overload
def get_flashed_messages(
    session: Session, with_categories: Literal[False] = False, category_filter: Collection[str] = ()
) -> list[Any]: ...


@overload
def get_flashed_messages(
    session: Session, with_categories: Literal[True], category_filter: Collection[str] = ()
) -> list[tuple[str, Any]]: ...


@overload
def get_flashed_messages(
    session: Session, with_categories: bool, category_filter: Collection[str] = ()
) -> list[Any] | list[tuple[str, Any]]: ...


def get_flashed_messages(
    session: Session, with_categories: bool = False, category_filter: Collection[str] = ()
) -> list[Any] | list[tuple[str, Any]]:
    """Return the flashed messages, removing them from the session, with Flask's semantics.

    The first call in a request takes every message out of the session (whatever the filter)
    and keeps them on the `Session` object, so later calls in the same request (a layout and a
    page template both asking) get them again; the next request sees none of them. Messages
    flashed after that first call wait in the session for the next request.

    Args:
        session: the client's session.
        with_categories: return ``(category, message)`` tuples instead of messages.
        category_filter: return only the messages of these categories (the others are removed
            from the session all the same).

    Returns:
        The messages (or tuples), oldest first.
    """
    flashes = session._flashes_read
    if flashes is None:
        stored = session.pop(_FLASHES) if _FLASHES in session else []
        flashes = [
            (item[0], item[1])
            for item in (stored if isinstance(stored, list) else [])
            if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)
        ]
        session._flashes_read = flashes
    if category_filter:
        flashes = [item for item in flashes if item[0] in category_filter]
    if with_categories:
        return list(flashes)
    return [message for _, message in flashes]
