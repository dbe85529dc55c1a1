"""`SecurityHeadersMiddleware`: the response headers that switch on a browser's protections."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable, Mapping
from typing import ClassVar

from lanner.middleware._addresses import check_text
from lanner.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REFERRER_POLICIES = frozenset(
    (
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    )
)
_FRAME_OPTIONS = frozenset(("DENY", "SAMEORIGIN"))
_OPENER_POLICIES = frozenset(
    ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
)
_RESOURCE_POLICIES = frozenset(("same-origin", "same-site", "cross-origin"))
_SECURE = frozenset(("https", "wss"))
# What HSTS preload lists require (hstspreload.org): a year at least, subdomains included.
_PRELOAD_MIN_AGE = 31536000


class SecurityHeadersMiddleware:
    """Add security headers to every HTTP response (and WebSocket handshake answer).

    Defaults, each turned off by passing ``None`` (``False`` for `hsts`):

    - ``X-Content-Type-Options: nosniff``: the browser trusts ``Content-Type`` instead of guessing
      (an uploaded "image" is never run as a script).
    - ``Referrer-Policy: strict-origin-when-cross-origin``: other sites see the origin only, never
      a path or query that may hold tokens.
    - ``X-Frame-Options: DENY``: no site may frame the pages (clickjacking).
    - ``Strict-Transport-Security: max-age=31536000``, only on requests made over ``https`` or
      ``wss`` (RFC 6797 tells browsers to ignore it over plain HTTP; put a
      `ProxyHeadersMiddleware` in front when TLS ends at a proxy).
    - ``Cross-Origin-Opener-Policy: same-origin``: a page opened from another site gets no handle
      on this one's window (cross-window attacks, XS-Leaks). Pages that open sign-in pop-ups of
      another origin, or are opened by one, need ``"same-origin-allow-popups"`` or ``None``.

    Not sent unless configured: ``Content-Security-Policy`` (it depends on what the pages load; a
    strict starting point for an app serving only its own assets is ``"default-src 'self';
    object-src 'none'; base-uri 'self'; frame-ancestors 'none'"``), its report-only variant,
    ``Cross-Origin-Resource-Policy`` and ``Permissions-Policy``.

    A header the app already set on a response is never overwritten, so a route can relax or
    tighten one (a page that must be framed sets its own ``X-Frame-Options``). Every header is
    encoded once, here; a response costs a scan of its header names.

    Args:
        app: the ASGI application to wrap.
        content_security_policy: the ``Content-Security-Policy`` value.
        content_security_policy_report_only: a ``Content-Security-Policy-Report-Only`` value, to
            try a policy out before enforcing it.
        hsts: send ``Strict-Transport-Security`` on secure requests.
        hsts_max_age: how many seconds browsers keep using HTTPS only.
        hsts_include_subdomains: add ``includeSubDomains``: every subdomain must serve HTTPS too.
        hsts_preload: add ``preload`` (needs `hsts_include_subdomains` and a max-age of a year
            at least); submitting the domain to the browsers' preload list is up to you.
        frame_options: ``"DENY"`` or ``"SAMEORIGIN"``.
        referrer_policy: a ``Referrer-Policy`` token, or a comma-separated list of them.
        content_type_options: ``"nosniff"``, the only value there is.
        cross_origin_opener_policy: ``"same-origin"``, ``"same-origin-allow-popups"``,
            ``"noopener-allow-popups"`` or ``"unsafe-none"``.
        cross_origin_resource_policy: ``"same-origin"``, ``"same-site"`` or ``"cross-origin"``.
        permissions_policy: a ``Permissions-Policy`` value, e.g. ``"camera=(), geolocation=()"``.
        extra_headers: more headers to add the same way (name to value).

    Raises:
        ValueError: a value holding CR, LF or another control character, an unknown value for a
            header with a fixed set of them, an empty policy, a negative max-age, ``preload``
            without what it requires, or an extra header name that is not a token or repeats
            one configured above.
    """

    layer: ClassVar[int] = 90

    def __init__(
        self,
        app: ASGIApp,
        *,
        content_security_policy: str | None = None,
        content_security_policy_report_only: str | None = None,
        hsts: bool | None = True,
        hsts_max_age: int = 31536000,
        hsts_include_subdomains: bool = False,
        hsts_preload: bool = False,
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        content_type_options: str | None = "nosniff",
        cross_origin_opener_policy: str | None = "same-origin",
        cross_origin_resource_policy: str | None = None,
        permissions_policy: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        headers: dict[str, str] = {}
        if content_type_options is not None:
            headers["x-content-type-options"] = _one_of(
                "content_type_options", content_type_options, {"nosniff"}
            )
        if referrer_policy is not None:
            headers["referrer-policy"] = _referrer_policy(referrer_policy)
        if frame_options is not None:
            headers["x-frame-options"] = _one_of("frame_options", frame_options.upper(), _FRAME_OPTIONS)
        if cross_origin_opener_policy is not None:
            value = _one_of("cross_origin_opener_policy", cross_origin_opener_policy, _OPENER_POLICIES)
            headers["cross-origin-opener-policy"] = value
        if cross_origin_resource_policy is not None:
            value = _one_of("cross_origin_resource_policy", cross_origin_resource_policy, _RESOURCE_POLICIES)
            headers["cross-origin-resource-policy"] = value
        if content_security_policy is not None:
            headers["content-security-policy"] = _policy("content_security_policy", content_security_policy)
        if content_security_policy_report_only is not None:
            value = _policy("content_security_policy_report_only", content_security_policy_report_only)
            headers["content-security-policy-report-only"] = value
        if permissions_policy is not None:
            headers["permissions-policy"] = _policy("permissions_policy", permissions_policy)
        for name, value in (extra_headers or {}).items():
            key = name.lower()
            if _TOKEN.fullmatch(name) is None:
                raise ValueError(f"invalid header name {name!r} in extra_headers")
            if key in headers or key == "strict-transport-security":
                raise ValueError(f"extra_headers repeats {name!r}: use the option for it")
            headers[key] = _policy(f"extra header {name!r}", value)
        plain = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        secure = list(plain)
        if hsts:
            value = _hsts(hsts_max_age, hsts_include_subdomains, hsts_preload)
            secure.append((b"strict-transport-security", value.encode("latin-1")))
        self._plain = _Additions(plain)
        self._secure = _Additions(secure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, adding the missing security headers to its response.

        Raises:
            Exception: whatever the app raised.
        """
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        added = self._secure if scope.get("scheme") in _SECURE else self._plain
        if not added.headers:
            await self.app(scope, receive, send)
            return
        sender = _Sender(send, added) if kind == "http" else _SocketSender(send, added)
        await self.app(scope, receive, sender.send)


class _Additions:
    """The headers added to one kind of request (plain or secure), and their names."""

    __slots__ = ("headers", "names")

    def __init__(self, headers: RawHeaders) -> None:
        self.headers = tuple(headers)
        self.names = frozenset(name for name, _ in headers)

    def to(self, headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders | None:
        """`headers` with ours the app did not set, or None when it set them all."""
        if type(headers) is not list:
            headers = list(headers)  # any iterable may be sent: read it once
        for name, _ in headers:
            # PERF(production, security headers): one pass against a frozenset finds that the app
            # set none of ours (the usual case), ~0.4 us less than collecting its names in a set.
            if name.lower() in self.names:
                break
        else:
            # A new list: the app's may belong to a response object it sends again.
            return [*headers, *self.headers]
        present = {name.lower() for name, _ in headers}
        missing = [header for header in self.headers if header[0] not in present]
        return [*headers, *missing] if missing else None


class _Sender:
    """The ``send`` of one HTTP request: adds the headers to its response's start."""

    __slots__ = ("_added", "_send")

    def __init__(self, send: Send, added: _Additions) -> None:
        self._send = send
        self._added = added

    # PERF(production, security headers): a plain function handing back the server's awaitable
    # runs one coroutine less per message than an ``async def`` wrapper, ~0.15 us a request.
    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = self._added.to(message.get("headers") or [])
            if headers is not None:
                message["headers"] = headers
        return self._send(message)


class _SocketSender(_Sender):
    """The ``send`` of one WebSocket: adds the headers to the handshake's answer, or its denial."""

    __slots__ = ()

    def send(self, message: Message) -> Awaitable[None]:
        kind = message["type"]
        if kind == "websocket.accept" or kind == "websocket.http.response.start":
            headers = self._added.to(message.get("headers") or [])
            if headers is not None:
                message["headers"] = headers
        return self._send(message)


def _one_of(option: str, value: str, allowed: frozenset[str] | set[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{option} must be one of {', '.join(sorted(allowed))}, not {value!r}")
    return value


def _referrer_policy(value: str) -> str:
    tokens = [token.strip() for token in value.split(",")]
    for token in tokens:
        if token not in _REFERRER_POLICIES:
            raise ValueError(
                f"unknown referrer_policy {token!r}: one of {', '.join(sorted(_REFERRER_POLICIES))}"
            )
    return ", ".join(tokens)


def _policy(option: str, value: str) -> str:
    check_text(option, value)
    if not value.strip():
        raise ValueError(f"{option} must not be empty (leave the header out instead)")
    if not value.isascii():
        raise ValueError(f"{option} must be ASCII (write host names in their xn-- form, percent-encode URLs)")
    return value.strip()


def _hsts(max_age: int, include_subdomains: bool, preload: bool) -> str:
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"hsts_max_age must be a whole number of seconds, 0 or more, not {max_age!r}")
    if preload and (not include_subdomains or max_age < _PRELOAD_MIN_AGE):
        raise ValueError(
            "hsts_preload needs hsts_include_subdomains=True and hsts_max_age of a year at least"
        )
    value = f"max-age={max_age}"
    if include_subdomains:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value
