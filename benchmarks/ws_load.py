"""The load generator of the real-time benchmark: WebSocket echo clients and SSE listeners.

It runs as a process of its own, pinned by `benchmarks.realtime` to the load CPU, on the
loop uvloop gives (asyncio's otherwise), with no client library: each connection is an
``asyncio.Protocol`` whose ``data_received`` parses the frames or events and answers in place,
so a message costs the client a few microseconds and no task switch.

``python -m benchmarks.ws_load ws --port P --path /echo --payload text --clients 64`` opens the
sockets, then each one sends its message, waits for the echo and sends again, for ``--warmup``
then ``--duration`` seconds. ``python -m benchmarks.ws_load sse --port P --path /events
--clients 1000`` opens the event streams and counts events, checking that every stream's ids are
consecutive. Both print ``start`` and ``stop`` lines around the measured window (so that the
caller can read the server's CPU time there), then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import resource
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any, cast

from benchmarks.apps.ws_common import JSON_PAYLOAD, TEXT_PAYLOAD, ChatMessage

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
PAYLOADS = {"text": TEXT_PAYLOAD, "json": JSON_PAYLOAD}
"""The message each ``ws`` client sends, by ``--payload``."""

INVALID_PAYLOAD = JSON_PAYLOAD.replace('"author":{"id":5512', '"author":{"id":0', 1)
"""`JSON_PAYLOAD` with ``author.id`` 0, which well-formed JSON allows and `ChatMessage` does not."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the value below which `fraction` (0 to 1) of `values` lie (nearest rank); 0 if empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def client_frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """Encode one final client frame: clients must mask their payload with a 4-byte key (RFC 6455)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    repeated = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")
    return head + mask + masked


def split_frames(buffer: bytes) -> tuple[list[tuple[int, bool, bytes]], bytes]:
    """Cut the complete server frames (unmasked) off `buffer`.

    Returns:
        ``(opcode, final, payload)`` for each complete frame, and the bytes left over.
    """
    frames, pos, end = [], 0, len(buffer)
    while end - pos >= 2:
        size, head = buffer[pos + 1] & 0x7F, 2
        if size == 126:
            if end - pos < 4:
                break
            size, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
        elif size == 127:
            if end - pos < 10:
                break
            size, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
        stop = pos + head + size
        if stop > end:
            break
        first = buffer[pos]
        frames.append((first & 0x0F, bool(first & 0x80), buffer[pos + head : stop]))
        pos = stop
    return frames, buffer[pos:]


class Window:
    """The measured window shared by every connection: warm-up, measuring, then stopping."""

    def __init__(self) -> None:
        self.measuring = False
        self.stopping = False
        self.messages = 0
        self.errors: list[str] = []
        self.latencies = array("d")

    def error(self, text: str) -> None:
        """Record a failure (only the first few are kept verbatim)."""
        if len(self.errors) < 20:
            self.errors.append(text)


