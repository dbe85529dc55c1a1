"""The WebSocket connection as a handler sees it: accept, receive, send and close, within limits.

Every receive is bounded: a message over ``max_message_size`` closes the socket with 1009, a
client silent for ``idle_timeout`` seconds is closed with 1001, a text frame where bytes were
expected (or the reverse) with 1003, and a JSON message that does not parse or validate with 1007
(or, with ``on_invalid="reply"``, an error message while the socket stays open). Sends are
bounded too: more than ``max_send_queue`` sends waiting on a slow client close it with 1008. A
client that leaves raises `WebSocketDisconnect` in the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import pydantic_core

from lanner._json import loads_strict
from lanner._validation import ValueValidator
from lanner.exceptions import MalformedBodyError
from lanner.requests import HTTPConnection
from lanner.types import Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_LIMITS",
    "CloseCode",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketLimits",
    "WebSocketState",
]

M = TypeVar("M")
OnInvalid = Literal["close", "reply"]
#: RFC 6455 caps a close frame's reason at 123 bytes of UTF-8.
_MAX_REASON = 123


class CloseCode(enum.IntEnum):
    """The WebSocket close codes lanner sends or reports (RFC 6455 section 7.4.1).

    ``ABNORMAL`` (1006) is only ever reported: the connection dropped without a close frame.
    """

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    ABNORMAL = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class WebSocketState(enum.Enum):
    """Where one side of a WebSocket is: before the handshake, open, or closed."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    #: The handshake was answered with an HTTP response instead (an error before ``accept``).
    RESPONSE = 3


class WebSocketDisconnect(Exception):
    """The socket is closed: the client left (or lanner closed it over a limit or bad message).

    Attributes:
        code: the close code (1000 normal, 1001 going away, 1006 gone without a close frame...).
        reason: the close reason, when one was given.
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"WebSocket closed with code {self.code}" + (f": {self.reason}" if self.reason else "")


class WebSocketException(Exception):
    """Raise in a WebSocket handler or dependency to close the socket with `code` and `reason`.

    Before ``accept`` the server refuses the handshake (HTTP 403) instead: the client sees the code
    only once the socket was accepted.

    Raises:
        ValueError: `code` is not one an application may send (see `WebSocket.close`).
    """

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        _check_close_code(code)
        super().__init__(code, reason)
        self.code = code
        self.reason = reason or ""


@dataclasses.dataclass(frozen=True, slots=True)
class WebSocketLimits:
    """What one socket may cost; set per app and per route.

    Attributes:
        max_message_size: the largest message accepted, in bytes (1009 close beyond).
        idle_timeout: seconds a receive waits for the client before closing with 1001 (None: no
            limit).
        max_send_queue: sends that may wait on a slow client at once (1008 close beyond).
        on_invalid: what a message that fails ``receive_json(Model)`` gets: ``"close"`` (1007)
            or ``"reply"`` (an error message; the socket stays open).
    """

    max_message_size: int = 1024 * 1024
    idle_timeout: float | None = 300.0
    max_send_queue: int = 64
    on_invalid: OnInvalid = "close"

    def __post_init__(self) -> None:
        if self.max_message_size < 1:
            raise ValueError(f"max_message_size must be at least 1, not {self.max_message_size}")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive or None, not {self.idle_timeout}")
        if self.max_send_queue < 1:
            raise ValueError(f"max_send_queue must be at least 1, not {self.max_send_queue}")
        if self.on_invalid not in ("close", "reply"):
            raise ValueError(f"on_invalid must be 'close' or 'reply', not {self.on_invalid!r}")


DEFAULT_LIMITS = WebSocketLimits()
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
#: Close frames sent in the background (to slow clients), kept alive until sent.
_closing: set[asyncio.Future[None]] = set()
_validators: dict[Any, ValueValidator] = {}


def _validator(model: Any) -> ValueValidator:
    """One validator per message type, built on first use and kept (types are few and long-lived)."""
    validator = _validators.get(model)
    if validator is None:
        validator = _validators[model] = ValueValidator("message", model)
    return validator


#: The close codes an endpoint may send (RFC 6455 section 7.4 and the IANA registry).
_SENDABLE = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)))


def _check_close_code(code: int) -> None:
    if code not in _SENDABLE:
        allowed = "1000-1003, 1007-1014, 3000-4999"
        raise ValueError(f"{code} is not a close code an application may send ({allowed})")


def _raw(text: str | bytes) -> bytes:
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    if b"\r" in raw or b"\n" in raw or b"\0" in raw:
        raise ValueError(f"a header may not contain CR, LF or NUL: {raw!r}")
    return raw


def _short(reason: str) -> str:
    """`reason` cut to what a close frame carries."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= _MAX_REASON:
        return reason
    return encoded[: _MAX_REASON - 3].decode("utf-8", "ignore") + "..."


