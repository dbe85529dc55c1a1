"""Uploaded files (lanner.forms.UploadFile): spooling to disk, thread use, cleanup and memory."""

import asyncio
import io
import logging
import os
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from lanner import Lanner, Request
from lanner.datastructures import Headers
from lanner.forms import SPOOL_MAX_SIZE, FormData, FormLimits, UploadFile, parse_form
from lanner.testing import TestClient

from .test_forms import KIB, MIB, MULTIPART, Part, Spools, asgi, assert_problem, multipart, split


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> Spools:
    return Spools(monkeypatch)


def upload_app(**options: Any) -> tuple[Lanner, list[Any]]:
    """An app whose handler records what it saw of each upload: (file, loop thread, rolled, size)."""
    seen: list[Any] = []
    app = Lanner(freeze_gc=False)

    @app.post("/", **options)
    async def handler(file: UploadFile) -> dict[str, Any]:
        rolled = bool(getattr(file.file, "_rolled", False))
        on_disk = os.fstat(file.file.fileno()).st_size if rolled else 0
        seen.append((file, threading.get_ident(), rolled, on_disk))
        head = await file.read(4)
        await file.seek(0)
        return {"size": file.size, "head": head.decode(), "length": len(await file.read())}

    return app, seen


def test_a_small_upload_stays_in_memory(spools: Spools) -> None:
    app, seen = upload_app()
    with TestClient(app) as client:
        response = client.post("/", files={"file": ("a.txt", b"abcdef")})
    assert response.json() == {"size": 6, "head": "abcd", "length": 6}
    file, _, rolled, _ = seen[0]
    assert not rolled and spools.disk == []
    assert file.file.closed and spools.all_closed()


def test_a_3_mib_upload_spools_to_disk_and_is_removed_after_the_response(spools: Spools) -> None:
    app, seen = upload_app()
    with TestClient(app) as client:
        response = client.post("/", files={"file": ("big.bin", b"x" * (3 * MIB))})
    assert response.json() == {"size": 3 * MIB, "head": "xxxx", "length": 3 * MIB}
    file, _, rolled, on_disk = seen[0]
    assert rolled and on_disk == 3 * MIB  # the bytes were on disk while the handler ran
    assert len(spools.disk) == 1
    assert file.file.closed and spools.all_closed()


# Row 3 (CVE-2025-54121, Starlette): the write that rolled a spooled upload over to disk ran on the
# event loop, blocking it for the whole disk write. Every disk operation runs in a worker thread.
def test_cve_2025_54121_rollover_and_disk_writes_run_off_the_event_loop(spools: Spools) -> None:
    app, seen = upload_app()
    with TestClient(app) as client:
        client.post("/", files={"file": ("big.bin", b"x" * (3 * MIB))})
    loop_thread = seen[0][1]
    (disk,) = spools.disk
    assert disk.created_in != loop_thread  # the rollover itself
    assert {name for name, _ in disk.calls} >= {"write", "read", "seek", "close"}
    assert all(thread != loop_thread for _, thread in disk.calls), disk.calls


def test_upload_file_methods() -> None:
    async def run() -> None:
        headers = Headers([(b"content-type", b"text/plain"), (b"x-a", b"1")])
        upload = UploadFile(io.BytesIO(), size=0, filename="../a.txt", headers=headers)
        assert (upload.filename, upload.content_type, upload.headers["x-a"]) == (
            "../a.txt",
            "text/plain",
            "1",
        )
        await upload.write(b"hello ")
        await upload.write(b"world")
        assert upload.size == 11
        await upload.seek(6)
        assert await upload.read() == b"world"
        await upload.seek(0)
        assert await upload.read(5) == b"hello"
        assert "a.txt" in repr(upload) and "size=11" in repr(upload)
        await upload.close()
        await upload.close()  # twice is fine
        assert upload.file.closed
        bare = UploadFile(io.BytesIO(b"x"))
        assert (bare.size, bare.filename, bare.content_type, len(bare.headers)) == (None, None, None, 0)
        await bare.write(b"y")
        assert bare.size is None

    asyncio.run(run())


