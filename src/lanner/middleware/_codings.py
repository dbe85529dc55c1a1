"""The content codings `GZipMiddleware` offers, and the choice between them.

Each coding (gzip, Brotli, zstd) compresses a whole body in one call or a streamed body message
by message, every message flushed so the client can decode it at once. gzip runs on the standard
library; Brotli (package ``brotli``) and zstd (package ``zstandard``) are imported when a
middleware is made and left out when not installed (``pip install 'lanner[compression]'``).
`negotiate` picks one of them for an ``Accept-Encoding`` header.
"""

from __future__ import annotations

import importlib
import re
import zlib
from typing import Any, Protocol

__all__ = ["Coding", "Stream", "negotiate", "offered_codings"]

_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


class Stream(Protocol):
    """One body being compressed message by message."""

    def flush(self, data: bytes) -> bytes:
        """Compress `data` and everything before it into bytes the client can decode now."""
        ...

    def finish(self, data: bytes) -> bytes:
        """Compress `data` and end the stream."""
        ...


class Coding(Protocol):
    """A content coding: its ``Content-Encoding`` token and how it compresses."""

    name: bytes

    def compress(self, data: bytes) -> bytes:
        """Compress a whole body."""
        ...

    def stream(self) -> Stream:
        """Start compressing a body sent in several messages."""
        ...


class _GzipStream:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)

    def flush(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_FINISH)


class _Gzip:
    name = b"gzip"

    def __init__(self, level: int) -> None:
        self._level = level

    def compress(self, data: bytes) -> bytes:
        # wbits=31: the gzip container (with a zero mtime, so equal bodies give equal bytes).
        return zlib.compress(data, self._level, 31)

    def stream(self) -> Stream:
        return _GzipStream(self._level)


class _BrotliStream:
    __slots__ = ("_compressor",)

    def __init__(self, compressor: Any) -> None:
        self._compressor = compressor

    def flush(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data) + self._compressor.flush())

    def finish(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data) + self._compressor.finish())


class _Brotli:
    name = b"br"

    def __init__(self, module: Any, quality: int) -> None:
        self._module = module
        self._quality = quality

    def compress(self, data: bytes) -> bytes:
        return bytes(self._module.compress(data, quality=self._quality))

    def stream(self) -> Stream:
        return _BrotliStream(self._module.Compressor(quality=self._quality))


class _ZstdStream:
    __slots__ = ("_compressor", "_flush_block")

    def __init__(self, compressor: Any, flush_block: int) -> None:
        self._compressor = compressor
        self._flush_block = flush_block

    def flush(self, data: bytes) -> bytes:
        return bytes(self._compressor.compress(data) + self._compressor.flush(self._flush_block))

    def finish(self, data: bytes) -> bytes:
        return bytes(self._compressor.compress(data) + self._compressor.flush())


class _Zstd:
    name = b"zstd"

    def __init__(self, module: Any, level: int) -> None:
        self._module = module
        self._level = level
        # One context for whole bodies: each is compressed in one call, never interleaved.
        self._whole = module.ZstdCompressor(level=level)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._whole.compress(data))

    def stream(self) -> Stream:
        # Streams interleave on the event loop, so each needs a context of its own.
        compressor = self._module.ZstdCompressor(level=self._level).compressobj()
        return _ZstdStream(compressor, self._module.COMPRESSOBJ_FLUSH_BLOCK)


def offered_codings(
    compresslevel: int, brotli_quality: int | None, zstd_level: int | None
) -> tuple[Coding, ...]:
    """The codings to offer, most preferred first: Brotli, zstd (each when installed), gzip.

    Args:
        compresslevel: the gzip level, 1 to 9.
        brotli_quality: the Brotli quality, 0 to 11; ``None`` leaves Brotli out.
        zstd_level: the zstd level, 1 to 22; ``None`` leaves zstd out.

    Raises:
        ValueError: a level out of range (named by its argument).
    """
    _check_level("compresslevel", compresslevel, 1, 9)
    codings: list[Coding] = []
    if brotli_quality is not None:
        _check_level("brotli_quality", brotli_quality, 0, 11)
        brotli = _optional("brotli")
        if brotli is not None:
            codings.append(_Brotli(brotli, brotli_quality))
    if zstd_level is not None:
        _check_level("zstd_level", zstd_level, 1, 22)
        zstandard = _optional("zstandard")
        if zstandard is not None:
            codings.append(_Zstd(zstandard, zstd_level))
    codings.append(_Gzip(compresslevel))
    return tuple(codings)


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _check_level(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")


def negotiate(accept: bytes, codings: tuple[Coding, ...]) -> Coding | None:
    """The coding to use for `accept`, or ``None`` to send the body as it is (RFC 9110, 12.5.3).

    Args:
        accept: the request's ``Accept-Encoding`` value (several headers joined by commas).
        codings: the codings offered, most preferred first; between equal q-values the earlier
            one wins.
    """
    qualities: dict[bytes, float] = {}
    for item in accept.split(b","):
        token, _, params = item.partition(b";")
        token = token.strip().lower()
        if not token:
            continue
        quality = _quality(params)
        if quality is None:
            continue  # a malformed q-value: the item says nothing
        if token == b"x-gzip":
            token = b"gzip"
        qualities[token] = max(quality, qualities.get(token, 0.0))
    anything = qualities.get(b"*", 0.0)
    best: Coding | None = None
    best_quality = 0.0
    for coding in codings:  # most preferred first: a tie keeps the earlier one
        quality = qualities.get(coding.name, anything)
        if quality > best_quality:
            best, best_quality = coding, quality
    identity = qualities.get(b"identity")
    if identity is not None and identity > best_quality:
        return None
    return best


def _quality(params: bytes) -> float | None:
    for param in params.split(b";"):
        name, _, value = param.partition(b"=")
        if name.strip().lower() == b"q":
            text = value.strip().decode("latin-1")
            return float(text) if _QVALUE.fullmatch(text) else None
    return 1.0