class _IdleTimer:
    """Close a socket whose receive waited ``timeout`` seconds: one timer per socket.

    A receive only flags `waiting` and, once a message came, counts it in `received`. The timer
    looks every quarter of ``timeout``: a receive still waiting, with no message, after four looks
    in a row has waited at least ``timeout`` (and less than 1.25 times it). Then `on_idle` closes
    the socket; the waiting receive gets the server's disconnect, so no task is cancelled.
    """

    __slots__ = ("_handle", "_looks", "_seen", "on_idle", "received", "timeout", "waiting")

    #: Looks per timeout: the closing comes at most a quarter of the timeout late.
    LOOKS = 4

    def __init__(self, timeout: float, on_idle: Callable[[], None]) -> None:
        self.timeout = timeout
        self.on_idle = on_idle
        self._handle: asyncio.TimerHandle | None = None
        #: Whether a receive is waiting for the client now.
        self.waiting = False
        #: Messages received so far.
        self.received = 0
        self._seen = -1
        self._looks = 0

    def arm(self) -> None:
        """Start looking (at ``accept``: the timer needs the running loop)."""
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.timeout / self.LOOKS, self._look)

    def stop(self) -> None:
        """Stop looking for good (the socket is done)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _look(self) -> None:
        if self.waiting and self.received == self._seen:
            self._looks += 1
        else:
            self._seen, self._looks = self.received, 0
        if self._looks >= self.LOOKS:
            self._handle = None
            self.on_idle()
            return
        self._handle = asyncio.get_running_loop().call_later(self.timeout / self.LOOKS, self._look)


class _Messages(AsyncIterator[Any]):
    """`iter_text` and `iter_bytes`: each step is the socket's own receive, with no generator.

    PERF(ws-echo): an async generator adds a frame to every resumption of a suspended receive.
    """

    __slots__ = ("_socket", "_want")

    def __init__(self, socket: WebSocket, want: type) -> None:
        self._socket = socket
        self._want = want

    def __aiter__(self) -> _Messages:
        return self

    def __anext__(self) -> Coroutine[Any, Any, Any]:
        return self._socket._next(want=self._want, iterating=True)


class WebSocket(HTTPConnection):
    """One WebSocket connection.

    Args:
        scope: the ASGI ``websocket`` scope.
        receive, send: the ASGI callables.
        limits: the socket's limits (`WebSocketLimits`).
    """

    __slots__ = (
        "_closed_by",
        "_idle",
        "_max_send",
        "_max_size",
        "_receive",
        "_send",
        "_sending",
        "application_state",
        "client_state",
        "limits",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, limits: WebSocketLimits = DEFAULT_LIMITS):
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self.limits = limits
        self._idle: _IdleTimer | None = None
        if limits.idle_timeout is not None:
            self._idle = _IdleTimer(limits.idle_timeout, self._close_idle)
        #: The code and reason lanner closed the socket with (a limit), for the handler to see.
        self._closed_by: tuple[int, str] | None = None
        self._max_size = limits.max_message_size
        self._sending = 0
        self._max_send = limits.max_send_queue
        #: The client's side: CONNECTING until its handshake is read, DISCONNECTED once it left.
        self.client_state = WebSocketState.CONNECTING
        #: The app's side: CONNECTING until `accept`, DISCONNECTED once closed.
        self.application_state = WebSocketState.CONNECTING

    # -- what the handshake carried ------------------------------------------------------------

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols") or ())

    # -- the connection ---------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str | bytes, str | bytes]] | None = None,
    ) -> None:
        """Complete the handshake, choosing `subprotocol` and adding `headers` to the answer.

        `headers` is a mapping or a list of pairs, of text or (Starlette's habit) bytes.

        Raises:
            RuntimeError: the socket was already accepted or closed.
            WebSocketDisconnect: the client left before the handshake completed.
        """
        if self.client_state is WebSocketState.CONNECTING:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self.client_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(message.get("code", 1006), message.get("reason"))
            self.client_state = WebSocketState.CONNECTED
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError(f"accept() on a WebSocket that is {self.application_state.name.lower()}")
        pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
        raw = [(_raw(name).lower(), _raw(value)) for name, value in pairs]
        self.application_state = WebSocketState.CONNECTED
        if self._idle is not None:
            self._idle.arm()
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the socket; before `accept` the handshake is refused (HTTP 403). Twice is a no-op.

        Raises:
            ValueError: `code` is not one an application may send (1000-1003, 1007-1014, or
                3000-4999; 1005, 1006 and 1015 only ever describe a close, never start one).
        """
        _check_close_code(code)
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        if self.application_state is _CONNECTED:
            self._closed_by = (code, _short(reason or ""))
        self.application_state = WebSocketState.DISCONNECTED
        self.release()
        if self.client_state is WebSocketState.DISCONNECTED:
            return
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": _short(reason or "")})
        except OSError:
            self.client_state = WebSocketState.DISCONNECTED

    def release(self) -> None:
        """Stop the socket's idle timer (lanner calls this when the handler returns)."""
        if self._idle is not None:
            self._idle.stop()

    async def receive(self) -> Message:
        """Return the next ASGI message from the client.

        A client silent for ``idle_timeout`` is closed with 1001, and this returns the
        ``websocket.disconnect`` that follows; a message over ``max_message_size`` closes the
        socket with 1009.

        Raises:
            WebSocketDisconnect: the message was over ``max_message_size``.
            RuntimeError: the client has already disconnected.
        """
        return await self._next(raw=True)  # type: ignore[no-any-return]

    async def send(self, message: Message) -> None:
        """Send an ASGI message, bounded by ``max_send_queue`` sends waiting at once.

        Raises:
            WebSocketDisconnect: the socket is closed (the code it was closed with; 1006 when the
                client went away), or more than ``max_send_queue`` sends (from several tasks) were
                waiting on a client that does not read (the socket is then closed with 1008).
        """
        if self.application_state is _DISCONNECTED or self.client_state is _DISCONNECTED:
            # Nothing may follow a close: the server would refuse the message with an error.
            raise WebSocketDisconnect(*(self._closed_by or (CloseCode.ABNORMAL, "")))
        if self._sending >= self._max_send:
            self._give_up_on_slow_client()
        self._sending += 1
        try:
            await self._send(message)
        except OSError:
            self.client_state = self.application_state = _DISCONNECTED
            raise WebSocketDisconnect(CloseCode.ABNORMAL) from None
        finally:
            self._sending -= 1

    def _give_up_on_slow_client(self) -> None:
        """Close a client that does not read: its close frame waits behind the blocked sends."""
        reason = "send queue full: the client reads too slowly"
        self._close_soon(CloseCode.POLICY_VIOLATION, reason)
        raise WebSocketDisconnect(CloseCode.POLICY_VIOLATION, reason)

    def _close_idle(self) -> None:
        """The idle timer's verdict: close; the waiting receive then gets the disconnect."""
        assert self._idle is not None
        self._close_soon(CloseCode.GOING_AWAY, f"no message for {self._idle.timeout:g} seconds")

    def _close_soon(self, code: int, reason: str) -> None:
        """Close from outside the handler's flow, in a task of its own (kept until it is sent)."""
        if self.application_state is not _CONNECTED:
            return
        self.application_state = _DISCONNECTED
        self._closed_by = (code, reason)
        closing = asyncio.ensure_future(self._close_quietly(code, reason))
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)

    async def _close_quietly(self, code: int, reason: str) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # -- messages ----------------------------------------------------------------------------

    async def _next(self, raw: bool = False, want: type | None = None, iterating: bool = False) -> Any:
        """The next message's payload, after the connection and size checks.

        `raw`: return the ASGI message itself. `want`: ``str`` or ``bytes``, the other kind closes
        the socket with 1003. `iterating`: the socket closing ends an iteration
        (`StopAsyncIteration`) instead of raising `WebSocketDisconnect`. The message waits at most
        ``idle_timeout``; the states follow what it says.
        """
        # PERF(ws-echo): the only coroutine between `async for` (or `receive_text`) and the
        # server's receive, and the states read as module constants (an enum member lookup costs
        # ~75 ns).
        try:
            if self.application_state is not _CONNECTED and not raw:
                if self._closed_by is not None:
                    raise WebSocketDisconnect(*self._closed_by)
                raise RuntimeError("the WebSocket is not accepted: call `await websocket.accept()` first")
            if self.client_state is _DISCONNECTED:
                raise RuntimeError("receive() after the client disconnected")
            idle = self._idle
            if idle is None:
                message = await self._receive()
            else:
                # PERF(ws-echo): a flag and a count per receive; the timer does the rest.
                idle.waiting = True
                try:
                    message = await self._receive()
                finally:
                    idle.waiting = False
                idle.received += 1
            kind = message["type"]
            if kind != "websocket.receive":
                if kind == "websocket.disconnect":
                    self.client_state = self.application_state = _DISCONNECTED
                    self.release()
                    if not raw:
                        if self._closed_by is not None:  # lanner closed it over a limit: say which
                            raise WebSocketDisconnect(*self._closed_by)
                        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
                elif kind == "websocket.connect":
                    self.client_state = _CONNECTED
                if raw:
                    return message
            text: str | None = message.get("text")
            if text is not None:
                # PERF(ws-echo): a character is at most 4 bytes, so most texts skip the encoding.
                if len(text) * 4 > self._max_size and len(text.encode("utf-8")) > self._max_size:
                    await self._too_big()
                if raw:
                    return message
                if want is bytes:
                    await self._refuse(CloseCode.UNSUPPORTED_DATA, "expected a binary message")
                return text
            data: bytes = message.get("bytes") or b""
            if len(data) > self._max_size:
                await self._too_big()
            if raw:
                return message
            if want is str:
                await self._refuse(CloseCode.UNSUPPORTED_DATA, "expected a text message")
            return data
        except WebSocketDisconnect:
            if iterating:
                raise StopAsyncIteration from None
            raise

    async def _too_big(self) -> None:
        await self._refuse(CloseCode.MESSAGE_TOO_BIG, f"message over {self._max_size} bytes")

    async def _refuse(self, code: int, reason: str) -> None:
        """Close with `code` and raise the `WebSocketDisconnect` the handler sees."""
        await self.close(code, reason)
        raise WebSocketDisconnect(code, _short(reason))

    async def receive_text(self) -> str:
        """Return the next text message (a binary one closes the socket with 1003).

        Raises:
            WebSocketDisconnect: the socket closed (see the module's limits).
        """
        return cast(str, await self._next(want=str))

    async def receive_bytes(self) -> bytes:
        """Return the next binary message (a text one closes the socket with 1003).

        Raises:
            WebSocketDisconnect: the socket closed (see the module's limits).
        """
        return cast(bytes, await self._next(want=bytes))

    @overload
    async def receive_json(self, model: None = None) -> Any: ...

    @overload
    async def receive_json(self, model: type[M]) -> M: ...

    async def receive_json(self, model: Any = None) -> Any:
        """Return the next message parsed as JSON, validated as `model` when one is given.

        Text and binary messages are both read. The message is parsed and validated in one pass
        from its raw text. One that fails closes the socket with 1007; with the route option
        ``on_invalid="reply"`` the client gets ``{"type": "error", "detail": ..., "errors": [...]}``
        instead and the next message is read.

        Raises:
            WebSocketDisconnect: the socket closed (see the module's limits).
        """
        validator = None if model is None else _validator(model)
        while True:
            payload = await self._next()
            raw = payload.encode("utf-8") if type(payload) is str else cast(bytes, payload)
            errors: list[dict[str, Any]] = []
            try:
                if validator is None:
                    return loads_strict(raw)
                value = validator.validate_json(raw, errors)
            except (MalformedBodyError, ValueError) as exc:
                why = exc.detail if isinstance(exc, MalformedBodyError) else str(exc)
                why = str(why).removeprefix("Malformed JSON: ")
                errors = [{"type": "json_invalid", "loc": ["message"], "msg": f"Invalid JSON: {why}"}]
            else:
                if not errors:
                    return value
            await self._invalid(errors)

    async def _invalid(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ())[1:])
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        if self.limits.on_invalid == "close":
            await self._refuse(CloseCode.INVALID_PAYLOAD, detail)
        reply = {
            "type": "error",
            "detail": detail,
            "errors": [{k: error[k] for k in ("type", "loc", "msg") if k in error} for error in errors],
        }
        await self.send_json(reply)

    # PERF(ws-echo): plain functions returning `send`'s coroutine save a coroutine per message.
    def send_text(self, data: str) -> Coroutine[Any, Any, None]:
        """Send a text message (``await websocket.send_text(text)``)."""
        return self.send({"type": "websocket.send", "text": data})

    def send_bytes(self, data: bytes) -> Coroutine[Any, Any, None]:
        """Send a binary message (``await websocket.send_bytes(data)``)."""
        return self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as JSON (models, dataclasses, datetimes and UUIDs included), as text or binary."""
        raw = pydantic_core.to_json(data)
        if mode == "binary":
            await self.send({"type": "websocket.send", "bytes": raw})
        else:
            await self.send({"type": "websocket.send", "text": raw.decode("utf-8")})

    def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the socket closes (a binary one closes it with 1003)."""
        return _Messages(self, str)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the socket closes (a text one closes it with 1003)."""
        return _Messages(self, bytes)

    @overload
    def iter_json(self, model: None = None) -> AsyncIterator[Any]: ...

    @overload
    def iter_json(self, model: type[M]) -> AsyncIterator[M]: ...

    async def iter_json(self, model: Any = None) -> AsyncIterator[Any]:
        """Yield JSON messages (validated as `model` when given) until the socket closes."""
        try:
            while True:
                yield await self.receive_json(model)
        except WebSocketDisconnect:
            return