def test_spooled_upload_rolls_over_past_1_mib() -> None:
    async def run() -> None:
        body = multipart(
            Part("f", b"a" * SPOOL_MAX_SIZE, filename="exact"),
            Part("g", b"b" * (SPOOL_MAX_SIZE + 1), filename="over"),
        )
        form = await parse_form(MULTIPART[0][1].decode(), _aiter(split(body, 1000)))
        exact, over = form["f"], form["g"]
        assert isinstance(exact, UploadFile) and isinstance(over, UploadFile)
        assert not exact.file._rolled and over.file._rolled  # type: ignore[attr-defined]
        assert (exact.size, over.size) == (SPOOL_MAX_SIZE, SPOOL_MAX_SIZE + 1)
        assert (await over.read(3), over.file.tell()) == (b"bbb", 3)  # read from the start
        await form.close()
        await form.close()
        assert exact.file.closed and over.file.closed

    asyncio.run(run())


@pytest.mark.parametrize("size", [1000, 64 * KIB, 300 * KIB, 3 * MIB])
def test_upload_bytes_survive_the_move_to_disk_mid_chunk(size: int) -> None:
    # Data that keeps a file in memory is written inside the parser's callback; the write that
    # rolls it over, and those after it, are queued for the file pool: the order must hold.
    content = bytes(range(256)) * (SPOOL_MAX_SIZE // 256) + os.urandom(100 * KIB + 7)

    async def run() -> None:
        body = multipart(Part("f", content, filename="f.bin"), Part("g", b"tail", filename="g.bin"))
        form = await parse_form(MULTIPART[0][1].decode(), _aiter(split(body, size)))
        f, g = form["f"], form["g"]
        assert isinstance(f, UploadFile) and isinstance(g, UploadFile)
        assert f.file._rolled and not g.file._rolled  # type: ignore[attr-defined]
        assert (f.size, g.size) == (len(content), 4)
        assert await f.read() == content and await g.read() == b"tail"
        await form.close()
        assert f.file.closed and g.file.closed

    asyncio.run(run())


async def _aiter(chunks: list[bytes]) -> Any:
    for chunk in chunks:
        yield chunk


def test_form_data_multi_dict() -> None:
    file = UploadFile(io.BytesIO(), filename="f")
    form = FormData([("a", "1"), ("f", file), ("a", "2")])
    assert form["a"] == "2" and form.get("a") == "2" and form.get("x") is None and form.get("x", 0) == 0
    assert form.getlist("a") == ["1", "2"] and form.getlist("x") == []
    assert form.multi_items() == [("a", "1"), ("f", file), ("a", "2")]
    assert list(form) == ["a", "f"] and len(form) == 2 and "f" in form and "x" not in form
    assert dict(form.items()) == {"a": "2", "f": file}
    assert FormData(form).multi_items() == form.multi_items()
    assert FormData({"k": "v"}).multi_items() == [("k", "v")]
    assert repr(FormData([("a", "1")])) == "FormData([('a', '1')])"
    with pytest.raises(KeyError):
        form["x"]
    asyncio.run(form.close())
    assert file.file.closed
    asyncio.run(form.close())


# Every limit that stops an upload midway removes the files already written, before the error
# reaches the client.
@pytest.mark.parametrize(
    ("limits", "parts", "status"),
    [
        ({}, [Part("f", b"x" * (10 * MIB + 1), filename="huge")], 413),
        ({}, [Part("f", b"x" * (6 * MIB), filename="a"), Part("g", b"x" * (5 * MIB), filename="b")], 413),
        ({"max_files": 2}, [Part("f", b"x" * (2 * MIB), filename=str(i)) for i in range(3)], 400),
        ({}, [Part("f", b"x" * (2 * MIB), filename="a"), Part("t", b"x" * (MIB + 1))], 413),
        (
            {},
            [Part("f", b"x" * (2 * MIB), filename="a"), Part("t", "v", headers=[("X", "x" * 16 * KIB)])],
            413,
        ),
        ({"max_fields": 1}, [Part("f", b"x" * (2 * MIB), filename="a"), Part("t", "1"), Part("u", "2")], 400),
        ({}, [Part("f", b"x" * (2 * MIB), filename="a"), Part("t", b"\xff")], 400),
    ],
)
def test_a_refused_upload_leaves_no_temporary_file(
    limits: dict[str, int], parts: list[Part], status: int, spools: Spools
) -> None:
    app, seen = upload_app(form_limits=FormLimits(**limits))
    reply = asgi(app, "/", split(multipart(*parts)))
    assert_problem(reply, status)
    assert seen == []
    assert spools.disk, "the test must have written a file to disk"
    assert spools.all_closed()


def test_a_client_that_disconnects_mid_upload_is_quiet_and_leaves_no_file(
    spools: Spools, caplog: pytest.LogCaptureFixture
) -> None:
    app, seen = upload_app()
    body = multipart(Part("f", b"x" * (4 * MIB), filename="a"))
    with caplog.at_level(logging.DEBUG, logger="lanner"):
        reply = asgi(app, "/", split(body)[:40], disconnect=True)
    assert reply.status_code is None  # nobody to answer: nothing sent, no 500
    assert seen == []
    assert spools.disk and spools.all_closed()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def test_a_cancelled_upload_leaves_no_file(spools: Spools) -> None:
    async def run() -> None:
        started = asyncio.Event()

        async def chunks() -> Any:
            yield multipart(Part("f", b"start", filename="a")).rsplit(b"\r\n--", 1)[0]
            for _ in range(40):
                yield b"x" * (64 * KIB)
            started.set()
            await asyncio.Event().wait()  # the client stalls

        task = asyncio.ensure_future(parse_form(MULTIPART[0][1].decode(), chunks()))
        await started.wait()
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert spools.disk and spools.all_closed()


def test_request_form_closes_its_files_after_the_response(spools: Spools) -> None:
    app = Lanner(freeze_gc=False)
    forms: list[FormData] = []

    @app.post("/")
    async def handler(request: Request) -> int:
        form = await request.form()
        forms.append(form)
        file = form["f"]
        assert isinstance(file, UploadFile)
        return len(await file.read())

    with TestClient(app) as client:
        assert client.post("/", files={"f": ("a", b"x" * (2 * MIB))}).json() == 2 * MIB
    assert spools.disk and spools.all_closed()


def test_a_handler_failure_still_removes_the_files(spools: Spools) -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/")
    async def handler(file: UploadFile) -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/", files={"file": ("a", b"x" * (2 * MIB))}).status_code == 500
    assert spools.disk and spools.all_closed()


# A part is never held whole in memory: a 20 MiB upload streamed in 64 KiB chunks peaks at a few
# MiB of Python memory (the 1 MiB spool, one chunk, one slice), not at the upload's size.
def test_peak_memory_of_a_20_mib_upload_stays_far_below_its_size(spools: Spools) -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/", form_limits=FormLimits(max_size=32 * MIB))
    async def handler(file: UploadFile) -> list[int | None]:
        total = 0
        while chunk := await file.read(64 * KIB):
            total += len(chunk)
        return [file.size, total]

    def body() -> Iterator[bytes]:
        yield b'--lanner-boundary-42\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
        for _ in range(20 * 16):
            yield b"z" * (64 * KIB)
        yield b"\r\n--lanner-boundary-42--\r\n"

    asgi(app, "/", [multipart(Part("file", b"warm", filename="w"))])  # imports, first compile
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        reply = asgi(app, "/", body())
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert reply.json() == [20 * MIB, 20 * MIB]
    assert peak < 5 * MIB, peak
    assert spools.disk and spools.all_closed()


def test_peak_memory_while_parsing_a_20_mib_upload(spools: Spools) -> None:
    async def run() -> int:
        async def body() -> Any:
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
            for _ in range(20 * 16):
                yield b"z" * (64 * KIB)
            yield b"\r\n--b--\r\n"

        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        form = await parse_form("multipart/form-data; boundary=b", body(), FormLimits(max_size=32 * MIB))
        peak = tracemalloc.get_traced_memory()[1] - baseline
        file = form["file"]
        assert isinstance(file, UploadFile) and file.size == 20 * MIB
        await form.close()
        return peak

    asyncio.run(parse_form("application/x-www-form-urlencoded", _aiter([b"warm=1"])))
    tracemalloc.start()
    try:
        peak = asyncio.run(run())
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB, peak
    assert spools.all_closed()
