"""What `FileResponse` needs besides sending: safe paths, reading, preconditions and ranges.

An open file is read in the file pool; preconditions are ``If-None-Match``, ``If-Modified-Since``
and ``If-Range``; ranges are single byte ranges.

Every parser here sees client bytes, so each one is linear and bounded: a ``Range`` header over
1,024 characters is ignored, numbers over 18 digits never reach ``int()``, and dates over 64
characters are not dates.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import os
import posixpath
import re
import stat
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, ParamSpec, TypeVar
from urllib.parse import quote

from lanner.concurrency import file_pool
from lanner.datastructures import Headers

P = ParamSpec("P")
T = TypeVar("T")


class Unsatisfiable(enum.Enum):
    TOKEN = enum.auto()


class FileUnavailable(RuntimeError):
    """The path names something other than a regular file, or is refused under a `root`."""


_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"')
# Headers describing the body, left out of 304 and 416 answers (they carry none).
BODY_HEADERS = frozenset((b"content-type", b"content-disposition", b"content-length", b"content-range"))
OWNED_HEADERS = frozenset((b"content-length", b"content-range"))
# A longer Range header is ignored: a single range needs far less, and the cap bounds the parsing.
_MAX_RANGE_HEADER = 1024
# A position with more digits is larger than any file: it is never given to int(), whose cost
# grows with the digits and which raises past 4,300 of them.
_MAX_DIGITS = 18
_HUGE = 2**64  # beyond any st_size (a signed 64-bit number), so it acts as infinity
_MAX_DATE_LENGTH = 64  # an HTTP date has 29 characters; anything this long is not one
# Open errors that, under a root, mean "no such file" (404): the name leads nowhere.
_UNREACHABLE = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG))
_DRIVE = re.compile(r"[A-Za-z]:")


def _open_nonblocking(path: str, flags: int) -> int:
    # O_NONBLOCK keeps the open of a FIFO from waiting for a writer (regular files ignore it);
    # O_NOCTTY keeps a terminal device from becoming ours. Both are refused after the fstat.
    extra = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    return os.open(path, flags | extra)


def open_regular_file(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open `path` and fstat the open descriptor, so what is checked is what is read.

    Raises:
        FileUnavailable: if `path` is not a regular file.
        OSError: if the file cannot be opened (``FileNotFoundError``, ``PermissionError``...).
        ValueError: if `path` contains a NUL character.

    """
    try:
        file = open(path, "rb", opener=_open_nonblocking)  # noqa: SIM115 - the caller closes it
    except IsADirectoryError as exc:
        raise FileUnavailable(f"File at path {path!r} is not a regular file") from exc
    try:
        result = os.fstat(file.fileno())
        if not stat.S_ISREG(result.st_mode):
            raise FileUnavailable(f"File at path {path!r} is not a regular file")
    except BaseException:
        file.close()
        raise
    return file, result


def is_unavailable(exc: Exception) -> bool:
    return isinstance(exc, FileUnavailable) or (isinstance(exc, OSError) and exc.errno in _UNREACHABLE)


def _escapes(relative: str) -> bool:
    """Whether `relative` is refused under a root before any file system access."""
    if "\\" in relative or _DRIVE.match(relative) is not None:
        return True
    normalised = posixpath.normpath(relative)
    return normalised == ".." or normalised.startswith("../")


def resolve_under(root: str, path: str) -> str:
    """Return the real path (symlinks resolved) of `path` taken relative to `root`.

    The caller opens this real path rather than the joined one, so what was checked is what is
    opened (short of a directory swapped for a symlink in between, by someone who can write there).

    Raises:
        FileUnavailable: if `path` holds a NUL, or its real path is not inside `root`'s.

    """
    if "\x00" in path:
        raise FileUnavailable("Refused path: NUL character")
    if not os.path.isabs(path):
        if _escapes(path):
            raise FileUnavailable(f"Refused path {path!r}")
        path = os.path.join(root, path)
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    try:
        # commonpath compares whole segments: /srv/static_disallow is not inside /srv/static.
        inside = os.path.commonpath((real_root, real)) == real_root
    except ValueError:  # paths on different drives
        inside = False
    if not inside:
        raise FileUnavailable(f"Refused path {path!r}: outside the root")
    return real


class FileReader:
    """One file opened, stat-ed and read in the file pool, then closed exactly once.

    A cancelled ``await`` leaves its worker thread running; closing the file under that thread
    could let another open reuse the descriptor, so `close` then leaves it to the thread.
    """

    def __init__(self) -> None:
        self.file: BinaryIO | None = None
        self._pending: Future[Any] | None = None

    async def _run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        future = file_pool().submit(fn, *args, **kwargs)
        self._pending = future
        return await asyncio.wrap_future(future)

    def _open(self, path: str, root: str | None) -> os.stat_result:
        self.file, result = open_regular_file(path if root is None else resolve_under(root, path))
        return result

    def _read_at(self, offset: int, size: int) -> bytes:
        assert self.file is not None
        self.file.seek(offset)
        return self.file.read(size)

    async def open(self, path: str, root: str | None) -> os.stat_result:
        return await self._run(self._open, path, root)

    async def read(self, offset: int, size: int) -> bytes:
        return await self._run(self._read_at, offset, size)

    def close(self) -> None:
        if self._pending is None:
            return
        # Runs now when no call is in flight, else in the worker thread once its call returns.
        self._pending.add_done_callback(self._close_file)

    def _close_file(self, _: Future[Any]) -> None:
        if self.file is not None:
            self.file.close()


def content_disposition(disposition_type: str, filename: str) -> bytes:
    if filename.isascii() and filename.isprintable():
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'{disposition_type}; filename="{escaped}"'.encode("latin-1")
    # RFC 5987 ext-value; percent-encoding also disarms any control character in the name.
    encoded = quote(filename, safe="!#$&+^`|")
    return f"{disposition_type}; filename*=utf-8''{encoded}".encode("latin-1")


def _http_date_timestamp(value: str) -> float | None:
    if len(value) > _MAX_DATE_LENGTH:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def is_not_modified(request: Headers, etag: str, last_modified: str) -> bool:
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


def if_range_allows(value: str | None, etag: str, last_modified: str) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith(("W/", '"')):
        # If-Range uses the strong comparison: weak tags never match.
        return not etag.startswith("W/") and value == etag
    date = _http_date_timestamp(value)
    return date is not None and date == _http_date_timestamp(last_modified)


def _position(text: str) -> int | None:
    """The number a range spec's digits spell, `_HUGE` past 18 digits, ``None`` if not digits."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits or "0")


def parse_range(header: str, size: int) -> tuple[int, int] | Unsatisfiable | None:
    """Return the inclusive byte span to send, `Unsatisfiable`, or ``None`` to ignore Range.

    Linear in the header, which is capped at `_MAX_RANGE_HEADER` characters.
    """
    if len(header) > _MAX_RANGE_HEADER:
        return None
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [spec for spec in ranges.split(",") if spec.strip()]
    if len(specs) != 1:
        # RFC 9110 lets a server ignore Range; several ranges get the whole file, not multipart.
        return None
    first, dash, last = specs[0].strip().partition("-")
    if not dash:
        return None
    if not first:
        suffix = _position(last)
        if suffix is None:
            return None
        if suffix == 0:
            return Unsatisfiable.TOKEN
        return None if size == 0 else (max(size - suffix, 0), size - 1)
    start = _position(first)
    end = _position(last) if last else size - 1
    if start is None or end is None or (last and end < start):
        return None
    if start >= size:
        return Unsatisfiable.TOKEN
    return start, min(end, size - 1)
