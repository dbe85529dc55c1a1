"""One regression test per applicable row of the advisory table (advisories.md).

Each test sends the bad input of a real advisory against a peer framework or parser to a real lanner
app in-process, or to the lanner primitive that handles it, and asserts the correct answer: a clear
4xx problem document, never a 5xx, never a hang. Tests are named after the advisory id and grouped
by the table's sections; the comment above each gives the row number and the bad input.

Most requests go through `TestClient`. Where httpx would normalise or refuse the bad input before
it reached the app (``//evil.com/``, ``..`` segments, raw non-UTF-8 bytes, NUL in a header, a
client that leaves mid-body), `asgi` sends the exact ASGI messages a server would.

Rows covered elsewhere, next to the feature they attack: forms, multipart and uploads (rows 1-22
and 30) in tests/test_forms.py and tests/test_uploads.py; static file traversal (rows 23-29) in
tests/test_staticfiles.py as well as here for `FileResponse(root=...)`. Sessions (57, 58) and
templates (65) are at the end of this file.

Rows not covered, because the feature they attack does not exist in lanner yet:

- CORS: rows 31, 52, 53, 54 (added when the CORS middleware lands);
- allowed hosts and DNS rebinding (the ALLOWED_HOSTS half of row 47): added when the trusted-hosts
  middleware lands;
- Accept-Language parsing and its caches: row 59 (added when i18n lands);
- JWT and token verification: rows 60, 61, 62 (added when JWT verification lands; the security
  dependencies today only extract credentials);
- WebSocket frames: row 67 (added when websockets land);
- login timing: row 69 (added when a password/login helper lands).

Rows left to the ASGI server or the reverse proxy, which own HTTP framing (see SECURITY.md): 32, 34,
35, 37, 41, 42, 45, and the over-long line, pipelining and trailer parts of row 40.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel

from lanner import Body, Cookie, Header, HTTPException, Lanner, Query, Request, Response, Session
from lanner.datastructures import MutableHeaders
from lanner.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from lanner.testing import TestClient
from tests.asgi_driver import Reply, send_raw

Message = dict[str, Any]
PROBLEM = "application/problem+json"
# A linear parse of the inputs below takes milliseconds; the quadratic ones the advisories describe
# take many seconds. The bound leaves room for a noisy shared 2-core machine.
SLOW = 2.0


# -- helpers ----------------------------------------------------------------------------------


def asgi(
    app: Any,
    method: str = "GET",
    path: str = "/",
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: Sequence[bytes] = (b"",),
    disconnect: bool = False,
    host: bytes | None = b"testserver",
) -> Reply:
    """Send one request as raw ASGI messages, exactly as given (no URL normalisation)."""
    return send_raw(
        app, method, path, query=query, headers=headers, body=body, disconnect=disconnect, host=host
    )


def assert_problem(response: httpx.Response | Reply, status: int) -> None:
    """`response` is a problem document (RFC 9457) with `status`."""
    assert response.status_code == status, response.content[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == status


def assert_no_5xx(response: httpx.Response | Reply) -> None:
    assert response.status_code is not None and response.status_code < 500, response.content[:300]


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


class Item(BaseModel):
    n: int


def body_app(max_body_size: int = 1024 * 1024) -> Lanner:
    """JSON endpoints on both of lanner's body paths: validated from the channel, and via Request."""
    app = Lanner(freeze_gc=False, max_body_size=max_body_size)

    @app.post("/items")
    async def create(item: Item) -> dict[str, int]:
        return {"n": item.n}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/json")
    async def parsed(request: Request) -> dict[str, str]:
        return {"type": type(await request.json()).__name__}

    @app.post("/small", max_body_size=64)
    async def small(item: Item) -> dict[str, int]:
        return {"n": item.n}

    return app


JSON = [(b"content-type", b"application/json")]


# -- 1a. Bodies and query strings ---------------------------------------------------------------


