"""ASGI type aliases and the protocols lower layers use to talk about the application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]


class AppProtocol(Protocol):
    """What a request may know of the application that serves it.

    `Request.app` is typed by this protocol so that connection-level modules never import `app.py`.
    """

    debug: bool

    def url_path_for(self, name: str, /, **path_params: Any) -> str:
        """Build the path of the route called `name`."""
        ...
