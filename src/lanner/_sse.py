"""Server-sent events: the event class, its wire encoding, and the loop that streams a generator.

`lanner.responses.EventSourceResponse` sends what `stream_events` produces; this module knows
nothing of responses. The format is the one the HTML standard defines for ``EventSource``
(``text/event-stream``, always UTF-8): ``field: value`` lines, an empty line ending each event.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import re
from collections.abc import AsyncIterable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from typing import Any

import pydantic_core

from lanner.concurrency import default_pool
from lanner.types import Message, Receive, Send

__all__ = ["EventContent", "ServerSentEvent", "close_events", "encode_event", "stream_events"]

#: What an `EventSourceResponse` streams: events or plain values, from a sync or async iterable.
EventContent = AsyncIterable[Any] | Iterable[Any]

# The standard's line terminators: CRLF, a lone CR, a lone LF (not the other breaks splitlines knows).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PING = b": ping\n\n"


class _End(enum.Enum):
    # The iterator is exhausted; a value no generator can yield.
    TOKEN = enum.auto()


def _check_field(name: str, value: str, forbidden: str) -> None:
    if any(char in value for char in forbidden):
        shown = " or ".join(repr(char) for char in forbidden)
        raise ValueError(f"A server-sent event's {name} must not contain {shown}: {value!r}")


def _text(value: Any) -> str:
    """The text a value is sent as: ``str`` as is, ``bytes`` decoded as UTF-8, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return pydantic_core.to_json(value).decode("utf-8")


def _lines(field: str, text: str) -> list[str]:
    return [f"{field}: {line}\n" for line in _LINE_BREAK.split(text)]


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
        if self.event is not None:
            if not isinstance(self.event, str):
                raise TypeError(f"event must be a str, not {type(self.event).__name__}")
            _check_field("event", self.event, "\r\n")
        if self.id is not None:
            if not isinstance(self.id, str | int) or isinstance(self.id, bool):
                raise TypeError(f"id must be a str or an int, not {type(self.id).__name__}")
            _check_field("id", str(self.id), "\r\n\0")
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
        lines: list[str] = []
        if self.comment is not None:
            lines += [f":{' ' if line else ''}{line}\n" for line in _LINE_BREAK.split(self.comment)]
        if self.event is not None:
            lines.append(f"event: {self.event}\n")
        if self.id is not None:
            lines.append(f"id: {self.id}\n")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}\n")
        if self.data is not None:
            lines += _lines("data", _text(self.data))
        lines.append("\n")
        return "".join(lines).encode("utf-8")


def encode_event(item: Any) -> bytes:
    """Encode what a generator yielded: a `ServerSentEvent`, or any other value as its ``data``.

    A plain ``None`` is sent as the JSON ``null``.

    Raises:
        ValueError: as `ServerSentEvent.encode`.

    """
    if isinstance(item, ServerSentEvent):
        return item.encode()
    return "".join([*_lines("data", _text(item)), "\n"]).encode("utf-8")


class _AsyncSource:
    """Pulls an async iterable one item at a time, each in a task that can be cancelled."""

    def __init__(self, iterable: AsyncIterable[Any]) -> None:
        self._iterator = aiter(iterable)
        self._pending: asyncio.Task[Any] | None = None
        # Every step runs in one context, as it would under a plain ``async for``.
        self._context = contextvars.copy_context()

    def next(self) -> asyncio.Future[Any]:
        self._pending = asyncio.create_task(self._next(), context=self._context)
        return self._pending

    async def _next(self) -> Any:
        return await anext(self._iterator, _End.TOKEN)

    async def close(self) -> None:
        pending = self._pending
        if pending is not None and not pending.done():
            # The generator is suspended in an ``await`` (waiting for its next item): cancelling
            # the step raises CancelledError there, so its ``finally`` runs now.
            pending.cancel()
            await asyncio.wait((pending,))
        if pending is not None and not pending.cancelled():
            pending.exception()  # retrieved: the caller has the error, or nobody wants it
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _next_item(iterator: Iterator[Any]) -> Any:
    return next(iterator, _End.TOKEN)


def _set_once(future: asyncio.Future[Future[None]], value: Future[None]) -> None:
    if not future.done():
        future.set_result(value)


class _SyncSource:
    """Pulls a blocking iterable one item at a time in lanner's default thread pool."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._iterator = iter(iterable)
        self._busy: Future[Any] | None = None

    def next(self) -> asyncio.Future[Any]:
        self._busy = default_pool().submit(_next_item, self._iterator)
        return asyncio.wrap_future(self._busy)

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


class _Gone(Exception):
    """Writing to the client failed: it is gone."""


async def _write(send: Send, body: bytes, more_body: bool = True) -> None:
    try:
        await send({"type": "http.response.body", "body": body, "more_body": more_body})
    except OSError as exc:
        raise _Gone from exc


async def _pump(source: _AsyncSource | _SyncSource, send: Send, ping: float | None) -> None:
    """Send each item as one body message, a ping comment whenever `ping` seconds pass without one."""
    try:
        while True:
            pending = source.next()
            while not (await asyncio.wait((pending,), timeout=ping))[0]:
                await _write(send, _PING)
            item = pending.result()
            if item is _End.TOKEN:
                break
            await _write(send, encode_event(item))
        await _write(send, b"", more_body=False)
    except _Gone:
        pass  # the same end as a disconnect message
    finally:
        await source.close()


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
    pump = asyncio.create_task(_pump(_source(content), send, ping or None))
    listener = asyncio.create_task(_wait_for_disconnect(receive))
    try:
        await asyncio.wait((pump, listener), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Whichever ended first (or our own cancellation), neither task may outlive this call.
        listener.cancel()
        pump.cancel()
        await asyncio.wait((pump, listener))
    for task in (pump, listener):
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def close_events(content: EventContent) -> None:
    """Close `content` without pulling anything from it (a ``HEAD`` request).

    Raises:
        Exception: whatever closing the iterator raises.

    """
    await _source(content).close()
