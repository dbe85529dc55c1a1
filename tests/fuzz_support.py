"""Helpers for tests/test_fuzz.py: a raw ASGI driver, the app under fuzz, and reference parsers.

The driver builds the ASGI scope itself, so a test can send what a real server would pass on but
httpx refuses to produce: arbitrary bytes in header names and values, in ``query_string`` and in
``raw_path``, paths that do not start with "/", bodies split into any chunks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import tracemalloc
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_to_bytes

from pydantic import BaseModel

from lanner import Body, Cookie, Depends, Header, Lanner, Query, Request, Response
from lanner.responses import FileResponse

Message = dict[str, Any]
RawHeaders = list[tuple[bytes, bytes]]

# Small enough that the memory test can send many times the limit quickly.
SMALL_BODY_LIMIT = 1024
FILE_SIZE = 1000
FILE_CONTENT = bytes(i % 251 for i in range(FILE_SIZE))
# Anything a response header may not carry: CR, LF and NUL would let a value smuggle header lines.
_UNSAFE_HEADER_VALUE = re.compile(rb"[\r\n\x00]")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")


@dataclasses.dataclass
class Exchange:
    """What the app sent back for one request, plus how much of the body it read."""

    request: dict[str, Any]
    messages: list[Message]
    received: int

    @property
    def starts(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.start"]

    @property
    def status(self) -> int:
        return int(self.starts[0]["status"])

    @property
    def headers(self) -> RawHeaders:
        return list(self.starts[0]["headers"])

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        start = self.starts[0] if self.starts else None
        return (
            f"request: {_short(self.request)}\n"
            f"start: {_short(start)}\n"
            f"body: {self.body[:3000].decode('utf-8', 'replace')}"
        )


def _short(value: Any) -> str:
    """A repr that abbreviates long strings, so a 5,000-digit header does not bury the message."""
    if isinstance(value, bytes | str) and len(value) > 120:
        return f"{value[:60]!r}...{value[-20:]!r} ({len(value)} long)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


class Driver:
    """Call an ASGI app on one private event loop, with scopes built by hand."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._runner = asyncio.Runner()

    def close(self) -> None:
        self._runner.close()

    def request(
        self,
        method: str = "GET",
        raw_path: bytes = b"/",
        *,
        path: str | None = None,
        query: bytes = b"",
        root_path: str = "",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: bytes | Iterable[bytes] = b"",
        disconnect: bool = False,
        timeout: float = 20.0,
        typed: bool = True,
    ) -> Exchange:
        """Send one request and return everything the app sent.

        A body sent without a Content-Type is labelled ``application/json`` (JSON endpoints refuse
        an unlabelled body) unless `typed` is False.

        `path` defaults to what a server derives from `raw_path` (percent-decoded, UTF-8 with
        replacement). `body` is one chunk, or an iterable of chunks pulled lazily as the app reads.
        With `disconnect` the client leaves after the last chunk instead of ending the body.
        """
        if path is None:
            path = decode_path(raw_path)
        if typed and body and not any(bytes(k).lower() == b"content-type" for k, _ in headers):
            headers = [*headers, (b"content-type", b"application/json")]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": raw_path,
            "root_path": root_path,
            "query_string": query,
            "headers": [(bytes(k), bytes(v)) for k, v in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        described = {
            "method": method,
            "raw_path": raw_path,
            "path": path,
            "root_path": root_path,
            "query_string": query,
            "headers": list(scope["headers"]),
        }
        if isinstance(body, bytes):
            described["body"] = body[:200] + (b"..." if len(body) > 200 else b"")
        chunks: Iterator[bytes] = iter([body]) if isinstance(body, bytes) else iter(body)
        pending: list[bytes | None] = [next(chunks, b"")]
        messages: list[Message] = []
        received = 0

        async def receive() -> Message:
            nonlocal received
            if not pending:
                # After the whole body only a disconnect is left (apps may listen for it).
                return {"type": "http.disconnect"}
            chunk = pending.pop()
            if chunk is None:
                return {"type": "http.disconnect"}
            following = next(chunks, None)
            if following is not None:
                pending.append(following)
            elif disconnect:
                pending.append(None)
            received += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: Message) -> None:
            messages.append(message)

        self._runner.run(asyncio.wait_for(self.app(scope, receive, send), timeout))
        return Exchange(described, messages, received)

    def peak_memory(self, **request: Any) -> tuple[Exchange, int]:
        """Send one request under tracemalloc; return the exchange and the peak traced bytes."""
        self.request(**{**request, "body": b""})  # warm the route up: validators, caches
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            exchange = self.request(**request)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return exchange, peak


def decode_path(raw_path: bytes) -> str:
    """The ``path`` a server hands the app for `raw_path`: percent-decoded, then UTF-8."""
    return unquote_to_bytes(raw_path).decode("utf-8", "replace")


