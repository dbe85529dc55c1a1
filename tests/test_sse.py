"""Server-sent events (lanner.sse, lanner._sse): the encoding, the stream, disconnects, the example."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import importlib
import inspect
import itertools
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, MutableMapping
from typing import Annotated, Any

import httpx
import pydantic
import pytest

from lanner import BackgroundTasks, Header, Lanner, Request
from lanner._sse import encode_event
from lanner.responses import EventSourceResponse as FromResponses
from lanner.responses import ServerSentEvent as EventFromResponses
from lanner.sse import EventSourceResponse, ServerSentEvent
from lanner.testing import TestClient

from .conftest import Server

Message = dict[str, Any]
WAIT = 5.0  # the bound on every wait below; the conditions normally hold in milliseconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def parse(stream: str) -> list[dict[str, str]]:
    """Dispatch `stream` the way a browser's EventSource does: the events, with their fields."""
    events: list[dict[str, str]] = []
    data: list[str] = []
    fields: dict[str, str] = {}
    for line in stream.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                events.append({**fields, "data": "\n".join(data)})
            data, fields = [], {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    return events


class Stream:
    """One GET through an ASGI app, with a client that leaves when told to."""

    def __init__(self, app: Any, path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.messages: list[Message] = []
        self._gone = asyncio.Event()
        self._changed = asyncio.Event()
        self._asked = False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver"), *(headers or [])],
            "client": ("testclient", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        self.task = asyncio.create_task(app(scope, self.receive, self.send))

    async def receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()

    def leave(self) -> None:
        self._gone.set()

    @property
    def text(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages[1:]).decode()

    @property
    def ended(self) -> bool:
        return bool(self.messages) and not self.messages[-1].get("more_body", False)

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def finish(self) -> None:
        async with asyncio.timeout(WAIT):
            await self.task


def serve(response: Callable[[], EventSourceResponse]) -> Lanner:
    app = Lanner()

    @app.get("/")
    async def events() -> EventSourceResponse:
        return response()

    return app


# -- the encoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "wire"),
    [
        ("hello", "data: hello\n\n"),
        ("", "data: \n\n"),
        (" padded", "data:  padded\n\n"),
        ("a\nb\r\nc\rd", "data: a\ndata: b\ndata: c\ndata: d\n\n"),
        ("ends with a break\n", "data: ends with a break\ndata: \n\n"),
        ("form\x0cfeed\u2028kept", "data: form\x0cfeed\u2028kept\n\n"),
        (b"caf\xc3\xa9", "data: café\n\n"),
        ({"a": [1, 2], "b": None}, 'data: {"a":[1,2],"b":null}\n\n'),
        ([1, "x"], 'data: [1,"x"]\n\n'),
        (3, "data: 3\n\n"),
        (None, "data: null\n\n"),
    ],
)
def test_plain_values_are_the_data_of_an_unnamed_event(item: Any, wire: str) -> None:
    response = EventSourceResponse([item])
    text = TestClient(serve(lambda: response)).get("/").text
    assert text == wire


class Point(pydantic.BaseModel):
    x: int
    label: str


@dataclasses.dataclass
class Pair:
    left: int
    right: str


def test_models_and_dataclasses_are_sent_as_compact_json() -> None:
    assert ServerSentEvent(Point(x=1, label="é")).encode() == 'data: {"x":1,"label":"é"}\n\n'.encode()
    assert ServerSentEvent(Pair(1, "r")).encode() == b'data: {"left":1,"right":"r"}\n\n'


def test_every_field_in_order() -> None:
    event = ServerSentEvent({"n": 1}, event="tick", id=7, retry=2500, comment="note")
    assert event.encode() == b': note\nevent: tick\nid: 7\nretry: 2500\ndata: {"n":1}\n\n'
    assert parse(event.encode().decode()) == [
        {"event": "tick", "id": "7", "retry": "2500", "data": '{"n":1}'}
    ]


def test_an_event_without_data_sends_only_its_fields() -> None:
    assert ServerSentEvent(id="last").encode() == b"id: last\n\n"
    assert ServerSentEvent(retry=0).encode() == b"retry: 0\n\n"
    assert ServerSentEvent(comment="").encode() == b":\n\n"
    assert ServerSentEvent(comment="two\nlines").encode() == b": two\n: lines\n\n"
    assert ServerSentEvent("x", event="").encode() == b"event: \ndata: x\n\n"


def test_data_and_comments_cannot_forge_fields_or_events() -> None:
    forged = ServerSentEvent("a\n\nevent: admin\nid: 9\n\ndata: b", comment="c\ndata: evil")
    assert parse(forged.encode().decode()) == [{"data": "a\n\nevent: admin\nid: 9\n\ndata: b"}]


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "a\nb"},
        {"event": "a\rb"},
        {"id": "1\n2"},
        {"id": "1\r"},
        {"id": "1\x002"},
        {"retry": -1},
    ],
)
def test_fields_that_would_break_the_stream_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"server-sent event|retry"):
        ServerSentEvent("data", **fields)


