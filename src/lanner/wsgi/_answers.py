"""The answers the adapter gives itself, to requests the app cannot serve under WSGI as they came."""

from __future__ import annotations

from lanner.errors import ProblemResponse
from lanner.wsgi._base import Environ, StartResponse, _status_line

_NO_WEBSOCKETS = ProblemResponse(
    501,
    "WebSockets need an ASGI server: this app is served through WSGI, which cannot hand over the "
    "connection. Serve it with `lanner run` (uvicorn) for its WebSocket routes.",
)
_LENGTH_REQUIRED = ProblemResponse(
    411, "A request body needs a Content-Length header when a multi-threaded WSGI server runs this app."
)
# For a client that went away mid-body, should it still be listening: the app had nothing to answer.
_BODY_CUT_SHORT = ProblemResponse(
    400, "The request body ended before the length its Content-Length announced."
)


def _refusal(environ: Environ) -> ProblemResponse | None:
    """The answer to a request that cannot be served under WSGI at all, if this is one."""
    upgrade = environ.get("HTTP_UPGRADE")
    if upgrade is not None and "websocket" in upgrade.lower():
        return _NO_WEBSOCKETS
    return None


def _answer(response: ProblemResponse, start_response: StartResponse) -> list[bytes]:
    """Give `response` to the server as a whole WSGI response."""
    status = _status_line(response.status_code)
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers]
    start_response(status, headers)
    return [response.body]
