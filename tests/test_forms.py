"""Form bodies (lanner.forms): markers, binding, `request.form()`, limits and the multipart advisories.

Requests go through `TestClient` where httpx can build the body, and through `asgi` (raw ASGI
messages, chunk by chunk, optionally lazy) for hostile or chunked bodies. `Spools` records every file
the parser opens, so each test can check that none is left open once the request is over. Advisory
regression tests are named after the advisory (rows 1-22 of advisories.md, section 1a).
"""

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, Field

import lanner.forms.parsers
from lanner import Body, Depends, Lanner, Request
from lanner.forms import FORM_SCOPE_KEY, FormData, FormLimits, UploadFile, parse_form, parse_options_header
from lanner.params import File, Form
from lanner.testing import TestClient
from tests.asgi_driver import Reply, send_raw

Message = dict[str, Any]
PROBLEM = "application/problem+json"
# A linear parse of the inputs below takes milliseconds; the quadratic or byte-by-byte ones the
# advisories describe take many seconds. The bound leaves room for a noisy shared machine.
SLOW = 2.0
KIB = 1024
MIB = 1024 * 1024
BOUNDARY = "lanner-boundary-42"
MULTIPART = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
URLENCODED = [(b"content-type", b"application/x-www-form-urlencoded")]


# -- helpers ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Part:
    """One part of a multipart body built by `multipart`."""

    name: str
    value: bytes | str = b""
    filename: str | None = None
    headers: Sequence[tuple[str, str]] = ()

    def encode(self) -> bytes:
        disposition = f'form-data; name="{self.name}"'
        if self.filename is not None:
            disposition += f'; filename="{self.filename}"'
        lines = [f"Content-Disposition: {disposition}", *(f"{k}: {v}" for k, v in self.headers)]
        value = self.value.encode() if isinstance(self.value, str) else self.value
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + value


def multipart(*parts: Part, boundary: str = BOUNDARY) -> bytes:
    """A complete multipart/form-data body."""
    delimiter = f"--{boundary}".encode()
    body = b"".join(delimiter + b"\r\n" + part.encode() + b"\r\n" for part in parts)
    return body + delimiter + b"--\r\n"


def split(body: bytes, size: int = 64 * KIB) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


def asgi(
    app: Any,
    path: str,
    body: Iterable[bytes],
    headers: Sequence[tuple[bytes, bytes]] = MULTIPART,
    *,
    disconnect: bool = False,
    method: str = "POST",
) -> Reply:
    """Send one request as raw ASGI messages; `body` may be a lazy iterable of chunks.

    With `disconnect`, the client leaves (``http.disconnect``) once `body` is exhausted, before
    sending the last, ``more_body=False`` message.
    """
    return send_raw(app, method, path, headers=headers, body=body, disconnect=disconnect)