@pytest.mark.parametrize(
    "fields", [{"event": 1}, {"id": 1.5}, {"id": True}, {"retry": "10"}, {"retry": True}, {"comment": b"x"}]
)
def test_fields_of_the_wrong_type_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        ServerSentEvent("data", **fields)


def test_data_that_cannot_be_encoded_raises_value_error() -> None:
    with pytest.raises(ValueError):
        ServerSentEvent(b"\xff").encode()
    with pytest.raises(ValueError):
        ServerSentEvent("\ud800").encode()
    with pytest.raises(ValueError):
        ServerSentEvent({"obj": object()}).encode()


def test_both_modules_export_the_same_classes() -> None:
    assert FromResponses is EventSourceResponse
    assert EventFromResponses is ServerSentEvent
    with pytest.raises(dataclasses.FrozenInstanceError):
        ServerSentEvent("x").data = "y"  # type: ignore[misc]


# -- the response --------------------------------------------------------------------------------


def test_headers_status_and_a_finite_async_generator() -> None:
    async def events() -> AsyncIterator[Any]:
        yield ServerSentEvent("first", event="greeting", id="1")
        yield {"second": True}

    client = TestClient(serve(lambda: EventSourceResponse(events(), status_code=201)))
    response = client.get("/")
    assert response.status_code == 201
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers
    assert parse(response.text) == [
        {"event": "greeting", "id": "1", "data": "first"},
        {"data": '{"second":true}'},
    ]


def test_given_headers_win_and_the_background_runs_after() -> None:
    ran: list[str] = []

    async def note() -> None:
        ran.append("background")

    headers = {"Cache-Control": "no-store", "X-Extra": "1"}
    client = TestClient(serve(lambda: EventSourceResponse(["x"], headers=headers, background=note)))
    response = client.get("/")
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert response.headers["x-extra"] == "1"
    assert ran == ["background"]


@pytest.mark.parametrize("ping", [-1, -0.5])
def test_a_negative_ping_is_refused(ping: float) -> None:
    with pytest.raises(ValueError, match="ping"):
        EventSourceResponse([], ping=ping)


@pytest.mark.parametrize("content", ["one string", b"bytes", 42, None])
def test_content_must_be_an_iterable_of_events(content: Any) -> None:
    with pytest.raises(TypeError, match="iterable of events"):
        EventSourceResponse(content)


def test_a_generator_handler_with_the_response_class() -> None:
    app = Lanner()

    @app.get("/numbers", response_class=EventSourceResponse)
    async def numbers() -> AsyncIterator[ServerSentEvent]:
        for n in range(3):
            yield ServerSentEvent(n, id=n)

    text = TestClient(app).get("/numbers").text
    assert [event["id"] for event in parse(text)] == ["0", "1", "2"]


def test_sync_generators_run_in_the_thread_pool() -> None:
    threads: list[str] = []
    closed: list[bool] = []

    def numbers() -> Iterator[ServerSentEvent]:
        try:
            for n in range(3):
                threads.append(threading.current_thread().name)
                yield ServerSentEvent(n * 10, event="n")
        finally:
            closed.append(True)

    text = TestClient(serve(lambda: EventSourceResponse(numbers()))).get("/").text
    assert [event["data"] for event in parse(text)] == ["0", "10", "20"]
    assert threads and all(name.startswith("lanner") for name in threads)
    assert closed == [True]


def test_head_sends_no_events_and_closes_the_generator() -> None:
    def numbers() -> Generator[int, None, None]:
        yield 1

    generator = numbers()
    app = serve(lambda: EventSourceResponse(generator))
    response = TestClient(app).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert inspect.getgeneratorstate(generator) == inspect.GEN_CLOSED  # closed without being started


