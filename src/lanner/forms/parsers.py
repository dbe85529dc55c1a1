"""Streaming parsers for form bodies, with limits that are always on.

Both parsers read the body chunk by chunk as the server delivers it and never hold a whole part:
an urlencoded field is kept only while it is shorter than ``max_part_size``; a multipart body goes
through python-multipart's streaming parser in slices of at most 64 KiB, its text fields are
bounded the same way and its files are written to spooled temporary files as they arrive. Every
byte (preamble, epilogue and CR/LF padding included) counts against ``max_size``, so a hostile body
costs time linear in a bounded size. When parsing fails, every file already written is closed
(and so removed) before the error propagates.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from lanner.datastructures import Headers, parse_query_string
from lanner.exceptions import HTTPException, MalformedQueryError
from lanner.forms.uploads import FormData, FormValue, UploadFile, close_uploads, spooled_file

__all__ = [
    "MULTIPART",
    "URLENCODED",
    "FormLimits",
    "parse_form",
    "parse_options_header",
    "require_multipart",
]

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# The parsers see bodies in slices of this size at most, whatever the server's chunk size, so the
# work and memory of one step stay bounded.
# PERF(upload): uvicorn delivers up to ~256 KiB at a time; 64 KiB slices copied each chunk into
# four and cost the 1 MiB upload scenario ~15% against Starlette.
_SLICE = 256 * 1024
# RFC 9110 token, for parameter names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 2046 section 5.1.1: a boundary is 1-70 "bchars", not ending with a space. A few clients send
# longer ones, so up to 200 are accepted (python-multipart refuses more than 256).
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]")
_QUOTED_STOP = re.compile(r'["\\]')
_SPACE = " \t"


@dataclasses.dataclass(frozen=True, slots=True)
class FormLimits:
    """Limits on one form body; going past one stops the parse at once.

    Args:
        max_fields: the most text fields (400 beyond).
        max_files: the most file parts (400 beyond).
        max_part_size: the largest text field, in bytes (413 beyond); for an urlencoded body, the
            largest ``name=value`` pair as sent.
        max_part_header_size: the largest header block of one multipart part, counted as
            ``name: value`` plus CRLF per line (413 beyond).
        max_size: the largest whole body, in bytes, files included (413 beyond); separate from the
            JSON ``max_body_size``.

    Raises:
        ValueError: a limit is not a non-negative integer.
    """

    max_fields: int = 1000
    max_files: int = 100
    max_part_size: int = 1024 * 1024
    max_part_header_size: int = 16 * 1024
    max_size: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value < 0:
                raise ValueError(f"FormLimits.{field.name} must be a non-negative int, not {value!r}")


DEFAULT_LIMITS = FormLimits()


def parse_options_header(value: str) -> tuple[str, dict[str, str]]:
    """Split a header such as ``multipart/form-data; boundary="x"`` into its value and parameters.

    Linear in the length of `value` whatever it holds (no backtracking regex: advisory
    CVE-2024-24762). In quoted strings a backslash escapes only a quote or a backslash; others are
    kept, as browsers send them (Windows file names). Extended parameters (``filename*=``) are ignored,
    as RFC 7578 section 4.2 asks for form data. The value and parameter names are lower-cased.

    Raises:
        ValueError: a parameter has no ``=``, its name is not a token, a quoted string is not
            closed or is followed by other text, or a name is given twice.
    """
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        if rest[i] in _SPACE or rest[i] == ";":
            i += 1
            continue
        equals = rest.find("=", i)
        semicolon = rest.find(";", i)
        if equals == -1 or (semicolon != -1 and semicolon < equals):
            end = semicolon if semicolon != -1 else n
            raise ValueError(f"parameter {rest[i:end][:40]!r} has no value")
        name = rest[i:equals].rstrip(_SPACE).lower()
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid parameter name {name[:40]!r}")
        i = equals + 1
        while i < n and rest[i] in _SPACE:
            i += 1
        if i < n and rest[i] == '"':
            text, i = _quoted(rest, i + 1)
            semicolon = rest.find(";", i)
            end = semicolon if semicolon != -1 else n
            if rest[i:end].strip(_SPACE):
                raise ValueError(f"text after the quoted value of {name!r}")
        else:
            semicolon = rest.find(";", i)
            end = semicolon if semicolon != -1 else n
            text = rest[i:end].strip(_SPACE)
            if '"' in text:
                raise ValueError(f"stray quote in the value of {name!r}")
        i = end
        if "*" in name:
            continue
        if name in params:
            raise ValueError(f"parameter {name!r} is given twice")
        params[name] = text
    return head.strip(_SPACE).lower(), params


def _quoted(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string whose opening quote is before `start`; return it and the index after."""
    parts: list[str] = []
    i = start
    while True:
        stop = _QUOTED_STOP.search(text, i)
        if stop is None:
            raise ValueError("unterminated quoted string")
        j = stop.start()
        parts.append(text[i:j])
        if text[j] == '"':
            return "".join(parts), j + 1
        if j + 1 >= len(text):
            raise ValueError("unterminated quoted string")
        # Only \" and \\ are escapes: browsers send other backslashes as they are, as in
        # Windows file names (C:\x.txt); the HTML standard has them escape nothing else.
        if text[j + 1] in '"\\':
            parts.append(text[j + 1])
            i = j + 2
        else:
            parts.append("\\")
            i = j + 1


