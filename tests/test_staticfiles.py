"""StaticFiles: serving a folder through a mount, and refusing every path that leaves it.

Ordinary requests go through `TestClient` and a real app. The hostile ones that httpx would
normalise or refuse (``..`` segments, backslashes, NUL, raw ``%2f``) are sent as raw ASGI messages,
with the exact ``path``, ``raw_path`` and ``root_path`` a server would give. Tests for the rows of
the advisory table (advisories.md, rows 23-29) are named after the advisory.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from lanner import Lanner, _files
from lanner import staticfiles as staticfiles_module
from lanner.staticfiles import StaticFiles
from lanner.testing import TestClient
from tests.asgi_driver import Reply, send_raw

Message = dict[str, Any]
PROBLEM = "application/problem+json"
CSS = b"body { color: rebeccapurple; }\n" * 40
BROTLI = b"\x8b\x03brotli-bytes-stand-in"  # never decoded by these tests: raw ASGI only
SECRET = b"TOP-SECRET"


def asgi(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    raw_path: bytes | None = None,
    root_path: str = "",
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
) -> Reply:
    """Send one request as raw ASGI messages, the path exactly as given (no normalisation)."""
    if raw_path is None:
        raw_path = path.encode("utf-8", "surrogatepass")
    return send_raw(
        app, method, path, raw_path=raw_path, root_path=root_path, headers=headers, query=query
    )


@pytest.fixture
def static(tmp_path: Path) -> Path:
    """<tmp>/static (the root) with a sibling <tmp>/static_disallow and a secret outside both."""
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "app.css").write_bytes(CSS)
    (root / "app.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (root / "app.css.br").write_bytes(BROTLI)
    (root / "plain.txt").write_text("plain")
    (root / "data.bin").write_bytes(bytes(range(100)) * 10)
    (root / "sub" / "inner.txt").write_text("inner")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>")
    (root / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "static_disallow").mkdir()
    (tmp_path / "static_disallow" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return root


def mounted(root: Path, **options: Any) -> Lanner:
    app = Lanner(freeze_gc=False)
    app.mount("/static", StaticFiles(directory=root, **options))
    return app


@pytest.fixture
def client(static: Path) -> Iterator[TestClient]:
    with TestClient(mounted(static), follow_redirects=False) as client:
        yield client


def html_client(root: Path, **options: Any) -> TestClient:
    return TestClient(mounted(root, html=True, **options), follow_redirects=False)


def assert_problem_404(reply: httpx.Response | Reply) -> None:
    assert reply.status_code == 404, reply.content[:300]
    assert reply.headers["content-type"].startswith(PROBLEM)
    assert SECRET not in reply.content


def assert_refused(app: Any, path: str, *, raw_path: bytes | None = None) -> None:
    """The request is a plain 404 that leaks nothing, and the app still serves files."""
    reply = asgi(app, path, raw_path=raw_path)
    assert reply.status_code == 404, (path, reply.status_code, reply.content[:300])
    assert SECRET not in reply.content
    assert reply.headers["content-type"].startswith(PROBLEM)
    control = asgi(app, "/static/plain.txt")
    assert (control.status_code, control.content) == (200, b"plain")


# -- serving: validators, conditional requests, ranges, methods -------------------------------


def test_get_serves_the_file_with_validators(client: TestClient, static: Path) -> None:
    response = client.get("/static/plain.txt")
    assert response.status_code == 200
    assert response.content == b"plain"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "5"
    assert response.headers["accept-ranges"] == "bytes"
    result = (static / "plain.txt").stat()
    assert response.headers["etag"] == f'"{result.st_mtime_ns:x}-{result.st_size:x}"'
    assert response.headers["last-modified"] == formatdate(result.st_mtime, usegmt=True)
    assert "cache-control" not in response.headers
    assert "vary" not in response.headers  # no precompressed sibling


def test_nested_file_and_dot_segments(client: TestClient) -> None:
    assert client.get("/static/sub/inner.txt").content == b"inner"
    # Empty and `.` segments (a raw client can send them) name the same file.
    assert asgi(client.app, "/static//sub/./inner.txt").content == b"inner"


def test_head_sends_headers_without_body(client: TestClient) -> None:
    response = client.head("/static/data.bin")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "1000"
    assert response.headers["content-type"] == "application/octet-stream"


def test_304_by_etag(client: TestClient) -> None:
    etag = client.get("/static/plain.txt").headers["etag"]
    response = client.get("/static/plain.txt", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert client.get("/static/plain.txt", headers={"if-none-match": '"other"'}).status_code == 200


def test_304_by_date(client: TestClient, static: Path) -> None:
    os.utime(static / "plain.txt", (1_700_000_000, 1_700_000_000))
    last_modified = client.get("/static/plain.txt").headers["last-modified"]
    response = client.get("/static/plain.txt", headers={"if-modified-since": last_modified})
    assert response.status_code == 304
    earlier = formatdate(1_600_000_000, usegmt=True)
    assert client.get("/static/plain.txt", headers={"if-modified-since": earlier}).status_code == 200


@pytest.fixture
def file_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FileResponse opens."""
    opened: list[str] = []
    original = _files.open_regular_file

    def spy(path: str) -> tuple[BinaryIO, os.stat_result]:
        opened.append(path)
        return original(path)

    monkeypatch.setattr(_files, "open_regular_file", spy)
    return opened


