"""FileResponse: opening before sending, closing the file however it ends, and ``root=``."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

import pytest

from lanner import Lanner, _files
from lanner.exceptions import HTTPException
from lanner.responses import FileResponse
from lanner.testing import TestClient
from lanner.types import Message
from tests.test_responses import WAIT, body_of, call, never_receive, start_of


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def failing_call(response: FileResponse, method: str = "GET") -> tuple[BaseException, list[Message]]:
    """Call `response`, expecting it to raise; return the exception and what was sent."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": []}
    with pytest.raises(Exception) as info:
        await response(scope, never_receive, send)
    return info.value, sent


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[BinaryIO]:
    """Every file FileResponse opens, to check it was closed."""
    files: list[BinaryIO] = []
    original = _files.open_regular_file

    def spy(path: str) -> tuple[BinaryIO, os.stat_result]:
        file, result = original(path)
        files.append(file)
        return file, result

    monkeypatch.setattr(_files, "open_regular_file", spy)
    return files


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 1024)  # 256 KiB: four chunks
    return path


# --- failures happen before anything is sent ------------------------------------------------------


@pytest.mark.anyio
async def test_missing_file_raises_before_sending(tmp_path: Path) -> None:
    error, sent = await failing_call(FileResponse(tmp_path / "missing.txt"))
    assert isinstance(error, FileNotFoundError)
    assert sent == []


@pytest.mark.anyio
async def test_nul_in_path_raises_value_error_before_sending(tmp_path: Path) -> None:
    error, sent = await failing_call(FileResponse(str(tmp_path) + "/a\x00b.txt"))
    assert isinstance(error, ValueError)
    assert sent == []


@pytest.mark.anyio
async def test_directory_raises_before_sending(tmp_path: Path) -> None:
    error, sent = await failing_call(FileResponse(tmp_path))
    assert isinstance(error, RuntimeError) and "not a regular file" in str(error)
    assert sent == []


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error, sent = await asyncio.wait_for(failing_call(FileResponse(fifo)), WAIT)
    assert isinstance(error, RuntimeError) and "not a regular file" in str(error)
    assert sent == []


@pytest.mark.anyio
async def test_permission_denied_raises_before_sending(
    data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Patched rather than chmod-ed, because root ignores file permissions.
    real_open = os.open

    def refusing_open(path: Any, flags: int, *args: Any) -> int:
        if os.fspath(path) == str(data_file):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    for method in ("GET", "HEAD"):
        error, sent = await failing_call(FileResponse(data_file), method)
        assert isinstance(error, PermissionError)
        assert sent == []


# --- the descriptor is always closed ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 200),
        ("HEAD", {}, 200),
        ("GET", {"if-none-match": "*"}, 304),
        ("GET", {"range": "bytes=999999-"}, 416),
        ("GET", {"range": "bytes=70000-70009"}, 206),
        ("HEAD", {"range": "bytes=1-2"}, 206),
    ],
)
async def test_file_is_closed_on_every_answer(
    data_file: Path, opened: list[BinaryIO], method: str, headers: dict[str, str], status: int
) -> None:
    closed_before_background: list[bool] = []

    async def background() -> None:
        closed_before_background.append(opened[0].closed)

    messages = await call(FileResponse(data_file, background=background), method, headers)
    assert start_of(messages)[0] == status
    assert len(opened) == 1 and opened[0].closed
    assert closed_before_background == [True]


@pytest.mark.anyio
async def test_range_body_is_read_from_the_opened_file(data_file: Path, opened: list[BinaryIO]) -> None:
    messages = await call(FileResponse(data_file), headers={"range": "bytes=70000-70009"})
    assert body_of(messages) == data_file.read_bytes()[70000:70010]
    assert len(opened) == 1


@pytest.mark.anyio
async def test_file_is_closed_when_send_fails(data_file: Path, opened: list[BinaryIO]) -> None:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    scope = {"type": "http", "method": "GET", "headers": []}
    with pytest.raises(OSError, match="client went away"):
        await FileResponse(data_file)(scope, never_receive, send)
    assert opened[0].closed


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_file_is_closed_when_cancelled_while_sending(data_file: Path, opened: list[BinaryIO]) -> None:
    first_chunk = asyncio.Event()

    async def send(message: Message) -> None:
        if message.get("body"):
            first_chunk.set()
            await asyncio.Event().wait()

    scope = {"type": "http", "method": "GET", "headers": []}
    task = asyncio.ensure_future(FileResponse(data_file)(scope, never_receive, send))
    await first_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert opened[0].closed