# Row 10 (python-multipart querystring): `;` treated as a pair separator, which smuggles a second
# parameter past anything that splits on `&` only.
def test_ghsa_5rvq_cxj2_64vf_semicolon_is_not_a_query_separator() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/params")
    async def params(a: str = "", b: str = "") -> dict[str, str]:
        return {"a": a, "b": b}

    @app.get("/request")
    async def request_params(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    with TestClient(app) as client:
        assert client.get("/params?a=1;b=2").json() == {"a": "1;b=2", "b": ""}
        assert client.get("/request?a=1;b=2").json() == {"a": "1;b=2"}
        assert client.get("/request?a=%3B;b=2&c=3").json() == {"a": ";;b=2", "c": "3"}


# Row 10 (python-multipart querystring): many `;`-separated fields made parsing quadratic.
@pytest.mark.timeout(10)
def test_ghsa_5rvq_cxj2_64vf_long_query_string_parses_in_linear_time() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/params")
    async def params(a: str = "", z: str = "") -> dict[str, int]:
        return {"a": len(a), "z": len(z)}

    @app.get("/request")
    async def request_params(request: Request) -> dict[str, int]:
        return {"keys": len(request.query_params)}

    query = b"&".join(b"a%41=1;b=%42;c" for _ in range(50_000)) + b"&z=1"
    for path in ("/params", "/request"):
        reply, seconds = timed(lambda path=path: asgi(app, "GET", path, query=query))
        assert reply.status_code == 200
        assert seconds < SLOW


# Row 10 (python-multipart parse_form): a negative Content-Length made the parser buffer the whole
# body. Lanner must refuse it before reading anything.
@pytest.mark.parametrize("path", ["/items", "/raw"])
def test_ghsa_5rvq_cxj2_64vf_negative_content_length_is_400(path: str) -> None:
    reply = asgi(
        body_app(),
        "POST",
        path,
        headers=[*JSON, (b"content-length", b"-1")],
        body=[b'{"n": 1}'],
    )
    assert_problem(reply, 400)
    assert reply.receives == 0


# Row 18 (aiohttp Request.post()): with PYTHONOPTIMIZE the asserts vanished, and they had been
# doing control flow: a malformed body looped forever. Lanner must answer the same under `-O`.
@pytest.mark.timeout(60)
def test_cve_2025_69227_malformed_bodies_are_answered_under_python_optimize() -> None:
    script = textwrap.dedent(
        """
        from pydantic import BaseModel
        from lanner import Lanner, Request
        from lanner.testing import TestClient

        class Item(BaseModel):
            n: int

        app = Lanner(freeze_gc=False, max_body_size=64)

        @app.post("/items")
        async def create(item: Item):
            return item

        @app.post("/json")
        async def parsed(request: Request):
            return {"n": len(await request.json())}

        json = {"content-type": "application/json"}
        with TestClient(app) as client:
            print(__debug__)
            for path in ("/items", "/json"):
                print(client.post(path, content=b'{"n": 1', headers=json).status_code)
                print(client.post(path, content=b"[" * 60, headers=json).status_code)
                print(client.post(path, content=b" " * 100, headers=json).status_code)
            text = {"content-type": "text/plain"}
            print(client.post("/items", content=b'{"n": 1}', headers=text).status_code)
        """
    )
    env = {**os.environ, "PYTHONOPTIMIZE": "1"}
    env.pop("LANNER_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, timeout=50, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "400", "400", "413", "400", "400", "413", "415"]


# Row 19 (aiohttp client_max_size): the size limit was checked only after the body was buffered.
# A declared Content-Length over the limit must be refused before a single body message is read.
@pytest.mark.parametrize("path", ["/items", "/raw", "/json"])
def test_cve_2026_34517_declared_oversize_body_is_refused_before_reading(path: str) -> None:
    app = body_app(max_body_size=1024)
    reply = asgi(
        app, "POST", path, headers=[*JSON, (b"content-length", b"1048576")], body=[b"x" * 65536] * 16
    )
    assert_problem(reply, 413)
    assert reply.receives == 0


# Row 19 (aiohttp client_max_size): a body without Content-Length (chunked) must be cut off as soon
# as it passes the limit, not read to the end first.
@pytest.mark.parametrize("path", ["/items", "/raw", "/json"])
def test_cve_2026_34517_streamed_oversize_body_stops_at_the_limit(path: str) -> None:
    app = body_app(max_body_size=1024)
    reply = asgi(app, "POST", path, headers=JSON, body=[b" " * 256] * 1000)
    assert_problem(reply, 413)
    assert reply.receives <= 8  # 1024 / 256 + 1 messages are enough to know; 1000 were offered


# Row 19: the per-route limit (`max_body_size=` on the decorator) is enforced the same way.
def test_cve_2026_34517_route_limit_is_enforced() -> None:
    app = body_app(max_body_size=1024)
    padded = b'{"n": 1}' + b" " * 100
    with TestClient(app) as client:
        assert client.post("/items", content=padded, headers={"content-type": "application/json"}).json() == {
            "n": 1
        }
        assert_problem(
            client.post("/small", content=padded, headers={"content-type": "application/json"}), 413
        )


# Row 22 (Flask JSON): JSON in an unexpected encoding (UTF-16, UTF-32, invalid UTF-8) took large
# amounts of memory to decode. Lanner reads JSON as UTF-8 only: anything else is a 400.
@pytest.mark.parametrize(
    "content",
    [
        '{"n": 1}'.encode("utf-16"),
        '{"n": 1}'.encode("utf-32"),
        '{"n": 1}'.encode("utf-16-le"),
        b'{"n": "\xff\xfe"}',
    ],
    ids=["utf-16", "utf-32", "utf-16-le-no-bom", "invalid-utf-8"],
)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-16"])
@pytest.mark.parametrize("path", ["/items", "/json"])
def test_cve_2018_1000656_json_in_unexpected_encoding_is_400(
    path: str, content: bytes, content_type: str
) -> None:
    with TestClient(body_app()) as client:
        assert_problem(client.post(path, content=content, headers={"content-type": content_type}), 400)


# -- 1b. Files and paths (FileResponse root=, the docs asset routes, Range) ---------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """<tmp>/static (the root), a sibling <tmp>/static_disallow and a secret outside both."""
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "ok.txt").write_text("public")
    (static / "sub" / "inner.txt").write_text("inner")
    (tmp_path / "static_disallow").mkdir()
    (tmp_path / "static_disallow" / "secret.txt").write_text("TOP-SECRET")
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    return static


def file_app(root: Path) -> Lanner:
    """Serve files under `root` the way an app would: the client names the file."""
    app = Lanner(freeze_gc=False)

    @app.get("/files/{name:path}")
    async def files(name: str) -> FileResponse:
        return FileResponse(os.path.join(root, name), root=root)

    return app


def assert_refused(app: Lanner, path: str) -> None:
    """The file request is a 404 that leaks nothing, and the app still serves files under root."""
    reply = asgi(app, "GET", path)
    assert reply.status_code == 404, (path, reply.status_code, reply.content[:300])
    assert b"TOP-SECRET" not in reply.content
    control = asgi(app, "GET", "/files/ok.txt")
    assert (control.status_code, control.content) == (200, b"public")


# Row 23 (Starlette StaticFiles): `/static/../static_disallow/x` passed a string-prefix check,
# because "static_disallow" starts with "static".
@pytest.mark.parametrize(
    "name",
    ["../static_disallow/secret.txt", "sub/../../static_disallow/secret.txt"],
)
def test_cve_2023_29159_sibling_directory_sharing_the_root_prefix_is_404(tree: Path, name: str) -> None:
    assert_refused(file_app(tree), "/files/" + name)


# Row 24 (Starlette StaticFiles): a NUL byte in the path (500), an absolute path that makes
# os.path.join discard the root.
@pytest.mark.parametrize("name", ["ok.txt\x00", "ok\x00.txt", "{secret}", "/{secret}"])
def test_starlette_3139_nul_byte_and_absolute_path_are_404(tree: Path, name: str) -> None:
    assert_refused(file_app(tree), "/files/" + name.format(secret=tree.parent / "secret.txt"))


# Row 24 for the docs asset route: `/docs/assets/{name}` must not pass a NUL or a path on.
@pytest.mark.parametrize("name", ["swagger-ui.css\x00", "\x00", "%00", "/etc/passwd"])
def test_starlette_3139_docs_assets_refuse_nul_and_absolute_names(name: str) -> None:
    app = Lanner(freeze_gc=False)
    reply = asgi(app, "GET", "/docs/assets/" + name)
    assert_problem(reply, 404)
    assert asgi(app, "GET", "/docs/assets/swagger-ui.css").status_code == 200


# Row 25 (aiohttp static): with follow_symlinks the root check was skipped, so a symlink (or a plain
# `../`) reached any file.
@pytest.mark.parametrize("name", ["link.txt", "linkdir/secret.txt", "../secret.txt"])
def test_cve_2024_23334_symlink_out_of_root_is_404(tree: Path, name: str) -> None:
    (tree / "link.txt").symlink_to(tree.parent / "secret.txt")
    (tree / "linkdir").symlink_to(tree.parent / "static_disallow", target_is_directory=True)
    assert_refused(file_app(tree), "/files/" + name)


# Row 26 (Sanic static): `..%2f` decoded into `../`, later `..` segments and `os.sep` inside a
# segment (`..\`).
@pytest.mark.parametrize(
    "name", ["..%2fsecret.txt", "../secret.txt", "..\\secret.txt", "sub/..\\..\\secret.txt"]
)
def test_cve_2017_16762_dot_dot_in_any_spelling_is_404(tree: Path, name: str) -> None:
    # The ASGI path is already percent-decoded: `..%2f` arrives as `../`, and `..%252f` as `..%2f`.
    assert_refused(file_app(tree), "/files/" + name.replace("%2f", "/"))
    assert_refused(file_app(tree), "/files/" + name)


# Row 26 for the docs asset route: only the fixed asset names are served.
@pytest.mark.parametrize(
    "name", ["..", "../../pyproject.toml", "..\\..\\pyproject.toml", "..%2f..%2fREADME.md"]
)
def test_cve_2017_16762_docs_assets_refuse_traversal(name: str) -> None:
    reply = asgi(Lanner(freeze_gc=False), "GET", "/docs/assets/" + name)
    assert_problem(reply, 404)


# Row 27 (Litestar static files): the path was not normalised before the commonpath check.
@pytest.mark.parametrize(
    "name", ["sub/../../secret.txt", "./sub/./../../secret.txt", "sub//../../secret.txt"]
)
def test_cve_2024_32982_unnormalised_path_is_404(tree: Path, name: str) -> None:
    assert_refused(file_app(tree), "/files/" + name)


# Row 28 (Werkzeug safe_join, Windows): names that ntpath.isabs missed. On POSIX they must stay
# plain names inside the root (and so be missing here), never reach a drive or a share.
@pytest.mark.parametrize("name", ["\\secret.txt", "C:secret.txt", "C:\\secret.txt", "\\\\server\\share\\x"])
def test_cve_2024_49766_windows_absolute_names_stay_inside_root(tree: Path, name: str) -> None:
    assert_refused(file_app(tree), "/files/" + name)


# Row 29 (Werkzeug safe_join, Windows): device names (`CON`, `NUL`, `nul.txt`, `example/NUL`)
# opened a device and the read hung forever. The POSIX equivalents are a FIFO, a device node and a
# directory: none may hang or fail with a 5xx.
@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["pipe", "zero", "sub", "sub/", "CON", "NUL", "nul.txt", "sub/NUL", "AUX "])
def test_cve_2025_66221_devices_fifos_and_directories_never_hang(tree: Path, name: str) -> None:
    os.mkfifo(tree / "pipe")
    (tree / "zero").symlink_to("/dev/zero")
    assert_refused(file_app(tree), "/files/" + name)