class EchoClient(asyncio.Protocol):
    """One WebSocket connection: handshake, then send, await the echo, send again, until stopped."""

    def __init__(self, host: str, path: str, payload: str, window: Window, check: Callable[[bytes], str]):
        self.window, self.check = window, check
        key = base64.b64encode(os.urandom(16))
        self.accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.mask = os.urandom(4)
        # The payload never changes, so its masked frame is built once.
        self.frame = client_frame(_TEXT, payload.encode(), self.mask)
        self.buffer = b""
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.expected: bytes | None = None
        self.sent_at = 0.0
        self.waiting = self.closing = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.open.done():
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = buffer
                return
            if not head.startswith(b"HTTP/1.1 101") or self.accept not in head:
                self.open.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode("latin-1")))
                return
            self.open.set_result(None)
            buffer = rest
        frames, self.buffer = split_frames(buffer)
        for opcode, final, payload in frames:
            if opcode == _TEXT and final:
                self.echoed(payload)
            elif opcode == _PING:
                self.write(client_frame(_PONG, payload, self.mask))
            elif opcode == _CLOSE:
                if not self.window.stopping:
                    self.window.error(f"closed by the server: {payload[:2].hex()} {payload[2:80]!r}")
                if not self.closed.done():
                    self.closed.set_result(None)
            else:
                self.window.error(f"unexpected frame: opcode {opcode}, final {final}")

    def echoed(self, payload: bytes) -> None:
        """Check an answer, count it when measuring, and send the next message."""
        window = self.window
        now = time.perf_counter()
        if payload != self.expected:
            problem = self.check(payload) if self.expected is None else "not the first answer again"
            if problem:
                window.error(f"wrong answer ({problem}): {payload[:80]!r}")
                window.stopping = True
            else:
                self.expected = payload  # every later answer must be byte for byte the same
        if window.measuring:
            window.messages += 1
            window.latencies.append(now - self.sent_at)
        if window.stopping:
            self.close()
        else:
            self.send()

    def send(self) -> None:
        """Send the message once more."""
        self.waiting = True
        self.sent_at = time.perf_counter()
        self.write(self.frame)

    def close(self) -> None:
        """Send a close frame (code 1000), once no echo is awaited (so none meets a closing socket)."""
        self.waiting = False
        if not self.closing:
            self.closing = True
            self.write(client_frame(_CLOSE, (1000).to_bytes(2, "big"), self.mask))

    def write(self, data: bytes) -> None:
        """Write to the socket unless it is closing."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.window.stopping:
            self.window.error(f"connection lost: {exc!r}")
        if not self.closed.done():
            self.closed.set_result(None)


def echo_check(payload: str) -> Callable[[bytes], str]:
    """Return the check of a first answer: the text itself, or a message equal to the one sent."""
    if payload == TEXT_PAYLOAD:
        sent = payload.encode()
        return lambda answer: "" if answer == sent else "not the text sent"
    expected = ChatMessage.model_validate_json(payload)

    def check(answer: bytes) -> str:
        try:
            same = ChatMessage.model_validate_json(answer) == expected
        except ValueError as exc:
            return f"not a ChatMessage: {exc}"
        return "" if same else "a different ChatMessage"

    return check


async def _connect_all(
    connect: Callable[[], Any], count: int, batch: int = 100, timeout: float = 30.0
) -> list[Any]:
    """Open `count` connections, `batch` at a time; each ``connect()`` returns a coroutine."""
    opened: list[Any] = []
    async with asyncio.timeout(timeout):
        for start in range(0, count, batch):
            opened += await asyncio.gather(*(connect() for _ in range(min(batch, count - start))))
    return opened


def _mark(word: str) -> None:
    print(word, flush=True)


async def check_validation(port: int, path: str, timeout: float = 3.0, host: str = "127.0.0.1") -> str:
    """Send `INVALID_PAYLOAD` once: a typed endpoint must not echo it.

    Closing the socket (lanner, Litestar, or an unhandled ``ValidationError``) or answering with
    an error message both pass.

    Returns:
        "" when the message was refused, else what went wrong.
    """
    loop, window = asyncio.get_running_loop(), Window()

    def echoed_back(answer: bytes) -> str:
        try:
            author = json.loads(answer).get("author") or {}
        except (ValueError, AttributeError):
            return ""
        return (
            "the invalid message was echoed: the endpoint does not validate" if author.get("id") == 0 else ""
        )

    try:
        async with asyncio.timeout(timeout):
            _, client = await loop.create_connection(
                lambda: EchoClient(f"{host}:{port}", path, INVALID_PAYLOAD, window, echoed_back), host, port
            )
            await client.open
            client.send()
            while not client.closed.done() and not window.errors and client.expected is None:
                await asyncio.sleep(0.01)
    except (TimeoutError, OSError) as exc:
        return f"no answer to an invalid message: {exc!r}"
    finally:
        window.stopping = True
    if client.transport is not None:
        client.transport.close()
    return "; ".join(error for error in window.errors if "echoed" in error)


async def run_ws(
    port: int, path: str, payload: str, clients: int, warmup: float, duration: float, host: str = "127.0.0.1"
) -> dict[str, Any]:
    """Run the echo load: `clients` sockets, each sending `payload` again as soon as it comes back.

    Returns:
        ``messages``, ``seconds``, ``rate`` (echoes per second), ``p50_ms``, ``p99_ms``,
        ``client_cpu`` (the share of one CPU this process used while measuring) and ``errors``.
    """
    loop = asyncio.get_running_loop()
    window = Window()
    check = echo_check(payload)

    async def connect() -> EchoClient:
        _, client = await loop.create_connection(
            lambda: EchoClient(f"{host}:{port}", path, payload, window, check), host, port
        )
        await client.open
        return client

    sockets: list[EchoClient] = await _connect_all(connect, clients)
    for client in sockets:
        client.send()
    await asyncio.sleep(warmup)
    _mark("start")
    cpu, began = time.process_time(), time.perf_counter()
    window.measuring = True
    await asyncio.sleep(duration)
    window.measuring = False
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    _mark("stop")
    window.stopping = True
    for client in sockets:
        if not client.waiting:
            client.close()  # the others close when their echo comes back
    await asyncio.wait([c.closed for c in sockets], timeout=2)
    for client in sockets:
        if client.transport is not None:
            client.transport.close()
    latencies = window.latencies
    return {
        "messages": window.messages,
        "seconds": seconds,
        "rate": window.messages / seconds,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "client_cpu": cpu / seconds,
        "connections": len(sockets),
        "errors": window.errors,
    }


class EventWindow:
    """What every event stream saw: the newest id, the gaps, and the events of the measured window."""

    def __init__(self) -> None:
        self.latest = 0
        self.gaps = 0
        self.recording = False
        self.ids = array("q")
        self.lags = array("d")
        self.errors: list[str] = []
        self.lost = 0

    def error(self, text: str) -> None:
        """Record a failure (only the first few are kept verbatim)."""
        if len(self.errors) < 20:
            self.errors.append(text)


class EventClient(asyncio.Protocol):
    """One ``text/event-stream`` response, read with httptools (which undoes the chunked encoding).

    Every event must carry ``id: N`` with N one more than the previous event's, and ``data:`` JSON
    with ``t``, the server's ``time.time()`` when it published the event.
    """

    def __init__(self, host: str, path: str, window: EventWindow) -> None:
        import httptools  # only the SSE load needs it (uvicorn[standard] brings it)

        self.window = window
        self.parser = httptools.HttpResponseParser(self)
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending = b""
        self.last: int | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError and friends
            self.window.error(f"bad response: {exc!r}")
            if self.transport is not None:
                self.transport.close()

    def on_headers_complete(self) -> None:
        """httptools: the status and headers are in."""
        status = self.parser.get_status_code()
        if status == 200:
            self.open.set_result(None)
        else:
            self.open.set_exception(ConnectionError(f"status {status}"))

    def on_body(self, body: bytes) -> None:
        """httptools: a piece of the (de-chunked) body; complete events end with an empty line."""
        *events, self.pending = (self.pending + body).split(b"\n\n")
        for block in events:
            if not block.startswith(b":"):  # a comment (ping) otherwise
                self.event(block)

    def event(self, block: bytes) -> None:
        """Check one event's id against the previous one; record it when measuring."""
        window, ident, data = self.window, -1, b""
        for line in block.split(b"\n"):
            if line.startswith(b"id: "):
                ident = int(line[4:])
            elif line.startswith(b"data: "):
                data = line[6:]
        if ident < 0:
            window.error(f"event without an id: {block[:80]!r}")
            return
        last = self.last
        if last is not None and ident != last + 1:
            if ident > last:
                window.gaps += ident - last - 1
            else:
                window.error(f"event {ident} after {last}")
        self.last = ident
        if ident > window.latest:
            window.latest = ident
        if window.recording:
            window.ids.append(ident)
            window.lags.append(time.time() - json.loads(data)["t"])

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed before the response"))
        elif self.window.recording or not self.window.ids:
            self.window.lost += 1


