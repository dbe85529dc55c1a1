"""ASGI responses: a body rendered in memory, streamed from an iterator, or read from a file."""

from __future__ import annotations

import asyncio
import enum
import mimetypes
import os
import re
import stat
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, BinaryIO
from urllib.parse import quote

import pydantic_core

from lanner.concurrency import iterate_in_threadpool, run_in_threadpool
from lanner.datastructures import Headers, MutableHeaders
from lanner.types import Message, RawHeaders, Receive, Scope, Send

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

Background = Callable[[], Awaitable[None]]
StreamContent = Iterable[bytes | str] | AsyncIterable[bytes | str]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_VALUE = re.compile(r"[\r\n\x00]")
_UNSAFE_COOKIE_ATTRIBUTE = re.compile(r"[\x00-\x1f\x7f;]")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"Invalid header name {name!r}: a header name must be an RFC 9110 token")
    if _UNSAFE_VALUE.search(value) is not None:
        # Refusing CR/LF here is what stops a value from smuggling in extra header lines.
        raise ValueError(f"Invalid value for header {name!r}: CR, LF and NUL are not allowed")
    return name.lower().encode("latin-1"), value.encode("latin-1")


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
    return media_type.encode("latin-1")


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
        ValueError: if a header name is not a token or a value contains CR, LF or NUL.
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
            header = "; ".join(parts).encode("latin-1")
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


class _Unsatisfiable(enum.Enum):
    TOKEN = enum.auto()


_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"')
# Headers describing the body, left out of 304 and 416 answers (they carry none).
_BODY_HEADERS = frozenset((b"content-type", b"content-disposition", b"content-length", b"content-range"))
_OWNED_HEADERS = frozenset((b"content-length", b"content-range"))


def _stat_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    try:
        result = os.stat(path)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise RuntimeError(f"File at path {os.fspath(path)!r} does not exist") from exc
    if not stat.S_ISREG(result.st_mode):
        raise RuntimeError(f"File at path {os.fspath(path)!r} is not a regular file")
    return result


def _open_at(path: str | os.PathLike[str], offset: int) -> BinaryIO:
    file = open(path, "rb")  # noqa: SIM115 - the handle outlives this call; the caller closes it
    try:
        file.seek(offset)
    except BaseException:
        file.close()
        raise
    return file


def _content_disposition(disposition_type: str, filename: str) -> bytes:
    if filename.isascii() and filename.isprintable():
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'{disposition_type}; filename="{escaped}"'.encode("latin-1")
    # RFC 5987 ext-value; percent-encoding also disarms any CR/LF in the name.
    encoded = quote(filename, safe="!#$&+^`|")
    return f"{disposition_type}; filename*=utf-8''{encoded}".encode("latin-1")


def _http_date_timestamp(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _is_not_modified(request: Headers, etag: str, last_modified: str) -> bool:
    if_none_match = request.getlist("if-none-match")
    if if_none_match:
        joined = ", ".join(if_none_match)
        if joined.strip() == "*":
            return True
        target = etag.removeprefix("W/")
        return any(tag.removeprefix("W/") == target for tag in _ENTITY_TAG.findall(joined))
    if_modified_since = request.get("if-modified-since")
    if if_modified_since is None:
        return False
    since = _http_date_timestamp(if_modified_since)
    modified = _http_date_timestamp(last_modified)
    return since is not None and modified is not None and modified <= since


def _if_range_allows(value: str | None, etag: str, last_modified: str) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith(("W/", '"')):
        # If-Range uses the strong comparison: weak tags never match.
        return not etag.startswith("W/") and value == etag
    date = _http_date_timestamp(value)
    return date is not None and date == _http_date_timestamp(last_modified)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_range(header: str, size: int) -> tuple[int, int] | _Unsatisfiable | None:
    """Return the inclusive byte span to send, `_Unsatisfiable`, or ``None`` to ignore Range."""
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]
    if len(specs) != 1:
        # RFC 9110 lets a server ignore Range; several ranges get the whole file, not multipart.
        return None
    first, dash, last = specs[0].partition("-")
    if not dash:
        return None
    if not first:
        if not _is_digits(last):
            return None
        suffix = int(last)
        if suffix == 0:
            return _Unsatisfiable.TOKEN
        return None if size == 0 else (max(size - suffix, 0), size - 1)
    if not _is_digits(first) or (last and not _is_digits(last)):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if end < start and last:
        return None
    if start >= size:
        return _Unsatisfiable.TOKEN
    return start, min(end, size - 1)