# Row 29 for the docs asset route.
@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["CON", "NUL", "nul.txt", "AUX ", "swagger-ui.css/NUL"])
def test_cve_2025_66221_docs_assets_refuse_device_names(name: str) -> None:
    assert_problem(asgi(Lanner(freeze_gc=False), "GET", "/redoc/assets/" + name), 404)


@pytest.fixture
def served_file(tmp_path: Path) -> Lanner:
    """An app sending one 10,000-byte file with FileResponse (no root: the path is the app's)."""
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(100)) * 100)
    app = Lanner(freeze_gc=False)

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(path)

    return app


# Row 70 (Starlette FileResponse): `Range: bytes=0-0,2-2,4-4,...` with thousands of ranges, parsed
# by a regex and merged in O(n^2).
@pytest.mark.timeout(10)
@pytest.mark.parametrize("count", [100, 5_000, 20_000])
def test_cve_2025_62727_thousands_of_ranges_are_answered_fast(served_file: Lanner, count: int) -> None:
    ranges = ",".join(f"{2 * i}-{2 * i}" for i in range(count))
    with TestClient(served_file) as client:
        response, seconds = timed(lambda: client.get("/file", headers={"range": f"bytes={ranges}"}))
    assert seconds < SLOW
    assert response.status_code in (200, 206, 416)
    if response.status_code == 200:
        assert len(response.content) == 10_000


