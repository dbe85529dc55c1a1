"""Cover images: checked by their first bytes, stored under a random name, deleted with their book.

The client's file name and Content-Type are never trusted: the file's own signature decides
whether it is a PNG, JPEG, GIF or WebP image (SVG, which can carry scripts, is refused), and the
server picks the stored name, so an upload can neither choose its path nor overwrite another.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

MAX_COVER_BYTES = 2 * 1024 * 1024
ACCEPTED_TYPES = "image/png,image/jpeg,image/gif,image/webp"


class CoverError(ValueError):
    """The upload is not an image we keep; the message is shown next to the form field."""


def image_suffix(data: bytes) -> str:
    """The file suffix for the image in `data`, judged by its signature.

    Raises:
        CoverError: empty, too large, or not a PNG, JPEG, GIF or WebP image.
    """
    if not data:
        raise CoverError("The file is empty.")
    if len(data) > MAX_COVER_BYTES:
        raise CoverError(f"The image is larger than {MAX_COVER_BYTES // (1024 * 1024)} MB.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    raise CoverError("Upload a PNG, JPEG, GIF or WebP image.")


async def save_cover(folder: Path, data: bytes) -> str:
    """Write the image in `data` to `folder` under a new random name, and return that name.

    Raises:
        CoverError: `data` is not an image we keep.
    """
    name = secrets.token_hex(16) + image_suffix(data)
    await asyncio.to_thread(_write_new, folder / name, data)
    return name


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as file:  # "x": never replace an existing file
        file.write(data)


async def delete_cover(folder: Path, name: str | None) -> None:
    """Remove a stored cover (nothing if `name` is None or the file is already gone)."""
    if name:
        await asyncio.to_thread(_unlink, folder / Path(name).name)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
