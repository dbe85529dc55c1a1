"""Send one request to an app as raw ASGI messages, exactly as given.

For inputs httpx would normalise or refuse before they reach the app (``..`` segments, raw
non-UTF-8 bytes, NUL in a header, a client that leaves mid-body), and for counting how much of a
body the app read before answering.
"""

import asyncio
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from lanner.types import Message


@dataclasses.dataclass(frozen=True)
class Reply:
    """What an app sent for one raw ASGI request."""

    status_code: int | None
    headers: httpx.Headers
    content: bytes
    receives: int  # how many times the app called receive()
    chunks_read: int  # how many of the body's chunks the app received

    def json(self) -> Any:
        """The body parsed as JSON."""
        return httpx.Response(200, content=self.content).json()


def send_raw(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: Iterable[bytes] = (),
    disconnect: bool = False,
    host: bytes | None = b"testserver",
    raw_path: bytes | None = None,
    root_path: str = "",
) -> Reply:
    """Send one request and return what the app answered.

    `body` may be a lazy iterable of chunks, each sent as one ``http.request`` message; the last
    has ``more_body=False`` (an empty body is one empty message). With `disconnect`, the client
    leaves (``http.disconnect``) once `body` is exhausted, before that last message. After the
    body the client listens until the response is over, then leaves.
    """
    sent: list[Message] = []
    chunks = iter(body)
    receives = read = 0

    async def run() -> None:
        done = asyncio.Event()
        pending = next(chunks, None)
        last_sent = False

        async def receive() -> Message:
            nonlocal pending, read, receives, last_sent
            receives += 1
            if last_sent:
                await done.wait()
                return {"type": "http.disconnect"}
            if pending is None:
                if disconnect:
                    return {"type": "http.disconnect"}
                last_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            chunk, pending = pending, next(chunks, None)
            read += 1
            last_sent = pending is None and not disconnect
            return {"type": "http.request", "body": chunk, "more_body": not last_sent}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done.set()

        host_header = [(b"host", host)] if host is not None else []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape") if raw_path is None else raw_path,
            "root_path": root_path,
            "query_string": query,
            "headers": [*host_header, *headers],
            "client": ("testclient", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await app(scope, receive, send)

    asyncio.run(run())
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if start is None:
        return Reply(None, httpx.Headers(), content, receives, read)
    return Reply(start["status"], httpx.Headers(start.get("headers", [])), content, receives, read)