# -- 1c. Numbers, charsets and headers on the request; header injection on the response --------


# Row 33 (h11 #181): a Content-Length with thousands of digits (int() refuses more than 4,300 since
# CVE-2020-10735). It is too large for any limit: 413, or 400, never a 500.
@pytest.mark.parametrize("digits", [20, 4_300, 5_000, 100_000])
@pytest.mark.parametrize("path", ["/items", "/raw"])
def test_h11_181_content_length_with_thousands_of_digits(path: str, digits: int) -> None:
    reply = asgi(
        body_app(), "POST", path, headers=[*JSON, (b"content-length", b"9" * digits)], body=[b'{"n": 1}']
    )
    assert reply.status_code in (400, 413), reply.content[:300]
    assert_problem(reply, reply.status_code)
    assert reply.receives == 0


# Row 36 (aiohttp pure-Python parser): lenient charsets let two parsers read different values.
# The query string must be strict UTF-8: invalid bytes are a 400, raw UTF-8 reads as what it says.
@pytest.mark.parametrize("query", [b"a=%ff", b"a=\xff", b"%ff=1", b"a=%c3", b"a=\xc3", b"a=%ed%a0%80"])
@pytest.mark.parametrize("path", ["/params", "/request"])
def test_cve_2023_47627_query_string_must_be_utf8(path: str, query: bytes) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/params")
    async def params(a: str = "") -> dict[str, str]:
        return {"a": a}

    @app.get("/request")
    async def request_params(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    assert_problem(asgi(app, "GET", path, query=query), 400)
    for valid in ("a=\u00e9".encode(), b"a=%C3%A9", b"a=%c3%a9"):
        reply = asgi(app, "GET", path, query=valid)
        assert (reply.status_code, reply.json()) == (200, {"a": "\u00e9"})


# Row 36 (aiohttp, CVE-2024-23829): exceptions were not handled like other malformed input, and the
# logging they caused could be used as a flood. A client that leaves mid-body is routine: no error
# log, no 500, nothing raised to the server.
@pytest.mark.parametrize("path", ["/items", "/raw", "/json"])
@pytest.mark.parametrize("middleware", [False, True])
def test_cve_2024_23829_client_disconnect_mid_body_is_silent(
    caplog: pytest.LogCaptureFixture, path: str, middleware: bool
) -> None:
    app = body_app()
    if middleware:
        app.add_middleware(lambda inner: inner)
    with caplog.at_level(logging.DEBUG):
        reply = asgi(app, "POST", path, headers=JSON, body=[b'{"n": '], disconnect=True)
    assert reply.status_code is None or reply.status_code < 500
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# Row 38 (aiohttp): `\d` matched Unicode digits (`١٢`) and int() accepted them, and `1_0` too, in
# numeric header fields. Lanner's numeric fields (Content-Length, Range, int path segments) take
# ASCII digits only.
@pytest.mark.parametrize("value", ["\u0661\u0662", "1_0", "+5", " 5", "5 ", "0x5", "\u00b2", "\uff15"])
def test_cve_2025_69224_non_ascii_digits_in_content_length_are_400(value: str) -> None:
    for path in ("/items", "/raw"):
        reply = asgi(
            body_app(), "POST", path, headers=[*JSON, (b"content-length", value.encode())], body=[b'{"n":1}']
        )
        assert_problem(reply, 400)


@pytest.mark.parametrize("value", ["\u0661-\u0662", "1_0-2_0", "+1-2", "0x1-0x2", "\u00b2-\u00b3"])
def test_cve_2025_69224_non_ascii_digits_in_range_are_ignored(served_file: Lanner, value: str) -> None:
    reply = asgi(served_file, "GET", "/file", headers=[(b"range", f"bytes={value}".encode())])
    assert reply.status_code in (200, 416)
    if reply.status_code == 200:
        assert len(reply.content) == 10_000


@pytest.mark.parametrize("segment", ["\u0661\u0662", "1_0", "\u00b2", "+5", "\uff15"])
def test_cve_2025_69224_non_ascii_digits_do_not_match_int_paths(segment: str) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/items/{item_id:int}")
    async def read(item_id: int) -> int:
        return item_id

    assert_problem(asgi(app, "GET", "/items/" + segment), 404)


# Row 39 (aiohttp request.read()): a body delivered as a huge number of tiny chunks cost quadratic
# CPU. 100,000 ten-byte messages must be read in linear time on every body path.
@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/items", "/raw", "/json"])
def test_cve_2025_69229_body_in_many_tiny_chunks_is_read_in_linear_time(path: str) -> None:
    app = body_app(max_body_size=2 * 1024 * 1024)
    chunks = [b'{"n": 1'] + [b" " * 10] * 100_000 + [b"}"]
    reply, seconds = timed(lambda: asgi(app, "POST", path, headers=JSON, body=chunks))
    assert reply.status_code == 200
    assert seconds < SLOW * 2


# Row 40 (aiohttp, CVE-2026-34525): a duplicate Host header was accepted, so two components could
# disagree on the host. RFC 9112 section 3.2 answers it with 400; at the least, lanner must not
# build URLs from either of two conflicting values.
def test_cve_2026_34525_conflicting_host_headers_are_not_trusted() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        return {"url": str(request.url), "host": request.url.hostname}

    reply = asgi(
        app, "GET", "/whoami", host=None, headers=[(b"host", b"good.example"), (b"host", b"evil.example")]
    )
    if reply.status_code == 400:
        assert_problem(reply, 400)
    else:
        assert reply.status_code == 200
        assert reply.json()["host"] == "testserver"


# Row 43 (uvicorn, CVE-2020-7695): CR/LF in a response header value split the response.
@pytest.mark.parametrize(
    "build",
    [
        lambda v: Response("x", headers={"x-echo": v}),
        lambda v: JSONResponse({}, headers={"x-echo": v}),
        lambda v: PlainTextResponse("x", headers={"x-echo": v}),
        lambda v: StreamingResponse(iter([b"x"]), headers={"x-echo": v}),
        lambda v: FileResponse(__file__, headers={"x-echo": v}),
        lambda v: Response("x").headers.__setitem__("x-echo", v),
        lambda v: Response("x").headers.append("x-echo", v),
        lambda v: MutableHeaders().update({"x-echo": v}),
    ],
    ids=["Response", "JSONResponse", "PlainText", "Streaming", "File", "setitem", "append", "update"],
)
@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: pwned=1", "a\nb", "a\rb", "a\r\n\r\n<html>"])
def test_cve_2020_7695_crlf_in_response_header_value_is_refused(
    build: Callable[[str], object], value: str
) -> None:
    with pytest.raises(ValueError):
        build(value)


# Row 43: where lanner builds a header from a value it was given (Location, Set-Cookie,
# Content-Disposition), CR and LF are encoded, never written raw.
def test_cve_2020_7695_built_headers_encode_crlf() -> None:
    redirect = RedirectResponse("/next\r\nSet-Cookie: pwned=1")
    cookie = Response()
    cookie.set_cookie("session", "a\r\nSet-Cookie: pwned=1")
    download = FileResponse(__file__, filename="a\r\nSet-Cookie: pwned=1.txt")
    for response in (redirect, cookie, download):
        for _, value in response.raw_headers:
            assert b"\r" not in value and b"\n" not in value, value
    with pytest.raises(ValueError):
        Response().set_cookie("session", "x", path="/\r\nSet-Cookie: pwned=1")


# Row 43 (uvicorn, CVE-2020-7694): percent-encoded ANSI escapes and newlines in the path reached the
# log raw, so a request could recolour a terminal or forge log lines. Lanner logs the path of a
# request whose handler failed: it must be escaped.
@pytest.mark.parametrize("path", ["/boom/%1b%5b31mred", "/boom/x%0d%0aERROR fake entry", "/boom/%07%08%7f"])
def test_cve_2020_7694_request_path_cannot_forge_log_lines(
    caplog: pytest.LogCaptureFixture, path: str
) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/boom/{name}")
    async def boom(name: str) -> None:
        raise RuntimeError("handler failed")

    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        assert_problem(client.get(path), 500)
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the failure was not logged"
    for message in messages:
        assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in message), repr(message)


