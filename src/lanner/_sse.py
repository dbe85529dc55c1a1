"""Server-sent events: the event class, its wire encoding, and the loop that streams a generator.

`lanner.responses.EventSourceResponse` sends what `stream_events` produces; this module knows
nothing of responses. The format is the one the HTML standard defines for ``EventSource``
(``text/event-stream``, always UTF-8): ``field: value`` lines, an empty line ending each event.

One stream costs two tasks for its whole life, whatever the number of events: the pump, which
pulls the generator and sends each item itself (so the generator's context variables last from
one item to the next, as under a plain ``async for``), and the listener, which waits for
``http.disconnect`` and then cancels the pump, interrupting the generator wherever it waits. Pings
come from one timer per stream that fires once per `ping` seconds, not from a timeout per event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, NoReturn

import pydantic_core

from lanner.concurrency import default_pool
from lanner.types import Message, Receive, Send

__all__ = ["EventContent", "ServerSentEvent", "close_events", "encode_event", "stream_events"]

#: What an `EventSourceResponse` streams: events or plain values, from a sync or async iterable.
EventContent = AsyncIterable[Any] | Iterable[Any]

# The standard's line terminators: CRLF, a lone CR, a lone LF (not the other breaks splitlines knows).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PING = b": ping\n\n"


def _refuse(name: str, value: str, forbidden: str) -> NoReturn:
    shown = " or ".join(repr(char) for char in forbidden)
    raise ValueError(f"A server-sent event's {name} must not contain {shown}: {value!r}")


def _text(value: Any) -> str:
    """The text a value is sent as: ``str`` as is, ``bytes`` decoded as UTF-8, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return pydantic_core.to_json(value).decode("utf-8")


def _data(value: Any) -> bytes:
    """The ``data`` lines of `value` and the empty line that ends the event, as bytes."""
    kind = type(value)
    if kind is str:
        # PERF(sse-fanout): a one-line str is written in one piece, without the regex split and
        # the list of lines: 0.61 -> 0.16 us an event.
        if "\n" not in value and "\r" not in value:
            return f"data: {value}\n\n".encode()
    elif kind is dict or kind is list:
        # PERF(sse-fanout): JSON text is one line (CR and LF in strings are escaped) and
        # pydantic-core's bytes are UTF-8 already: no decode, split, encode; 1.23 -> 0.36 us.
        return b"data: " + pydantic_core.to_json(value) + b"\n\n"
    text = _text(value)
    return "".join([*(f"data: {line}\n" for line in _LINE_BREAK.split(text)), "\n"]).encode()


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One server-sent event, checked when it is built.

    A generator given to `EventSourceResponse` yields these, or plain values, which are sent as
    the ``data`` of an unnamed event.

    Args:
        data: the payload. A ``str`` is sent as is (one ``data:`` line per line of it), ``bytes``
            are decoded as UTF-8, ``None`` sends no ``data`` field at all (an event with only an
            ``id`` or ``retry`` then updates the client without firing), and anything else (dicts,
            lists, pydantic models, dataclasses, numbers...) is sent as compact JSON.
        event: the event type the browser dispatches (``addEventListener(event, ...)``); without
            it the client fires ``message``.
        id: the event id; the browser sends it back as ``Last-Event-ID`` when it reconnects.
        retry: how many milliseconds the client waits before reconnecting.
        comment: a comment line (or several), ignored by clients; handy as a keep-alive.
        raw_data: text sent as the data as is (FastAPI's spelling; `data` sends a ``str`` as is
            too); give it or `data`, not both.

    Raises:
        ValueError: `event` or `id` contains CR or LF (which would start a new field), `id`
            contains NUL (clients ignore such ids), `retry` is negative, or both `data` and
            `raw_data` are given.
        TypeError: `event` or `comment` is not a ``str``, `id` neither a ``str`` nor an ``int``,
            `retry` not an ``int``.

    """

    data: Any = None
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None
    comment: str | None = None
    raw_data: str | None = None

    def __post_init__(self) -> None:
        if self.raw_data is not None:
            if self.data is not None:
                raise ValueError("give data or raw_data, not both")
            if not isinstance(self.raw_data, str):
                raise TypeError(f"raw_data must be a str, not {type(self.raw_data).__name__}")
            object.__setattr__(self, "data", self.raw_data)
        event = self.event
        if event is not None:
            if not isinstance(event, str):
                raise TypeError(f"event must be a str, not {type(event).__name__}")
            # PERF(sse-fanout): two `in` tests inline; a helper's any() over a generator of the
            # forbidden characters took 0.37 us an event.
            if "\r" in event or "\n" in event:
                _refuse("event", event, "\r\n")
        # PERF(sse-fanout): a plain int id (the usual counter) is only digits: not checked; a str
        # one is checked inline. With the event check: ServerSentEvent(d, event=, id=) 1.87 -> 0.97 us.
        id_ = self.id
        if id_ is not None and type(id_) is not int:
            if type(id_) is not str and (not isinstance(id_, str | int) or isinstance(id_, bool)):
                raise TypeError(f"id must be a str or an int, not {type(id_).__name__}")
            text = str(id_)
            if "\r" in text or "\n" in text or "\0" in text:
                _refuse("id", text, "\r\n\0")
        if self.retry is not None:
            if not isinstance(self.retry, int) or isinstance(self.retry, bool):
                raise TypeError(f"retry must be an int (milliseconds), not {type(self.retry).__name__}")
            if self.retry < 0:
                raise ValueError(f"retry must not be negative, got {self.retry}")
        if self.comment is not None and not isinstance(self.comment, str):
            raise TypeError(f"comment must be a str, not {type(self.comment).__name__}")

    def encode(self) -> bytes:
        """The event as ``text/event-stream`` bytes, the empty line that ends it included.

        Raises:
            ValueError: `data` is ``bytes`` that are not UTF-8, or text that cannot be encoded
                (a lone surrogate).
            pydantic_core.PydanticSerializationError: `data` cannot be serialised to JSON (it is
                a ``ValueError`` too).

        """
        head = f"event: {self.event}\n" if self.event is not None else ""
        if self.id is not None:
            head = f"{head}id: {self.id}\n"
        if self.retry is not None:
            head = f"{head}retry: {self.retry}\n"
        if self.comment is not None:
            lines = _LINE_BREAK.split(self.comment)
            head = "".join([*(f":{' ' if line else ''}{line}\n" for line in lines), head])
        if self.data is None:
            return f"{head}\n".encode()
        return head.encode() + _data(self.data)


def encode_event(item: Any) -> bytes:
    """Encode what a generator yielded: a `ServerSentEvent`, or any other value as its ``data``.

    A plain ``None`` is sent as the JSON ``null``.

    Raises:
        ValueError: as `ServerSentEvent.encode`.

    """
    if isinstance(item, ServerSentEvent):
        return item.encode()
    return _data(item)


class _AsyncSource:
    """An async iterable, pulled in the pump's own task (one context for every step)."""

    def __init__(self, iterable: AsyncIterable[Any]) -> None:
        iterator = aiter(iterable)
        self._iterator = iterator
        #: The next item; raises ``StopAsyncIteration`` at the end.
        self.pull: Callable[[], Awaitable[Any]] = iterator.__anext__

    async def close(self) -> None:
        # A generator cancelled while it awaited has already run its ``finally``; one suspended
        # at a ``yield`` runs it now.
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()