def require_multipart() -> tuple[Callable[..., Any], type[Exception]]:
    """Return python-multipart's streaming parser class and its base error class.

    Raises:
        ImportError: python-multipart is not installed; the message names the extra to install.
    """
    try:
        from python_multipart.exceptions import FormParserError
        from python_multipart.multipart import MultipartParser
    except ImportError:
        raise ImportError(
            "multipart/form-data bodies need python-multipart: pip install 'lanner[forms]'"
        ) from None
    return MultipartParser, FormParserError


async def parse_form(
    content_type: str | None, chunks: AsyncIterator[bytes], limits: FormLimits = DEFAULT_LIMITS
) -> FormData:
    """Parse a form body as it arrives.

    Args:
        content_type: the request's ``Content-Type`` header (None when absent: only an empty body is
            accepted then, as an empty form).
        chunks: the body, chunk by chunk.
        limits: the limits to enforce.

    Raises:
        HTTPException: 400 for a malformed body, a missing or invalid boundary, invalid Content-Type
            parameters or too many fields or files; 413 past a size limit; 415 for a body that is
            not a form.
        ImportError: a multipart body arrived and python-multipart is not installed.
        ClientDisconnect: (from `chunks`) the client left; files written so far are removed.
    """
    if content_type is None:
        async for chunk in chunks:
            if chunk:
                raise HTTPException(415, f"Expected a form body ({URLENCODED} or {MULTIPART})")
        return FormData()
    try:
        media, params = parse_options_header(content_type)
    except ValueError as exc:
        raise HTTPException(400, f"Invalid Content-Type header: {exc}") from None
    if media == URLENCODED:
        return await _parse_urlencoded(chunks, limits)
    if media != MULTIPART:
        raise HTTPException(415, f"Expected a form body ({URLENCODED} or {MULTIPART}), got {media[:80]!r}")
    boundary = params.get("boundary")
    if boundary is None:
        raise HTTPException(400, "Invalid Content-Type header: the multipart boundary is missing")
    if not _BOUNDARY.fullmatch(boundary):
        raise HTTPException(400, "Invalid Content-Type header: the multipart boundary is invalid")
    return await _MultipartReader(boundary, limits).read(chunks)


def _too_large(limits: FormLimits) -> HTTPException:
    return HTTPException(413, f"Form body exceeds {limits.max_size} bytes")


def _slices(chunk: bytes) -> list[bytes]:
    if len(chunk) <= _SLICE:
        return [chunk]
    return [chunk[i : i + _SLICE] for i in range(0, len(chunk), _SLICE)]


async def _parse_urlencoded(chunks: AsyncIterator[bytes], limits: FormLimits) -> FormData:
    """Split on ``&`` only (``;`` is data: advisory GHSA-5rvq-cxj2-64vf) and decode like a query."""
    items: list[tuple[str, FormValue]] = []
    pending = bytearray()  # the field still arriving
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limits.max_size:
            raise _too_large(limits)
        for piece in _slices(chunk):
            fields = piece.split(b"&")
            pending += fields[0]
            if len(fields) > 1:
                # filter() skips the empty fields of an "&&&&" flood in C.
                _add_fields(items, filter(None, [bytes(pending), *fields[1:-1]]), limits)
                pending = bytearray(fields[-1])
            if len(pending) > limits.max_part_size:
                raise HTTPException(413, f"A form field exceeds {limits.max_part_size} bytes")
    if pending:
        _add_fields(items, [bytes(pending)], limits)
    return FormData(items)


def _add_fields(items: list[tuple[str, FormValue]], fields: Any, limits: FormLimits) -> None:
    for field in fields:
        if len(field) > limits.max_part_size:
            raise HTTPException(413, f"A form field exceeds {limits.max_part_size} bytes")
        if len(items) >= limits.max_fields:
            raise HTTPException(400, f"Too many form fields: the limit is {limits.max_fields}")
        try:
            items.extend(parse_query_string(field))
        except MalformedQueryError as exc:
            raise HTTPException(400, str(exc.detail).replace("query string", "form body")) from None