# Row 44 (gunicorn CVE-2018-1000164, Tornado set_header CVE-2012-2374, aiohttp reason phrase):
# any control character but HTAB in a header value (a bare CR or LF, NUL, \x01, DEL) is refused,
# not only CR LF.
@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f"])
def test_cve_2018_1000164_control_characters_in_header_values_are_refused(char: str) -> None:
    value = f"a{char}b"
    with pytest.raises(ValueError):
        Response("x", headers={"x-echo": value})
    with pytest.raises(ValueError):
        StreamingResponse(iter([b"x"]), headers={"x-echo": value})
    with pytest.raises(ValueError):
        FileResponse(__file__, headers={"x-echo": value})
    with pytest.raises(ValueError):
        Response("x").headers["x-echo"] = value
    with pytest.raises(ValueError):
        MutableHeaders().append("x-echo", value)
    # HTAB is allowed inside a field value (RFC 9110 section 5.5), and so is obs-text.
    assert Response("x", headers={"x-echo": "a\tb\xe9"}).headers["x-echo"] == "a\tb\xe9"


# Row 44 through the app: a value taken from the query string and set as a header by the handler,
# or passed to HTTPException, cannot add a header line; the client gets a 500 problem document.
@pytest.mark.parametrize("char", ["\r\n", "\n", "\x01", "\x7f"])
def test_cve_2018_1000164_injected_header_from_a_handler_is_a_500(char: str) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/echo")
    async def echo(value: str, response: Response) -> dict[str, bool]:
        response.headers["x-echo"] = value
        return {"ok": True}

    @app.get("/deny")
    async def deny(value: str) -> None:
        raise HTTPException(401, headers={"WWW-Authenticate": value})

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/echo", "/deny"):
            response = client.get(path, params={"value": f"Basic{char}Set-Cookie: pwned=1"})
            assert_problem(response, 500)
            assert "set-cookie" not in response.headers
            assert "x-echo" not in response.headers and "www-authenticate" not in response.headers


# -- 1d. Host header, redirects, cookies ---------------------------------------------------------


def url_app() -> Lanner:
    app = Lanner(freeze_gc=False)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        url = request.url
        return {"url": str(url), "host": url.hostname, "path": url.path, "userinfo": "@" in url.netloc}

    return app


# Row 46 (Starlette request.url): a malformed Host header (`evil.com/admin?x=`) changed
# request.url.path, so path-based checks could be bypassed.
@pytest.mark.parametrize(
    "host",
    [
        "evil.example/admin?x=",
        "evil.example/../admin",
        "evil.example#",
        "evil.example\\admin",
        "evil.example?/a",
    ],
)
def test_cve_2026_48710_malformed_host_cannot_change_the_url_path(host: str) -> None:
    with TestClient(url_app()) as client:
        data = client.get("/whoami", headers={"host": host}).json()
    assert data["path"] == "/whoami"
    assert data["host"] == "testserver"
    assert data["url"] == "http://testserver/whoami"


