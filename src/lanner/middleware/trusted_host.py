"""`TrustedHostMiddleware`: refuse requests whose ``Host`` header names a host the app does not serve."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import ClassVar

from lanner.errors import accepts_html, http_problem
from lanner.exceptions import HTTPException
from lanner.middleware._addresses import MAX_HOST, check_text, parse_host, request_target, single_host
from lanner.responses import Response
from lanner.socket_endpoint import refuse_handshake
from lanner.types import ASGIApp, Receive, Scope, Send
from lanner.websockets import WebSocket

__all__ = ["TrustedHostMiddleware"]

_CACHE_SIZE = 1024


class TrustedHostMiddleware:
    """Answer 400 to requests for a host not in `allowed_hosts`, against Host header attacks.

    An app that builds absolute URLs (password-reset links, redirects, cache keys) from the
    ``Host`` header trusts whatever the client wrote there. This middleware lets through only HTTP
    requests and WebSocket handshakes with exactly one well-formed ``Host`` naming an allowed
    host. Everything else gets a 400 problem document (an HTML page for a browser); a WebSocket
    handshake is refused with it (or closed with 1008 when the server cannot send a response):

    - no ``Host``, or several;
    - a malformed one: ``user:pass@host``, a path, whitespace, characters a host name cannot hold,
      an empty or out-of-range port, an invalid IPv6 literal;
    - a host that no pattern matches.

    Matching ignores the port and case, and a trailing dot (``example.com.``).

    Args:
        app: the ASGI application to wrap.
        allowed_hosts: host patterns: ``"example.com"`` (that host only), ``"*.example.com"``
            (any subdomain, at any depth: ``a.example.com``, ``a.b.example.com``, but neither
            ``example.com`` nor ``evilexample.com``), ``"[::1]"`` or ``"::1"`` (an IPv6 address),
            or ``"*"`` (any well-formed host). Patterns hold no port. Unicode names are turned
            into their IDNA (``xn--``) form.
        www_redirect: when the host is not allowed but ``www.`` followed by it is (as an exact
            pattern), redirect there (308, path and query kept) instead of refusing.

    Raises:
        ValueError: a pattern is empty, carries a port, puts ``*`` anywhere but as a whole first
            label, or is not a valid host name.
    """

    layer: ClassVar[int] = 70

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], www_redirect: bool = True) -> None:
        self.app = app
        self.www_redirect = www_redirect
        patterns = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
        exact: set[str] = set()
        suffixes: list[str] = []
        self.allow_any = False
        for pattern in patterns:
            if pattern == "*":
                self.allow_any = True
            elif pattern.startswith("*."):
                suffixes.append("." + _normalize(pattern[2:], pattern))
            else:
                exact.add(_normalize(pattern, pattern))
        self.allowed_hosts = tuple(patterns)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        # PERF(trusted host, every request): a site sees a handful of Host values; validating and
        # matching one costs ~1.2 us, a dict hit ~0.05 us. Cleared when full, so junk cannot grow it.
        self._verdicts: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app for an allowed host; refuse (or redirect to www.) any other request.

        Raises:
            Exception: whatever the app raised.
        """
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        value = single_host(scope)
        if value is not None:
            allowed = self._verdicts.get(value)
            if allowed is None:
                parsed = parse_host(value)
                allowed = parsed is not None and self._allows(parsed[0])
                if len(value) <= MAX_HOST:  # an over-long Host is refused, never kept as a key
                    if len(self._verdicts) >= _CACHE_SIZE:
                        self._verdicts.clear()
                    self._verdicts[value] = allowed
            if allowed:
                await self.app(scope, receive, send)
                return
        response = self._refusal(scope, parse_host(value) if value is not None else None)
        if kind == "http":
            await response(scope, receive, send)
        else:
            reason = "use the www. host" if response.status_code == 308 else "invalid Host header"
            await refuse_handshake(WebSocket(scope, receive, send), response, reason)

    def _allows(self, host: str) -> bool:
        if self.allow_any or host in self._exact:
            return True
        return any(host.endswith(suffix) for suffix in self._suffixes)

    def _refusal(self, scope: Scope, parsed: tuple[str, int | None] | None) -> Response:
        if parsed is not None and self.www_redirect:
            host, port = parsed
            if "www." + host in self._exact:
                default = "http" if scope["type"] == "http" else "ws"
                authority = f"www.{host}" if port is None else f"www.{host}:{port}"
                location = f"{scope.get('scheme', default)}://{authority}{request_target(scope)}"
                return Response(status_code=308, headers={"location": location})
        return http_problem(HTTPException(400, "Invalid host header"), accepts_html(scope))


def _normalize(host: str, pattern: str) -> str:
    """A pattern's host as `parse_host` gives a request's: lower-cased, IDNA, IPv6 in brackets."""
    check_text("an allowed host", pattern)
    host = host.strip().lower()
    if "*" in host:
        raise ValueError(
            f"invalid allowed host {pattern!r}: '*' may only be the whole first label (*.example.com)"
        )
    if ":" in host and not host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            raise ValueError(f"invalid allowed host {pattern!r}: patterns hold no port") from None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"invalid allowed host {pattern!r}: not a valid host name") from None
    parsed = parse_host(host.encode("ascii"))
    if parsed is None:
        raise ValueError(f"invalid allowed host {pattern!r}: not a valid host name")
    if parsed[1] is not None:
        raise ValueError(f"invalid allowed host {pattern!r}: patterns hold no port")
    return parsed[0]
