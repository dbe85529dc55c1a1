"""Surviving ``os.fork``: a WSGI server may import the app, start it, then fork its workers."""

from __future__ import annotations

import os
import selectors
import weakref
from collections.abc import Callable
from typing import Any


class _ForkSafeSelector(selectors.DefaultSelector):
    """The default selector, left alone in a forked child, which shares its epoll instance.

    A child dropping the loop it inherited would otherwise unregister the parent's file
    descriptors from that shared instance, and the parent's loop would never wake again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pid = os.getpid()

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        self._check_owner()
        return super().register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> Any:
        if os.getpid() != self._pid:
            return None  # the loop is being dropped (closed) in a child: the parent keeps it
        return super().unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> Any:
        if os.getpid() != self._pid:
            return None
        return super().modify(fileobj, events, data)

    def _check_owner(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError("an event loop cannot be used in a process forked from its own")


def _at_fork_in_child(method: Callable[[], None]) -> None:
    """Call the bound `method` in every child forked from now on, for as long as its object lives."""
    ref = weakref.WeakMethod(method)
    os.register_at_fork(after_in_child=lambda: _call(ref))


def _call(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is not None:
        method()