# Row 47 (Django get_host): a forged Host with userinfo (`user:pass@evil.com`) poisoned the links
# built from it.
@pytest.mark.parametrize(
    "host", ["user:pass@evil.example", "testserver@evil.example", "evil.example:80@testserver"]
)
def test_cve_2011_4139_host_with_userinfo_is_not_trusted(host: str) -> None:
    with TestClient(url_app()) as client:
        data = client.get("/whoami", headers={"host": host}).json()
    assert data["host"] == "testserver"
    assert data["userinfo"] is False


# Row 48 (Werkzeug Request.host): invalid characters or an empty Host. Lanner falls back to the
# server address; nothing fails.
@pytest.mark.parametrize(
    "host",
    [b"", b" ", b"exa mple.com", b"evil.example\x00", b"[", b"[::1", b"a\tb", b"\xff\xfe", b"host:port"],
)
def test_werkzeug_3113_empty_or_invalid_host_falls_back_to_the_server(host: bytes) -> None:
    reply = asgi(url_app(), "GET", "/whoami", host=host)
    assert reply.status_code == 200
    assert reply.json()["url"] == "http://testserver/whoami"


# Row 49 (Werkzeug routing, aiohttp normalize_path_middleware, Django, Tornado): slash-appending or
# normalising redirects turned `//evil.com/` into `Location: //evil.com/`. A redirect lanner makes
# must stay on this site, also after a browser strips tabs and newlines and reads `\` as `/`.
@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/",
        "//evil.example",
        "///evil.example/",
        "/\\evil.example/",
        "/\\/evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/ /evil.example/",
        "/%2f/evil.example/",
        "/%5cevil.example/",
    ],
)
def test_cve_2020_28724_slash_redirect_is_never_protocol_relative(path: str) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/items")
    async def items() -> list[int]:
        return []

    @app.get("/{name}")
    async def one(name: str) -> str:
        return name

    @app.get("/{first}/{second}")
    async def two(first: str, second: str) -> str:
        return second

    reply = asgi(app, "GET", path)
    assert_no_5xx(reply)
    if reply.status_code is not None and 300 <= reply.status_code < 400:
        location = reply.headers["location"]
        assert all(0x21 <= ord(char) <= 0x7E for char in location), repr(location)
        as_browser = location.replace("\t", "").replace("\r", "").replace("\n", "").replace("\\", "/")
        assert as_browser.startswith("/") and not as_browser.startswith("//"), location
    assert asgi(app, "GET", "/items/").headers["location"] == "/items"


# Row 50 (Django is_safe_url, CVE-2015-0220): leading whitespace and control characters, which
# browsers strip, turned a "relative" URL into `javascript:` or `//evil.com`. RedirectResponse
# percent-encodes them, so the Location header holds visible ASCII only.
@pytest.mark.parametrize(
    "url",
    [
        "\njavascript:alert(1)",
        " //evil.example",
        "\t//evil.example",
        "\x00javascript:alert(1)",
        "/a b\x7f\xe9",
    ],
)
def test_cve_2015_0220_redirect_location_has_no_raw_whitespace_or_controls(url: str) -> None:
    location = RedirectResponse(url).headers["location"]
    assert all(0x21 <= ord(char) <= 0x7E for char in location), repr(location)
    assert location.startswith(("%", "/"))


# Row 51 (FastAPI, CVE-2021-32677): a JSON body sent as `text/plain` is a CORS "simple request" (no
# preflight), so another site could post it with the user's cookies. The three content types a
# browser may send cross-site without preflight are refused with 415; the handler never runs.
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "TEXT/PLAIN",
        "text/plain; application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
def test_cve_2021_32677_json_endpoint_refuses_cors_simple_content_types(content_type: str) -> None:
    app = Lanner(freeze_gc=False)
    calls: list[Item] = []

    @app.post("/transfer")
    async def transfer(item: Item) -> dict[str, int]:
        calls.append(item)
        return {"n": item.n}

    @app.post("/embedded")
    async def embedded(n: Annotated[int, Body(embed=True)]) -> dict[str, int]:
        calls.append(Item(n=n))
        return {"n": n}

    with TestClient(app) as client:
        for path in ("/transfer", "/embedded"):
            assert_problem(
                client.post(path, content=b'{"n": 1}', headers={"content-type": content_type}), 415
            )
    assert calls == []


# Row 55 (Werkzeug cookies, CVE-2023-23934): `Cookie: =__Host-test=bad` was read as a cookie named
# `__Host-test`, forged from a sibling subdomain. A pair with an empty name is dropped.
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=__Host-test=bad", None),
        ("=__Host-test=bad; __Host-test=good", "good"),
        ("  =__Host-test=bad;other=1", None),
        ('=__Host-test="bad"', None),
    ],
)
def test_cve_2023_23934_nameless_cookie_cannot_forge_a_host_prefixed_cookie(
    header: str, expected: str | None
) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/param")
    async def param(host_cookie: Annotated[str | None, Cookie(alias="__Host-test")] = None) -> dict[str, Any]:
        return {"value": host_cookie}

    @app.get("/request")
    async def request_cookies(request: Request) -> dict[str, Any]:
        return {"value": request.cookies.get("__Host-test")}

    with TestClient(app) as client:
        for path in ("/param", "/request"):
            response = client.get(path, headers={"cookie": header})
            assert (response.status_code, response.json()) == (200, {"value": expected})


def cookie_app() -> Lanner:
    app = Lanner(freeze_gc=False)

    @app.get("/param")
    async def param(s: Annotated[str | None, Cookie()] = None) -> dict[str, int]:
        return {"length": len(s or "")}

    @app.get("/request")
    async def request_cookies(request: Request) -> dict[str, int]:
        return {"length": len(request.cookies.get("s", ""))}

    return app


