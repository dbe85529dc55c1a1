"""The ASGI scope of a WSGI request, as an ASGI server would have built it."""

from __future__ import annotations

from typing import Any

from lanner.types import Scope
from lanner.wsgi._base import Environ

# The ASGI header name each environ key stands for (None: not a header), worked out once a key
# (bounded: clients choose the names).
_HEADER_NAMES: dict[str, bytes | None] = {
    "CONTENT_TYPE": b"content-type",
    "CONTENT_LENGTH": b"content-length",
    # Some servers pass these too; the CGI names above are the ones that count.
    "HTTP_CONTENT_TYPE": None,
    "HTTP_CONTENT_LENGTH": None,
}
_HEADER_NAMES_MAX = 512
_UNSEEN = b"?"  # no header name is spelled so


def _http_scope(environ: Environ, state: dict[str, Any]) -> Scope:
    """The ASGI HTTP scope of a WSGI request (a copy of the lifespan `state` included).

    WSGI strings carry the request's bytes, one character per byte: the path is decoded as
    UTF-8, an invalid byte becoming U+FFFD (as uvicorn decodes it, so the app answers its 404); a
    query string with bytes that are not ASCII has them percent-encoded (it parses the same).
    """
    names = _HEADER_NAMES
    headers = []
    for key, value in environ.items():
        name = names.get(key, _UNSEEN)
        if name is _UNSEEN:
            name = key[5:].lower().replace("_", "-").encode("latin-1") if key.startswith("HTTP_") else None
            if len(names) < _HEADER_NAMES_MAX:
                names[key] = name
        if name is not None:
            headers.append((name, value.encode("latin-1")))
    root_path: str = environ.get("SCRIPT_NAME", "")
    if not root_path.isascii():
        root_path = _decoded(root_path)
    path: str = environ.get("PATH_INFO", "")
    if not path.isascii():
        path = _decoded(path)
    query: str = environ.get("QUERY_STRING", "")
    if not query.isascii():
        query = "".join(chr(byte) if byte < 128 else f"%{byte:02X}" for byte in query.encode("latin-1"))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.0").partition("/")[2] or "1.0",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": root_path + path,
        "query_string": query.encode("ascii"),
        "root_path": root_path,
        "headers": headers,
        "server": (environ["SERVER_NAME"], int(environ["SERVER_PORT"])),
        "extensions": {},
        "state": dict(state),
        "wsgi_environ": environ,
    }
    address, port = environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT")
    if address and port:
        scope["client"] = (address, int(port))
    return scope


def _decoded(text: str) -> str:
    # A WSGI string as the text its UTF-8 bytes spell.
    return text.encode("latin-1").decode("utf-8", "replace")