def test_last_event_id_reaches_the_handler_as_a_header() -> None:
    app = Lanner()
    seen: list[str | None] = []

    @app.get("/feed")
    async def feed(last_event_id: Annotated[str | None, Header()] = None) -> EventSourceResponse:
        seen.append(last_event_id)
        return EventSourceResponse([ServerSentEvent("resumed", id=last_event_id or "0")])

    client = TestClient(app)
    assert parse(client.get("/feed", headers={"Last-Event-ID": "abc-41"}).text) == [
        {"id": "abc-41", "data": "resumed"}
    ]
    assert parse(client.get("/feed").text) == [{"id": "0", "data": "resumed"}]
    assert seen == ["abc-41", None]


def test_background_tasks_parameter_runs_after_the_stream() -> None:
    app = Lanner()
    order: list[str] = []

    async def events() -> AsyncIterator[str]:
        order.append("event")
        yield "x"

    @app.get("/")
    async def handler(tasks: BackgroundTasks) -> EventSourceResponse:
        tasks.add_task(order.append, "background")
        return EventSourceResponse(events())

    TestClient(app).get("/")
    assert order == ["event", "background"]


@pytest.mark.anyio
async def test_a_ping_is_sent_while_the_generator_is_quiet() -> None:
    release = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        yield "before"
        await release.wait()
        yield "after"

    stream = Stream(serve(lambda: EventSourceResponse(events(), ping=0.05)))
    await stream.until(lambda: ": ping\n\n" in stream.text)
    release.set()
    await stream.finish()
    assert stream.ended
    assert stream.text.startswith("data: before\n\n: ping\n\n")
    assert stream.text.endswith(": ping\n\ndata: after\n\n")
    assert [event["data"] for event in parse(stream.text)] == ["before", "after"]
    # One body message per event or ping, then the empty last one.
    bodies = [m["body"] for m in stream.messages[1:]]
    assert bodies[0] == b"data: before\n\n"
    assert bodies[-2:] == [b"data: after\n\n", b""]
    assert set(bodies[1:-2]) == {b": ping\n\n"}


@pytest.mark.anyio
@pytest.mark.parametrize("ping", [None, 0])
async def test_no_ping_when_disabled(ping: float | None) -> None:
    async def events() -> AsyncIterator[str]:
        yield "before"
        await asyncio.sleep(0.1)
        yield "after"

    stream = Stream(serve(lambda: EventSourceResponse(events(), ping=ping)))
    await stream.finish()
    assert stream.text == "data: before\n\ndata: after\n\n"


@pytest.mark.anyio
async def test_disconnect_closes_a_generator_that_is_waiting() -> None:
    finally_ran = 0
    waiting = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        nonlocal finally_ran
        try:
            yield "only"
            waiting.set()
            await asyncio.Event().wait()  # never set: only the disconnect ends this
            yield "never"
        finally:
            finally_ran += 1

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.until(lambda: "data: only" in stream.text)
    async with asyncio.timeout(WAIT):
        await waiting.wait()
    assert finally_ran == 0
    stream.leave()
    await stream.finish()
    assert finally_ran == 1
    assert "never" not in stream.text
    assert not stream.ended  # no last message after the client left


@pytest.mark.anyio
async def test_disconnect_stops_an_endless_generator() -> None:
    finally_ran = 0

    async def events() -> AsyncIterator[int]:
        nonlocal finally_ran
        n = 0
        try:
            while True:
                yield n
                n += 1
                await asyncio.sleep(0)
        finally:
            finally_ran += 1

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.until(lambda: len(parse(stream.text)) >= 3)
    stream.leave()
    await stream.finish()
    assert finally_ran == 1


@pytest.mark.anyio
async def test_disconnect_closes_a_blocked_sync_generator_once_its_item_is_ready() -> None:
    produced = threading.Event()
    release = threading.Event()
    closed = threading.Event()

    def events() -> Iterator[str]:
        try:
            yield "first"
            produced.set()
            release.wait(WAIT)
            yield "late"
        finally:
            closed.set()

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.until(lambda: "first" in stream.text)
    async with asyncio.timeout(WAIT):
        await asyncio.to_thread(produced.wait, WAIT)
    stream.leave()
    # A thread is inside the generator: it cannot be closed before it yields.
    await asyncio.sleep(0.05)
    assert not closed.is_set()
    release.set()
    await stream.finish()
    assert closed.is_set()
    assert "late" not in stream.text