# Row 56 (CPython http.cookies CVE-2024-7592, Tornado CVE-2024-52804): a quoted cookie value full
# of backslashes took quadratic time to unquote, on the event loop. A 60 KB value must parse in
# milliseconds (the quadratic parser took ~7 s here).
@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/param", "/request"])
@pytest.mark.parametrize("unit", ["\\\\", "\\0", '\\"'])
def test_cve_2024_7592_quoted_cookie_value_parses_in_linear_time(path: str, unit: str) -> None:
    header = 's="' + unit * 30_000 + '"'
    with TestClient(cookie_app()) as client:
        response, seconds = timed(lambda: client.get(path, headers={"cookie": header}))
    assert response.status_code == 200
    assert seconds < SLOW


# Row 56: the Cookie header is capped at 64 KiB; past that, 431 Request Header Fields Too Large.
@pytest.mark.parametrize("path", ["/param", "/request"])
def test_cve_2024_7592_oversized_cookie_header_is_431(path: str) -> None:
    with TestClient(cookie_app()) as client:
        assert_problem(client.get(path, headers={"cookie": "s=" + "a" * (64 * 1024)}), 431)
        fits = client.get(path, headers={"cookie": "s=" + "a" * (60 * 1024)})
        assert (fits.status_code, fits.json()) == (200, {"length": 60 * 1024})


# -- 1e. JSON numbers and nesting, ReDoS, error pages --------------------------------------------


# Row 63 (CPython int<->str, CVE-2020-10735): decimal integers with more than 4,300 digits (since
# the fix int() raises ValueError). Wherever a request carries a number, the answer is a 4xx.
@pytest.mark.parametrize("digits", [4_301, 10_000, 100_000])
def test_cve_2020_10735_integers_over_4300_digits_are_a_4xx(digits: int) -> None:
    app = body_app()

    @app.get("/query")
    async def query(x: int) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/header")
    async def header(x_count: Annotated[int, Header()]) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/path/{x:int}")
    async def path(x: int) -> dict[str, str]:
        return {"ok": "yes"}

    number = "1" * digits
    with TestClient(app) as client:
        for target in ("/items", "/json"):
            response = client.post(
                target, content=f'{{"n": {number}}}', headers={"content-type": "application/json"}
            )
            assert_problem(response, 400)
        # httpx refuses a query this long, so this one goes as raw ASGI.
        assert_problem(asgi(app, "GET", "/query", query=b"x=" + number.encode()), 422)
        assert_problem(client.get("/header", headers={"x-count": number}), 422)
        assert_problem(asgi(app, "GET", "/path/" + number), 404)


# Row 63 for Range: numbers with more than 18 digits (past a signed 64-bit seek offset) and more
# than 4,300 digits are answered, never crash: 416, 206 clamped to the file, or 200.
@pytest.mark.parametrize("digits", [19, 25, 4_301, 10_000])
def test_cve_2020_10735_range_numbers_with_many_digits(served_file: Lanner, digits: int) -> None:
    big = "9" * digits
    with TestClient(served_file) as client:
        for spec in (f"0-{big}", f"{big}-", f"{big}-{big}", f"-{big}", f"5-{big}"):
            response = client.get("/file", headers={"range": f"bytes={spec}"})
            assert response.status_code in (200, 206, 416), (spec[:30], response.status_code)
            if response.status_code == 206:
                start = int(spec.partition("-")[0] or 0)
                assert response.headers["content-range"] == f"bytes {start}-9999/10000"
                assert len(response.content) == 10_000 - start


# Row 64 (stdlib json): `"[" * 100000` raises RecursionError, not a JSONDecodeError, so code that
# catches ValueError answers 500. Lanner stops at a depth of ~200: 400.
@pytest.mark.parametrize(
    "content", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"[" * 300]
)
def test_row_64_deeply_nested_json_is_400(content: bytes) -> None:
    app = body_app()

    @app.post("/object")
    async def any_object(data: Annotated[dict[str, Any], Body()]) -> int:
        return len(data)

    @app.post("/list")
    async def any_list(data: Annotated[list[Any], Body()]) -> int:
        return len(data)

    with TestClient(app) as client:
        for path in ("/items", "/json", "/object", "/list"):
            response = client.post(path, content=content, headers={"content-type": "application/json"})
            if path == "/list" and content.startswith(b"{"):
                assert response.status_code in (400, 422)  # not a list either way
                continue
            assert_problem(response, 400)


# Row 66 (Django validators and filters): long labels, brackets and long values made regexes
# backtrack. Lanner's own header regexes (Host, If-None-Match, Range) and a `pattern=` constraint
# with a catastrophic regex must stay linear.
@pytest.mark.timeout(20)
def test_cve_2023_36053_long_header_values_do_not_backtrack(served_file: Lanner) -> None:
    app = url_app()

    @app.get("/match")
    async def match(s: Annotated[str, Query(pattern=r"^(a+)+$")]) -> str:
        return s

    hosts = [
        "a" * 100_000 + "/",
        "[" + ":" * 100_000,
        "a." * 50_000 + "@",
        "a" * 100_000 + ":" + "1" * 1000 + "x",
    ]
    with TestClient(app) as client:
        for host in hosts:
            response, seconds = timed(lambda host=host: client.get("/whoami", headers={"host": host}))
            assert response.status_code == 200 and seconds < SLOW
        response, seconds = timed(lambda: client.get("/match", params={"s": "a" * 50_000 + "!"}))
        assert response.status_code == 422 and seconds < SLOW
    with TestClient(served_file) as client:
        for name, value in [
            ("if-none-match", '"' * 100_001),
            ("if-none-match", "W/" * 50_000),
            ("if-none-match", 'W/"' * 50_000),
            ("if-range", '"' + "a" * 100_000),
            ("range", "bytes=" + "-" * 100_000),
            ("range", "bytes=" + "0" * 100_000),
        ]:
            response, seconds = timed(
                lambda name=name, value=value: client.get("/file", headers={name: value})
            )
            assert response.status_code in (200, 206, 304, 416) and seconds < SLOW


