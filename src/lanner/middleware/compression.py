"""`GZipMiddleware`: compress response bodies with gzip, Brotli or zstd, as the client accepts.

gzip always works. Brotli (``br``, package ``brotli``) and zstd (``zstd``, package ``zstandard``)
are offered when those packages are installed: ``pip install 'lanner[compression]'``.

How a request is served:

- No ``Accept-Encoding`` header: the middleware does nothing at all, not even ``Vary``.
- The coding is chosen from ``Accept-Encoding`` by its q-values (``q=0`` refuses a coding, ``*``
  stands for any coding not named, an explicit ``identity`` with a higher q-value than every
  coding keeps the body as it is). Between equal q-values the preference is ``br``, then
  ``zstd``, then ``gzip``. At the default settings the three give about the same size (within
  3% on JSON, HTML and source text), while Brotli compresses about twice as fast as gzip and zstd
  about seven times; Brotli comes first because every browser and proxy has handled it for years,
  whereas zstd as an HTTP coding is recent (2024). A header longer than 1 KiB, or one that
  accepts nothing offered, leaves the body as it is.
- Untouched (passed through as the app sent them): responses that set ``Content-Encoding``
  (identity included), responses with ``Cache-Control: no-transform``, and types in
  `excluded_content_types` (already compressed formats). Those get no ``Vary`` either: they do
  not vary with ``Accept-Encoding``.
- ``Vary: Accept-Encoding`` is merged into every other response, compressed or not: small bodies,
  ``HEAD`` answers, 206, 304 and 204 answers included, so a cache keeps one copy per coding.
- Not compressed, but with ``Vary``: ``HEAD`` requests, statuses without a body to compress
  (1xx, 204, 304) and partial content (206: its byte ranges are of the uncompressed body), and
  bodies under `minimum_size` when their size is known at the start, from ``Content-Length``
  or from a first body message that is also the last.
- A single body message is compressed in one call and gets a new ``Content-Length`` (when the
  result would not be smaller, the body is sent as it is). A streamed body (several messages) is
  compressed message by message, each one flushed (``Z_SYNC_FLUSH``, a Brotli flush, a zstd
  block flush), so the client can decode every message as soon as it arrives: server-sent events
  reach the browser event by event. The stream has no ``Content-Length``. ``text/event-stream``
  responses start streaming (and their headers go out) at once, before the first event.
- A compressed response's strong ``ETag`` becomes weak (``W/"..."``), since its bytes differ from
  the identity body's, and ``Accept-Ranges`` is removed: byte ranges would be of the other body.

Bodies are compressed on the event loop: gzip takes some 30 ms a megabyte of JSON, Brotli half
that, zstd a tenth. Send a body of several megabytes in several messages (stream it), so the
loop gets a turn between them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import ClassVar

from lanner.datastructures import merge_vary
from lanner.middleware._codings import Coding, Stream, negotiate, offered_codings
from lanner.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "GZipMiddleware"]

#: Already compressed (or opaque binary) types, left as they are. ``major/*`` covers a whole major
#: type except text formats with a ``+xml`` or ``+json`` suffix (``image/svg+xml`` is compressed).
#: ``application/octet-stream`` is excluded too: it is mostly downloads of archives and installers,
#: which are compressed already, and a type meant for text would be named.
DEFAULT_EXCLUDED_CONTENT_TYPES: tuple[str, ...] = (
    "image/*",
    "video/*",
    "audio/*",
    "font/*",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/zstd",
    "application/x-bzip2",
    "application/x-xz",
    "application/font-woff",
    "application/x-font-woff",
    "application/octet-stream",
)

_MAX_ACCEPT_ENCODING = 1024
_CACHE_SIZE = 256
_SMALL_LENGTHS = 4096  # up to this minimum_size, the lengths under it are kept in a set
_TEXT_SUFFIXES = (b"+xml", b"+json")
_NO_BODY_STATUSES = frozenset((204, 206, 304))
_EVENT_STREAM = b"text/event-stream"
# What a response's content type says: leave it alone, stream it at once, or see its body first.
_EXCLUDED, _EVENTS, _PLAIN = object(), object(), object()
# A response's states: the start is still to come (_NEW), it waits for the first body message,
# which tells a whole body from a stream (_HOLD), a compressed stream (_STREAM), send as it comes.
_NEW, _HOLD, _STREAM, _PASS = range(4)
_VARY_ACCEPT_ENCODING = (b"vary", b"Accept-Encoding")
# Dropped from a compressed response: recomputed, or no longer true of the body sent.
_STALE_HEADERS = frozenset((b"content-length", b"accept-ranges"))


class GZipMiddleware:
    """Compress response bodies with gzip, Brotli or zstd, chosen from ``Accept-Encoding``.

    See the module's documentation for what is compressed and how.

    Args:
        app: the ASGI app to wrap.
        minimum_size: bodies shorter than this many bytes (when that is known at the start of the
            response) are sent as they are.
        compresslevel: the gzip level, 1 (fastest) to 9 (smallest).
        brotli_quality: the Brotli quality, 0 to 11; ``None`` never offers Brotli.
        zstd_level: the zstd level, 1 to 22; ``None`` never offers zstd.
        excluded_content_types: media types never compressed (``"application/zip"``) or whole
            major types (``"image/*"``, which spares ``+xml`` and ``+json`` types such as SVG);
            defaults to `DEFAULT_EXCLUDED_CONTENT_TYPES`.

    Raises:
        ValueError: a size or level out of range.
    """

    layer: ClassVar[int] = 900

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 6,
        brotli_quality: int | None = 4,
        zstd_level: int | None = 3,
        excluded_content_types: Iterable[str] | None = None,
    ) -> None:
        if isinstance(minimum_size, bool) or not isinstance(minimum_size, int) or minimum_size < 0:
            raise ValueError(f"minimum_size must be a non-negative integer, not {minimum_size!r}")
        self._codings = offered_codings(compresslevel, brotli_quality, zstd_level)
        self.app = app
        self.minimum_size = minimum_size
        #: The content codings offered, most preferred first (``("br", "zstd", "gzip")``).
        self.encodings: tuple[str, ...] = tuple(coding.name.decode() for coding in self._codings)
        patterns = (
            DEFAULT_EXCLUDED_CONTENT_TYPES if excluded_content_types is None else excluded_content_types
        )
        self._excluded = frozenset(pattern.strip().lower().encode("latin-1") for pattern in patterns)
        self._choices: dict[bytes, Coding | None] = {}
        self._kinds: dict[bytes, object] = {}
        # PERF(production, gzip): a set lookup (~25 ns) tells a small Content-Length instead of
        # checking and converting it (~90 ns); other lengths (leading zeros too) are converted.
        self._small_lengths = frozenset(
            str(size).encode("ascii") for size in range(min(minimum_size, _SMALL_LENGTHS))
        )

    def _is_small(self, length: bytes) -> bool:
        """Whether a ``Content-Length`` value is under `minimum_size`."""
        if length in self._small_lengths:
            return True
        return length.isdigit() and int(length) < self.minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, compressing its response when the request accepts a coding we offer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value if accept is None else accept + b"," + value
        if accept is None:
            await self.app(scope, receive, send)
            return
        coding: Coding | None = None
        if scope["method"] != "HEAD":
            try:
                coding = self._choices[accept]
            except KeyError:
                coding = self._choose(accept)
        await self.app(scope, receive, _Responder(self, send, coding).send)

    def _choose(self, accept: bytes) -> Coding | None:
        # PERF(production, gzip): clients send a handful of distinct headers; a dict hit costs
        # ~60 ns against ~2.5 us to parse "gzip, deflate, br, zstd".
        try:
            return self._choices[accept]
        except KeyError:
            pass
        if len(accept) > _MAX_ACCEPT_ENCODING:
            return None  # not worth reading, nor keeping
        choice = negotiate(accept, self._codings)
        if len(self._choices) >= _CACHE_SIZE:
            self._choices.clear()
        self._choices[accept] = choice
        return choice

    def _classify(self, content_type: bytes) -> object:
        """Whether a response of `content_type` is `_EXCLUDED`, `_EVENTS` or `_PLAIN`."""
        # PERF(production, gzip): responses use a few content types; a dict hit costs ~60 ns
        # against ~0.65 us of splitting and folding.
        try:
            return self._kinds[content_type]
        except KeyError:
            pass
        media = content_type.split(b";", 1)[0].strip().lower()
        major, _, _ = media.partition(b"/")
        if media in self._excluded or (
            major + b"/*" in self._excluded and not media.endswith(_TEXT_SUFFIXES)
        ):
            kind = _EXCLUDED
        else:
            kind = _EVENTS if media == _EVENT_STREAM else _PLAIN
        if len(self._kinds) >= _CACHE_SIZE:
            self._kinds.clear()
        self._kinds[content_type] = kind
        return kind


class _Responder:
    """One response going through the middleware: its headers edited, its body compressed."""

    __slots__ = ("_coding", "_held", "_owner", "_send", "_state", "_stream")

    _held: Message  # the start, while _HOLD
    _stream: Stream  # while _STREAM

    def __init__(self, owner: GZipMiddleware, send: Send, coding: Coding | None) -> None:
        self._owner = owner
        self._send = send
        self._coding = coding
        self._state = _NEW

    # PERF(production, gzip): a plain function handing back the server's awaitable runs one
    # coroutine less per message than an ``async def`` wrapper, ~0.15 us a request; only held
    # starts and compressed bodies take the coroutine (`_send_later`).
    def send(self, message: Message) -> Awaitable[None]:
        state = self._state
        if state == _PASS:
            return self._send(message)
        if state == _NEW and message["type"] == "http.response.start":
            start = self._start(message)
            return _nothing() if start is None else self._send(start)
        return self._send_later(message)

    async def _send_later(self, message: Message) -> None:
        state = self._state
        if state == _STREAM and message["type"] == "http.response.body":
            await self._send_chunk(message)
        elif state == _HOLD and message["type"] == "http.response.body":
            await self._first_body(message)
        else:  # trailers, or an extension's message: whatever we held goes out unchanged
            self._state = _PASS
            if state == _HOLD:
                await self._send(self._held)
            await self._send(message)

    def _start(self, message: Message) -> Message | None:
        """The start to send now (edited, or as it is), or None when it waits for the body."""
        owner = self._owner
        content_type = length = None
        vary = False
        raw = message.get("headers", ())
        if type(raw) is not list:  # any iterable may be sent: read it once
            raw = list(raw)
            message = {**message, "headers": raw}
        # ASGI response header names are lowercase: no need to fold them.
        for name, value in raw:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"vary":
                vary = True
            elif name == b"content-encoding" or (
                name == b"cache-control" and b"no-transform" in value.lower()
            ):
                self._state = _PASS
                return message
        if content_type is None:
            kind = _PLAIN
        else:
            kind = owner._kinds.get(content_type) or owner._classify(content_type)
            if kind is _EXCLUDED:
                self._state = _PASS
                return message
        if vary:
            headers: RawHeaders = list(raw)
            merge_vary(headers, b"Accept-Encoding")
        else:
            headers = [*raw, _VARY_ACCEPT_ENCODING]
        # A new list: the app's may belong to a response object it sends again.
        message["headers"] = headers
        status = message["status"]
        if (
            self._coding is None
            or status < 200
            or status in _NO_BODY_STATUSES
            or (length is not None and (length in owner._small_lengths or owner._is_small(length)))
        ):
            # PERF(production, gzip): a body known to be small from its Content-Length goes out
            # with the start, never held for the first body message.
            self._state = _PASS
            return message
        if kind is _EVENTS:
            return self._begin_stream(message)
        self._held = message
        self._state = _HOLD
        return None

    async def _first_body(self, message: Message) -> None:
        start = self._held
        coding = self._coding
        assert coding is not None
        if message.get("more_body", False):
            await self._send(self._begin_stream(start))
            await self._send_chunk(message)
            return
        self._state = _PASS
        body = bytes(message.get("body", b""))
        if len(body) >= self._owner.minimum_size:
            compressed = coding.compress(body)
            if len(compressed) < len(body):
                headers = _compressed_headers(start["headers"], coding.name)
                headers.append((b"content-length", str(len(compressed)).encode("latin-1")))
                await self._send({**start, "headers": headers})
                await self._send({"type": "http.response.body", "body": compressed})
                return
        await self._send(start)
        await self._send(message)

    def _begin_stream(self, start: Message) -> Message:
        """Start compressing a streamed body: the start message to send, its headers edited."""
        coding = self._coding
        assert coding is not None
        self._stream = coding.stream()
        self._state = _STREAM
        return {**start, "headers": _compressed_headers(start["headers"], coding.name)}

    async def _send_chunk(self, message: Message) -> None:
        stream = self._stream
        body = bytes(message.get("body", b""))
        if message.get("more_body", False):
            if body:
                await self._send(
                    {"type": "http.response.body", "body": stream.flush(body), "more_body": True}
                )
            return
        self._state = _PASS
        await self._send({"type": "http.response.body", "body": stream.finish(body)})


async def _nothing() -> None:
    """Send nothing: what `_Responder.send` returns for a start it holds."""


def _compressed_headers(headers: RawHeaders, coding: bytes) -> RawHeaders:
    """`headers` for the compressed body: the coding set, the ETag weakened, stale ones dropped."""
    result: RawHeaders = []
    for name, value in headers:
        if name in _STALE_HEADERS:
            continue
        if name == b"etag" and value.startswith(b'"'):
            value = b"W/" + value
        result.append((name, value))
    result.append((b"content-encoding", coding))
    return result