@pytest.mark.anyio
async def test_a_cancelled_response_still_closes_a_blocked_sync_generator() -> None:
    produced = threading.Event()
    release = threading.Event()
    closed = threading.Event()

    def events() -> Iterator[str]:
        try:
            yield "first"
            produced.set()
            release.wait(WAIT)
            yield "late"
        finally:
            closed.set()

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.until(lambda: "first" in stream.text)
    async with asyncio.timeout(WAIT):
        await asyncio.to_thread(produced.wait, WAIT)
    stream.leave()
    await asyncio.sleep(0.05)
    stream.task.cancel()  # a server shutting down stops waiting for the close
    with pytest.raises(asyncio.CancelledError):
        await stream.task
    release.set()
    async with asyncio.timeout(WAIT):
        assert await asyncio.to_thread(closed.wait, WAIT)


class Countdown:
    """An async iterable that is not a generator: it has nothing to close."""

    def __init__(self, start: int) -> None:
        self.left = start

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> int:
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        return self.left


@pytest.mark.parametrize(
    ("content", "text"), [(Countdown(2), "data: 1\n\ndata: 0\n\n"), (("a", "b"), "data: a\n\ndata: b\n\n")]
)
def test_any_async_or_sync_iterable_will_do(content: Any, text: str) -> None:
    response = EventSourceResponse(content)
    assert TestClient(serve(lambda: response)).get("/").text == text


@pytest.mark.anyio
async def test_contextvars_set_by_the_generator_last_across_items() -> None:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    async def events() -> AsyncIterator[str]:
        variable.set("set by the generator")
        yield "first"
        yield variable.get()

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.finish()
    assert [event["data"] for event in parse(stream.text)] == ["first", "set by the generator"]


async def call(response: EventSourceResponse, send: Callable[[Any], Awaitable[None]]) -> None:
    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    scope = {"type": "http", "method": "GET", "headers": []}
    async with asyncio.timeout(WAIT):
        await response(scope, receive, send)


@pytest.mark.anyio
async def test_a_failing_write_counts_as_a_disconnect() -> None:
    closed: list[bool] = []
    sent: list[Message] = []

    async def events() -> AsyncIterator[int]:
        try:
            for n in range(100):
                yield n
        finally:
            closed.append(True)

    async def send(message: Message) -> None:
        if len(sent) == 2:
            raise ConnectionResetError("gone")
        sent.append(message)

    await call(EventSourceResponse(events()), send)
    assert closed == [True]
    assert len(sent) == 2


@pytest.mark.anyio
async def test_an_error_in_the_generator_propagates_after_closing_it() -> None:
    sent: list[Message] = []

    async def events() -> AsyncIterator[int]:
        yield 1
        raise OSError("the generator's own failure, not the client's")

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(OSError, match="generator's own"):
        await call(EventSourceResponse(events()), send)
    assert sent[-1]["body"] == b"data: 1\n\n"


@pytest.mark.anyio
async def test_an_event_that_cannot_be_encoded_ends_the_stream_with_its_error() -> None:
    closed: list[bool] = []

    async def events() -> AsyncIterator[Any]:
        try:
            yield b"\xff"
        finally:
            closed.append(True)

    async def send(message: Message) -> None:
        pass

    with pytest.raises(UnicodeDecodeError):
        await call(EventSourceResponse(events()), send)
    assert closed == [True]


# -- the fast paths of the encoding ----------------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"

    def __format__(self, spec: str) -> str:
        return "formatted, not the value"


@pytest.mark.parametrize(
    ("item", "wire"),
    [
        ({"text": "a\nb\rc"}, b'data: {"text":"a\\nb\\rc"}\n\n'),  # JSON escapes the breaks
        (["\u2028", "é"], '["\u2028","é"]'.join(["data: ", "\n\n"]).encode()),
        ((1, "x"), b'data: [1,"x"]\n\n'),
        (Colour.RED, b"data: red\n\n"),  # a str subclass: its text, whatever its __format__ says
        (bytearray(b"a\nb"), b"data: a\ndata: b\n\n"),
        ("one line", b"data: one line\n\n"),
    ],
)
def test_every_kind_of_data_encodes_as_before(item: Any, wire: bytes) -> None:
    assert encode_event(item) == wire
    assert ServerSentEvent(item, event="e").encode() == b"event: e\n" + wire
    assert parse(wire.decode()) == [{"data": parse(wire.decode())[0]["data"]}]


