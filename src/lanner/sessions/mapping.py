"""The `Session` a handler declares (``session: Session``): a dict that knows when it changed."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Session"]


class Session(dict[str, Any]):
    """One client's session: a mutable mapping that records whether it was changed.

    The store it came from saves it after the response only when it changed (or was cleared, or
    given a new id), so reading a session costs no ``Set-Cookie``.

    Args:
        data: the values loaded from the store.
        session_id: the id a server-side store keeps the data under (None for the cookie store,
            and for a session that does not exist yet).
    """

    __slots__ = ("_flashes_read", "modified", "previous_id", "session_id")

    def __init__(self, data: Mapping[str, Any] | None = None, session_id: str | None = None) -> None:
        super().__init__(data or {})
        self.session_id = session_id
        #: True once a value was set, deleted or the session cleared.
        self.modified = False
        #: The id before `regenerate`, which the store deletes.
        self.previous_id: str | None = None
        # The flash messages `get_flashed_messages` took out of the session during this request,
        # so every later call in the same request sees them too.
        self._flashes_read: list[tuple[str, Any]] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def clear(self) -> None:
        """Remove every value (log out)."""
        if self:
            self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        """Remove `key` and return its value (or `default`).

        Raises:
            KeyError: `key` is missing and no default was given.
        """
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last value set.

        Raises:
            KeyError: the session is empty.
        """
        item = super().popitem()
        self.modified = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the value of `key`, setting it to `default` first when missing."""
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several values."""
        super().update(*args, **kwargs)
        self.modified = True

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    def regenerate(self) -> None:
        """Give the session a new id, keeping its values (call it after a login).

        An attacker who planted a session id before the login (session fixation) is left with an
        id that no longer leads anywhere. With the cookie store, whose cookie holds the data and no
        id, it only marks the session as changed, so a fresh cookie is signed.
        """
        if self.session_id is not None and self.previous_id is None:
            self.previous_id = self.session_id
        self.session_id = new_session_id()
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return super().__iter__()

    def __repr__(self) -> str:
        return f"Session({dict(self)!r}, modified={self.modified})"


def new_session_id() -> str:
    """A new random session id: 32 bytes from the OS, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)
