"""`ProxyHeadersMiddleware`: the client's address and scheme from a trusted reverse proxy's headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from lanner.middleware._addresses import (
    ProxyHeader,
    TrustedProxies,
    check_proxy_header,
    read_forwarding,
    scope_scheme,
)
from lanner.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware"]


class ProxyHeadersMiddleware:
    """Take the client's address and scheme from the headers a trusted reverse proxy adds.

    Behind a proxy, the server sees the proxy as the client and plain HTTP even when the client
    used HTTPS. When the direct peer (``scope["client"][0]``) is one of `trusted_proxies`, this
    middleware sets, for HTTP requests and WebSocket handshakes:

    - ``scope["client"]`` from ``X-Forwarded-For`` (or RFC 7239 ``Forwarded: for=...``). The list
      is walked from the right (each proxy appends the address it received the request from),
      skipping trusted proxies: the first untrusted address is the client, so a value the client
      made up itself (the leftmost ones) is never used while an untrusted hop stands to its right.
      An entry that is not an IP address (``unknown``, ``_hidden``, garbage) stops the walk: the
      last address walked stays the client, or the scope is left as it is. The port is the one in
      the entry (``"[2001:db8::1]:4711"``), else 0.
    - ``scope["scheme"]`` from ``X-Forwarded-Proto`` (or ``Forwarded: proto=``), the scheme the
      client used towards the first trusted proxy; ``http``/``https`` become ``ws``/``wss`` for a
      WebSocket. Values other than http, https, ws and wss are ignored.
    - with `trust_host`, the ``Host`` header from ``X-Forwarded-Host`` (or ``Forwarded: host=``),
      when it is a well-formed ``host[:port]``.

    From any other peer, nothing changes: spoofed headers are ignored. The peer is checked before
    any header is read. Header values are read up to 4096 bytes: a longer ``X-Forwarded-For`` or
    ``Forwarded`` is read from its right end (the part the proxies wrote), so a client padding its
    own part cannot hide the address the proxy appended; longer ``X-Forwarded-Proto`` and
    ``X-Forwarded-Host`` values are ignored.

    Use it outermost (its `layer` is 10), so that rate limits, logs and the HTTPS redirect see
    the real client and scheme.

    Args:
        app: the ASGI application to wrap.
        trusted_proxies: the proxies whose headers are believed: IP addresses, CIDR networks
            (``"10.0.0.0/8"``), literal peer names, or ``"*"`` to trust every peer (only when the
            app cannot be reached but through the proxy). An iterable, or one comma-separated
            string.
        trust_host: also take the ``Host`` from ``X-Forwarded-Host``. Off by default: a proxy
            that does not overwrite this header would let clients choose the host the app builds
            absolute URLs (password-reset links...) from.
        proxy_header: which headers the proxies write: ``"x-forwarded"``, ``"forwarded"`` (RFC
            7239), or ``"auto"`` (the X-Forwarded ones when the request has any, else
            ``Forwarded``). Name the one your proxy writes when you can: with ``"auto"``, a client
            sending the other kind through a proxy that neither writes nor removes it chooses its
            own address.

    Raises:
        ValueError: a trusted proxy that does not parse, or an unknown `proxy_header`.
    """

    layer: ClassVar[int] = 10

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: str | Iterable[str] = ("127.0.0.1",),
        *,
        trust_host: bool = False,
        proxy_header: ProxyHeader = "auto",
    ) -> None:
        self.app = app
        self.trusted_proxies = TrustedProxies(trusted_proxies)
        self.trust_host = trust_host
        self.proxy_header = check_proxy_header(proxy_header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the client, scheme (and host) of a request from a trusted proxy, then run the app."""
        kind = scope["type"]
        if (kind == "http" or kind == "websocket") and self.trusted_proxies.trusts_peer(scope):
            self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        forwarding = read_forwarding(
            scope, self.trusted_proxies, self.proxy_header, want_host=self.trust_host
        )
        if forwarding.client is not None:
            scope["client"] = forwarding.client
        if forwarding.scheme is not None:
            scope["scheme"] = scope_scheme(forwarding.scheme, scope)
        if forwarding.host is not None:
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            headers.append((b"host", forwarding.host.encode("ascii")))
            scope["headers"] = headers