class Number(enum.IntEnum):
    ONE = 1


def test_a_subclass_of_the_event_is_an_event() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Tick(ServerSentEvent):
        pass

    assert encode_event(Tick({"n": 1}, event="tick")) == b'event: tick\ndata: {"n":1}\n\n'


def test_ids_that_are_not_plain_ints_or_strs_are_still_checked() -> None:
    class Text(str):
        pass

    assert ServerSentEvent("x", id=Text("7")).encode() == b"id: 7\ndata: x\n\n"
    assert ServerSentEvent("x", id=Number.ONE).encode() == b"id: 1\ndata: x\n\n"
    with pytest.raises(ValueError, match="id must not contain"):
        ServerSentEvent("x", id=Text("1\n2"))
    with pytest.raises(ValueError, match=r"'\\r' or '\\n'"):
        ServerSentEvent("x", event="a\rb")


# -- the pump: one task for the stream, pings from a timer ----------------------------------------


@pytest.mark.anyio
async def test_ten_thousand_quick_events_create_no_task_per_event() -> None:
    created: list[asyncio.Task[Any]] = []
    sent: list[Message] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, context: Any = None) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, context=context)
        created.append(task)
        return task

    async def events() -> AsyncIterator[ServerSentEvent]:
        for n in range(10_000):
            yield ServerSentEvent({"n": n}, event="tick", id=n)

    async def send(message: Message) -> None:
        sent.append(message)

    loop = asyncio.get_running_loop()
    loop.set_task_factory(factory)
    try:
        await call(EventSourceResponse(events(), ping=0.5), send)
    finally:
        loop.set_task_factory(None)
    assert len(sent) == 1 + 10_000 + 1  # the start, one body message per event, the last one
    assert sent[-2]["body"] == b'event: tick\nid: 9999\ndata: {"n":9999}\n\n'
    assert len(created) <= 3  # the pump and the disconnect listener (and no ping: never idle)


@pytest.mark.anyio
async def test_every_item_is_pulled_in_the_same_task() -> None:
    tasks: set[asyncio.Task[Any] | None] = set()
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    async def events() -> AsyncIterator[int]:
        variable.set("inside")
        for n in range(50):
            tasks.add(asyncio.current_task())
            yield n
            await asyncio.sleep(0)

    stream = Stream(serve(lambda: EventSourceResponse(events())))
    await stream.finish()
    assert len(parse(stream.text)) == 50
    assert len(tasks) == 1 and None not in tasks
    assert variable.get() == "unset"  # the generator's context is its own, not the caller's


@pytest.mark.anyio
async def test_a_generator_slower_than_the_ping_gets_pings_between_its_events() -> None:
    go = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        for name in ("a", "b", "c"):
            await go.wait()
            go.clear()
            yield name

    stream = Stream(serve(lambda: EventSourceResponse(events(), ping=0.02)))

    async def ping_then_release(name: str) -> None:
        pings = stream.text.count(": ping")
        await stream.until(lambda: stream.text.count(": ping") > pings)
        go.set()
        await stream.until(lambda: f"data: {name}\n\n" in stream.text)

    for name in ("a", "b", "c"):
        await ping_then_release(name)
    await stream.finish()
    assert [event["data"] for event in parse(stream.text)] == ["a", "b", "c"]
    bodies = [m["body"] for m in stream.messages[1:]]
    assert bodies[0] == b": ping\n\n" and bodies[-1] == b""
    assert set(bodies) == {b": ping\n\n", b"data: a\n\n", b"data: b\n\n", b"data: c\n\n", b""}


@pytest.mark.anyio
async def test_a_ping_only_follows_ping_seconds_without_any_message() -> None:
    ping = 0.05
    loop = asyncio.get_running_loop()
    stamped: list[tuple[float, bytes]] = []

    async def events() -> AsyncIterator[int]:
        for n in range(12):
            yield n
            await asyncio.sleep(0.01 if n != 5 else 3 * ping)  # one long pause in the middle

    async def send(message: Message) -> None:
        stamped.append((loop.time(), message.get("body", b"")))

    await call(EventSourceResponse(events(), ping=ping), send)
    bodies = [body for _, body in stamped[1:]]
    assert [event["data"] for event in parse(b"".join(bodies).decode())] == [str(n) for n in range(12)]
    assert b": ping\n\n" in bodies  # the long pause got at least one
    for (before, _), (at, body) in itertools.pairwise(stamped[1:]):
        if body == b": ping\n\n":
            assert at - before >= ping - 0.005, "a ping came while events were flowing"