def validators(static: Path, name: str, coding: str = "") -> tuple[bytes, bytes]:
    result = (static / name).stat()
    suffix = f"-{coding}" if coding else ""
    etag = f'"{result.st_mtime_ns:x}-{result.st_size:x}{suffix}"'.encode()
    return etag, formatdate(result.st_mtime, usegmt=True).encode()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("path", "name", "accept", "options"),
    [
        ("/static/plain.txt", "plain.txt", b"", {}),
        ("/static/data.bin", "data.bin", b"", {"cache_control": "public, max-age=60"}),
        ("/static/sub/", "sub/index.html", b"", {"html": True}),
        ("/static/app.css", "app.css", b"", {}),
        ("/static/app.css", "app.css.br", b"br", {}),
        ("/static/app.css", "app.css.gz", b"gzip", {"cache_control": "no-cache"}),
    ],
)
@pytest.mark.parametrize("by", ["etag", "date"])
def test_304_is_sent_from_the_lookup_without_opening_the_file(
    static: Path,
    file_opens: list[str],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    name: str,
    accept: bytes,
    options: dict[str, Any],
    by: str,
) -> None:
    coding = {b"br": "br", b"gzip": "gzip"}.get(accept, "")
    etag, last_modified = validators(static, name, coding)
    condition = (b"if-none-match", etag) if by == "etag" else (b"if-modified-since", last_modified)
    headers = [(b"accept-encoding", accept), condition] if accept else [condition]
    app = mounted(static, **options)
    fast = asgi(app, path, method=method, headers=headers)
    assert (fast.status_code, fast.content) == (304, b"")
    assert file_opens == []
    assert (fast.headers["etag"].encode(), fast.headers["last-modified"].encode()) == (etag, last_modified)
    # The same 304, header for header, as FileResponse sends after opening and fstat-ing the file.
    monkeypatch.setattr(staticfiles_module.FileResponse, "not_modified", lambda *args: None)
    opened = asgi(app, path, method=method, headers=headers)
    assert len(file_opens) == 1 and file_opens[0].endswith(name)
    assert (opened.status_code, opened.headers.raw) == (304, fast.headers.raw)


def test_a_changed_file_is_sent_again(static: Path, file_opens: list[str]) -> None:
    app = mounted(static)
    os.utime(static / "plain.txt", (1_700_000_000, 1_700_000_000))
    etag, last_modified = validators(static, "plain.txt")
    for condition in ((b"if-none-match", etag), (b"if-modified-since", last_modified)):
        assert asgi(app, "/static/plain.txt", headers=[condition]).status_code == 304
    assert file_opens == []
    (static / "plain.txt").write_text("fresh")
    os.utime(static / "plain.txt", (1_700_000_100, 1_700_000_100))
    for condition in ((b"if-none-match", etag), (b"if-modified-since", last_modified)):
        reply = asgi(app, "/static/plain.txt", headers=[condition])
        assert (reply.status_code, reply.content) == (200, b"fresh")
        assert reply.headers["etag"].encode() == validators(static, "plain.txt")[0]
    assert len(file_opens) == 2


def test_precompressed_304_keeps_each_encodings_etag(static: Path, file_opens: list[str]) -> None:
    app = mounted(static)
    br_etag = validators(static, "app.css.br", "br")[0]
    identity_etag = validators(static, "app.css")[0]
    br = (b"accept-encoding", b"br")
    cached = asgi(app, "/static/app.css", headers=[br, (b"if-none-match", br_etag)])
    assert (cached.status_code, cached.headers["etag"].encode()) == (304, br_etag)
    assert (cached.headers["content-encoding"], cached.headers["vary"]) == ("br", "Accept-Encoding")
    assert file_opens == []
    # The brotli validator does not revalidate the identity file, nor the other way round.
    identity = asgi(app, "/static/app.css", headers=[(b"if-none-match", br_etag)])
    assert (identity.status_code, identity.content) == (200, CSS)
    stale = asgi(app, "/static/app.css", headers=[br, (b"if-none-match", identity_etag)])
    assert (stale.status_code, stale.content) == (200, BROTLI)


def test_conditional_requests_that_match_nothing_still_open_the_file(
    static: Path, file_opens: list[str]
) -> None:
    app = mounted(static)
    etag = validators(static, "data.bin")[0]
    ranged = asgi(app, "/static/data.bin", headers=[(b"if-none-match", b'"other"'), (b"range", b"bytes=0-1")])
    assert (ranged.status_code, ranged.content) == (206, bytes(range(2)))
    miss = asgi(app, "/static/missing.txt", headers=[(b"if-none-match", etag)])
    assert_problem_404(miss)
    assert len(file_opens) == 1


