"""`HTTPSRedirectMiddleware`: send plain-HTTP requests to the same URL over HTTPS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from lanner.errors import accepts_html, http_problem
from lanner.exceptions import HTTPException
from lanner.middleware._addresses import (
    ProxyHeader,
    TrustedProxies,
    check_proxy_header,
    format_host,
    parse_host,
    read_forwarding,
    request_target,
    single_host,
)
from lanner.responses import Response
from lanner.socket_endpoint import refuse_handshake
from lanner.types import ASGIApp, Receive, Scope, Send
from lanner.websockets import WebSocket

__all__ = ["HTTPSRedirectMiddleware"]

_SECURE = frozenset(("https", "wss"))
_DEFAULT_PORTS = frozenset((80, 443))


class HTTPSRedirectMiddleware:
    """Redirect every plain ``http`` request to ``https`` (and ``ws`` handshakes to ``wss``).

    The answer is a ``308 Permanent Redirect``, so a ``POST`` is repeated as a ``POST`` with its
    body. The ``Location`` is built from the request's own ``Host`` header, validated first: a
    missing, duplicated or malformed one (``user@host``, a path, odd characters) gets a 400
    problem document (an HTML page for a browser) instead, so the redirect can never point to
    another site. The path and query are kept as the client sent them, percent-encoded where
    needed; a path like ``//evil.com`` stays a path on the same host. The default ports (80, 443)
    are dropped; another port is kept.

    A request is already secure when ``scope["scheme"]`` is ``https``/``wss`` (a
    `ProxyHeadersMiddleware` in front may have set it), or when its direct peer
    (``scope["client"][0]``) is one of `trusted_proxies` and says so with ``X-Forwarded-Proto:
    https`` (or ``Forwarded: proto=https``); the same header from any other peer is ignored.

    A WebSocket handshake is refused with the same 308 (or 400) when the server supports the ASGI
    ``websocket.http.response`` extension, else closed with 1008 (the server answers 403).

    Args:
        app: the ASGI application to wrap.
        trusted_proxies: the proxies whose ``X-Forwarded-Proto`` is believed: IP addresses, CIDR
            networks (``"10.0.0.0/8"``), literal peer names, or ``"*"`` for every peer. An
            iterable, or one comma-separated string.
        proxy_header: which headers the proxies write: ``"x-forwarded"``, ``"forwarded"`` or
            ``"auto"`` (see `ProxyHeadersMiddleware`).

    Raises:
        ValueError: a trusted proxy that does not parse, or an unknown `proxy_header`.
    """

    layer: ClassVar[int] = 80

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: str | Iterable[str] = ("127.0.0.1",),
        *,
        proxy_header: ProxyHeader = "auto",
    ) -> None:
        self.app = app
        self.trusted_proxies = TrustedProxies(trusted_proxies)
        self.proxy_header = check_proxy_header(proxy_header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app for a secure request; redirect (or refuse) a plain one.

        Raises:
            Exception: whatever the app raised.
        """
        kind = scope["type"]
        if kind == "http":
            default = "http"
        elif kind == "websocket":
            default = "ws"
        else:
            await self.app(scope, receive, send)
            return
        if scope.get("scheme", default) in _SECURE or self._forwarded_secure(scope):
            await self.app(scope, receive, send)
            return
        response = self._redirect(scope)
        if kind == "http":
            await response(scope, receive, send)
        else:
            reason = "use wss://" if response.status_code == 308 else "invalid Host header"
            await refuse_handshake(WebSocket(scope, receive, send), response, reason)

    def _forwarded_secure(self, scope: Scope) -> bool:
        if not self.trusted_proxies.trusts_peer(scope):
            return False
        return read_forwarding(scope, self.trusted_proxies, self.proxy_header).scheme == "https"

    def _redirect(self, scope: Scope) -> Response:
        value = single_host(scope)
        parsed = parse_host(value) if value is not None else None
        if parsed is None:
            return http_problem(HTTPException(400, "Invalid Host header"), accepts_html(scope))
        host, port = parsed
        if port in _DEFAULT_PORTS:
            port = None
        scheme = "https" if scope["type"] == "http" else "wss"
        location = f"{scheme}://{format_host(host, port)}{request_target(scope)}"
        return Response(status_code=308, headers={"location": location})
