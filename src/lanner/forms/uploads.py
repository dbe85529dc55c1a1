"""What a parsed form holds: `FormData`, the multi-dict of fields, and `UploadFile`, one uploaded file.

An upload is spooled: it stays in memory up to `SPOOL_MAX_SIZE` bytes, then moves to an unnamed
temporary file. Every operation that may touch that file (the write that rolls it over, every write,
read, seek and close after it) runs in lanner's file thread pool, never on the event loop.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, TypeVar, overload

from lanner.concurrency import run_file_io
from lanner.datastructures import Headers

__all__ = ["SPOOL_MAX_SIZE", "FormData", "FormValue", "UploadFile", "close_uploads", "spooled_file"]

_T = TypeVar("_T")

#: Uploads larger than this (1 MiB) move from memory to a temporary file on disk.
SPOOL_MAX_SIZE = 1024 * 1024


def spooled_file() -> tempfile.SpooledTemporaryFile[bytes]:
    """Return the file a new upload is written to: memory first, disk past `SPOOL_MAX_SIZE`."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")


class UploadFile:
    """A file sent in a ``multipart/form-data`` body.

    `filename` is exactly what the client sent (it may be empty, hold ``../`` or a Windows path):
    lanner never uses it as a path. Sanitise it before using it to name anything on disk, or better,
    choose the name yourself.

    Args:
        file: the file holding the content (a `tempfile.SpooledTemporaryFile` when lanner parsed it).
        size: the number of bytes written so far; None when unknown.
        filename: the name the client gave, as sent.
        headers: the part's own headers.

    Attributes:
        file: the underlying binary file; use the async methods from async code, they keep disk I/O
            off the event loop.
    """

    __slots__ = ("file", "filename", "headers", "size")

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.file = file
        self.size = size
        self.filename = filename
        self.headers = headers if headers is not None else Headers()

    @property
    def content_type(self) -> str | None:
        """The part's ``Content-Type`` header, if it had one."""
        return self.headers.get("content-type")

    @property
    def _in_memory(self) -> bool:
        # Only a spooled file that has not rolled over is safe to touch from the event loop.
        return not getattr(self.file, "_rolled", True)

    def _will_roll(self, size: int) -> bool:
        if not self._in_memory:
            return True
        max_size: int = getattr(self.file, "_max_size", 0)
        return bool(max_size) and self.file.tell() + size > max_size

    def _write_in_memory(self, data: bytes, start: int, end: int) -> bool:
        """Append ``data[start:end]`` at once if that keeps the file in memory; False if it would not.

        For the multipart parser's callbacks, which cannot await: a False answer leaves the write
        to `write`, which moves the file to disk in the file pool.
        """
        # PERF(upload): `_will_roll` inlined, one lookup of each spool attribute: this runs once
        # per chunk of every upload.
        file, size = self.file, end - start
        if getattr(file, "_rolled", True):
            return False
        max_size: int = getattr(file, "_max_size", 0)
        if max_size and file.tell() + size > max_size:
            return False
        if self.size is not None:
            self.size += size
        file.write(data[start:end])
        return True

    async def write(self, data: bytes) -> None:
        """Append `data` (the write that moves a spooled file to disk runs in a thread).

        Raises:
            OSError: the disk refused the write (full, closed file).
        """
        if self.size is not None:
            self.size += len(data)
        if self._will_roll(len(data)):
            await run_file_io(self.file.write, data)
        else:
            self.file.write(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all that is left by default) from the current position.

        Raises:
            ValueError: the file is closed.
        """
        if self._in_memory:
            return self.file.read(size)
        return await run_file_io(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to byte `offset` from the start.

        Raises:
            ValueError: the file is closed.
        """
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_file_io(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file and free it (a temporary file on disk is removed); closing twice is fine."""
        if self.file.closed:
            return
        if self._in_memory:
            self.file.close()
        else:
            await run_file_io(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, size={self.size!r}, "
            f"content_type={self.content_type!r})"
        )

    # pydantic's documented hooks, answered with plain dicts so this module needs no pydantic import:
    # an UploadFile field accepts UploadFile instances and is documented as a binary string, which
    # gives Swagger UI its upload button.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> dict[str, Any]:
        return {"type": "is-instance", "cls": cls}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "binary"}


FormValue = str | UploadFile


async def close_uploads(uploads: Iterable[UploadFile]) -> None:
    """Close every upload; if the closing task is cancelled, the rest are closed at once, here."""
    pending = list(uploads)
    try:
        while pending:
            await pending[-1].close()
            pending.pop()
    finally:
        # Reached early only on cancellation or a failed close: never leave a file open.
        for upload in pending:
            upload.file.close()


class FormData(Mapping[str, FormValue]):
    """An immutable multi-dict of form fields: each value is a `str` or an `UploadFile`.

    As a mapping it holds one entry per name, the last value sent; `getlist()` and `multi_items()`
    see every value, in the order sent. `close()` closes every upload it holds.

    Args:
        items: ``(name, value)`` pairs, or a mapping (another `FormData` gives all its pairs).
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, items: Iterable[tuple[str, FormValue]] | Mapping[str, FormValue] = ()) -> None:
        if isinstance(items, FormData):
            self._list: list[tuple[str, FormValue]] = items.multi_items()
        elif isinstance(items, Mapping):
            self._list = list(items.items())
        else:
            self._list = list(items)
        self._dict = dict(self._list)

    def __getitem__(self, key: str) -> FormValue:
        """Return the last value sent for `key`.

        Raises:
            KeyError: if `key` is absent.
        """
        return self._dict[key]

    @overload
    def get(self, key: str) -> FormValue | None: ...

    @overload
    def get(self, key: str, default: _T) -> FormValue | _T: ...

    def get(self, key: str, default: object = None) -> object:
        """Return the last value sent for `key`, or `default` when it is absent."""
        return self._dict.get(key, default)

    def getlist(self, key: str) -> list[FormValue]:
        """Return every value sent for `key`, in order; an empty list when it is absent."""
        return [value for name, value in self._list if name == key]

    def multi_items(self) -> list[tuple[str, FormValue]]:
        """Return every ``(name, value)`` pair, in order, duplicates kept."""
        return list(self._list)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"

    async def close(self) -> None:
        """Close every uploaded file (their temporary files are removed); closing twice is fine."""
        await close_uploads(value for _, value in self._list if isinstance(value, UploadFile))