class FileResponse(Response):
    """A file sent from disk in 64 KiB chunks read in the thread pool.

    For a ``GET`` or ``HEAD`` with status 200 it answers conditional requests (``If-None-Match``,
    then ``If-Modified-Since``: 304) and single byte ranges (``Range``, honouring ``If-Range``:
    206, or 416 when unsatisfiable). A request for several ranges gets the whole file with 200,
    which RFC 9110 allows. ``etag``, ``last-modified`` and ``accept-ranges`` given in `headers`
    are kept and used for the comparisons.

    Args:
        path: the file to send.
        status_code: the HTTP status.
        headers: extra response headers (``content-length``/``content-range`` are computed).
        media_type: defaults to a guess from `filename` or `path`, else
            ``application/octet-stream``.
        background: awaited after the body has been sent.
        filename: sets ``Content-Disposition`` (RFC 6266; ``filename*`` for non-ASCII names).
        stat_result: a precomputed ``os.stat()`` of `path`, saving the call at send time.
        content_disposition_type: ``"attachment"`` or ``"inline"``.

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
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.background = background
        self.filename = filename
        self.stat_result = stat_result
        if media_type is None:
            guessed, _ = mimetypes.guess_type(filename or os.fspath(path))
            media_type = guessed or "application/octet-stream"
        self.media_type = media_type
        raw = [header for header in _encode_headers(headers) if header[0] not in _OWNED_HEADERS]
        present = {name for name, _ in raw}
        if filename is not None and b"content-disposition" not in present:
            if _TOKEN.fullmatch(content_disposition_type) is None:
                raise ValueError(f"Invalid content disposition type {content_disposition_type!r}")
            raw.append((b"content-disposition", _content_disposition(content_disposition_type, filename)))
        if b"content-type" not in present:
            raw.append((b"content-type", _content_type(media_type, self.charset) or b""))
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stat the file, evaluate the request's preconditions and range, then send.

        Raises:
            RuntimeError: if the file does not exist or is not a regular file.
            OSError: if the file cannot be read.

        """
        result = self.stat_result
        if result is None:
            result = await run_in_threadpool(_stat_regular_file, self.path)
        size = result.st_size
        etag = last_modified = None
        for name, value in self.raw_headers:
            if name == b"etag":
                etag = value.decode("latin-1")
            elif name == b"last-modified":
                last_modified = value.decode("latin-1")
        validators: RawHeaders = []
        if etag is None:
            etag = f'"{result.st_mtime_ns:x}-{size:x}"'
            validators.append((b"etag", etag.encode("latin-1")))
        if last_modified is None:
            last_modified = formatdate(result.st_mtime, usegmt=True)
            validators.append((b"last-modified", last_modified.encode("latin-1")))
        if not any(name == b"accept-ranges" for name, _ in self.raw_headers):
            validators.append((b"accept-ranges", b"bytes"))

        method = scope["method"]
        status = self.status_code
        span: tuple[int, int] | _Unsatisfiable | None = None
        if status == 200 and method in ("GET", "HEAD"):
            request = Headers.from_scope(scope)
            if _is_not_modified(request, etag, last_modified):
                await self._send_empty(send, 304, validators, [])
                return
            range_header = request.get("range")
            if range_header is not None and _if_range_allows(request.get("if-range"), etag, last_modified):
                span = _parse_range(range_header, size)

        if span is _Unsatisfiable.TOKEN:
            extra = [(b"content-range", f"bytes */{size}".encode("latin-1"))]
            await self._send_empty(send, 416, validators, extra)
            return
        if span is None:
            start, length = 0, size
            extra = []
        else:
            start, end = span
            length = end - start + 1
            status = 206
            extra = [(b"content-range", f"bytes {start}-{end}/{size}".encode("latin-1"))]
        extra.append((b"content-length", str(length).encode("latin-1")))
        headers = [*self.raw_headers, *validators, *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if method == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._send_file(send, start, length)
        if self.background is not None:
            await self.background()

    async def _send_empty(self, send: Send, status: int, validators: RawHeaders, extra: RawHeaders) -> None:
        kept = [header for header in self.raw_headers if header[0] not in _BODY_HEADERS]
        if status == 416:
            extra = [*extra, (b"content-length", b"0")]
        start: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": [*kept, *validators, *extra],
        }
        await send(start)
        await send({"type": "http.response.body", "body": b""})
        if self.background is not None:
            await self.background()

    async def _send_file(self, send: Send, start: int, length: int) -> None:
        file = await run_in_threadpool(_open_at, self.path, start)
        try:
            remaining = length
            more_body = True
            while more_body:
                chunk = await run_in_threadpool(file.read, min(self.chunk_size, remaining))
                remaining -= len(chunk)
                # A file that shrank since the stat ends the body early; the server reports the
                # content-length mismatch.
                more_body = bool(chunk) and remaining > 0
                await send({"type": "http.response.body", "body": chunk, "more_body": more_body})
        finally:
            file.close()
