"""Shared pieces of the server-rendered benchmark apps (``python -m benchmarks --pages``).

Every pages app (``pages_lanner``, ``pages_starlette``, ``pages_fastapi``, ``pages_flask``) serves
the same five answers from one app, with the same template files and the same static folder:

- ``GET /page``: ``templates/page.html`` (which extends ``templates/base.html``) rendered with
  `page_context`, a 20-row table;
- ``POST /login``: an urlencoded ``username`` and ``password`` → ``{"username": ..., "logged_in": true}``
  (401 for a wrong password);
- ``POST /upload``: a multipart body with one file field, ``file``; the handler reads the file to
  its end in `READ_CHUNK` pieces and answers ``{"filename": ..., "size": ...}``;
- ``GET /static/app.css``: a 64 KiB file from ``static/``, with its validators (``ETag``), so a
  conditional GET gets a 304.

The expected answers are computed here without any framework (`expected_page` renders the template
with a bare Jinja2 environment), so the checks hold every app to the same bytes.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
"""The template folder every pages app renders from."""

STATIC_DIR = HERE / "static"
"""The static folder every pages app serves under ``/static``."""

STATIC_FILE = "app.css"
"""The 64 KiB file of the static scenarios."""

PAGE_TEMPLATE = "page.html"
"""The page template; it extends ``base.html``."""

USERNAME = "ada"
PASSWORD = "correct horse battery staple"
LOGIN_BODY = b"username=ada&password=correct+horse+battery+staple"
"""The login form as a browser sends it (``application/x-www-form-urlencoded``)."""

LOGIN_ANSWER: dict[str, Any] = {"username": USERNAME, "logged_in": True}

UPLOAD_SIZE = 1024 * 1024
"""Size of the uploaded file in the upload scenario (1 MiB)."""

UPLOAD_FILENAME = "upload.bin"
UPLOAD_FIELD = "file"
BOUNDARY = "----lannerBenchBoundary7MA4YWxkTrZu0gW"
"""A multipart boundary shaped like a browser's."""

UPLOAD_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

UPLOAD_MAX_SIZE = 200 * 1024 * 1024
"""The form size limit the apps allow on ``/upload``: room for the 100 MiB memory scenario."""

READ_CHUNK = 64 * 1024
"""The handlers read uploads in pieces of this size, never whole."""

_BLOCK = bytes(range(256))
"""The file's content repeats every byte value (CR, LF and ``-`` included), like binary data does."""

_STATUSES = ("paid", "pending", "shipped", "refunded")
_CUSTOMERS = (
    "Ada Lovelace",
    "Charles Babbage",
    "Smith & Sons",
    "<Grace> Hopper Ltd",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "O'Reilly Media",
    "Donald Knuth",
    "Margaret Hamilton",
)
_ITEMS = ("Notebook A5", "Fountain pen", "Ink, blue", "Stapler", "Paper clips x100")

ROWS: list[dict[str, Any]] = [
    {
        "id": 1000 + i,
        "customer": _CUSTOMERS[i % len(_CUSTOMERS)],
        "email": f"customer{i}@example.com",
        "item": _ITEMS[i % len(_ITEMS)],
        "qty": 1 + i % 4,
        "price": round(1.25 + 3.5 * i, 2),
        "status": _STATUSES[i % len(_STATUSES)],
    }
    for i in range(20)
]
"""The table's 20 rows; two customers need HTML escaping (``&``, ``<...>``), one a quote."""

_TOTAL = round(sum(row["qty"] * row["price"] for row in ROWS), 2)


def page_context() -> dict[str, Any]:
    """Return the page template's variables (a new dict per request, as a handler would build)."""
    return {"title": "Orders", "user": USERNAME, "rows": ROWS, "total": _TOTAL}


def check_password(username: str, password: str) -> bool:
    """Whether the login form names the benchmark's user with its password (constant time)."""
    return hmac.compare_digest(username, USERNAME) & hmac.compare_digest(password.encode(), PASSWORD.encode())


def expected_page() -> str:
    """Render the page with a bare Jinja2 environment: the HTML every app must answer with.

    Autoescaping is on for ``.html``, as in Flask, Starlette's ``Jinja2Templates`` and lanner's
    ``Templates``.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=jinja2.select_autoescape(["html"])
    )
    return env.get_template(PAGE_TEMPLATE).render(page_context())


def static_text() -> str:
    """The static file's content, as the checks compare it."""
    return (STATIC_DIR / STATIC_FILE).read_text(encoding="utf-8")


def multipart_head(filename: str = UPLOAD_FILENAME) -> bytes:
    """The bytes of an upload body before the file's content: boundary and part headers."""
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{UPLOAD_FIELD}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
"""The bytes of an upload body after the file's content."""


def upload_chunks(size: int, chunk: int = READ_CHUNK) -> Iterator[bytes]:
    """Yield a multipart upload body of a ``size``-byte file, piece by piece (nothing held whole).

    Args:
        size: The file's size in bytes.
        chunk: The largest piece yielded for the file's content; a multiple of 256.
    """
    yield multipart_head()
    piece = _BLOCK * max(chunk // len(_BLOCK), 1)
    sent = 0
    while sent < size:
        # Every piece but the last is whole blocks, so the content is _BLOCK repeated.
        step = min(len(piece), size - sent)
        yield piece if step == len(piece) else piece[:step]
        sent += step
    yield MULTIPART_TAIL


def upload_length(size: int) -> int:
    """The length of the body `upload_chunks` yields for a ``size``-byte file."""
    return len(multipart_head()) + size + len(MULTIPART_TAIL)


def upload_body(size: int = UPLOAD_SIZE) -> bytes:
    """A whole multipart upload body (for the 1 MiB scenario; the memory scenario streams)."""
    return b"".join(upload_chunks(size))


def upload_answer(size: int = UPLOAD_SIZE) -> dict[str, Any]:
    """The answer to an upload of a ``size``-byte file."""
    return {"filename": UPLOAD_FILENAME, "size": size}