def check_sane(exchange: Exchange) -> None:
    """Exactly one well-formed response, not a server error, with safe headers and a full body."""
    messages = exchange.messages
    detail = exchange.describe()
    assert len(exchange.starts) == 1, f"{len(exchange.starts)} http.response.start messages\n{detail}"
    assert messages[0]["type"] == "http.response.start", detail
    status = exchange.status
    assert 200 <= status < 500, f"status {status}\n{detail}"
    for name, value in exchange.headers:
        assert isinstance(name, bytes) and isinstance(value, bytes), detail
        assert _TOKEN.fullmatch(name), f"response header name {name!r} is not a lower-case token\n{detail}"
        assert not _UNSAFE_HEADER_VALUE.search(value), f"unsafe response header {name!r}: {value!r}\n{detail}"
    bodies = messages[1:]
    assert bodies, f"no http.response.body after the start\n{detail}"
    assert all(m["type"] == "http.response.body" for m in bodies), detail
    assert not bodies[-1].get("more_body", False), f"the body never ended\n{detail}"
    assert all(m.get("more_body", False) for m in bodies[:-1]), detail
    if exchange.request["method"] == "HEAD" or status in (204, 304):
        assert exchange.body == b"", detail
        return
    length = exchange.header(b"content-length")
    if length is not None:
        assert int(length) == len(exchange.body), f"content-length {length!r} but {len(exchange.body)} bytes"
    content_type = exchange.header(b"content-type") or b""
    if content_type.startswith(b"application/") and content_type.endswith(b"json"):
        # What lanner serves as JSON must parse as strict JSON: no NaN or Infinity tokens.
        try:
            json.loads(exchange.body, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise AssertionError(f"the {content_type!r} body is not strict JSON ({exc})\n{detail}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


# -- reference parsers -------------------------------------------------------------------------


def reference_query(raw: bytes) -> list[tuple[str, str]] | None:
    """The pairs a strict-UTF-8 query parser must give, or None when the query string is invalid.

    ``&`` alone separates pairs, empty pairs are skipped, blank values are kept; in each name and
    value ``+`` is a space, escapes are decoded (malformed ones stay literal), and the bytes that
    result must be UTF-8. For ASCII input that is `urllib.parse.parse_qsl` with blank values kept.
    """
    pairs: list[tuple[str, str]] = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        try:
            pairs.append((_decode_component(name), _decode_component(value)))
        except UnicodeDecodeError:
            return None
    if raw.isascii():
        assert pairs == parse_qsl(raw.decode("ascii"), keep_blank_values=True), raw
    return pairs


def _decode_component(data: bytes) -> str:
    return unquote_to_bytes(data.replace(b"+", b" ")).decode("utf-8")


def compare_digits(a: str, b: str) -> int:
    """Compare two ASCII decimal strings of any length without int(): -1, 0 or 1."""
    a, b = a.lstrip("0") or "0", b.lstrip("0") or "0"
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return (a > b) - (a < b)


def exceeds(text: str, limit: int) -> bool:
    """Whether the ASCII decimal `text` is greater than `limit`, however many digits it has."""
    return compare_digits(text, str(limit)) > 0


UNSATISFIABLE = "unsatisfiable"
_DIGITS = re.compile(r"[0-9]+")


def reference_range(header: str, size: int) -> tuple[int, int] | str | None:
    """RFC 9110 for one ``bytes=`` range: the inclusive span, `UNSATISFIABLE`, or None (ignore it).

    Only SP and HTAB count as whitespace. Several ranges are ignored (the whole file is sent),
    as lanner documents. Numbers are compared as digit strings, so a 5,000-digit position is
    simply past the end.
    """
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in ranges.split(",") if spec.strip(" \t")]
    if len(specs) != 1:
        return None
    first, dash, last = specs[0].partition("-")
    if not dash:
        return None
    if not first:
        if not _DIGITS.fullmatch(last):
            return None
        if compare_digits(last, "0") == 0:
            return UNSATISFIABLE
        if compare_digits(last, str(size)) >= 0:
            return 0, size - 1
        return size - int(last), size - 1
    if not _DIGITS.fullmatch(first) or (last and not _DIGITS.fullmatch(last)):
        return None
    if last and compare_digits(last, first) < 0:
        return None
    if compare_digits(first, str(size)) >= 0:
        return UNSATISFIABLE
    start = int(first)
    end = size - 1 if not last or compare_digits(last, str(size - 1)) > 0 else int(last)
    return start, end


def is_json_media_type(value: str) -> bool:
    """Whether a Content-Type names JSON: ``application/json`` or ``application/<anything>+json``."""
    media = value.partition(";")[0].strip(" \t").lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


# -- the application under fuzz ----------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []
    count: int = 0


def common_query(q: str | None = None, tags: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    return {"q": q, "tags": tags or []}


def build_app(file_path: Path) -> Lanner:
    """An app with one route per parser that sees client bytes, in the direct and general modes.

    Handlers with only parameters take the endpoint's direct path; those with a `Request`, a
    `Response` or a dependency take the general one, so both are fuzzed.
    """
    app = Lanner(freeze_gc=False, debug=True, title="fuzz")

    # -- path parameters and routing
    @app.get("/items/{item_id:int}")
    async def get_item(item_id: int) -> dict[str, Any]:
        return {"item_id": str(item_id)}

    @app.get("/ids/{uid:uuid}")
    async def get_id(uid: uuid.UUID) -> dict[str, Any]:
        return {"uid": str(uid)}

    @app.get("/prices/{amount:float}")
    async def get_price(amount: float) -> dict[str, Any]:
        return {"amount": amount}

    @app.get("/files/special")
    async def special_file() -> dict[str, Any]:
        return {"special": True}

    @app.get("/files/{p:path}")
    async def get_path(p: str) -> dict[str, Any]:
        return {"p": p}

    @app.get("/dl/{name}.{ext}")
    async def download(name: str, ext: str) -> dict[str, Any]:
        return {"name": name, "ext": ext}

    @app.get("/parts/{a}-{b:int}-{c}.txt")
    async def parts(a: str, b: int, c: str) -> dict[str, Any]:
        return {"a": a, "b": str(b), "c": c}

    @app.get("/users/me")
    async def me() -> dict[str, Any]:
        return {"me": True}

    @app.get("/users/{name}")
    async def get_user(name: str) -> dict[str, Any]:
        return {"name": name}

    @app.delete("/users/{name}")
    async def delete_user(name: str) -> dict[str, Any]:
        return {"deleted": name}

    @app.get("/users/{name}/posts/{post:int}")
    async def get_post(name: str, post: int) -> dict[str, Any]:
        return {"name": name, "post": str(post)}

    @app.get("/slash/")
    async def slash() -> dict[str, Any]:
        return {"slash": True}

    @app.get("/echo/{rest:path}")
    async def echo(request: Request, rest: str) -> dict[str, Any]:
        return {
            "rest": rest,
            "path": request.path,
            "url": str(request.url),
            "query": request.query_params.multi_items(),
            "headers": request.headers.items(),
            "cookies": request.cookies,
            "url_for": request.url_for("echo", rest=rest) if rest else None,
        }

    # -- query strings
    @app.get("/q")
    async def query(
        q: str | None = None,
        n: Annotated[int | None, Query(ge=0)] = None,
        f: float | None = None,
        tags: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        return {"q": q, "n": n, "f": f, "tags": tags or []}

    @app.get("/q/sync")
    def query_sync(q: str | None = None, tags: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        return {"q": q, "tags": tags or []}

    @app.get("/q/dep")
    async def query_dep(
        request: Request, common: Annotated[dict[str, Any], Depends(common_query)]
    ) -> dict[str, Any]:
        return {**common, "all": request.query_params.multi_items()}

    # -- headers
    @app.get("/h")
    async def headers(
        user_agent: Annotated[str | None, Header()] = None,
        x_count: Annotated[int | None, Header()] = None,
        x_tags: Annotated[list[str] | None, Header()] = None,
    ) -> dict[str, Any]:
        return {"user_agent": user_agent, "x_count": x_count, "x_tags": x_tags or []}

    @app.get("/h/echo")
    async def echo_header(
        response: Response, x_request_id: Annotated[str, Header()] = "none"
    ) -> dict[str, Any]:
        # A common pattern: hand the client's request id back in the response.
        response.headers["x-request-id"] = x_request_id
        return {"id": x_request_id}

    # -- cookies
    @app.get("/c")
    async def cookies(
        session: Annotated[str | None, Cookie()] = None, n: Annotated[int | None, Cookie()] = None
    ) -> dict[str, Any]:
        return {"session": session, "n": n}

    @app.get("/c/raw")
    async def raw_cookies(request: Request) -> dict[str, Any]:
        return {"cookies": request.cookies}

    # -- files: Range, If-Range, If-None-Match, If-Modified-Since
    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(file_path)

    # -- bodies: Content-Type, Content-Length, JSON
    @app.post("/json/item")
    async def create_item(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/json/item/general")
    async def create_item_general(request: Request, item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/json/any")
    async def any_json(payload: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"payload": payload}

    @app.post("/json/embed")
    async def embedded(
        a: Annotated[int, Body(embed=True)], b: Annotated[list[float] | None, Body(embed=True)] = None
    ) -> dict[str, Any]:
        return {"a": a, "b": b or []}

    @app.post("/json/request")
    async def via_request(request: Request) -> dict[str, Any]:
        return {"payload": await request.json()}

    @app.post("/json/small", max_body_size=SMALL_BODY_LIMIT)
    async def small(payload: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"payload": payload}

    @app.post("/body/raw")
    async def raw_body(request: Request) -> dict[str, Any]:
        return {"size": len(await request.body())}

    @app.post("/body/stream")
    async def stream_body(request: Request) -> dict[str, Any]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return app


def write_file(directory: Path) -> Path:
    path = directory / "data.bin"
    path.write_bytes(FILE_CONTENT)
    return path
