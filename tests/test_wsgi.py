"""lanner.wsgi in-process: a lanner app as a WSGI callable, and a real Flask app mounted in lanner.

The to_wsgi tests run twice: as a single-threaded server calls the app (the thread runs the event
loop itself) and as a multi-threaded one does (a2wsgi hands requests to the loop's thread).
"""

import asyncio
import functools
import hashlib
import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

from lanner import BackgroundTasks, HTTPException, Lanner, Request, WebSocket
from lanner.responses import StreamingResponse
from lanner.testing import TestClient
from lanner.wsgi import WSGIAdapter, WSGIMount, WSGIStartupError, load, split_path, to_wsgi
from tests.apps import flask_legacy, wsgi_lanner
from tests.conftest import ROOT

Message = MutableMapping[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def adapters() -> Iterator[Callable[[Lanner], WSGIAdapter]]:
    """`to_wsgi`, with every adapter made shut down at the end of the test."""
    made: list[WSGIAdapter] = []

    def make(app: Lanner) -> WSGIAdapter:
        adapter = to_wsgi(app)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.shutdown()


class Recorder:
    """A WSGI ``start_response`` that remembers what it was given."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status, self.headers = status, headers
        return lambda chunk: None

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


def make_environ(
    path: str = "/", *, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True  # as gunicorn says: the input ends where the body does
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return environ


def wsgi_call(
    app: Callable[..., Iterable[bytes]], path: str = "/", *, multithread: bool = False, **options: Any
) -> tuple[Recorder, list[bytes]]:
    """Drive a WSGI app the way a server does; return its start_response and the non-empty chunks."""
    environ = make_environ(path, **options)
    environ["wsgi.multithread"] = multithread
    recorder = Recorder()
    result = app(environ, recorder)
    try:
        chunks = [chunk for chunk in result if chunk]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return recorder, chunks


Call = Callable[..., tuple[Recorder, list[bytes]]]


@pytest.fixture(params=["single-threaded", "multi-threaded"])
def call(request: pytest.FixtureRequest) -> Call:
    """`wsgi_call` as a single-threaded server, then as a multi-threaded one."""
    return functools.partial(wsgi_call, multithread=request.param == "multi-threaded")


def make_app(events: list[str], *, fail: bool = False) -> Lanner:
    """A lanner app whose lifespan steps (and background tasks) are appended to `events`."""

    def startup() -> None:
        events.append("startup")
        if fail:
            raise ValueError("no database today")

    def shutdown() -> None:
        events.append("shutdown")

    app = Lanner(
        on_startup=[startup],
        on_shutdown=[shutdown],
        lifespan=wsgi_lanner.lifespan,
        max_body_size=8 * 1024 * 1024,
    )

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"events": list(events), "greeting": request.state.greeting}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(418, "short and stout")

    @app.get("/later")
    async def later(tasks: BackgroundTasks) -> str:
        async def note() -> None:
            await asyncio.sleep(0.05)
            events.append("background")

        tasks.add_task(note)
        return "soon"

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    return app


def sha_answer(body: bytes) -> bytes:
    return b'{"size":%d,"sha256":"%s"}' % (len(body), hashlib.sha256(body).hexdigest().encode())


# -- to_wsgi: a lanner app on a WSGI server ----------------------------------------------------


def test_lifespan_starts_on_the_first_request_once_and_shuts_down(adapters: Any, call: Call) -> None:
    events: list[str] = []
    application = adapters(make_app(events))
    assert events == [], "startup waits for the first request"
    for _ in range(3):
        recorder, chunks = call(application)
        assert recorder.status == "200 OK"
        assert b"".join(chunks) == b'{"events":["startup"],"greeting":"hello from the lifespan"}'
    application.shutdown()
    assert events == ["startup", "shutdown"]
    application.shutdown()  # once only
    assert events == ["startup", "shutdown"]


def test_the_first_request_chooses_where_the_loop_runs(adapters: Any, call: Call) -> None:
    threaded = call.keywords["multithread"]  # type: ignore[attr-defined]
    application = adapters(make_app([]))
    before = {thread.name for thread in threading.enumerate()}
    call(application)
    after = {thread.name for thread in threading.enumerate()}
    assert ("lanner-wsgi" in after - before) == threaded


def test_startup_can_run_before_the_first_request(adapters: Any, call: Call) -> None:
    events: list[str] = []
    application = adapters(make_app(events))
    application.startup()
    application.startup()
    assert events == ["startup"]
    _, chunks = call(application)
    assert b'"events":["startup"]' in b"".join(chunks)


def test_to_wsgi_gives_one_adapter_per_app() -> None:
    app = make_app([])
    assert to_wsgi(app) is to_wsgi(app)
    assert to_wsgi(app) is not to_wsgi(make_app([]))
    if hasattr(app, "wsgi"):  # once the app exposes it, it is the same adapter
        assert app.wsgi is to_wsgi(app)


def test_a_failing_startup_is_a_clear_error_and_is_not_retried(adapters: Any, call: Call) -> None:
    events: list[str] = []
    application = adapters(make_app(events, fail=True))
    for _ in range(2):
        with pytest.raises(WSGIStartupError, match="no database today") as caught:
            call(application)
        assert f"process {os.getpid()}" in str(caught.value)
    with pytest.raises(WSGIStartupError, match="ValueError"):
        application.startup()
    assert events == ["startup"]


def test_request_and_response_bodies(adapters: Any, call: Call) -> None:
    application = adapters(make_app([]))
    body = os.urandom(3 * 1024 * 1024 + 17)
    recorder, chunks = call(
        application, "/echo", method="POST", body=body, headers={"Content-Type": "application/octet-stream"}
    )
    assert recorder.status == "200 OK"
    assert recorder.header("content-type") == "application/json"
    assert b"".join(chunks) == sha_answer(body)
    _, chunks = call(application, "/echo", method="POST")
    assert b"".join(chunks) == sha_answer(b"")


def test_a_chunked_body_is_read_to_its_end_or_refused_with_411(adapters: Any, call: Call) -> None:
    threaded = call.keywords["multithread"]  # type: ignore[attr-defined]
    application = adapters(make_app([]))
    environ = make_environ("/echo", method="POST", headers={"Transfer-Encoding": "chunked"})
    environ["wsgi.input"] = io.BytesIO(b"chunked " * 20_000)  # the server decoded it; no length
    environ["wsgi.multithread"] = threaded
    recorder = Recorder()
    body = b"".join(application(environ, recorder))
    if threaded:
        assert recorder.status == "411 Length Required"
        assert b"Content-Length" in body
    else:
        assert recorder.status == "200 OK"
        assert body == sha_answer(b"chunked " * 20_000)


def test_a_streamed_response_comes_out_chunk_by_chunk(adapters: Any, call: Call) -> None:
    recorder, chunks = call(adapters(wsgi_lanner.app), "/stream?n=4")
    assert recorder.status == "200 OK"
    assert recorder.header("content-length") is None
    assert chunks == [b"part 0\n", b"part 1\n", b"part 2\n", b"part 3\n"]
    _, chunks = call(to_wsgi(wsgi_lanner.app), "/sync-stream")
    assert chunks == [b"a", b"b", b"c"]


def test_each_chunk_leaves_before_the_next_is_made(adapters: Any, call: Call) -> None:
    gate = threading.Event()
    app = Lanner()

    @app.get("/gated")
    async def gated() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            deadline = time.monotonic() + 10
            while not gate.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            yield b"released" if gate.is_set() else b"timed out"

        return StreamingResponse(chunks())

    environ = make_environ("/gated")
    environ["wsgi.multithread"] = call.keywords["multithread"]  # type: ignore[attr-defined]
    result = iter(adapters(app)(environ, Recorder()))
    assert next(chunk for chunk in result if chunk) == b"first"
    gate.set()  # only once the first chunk is out may the app go on
    assert [chunk for chunk in result if chunk] == [b"released"]


def test_background_tasks_run_before_the_request_ends(adapters: Any, call: Call) -> None:
    events: list[str] = []
    _, chunks = call(adapters(make_app(events)), "/later")
    assert chunks == [b'"soon"']
    assert events == ["startup", "background"]


def test_lanner_errors_stay_problem_documents(adapters: Any, call: Call) -> None:
    application = adapters(make_app([]))
    recorder, chunks = call(application, "/teapot")
    assert recorder.status.startswith("418 ")
    assert recorder.header("content-type") == "application/problem+json"
    assert b"short and stout" in b"".join(chunks)
    recorder, _ = call(application, "/nowhere")
    assert recorder.status == "404 Not Found"


def test_an_app_that_raises_gets_a_500_and_a_log_line(
    adapters: Any, call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise LookupError("no answer from this app")

    application = adapters(broken)
    if call.keywords["multithread"]:  # type: ignore[attr-defined]
        # a2wsgi answers the 500; the error is logged.
        recorder, _ = call(application)
        assert recorder.status == "500 Internal Server Error"
        assert "no answer from this app" in caplog.text
    else:
        # Raised to the server, which logs it and answers its own 500.
        with pytest.raises(LookupError, match="no answer"):
            call(application)


def test_a_websocket_request_gets_a_clear_501_not_a_hang(adapters: Any, call: Call) -> None:
    application = adapters(make_app([]))
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    started = time.monotonic()
    recorder, chunks = call(application, "/ws", headers=headers)
    assert time.monotonic() - started < 2
    assert recorder.status == "501 Not Implemented"
    assert recorder.header("content-type") == "application/problem+json"
    document = httpx.Response(501, content=b"".join(chunks)).json()
    assert document["status"] == 501
    assert "ASGI server" in document["detail"]
    # Without the upgrade, the path is no HTTP route: lanner's usual 404.
    recorder, _ = call(application, "/ws")
    assert recorder.status == "404 Not Found"


def test_closing_the_response_early_cancels_the_app(adapters: Any, call: Call) -> None:
    closed = threading.Event()
    app = Lanner()

    @app.get("/endless")
    async def endless() -> StreamingResponse:
        async def ticks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.01)
            finally:
                closed.set()

        return StreamingResponse(ticks())

    environ = make_environ("/endless")
    environ["wsgi.multithread"] = call.keywords["multithread"]  # type: ignore[attr-defined]
    result = adapters(app)(environ, Recorder())
    chunks = iter(result)
    assert next(chunks) == b"tick\n"
    result.close()  # what a server does when the client has gone
    assert closed.wait(5), "the app's stream was not cancelled"


def test_requests_from_many_threads_share_one_startup(adapters: Any, call: Call) -> None:
    events: list[str] = []
    application = adapters(make_app(events))

    def post(i: int) -> bytes:
        _, chunks = call(application, "/echo", method="POST", body=str(i).encode() * 1000)
        return b"".join(chunks)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(40)))
    assert events == ["startup"]
    assert answers == [sha_answer(str(i).encode() * 1000) for i in range(40)]


def test_gunicorns_loader_finds_the_app_through_load() -> None:
    from gunicorn.errors import AppImportError  # type: ignore[import-untyped]
    from gunicorn.util import import_app  # type: ignore[import-untyped]

    assert import_app('lanner.wsgi:load("tests.apps.wsgi_lanner:app")') is wsgi_lanner.application
    assert load("tests.apps.wsgi_lanner:app") is to_wsgi(wsgi_lanner.app)
    # Why `load` exists: gunicorn takes a name or a call, not an attribute path.
    with pytest.raises(AppImportError, match="Failed to parse"):
        import_app("tests.apps.wsgi_lanner:app.wsgi")
    with pytest.raises(ValueError, match="module:attribute"):
        load("tests.apps.wsgi_lanner")


FORKING_SCRIPT = """
import os, sys
from wsgiref.util import setup_testing_defaults
from lanner import Lanner
from lanner.wsgi import to_wsgi

def mark(event):
    with open(sys.argv[1], "a") as markers:
        markers.write(f"{event} {os.getpid()}\\n")

app = Lanner(on_startup=[lambda: mark("startup")], on_shutdown=[lambda: mark("shutdown")])

@app.get("/")
async def index():  # async: lanner's thread pool is not carried across a fork
    return str(os.getpid())

application = to_wsgi(app)

def get():
    environ = {}
    setup_testing_defaults(environ)
    environ["wsgi.multithread"] = sys.argv[2] == "multi-threaded"
    return b"".join(application(environ, lambda status, headers, exc_info=None: None)).decode()

print("parent", get(), flush=True)
child = os.fork()
if child == 0:
    print("child", get(), flush=True)
    sys.exit(0)
os.waitpid(child, 0)
"""


@pytest.mark.parametrize("mode", ["single-threaded", "multi-threaded"])
def test_shutdown_runs_at_exit_in_each_process_that_started(tmp_path: Path, mode: str) -> None:
    markers = tmp_path / "markers"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKING_SCRIPT), str(markers), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    answers = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    parent, child = answers["parent"].strip('"'), answers["child"].strip('"')
    assert parent != child
    lines = markers.read_text().splitlines()
    expected = [f"startup {parent}", f"startup {child}", f"shutdown {child}", f"shutdown {parent}"]
    assert sorted(lines) == sorted(expected)
    # The child, started after the fork, shut down on its own exit, before the parent's.
    assert lines.index(f"shutdown {child}") < lines.index(f"shutdown {parent}")


def test_the_extra_is_named_when_a2wsgi_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "a2wsgi", None)
    with pytest.raises(ImportError, match=r"lanner\[wsgi\]"):
        WSGIMount(flask_legacy.app)
    with pytest.raises(ImportError, match=r"lanner\[wsgi\]"):
        WSGIAdapter(Lanner())


# -- WSGIMount: the Flask app inside lanner ----------------------------------------------------


@pytest.fixture(scope="module")
def legacy() -> Iterator[TestClient]:
    with TestClient(wsgi_lanner.host) as client:
        yield client


def test_url_for_builds_links_under_the_mount(legacy: TestClient) -> None:
    assert legacy.get("/legacy/").json() == {"app": "flask", "script_root": "/legacy", "path": "/"}
    assert legacy.get("/legacy/links").json() == {
        "hello": "/legacy/hello",
        "item": "/legacy/items/7",
        "external": "http://testserver/legacy/hello",
        "static": "/legacy/static/site.css",
    }
    assert legacy.get("/legacy/items/12").json() == {"id": 12}
    assert 'action="/legacy/upload"' in legacy.get("/legacy/upload").text


def test_a_lanner_route_wins_over_the_mount(legacy: TestClient) -> None:
    assert legacy.get("/").json() == {"app": "lanner"}
    assert legacy.get("/legacy/hello").text == '"hello from lanner"'


def test_the_session_cookie_round_trips(legacy: TestClient) -> None:
    legacy.cookies.clear()
    response = legacy.post("/legacy/login", data={"user": "ada"}, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/legacy/whoami"
    assert "session=" in response.headers["set-cookie"]
    assert legacy.get("/legacy/whoami").json() == {"user": "ada", "visits": 1}
    assert legacy.get("/legacy/whoami").json() == {"user": "ada", "visits": 2}
    assert legacy.post("/legacy/logout").json() == {"user": None, "visits": 1}
    legacy.cookies.clear()


def test_its_own_404_and_500_pages(legacy: TestClient) -> None:
    missing = legacy.get("/legacy/nope")
    assert missing.status_code == 404
    assert missing.text == "<h1>legacy 404</h1><p>/nope is not here</p>"
    assert missing.headers["content-type"].startswith("text/html")
    broken = legacy.get("/legacy/boom")
    assert broken.status_code == 500
    assert "legacy 500" in broken.text
    teapot = legacy.get("/legacy/teapot")
    assert teapot.status_code == 418
    assert "teapot" in teapot.text.lower()
    # Outside the mount, lanner's own problem document.
    outside = legacy.get("/nope")
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"


def test_redirect_location_keeps_the_prefix(legacy: TestClient) -> None:
    response = legacy.get("/legacy/old-hello", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/legacy/hello"


def test_a_file_upload_through_the_mount(legacy: TestClient) -> None:
    data = os.urandom(1024 * 1024)
    response = legacy.post(
        "/legacy/upload",
        files={"file": ("report.bin", data, "application/octet-stream")},
        data={"title": "Q3"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "report.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": "Q3",
    }


def test_a_body_sent_in_pieces_reaches_the_wsgi_app_whole(legacy: TestClient) -> None:
    pieces = [os.urandom(50_000) for _ in range(40)]
    response = legacy.post(
        "/legacy/echo", content=iter(pieces), headers={"content-type": "application/x-thing"}
    )
    whole = b"".join(pieces)
    assert response.json() == {
        "size": len(whole),
        "sha256": hashlib.sha256(whole).hexdigest(),
        "type": "application/x-thing",
    }


def test_script_name_comes_from_the_mount_not_the_environment(
    legacy: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRIPT_NAME", "/elsewhere")  # a2wsgi alone would take this one
    assert legacy.get("/legacy/").json()["script_root"] == "/legacy"


def test_a_root_mount_is_the_fallback() -> None:
    app = Lanner()

    @app.get("/hello")
    async def hello() -> str:
        return "lanner"

    app.mount("/", WSGIMount(flask_legacy.app, threads=2))
    with TestClient(app) as client:
        assert client.get("/hello").json() == "lanner"
        assert client.get("/links").json()["item"] == "/items/7"
        assert client.get("/").json()["script_root"] == ""
        assert client.get("/missing").text.startswith("<h1>legacy 404</h1>")


def test_split_path() -> None:
    assert split_path({"root_path": "/legacy", "path": "/legacy/a/b"}) == ("/legacy", "/a/b")
    assert split_path({"root_path": "/legacy", "path": "/legacy"}) == ("/legacy", "")
    assert split_path({"root_path": "/legacy", "path": "/a/b"}) == ("/legacy", "/a/b")  # older servers
    assert split_path({"root_path": "/legacy", "path": "/legacyx"}) == ("/legacy", "/legacyx")
    assert split_path({"path": "/caf\u00e9"}) == ("", "/caf\xc3\xa9")  # WSGI strings: bytes as latin-1


def test_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads"):
        WSGIMount(flask_legacy.app, threads=0)
    with pytest.raises(ValueError, match="send_queue_size"):
        WSGIMount(flask_legacy.app, send_queue_size=0)


def http_scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/legacy" + path,
        "raw_path": ("/legacy" + path).encode(),
        "root_path": "/legacy",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }


@pytest.mark.anyio
async def test_a_generator_response_arrives_chunk_by_chunk() -> None:
    flask_legacy.GATE.clear()
    mount = WSGIMount(flask_legacy.app, threads=2)
    bodies: list[bytes] = []
    done = asyncio.Event()

    async def receive() -> Message:
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))
            if message.get("body") == b"first\n":
                flask_legacy.GATE.set()  # only now may the generator go on
            if not message.get("more_body", False):
                done.set()

    await asyncio.wait_for(mount(http_scope("/gated"), receive, send), 20)
    assert [body for body in bodies if body] == [b"first\n", b"released\n"]
    mount.close()


@pytest.mark.anyio
async def test_the_request_body_is_read_as_the_app_asks_not_ahead() -> None:
    release = threading.Event()
    received: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        release.wait(10)
        size = len(environ["wsgi.input"].read())
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(size).encode()]

    mount = WSGIMount(app, threads=1)
    pieces = 50

    async def receive() -> Message:
        received.append(len(received))
        if len(received) <= pieces:
            return {"type": "http.request", "body": b"x" * 1000, "more_body": len(received) < pieces}
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    bodies: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))

    task = asyncio.ensure_future(mount(http_scope("/", "POST"), receive, send))
    await asyncio.sleep(0.3)
    read_before = len(received)
    release.set()
    await asyncio.wait_for(task, 10)
    assert read_before <= 4, f"{read_before} body messages were read before the app asked"
    assert b"".join(bodies) == b"50000"
    mount.close()


@pytest.mark.anyio
async def test_a_client_that_goes_away_stops_an_endless_generator() -> None:
    flask_legacy.FOREVER_CLOSED.clear()
    mount = WSGIMount(flask_legacy.app, threads=2)
    ticks = asyncio.Event()
    sent: list[Message] = []

    async def receive() -> Message:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await ticks.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body") == b"tick\n":
            ticks.set()

    sent.append({"type": "marker"})  # the body message was handed out
    await asyncio.wait_for(mount(http_scope("/forever"), receive, send), 10)
    assert flask_legacy.FOREVER_CLOSED.wait(5)
    mount.close()


@pytest.mark.anyio
async def test_a_failing_send_stops_the_app_and_only_its_own_errors_propagate() -> None:
    mount = WSGIMount(flask_legacy.app, threads=2)

    async def receive() -> Message:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    for error in (ConnectionResetError("gone"), RuntimeError("a bug in a middleware")):
        flask_legacy.FOREVER_CLOSED.clear()
        sends = 0

        async def send(message: Message, error: Exception = error) -> None:
            nonlocal sends
            sends += 1
            if message.get("body"):
                raise error

        call = mount(http_scope("/forever"), receive, send)
        if isinstance(error, OSError):
            await asyncio.wait_for(call, 10)  # the client went away: nothing to report
        else:
            with pytest.raises(RuntimeError, match="a bug in a middleware"):
                await asyncio.wait_for(call, 10)
        assert flask_legacy.FOREVER_CLOSED.wait(5)
        assert sends == 2  # the start, the failed chunk, and nothing after
    mount.close()


@pytest.mark.anyio
async def test_the_wsgi_app_has_a_pool_of_its_own() -> None:
    app = Lanner()

    @app.get("/fast")
    def fast() -> str:  # a sync handler: lanner's thread pool
        return "fast"

    mount = WSGIMount(flask_legacy.app, threads=2)
    app.mount("/legacy", mount)
    flask_legacy.SLOW["most"] = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        slow = [asyncio.ensure_future(client.get("/legacy/slow?delay=0.4")) for _ in range(6)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert (await client.get("/fast")).json() == "fast"
        assert time.monotonic() - started < 0.3, "the lanner route waited for the WSGI app"
        answers = await asyncio.gather(*slow)
    assert all(answer.status_code == 200 for answer in answers)
    assert flask_legacy.SLOW["most"] == 2, "the WSGI pool has 2 threads"
    mount.close()
