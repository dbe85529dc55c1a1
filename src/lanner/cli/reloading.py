"""The app as uvicorn's reloader imports it: in a fresh process after each change, through lanner.

``lanner dev`` hands uvicorn `RELOADED_APP`, a factory, rather than the user's ``module:attr``. Each
reloaded process then finds the app as ``lanner run`` does (files, packages, ``create_app``), and
an app that fails to import (a syntax error half-way through an edit, a missing dependency) is
reported in lanner's words, with the file and line, instead of a traceback; that process exits,
and the reloader, which keeps watching, starts the next one when a file changes.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from lanner.cli.targets import TargetError, load_target

__all__ = ["RELOADED_APP", "RELOAD_TARGET", "load_app"]

#: The environment variable through which the reloader's processes learn TARGET.
RELOAD_TARGET = "LANNER_RELOAD_TARGET"
#: The import string uvicorn is given, with ``factory=True``.
RELOADED_APP = f"{__name__}:load_app"


def load_app() -> Any:
    """Import the app named by ``$LANNER_RELOAD_TARGET``; uvicorn calls it in each reloaded process.

    Raises:
        SystemExit: the app cannot be loaded. The reason is printed first, then that the next
            change reloads it; uvicorn's reloader keeps watching.
    """
    target = os.environ.get(RELOAD_TARGET, "")
    try:
        return load_target(target)
    except TargetError as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        print("lanner: waiting for a change to reload the app", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