@pytest.mark.anyio
async def test_a_sync_generator_that_blocks_gets_pings() -> None:
    release = threading.Event()

    def events() -> Iterator[str]:
        yield "before"
        release.wait(WAIT)
        yield "after"

    stream = Stream(serve(lambda: EventSourceResponse(events(), ping=0.02)))
    try:
        await stream.until(lambda: ": ping\n\n" in stream.text)
    finally:
        release.set()
    await stream.finish()
    assert [event["data"] for event in parse(stream.text)] == ["before", "after"]


@pytest.mark.anyio
async def test_an_event_ready_during_a_ping_waits_for_the_ping_to_be_sent() -> None:
    ping_started = asyncio.Event()
    gate = asyncio.Event()
    produced = asyncio.Event()
    sent: list[bytes] = []
    sending = 0
    overlapped = False

    async def events() -> AsyncIterator[str]:
        yield "a"
        await ping_started.wait()
        produced.set()
        yield "b"

    async def send(message: Message) -> None:
        nonlocal sending, overlapped
        overlapped = overlapped or sending > 0
        sending += 1
        try:
            if message.get("body") == b": ping\n\n":
                ping_started.set()
                await gate.wait()
            sent.append(message.get("body", b""))
        finally:
            sending -= 1

    task = asyncio.create_task(call(EventSourceResponse(events(), ping=0.02), send))
    async with asyncio.timeout(WAIT):
        await produced.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    assert b"data: b\n\n" not in sent  # held back while the ping is in the middle of its send
    gate.set()
    await task
    assert sent[1:] == [b"data: a\n\n", b": ping\n\n", b"data: b\n\n", b""]
    assert not overlapped


@pytest.mark.anyio
async def test_a_failing_ping_counts_as_a_disconnect_and_closes_the_generator() -> None:
    closed: list[bool] = []
    sent: list[Message] = []

    async def events() -> AsyncIterator[str]:
        try:
            yield "only"
            await asyncio.Event().wait()  # only the failed ping ends this
        finally:
            closed.append(True)

    async def send(message: Message) -> None:
        if message.get("body") == b": ping\n\n":
            raise BrokenPipeError("gone")
        sent.append(message)

    await call(EventSourceResponse(events(), ping=0.02), send)
    assert closed == [True]
    assert [m.get("body") for m in sent[1:]] == [b"data: only\n\n"]


@pytest.mark.anyio
async def test_a_ping_failing_with_another_error_raises_it_after_closing_the_generator() -> None:
    closed: list[bool] = []

    async def events() -> AsyncIterator[str]:
        try:
            yield "only"
            await asyncio.Event().wait()
        finally:
            closed.append(True)

    async def send(message: Message) -> None:
        if message.get("body") == b": ping\n\n":
            raise RuntimeError("the server's own failure")

    with pytest.raises(RuntimeError, match="server's own"):
        await call(EventSourceResponse(events(), ping=0.02), send)
    assert closed == [True]


@pytest.mark.anyio
@pytest.mark.parametrize("error", [BrokenPipeError("gone"), RuntimeError("the server's own failure")])
async def test_a_ping_failing_while_an_event_waits_for_it(error: Exception) -> None:
    ping_started = asyncio.Event()
    gate = asyncio.Event()
    produced = asyncio.Event()
    closed: list[bool] = []
    sent: list[bytes] = []

    async def events() -> AsyncIterator[str]:
        try:
            yield "a"
            await ping_started.wait()
            produced.set()
            yield "b"
        finally:
            closed.append(True)

    async def send(message: Message) -> None:
        if message.get("body") == b": ping\n\n":
            ping_started.set()
            await gate.wait()
            raise error
        sent.append(message.get("body", b""))

    task = asyncio.create_task(call(EventSourceResponse(events(), ping=0.02), send))
    async with asyncio.timeout(WAIT):
        await produced.wait()
    gate.set()
    if isinstance(error, OSError):
        await task  # the client is gone: no error
    else:
        with pytest.raises(RuntimeError, match="server's own"):
            await task
    assert closed == [True]
    assert sent[1:] == [b"data: a\n\n"]  # "b" was never sent, nor the last message