class Secret(BaseModel):
    name: str


def failing_app(**options: Any) -> Lanner:
    app = Lanner(freeze_gc=False, **options)

    @app.get("/raise")
    async def fail() -> None:
        raise RuntimeError("db password is hunter2 <script>alert(1)</script>")

    @app.get("/sync-raise")
    def sync_fail() -> None:
        raise KeyError("hunter2")

    @app.get("/response-model")
    async def leak() -> Secret:
        return {"password": "hunter2"}  # type: ignore[return-value]

    @app.get("/handler-fails")
    async def handler_fails() -> None:
        raise LookupError("hunter2")

    @app.exception_handler(LookupError)
    async def broken(request: Request, exc: LookupError) -> Response:
        raise ValueError(f"handler broke on {exc}")

    return app


# Row 68 (Werkzeug debugger, CVE-2024-34069): a browser-reachable traceback is a gift to attackers.
# Without debug, a failing handler, response model or exception handler answers a 500 problem
# document that holds no exception text, value or traceback.
@pytest.mark.parametrize("path", ["/raise", "/sync-raise", "/response-model", "/handler-fails"])
def test_cve_2024_34069_errors_expose_no_internals(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.delenv("LANNER_DEBUG", raising=False)
    with TestClient(failing_app(), raise_server_exceptions=False) as client:
        response = client.get(path)
    assert_problem(response, 500)
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content
    assert set(response.json()) <= {"type", "title", "status", "detail"}


# Row 68: the same for an exception raised in user middleware, outside any route.
@pytest.mark.parametrize("where", ["before", "after-call"])
def test_cve_2024_34069_middleware_exception_is_a_problem_document(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.delenv("LANNER_DEBUG", raising=False)

    class Broken:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            if where == "before":
                raise RuntimeError("middleware secret hunter2")
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            raise RuntimeError("middleware secret hunter2")

    app = failing_app()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(Broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/ok")
    assert_problem(response, 500)
    assert b"hunter2" not in response.content


# Row 68 (Werkzeug, CVE-2016-10516: XSS in the traceback page): with debug on, the traceback is
# sent as JSON in a problem document, never as HTML a browser would render.
def test_cve_2016_10516_debug_traceback_is_json_not_html() -> None:
    with TestClient(failing_app(debug=True), raise_server_exceptions=False) as client:
        response = client.get("/raise")
    assert_problem(response, 500)
    assert "html" not in response.headers["content-type"]
    assert "<script>" in response.json()["traceback"]  # carried as JSON text, escaped by the reader


# Row 68 (Werkzeug, CVE-2019-14806): debug must be an explicit choice, never on by default.
def test_cve_2019_14806_debug_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_DEBUG", raising=False)
    assert Lanner(freeze_gc=False).debug is False
    monkeypatch.setenv("LANNER_DEBUG", "1")
    assert Lanner(freeze_gc=False).debug is True


# -- sessions and templates ------------------------------------------------------------------------


def _session_app(**options: Any) -> Lanner:
    app = Lanner(freeze_gc=False, **options)

    @app.post("/login")
    async def login(session: Session) -> str:
        session["user"] = "ada"
        return "in"

    @app.get("/me")
    async def me(session: Session) -> str:
        return str(session.get("user"))

    return app


# Row 57 (Flask, CVE-2023-30861): a response that read or set the session cookie lacked
# `Vary: Cookie`, so a caching proxy served one user's session to others.
def test_cve_2023_30861_session_responses_vary_on_cookie() -> None:
    client = TestClient(_session_app(secret_key="k"))
    login = client.post("/login")
    assert "set-cookie" in login.headers
    assert "cookie" in login.headers["vary"].lower()
    me = client.get("/me")
    assert me.text == '"ada"'
    assert "cookie" in me.headers["vary"].lower()


# Row 58 (Flask, CVE-2025-47278): with a list of keys, new sessions were signed with a stale one.
def test_cve_2025_47278_new_sessions_are_signed_with_the_first_key() -> None:
    rotated = TestClient(_session_app(secret_key=["new-key", "old-key"]))
    rotated.post("/login")
    cookie = rotated.cookies["session"]
    only_new = TestClient(_session_app(secret_key="new-key"))
    assert only_new.get("/me", headers={"cookie": f"session={cookie}"}).text == '"ada"'
    only_old = TestClient(_session_app(secret_key="old-key"))
    assert only_old.get("/me", headers={"cookie": f"session={cookie}"}).text == '"None"'
    # And a cookie signed with the old key is still accepted after the rotation.
    old = TestClient(_session_app(secret_key="old-key"))
    old.post("/login")
    assert rotated.get("/me", headers={"cookie": f"session={old.cookies['session']}"}).text == '"ada"'


# Row 65 (Jinja2, CVE-2020-28493 and the sandbox escapes): lanner requires a Jinja2 with the fixes,
# and urlize stays linear on the input that was a ReDoS.
@pytest.mark.timeout(10)
def test_cve_2020_28493_urlize_is_fast_on_the_redos_input() -> None:
    import jinja2

    major, minor = (int(part) for part in jinja2.__version__.split(".")[:2])
    assert (major, minor) >= (3, 1)
    env = jinja2.Environment(autoescape=True)
    hostile = "<" + "a" * 20000 + "@" * 1000
    started = time.perf_counter()
    env.from_string("{{ text | urlize }}").render(text=hostile)
    assert time.perf_counter() - started < 2.0
