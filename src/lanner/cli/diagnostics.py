"""Say why the user's app could not be imported, pointing at the user's file and line, in a line.

A traceback through importlib, lanner and the libraries it calls hides the one line that matters:
the import of a package that is not installed, the statement that raised. This module finds that
line and writes ``cannot import 'shop.app': No module named 'redis' (shop/app.py, line 3: import
redis)``. A syntax error gets Python's own message (file, line, source line, caret), which is
already the best there is, without the traceback above it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
from pathlib import Path

from lanner.checks import RouteDefinitionError

__all__ = ["describe_import_failure", "display_path"]

#: Frames in these folders are not the user's: the standard library, installed packages, lanner.
_LIBRARY_FOLDERS = tuple(
    {
        os.path.join(os.path.realpath(folder), "")
        for folder in (
            *(sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")),
            str(Path(__file__).resolve().parent.parent),  # lanner itself
        )
        if folder
    }
)


def display_path(filename: str) -> str:
    """`filename` relative to the working directory when it lies inside it, else as it is."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # pragma: no cover - another drive, on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative


def describe_import_failure(exc: BaseException, head: str) -> str:
    """The message for `exc`, raised while importing the user's app (or calling its factory).

    Args:
        exc: the exception, with its traceback.
        head: what failed, such as ``cannot import 'shop.app'``.

    Returns:
        ``head: reason (file, line N: source)`` on one line (the reason may carry its own lines),
        or for a syntax error ``head:`` followed by Python's message with its caret.
    """
    if isinstance(exc, SyntaxError) and exc.filename:  # from the parser, not a `raise SyntaxError()`
        exc.filename = display_path(exc.filename)
        block = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return f"{head}: syntax error\n{block}"
    if isinstance(exc, RouteDefinitionError):
        # It names the file, line and fix itself (lanner check lists them all).
        return f"{head}: {str(exc).removeprefix(os.path.join(os.getcwd(), ''))}"
    if isinstance(exc, ImportError):
        reason = str(exc)  # "No module named 'x'" and "cannot import name 'y' from 'x'" say it all
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    first, newline, rest = reason.partition("\n")
    message = f"{head}: {first}{_location(exc)}"
    if isinstance(exc, ModuleNotFoundError):
        message += f"; is it installed for {sys.executable}?"
    return message + newline + rest


def _location(exc: BaseException) -> str:
    """`` (app.py, line 3: import redis)``: the deepest frame of the user's code, if any."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__) if not frame.filename.startswith("<")
    ]
    users = [frame for frame in frames if not _is_library(frame.filename)]
    if not users:
        return ""
    frame = users[-1]
    source = f": {frame.line.strip()}" if frame.line else ""
    return f" ({display_path(frame.filename)}, line {frame.lineno}{source})"


def _is_library(filename: str) -> bool:
    """Whether `filename` belongs to Python, an installed package or lanner rather than the user."""
    return os.path.realpath(filename).startswith(_LIBRARY_FOLDERS)