@pytest.mark.anyio
async def test_a_disconnect_during_a_stuck_ping_cancels_it_and_closes_the_generator() -> None:
    closed: list[bool] = []
    ping_started = asyncio.Event()
    ping_cancelled: list[bool] = []
    gone = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        try:
            yield "only"
            await asyncio.Event().wait()
        finally:
            closed.append(True)

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message.get("body") == b": ping\n\n":
            ping_started.set()
            try:
                await asyncio.Event().wait()  # a client that stopped reading
            except asyncio.CancelledError:
                ping_cancelled.append(True)
                raise

    response = EventSourceResponse(events(), ping=0.02)
    task = asyncio.create_task(response({"type": "http", "method": "GET", "headers": []}, receive, send))
    async with asyncio.timeout(WAIT):
        await ping_started.wait()
        gone.set()
        await task
    assert closed == [True]
    assert ping_cancelled == [True]


# -- the example ---------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[Any]:
    sys.modules.pop("examples.sse.app", None)
    module = importlib.import_module("examples.sse.app")
    yield module
    sys.modules.pop("examples.sse.app", None)


def test_example_clock_resumes_after_the_last_event_id(clock: Any) -> None:
    client = TestClient(clock.app)
    response = client.get("/clock", params={"count": 3, "interval": 0.01}, headers={"Last-Event-ID": "41"})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = parse(response.text)
    assert [(e["event"], e["id"]) for e in events] == [("tick", "42"), ("tick", "43"), ("tick", "44")]
    assert [httpx.Response(200, content=e["data"]).json()["n"] for e in events] == [42, 43, 44]
    assert client.get("/clock", params={"count": 1}).text.startswith("event: tick\nid: 0\n")
    assert client.get("/streams").json() == {"open": 0, "closed": 2}
    assert "new EventSource" in client.get("/").text
    documented = client.get("/openapi.json").json()["paths"]["/clock"]["get"]["responses"]["200"]
    assert list(documented["content"]) == ["text/event-stream"]


@pytest.mark.parametrize("value", ["-1", "abc", "9" * 5000, "1\x00"])
def test_example_clock_refuses_a_bad_last_event_id(clock: Any, value: str) -> None:
    response = TestClient(clock.app).get("/clock", params={"count": 1}, headers={"Last-Event-ID": value})
    assert response.status_code == 422


@pytest.mark.slow
def test_example_clock_over_a_real_server_ends_the_stream_when_the_client_leaves(start_server: Any) -> None:
    server: Server = start_server(
        [sys.executable, "-m", "uvicorn", "examples.sse.app:app", "--host", "127.0.0.1"]
    )
    server.wait_ready("/streams")
    events: list[dict[str, str]] = []
    with (
        httpx.Client(base_url=server.url, timeout=WAIT) as client,
        client.stream("GET", "/clock", params={"interval": 0.02}) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        text = ""
        chunks = response.iter_text()  # held: dropping it would close the connection at the break
        for chunk in chunks:
            text += chunk
            events = parse(text.rsplit("\n\n", 1)[0] + "\n\n")
            if len(events) >= 3:
                break
        assert client.get("/streams").json() == {"open": 1, "closed": 0}
    assert [e["id"] for e in events[:3]] == ["0", "1", "2"]
    deadline = time.monotonic() + WAIT
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        while (counts := client.get("/streams").json()) != {"open": 0, "closed": 1}:
            assert time.monotonic() < deadline, f"the stream did not end: {counts}"
            time.sleep(0.02)


def test_the_request_reports_a_connected_client_while_streaming() -> None:
    app = Lanner()

    @app.get("/")
    async def events(request: Request) -> EventSourceResponse:
        async def check() -> AsyncIterator[bool]:
            yield await request.is_disconnected()

        return EventSourceResponse(check())

    assert TestClient(app).get("/").text == "data: false\n\n"


def test_raw_data_is_fastapi_s_spelling_of_text_data() -> None:
    assert ServerSentEvent(raw_data="a\nb", event="e").encode() == b"event: e\ndata: a\ndata: b\n\n"
    with pytest.raises(ValueError, match="not both"):
        ServerSentEvent("x", raw_data="y")
    with pytest.raises(TypeError, match="raw_data must be a str"):
        ServerSentEvent(raw_data=b"y")  # type: ignore[arg-type]
