"""ASGI responses: a body rendered in memory, streamed from an iterator, or read from a file."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

import pydantic_core

from lanner._files import (
    BODY_HEADERS,
    OWNED_HEADERS,
    FileReader,
    Unsatisfiable,
    content_disposition,
    if_range_allows,
    is_not_modified,
    is_unavailable,
    parse_range,
)
from lanner._sse import EventContent, ServerSentEvent, close_events, stream_events
from lanner.concurrency import iterate_in_threadpool
from lanner.datastructures import Headers, MutableHeaders
from lanner.exceptions import HTTPException
from lanner.types import RawHeaders, Receive, Scope, Send

__all__ = [
    "EventSourceResponse",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "ServerSentEvent",
    "StreamingResponse",
]

Background = Callable[[], Awaitable[None]]
StreamContent = Iterable[bytes | str] | AsyncIterable[bytes | str]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 field values: no control characters except HTAB. CR and LF would start a new header
# line; the others make servers drop the connection.
_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_UNSAFE_COOKIE_ATTRIBUTE = re.compile(r"[\x00-\x1f\x7f;]")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode_value(name: str, value: str) -> bytes:
    # PERF: (timeit, Response with two headers) isprintable() clears almost every value in ~30 ns;
    # the regex costs ~150 ns.
    if not value.isprintable() and _UNSAFE_VALUE.search(value) is not None:
        raise ValueError(
            f"Invalid value for header {name!r}: control characters (other than tab) are not allowed"
        )
    return value.encode("latin-1")


def _encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"Invalid header name {name!r}: a header name must be an RFC 9110 token")
    return name.lower().encode("latin-1"), _encode_value(name, value)


def _encode_headers(headers: Mapping[str, str] | None) -> RawHeaders:
    if not headers:
        return []
    # Headers.items() yields every line, so multi-valued headers survive the copy.
    return [_encode_header(name, value) for name, value in headers.items()]


def _content_type(media_type: str | None, charset: str) -> bytes | None:
    if media_type is None:
        return None
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type = f"{media_type}; charset={charset}"
    return _encode_value("content-type", media_type)


def text_content_type(response_class: type[Response]) -> tuple[bytes, str] | None:
    """The content-type and charset `response_class` gives a ``str`` body, if that is all it does.

    Endpoints use this to build text responses without the general constructor. The class's
    ``media_type`` and ``charset`` are read once, as class attributes.

    Args:
        response_class: a `Response` subclass.

    Returns:
        The encoded content-type value and the charset, or ``None`` when the class has its own
        ``__init__``, ``render`` or ``__call__``, or no media type: then only constructing it
        says what the response is.
    """
    base = Response
    if (
        response_class.__init__ is not base.__init__
        or response_class.render is not base.render
        or response_class.__call__ is not base.__call__
    ):
        return None
    value = _content_type(response_class.media_type, response_class.charset)
    return None if value is None else (value, response_class.charset)


def _build_headers(
    headers: Mapping[str, str] | None, content_length: int | None, content_type: bytes | None
) -> RawHeaders:
    raw = _encode_headers(headers)
    present = {name for name, _ in raw} if raw else ()
    if content_length is not None and b"content-length" not in present:
        raw.append((b"content-length", str(content_length).encode("latin-1")))
    if content_type is not None and b"content-type" not in present:
        raw.append((b"content-type", content_type))
    return raw


def _has_no_body(status_code: int) -> bool:
    return status_code < 200 or status_code in (204, 304)


def _cookie_date(expires: datetime | int | str) -> str:
    if isinstance(expires, datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return format_datetime(expires.astimezone(UTC), usegmt=True)
    if isinstance(expires, int):
        return formatdate(time.time() + expires, usegmt=True)
    return _cookie_attribute("expires", expires)


def _cookie_attribute(name: str, value: str) -> str:
    if _UNSAFE_COOKIE_ATTRIBUTE.search(value) is not None:
        raise ValueError(f"Invalid cookie {name} {value!r}: control characters and ';' not allowed")
    return value


class Response:
    """An HTTP response whose whole body is rendered in memory when it is built.

    Headers are encoded once, at construction: the given ones (names lower-cased), then
    ``content-length`` and ``content-type`` unless given. Text media types get
    ``; charset=<charset>``. Statuses that cannot carry a body (1xx, 204, 304) get an empty one and
    no ``content-length``.

    Args:
        content: the body; ``str`` is encoded with `charset`, ``None`` means empty.
        status_code: the HTTP status.
        headers: extra response headers.
        media_type: overrides the class's `media_type`; ``None`` keeps it.
        background: awaited after the body has been sent (e.g. a ``BackgroundTasks``).

    Raises:
        ValueError: if a header name is not a token, or a header value (`media_type` included)
            contains a control character other than tab.
        TypeError: if `render` cannot turn `content` into bytes.

    """

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: bytes | str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        if _has_no_body(status_code):
            self.body = b""
            length = None
        else:
            self.body = self.render(content)
            length = len(self.body)
        self.raw_headers = _build_headers(headers, length, _content_type(self.media_type, self.charset))

    def render(self, content: Any) -> bytes:
        """Turn `content` into the body bytes; subclasses override this for other formats.

        Raises:
            TypeError: if `content` is not ``bytes``, ``str`` or ``None``.

        """
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if content is None:
            return b""
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise TypeError(f"{type(self).__name__} content must be bytes or str, not {type(content)}")

    @property
    def headers(self) -> MutableHeaders:
        """A case-insensitive, mutable view over `raw_headers` (changes apply to the response)."""
        return MutableHeaders(self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | int | str | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header; several cookies give several headers.

        The value is quoted the way Python's ``http.cookies`` does when it holds characters a
        cookie cannot carry bare, so ``lanner.requests.parse_cookies`` reads it back unchanged.

        Args:
            key: the cookie name.
            value: the cookie value.
            max_age: lifetime in seconds (``0`` expires it at once).
            expires: expiry as a datetime (naive means UTC), seconds from now, or an HTTP date.
            path: the ``Path`` attribute; ``None`` leaves it out.
            domain: the ``Domain`` attribute.
            secure: send the cookie over HTTPS only.
            httponly: hide the cookie from JavaScript.
            samesite: ``"lax"``, ``"strict"``, ``"none"`` (any case), or ``None`` to leave it out.
            partitioned: add the ``Partitioned`` attribute (CHIPS).

        Raises:
            ValueError: for an invalid name, a value outside latin-1, an unknown `samesite`, or a
                path, domain or expiry string containing control characters or ``;``.

        """
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie[key] = value
        except CookieError as exc:
            raise ValueError(f"Invalid cookie name {key!r}") from exc
        parts = [cookie[key].OutputString()]
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if expires is not None:
            parts.append(f"Expires={_cookie_date(expires)}")
        if path is not None:
            parts.append(f"Path={_cookie_attribute('path', path)}")
        if domain is not None:
            parts.append(f"Domain={_cookie_attribute('domain', domain)}")
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite is not None:
            same_site = _SAMESITE.get(samesite.lower())
            if same_site is None:
                raise ValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
            parts.append(f"SameSite={same_site}")
        if partitioned:
            parts.append("Partitioned")
        try:
            header = _encode_value("set-cookie", "; ".join(parts))
        except UnicodeEncodeError:
            raise ValueError(f"Cookie {key!r} holds characters outside latin-1") from None
        self.raw_headers.append((b"set-cookie", header))

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Tell the client to drop cookie `key` (empty value, ``Max-Age=0``, an expiry in 1970).

        `path`, `domain` and `partitioned` must match the ones the cookie was set with.

        Raises:
            ValueError: as `set_cookie`.

        """
        self.set_cookie(
            key,
            max_age=0,
            expires=_EPOCH,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the start message and the whole body (empty for ``HEAD``), then the background."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})
        if self.background is not None:
            await self.background()


class JSONResponse(Response):
    """A JSON body serialised with pydantic-core (dataclasses, models, datetimes, UUIDs...).

    Raises:
        pydantic_core.PydanticSerializationError: if `content` cannot be serialised.

    """

    media_type = "application/json"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        """Serialise `content` to compact JSON bytes.

        Raises:
            pydantic_core.PydanticSerializationError: if `content` cannot be serialised.

        """
        return pydantic_core.to_json(content)


class HTMLResponse(Response):
    """An HTML body (``text/html; charset=utf-8``)."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A plain-text body (``text/plain; charset=utf-8``)."""

    media_type = "text/plain"


