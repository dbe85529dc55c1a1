"""What both directions of the WSGI bridge share: the WSGI types, the logger, a2wsgi, status lines."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from lanner.status import phrase

#: Where both directions log what the server would otherwise never see.
logger = logging.getLogger("lanner.wsgi")

#: A WSGI environment: CGI variables and ``wsgi.*`` keys.
Environ = dict[str, Any]
#: A WSGI ``start_response(status, headers, exc_info=None)`` callable.
StartResponse = Callable[..., Any]
#: A WSGI application (a Flask app, a Django handler...).
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_MISSING_A2WSGI = "WSGI support needs a2wsgi: pip install 'lanner[wsgi]'"


def _a2wsgi() -> Any:
    """Import a2wsgi, an optional dependency, naming the extra that installs it when it is missing."""
    try:
        return importlib.import_module("a2wsgi")
    except ImportError as exc:
        raise ImportError(_MISSING_A2WSGI) from exc


@functools.cache
def _status_line(code: int) -> str:
    """The WSGI status string for `code`: ``"404 Not Found"``."""
    return f"{code} {phrase(code) or 'Unknown'}"
