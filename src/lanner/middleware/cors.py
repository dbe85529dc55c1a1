"""`CORSMiddleware`: which other sites' pages may call the app from a browser, and how."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable
from typing import ClassVar

from lanner.errors import accepts_html, http_problem
from lanner.exceptions import HTTPException
from lanner.middleware._addresses import check_text
from lanner.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

__all__ = ["MAX_REQUEST_HEADERS_SIZE", "CORSMiddleware"]

#: Longest ``Access-Control-Request-Headers`` accepted, in bytes; a longer one is refused (400).
MAX_REQUEST_HEADERS_SIZE = 4096

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# scheme://host[:port] and nothing else: no path, no trailing slash, no userinfo.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::[0-9]{1,5})?")
_ORIGIN_BYTES = re.compile(
    rb"[A-Za-z][A-Za-z0-9+.-]*://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::[0-9]{1,5})?"
)
# Origins no credentialed pattern may allow: if it matches these it matches anybody.
_FOREIGN_ORIGINS = (
    "https://attacker.invalid",
    "http://attacker.invalid",
    "https://a.b.c.invalid:8443",
    "null",
)
# The CORS-safelisted request headers; content-type is listed so JSON bodies work out of the box.
_SAFELISTED = frozenset(("accept", "accept-language", "content-language", "content-type"))

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ALLOW_CREDENTIALS = (b"access-control-allow-credentials", b"true")
_EXPOSE = b"access-control-expose-headers"
_SIMPLE_NAMES = frozenset((_ALLOW_ORIGIN, _ALLOW_CREDENTIALS[0], _EXPOSE))
# Response headers that need more than an append: a Vary to merge into, CORS headers to replace.
_MERGED_NAMES = _SIMPLE_NAMES | {b"vary"}
_VARY_ORIGIN = (b"vary", b"Origin")
_PREFLIGHT_BODY = b"OK"
_CACHE_SIZE = 256


class CORSMiddleware:
    r"""Answer CORS preflights and add CORS headers to responses for the origins allowed.

    Browsers let a page read a response from another origin only when the response says so. For
    each HTTP request with an ``Origin`` header (WebSocket and other scopes pass through):

    - A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, without
      reaching any route: 200 with ``Access-Control-Allow-Origin``, ``-Allow-Methods`` (the
      method asked for), ``-Allow-Headers`` (the headers asked for, lower-cased), ``-Max-Age`` and
      ``-Allow-Credentials`` when the origin, the method and every header asked for (compared
      case-insensitively) are allowed. Otherwise it gets a 400 problem document with no CORS header
      at all, so the browser blocks the real request; an ``Access-Control-Request-Headers`` longer
      than `MAX_REQUEST_HEADERS_SIZE` bytes is refused too.
    - Any other request reaches the app. Its response gets ``Access-Control-Allow-Origin``
      (``-Allow-Credentials``, ``-Expose-Headers``) when the origin is allowed, replacing the
      app's own; from any other origin the response has no CORS header, so the browser hides it
      from the calling page.

    ``Access-Control-Allow-Origin`` is ``*`` when every origin is allowed (without credentials),
    else the request's own ``Origin``. Every response (the 400 included, and those to requests
    without ``Origin``) gets ``Vary: Origin``, merged into the app's ``Vary``, so a shared cache
    never hands one origin's answer to another. ``Access-Control-Allow-Private-Network`` is sent
    only with `allow_private_network`, and only to a preflight that asks for it.

    Credentials (cookies, HTTP auth) are never offered to an arbitrary origin:
    ``allow_origins=["*"]`` with ``allow_credentials=True`` is refused here, and so is an
    `allow_origin_regex` that matches an unrelated origin (``.*``, ``https://.*``).

    Args:
        app: the ASGI application to wrap.
        allow_origins: origins allowed, exactly as browsers send them: ``"https://example.com"``,
            ``"http://localhost:3000"`` (scheme, host and port only, no trailing slash);
            ``"*"`` for any origin; ``"null"`` (sandboxed frames, ``file:`` pages) only if listed.
        allow_methods: methods a preflight may ask for (case-sensitive, as HTTP methods are);
            ``"*"`` for any. Simple methods (GET, HEAD, POST) need no preflight.
        allow_headers: request headers a preflight may ask for (case-insensitive); ``"*"`` for
            any. ``Accept``, ``Accept-Language``, ``Content-Language`` and ``Content-Type`` are
            always allowed.
        allow_credentials: let pages send cookies and HTTP authentication and read the answer
            (``Access-Control-Allow-Credentials: true``).
        allow_origin_regex: origins allowed besides `allow_origins`, as a regular expression the
            whole ``Origin`` must match (`re.fullmatch`: ``r"https://.*\.example\.com"`` allows
            ``https://a.example.com`` but not ``https://a.example.com.evil.net``).
        expose_headers: response headers the page may read besides the safelisted ones.
        max_age: seconds a browser may cache a preflight answer; ``None`` leaves it to the browser.
        allow_private_network: answer Private Network Access preflights (a public site calling
            this app on a private address) with ``Access-Control-Allow-Private-Network: true``.

    Raises:
        ValueError: ``"*"`` in `allow_origins` (or a regex matching any origin) with
            `allow_credentials`; an origin with a path, a wildcard or a bad shape; a method or
            header name that is not a token; a negative `max_age`; an invalid regex.
    """

    layer: ClassVar[int] = 100

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Iterable[str] = (),
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        expose_headers: Iterable[str] = (),
        max_age: int | None = 600,
        allow_private_network: bool = False,
    ) -> None:
        self.app = app
        origins = _strings("allow_origins", allow_origins)
        self.allow_all_origins = "*" in origins
        if self.allow_all_origins and allow_credentials:
            raise ValueError(
                'allow_origins=["*"] with allow_credentials=True would let every site read '
                "responses made with the user's cookies: list the origins allowed instead"
            )
        self._origins = frozenset(_origin(origin).encode("ascii") for origin in origins if origin != "*")
        self._regex = _regex(allow_origin_regex, allow_credentials)
        methods = _strings("allow_methods", allow_methods)
        self.allow_all_methods = "*" in methods
        self._methods = frozenset(_token("allow_methods", m).encode("ascii") for m in methods if m != "*")
        names = _strings("allow_headers", allow_headers)
        self.allow_all_headers = "*" in names
        allowed = {_token("allow_headers", name).lower() for name in names if name != "*"}
        self._headers = frozenset(name.encode("ascii") for name in allowed | _SAFELISTED)
        self.allow_credentials = allow_credentials
        self.allow_private_network = allow_private_network
        exposed = [
            name if name == "*" else _token("expose_headers", name)
            for name in _strings("expose_headers", expose_headers)
        ]
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
            raise ValueError(
                f"max_age must be a whole number of seconds, 0 or more, or None, not {max_age!r}"
            )

        credentials: RawHeaders = [_ALLOW_CREDENTIALS] if allow_credentials else []
        self._simple: RawHeaders = list(credentials)
        if exposed:
            self._simple.append((_EXPOSE, ", ".join(exposed).encode("ascii")))
        self._preflight: RawHeaders = list(credentials)
        if max_age is not None:
            self._preflight.append((b"access-control-max-age", str(max_age).encode("ascii")))
        #: What a response to a request without an allowed ``Origin`` gets: ``Vary`` alone.
        self._refused = _Decision(None)
        self._decisions: dict[bytes, _Decision] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight, or run the app and add the CORS headers its response needs.

        Raises:
            Exception: whatever the app raised.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            answered, origin = await self._maybe_preflight(scope, receive, send)
            if answered:
                return
        else:
            # PERF(production, CORS): only OPTIONS can be a preflight; other requests look for
            # Origin alone, ~0.15 us less than matching every header against four names.
            origin = None
            for name, value in scope["headers"]:
                if name == b"origin":
                    if origin is not None:
                        origin = b""  # two Origin headers: allowed for none
                        break
                    origin = value
        # PERF(production, CORS): a dict hit (~50 ns) instead of checking the origin and building
        # its headers for every request; `_decide` bounds the cache.
        decision = (self._decisions.get(origin) or self._decide(origin)) if origin else self._refused
        await self.app(scope, receive, _Sender(send, decision).send)

    async def _maybe_preflight(self, scope: Scope, receive: Receive, send: Send) -> tuple[bool, bytes | None]:
        """Answer an OPTIONS request if it is a preflight: whether it was, and its ``Origin``."""
        origin: bytes | None = None
        origins = 0
        method: bytes | None = None
        requested: list[bytes] = []
        private_network = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                origins += 1
            elif name == b"access-control-request-method":
                method = value
            elif name == b"access-control-request-headers":
                requested.append(value)
            elif name == b"access-control-request-private-network":
                private_network = value.strip().lower() == b"true"
        if origins > 1:
            origin = b""  # two Origin headers: allowed for none
        if origin is not None and method is not None:
            await self._preflight_answer(scope, receive, send, origin, method, requested, private_network)
            return True, origin
        return False, origin

    def _decide(self, origin: bytes) -> _Decision:
        """What the responses to `origin` get, remembered: a page sends the same one every time."""
        if self._allows(origin):
            decision = _Decision([self._allow_origin(origin), *self._simple])
        else:
            decision = self._refused
        if len(self._decisions) >= _CACHE_SIZE:
            self._decisions.clear()  # bounded: anybody can send any Origin
        self._decisions[origin] = decision
        return decision

    def _allows(self, origin: bytes) -> bool:
        if self.allow_all_origins or origin in self._origins:
            return True
        if self._regex is None or _ORIGIN_BYTES.fullmatch(origin) is None:
            return False
        return self._regex.fullmatch(origin.decode("ascii")) is not None

    def _allow_origin(self, origin: bytes) -> tuple[bytes, bytes]:
        # "*" only without credentials, where browsers accept it; otherwise this very origin.
        return (_ALLOW_ORIGIN, b"*" if self.allow_all_origins else origin)

    async def _preflight_answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        origin: bytes,
        method: bytes,
        requested: list[bytes],
        private_network: bool,
    ) -> None:
        headers, problem = self._check_preflight(origin, method, requested)
        if headers is None:
            exc = HTTPException(400, f"CORS preflight refused: {problem}", headers={"Vary": "Origin"})
            await http_problem(exc, accepts_html(scope))(scope, receive, send)
            return
        headers.append(self._allow_origin(origin))
        headers.extend(self._preflight)
        headers.append((b"access-control-allow-methods", method))
        if private_network and self.allow_private_network:
            headers.append((b"access-control-allow-private-network", b"true"))
        headers.append(_VARY_ORIGIN)
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
        headers.append((b"content-length", str(len(_PREFLIGHT_BODY)).encode("ascii")))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _PREFLIGHT_BODY})

    def _check_preflight(
        self, origin: bytes, method: bytes, requested: list[bytes]
    ) -> tuple[RawHeaders | None, str]:
        """The preflight's Allow-Headers line (empty when none was asked), or why it is refused."""
        if not origin or not self._allows(origin):
            return None, "origin not allowed"
        if _TOKEN_BYTES.fullmatch(method) is None or not (self.allow_all_methods or method in self._methods):
            return None, "method not allowed"
        if not requested:
            return [], ""
        joined = b",".join(requested)
        if len(joined) > MAX_REQUEST_HEADERS_SIZE:
            return None, "Access-Control-Request-Headers too long"
        names: list[bytes] = []
        for item in joined.split(b","):
            name = item.strip().lower()
            if not name:
                continue
            if _TOKEN_BYTES.fullmatch(name) is None:
                return None, "malformed Access-Control-Request-Headers"
            if not self.allow_all_headers and name not in self._headers:
                return None, "header not allowed"
            names.append(name)
        if not names:
            return [], ""
        return [(b"access-control-allow-headers", b", ".join(names))], ""


class _Decision:
    """What the responses to one ``Origin`` get: the CORS headers (None: refused), and Vary."""

    __slots__ = ("extra", "tail")

    def __init__(self, extra: RawHeaders | None) -> None:
        self.extra = extra
        # Appended as they are to a response with no Vary and no CORS header of its own.
        self.tail = (_VARY_ORIGIN, *(extra or ()))


class _Sender:
    """The ``send`` of one request: adds the CORS headers and ``Vary`` to its response's start."""

    __slots__ = ("_decision", "_send")

    def __init__(self, send: Send, decision: _Decision) -> None:
        self._send = send
        self._decision = decision

    # PERF(production, CORS): a plain function handing back the server's awaitable runs one
    # coroutine less per message than an ``async def`` wrapper, ~0.15 us a request.
    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            if type(headers) is not list:
                headers = list(headers)  # any iterable may be sent: read it once
            decision = self._decision
            for name, _ in headers:
                if name.lower() in _MERGED_NAMES:
                    message["headers"] = _with_cors(headers, decision.extra)
                    break
            else:
                # PERF(production, CORS): nothing to merge or replace (the usual case): one list
                # of the app's headers and precomputed ones, ~0.13 us less than `_with_cors`.
                message["headers"] = [*headers, *decision.tail]
        return self._send(message)


def _with_cors(headers: Iterable[tuple[bytes, bytes]], extra: RawHeaders | None) -> RawHeaders:
    """The response's headers with ``Origin`` in ``Vary`` and, when allowed, the CORS ones.

    Always a new list: the app's may belong to a response object it sends again.
    """
    result: RawHeaders = []
    vary_at = -1
    needs_origin = True
    for name, value in headers:
        lowered = name.lower()
        if extra is not None and lowered in _SIMPLE_NAMES:
            continue
        if lowered == b"vary":
            tokens = [token.strip().lower() for token in value.split(b",")]
            if b"origin" in tokens or b"*" in tokens:
                needs_origin = False
            elif vary_at < 0:
                vary_at = len(result)
        result.append((name, value))
    if needs_origin:
        if vary_at >= 0:
            name, value = result[vary_at]
            result[vary_at] = (name, value + b", Origin" if value.strip() else b"Origin")
        else:
            result.append(_VARY_ORIGIN)
    if extra:
        result.extend(extra)
    return result


def _strings(option: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    result = list(values)
    for value in result:
        if not isinstance(value, str):
            raise TypeError(f"{option} must hold strings, not {value!r}")
        check_text(option, value)
    return result


def _token(option: str, value: str) -> str:
    if _TOKEN.fullmatch(value) is None:
        raise ValueError(f"invalid name {value!r} in {option}: a method or header name is a token")
    return value


def _origin(value: str) -> str:
    lowered = value.lower()
    if lowered == "null":
        return "null"
    if "*" in lowered:
        raise ValueError(f"{value!r}: allow_origins takes exact origins; use allow_origin_regex for patterns")
    if _ORIGIN.fullmatch(lowered) is None:
        raise ValueError(
            f"invalid origin {value!r}: an origin is scheme://host[:port], without a path or a trailing slash"
        )
    return lowered


def _regex(pattern: str | None, credentials: bool) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid allow_origin_regex {pattern!r}: {exc}") from None
    if credentials:
        for foreign in _FOREIGN_ORIGINS:
            if compiled.fullmatch(foreign) is not None:
                raise ValueError(
                    f"allow_origin_regex {pattern!r} matches {foreign!r}: with allow_credentials=True "
                    "it would let any site read responses made with the user's cookies"
                )
    return compiled