_END = object()  # what `_next_item` returns at the end: no iterator can yield it


def _next_item(iterator: Iterator[Any]) -> Any:
    return next(iterator, _END)


def _set_once(future: asyncio.Future[Future[None]], value: Future[None]) -> None:
    if not future.done():
        future.set_result(value)


class _SyncSource:
    """Pulls a blocking iterable one item at a time in lanner's default thread pool."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._iterator = iter(iterable)
        self._busy: Future[Any] | None = None

    async def pull(self) -> Any:
        """The next item, produced in the pool; raises ``StopAsyncIteration`` at the end."""
        self._busy = default_pool().submit(_next_item, self._iterator)
        item = await asyncio.wrap_future(self._busy)
        if item is _END:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is None:
            return
        loop = asyncio.get_running_loop()
        submitted: asyncio.Future[Future[None]] = loop.create_future()

        def close_in_pool(_: object = None) -> None:
            work = default_pool().submit(close)
            with suppress(RuntimeError):  # the loop is gone: nobody waits for the close
                loop.call_soon_threadsafe(_set_once, submitted, work)

        busy = self._busy
        if busy is None or busy.cancel():
            close_in_pool()
        else:
            # A thread is inside the generator, producing an item, and nothing can interrupt it:
            # the generator is closed in the pool as soon as that item is ready.
            busy.add_done_callback(close_in_pool)
        await asyncio.wrap_future(await submitted)


def _source(content: EventContent) -> _AsyncSource | _SyncSource:
    if isinstance(content, AsyncIterable):
        return _AsyncSource(content)
    return _SyncSource(content)


# A timer may fire this early (uvloop counts whole milliseconds): close enough to ping.
_TIMER_SLACK = 0.002


class _Stream:
    """One response's pump and pinger, sharing the send callable.

    The pump sends the events; a ping is sent by a short task of its own, started by the timer
    only while the pump waits for the generator. The pump never sends while that task does: it
    waits for the ping to be out first, so every event and ping is one body message.
    """

    __slots__ = ("_every", "_loop", "_timer", "error", "idle_since", "pinging", "pump", "send")

    def __init__(self, send: Send, ping: float | None) -> None:
        self.send = send
        self._every = ping
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        #: When the pump began waiting for the next item; ``None`` while it encodes or sends.
        self.idle_since: float | None = None
        self.pinging: asyncio.Task[None] | None = None
        #: What sending a ping raised (other than ``OSError``, a client that left).
        self.error: Exception | None = None
        self.pump: asyncio.Task[None] | None = None

    async def run_pump(self, source: _AsyncSource | _SyncSource) -> None:
        """Send each item as one body message, then the empty last one; close `source` after."""
        send, pull, now = self.send, source.pull, self._loop.time
        try:
            if self._every is not None:
                self._timer = self._loop.call_at(now() + self._every, self._tick)
            while True:
                # PERF(sse-fanout): the item is awaited right here, in this one task, while a timer
                # watches for pings. An asyncio.wait(timeout=ping) on a task per event cost 8.5 us
                # an event with a fake send; the benchmark went from 49 to 21 us of server CPU an
                # event (raw ASGI: 16).
                self.idle_since = now()
                try:
                    item = await pull()
                except StopAsyncIteration:
                    break
                self.idle_since = None
                body = encode_event(item)
                if self.pinging is not None:
                    await self.pinging
                try:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                except OSError:
                    return  # the client is gone: the same end as a disconnect message
            self.stop_pinging()
            if self.pinging is not None:
                await self.pinging
            with suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.stop_pinging()
            # Shielded: a cancel arriving while the source closes (the client left, so the pump
            # returned, then the disconnect message came and stream_events cancelled the pump)
            # must not cancel a close still queued in the pool and leave the generator open.
            closing = asyncio.ensure_future(source.close())
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                await closing
                raise

    def stop_pinging(self) -> None:
        """Cancel the timer: no ping starts after this (one being sent goes on)."""
        self.idle_since = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        assert self._every is not None
        now = self._loop.time()
        due = now + self._every
        since = self.idle_since
        if since is not None and self.pinging is None:
            if now + _TIMER_SLACK >= since + self._every:
                self.pinging = self._loop.create_task(self._send_ping())
            else:
                due = since + self._every  # an event went out meanwhile: count from it
        self._timer = self._loop.call_at(due, self._tick)

    async def _send_ping(self) -> None:
        try:
            await self.send({"type": "http.response.body", "body": _PING, "more_body": True})
        except Exception as exc:
            # The pump may be waiting on the generator for ever: stopping it closes the generator.
            if not isinstance(exc, OSError):
                self.error = exc
            if self.pump is not None:
                self.pump.cancel()
        else:
            if self.idle_since is not None:
                self.idle_since = self._loop.time()  # the ping counts: the next one in `ping` seconds
        finally:
            self.pinging = None


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        # Body messages nobody read are dropped one by one: nothing is buffered.
        if message["type"] == "http.disconnect":
            return


async def stream_events(content: EventContent, receive: Receive, send: Send, ping: float | None) -> None:
    """Send the items of `content` as events until it is exhausted or the client leaves.

    Sync iterables are pulled in the default thread pool. When the client disconnects (an
    ``http.disconnect`` arrives, or `send` raises ``OSError``) the iteration stops at once, even
    while the generator is waiting for its next item, and the generator is closed, so its
    ``finally`` runs before this returns. A sync generator busy producing an item is closed as
    soon as that item is ready.

    Args:
        content: the items (see `encode_event`).
        receive: the ASGI receive callable, watched for the disconnect.
        send: the ASGI send callable; the response start must already have been sent.
        ping: seconds without an event after which a ``: ping`` comment is sent; ``None`` or
            ``0`` sends none.

    Raises:
        Exception: whatever the iterator, its closing, or `receive` raises, and any error of
            `send` other than ``OSError``.

    """
    stream = _Stream(send, ping or None)
    pump = stream.pump = asyncio.create_task(stream.run_pump(_source(content)))
    listener = asyncio.create_task(_wait_for_disconnect(receive))
    try:
        await asyncio.wait((pump, listener), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Whichever ended first (or our own cancellation), no task may outlive this call.
        stream.stop_pinging()
        tasks = [pump, listener]
        if stream.pinging is not None:
            tasks.append(stream.pinging)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    for task in (pump, listener):
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    if stream.error is not None:
        raise stream.error


async def close_events(content: EventContent) -> None:
    """Close `content` without pulling anything from it (a ``HEAD`` request).

    Raises:
        Exception: whatever closing the iterator raises.

    """
    await _source(content).close()