def _decode(raw: bytes) -> str:
    """Decode a part's header text: UTF-8 as browsers send it, else latin-1 as HTTP defines it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _MultipartReader:
    """Drive python-multipart's parser, enforce the limits and collect fields and files.

    The parser's callbacks run synchronously inside ``write()``: they check the limits at once (by
    raising) and queue file data, which `read` then writes with ``await`` after each slice.
    """

    def __init__(self, boundary: str, limits: FormLimits) -> None:
        parser_class, self._parse_error = require_multipart()
        self._limits = limits
        self._items: list[tuple[str, FormValue]] = []
        self._uploads: list[UploadFile] = []
        self._writes: list[tuple[UploadFile, bytes]] = []
        self._parts = self._fields = self._files = 0
        self._header_size = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._name = ""
        self._upload: UploadFile | None = None
        self._value = bytearray()
        self._ended = False
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        options: dict[str, int] = {}
        if "max_header_size" in _parser_options(parser_class):
            # lanner counts a part's header block itself after every slice; the parser's own
            # per-line limit is raised above what that check lets through, so lanner's 413 wins.
            options["max_header_size"] = limits.max_part_header_size + _SLICE + 1024
        try:
            self._parser = parser_class(boundary.encode("latin-1"), callbacks, **options)
        except self._parse_error as exc:
            raise HTTPException(400, f"Invalid Content-Type header: {exc}") from None

    async def read(self, chunks: AsyncIterator[bytes]) -> FormData:
        try:
            total = 0
            started = False
            async for chunk in chunks:
                total += len(chunk)
                if total > self._limits.max_size:
                    raise _too_large(self._limits)
                if self._ended:
                    continue  # the epilogue: counted, never parsed
                # PERF(upload): a chunk within one slice (the usual case) skips building a list.
                for piece in (chunk,) if len(chunk) <= _SLICE else _slices(chunk):
                    if not started:
                        # CR/LF padding before the first boundary is skipped in C, not byte by byte
                        # in the parser (advisory CVE-2024-53981).
                        piece = piece.lstrip(b"\r\n")
                        if not piece:
                            continue
                        started = True
                    try:
                        self._parser.write(piece)
                    except self._parse_error as exc:
                        raise HTTPException(400, f"Malformed multipart body: {exc}") from None
                    if self._writes:
                        writes, self._writes = self._writes, []
                        for upload, data in writes:
                            await upload.write(data)
                    if self._ended:
                        break
            if not self._ended:
                raise HTTPException(400, "Malformed multipart body: the closing boundary is missing")
            for upload in self._uploads:
                await upload.seek(0)
        except BaseException:
            await close_uploads(self._uploads)
            raise
        return FormData(self._items)

    def _grow_headers(self, size: int) -> None:
        self._header_size += size
        if self._header_size > self._limits.max_part_header_size:
            raise HTTPException(
                413, f"The headers of a form part exceed {self._limits.max_part_header_size} bytes"
            )

    def _on_part_begin(self) -> None:
        self._parts += 1
        limits = self._limits
        most = limits.max_fields + limits.max_files
        if self._parts > most:
            raise HTTPException(400, f"Too many form parts: the limit is {most}")
        self._header_size = 0
        self._headers = []
        self._upload = None
        self._value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._header_name += memoryview(data)[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._header_value += memoryview(data)[start:end]

    def _on_header_end(self) -> None:
        self._grow_headers(4)  # ": " and CRLF
        self._headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        limits = self._limits
        dispositions = [value for name, value in self._headers if name == b"content-disposition"]
        if len(dispositions) != 1:
            raise HTTPException(400, "Malformed multipart body: a part needs one Content-Disposition header")
        try:
            kind, params = parse_options_header(_decode(dispositions[0]))
        except ValueError as exc:
            raise HTTPException(400, f"Malformed multipart body: bad Content-Disposition: {exc}") from None
        if kind != "form-data" or "name" not in params:
            raise HTTPException(400, "Malformed multipart body: a part is not named form-data")
        self._name = params["name"]
        filename = params.get("filename")
        if filename is None:
            self._fields += 1
            if self._fields > limits.max_fields:
                raise HTTPException(400, f"Too many form fields: the limit is {limits.max_fields}")
            return
        self._files += 1
        if self._files > limits.max_files:
            raise HTTPException(400, f"Too many files: the limit is {limits.max_files}")
        upload = UploadFile(spooled_file(), size=0, filename=filename, headers=Headers(self._headers))
        self._uploads.append(upload)
        self._items.append((self._name, upload))
        self._upload = upload

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._upload
        if upload is not None:
            # PERF(upload): data that keeps a spooled file in memory is written here, in the
            # callback, instead of being queued for an awaited `UploadFile.write` after the slice:
            # one coroutine and two list operations fewer per chunk (17 per 1 MiB upload). A write
            # that would roll the file to disk, and every write queued after it, still goes through
            # `UploadFile.write` and so to the file pool.
            if self._writes or not upload._write_in_memory(data, start, end):
                self._writes.append((upload, data[start:end]))
            return
        limit = self._limits.max_part_size
        if len(self._value) + end - start > limit:
            raise HTTPException(413, f"Form field {self._name[:80]!r} exceeds {limit} bytes")
        self._value += memoryview(data)[start:end]

    def _on_part_end(self) -> None:
        if self._upload is None:
            try:
                value = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(
                    400, f"Malformed multipart body: form field {self._name[:80]!r} is not valid UTF-8"
                ) from None
            self._items.append((self._name, value))
        self._upload = None

    def _on_end(self) -> None:
        self._ended = True


_OPTIONS: dict[Any, frozenset[str]] = {}


def _parser_options(parser_class: Any) -> frozenset[str]:
    """The keyword arguments this python-multipart version's parser accepts (older ones take fewer)."""
    options = _OPTIONS.get(parser_class)
    if options is None:
        options = _OPTIONS[parser_class] = frozenset(inspect.signature(parser_class).parameters)
    return options