@pytest.mark.anyio
async def test_file_opened_after_cancellation_is_closed(
    data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    files: list[BinaryIO] = []
    original = _files.open_regular_file

    def slow_open(path: str) -> tuple[BinaryIO, os.stat_result]:
        entered.set()
        release.wait(WAIT)
        file, result = original(path)
        files.append(file)
        return file, result

    monkeypatch.setattr(_files, "open_regular_file", slow_open)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": []}
    task = asyncio.ensure_future(FileResponse(data_file)(scope, never_receive, send))
    assert await asyncio.to_thread(entered.wait, WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await wait_until(lambda: bool(files) and files[0].closed)
    assert sent == []


# --- not_modified: the 304 from a stat the caller already holds -----------------------------------


def scope_of(method: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"if-none-match": "*"}),
        ("HEAD", {"if-none-match": "*"}),
        ("GET", {"if-modified-since": "Fri, 31 Dec 9999 23:59:59 GMT"}),
    ],
)
async def test_not_modified_headers_are_the_304s_own(
    data_file: Path, opened: list[BinaryIO], method: str, headers: dict[str, str]
) -> None:
    given = {"cache-control": "no-cache", "content-disposition": "inline", "x-kept": "1"}
    response = FileResponse(data_file, headers=given, filename="data.bin")
    messages = await call(response, method, headers)
    scope = scope_of(method, headers)
    assert start_of(messages) == (304, response.not_modified(scope, data_file.stat()))
    assert len(opened) == 1  # only the call opened the file


@pytest.mark.parametrize(
    ("status", "method", "headers"),
    [
        (200, "GET", {"if-none-match": '"other"'}),
        (200, "GET", {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"}),
        (200, "GET", {}),
        (200, "POST", {"if-none-match": "*"}),
        (404, "GET", {"if-none-match": "*"}),
    ],
)
def test_not_modified_is_none_when_the_answer_is_not_a_304(
    data_file: Path, status: int, method: str, headers: dict[str, str]
) -> None:
    scope = scope_of(method, headers)
    assert FileResponse(data_file, status).not_modified(scope, data_file.stat()) is None


def test_not_modified_compares_the_given_etag(data_file: Path) -> None:
    response = FileResponse(data_file, headers={"etag": '"mine"'})
    scope = {"type": "http", "method": "GET", "headers": [(b"if-none-match", b'"mine"')]}
    headers = response.not_modified(scope, data_file.stat())
    assert headers is not None and dict(headers)[b"etag"] == b'"mine"'


# --- root= -----------------------------------------------------------------------------------------


@pytest.fixture
def static(tmp_path: Path) -> Path:
    """``static/`` (the root) next to ``static_disallow/`` and a secret, with links out of the root."""
    root = tmp_path / "static"
    (root / "css" / "deep").mkdir(parents=True)
    (root / "css" / "deep" / "site.css").write_bytes(b"body {}")
    (root / "index.txt").write_bytes(b"index")
    (tmp_path / "static_disallow").mkdir()
    (tmp_path / "static_disallow" / "secret.txt").write_bytes(b"secret")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (root / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (root / "link_dir").symlink_to(tmp_path / "static_disallow", target_is_directory=True)
    (root / "link_in.txt").symlink_to(root / "index.txt")
    return root


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("css/deep/site.css", b"body {}"),
        ("index.txt", b"index"),
        ("css/../index.txt", b"index"),  # normalises to a path inside the root
        ("./css/deep/./site.css", b"body {}"),
        ("link_in.txt", b"index"),  # a symlink that stays inside the root
    ],
)
async def test_root_serves_files_inside_it(static: Path, path: str, body: bytes) -> None:
    messages = await call(FileResponse(path, root=static))
    assert start_of(messages)[0] == 200
    assert body_of(messages) == body


@pytest.mark.anyio
async def test_root_accepts_an_absolute_path_inside_it_and_a_symlinked_root(
    static: Path, tmp_path: Path
) -> None:
    messages = await call(FileResponse(static / "css" / "deep" / "site.css", root=str(static)))
    assert body_of(messages) == b"body {}"
    alias = tmp_path / "alias"
    alias.symlink_to(static, target_is_directory=True)
    assert body_of(await call(FileResponse("index.txt", root=alias))) == b"index"
    assert body_of(await call(FileResponse(alias / "index.txt", root=alias))) == b"index"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "css/../../secret.txt",
        "..",
        unquote("%2e%2e/secret.txt"),
        unquote("css%2f%2e%2e%2f%2e%2e%2fsecret.txt"),
        "../static_disallow/secret.txt",
        "{tmp}/static_disallow/secret.txt",  # the root is a string prefix of this one
        "{tmp}/secret.txt",
        "{tmp}/static/../secret.txt",
        "/etc/passwd",
        "link_out.txt",  # a symlink inside the root pointing outside
        "link_dir/secret.txt",
        "..\\secret.txt",
        "css\\deep\\site.css",
        "C:/Windows/win.ini",
        "c:secret.txt",
        "index.txt\x00.png",
        "\x00",
        "css",  # a directory
        "css/deep",
        "",
        "missing.txt",
        "index.txt/more",
        "a" * 5000,
    ],
)
async def test_root_refuses_with_a_plain_404(static: Path, tmp_path: Path, path: str) -> None:
    error, sent = await failing_call(FileResponse(path.replace("{tmp}", str(tmp_path)), root=static))
    assert isinstance(error, HTTPException)
    assert error.status_code == 404
    assert error.detail is None and error.headers is None
    assert error.__cause__ is None and error.__suppress_context__
    assert sent == []


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_root_refuses_a_fifo(static: Path) -> None:
    os.mkfifo(static / "pipe")
    error, sent = await asyncio.wait_for(failing_call(FileResponse("pipe", root=static)), WAIT)
    assert isinstance(error, HTTPException) and error.status_code == 404
    assert sent == []