def test_206_for_a_byte_range(client: TestClient) -> None:
    response = client.get("/static/data.bin", headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["content-range"] == "bytes 10-19/1000"
    suffix = client.get("/static/data.bin", headers={"range": "bytes=-5"})
    assert (suffix.status_code, suffix.content) == (206, bytes(range(95, 100)))


def test_416_for_an_unsatisfiable_range(client: TestClient) -> None:
    response = client.get("/static/data.bin", headers={"range": "bytes=5000-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1000"
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(client: TestClient, method: str) -> None:
    response = client.request(method, "/static/plain.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.content != b"plain"


def test_missing_file_is_a_problem_404(client: TestClient) -> None:
    response = client.get("/static/nope.css")
    assert_problem_404(response)
    assert response.json() == {"type": "about:blank", "title": "Not Found", "status": 404}


@pytest.mark.parametrize("path", ["/static", "/static/", "/static/sub", "/static/sub/", "/static/empty/"])
def test_directories_are_never_listed_without_html(client: TestClient, path: str) -> None:
    assert_problem_404(client.get(path))


def test_a_file_asked_for_as_a_directory_is_404(client: TestClient) -> None:
    assert_problem_404(asgi(client.app, "/static/plain.txt/"))


def test_file_named_like_a_compressed_archive_is_sent_as_is(client: TestClient) -> None:
    response = asgi(client.app, "/static/app.css.gz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in response.headers
    assert gzip.decompress(response.content) == CSS


# -- Cache-Control -----------------------------------------------------------------------------


def test_cache_control_on_200_206_and_304_only(static: Path) -> None:
    with TestClient(mounted(static, cache_control="public, max-age=3600")) as client:
        ok = client.get("/static/data.bin")
        assert ok.headers["cache-control"] == "public, max-age=3600"
        ranged = client.get("/static/data.bin", headers={"range": "bytes=0-0"})
        assert (ranged.status_code, ranged.headers["cache-control"]) == (206, "public, max-age=3600")
        cached = client.get("/static/data.bin", headers={"if-none-match": ok.headers["etag"]})
        assert (cached.status_code, cached.headers["cache-control"]) == (304, "public, max-age=3600")
        # A shared cache must not keep an error for an hour.
        unsatisfiable = client.get("/static/data.bin", headers={"range": "bytes=9999-"})
        assert unsatisfiable.status_code == 416
        assert "cache-control" not in unsatisfiable.headers
        missing = client.get("/static/nope.css")
        assert missing.status_code == 404
        assert "cache-control" not in missing.headers


# -- html=True: index pages, the trailing-slash redirect, 404.html -----------------------------


def test_html_serves_index_for_directories(static: Path) -> None:
    with html_client(static) as client:
        home = client.get("/static/")
        assert (home.status_code, home.text) == (200, "<h1>home</h1>")
        assert home.headers["content-type"] == "text/html; charset=utf-8"
        assert client.get("/static/sub/").text == "<h1>sub</h1>"
        assert client.head("/static/sub/").content == b""
        assert client.get("/static/sub/inner.txt").text == "inner"


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("/static/sub", b"", "/static/sub/"),
        ("/static", b"", "/static/"),
        ("/static/sub", b"v=1&x=a%20b", "/static/sub/?v=1&x=a%20b"),
    ],
)
def test_html_redirects_a_directory_to_its_slash(
    static: Path, path: str, query: bytes, location: str
) -> None:
    reply = asgi(mounted(static, html=True), path, query=query)
    assert reply.status_code == 308
    assert reply.headers["location"] == location
    assert reply.content == b""


def test_html_redirect_through_the_client_lands_on_the_index(static: Path) -> None:
    with TestClient(mounted(static, html=True)) as client:
        response = client.get("/static/sub")
        assert response.status_code == 200
        assert response.text == "<h1>sub</h1>"
        assert response.url.path == "/static/sub/"


def test_html_redirect_percent_encodes_the_directory_name(static: Path) -> None:
    (static / "a b%20c").mkdir()
    (static / "a b%20c" / "index.html").write_text("odd")
    with html_client(static) as client:
        response = client.get("/static/a b%2520c")
        assert response.status_code == 308
        assert response.headers["location"] == "/static/a%20b%2520c/"
        assert client.get(response.headers["location"]).text == "odd"


def test_html_redirect_never_points_to_another_host(tmp_path: Path) -> None:
    # Served at the root of a server, `//evil.example` must not become a protocol-relative URL.
    (tmp_path / "evil.example").mkdir()
    (tmp_path / "evil.example" / "index.html").write_text("x")
    reply = asgi(StaticFiles(directory=tmp_path, html=True), "//evil.example")
    assert reply.status_code == 308
    assert reply.headers["location"] == "/evil.example/"


def test_html_directory_without_index_is_404(static: Path) -> None:
    with html_client(static) as client:
        assert_problem_404(client.get("/static/empty/"))
        assert_problem_404(client.get("/static/empty"))


def test_html_serves_404_page_for_misses_and_refusals(static: Path) -> None:
    (static / "404.html").write_text("<h1>lost</h1>")
    app = mounted(static, html=True, cache_control="public, max-age=60")
    with TestClient(app) as client:
        response = client.get("/static/nope.css")
        assert response.status_code == 404
        assert response.text == "<h1>lost</h1>"
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "cache-control" not in response.headers
        head = client.head("/static/nope.css")
        assert (head.status_code, head.content) == (404, b"")
    refused = asgi(app, "/static/../secret.txt")
    assert (refused.status_code, refused.content) == (404, b"<h1>lost</h1>")


def test_html_without_404_page_answers_a_problem(static: Path) -> None:
    with html_client(static) as client:
        assert_problem_404(client.get("/static/nope.css"))


def test_html_404_page_that_is_a_fifo_is_not_opened(static: Path) -> None:
    os.mkfifo(static / "404.html")
    with html_client(static) as client:
        assert_problem_404(client.get("/static/nope.css"))


# -- precompressed siblings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br", "br"),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("BR", "br"),
        ("x-gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0.8, gzip;q=0.5", "br"),
        ("gzip;q=1.0, br;q=0.999", "gzip"),
        ("br ; q=0.2", "br"),
        ("*", "br"),
        ("*, br;q=0", "gzip"),
        ("*;q=0", None),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("deflate", None),
        ("gzip;q=high", None),  # a malformed weight is not taken as "accepted"
        ("br;q=1.5", None),
        ("", None),
        ("gzip, " * 300, None),  # over the length cap: identity
    ],
)
def test_precompressed_sibling_chosen_by_accept_encoding(
    static: Path, accept: str, coding: str | None
) -> None:
    app = mounted(static)
    reply = asgi(app, "/static/app.css", headers=[(b"accept-encoding", accept.encode())])
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/css; charset=utf-8"
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers.get("content-encoding") == coding
    expected = {"br": BROTLI, "gzip": (static / "app.css.gz").read_bytes(), None: CSS}[coding]
    assert reply.content == expected
    assert reply.headers["content-length"] == str(len(expected))


def test_precompressed_without_accept_encoding_is_identity_with_vary(static: Path) -> None:
    reply = asgi(mounted(static), "/static/app.css")
    assert reply.content == CSS
    assert "content-encoding" not in reply.headers
    assert reply.headers["vary"] == "Accept-Encoding"


def test_precompressed_accept_encoding_over_several_lines(static: Path) -> None:
    lines = [(b"accept-encoding", b"identity"), (b"accept-encoding", b"gzip")]
    assert asgi(mounted(static), "/static/app.css", headers=lines).headers["content-encoding"] == "gzip"


def test_precompressed_gzip_through_the_client_decodes_to_the_file(static: Path) -> None:
    with TestClient(mounted(static)) as client:
        response = client.get("/static/app.css", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.content == CSS  # httpx decoded the precompressed sibling


def test_precompressed_etags_differ_by_encoding_and_revalidate(static: Path) -> None:
    # Same mtime everywhere, as reproducible builds make them.
    for name in ("app.css", "app.css.gz", "app.css.br"):
        os.utime(static / name, (1_700_000_000, 1_700_000_000))
    app = mounted(static)
    etags = {
        accept: asgi(app, "/static/app.css", headers=[(b"accept-encoding", accept)]).headers["etag"]
        for accept in (b"br", b"gzip", b"identity")
    }
    assert len(set(etags.values())) == 3
    br = [(b"accept-encoding", b"br")]
    cached = asgi(app, "/static/app.css", headers=[*br, (b"if-none-match", etags[b"br"].encode())])
    assert cached.status_code == 304
    assert cached.headers["vary"] == "Accept-Encoding"
    # The identity validator does not revalidate the brotli representation.
    stale = asgi(app, "/static/app.css", headers=[*br, (b"if-none-match", etags[b"identity"].encode())])
    assert (stale.status_code, stale.content) == (200, BROTLI)


def test_precompressed_etag_differs_even_with_the_same_mtime_and_size(static: Path) -> None:
    (static / "same.txt").write_bytes(b"0123456789")
    (static / "same.txt.gz").write_bytes(b"9876543210")
    for name in ("same.txt", "same.txt.gz"):
        os.utime(static / name, (1_700_000_000, 1_700_000_000))
    app = mounted(static)
    identity = asgi(app, "/static/same.txt")
    encoded = asgi(app, "/static/same.txt", headers=[(b"accept-encoding", b"gzip")])
    assert encoded.headers["content-encoding"] == "gzip"
    assert identity.headers["etag"] != encoded.headers["etag"]


def test_precompressed_range_applies_to_the_encoded_bytes(static: Path) -> None:
    reply = asgi(
        mounted(static), "/static/app.css", headers=[(b"accept-encoding", b"br"), (b"range", b"bytes=0-3")]
    )
    assert reply.status_code == 206
    assert reply.content == BROTLI[:4]
    assert reply.headers["content-encoding"] == "br"
    assert reply.headers["content-range"] == f"bytes 0-3/{len(BROTLI)}"


def test_precompressed_disabled_serves_identity_without_vary(static: Path) -> None:
    reply = asgi(
        mounted(static, precompressed=False), "/static/app.css", headers=[(b"accept-encoding", b"br")]
    )
    assert reply.content == CSS
    assert "content-encoding" not in reply.headers
    assert "vary" not in reply.headers


@pytest.mark.timeout(10)
def test_precompressed_siblings_that_are_not_regular_files_inside_the_root_are_ignored(
    static: Path, tmp_path: Path
) -> None:
    (static / "plain.txt.gz").symlink_to(tmp_path / "secret.txt")  # leaves the root
    os.mkfifo(static / "plain.txt.br")  # not a regular file
    (static / "sub" / "inner.txt.br").mkdir()  # a directory
    app = mounted(static)
    for path, body in (("/static/plain.txt", b"plain"), ("/static/sub/inner.txt", b"inner")):
        reply = asgi(app, path, headers=[(b"accept-encoding", b"br, gzip")])
        assert (reply.status_code, reply.content) == (200, body)
        assert "content-encoding" not in reply.headers
        assert "vary" not in reply.headers


def test_precompressed_index_page(static: Path) -> None:
    (static / "index.html.gz").write_bytes(gzip.compress(b"<h1>home</h1>"))
    reply = asgi(mounted(static, html=True), "/static/", headers=[(b"accept-encoding", b"gzip")])
    assert reply.headers["content-encoding"] == "gzip"
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert gzip.decompress(reply.content) == b"<h1>home</h1>"


# -- advisories: traversal in every spelling (advisories.md rows 23-29) -------------------------


# Row 23 (Starlette StaticFiles): `/static/../static_disallow/x` passed a string-prefix check,
# because "static_disallow" starts with "static".
@pytest.mark.parametrize(
    "path",
    [
        "/static/../static_disallow/secret.txt",
        "/static/sub/../../static_disallow/secret.txt",
        "/static_disallow/secret.txt",
    ],
)
def test_cve_2023_29159_sibling_directory_sharing_the_root_prefix_is_404(static: Path, path: str) -> None:
    app = mounted(static)
    if path.startswith("/static/"):
        assert_refused(app, path)
    # Served at the root with root_path "/static": the path leaves the mount entirely.
    direct = StaticFiles(directory=static)
    reply = asgi(direct, path, root_path="/static")
    assert reply.status_code == 404
    assert SECRET not in reply.content


def test_cve_2023_29159_sibling_directory_through_a_symlink_is_404(static: Path, tmp_path: Path) -> None:
    (static / "shared").symlink_to(tmp_path / "static_disallow", target_is_directory=True)
    assert_refused(mounted(static), "/static/shared/secret.txt")


# Row 24 (Starlette #3139, #3287): a NUL byte (a 500) and absolute paths (os.path.join discards the
# root).
@pytest.mark.parametrize("name", ["plain.txt\x00", "pl\x00ain.txt", "\x00", "/{secret}", "{secret}"])
def test_starlette_3139_nul_byte_and_absolute_path_are_404(static: Path, tmp_path: Path, name: str) -> None:
    path = "/static/" + name.format(secret=tmp_path / "secret.txt")
    assert_refused(mounted(static), path)
    assert_refused(mounted(static), path, raw_path=path.replace("\x00", "%00").encode())


# Row 25 (aiohttp static): `follow_symlinks=True` disabled the root check entirely.
@pytest.mark.parametrize("follow_symlink", [False, True])
@pytest.mark.parametrize(
    "path", ["/static/../secret.txt", "/static/sub/../../secret.txt", "/static/../static_disallow/secret.txt"]
)
def test_cve_2024_23334_follow_symlink_keeps_the_root_check(
    static: Path, path: str, follow_symlink: bool
) -> None:
    assert_refused(mounted(static, follow_symlink=follow_symlink), path)


def test_cve_2024_23334_symlinks_out_of_the_root_are_404(static: Path, tmp_path: Path) -> None:
    (static / "link.txt").symlink_to(tmp_path / "secret.txt")
    (static / "linkdir").symlink_to(tmp_path / "static_disallow", target_is_directory=True)
    (static / "sub" / "up").symlink_to("..", target_is_directory=True)  # stays inside: allowed
    (static / "inside.css").symlink_to("app.css")
    app = mounted(static)
    assert_refused(app, "/static/link.txt")
    assert_refused(app, "/static/linkdir/secret.txt")
    assert asgi(app, "/static/inside.css").content == CSS
    assert asgi(app, "/static/sub/up/plain.txt").content == b"plain"


def test_cve_2024_23334_dot_dot_after_a_followed_symlink_is_404(static: Path, tmp_path: Path) -> None:
    # `linkdir/..` is <tmp>/static to a string check but the symlink target's parent to the kernel.
    (static / "linkdir").symlink_to(tmp_path / "static_disallow", target_is_directory=True)
    assert_refused(mounted(static, follow_symlink=True), "/static/linkdir/../secret.txt")


def test_cve_2024_23334_dot_dot_is_refused_even_when_it_stays_inside(static: Path) -> None:
    assert_refused(mounted(static), "/static/sub/../plain.txt")


def test_cve_2024_23334_follow_symlink_serves_links_out(static: Path, tmp_path: Path) -> None:
    (static / "link.txt").symlink_to(tmp_path / "secret.txt")
    (static / "linkdir").symlink_to(tmp_path / "static_disallow", target_is_directory=True)
    with TestClient(mounted(static, follow_symlink=True)) as client:
        assert client.get("/static/link.txt").content == SECRET
        assert client.get("/static/linkdir/secret.txt").content == SECRET
        assert client.get("/static/plain.txt").content == b"plain"


def test_cve_2024_23334_a_symlinked_root_is_followed(static: Path, tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(static, target_is_directory=True)
    app = mounted(tmp_path / "current")
    assert asgi(app, "/static/plain.txt").content == b"plain"
    assert_refused(app, "/static/../secret.txt")


# Row 26 (Sanic static): `..%2f` decoded into `../`, later `..` segments and a separator inside a
# segment (`..\`). The ASGI path is already percent-decoded: `%2e%2e%2f` arrives as `../`.
@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/static/../secret.txt", b"/static/..%2fsecret.txt"),
        ("/static/../secret.txt", b"/static/%2e%2e/secret.txt"),
        ("/static/../secret.txt", b"/static/%2E%2E%2Fsecret.txt"),
        ("/static/../secret.txt", None),
        ("/static/..", None),
        ("/static/sub/../..", None),
        ("/static/..\\secret.txt", None),
        ("/static/..\\secret.txt", b"/static/..%5csecret.txt"),
        ("/static/sub\\..\\..\\secret.txt", None),
        ("/static/..%2fsecret.txt", b"/static/..%252fsecret.txt"),  # double-encoded: a plain name
    ],
)
def test_cve_2017_16762_dot_dot_in_any_spelling_is_404(
    static: Path, path: str, raw_path: bytes | None
) -> None:
    assert_refused(mounted(static), path, raw_path=raw_path)


def test_cve_2017_16762_encoded_slash_is_refused_even_inside_the_root(static: Path) -> None:
    # `sub%2finner.txt` names a file called "sub/inner.txt", which cannot exist.
    app = mounted(static)
    assert_refused(app, "/static/sub/inner.txt", raw_path=b"/static/sub%2Finner.txt")
    assert asgi(app, "/static/sub/inner.txt", raw_path=b"/static/sub/inner.txt").status_code == 200


def test_cve_2017_16762_backslash_names_are_refused_even_when_they_exist(static: Path) -> None:
    (static / "back\\slash.txt").write_text("x")
    assert_refused(mounted(static), "/static/back\\slash.txt")


# Row 27 (Litestar static files): the path was not normalised before the commonpath check.
@pytest.mark.parametrize(
    "path",
    ["/static/sub/../../secret.txt", "/static/./sub/./../../secret.txt", "/static/sub//../../secret.txt"],
)
def test_cve_2024_32982_unnormalised_path_is_404(static: Path, path: str) -> None:
    assert_refused(mounted(static), path)


# Row 28 (Werkzeug safe_join, Windows): drive letters, UNC paths and names Windows reads as
# absolute. Refused on every platform, even where a file of that name exists.
@pytest.mark.parametrize(
    "name",
    [
        "C:secret.txt",
        "C:/secret.txt",
        "c:\\secret.txt",
        "\\secret.txt",
        "\\\\server\\share\\x",
        "a:b",
        "sub/C:",
    ],
)
def test_cve_2024_49766_windows_absolute_names_are_404(static: Path, name: str) -> None:
    if "\\" not in name and "/" not in name:
        (static / name).write_text("exists on POSIX")
    assert_refused(mounted(static), "/static/" + name)


# Windows drops trailing dots and spaces from a name: `.. ` is `..`, `secret.txt.` is `secret.txt`.
@pytest.mark.parametrize(
    "name", ["trail.", "trail ", "sub.", ".. /secret.txt", "... /secret.txt", "sub/inner.txt."]
)
def test_cve_2024_49766_trailing_dots_and_spaces_are_404(static: Path, name: str) -> None:
    for existing in ("trail.", "trail ", "sub."):
        (static / existing).write_text("exists on POSIX")
    assert_refused(mounted(static), "/static/" + name)


# Row 29 (Werkzeug safe_join, Windows): device names, with an extension, trailing spaces or dots,
# in any segment, opened a device whose read hung forever. Refused on every platform, even where a
# regular file has that name.
DEVICES = [
    *("CON", "PRN", "AUX", "NUL"),
    *(f"COM{n}" for n in range(1, 10)),
    *(f"LPT{n}" for n in range(1, 10)),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("device", DEVICES)
def test_cve_2025_66221_windows_device_names_are_404(static: Path, device: str) -> None:
    app = mounted(static)
    for name in (device, device.lower(), f"{device}.txt", f"{device.lower()}.tar.gz", f"{device} .css"):
        (static / name).write_text("a regular file on POSIX")
        assert_refused(app, "/static/" + name)
        assert_refused(app, f"/static/sub/{name}")
    assert_refused(app, f"/static/{device} ")
    assert_refused(app, f"/static/{device}/plain.txt")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["COM\u00b9", "lpt\u00b2.txt", "CONIN$", "conout$.log", "Nul.", " aux.js"])
def test_cve_2025_66221_other_device_spellings_are_404(static: Path, name: str) -> None:
    assert_refused(mounted(static), "/static/" + name)


def test_cve_2025_66221_device_like_names_are_still_served(static: Path) -> None:
    for name in ("console.css", "nullable.js", "com10.txt", "auxiliary.txt", "lpt.txt"):
        (static / name).write_text(name)
        assert asgi(mounted(static), "/static/" + name).content == name.encode()


# The POSIX counterparts of row 29: a FIFO, a device node, an index page that is a FIFO. None may
# be opened (the open of a FIFO waits for a writer), none may hang or fail with a 5xx.
@pytest.mark.timeout(10)
@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize("path", ["/static/pipe", "/static/pipe.css", "/static/zero", "/static/fifodir/"])
def test_cve_2025_66221_fifos_and_devices_are_404_quickly(
    static: Path, path: str, html: bool, opened: list[str]
) -> None:
    os.mkfifo(static / "pipe")
    os.mkfifo(static / "pipe.css")
    os.mkfifo(static / "pipe.css.gz")
    (static / "fifodir").mkdir()
    os.mkfifo(static / "fifodir" / "index.html")
    (static / "zero").symlink_to("/dev/zero")
    app = mounted(static, html=html, follow_symlink=True)
    reply = asgi(app, path, headers=[(b"accept-encoding", b"gzip")])
    assert reply.status_code == 404
    assert asgi(app, "/static/plain.txt").content == b"plain"
    # Found to be something else than a regular file by stat, never by an open.
    assert opened == [str((static / "plain.txt").resolve())]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FileResponse opens."""
    paths: list[str] = []
    original = _files.open_regular_file

    def spy(path: str) -> tuple[BinaryIO, os.stat_result]:
        paths.append(path)
        return original(path)

    monkeypatch.setattr(_files, "open_regular_file", spy)
    return paths


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/static/../secret.txt", None),
        ("/static/sub/../plain.txt", None),
        ("/static/..\\secret.txt", None),
        ("/static/plain.txt\x00", None),
        ("/static/C:secret.txt", None),
        ("/static/nul.txt", None),
        ("/static/plain.txt.", None),
        ("/static/sub/inner.txt", b"/static/sub%2finner.txt"),
        ("/static/" + "a/" * 50_000, None),
    ],
)
def test_lexical_refusals_never_touch_the_file_system(
    static: Path, monkeypatch: pytest.MonkeyPatch, path: str, raw_path: bytes | None
) -> None:
    calls: list[Any] = []

    async def spy(*args: Any) -> None:
        calls.append(args)

    app = mounted(static)
    monkeypatch.setattr(staticfiles_module, "run_file_io", spy)
    assert_problem_404(asgi(app, path, raw_path=raw_path))
    assert calls == []


@pytest.mark.parametrize("name", ["\ud800.txt", "a\x01b", "a\x7fb", "x" * 3000, "a/" * 1500])
def test_control_characters_surrogates_and_huge_paths_are_404(static: Path, name: str) -> None:
    assert_refused(mounted(static), "/static/" + name, raw_path=b"/static/x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_404_not_500(static: Path) -> None:
    (static / "locked.txt").write_text("x")
    (static / "locked.txt").chmod(0)
    try:
        assert_refused(mounted(static), "/static/locked.txt")
    finally:
        (static / "locked.txt").chmod(0o644)


# -- mounting, root_path and the scope -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root_path"),
    [
        ("/static/plain.txt", "/static"),  # ASGI 2.4: the full path, the prefix in root_path
        ("/plain.txt", "/static"),  # an older server that strips the prefix
        ("/plain.txt", ""),  # the app served at the root
        ("/api/static/plain.txt", "/api/static"),
    ],
)
def test_path_relative_to_root_path(static: Path, path: str, root_path: str) -> None:
    reply = asgi(StaticFiles(directory=static), path, root_path=root_path)
    assert (reply.status_code, reply.content) == (200, b"plain")


def test_prefix_that_is_not_a_whole_segment_is_not_stripped(static: Path) -> None:
    (static / "staticx").mkdir()
    (static / "staticx" / "f.txt").write_text("nested")
    reply = asgi(StaticFiles(directory=static), "/staticx/f.txt", root_path="/static")
    assert reply.content == b"nested"


def test_redirect_location_from_an_older_server_includes_the_prefix(static: Path) -> None:
    reply = asgi(StaticFiles(directory=static, html=True), "/sub", root_path="/static")
    assert (reply.status_code, reply.headers["location"]) == (308, "/static/sub/")


def test_mount_under_an_app_root_path(static: Path) -> None:
    with TestClient(mounted(static), root_path="/api") as client:
        assert client.get("/api/static/plain.txt").content == b"plain"


def test_pathlike_and_str_directories(static: Path) -> None:
    for directory in (static, str(static)):
        assert asgi(StaticFiles(directory=directory), "/plain.txt").content == b"plain"


def test_check_dir_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "file")


def test_check_dir_false_allows_a_directory_created_later(tmp_path: Path) -> None:
    files = StaticFiles(directory=tmp_path / "later", check_dir=False)
    assert_problem_404(asgi(files, "/x.txt"))
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "x.txt").write_text("now")
    assert asgi(files, "/x.txt").content == b"now"


def test_relative_directory_is_fixed_at_construction(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(static.parent)
    files = StaticFiles(directory="static")
    monkeypatch.chdir(static / "sub")
    assert asgi(files, "/plain.txt").content == b"plain"


def test_websocket_is_closed(static: Path) -> None:
    sent: list[Message] = []

    async def run() -> None:
        async def receive() -> Message:
            return {"type": "websocket.connect"}

        async def send(message: Message) -> None:
            sent.append(message)

        await StaticFiles(directory=static)({"type": "websocket", "path": "/x"}, receive, send)
        await StaticFiles(directory=static)({"type": "lifespan"}, receive, send)

    asyncio.run(run())
    assert sent == [{"type": "websocket.close", "code": 1000}]


# -- errors other than "missing" are not hidden as 404s ----------------------------------------


def test_a_file_vanishing_between_lookup_and_open_is_404(
    static: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _files.open_regular_file

    def vanished(path: str) -> tuple[BinaryIO, os.stat_result]:
        if path.endswith("plain.txt"):
            raise FileNotFoundError(errno.ENOENT, "gone", path)
        return original(path)

    monkeypatch.setattr(_files, "open_regular_file", vanished)
    assert_problem_404(asgi(mounted(static), "/static/plain.txt"))
    (static / "404.html").write_text("lost")
    monkeypatch.setattr(
        _files, "open_regular_file", lambda path: vanished(path.replace("404.html", "plain.txt"))
    )
    assert_problem_404(asgi(mounted(static, html=True), "/static/nope"))


@pytest.mark.parametrize("html", [False, True])
def test_io_errors_propagate(static: Path, monkeypatch: pytest.MonkeyPatch, html: bool) -> None:
    (static / "404.html").write_text("lost")

    def broken(path: str) -> tuple[BinaryIO, os.stat_result]:
        raise OSError(errno.EIO, "I/O error", path)

    monkeypatch.setattr(_files, "open_regular_file", broken)
    with pytest.raises(OSError, match="I/O error"):
        asgi(mounted(static, html=html), "/static/plain.txt" if not html else "/static/nope")


def test_stat_errors_propagate(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = os.stat

    def broken(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).endswith("plain.txt"):
            raise OSError(errno.EIO, "I/O error", path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(staticfiles_module.os, "stat", broken)
    with pytest.raises(OSError, match="I/O error"):
        asgi(mounted(static), "/static/plain.txt")


# -- url_path: content hashes ------------------------------------------------------------------


def sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths url_path opens to hash."""
    opened: list[str] = []
    original: Callable[[str], tuple[BinaryIO, os.stat_result]] = staticfiles_module.open_regular_file

    def spy(path: str) -> tuple[BinaryIO, os.stat_result]:
        opened.append(path)
        return original(path)

    monkeypatch.setattr(staticfiles_module, "open_regular_file", spy)
    return opened


def test_url_path_appends_the_content_hash(static: Path, opens: list[str]) -> None:
    files = StaticFiles(directory=static)
    assert files.url_path("app.css") == f"app.css?v={sha12(CSS)}"
    assert files.url_path("/sub/inner.txt") == f"/sub/inner.txt?v={sha12(b'inner')}"
    assert files.url_path("app.css") == f"app.css?v={sha12(CSS)}"
    assert len(opens) == 2  # the second app.css came from the cache


def test_url_path_changes_when_the_file_changes(static: Path) -> None:
    files = StaticFiles(directory=static)
    before = files.url_path("plain.txt")
    (static / "plain.txt").write_text("PLAIN")  # same size: the mtime tells
    os.utime(static / "plain.txt", ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    after = files.url_path("plain.txt")
    assert before != after
    assert after == f"plain.txt?v={sha12(b'PLAIN')}"
    (static / "plain.txt").write_text("plain, longer")
    assert files.url_path("plain.txt") == f"plain.txt?v={sha12(b'plain, longer')}"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "path", ["missing.css", "sub", "sub/", "../secret.txt", "..\\secret.txt", "CON", "pipe", "link", ""]
)
def test_url_path_without_a_file_returns_the_path(static: Path, tmp_path: Path, path: str) -> None:
    os.mkfifo(static / "pipe")
    (static / "link").symlink_to(tmp_path / "secret.txt")
    assert StaticFiles(directory=static).url_path(path) == path


def test_url_path_cache_is_bounded(static: Path, opens: list[str]) -> None:
    files = StaticFiles(directory=static)
    files.cache_size = 2
    for name in ("app.css", "plain.txt", "data.bin", "app.css"):
        files.url_path(name)
    # app.css was evicted by the third file, so it was hashed twice.
    assert [os.path.basename(path) for path in opens] == ["app.css", "plain.txt", "data.bin", "app.css"]
    files.url_path("app.css")
    assert len(opens) == 4


def test_url_path_file_vanishing_before_the_hash_returns_the_path(
    static: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def vanished(path: str) -> tuple[BinaryIO, os.stat_result]:
        raise FileNotFoundError(errno.ENOENT, "gone", path)

    monkeypatch.setattr(staticfiles_module, "open_regular_file", vanished)
    assert StaticFiles(directory=static).url_path("app.css") == "app.css"


def test_url_path_io_error_propagates(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str) -> tuple[BinaryIO, os.stat_result]:
        raise OSError(errno.EIO, "I/O error", path)

    monkeypatch.setattr(staticfiles_module, "open_regular_file", broken)
    with pytest.raises(OSError, match="I/O error"):
        StaticFiles(directory=static).url_path("app.css")