def assert_problem(response: httpx.Response | Reply, status: int, detail: str = "") -> None:
    """`response` is a problem document (RFC 9457) with `status` whose detail mentions `detail`."""
    assert response.status_code == status, response.content[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    document = response.json()
    assert document["status"] == status
    assert detail in str(document.get("detail")), document


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


class RecordingFile:
    """A disk file a spooled upload rolled over to, recording which thread touched it."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.created_in = threading.get_ident()
        self.calls: list[tuple[str, int]] = []

    def _record(self, name: str) -> None:
        self.calls.append((name, threading.get_ident()))

    def write(self, data: bytes) -> int:
        self._record("write")
        return int(self._file.write(data))

    def read(self, size: int = -1) -> bytes:
        self._record("read")
        return bytes(self._file.read(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        self._record("seek")
        return int(self._file.seek(offset, whence))

    def close(self) -> None:
        self._record("close")
        self._file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class Spools:
    """Record every file the form parser opens: spooled uploads and the disk files they roll to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spooled: list[Any] = []
        self.disk: list[RecordingFile] = []
        make_spooled = lanner.forms.parsers.spooled_file
        make_disk = tempfile.TemporaryFile

        def spooled() -> Any:
            file = make_spooled()
            self.spooled.append(file)
            return file

        def disk(*args: Any, **kwargs: Any) -> Any:
            file = RecordingFile(make_disk(*args, **kwargs))
            self.disk.append(file)
            return file

        monkeypatch.setattr(lanner.forms.parsers, "spooled_file", spooled)
        monkeypatch.setattr(tempfile, "TemporaryFile", disk)

    def all_closed(self) -> bool:
        return all(f.closed for f in self.spooled) and all(f.closed for f in self.disk)


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> Spools:
    return Spools(monkeypatch)


class Login(BaseModel):
    username: str
    password: str = Field(min_length=3)
    remember: bool = False
    tags: list[str] = []


def form_app(**options: Any) -> Lanner:
    """Routes for every way of reading a form, sharing `options` (form_limits...)."""
    app = Lanner(freeze_gc=False, **options)

    @app.post("/fields")
    async def fields(
        username: Annotated[str, Form()],
        age: Annotated[int, Form(ge=0)] = 0,
        tags: Annotated[list[str], Form()] = [],  # noqa: B006 - validated, never mutated
        nick: Annotated[str | None, Form(alias="nick-name")] = None,
    ) -> dict[str, Any]:
        return {"username": username, "age": age, "tags": tags, "nick": nick}

    @app.post("/login")
    async def login(form: Annotated[Login, Form()]) -> dict[str, Any]:
        return form.model_dump()

    @app.post("/upload")
    async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
        content = await file.read()
        return {
            "filename": file.filename,
            "content_type": file.content_type,
            "size": file.size,
            "content": content.decode(errors="replace")[:40],
            "note": note,
        }

    @app.post("/many")
    async def many(files: list[UploadFile]) -> list[Any]:
        return [[f.filename, (await f.read()).decode()] for f in files]

    @app.post("/bytes")
    async def raw_bytes(data: Annotated[bytes, File()], more: Annotated[list[bytes], File()] = []) -> Any:  # noqa: B006
        return {"data": data.decode(), "more": [m.decode() for m in more]}

    @app.post("/optional")
    async def optional(file: Annotated[UploadFile | None, File()] = None) -> dict[str, Any]:
        return {"file": None if file is None else file.filename}

    @app.post("/raw")
    async def raw(request: Request) -> list[Any]:
        form = await request.form()
        assert await request.form() is form  # parsed once
        return [[k, v if isinstance(v, str) else ["file", v.filename]] for k, v in form.multi_items()]

    return app


@pytest.fixture(scope="module")
def client() -> Iterable[TestClient]:
    with TestClient(form_app()) as test_client:
        yield test_client


# -- markers and binding ----------------------------------------------------------------------


def test_form_fields_from_an_urlencoded_body(client: TestClient) -> None:
    response = client.post(
        "/fields", data={"username": "ada", "age": "36", "tags": ["a", "b"], "nick-name": "A"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "ada", "age": 36, "tags": ["a", "b"], "nick": "A"}


def test_form_fields_from_a_multipart_body(client: TestClient) -> None:
    body = multipart(Part("username", "ada"), Part("tags", "x"), Part("tags", "y"), Part("age", "7"))
    response = client.post(
        "/fields", content=body, headers=dict((k.decode(), v.decode()) for k, v in MULTIPART)
    )
    assert response.json() == {"username": "ada", "age": 7, "tags": ["x", "y"], "nick": None}


def test_a_single_value_of_a_list_field_is_a_list(client: TestClient) -> None:
    assert client.post("/fields", data={"username": "u", "tags": "one"}).json()["tags"] == ["one"]


def test_form_validation_errors_are_422_located_in_form(client: TestClient) -> None:
    response = client.post("/fields", data={"age": "-1"})
    assert_problem(response, 422)
    errors = {tuple(e["loc"]): e["type"] for e in response.json()["errors"]}
    assert errors == {("form", "username"): "missing", ("form", "age"): "greater_than_equal"}


def test_a_model_reads_one_field_per_form_key(client: TestClient) -> None:
    response = client.post(
        "/login", data={"username": "ada", "password": "secret", "remember": "on", "tags": ["x", "y"]}
    )
    assert response.json() == {"username": "ada", "password": "secret", "remember": True, "tags": ["x", "y"]}
    response = client.post("/login", data={"username": "ada", "password": "no"})
    assert_problem(response, 422)
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [
        (["form", "password"], "string_too_short")
    ]


def test_empty_values_count_as_absent(client: TestClient) -> None:
    # Browsers send every input: an empty one means "not given", so defaults apply...
    assert client.post("/fields", data={"username": "u", "age": "", "nick-name": ""}).json() == {
        "username": "u",
        "age": 0,
        "tags": [],
        "nick": None,
    }
    # ...and a required field left empty is missing.
    response = client.post("/fields", data={"username": ""})
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [(["form", "username"], "missing")]


def test_upload_file_parameter(client: TestClient) -> None:
    response = client.post(
        "/upload", files={"file": ("hello.txt", b"hello world", "text/plain")}, data={"note": "n"}
    )
    assert response.json() == {
        "filename": "hello.txt",
        "content_type": "text/plain",
        "size": 11,
        "content": "hello world",
        "note": "n",
    }


def test_missing_file_is_422_located_in_file(client: TestClient) -> None:
    response = client.post("/upload", files={"other": ("a.txt", b"x")})
    assert_problem(response, 422)
    assert response.json()["errors"] == [
        {"loc": ["file", "file"], "msg": "Field required", "type": "missing", "input": None}
    ]


def test_a_text_value_for_a_file_parameter_is_422(client: TestClient) -> None:
    response = client.post("/upload", data={"file": "not a file"})
    assert_problem(response, 422)
    assert [e["loc"] for e in response.json()["errors"]] == [["file", "file"]]


def test_list_of_upload_files(client: TestClient) -> None:
    files = [("files", ("a.txt", b"A")), ("files", ("b.txt", b"B"))]
    assert client.post("/many", files=files).json() == [["a.txt", "A"], ["b.txt", "B"]]


def test_bytes_file_parameters_receive_the_content(client: TestClient) -> None:
    files = [("data", ("d.bin", b"DATA")), ("more", ("1", b"one")), ("more", ("2", b"two"))]
    assert client.post("/bytes", files=files).json() == {"data": "DATA", "more": ["one", "two"]}


def test_optional_file(client: TestClient) -> None:
    assert client.post("/optional", files={"file": ("f.txt", b"x")}).json() == {"file": "f.txt"}
    assert client.post("/optional", data={"other": "x"}).json() == {"file": None}
    # An empty file input: browsers send a nameless, empty part.
    body = multipart(Part("file", b"", filename="", headers=[("Content-Type", "application/octet-stream")]))
    assert asgi(form_app(), "/optional", [body]).json() == {"file": None}


def test_request_form_is_a_multi_dict(client: TestClient) -> None:
    response = client.post("/raw", data={"a": ["1", "2"], "b": "3"}, files={"f": ("f.txt", b"x")})
    assert response.json() == [["a", "1"], ["a", "2"], ["b", "3"], ["f", ["file", "f.txt"]]]
    assert client.post("/raw", data={"x": "1;y=2"}).json() == [["x", "1;y=2"]]


def test_request_form_without_content_type_reads_an_empty_body_as_an_empty_form() -> None:
    assert asgi(form_app(), "/raw", [b""], headers=[]).json() == []
    assert_problem(asgi(form_app(), "/raw", [b"a=1"], headers=[]), 415)


def test_form_route_refuses_a_json_body_with_415(client: TestClient) -> None:
    assert_problem(client.post("/fields", json={"username": "u"}), 415, "Expected a form body")
    assert_problem(client.post("/raw", content=b"x", headers={"content-type": "text/plain"}), 415)


def test_form_route_without_a_body_reports_missing_fields(client: TestClient) -> None:
    response = client.post("/fields")
    assert_problem(response, 422)
    assert response.json()["errors"][0]["loc"] == ["form", "username"]


def test_dependencies_read_the_same_form() -> None:
    app = Lanner(freeze_gc=False)

    async def current_user(username: Annotated[str, Form()]) -> str:
        return username.upper()

    @app.post("/")
    async def handler(
        user: Annotated[str, Depends(current_user)], file: UploadFile, request: Request
    ) -> list[Any]:
        form = await request.form()
        return [user, file.filename, sorted(form)]

    with TestClient(app) as client:
        response = client.post("/", data={"username": "ada"}, files={"file": ("f.txt", b"x")})
    assert response.json() == ["ADA", "f.txt", ["file", "username"]]


def test_json_body_and_form_on_one_route_is_a_type_error_at_registration() -> None:
    class Item(BaseModel):
        n: int

    app = Lanner(freeze_gc=False)

    with pytest.raises(TypeError, match="JSON body parameters and Form"):

        @app.post("/one")
        async def one(item: Item, name: Annotated[str, Form()]) -> None: ...

    async def dependency(item: Annotated[Item, Body()]) -> int:
        return item.n

    with pytest.raises(TypeError, match="both a JSON body and Form"):

        @app.post("/two")
        async def two(n: Annotated[int, Depends(dependency)], file: UploadFile) -> None: ...


def test_routes_without_forms_keep_the_direct_path() -> None:
    app = form_app()

    @app.post("/json")
    async def json_body(payload: dict[str, int]) -> dict[str, int]:
        return payload

    endpoints = {route.path: endpoint for route, endpoint in app.iter_routes()}
    assert endpoints["/json"].serve == endpoints["/json"]._serve_direct
    assert endpoints["/fields"].serve == endpoints["/fields"]._serve


def test_the_form_is_cached_in_the_scope_and_closed_after_the_response(spools: Spools) -> None:
    seen: list[Any] = []
    app = Lanner(freeze_gc=False)

    @app.post("/")
    async def handler(request: Request, file: UploadFile) -> str:
        seen.append((request.scope[FORM_SCOPE_KEY], file))
        assert not file.file.closed
        return "ok"

    with TestClient(app) as client:
        assert client.post("/", files={"file": ("a", b"x")}).status_code == 200
    form, file = seen[0]
    assert isinstance(form, FormData) and form["file"] is file
    assert file.file.closed and spools.all_closed() and len(spools.spooled) == 1


def test_background_tasks_can_still_read_the_upload(spools: Spools) -> None:
    from lanner import BackgroundTasks

    read: list[bytes] = []
    app = Lanner(freeze_gc=False)

    async def later(file: UploadFile) -> None:
        await file.seek(0)
        read.append(await file.read())

    @app.post("/")
    async def handler(file: UploadFile, tasks: BackgroundTasks) -> str:
        tasks.add_task(later, file)
        return "ok"

    with TestClient(app) as client:
        client.post("/", files={"file": ("a", b"content")})
    assert read == [b"content"]
    assert spools.all_closed()


# -- the parser and its building blocks -----------------------------------------------------


def test_parse_options_header() -> None:
    assert parse_options_header('Multipart/Form-Data; Boundary="a b"; charset=utf-8') == (
        "multipart/form-data",
        {"boundary": "a b", "charset": "utf-8"},
    )
    assert parse_options_header('form-data; name="a\\"b;c"; filename="C:\\\\x.txt"') == (
        "form-data",
        {"name": 'a"b;c', "filename": "C:\\x.txt"},
    )
    # RFC 7578 section 4.2: no extended parameters in form data.
    assert parse_options_header("form-data; name=a; filename*=UTF-8''evil") == ("form-data", {"name": "a"})
    assert parse_options_header("text/plain") == ("text/plain", {})
    for bad in ('a; b="x', "a; b", "a; b=1; b=2", 'a; b="x"y', "a; =1", 'a; b=x"y'):
        with pytest.raises(ValueError):
            parse_options_header(bad)


def test_form_limits_are_checked() -> None:
    assert FormLimits() == FormLimits(1000, 100, MIB, 16 * KIB, 10 * MIB)
    with pytest.raises(ValueError, match="max_fields"):
        FormLimits(max_fields=-1)
    with pytest.raises(ValueError, match="max_size"):
        FormLimits(max_size=1.5)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        FormLimits().max_size = 1  # type: ignore[misc]


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_multipart_fed_one_byte_at_a_time() -> None:
    body = multipart(Part("a", "1"), Part("f", b"\r\n--lanner\r\nxyz", filename="f.bin"), Part("a", "2"))

    async def run() -> list[Any]:
        form = await parse_form(
            MULTIPART[0][1].decode(), _chunks(*(body[i : i + 1] for i in range(len(body))))
        )
        try:
            return [(k, v if isinstance(v, str) else await v.read()) for k, v in form.multi_items()]
        finally:
            await form.close()

    assert asyncio.run(run()) == [("a", "1"), ("f", b"\r\n--lanner\r\nxyz"), ("a", "2")]


def test_urlencoded_decoding() -> None:
    async def run(*chunks: bytes) -> list[tuple[str, Any]]:
        return (await parse_form("application/x-www-form-urlencoded", _chunks(*chunks))).multi_items()

    assert asyncio.run(run(b"a=1&b=%C3%A9+x&&c&", b"d=", b"4&a=2")) == [
        ("a", "1"),
        ("b", "é x"),
        ("c", ""),
        ("d", "4"),
        ("a", "2"),
    ]
    assert asyncio.run(run(b"")) == []


def test_urlencoded_value_that_is_not_utf8_is_400(client: TestClient) -> None:
    response = client.post(
        "/raw", content=b"a=%ff", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_problem(response, 400, "Malformed form body")


def test_multipart_text_field_that_is_not_utf8_is_400() -> None:
    assert_problem(asgi(form_app(), "/raw", [multipart(Part("a", b"\xff"))]), 400, "not valid UTF-8")


def test_utf8_field_names_and_filenames() -> None:
    body = multipart(Part("café", "thé"), Part("f", b"x", filename="résumé.pdf"))
    assert asgi(form_app(), "/raw", [body]).json() == [["café", "thé"], ["f", ["file", "résumé.pdf"]]]


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        (b"multipart/form-data", "boundary is missing"),
        (b"multipart/form-data; boundary=", "boundary is invalid"),
        (b"multipart/form-data; boundary=" + b"a" * 201, "boundary is invalid"),
        (b'multipart/form-data; boundary="a\x00b"', "boundary is invalid"),
        (b"multipart/form-data; boundary=a; boundary=b", "given twice"),
        (b'multipart/form-data; boundary="unterminated', "unterminated"),
        (b"application/x-www-form-urlencoded; charset", "has no value"),
    ],
)
def test_bad_content_type_parameters_are_400(content_type: bytes, detail: str) -> None:
    reply = asgi(form_app(), "/raw", [multipart(Part("a", "1"))], [(b"content-type", content_type)])
    assert_problem(reply, 400, detail)


def one_part(head: str, value: str = "v") -> bytes:
    """A body of one part whose header block is `head`, as given."""
    return f"--{BOUNDARY}\r\n{head}\r\n\r\n{value}\r\n--{BOUNDARY}--\r\n".encode()


MALFORMED = {
    "no closing boundary": multipart(Part("a", "1"))[: -len(BOUNDARY) - 6],
    "truncated headers": f"--{BOUNDARY}\r\nContent-Disposition: form-da".encode(),
    "other boundary": multipart(Part("a", "1"), boundary="other"),
    "text before the boundary": b"preamble\r\n" + multipart(Part("a", "1")),
    "no content-disposition": one_part("X-A: 1"),
    "two content-dispositions": one_part(
        'Content-Disposition: form-data; name="a"\r\nContent-Disposition: x'
    ),
    "not form-data": one_part('Content-Disposition: attachment; name="a"'),
    "nameless part": one_part("Content-Disposition: form-data"),
    "bad disposition": one_part('Content-Disposition: form-data; name="a'),
    "header without colon": one_part("Content-Disposition"),
    "empty body": b"",
    "only padding": b"\r\n" * 100,
}


# Rows 15 (CVE-2022-23833, Django), 17 (CVE-2024-30251, aiohttp): crafted multipart bodies sent the
# parser into an infinite loop. Every malformed body must be a quick 400, in whole or in chunks.
@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("chunk", [1, 7, 64 * KIB])
def test_cve_2022_23833_malformed_multipart_is_400(name: str, chunk: int, spools: Spools) -> None:
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", split(MALFORMED[name], chunk)))
    assert_problem(reply, 400, "")
    assert elapsed < SLOW
    assert spools.all_closed()


# -- limits ------------------------------------------------------------------------------------


def test_limits_are_set_per_app_and_per_route() -> None:
    app = Lanner(freeze_gc=False, form_limits=FormLimits(max_fields=2))

    @app.post("/app")
    async def app_limits(request: Request) -> int:
        return len((await request.form()).multi_items())

    @app.post("/route", form_limits=FormLimits(max_fields=3))
    async def route_limits(a: Annotated[list[str], Form()]) -> int:
        return len(a)

    with TestClient(app) as client:
        assert client.post("/app", data={"a": ["1", "2"]}).json() == 2
        assert_problem(client.post("/app", data={"a": ["1", "2", "3"]}), 400, "limit is 2")
        assert client.post("/route", data={"a": ["1", "2", "3"]}).json() == 3
        assert_problem(client.post("/route", data={"a": ["1"] * 4}), 400, "limit is 3")


def test_the_json_body_limit_does_not_apply_to_forms(spools: Spools) -> None:
    app = form_app(max_body_size=1024)
    reply = asgi(app, "/upload", split(multipart(Part("file", b"x" * 3 * MIB, filename="big"))))
    assert reply.status_code == 200 and reply.json()["size"] == 3 * MIB
    assert spools.all_closed()


def test_a_declared_content_length_over_max_size_is_413_before_reading() -> None:
    headers = [*MULTIPART, (b"content-length", str(10 * MIB + 1).encode())]
    reply = asgi(form_app(), "/raw", [b"x" * KIB] * 4, headers)
    assert_problem(reply, 413)
    assert reply.chunks_read == 0


# Row 10 (python-multipart parse_form): a negative Content-Length made the parser read the whole
# body at once. Lanner refuses it, and any non-digit one, before reading.
@pytest.mark.parametrize("value", [b"-1", b"+5", b"1_0", b" 5", b"abc", "١٢".encode()])
def test_ghsa_5rvq_cxj2_64vf_negative_or_non_digit_content_length_is_400(value: bytes) -> None:
    for path, body in (("/raw", multipart(Part("a", "1"))), ("/fields", multipart(Part("username", "u")))):
        reply = asgi(form_app(), path, [body], [*MULTIPART, (b"content-length", value)])
        assert_problem(reply, 400, "Content-Length")
        assert reply.chunks_read == 0


# Rows 1 (CVE-2023-30798, Starlette), 11 (CVE-2023-25577, Werkzeug), 20 (GHSA-p24m-863f-fm6q,
# Starlite): an unlimited number of fields or parts exhausted memory. 1,000 fields pass, 1,001 are
# a 400, in both encodings.
@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_cve_2023_30798_too_many_fields_is_400(encoding: str, spools: Spools) -> None:
    def body(count: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        if encoding == "urlencoded":
            return "&".join(f"f{i}=v" for i in range(count)).encode(), URLENCODED
        return multipart(
            Part("upload", b"data", filename="a.txt"), *(Part(f"f{i}", "v") for i in range(count))
        ), MULTIPART

    content, headers = body(1000)
    assert len(asgi(form_app(), "/raw", split(content), headers).json()) == 1000 + (encoding == "multipart")
    content, headers = body(1001)
    assert_problem(
        asgi(form_app(), "/raw", split(content), headers), 400, "Too many form fields: the limit is 1000"
    )
    assert spools.all_closed()


# Row 14 (CVE-2023-24580, Django): too many file parts exhausted file handles. 100 files pass,
# 101 are a 400, and the 100 already opened are closed.
def test_cve_2023_24580_too_many_files_is_400(spools: Spools) -> None:
    files = [Part("f", b"x" * 10, filename=f"{i}.txt") for i in range(101)]
    assert len(asgi(form_app(), "/raw", [multipart(*files[:100])]).json()) == 100
    assert spools.all_closed()
    spools.spooled.clear()
    assert_problem(asgi(form_app(), "/raw", [multipart(*files)]), 400, "Too many files: the limit is 100")
    assert len(spools.spooled) == 100 and spools.all_closed()


# Rows 11 and 21 (CVE-2023-25577, GHSA-qjxf-f2mg-c6mc): 100,000 empty parts in 6 MB. The parts are
# counted as they stream in: the parse stops at the limit, long before the end of the body.
def test_cve_2023_25577_many_tiny_parts_stop_at_the_limit() -> None:
    part = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n".encode()
    body = part * 100_000 + f"--{BOUNDARY}--\r\n".encode()
    chunks = split(body, 16 * KIB)
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", chunks))
    assert_problem(reply, 400, "Too many form")
    assert reply.chunks_read < len(chunks) // 10
    assert elapsed < SLOW


# Rows 2 (CVE-2024-47874, Starlette), 13 (CVE-2024-49767, Werkzeug), 19 (CVE-2026-34517, aiohttp):
# a text field of unbounded size was buffered whole. 1 MiB passes, 1 MiB + 1 byte is a 413, raised
# as the field grows, not after the body is read.
def test_cve_2024_47874_non_file_part_over_1_mib_is_413(spools: Spools) -> None:
    ok = multipart(Part("upload", b"data", filename="a.txt"), Part("big", b"x" * MIB))
    assert asgi(form_app(), "/raw", split(ok)).status_code == 200
    too_big = multipart(Part("upload", b"data", filename="a.txt"), Part("big", b"x" * (MIB + 1)))
    assert_problem(asgi(form_app(), "/raw", split(too_big)), 413, "exceeds 1048576 bytes")
    assert spools.all_closed()

    def endless() -> Iterable[bytes]:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="big"\r\n\r\n'.encode()
        for _ in range(10_000):
            yield b"x" * KIB

    reply = asgi(form_app(), "/raw", endless())
    assert_problem(reply, 413)
    assert reply.chunks_read <= 1026


# Row 13 (CVE-2024-49767, Werkzeug): many fields each under the part limit still add up; they
# count against max_size.
def test_cve_2024_49767_many_large_fields_are_bounded_by_max_size() -> None:
    body = multipart(*(Part(f"f{i}", b"x" * (MIB - 100)) for i in range(11)))
    assert_problem(asgi(form_app(), "/raw", split(body)), 413, "body exceeds 10485760 bytes")


# Row 4 (CVE-2026-54283, Starlette): the limits applied to multipart only, not to urlencoded bodies.
def test_cve_2026_54283_urlencoded_bodies_are_limited_too() -> None:
    app = form_app()
    assert asgi(app, "/raw", [b"a=" + b"x" * (MIB - 2)], URLENCODED).status_code == 200
    reply = asgi(app, "/raw", split(b"a=" + b"x" * (MIB - 1), 1000), URLENCODED)
    assert_problem(reply, 413, "A form field exceeds 1048576 bytes")
    assert_problem(asgi(app, "/raw", [b"a=" + b"x" * (MIB + 5)], URLENCODED), 413)
    total = split(b"&".join([b"a=" + b"x" * (MIB - 10)] * 11))
    assert_problem(asgi(app, "/raw", total, URLENCODED), 413, "body exceeds 10485760 bytes")
    # An "&&&&" flood is not a field, but it is body: it counts against max_size, in linear time.
    flood = split(b"&" * (10 * MIB))
    reply, elapsed = timed(lambda: asgi(app, "/raw", flood, URLENCODED))
    assert reply.json() == [] and elapsed < SLOW
    assert_problem(asgi(app, "/raw", [*flood, b"&"], URLENCODED), 413)


# Row 10 (GHSA-5rvq-cxj2-64vf and its siblings, python-multipart querystring parser): `;` was a
# second separator, which smuggled parameters and made the parse quadratic. It is data in lanner.
def test_ghsa_5rvq_cxj2_64vf_semicolon_is_not_a_form_separator() -> None:
    app = form_app()
    assert asgi(app, "/raw", [b"a=1;admin=1&b=2"], URLENCODED).json() == [["a", "1;admin=1"], ["b", "2"]]
    reply, elapsed = timed(lambda: asgi(app, "/raw", split(b"a=" + b";" * (MIB - 2)), URLENCODED))
    assert reply.status_code == 200 and elapsed < SLOW


# Row 8 (CVE-2026-42561, python-multipart): a part with thousands of header lines or one huge
# header value. A part's headers are limited to 16 KiB: one byte more is a 413.
def test_cve_2026_42561_part_headers_over_16_kib_are_413(spools: Spools) -> None:
    disposition = 'form-data; name="big"'
    fixed = len("Content-Disposition") + len(disposition) + 4 + len("X-Pad") + 4

    def body(size: int) -> bytes:
        return multipart(
            Part("upload", b"data", filename="a.txt"),
            Part("big", "v", headers=[("X-Pad", "p" * (size - fixed))]),
        )

    assert asgi(form_app(), "/raw", split(body(16 * KIB))).status_code == 200
    assert_problem(asgi(form_app(), "/raw", split(body(16 * KIB + 1))), 413, "exceed 16384 bytes")
    assert_problem(asgi(form_app(), "/raw", split(body(16 * KIB + 1), 100)), 413, "exceed 16384 bytes")
    assert spools.all_closed()


def test_cve_2026_42561_thousands_of_header_lines_are_refused_fast() -> None:
    lines = "".join(f"X-{i}: v\r\n" for i in range(5000))
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n{lines}\r\nv\r\n--{BOUNDARY}--\r\n'
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", split(body.encode(), 4096)))
    assert reply.status_code in (400, 413)
    assert elapsed < SLOW


# Row 5 (CVE-2024-24762, python-multipart / FastAPI): a Content-Type whose quoted boundary holds
# dozens of backslashes made a backtracking regex run for seconds, stalling the event loop.
@pytest.mark.parametrize("count", [40, 64, 100_000])
def test_cve_2024_24762_boundary_full_of_backslashes_is_answered_fast(count: int) -> None:
    for tail in ("a", '"', ""):
        headers = [(b"content-type", b'multipart/form-data; boundary="' + b"\\" * count + tail.encode())]
        start = time.perf_counter()
        reply = asgi(form_app(), "/raw", [b"x"], headers)
        assert time.perf_counter() - start < 0.5
        assert_problem(reply, 400, "Content-Type")


def test_cve_2024_24762_content_type_parsing_is_linear() -> None:
    _, elapsed = timed(lambda: parse_options_header('a; b="' + "\\\\" * 200_000 + '"'))
    assert elapsed < 0.5
    _, elapsed = timed(lambda: parse_options_header("a;" + " " * 500_000 + ";" * 500_000))
    assert elapsed < 0.5
    for text in ("a" + "; b=1" * 100_000 + "; b=2", 'a; b="' + "x;" * 300_000):
        start = time.perf_counter()
        with pytest.raises(ValueError):
            parse_options_header(text)
        assert time.perf_counter() - start < 0.5


# Rows 6 (CVE-2024-53981) and 7 (GHSA-mj87-hwqh-73pj), python-multipart: megabytes of CR/LF before
# the first boundary or after the last one were skipped byte by byte (with a log call each). The
# padding costs linear time in C, and counts against max_size.
def test_cve_2024_53981_crlf_flood_before_the_first_boundary_is_linear() -> None:
    body = multipart(Part("a", "1"))
    small = split(b"\r\n" * (MIB // 2) + body)
    large = split(b"\r\n" * (5 * MIB - 1000) + body)
    reply = asgi(form_app(), "/raw", small)
    assert reply.json() == [["a", "1"]]
    reply, large_time = timed(lambda: asgi(form_app(), "/raw", large))
    assert reply.json() == [["a", "1"]]
    assert large_time < SLOW
    assert_problem(asgi(form_app(), "/raw", split(b"\r\n" * (5 * MIB) + body)), 413)
    assert_problem(asgi(form_app(), "/raw", split(b"\n" * (10 * MIB + 1))), 413)


def test_ghsa_mj87_hwqh_73pj_epilogue_flood_is_not_parsed_but_counted() -> None:
    body = multipart(Part("a", "1"))
    epilogue = split(body + b"\r\n" * (2 * MIB) + b"junk" * (MIB // 2))
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", epilogue))
    assert reply.json() == [["a", "1"]] and elapsed < SLOW
    assert_problem(asgi(form_app(), "/raw", split(body + b"x" * (10 * MIB))), 413)


def test_ghsa_mj87_hwqh_73pj_text_preamble_is_refused_at_once() -> None:
    chunks = split(b"p" * (9 * MIB) + multipart(Part("a", "1")))
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", chunks))
    assert_problem(reply, 400, "Malformed multipart body")
    assert reply.chunks_read == 1 and elapsed < SLOW


# Row 12 (CVE-2023-46136, Werkzeug): a file part starting with CR/LF followed by megabytes without
# one made the boundary search rescan a growing buffer (quadratic).
@pytest.mark.parametrize("chunk", [KIB, 64 * KIB])
def test_cve_2023_46136_file_part_without_line_breaks_is_linear(chunk: int, spools: Spools) -> None:
    body = multipart(Part("f", b"\r\n" + b"-" * (8 * MIB), filename="f.bin"))
    reply, elapsed = timed(lambda: asgi(form_app(), "/raw", split(body, chunk)))
    assert reply.json() == [["f", ["file", "f.bin"]]]
    assert elapsed < SLOW * 2
    assert spools.all_closed()


# Row 21 (CVE-2025-47287, Tornado): malformed data was logged and parsing went on, one synchronous
# log line per bad part. Lanner stops at the first error; python-multipart logs it once at most.
def test_cve_2025_47287_malformed_body_does_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    bad_part = f"--{BOUNDARY}\r\nContent-Disposition form-data\r\n\r\nv\r\n".encode()
    with caplog.at_level(logging.DEBUG):
        reply = asgi(form_app(), "/raw", split(bad_part * 10_000))
    assert_problem(reply, 400)
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) <= 2


# Rows 9 (CVE-2026-24486, python-multipart), 16 (CVE-2021-28658, Django): crafted filenames wrote
# outside the upload directory. Lanner never uses a filename as a path: uploads live in unnamed
# temporary files, and the filename is handed over exactly as sent.
@pytest.mark.parametrize(
    "name", ["../../lanner-escape.txt", "/tmp/lanner-abs.txt", "..\\..\\lanner-win.txt", "C:\\x\\y.txt"]
)
def test_cve_2026_24486_filenames_are_never_paths(
    name: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    before = set(os.listdir(tempfile.gettempdir()))
    reply = asgi(form_app(), "/upload", [multipart(Part("file", b"x" * (2 * MIB), filename=name))])
    assert reply.json()["filename"] == name
    assert not (tmp_path / "lanner-escape.txt").exists()
    assert not os.path.exists("/tmp/lanner-abs.txt")
    assert set(os.listdir(tempfile.gettempdir())) <= before
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]


# Row 22 (CVE-2018-1000656, Flask): a body in an unexpected encoding. A form's charset parameter is
# not honoured: fields are UTF-8 or the request is a 400.
def test_cve_2018_1000656_form_in_another_encoding_is_400() -> None:
    content = "a=é".encode("utf-16")
    headers = [(b"content-type", b"application/x-www-form-urlencoded; charset=utf-16")]
    assert_problem(asgi(form_app(), "/raw", [content], headers), 400, "not valid UTF-8")
    body = multipart(Part("a", "é".encode("utf-16")))
    assert_problem(asgi(form_app(), "/raw", [body]), 400, "not valid UTF-8")


# Row 18 (CVE-2025-69227, aiohttp): under PYTHONOPTIMIZE the asserts vanished, and they did control
# flow, so malformed bodies looped forever. Lanner's answers are the same under `-O`.
@pytest.mark.timeout(60)
def test_cve_2025_69227_malformed_forms_are_answered_under_python_optimize() -> None:
    script = textwrap.dedent(
        """
        from typing import Annotated
        from lanner import Lanner, Request
        from lanner.forms import UploadFile
        from lanner.params import Form
        from lanner.testing import TestClient

        app = Lanner(freeze_gc=False)

        @app.post("/raw")
        async def raw(request: Request):
            return len(await request.form())

        @app.post("/typed")
        async def typed(file: UploadFile, a: Annotated[str, Form()]):
            return a

        multipart = {"content-type": "multipart/form-data; boundary=b"}
        bodies = [
            b"--b\\r\\nContent-Disposition: form-data; name=a\\r\\n\\r\\nv",
            b"--b\\r\\nContent-Disposition form-data\\r\\n\\r\\nv\\r\\n--b--\\r\\n",
            b"junk--b\\r\\n",
            b"--b\\r\\nContent-Disposition: form-data; name=a\\r\\n\\r\\nv\\r\\n--b--\\r\\n",
        ]
        with TestClient(app) as client:
            print(__debug__)
            for path in ("/raw", "/typed"):
                for body in bodies:
                    print(client.post(path, content=body, headers=multipart).status_code)
        """
    )
    env = {**os.environ, "PYTHONOPTIMIZE": "1"}
    env.pop("LANNER_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, timeout=50, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "400", "400", "400", "200", "400", "400", "400", "422"]


def test_python_multipart_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "python_multipart", None)
    monkeypatch.setitem(sys.modules, "python_multipart.multipart", None)
    monkeypatch.setitem(sys.modules, "python_multipart.exceptions", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[forms\]'"):
        lanner.forms.parsers.require_multipart()
    from lanner.signature import build_plan

    async def upload(file: UploadFile) -> None: ...

    with pytest.raises(ImportError, match=r"lanner\[forms\]"):
        build_plan(upload)

    async def fields(a: Annotated[str, Form()]) -> None: ...

    assert build_plan(fields).body is not None  # urlencoded forms need no extra
    app = Lanner(freeze_gc=False)

    @app.post("/")
    async def handler(request: Request) -> int:
        return len(await request.form())

    assert asgi(app, "/", [b"a=1"], URLENCODED).json() == 1
    assert asgi(app, "/", [multipart(Part("a", "1"))]).status_code == 500