@pytest.mark.anyio
async def test_root_refuses_a_path_on_another_drive(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows: commonpath raises ValueError for paths on different drives (C: and D:).
    real_commonpath = os.path.commonpath
    root = os.path.realpath(static)

    def across_drives(paths: Any) -> str:
        if paths[0] == root:
            raise ValueError("Paths don't have the same drive")
        return real_commonpath(paths)

    monkeypatch.setattr(os.path, "commonpath", across_drives)
    error, sent = await failing_call(FileResponse("index.txt", root=static))
    assert isinstance(error, HTTPException) and error.status_code == 404
    assert sent == []


@pytest.mark.anyio
async def test_a_path_that_is_not_a_path_raises_type_error_before_sending() -> None:
    error, sent = await failing_call(FileResponse(42, media_type="text/plain"))  # type: ignore[arg-type]
    assert isinstance(error, TypeError)
    assert sent == []


@pytest.mark.anyio
async def test_without_root_the_raw_errors_propagate(static: Path) -> None:
    error, _ = await failing_call(FileResponse(static / "missing.txt"))
    assert isinstance(error, FileNotFoundError)
    error, _ = await failing_call(FileResponse(static / "css"))
    assert isinstance(error, RuntimeError) and "not a regular file" in str(error)
    # Without root nothing is refused: a path through `..` is the caller's choice.
    messages = await call(FileResponse(static / ".." / "secret.txt"))
    assert body_of(messages) == b"secret"


def test_root_through_an_app(static: Path) -> None:
    app = Lanner(freeze_gc=False)
    asked: list[str] = []

    @app.get("/files/{p:path}")
    async def files(p: str) -> FileResponse:
        asked.append(p)
        return FileResponse(p, root=static)

    with TestClient(app) as client:
        response = client.get("/files/css/deep/site.css")
        assert response.status_code == 200
        assert response.content == b"body {}"
        assert response.headers["content-type"] == "text/css; charset=utf-8"
        assert client.get("/files/css/deep/site.css", headers={"range": "bytes=0-3"}).content == b"body"
        for url in (
            "/files/%2e%2e/secret.txt",
            "/files/..%2fsecret.txt",
            "/files/%2e%2e%2fstatic_disallow%2fsecret.txt",
            "/files/link_out.txt",
            "/files/%2fetc%2fpasswd",
            "/files/css",
            "/files/missing.txt",
            "/files/index.txt%00",
        ):
            response = client.get(url)
            assert response.status_code == 404, url
            asked_for = unquote(url.removeprefix("/files/"))
            if {".", ".."}.isdisjoint(asked_for.split("/")):
                assert asked[-1] == asked_for  # the handler ran and root= refused it
            else:
                assert asked[-1] != asked_for  # routing refused the dot segment first
            assert b"secret" not in response.content
            assert b"static" not in response.content