class RedirectResponse(Response):
    """An empty response sending the client to `url` (``307 Temporary Redirect`` by default).

    Characters not allowed in a URL are percent-encoded (UTF-8); reserved ones and existing
    ``%XX`` escapes are kept, so CR and LF can never reach the ``location`` header.

    Raises:
        ValueError: as `Response`, for invalid extra headers.

    """

    def __init__(
        self,
        url: str,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: Background | None = None,
    ) -> None:
        super().__init__(b"", status_code, headers, None, background)
        self.raw_headers.append((b"location", quote(str(url), safe=_URL_SAFE).encode("latin-1")))


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class StreamingResponse(Response):
    """A body sent chunk by chunk from a sync or async iterable, without ``content-length``.

    Sync iterables are pulled in the thread pool. ``str`` chunks are encoded with `charset`; empty
    chunks are skipped. For ``HEAD`` the iterable is not consumed. When the client disconnects
    the iteration is cancelled and the iterator closed; the background still runs. Unlike the
    other responses there is no `body` attribute.

    Args:
        content: the chunks.
        status_code: the HTTP status.
        headers: extra response headers.
        media_type: overrides the class's `media_type`.
        background: awaited after the body has been sent.

    Raises:
        ValueError: for invalid headers.

    """

    def __init__(
        self,
        content: StreamContent,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body_iterator = content
        self.raw_headers = _build_headers(headers, None, _content_type(self.media_type, self.charset))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the chunks until exhausted or until the client disconnects.

        Raises:
            Exception: whatever the iterator or `send` raises.

        """
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._stream_until_disconnect(receive, send)
        if self.background is not None:
            await self.background()

    async def _stream_until_disconnect(self, receive: Receive, send: Send) -> None:
        streamer = asyncio.create_task(self._stream(send))
        listener = asyncio.create_task(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((streamer, listener), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Whoever finished first (or our own cancellation), neither task may outlive us.
            streamer.cancel()
            listener.cancel()
            await asyncio.wait((streamer, listener))
        errors = [t.exception() for t in (streamer, listener) if not t.cancelled()]
        for error in errors:
            if error is not None:
                raise error

    async def _stream(self, send: Send) -> None:
        content = self.body_iterator
        chunks = aiter(content) if isinstance(content, AsyncIterable) else iterate_in_threadpool(content)
        try:
            async for chunk in chunks:
                body = chunk.encode(self.charset) if isinstance(chunk, str) else chunk
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()


class EventSourceResponse(Response):
    """A stream of server-sent events (``text/event-stream``) from a sync or async generator.

    Each item the generator yields is sent as one event, in one body message: a `ServerSentEvent`
    as it says, any other value as the ``data`` of an unnamed event (``str`` as is, ``bytes``
    decoded as UTF-8, dicts, lists, models and dataclasses as compact JSON). Sync iterables are
    pulled in the thread pool. When the client disconnects an async generator is closed at once,
    even while it waits for its next item, so its ``finally`` runs; a sync generator, whose
    thread cannot be interrupted, is closed as soon as it yields its next item (which is not
    sent). The background still runs after.
    For ``HEAD`` the generator is closed without being started. The client's ``Last-Event-ID``
    header is an ordinary header (``last_event_id: Annotated[str | None, Header()] = None``).

    Args:
        content: the events: an async or sync iterable (a generator, usually).
        status_code: the HTTP status.
        headers: extra response headers; ``cache-control: no-cache`` and
            ``x-accel-buffering: no`` (no proxy buffering) are added unless given.
        ping: after this many seconds without an event a ``: ping`` comment is sent, which
            keeps proxies from closing an idle connection; ``None`` or ``0`` sends none.
        background: awaited after the stream has ended.

    Raises:
        ValueError: for invalid headers or a negative `ping`.
        TypeError: `content` is a ``str`` or ``bytes``, or not iterable.

    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: EventContent,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        ping: float | None = 15,
        background: Background | None = None,
    ) -> None:
        if isinstance(content, str | bytes) or not isinstance(content, Iterable | AsyncIterable):
            raise TypeError(f"content must be an iterable of events, not {type(content).__name__}")
        if ping is not None and ping < 0:
            raise ValueError(f"ping must be a number of seconds (or None), not {ping!r}")
        self.status_code = status_code
        self.background = background
        self.body_iterator = content
        self.ping = ping
        raw = _build_headers(headers, None, _content_type(self.media_type, self.charset))
        present = {name for name, _ in raw}
        raw += [header for header in _SSE_HEADERS if header[0] not in present]
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the events until the generator is exhausted or the client disconnects.

        Raises:
            Exception: whatever the generator (or closing it), `receive` or `send` raises; an
                ``OSError`` from `send` is taken as the client leaving.

        """
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope["method"] == "HEAD":
            await close_events(self.body_iterator)
            await send({"type": "http.response.body", "body": b""})
        else:
            await stream_events(self.body_iterator, receive, send, self.ping)
        if self.background is not None:
            await self.background()


_SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class FileResponse(Response):
    """A file sent from disk in 64 KiB chunks, opened, stat-ed and read in the file pool.

    The file is opened and its descriptor stat-ed before anything is sent, so every failure to
    find or open it is raised before the first ASGI message, when the app can still answer with
    its exception handlers. The descriptor is closed however the response ends.

    For a ``GET`` or ``HEAD`` with status 200 it answers conditional requests (``If-None-Match``,
    then ``If-Modified-Since``: 304) and single byte ranges (``Range``, honouring ``If-Range``:
    206, or 416 when unsatisfiable). A request for several ranges, or a ``Range`` header over
    1,024 characters, gets the whole file with 200, which RFC 9110 allows. ``etag``,
    ``last-modified`` and ``accept-ranges`` given in `headers` are kept and used for the comparisons.

    Args:
        path: the file to send; with `root`, a relative path is taken relative to `root`.
        status_code: the HTTP status.
        headers: extra response headers (``content-length``/``content-range`` are computed).
        media_type: defaults to a guess from `filename` or `path`, else
            ``application/octet-stream``.
        background: awaited after the body has been sent.
        filename: sets ``Content-Disposition`` (RFC 6266; ``filename*`` for non-ASCII names).
        stat_result: a precomputed ``os.stat()`` of `path`, used for the headers; the file is
            still opened (and checked to be a regular file) before anything is sent.
        content_disposition_type: ``"attachment"`` or ``"inline"``.
        root: serve only files whose real path (symlinks resolved) lies inside this directory's,
            as Flask's ``send_from_directory`` does; for paths that come from the client.

    Raises:
        ValueError: for invalid headers or a `content_disposition_type` that is not a token.

    """

    chunk_size = 64 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = path
        self.root = root
        self.status_code = status_code
        self.background = background
        self.filename = filename
        self.stat_result = stat_result
        if media_type is None:
            guessed, _ = mimetypes.guess_type(filename or os.fspath(path))
            media_type = guessed or "application/octet-stream"
        self.media_type = media_type
        raw = [header for header in _encode_headers(headers) if header[0] not in OWNED_HEADERS]
        present = {name for name, _ in raw}
        if filename is not None and b"content-disposition" not in present:
            if _TOKEN.fullmatch(content_disposition_type) is None:
                raise ValueError(f"Invalid content disposition type {content_disposition_type!r}")
            raw.append((b"content-disposition", content_disposition(content_disposition_type, filename)))
        if b"content-type" not in present:
            raw.append((b"content-type", _content_type(media_type, self.charset) or b""))
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Open and stat the file, evaluate the request's preconditions and range, then send.

        Nothing is sent when one of these is raised.

        Raises:
            HTTPException: 404 when `root` is set and the path is refused (a NUL, a ``..`` that
                climbs out, a backslash or drive letter, a real path outside `root`), names
                nothing, or names something other than a regular file.
            FileNotFoundError: without `root`, if nothing is at the path (``NotADirectoryError``
                if a component of it is a file).
            RuntimeError: without `root`, if the path is a directory or another non-regular file.
            ValueError: without `root`, if the path contains a NUL character.
            OSError: if the file cannot be opened (``PermissionError``...), stat-ed or read.

        """
        reader = FileReader()
        try:
            result = await self._open(reader)
            await self._send(scope, send, reader, result)
        finally:
            reader.close()
        if self.background is not None:
            await self.background()

    async def _open(self, reader: FileReader) -> os.stat_result:
        root = None if self.root is None else os.fspath(self.root)
        try:
            result = await reader.open(os.fspath(self.path), root)
        except Exception as exc:
            if root is None or not is_unavailable(exc):
                raise
            # The client learns nothing about the file system, not even why.
            raise HTTPException(404) from None
        return result if self.stat_result is None else self.stat_result

    async def _send(self, scope: Scope, send: Send, reader: FileReader, result: os.stat_result) -> None:
        status, headers, offset, length = self._answer(scope, result)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        end = offset + length
        more_body = True
        while more_body:
            chunk = await reader.read(offset, min(self.chunk_size, end - offset))
            offset += len(chunk)
            # A file that shrank since the stat ends the body early; the server reports the
            # content-length mismatch.
            more_body = bool(chunk) and offset < end
            await send({"type": "http.response.body", "body": chunk, "more_body": more_body})

    def _answer(self, scope: Scope, result: os.stat_result) -> tuple[int, RawHeaders, int, int]:
        """Decide the status, the headers and the span (start, length) of the file to send."""
        validators, etag, last_modified = self._validators(result)
        size = result.st_size
        span: tuple[int, int] | Unsatisfiable | None = None
        if self.status_code == 200 and scope["method"] in ("GET", "HEAD"):
            request = Headers.from_scope(scope)
            if is_not_modified(request, etag, last_modified):
                return 304, self._not_modified_headers(validators), 0, 0
            range_header = request.get("range")
            if range_header is not None and if_range_allows(request.get("if-range"), etag, last_modified):
                span = parse_range(range_header, size)
        if span is Unsatisfiable.TOKEN:
            unsatisfied = [(b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0")]
            return 416, [*self._bodiless_headers(), *validators, *unsatisfied], 0, 0
        if span is None:
            length = [(b"content-length", str(size).encode())]
            return self.status_code, [*self.raw_headers, *validators, *length], 0, size
        start, end = span
        ranged = [
            (b"content-range", f"bytes {start}-{end}/{size}".encode()),
            (b"content-length", str(end - start + 1).encode()),
        ]
        return 206, [*self.raw_headers, *validators, *ranged], start, end - start + 1

    def not_modified(self, scope: Scope, result: os.stat_result) -> RawHeaders | None:
        """The headers of the 304 this response sends for `scope` when the file's stat is `result`.

        For a caller that already holds a stat of the file (`StaticFiles`) and can answer a
        conditional request without opening it: the headers are exactly those `__call__` would
        send with a 304 after its own fstat.

        Args:
            scope: the request's ASGI scope.
            result: an ``os.stat()`` of the file (only ``st_mtime_ns``, ``st_mtime`` and
                ``st_size`` are read).

        Returns:
            The 304's headers, or ``None`` when the answer would not be a 304 (the status is not
            200, the method not ``GET`` or ``HEAD``, or the preconditions do not match).

        """
        if self.status_code != 200 or scope["method"] not in ("GET", "HEAD"):
            return None
        validators, etag, last_modified = self._validators(result)
        if not is_not_modified(Headers.from_scope(scope), etag, last_modified):
            return None
        return self._not_modified_headers(validators)

    def _not_modified_headers(self, validators: RawHeaders) -> RawHeaders:
        return [*self._bodiless_headers(), *validators]

    def _validators(self, result: os.stat_result) -> tuple[RawHeaders, str, str]:
        """The validator headers to add, and the ETag and Last-Modified to compare with."""
        etag = last_modified = None
        for name, value in self.raw_headers:
            if name == b"etag":
                etag = value.decode("latin-1")
            elif name == b"last-modified":
                last_modified = value.decode("latin-1")
        validators: RawHeaders = []
        if etag is None:
            etag = f'"{result.st_mtime_ns:x}-{result.st_size:x}"'
            validators.append((b"etag", etag.encode("latin-1")))
        if last_modified is None:
            last_modified = formatdate(result.st_mtime, usegmt=True)
            validators.append((b"last-modified", last_modified.encode("latin-1")))
        if not any(name == b"accept-ranges" for name, _ in self.raw_headers):
            validators.append((b"accept-ranges", b"bytes"))
        return validators, etag, last_modified

    def _bodiless_headers(self) -> RawHeaders:
        return [header for header in self.raw_headers if header[0] not in BODY_HEADERS]
