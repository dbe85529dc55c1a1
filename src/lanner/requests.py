"""The HTTP request as a handler sees it; every part is parsed lazily, on first use."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast
from urllib.parse import quote, urlencode

from lanner._json import loads_strict
from lanner.cookies import parse_cookies
from lanner.datastructures import URL, Address, Headers, QueryParams, State
from lanner.exceptions import HTTPException, MalformedBodyError
from lanner.forms import (
    DEFAULT_LIMITS,
    FORM_LIMITS_SCOPE_KEY,
    FORM_SCOPE_KEY,
    FormData,
    FormLimits,
    parse_form,
)
from lanner.types import AppProtocol, Message, Receive, Scope

# `parse_cookies` lives in lanner.cookies; it stays importable from here.
__all__ = ["DEFAULT_MAX_BODY_SIZE", "ClientDisconnect", "HTTPConnection", "Request", "parse_cookies"]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
# How many messages one `Request.is_disconnected` call takes from the server at most.
_MAX_CHECKED_MESSAGES = 64


class ClientDisconnect(Exception):
    """The client went away before the whole body was received."""


class HTTPConnection:
    """What an HTTP request and a WebSocket have in common: the scope and the parts of the handshake.

    `Request` and `lanner.websockets.WebSocket` extend it. A dependency that only reads headers,
    cookies, the query string or the client may declare ``conn: HTTPConnection`` and serve both
    kinds of route (a `Request` parameter gets the WebSocket too, on a WebSocket route).

    Args:
        scope: the ASGI connection scope.
    """

    __slots__ = ("_cookies", "_headers", "_query", "_state", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._state: State | None = None

    @property
    def path(self) -> str:
        """The path, percent-decoded, relative to the app: without ``root_path``.

        Servers following ASGI 2.4 put ``root_path`` (a mount prefix, a proxy's prefix) in front of
        ``path``; older ones leave it out. Either way this is the part the routes matched; `url`
        has the full path.
        """
        path = cast(str, self.scope["path"])
        root = self.scope.get("root_path")
        if root and (path == root or path.startswith(root.rstrip("/") + "/")):
            return path[len(root.rstrip("/")) :] or "/"
        return path

    @property
    def url(self) -> URL:
        """The full URL the client asked for."""
        return URL.from_scope(self.scope)

    @property
    def headers(self) -> Headers:
        """The headers (of the request, or of a WebSocket's handshake): case-insensitive, multi-valued."""
        if self._headers is None:
            self._headers = Headers(self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query string as a multi-dict, parsed when first read.

        Reading it raises `MalformedQueryError` (400) if the query string is not valid UTF-8.
        """
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def path_params(self) -> dict[str, Any]:
        """The values matched by the route's path template."""
        return cast(dict[str, Any], self.scope.get("path_params", {}))

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the client sent, parsed by `parse_cookies` (the first value of a name wins).

        Raises:
            HTTPException: 431 if the ``Cookie`` header (its lines joined with "; ") is longer than
                `MAX_COOKIE_HEADER_SIZE`.
        """
        if self._cookies is None:
            # HTTP/2 clients may send each cookie on its own header line (RFC 9113 section 8.2.3).
            self._cookies = parse_cookies("; ".join(self.headers.getlist("cookie")))
        return self._cookies

    @property
    def client(self) -> Address | None:
        """The client's host and port, when the server knows them."""
        client = self.scope.get("client")
        return Address(client[0], client[1]) if client else None

    @property
    def state(self) -> State:
        """Per-request (or per-socket) storage, seeded from the lifespan state."""
        if self._state is None:
            self._state = State(dict(self.scope.get("state") or {}))
        return self._state

    @property
    def session(self) -> Any:
        """The client's `lanner.sessions.Session` (the same object ``session: Session`` receives).

        Loaded on first use when the route did not declare it, which works with the default
        cookie store; server-side stores need ``session: Session`` on the route (or a dependency),
        since loading from them is asynchronous.

        Raises:
            RuntimeError: sessions are off (no ``secret_key``), or a server-side store's session
                was not declared on the route.
        """
        session = self.scope.get("lanner.session")
        if session is None:
            sessions = getattr(self.scope.get("app"), "sessions", None)
            if sessions is None:
                raise RuntimeError("sessions are off: give the app a secret_key (or LANNER_SECRET_KEY)")
            session = sessions.load_sync(self.scope)
            self.scope["lanner.session"] = session
        return session

    @property
    def app(self) -> AppProtocol:
        """The application serving this connection."""
        return cast(AppProtocol, self.scope["app"])

    def url_for(self, name: str, /, **params: Any) -> str:
        """Return the path of the route called `name`, with the mount prefix.

        As in Flask, values the route's path does not take become the query string
        (``url_for("blog.index", page=2)`` is ``/?page=2``), ``_anchor="x"`` adds ``#x`` and
        ``_external=True`` gives the whole URL, scheme and host included.

        Raises:
            NoMatchFound: no route has that name, or a path parameter is missing or invalid.
        """
        anchor = params.pop("_anchor", None)
        external = params.pop("_external", False)
        app = self.app
        split = getattr(app, "split_url_params", None)
        query: dict[str, Any] = {}
        if split is not None:
            params, query = split(name, params)
        url = str(self.scope.get("root_path", "")) + app.url_path_for(name, **params)
        if query:
            url += "?" + urlencode(
                [(key, value) for key, value in query.items() if value is not None], doseq=True
            )
        if anchor is not None:
            url += "#" + quote(str(anchor))
        if external:
            base = self.url
            url = f"{base.scheme}://{base.netloc}{url}"
        return url


class Request(HTTPConnection):
    """One HTTP request.

    Args:
        scope: the ASGI connection scope.
        receive: the ASGI receive callable.
        max_body_size: the largest body `body()`, `json()` and `stream()` accept, in bytes.
    """

    __slots__ = (
        "_body",
        "_disconnected",
        "_held",
        "_receive",
        "_stream_used",
        "_upstream",
        "max_body_size",
    )

    def __init__(
        self, scope: Scope, receive: Receive | None = None, max_body_size: int = DEFAULT_MAX_BODY_SIZE
    ) -> None:
        # PERF(all): the connection's fields are set here, without a call to its __init__.
        self.scope = scope
        self._receive = receive
        self.max_body_size = max_body_size
        # `_body` stays unset until the body is read: subclasses written for Starlette test
        # ``hasattr(self, "_body")`` to cache a transformed body (FastAPI's GzipRequest).
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._state: State | None = None
        self._stream_used = False
        self._disconnected = False
        # Body messages `is_disconnected` received before the body was read, and the receive
        # callable they came from; `_receive` then replays them first.
        self._held: _Held | None = None
        self._upstream = receive

    @property
    def receive(self) -> Receive | None:
        """The ASGI receive callable (to build another request over the same connection)."""
        return self._receive

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        return cast(str, self.scope["method"])

    def _check_declared_length(self) -> None:
        declared = self.headers.get("content-length")
        if declared is not None:
            # int() would also take "-1", "+5", " 5" or "1_0"; RFC 9110 allows digits only.
            if not (declared.isascii() and declared.isdigit()):
                raise HTTPException(400, "Invalid Content-Length header")
            # More significant digits than the limit has is over it, and int() refuses more than
            # 4,300 digits (a 500 otherwise); leading zeros are allowed.
            digits = declared.lstrip("0")
            if len(digits) > len(str(self.max_body_size)) or int(digits or "0") > self.max_body_size:
                raise HTTPException(413, f"Request body exceeds {self.max_body_size} bytes")

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in the chunks the server delivers, enforcing `max_body_size`.

        Raises:
            HTTPException: 413 when the body is larger than allowed.
            ClientDisconnect: the client went away mid-body.
            RuntimeError: the body was already consumed by an earlier `stream()`.
        """
        cached: bytes | None = getattr(self, "_body", None)
        if cached is not None:
            if cached:
                yield cached
            return
        if self._stream_used:
            raise RuntimeError("The request body was already consumed")
        if self._receive is None:
            raise RuntimeError("This request has no receive channel")
        self._stream_used = True
        self._check_declared_length()
        received = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True
                raise ClientDisconnect()
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_size:
                raise HTTPException(413, f"Request body exceeds {self.max_body_size} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                break

    async def body(self) -> bytes:
        """Return the whole body (read once, then cached)."""
        cached: bytes | None = getattr(self, "_body", None)
        if cached is None:
            receive = self._receive
            if receive is not None and not self._stream_used:
                # PERF(post): the usual single-message body skips the generator and the join.
                self._check_declared_length()
                message = await receive()
                if message["type"] == "http.request" and not message.get("more_body", False):
                    body: bytes = message.get("body", b"")
                    if len(body) > self.max_body_size:
                        raise HTTPException(413, f"Request body exceeds {self.max_body_size} bytes")
                    self._body = body
                    return body
                self._receive = _replay(message, receive)
            cached = self._body = b"".join([chunk async for chunk in self.stream()])
        return cached

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away, checked without waiting.

        Takes only the messages the server already holds. Body messages found while checking
        are kept, in order, for `stream()`, `body()` or `form()`, so checking never loses any of
        the body; while more than `max_body_size` bytes of unread body are held, it stops
        checking (and answers ``False``) until the body is read.

        Returns:
            ``True`` once an ``http.disconnect`` has arrived (here or while reading the body),
            ``False`` while the client is connected or the request has no receive channel.

        Raises:
            Exception: whatever the receive callable raises.
        """
        upstream = self._upstream
        if self._disconnected or upstream is None:
            return self._disconnected
        held = self._held
        if held is None:
            held = self._held = _Held()
            self._receive = held.replay(self._receive or upstream)
        # Bounded twice: by the bytes held, and by the messages taken per call (a client sending
        # empty frames as fast as the server takes them cannot keep this call going).
        for _ in range(_MAX_CHECKED_MESSAGES):
            if held.size > self.max_body_size:
                break
            message = await _ready_message(upstream)
            if message is None:
                break
            if message["type"] == "http.disconnect":
                # Kept too: a body read after this ends in ClientDisconnect, as it would have.
                held.messages.append(message)
                self._disconnected = True
                return True
            if message["type"] == "http.request":
                body: bytes = message.get("body", b"")
                # An empty chunk that is not the last carries nothing: it is not kept.
                if body or not message.get("more_body", False):
                    held.messages.append(message)
                    held.size += len(body)
        return False

    async def json(self) -> Any:
        """Parse the body as JSON.

        Raises:
            MalformedBodyError: the body is not valid JSON (NaN, Infinity and numbers too large
                for a float are refused).
        """
        try:
            return loads_strict(await self.body())
        except ValueError as exc:
            raise MalformedBodyError(f"Malformed JSON: {exc}") from None

    async def form(self, limits: FormLimits | None = None) -> FormData:
        """Parse an urlencoded or multipart body into a `FormData` (once: later calls share it).

        The body is parsed as it streams in; uploads past 1 MiB are spooled to temporary files.
        The form is cached in the scope (`lanner.forms.FORM_SCOPE_KEY`), so a CSRF check and the
        handler share one parse, and lanner's endpoint closes it, removing its temporary files,
        once the response is sent.

        Args:
            limits: the limits to enforce; when None, the route's (its own ``form_limits``, else
                the app's, else `FormLimits()`). Only ``limits.max_size`` bounds the body, not
                `max_body_size`, which is for JSON.

        Raises:
            HTTPException: 400 (malformed body or Content-Length, missing boundary, too many
                fields or files), 413 (over a size limit) or 415 (not a form body).
            ClientDisconnect: the client left mid-body (any file already written is removed).
            ImportError: a multipart body arrived and python-multipart is not installed.
        """
        form: FormData | None = self.scope.get(FORM_SCOPE_KEY)
        if form is None:
            limits = limits or self.scope.get(FORM_LIMITS_SCOPE_KEY) or DEFAULT_LIMITS
            # `stream()` enforces `max_body_size`; a form has its own, separate limit.
            saved, self.max_body_size = self.max_body_size, limits.max_size
            try:
                # `stream()` is an async generator: closing it ends the read if parsing fails.
                stream = cast(AsyncGenerator[bytes, None], self.stream())
                async with aclosing(stream) as chunks:
                    form = await parse_form(self.headers.get("content-type"), chunks, limits)
            finally:
                self.max_body_size = saved
            self.scope[FORM_SCOPE_KEY] = form
        return form


def _replay(first: Any, receive: Receive) -> Receive:
    """Return a receive callable that yields `first` once, then defers to `receive`."""
    pending = [first]

    async def replay() -> Any:
        if pending:
            return pending.pop()
        return await receive()

    return replay


class _Held:
    """Body messages taken from the server before the body was read, and their bytes."""

    __slots__ = ("messages", "size")

    def __init__(self) -> None:
        self.messages: deque[Message] = deque()
        self.size = 0

    def replay(self, receive: Receive) -> Receive:
        """Return a receive callable that yields the held messages first, then defers to `receive`."""

        async def replay() -> Message:
            if self.messages:
                message = self.messages.popleft()
                self.size -= len(message.get("body", b""))
                return message
            return await receive()

        return replay


async def _ready_message(receive: Receive) -> Message | None:
    """The message `receive` gives without waiting, or ``None`` when it would have to wait.

    ``receive()`` runs for one pass of the event loop: one the server already holds is returned
    by then; one that would need the network is cancelled, which ASGI servers allow.
    """
    task = asyncio.ensure_future(receive())
    try:
        await asyncio.sleep(0)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.wait((task,))
    return None if task.cancelled() else task.result()