async def run_sse(
    port: int,
    path: str,
    clients: int,
    warmup: float,
    duration: float,
    grace: float = 1.0,
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """Run the fan-out load: `clients` event streams, read for `warmup` then `duration` seconds.

    The window is measured by event id: the events published between its start and its end (by
    the newest id any stream had seen), each of which every stream must receive, within `grace`
    seconds after the end at the latest.

    Returns:
        ``connections``, ``events`` (delivered in the window), ``expected``, ``missing``,
        ``gaps`` (ids skipped, over the whole run), ``ticks_per_s``, ``p50_ms``/``p99_ms``/
        ``max_ms`` delivery lag, ``client_cpu``, ``lost`` connections and ``errors``.
    """
    loop = asyncio.get_running_loop()
    window = EventWindow()

    async def connect() -> EventClient:
        _, client = await loop.create_connection(
            lambda: EventClient(f"{host}:{port}", path, window), host, port
        )
        await client.open
        return client

    streams: list[EventClient] = await _connect_all(connect, clients)
    await asyncio.sleep(warmup)
    _mark("start")
    cpu, began = time.process_time(), time.perf_counter()
    first = window.latest
    window.recording = True
    await asyncio.sleep(duration)
    last = window.latest
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    _mark("stop")
    await asyncio.sleep(grace)
    window.recording = False
    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    chosen = [i for i, ident in enumerate(window.ids) if first < ident <= last]
    lags = [window.lags[i] for i in chosen]
    expected = (last - first) * len(streams)
    return {
        "connections": len(streams),
        "events": len(chosen),
        "expected": expected,
        "missing": expected - len(chosen),
        "gaps": window.gaps,
        "seconds": seconds,
        "ticks_per_s": (last - first) / seconds,
        "rate": len(chosen) / seconds,
        "p50_ms": percentile(lags, 0.5) * 1000,
        "p99_ms": percentile(lags, 0.99) * 1000,
        "max_ms": max(lags, default=0.0) * 1000,
        "client_cpu": cpu / seconds,
        "lost": window.lost,
        "errors": window.errors,
    }


def raise_fd_limit() -> None:
    """Raise the soft limit of open files to the hard one (1,000 streams need more than 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ws_load", description=__doc__)
    parser.add_argument("kind", choices=("ws", "sse"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default=None, help="default /echo (ws) or /events (sse)")
    parser.add_argument("--payload", choices=tuple(PAYLOADS), default="text", help="ws: the message")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.warmup < 0 or args.duration <= 0:
        parser.error("--clients must be at least 1, --warmup not negative, --duration positive")
    if args.path is None:
        args.path = "/events" if args.kind == "sse" else "/echo"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one load and print its JSON line; 1 when it recorded errors."""
    args = parse_args(argv)
    raise_fd_limit()
    if args.kind == "ws":
        work = run_ws(args.port, args.path, PAYLOADS[args.payload], args.clients, args.warmup, args.duration)
    else:
        work = run_sse(args.port, args.path, args.clients, args.warmup, args.duration)
    try:
        import uvloop  # optional: asyncio's own loop works, only slower
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result), flush=True)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
