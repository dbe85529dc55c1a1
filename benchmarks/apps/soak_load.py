"""The soak's load: the request mix, the wrk script that sends and counts it, and one wrk run.

``python -m benchmarks.soak`` drives the soak apps with wrk and this script. The script rotates
through ``KINDS`` in ``CYCLE`` order (200, 404, 405, 413 and 422 answers), counts the statuses of
the answers in wrk's ``response`` callback and the requests it sent per kind, and sends exactly
the number asked for: every request sent is answered before the run ends, so the counts can be
compared one for one. Each run is bounded by that count and by a time limit.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.apps import ORDER_PAYLOAD
from benchmarks.apps.soak_probe import MAX_BODY_SIZE

MIN_RATE = 200
"""Requests/s below which a segment hits its time limit (it then ends short, and says so)."""
DRAIN_SECONDS = 10.0
"""Seconds the requests still in flight get once a segment has issued its count."""


@dataclass(frozen=True, slots=True)
class RequestKind:
    """One kind of request in the rotation, and the status every framework must answer it with.

    Attributes:
        name: Short name for reports.
        status: The expected status.
        method: HTTP method.
        path: Request target; with ``unique``, a counter is appended so no two paths repeat.
        body: Request body (empty for none).
        content_type: ``Content-Type`` sent with the body.
        expected: The JSON answer of a 200 (None: not compared).
        unique: Whether every request gets its own path.
    """

    name: str
    status: int
    method: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"
    expected: Any = None
    unique: bool = False


_INVALID_ORDER = json.dumps({"order_id": 1, "customer": {"id": "x"}, "items": "none"}).encode()

KINDS: tuple[RequestKind, ...] = (
    RequestKind("json", 200, "GET", "/json", expected={"message": "hello"}),
    RequestKind(
        "params", 200, "GET", "/items/42?limit=5&q=abc", expected={"item_id": 42, "limit": 5, "q": "abc"}
    ),
    RequestKind(
        "order",
        200,
        "POST",
        "/orders",
        ORDER_PAYLOAD,
        expected={"order_id": 73021, "total": 79.75, "items": 5},
    ),
    RequestKind("upload", 200, "POST", "/upload", b"u" * 512, "application/octet-stream", {"size": 512}),
    RequestKind("404-unique", 404, "GET", "/missing/", unique=True),
    RequestKind("404-under-known", 404, "GET", "/json/", unique=True),
    RequestKind("404-like-route", 404, "GET", "/r", unique=True),
    RequestKind("404-static", 404, "GET", "/nowhere"),
    RequestKind("405-delete", 405, "DELETE", "/json"),
    RequestKind("405-put", 405, "PUT", "/orders"),
    RequestKind("413-upload", 413, "POST", "/upload", b"o" * (2 * MAX_BODY_SIZE), "application/octet-stream"),
    RequestKind("422-query-range", 422, "GET", "/items/42?limit=0"),
    RequestKind("422-query-type", 422, "GET", "/items/42?limit=abc"),
    RequestKind("422-body", 422, "POST", "/orders", _INVALID_ORDER),
)
"""Every request kind wrk sends (indices into it make up ``CYCLE``)."""

CYCLE: tuple[int, ...] = (0, 4, 0, 11, 1, 8, 0, 5, 2, 12, 0, 10, 3, 6, 0, 13, 0, 9, 7, 0)
"""The order wrk repeats: 50 % 200, 20 % 404, 10 % 405, 5 % 413, 15 % 422."""


def expected_shares() -> dict[int, float]:
    """Return each status's share of the rotation."""
    shares: dict[int, float] = {}
    for index in CYCLE:
        status = KINDS[index].status
        shares[status] = shares.get(status, 0.0) + 1 / len(CYCLE)
    return shares


# -- wrk ----------------------------------------------------------------------------------------


def _lua_string(data: bytes) -> str:
    text = data.decode("ascii")
    if len(set(text)) == 1 and len(text) > 16:
        return f'string.rep("{text[0]}", {len(text)})'
    assert "]==]" not in text
    return f"[==[{text}]==]"


def lua_script() -> str:
    """Return the wrk script: rotate ``KINDS`` by ``CYCLE``, count statuses, stop at a count.

    The script takes the number of requests to send as its argument (``-- N``). Past it, its
    ``delay`` holds every connection back, so the requests in flight finish and each one sent is
    answered; then it stops its thread and prints ``SOAK_REACHED`` (wrk's main thread sleeps for
    the whole ``-d`` otherwise, so the harness sends it SIGINT). ``done`` prints one
    ``SOAK_RESULT {json}`` line: the statuses received, the requests sent per kind, latency
    percentiles and wrk's socket error counts.
    """
    rows = []
    for kind in KINDS:
        body = _lua_string(kind.body) if kind.body else "nil"
        ctype = f'"{kind.content_type}"' if kind.body else "nil"
        unique = "true" if kind.unique else "false"
        rows.append(
            f'  {{method = "{kind.method}", path = "{kind.path}", body = {body}, '
            f"ctype = {ctype}, unique = {unique}}},"
        )
    cycle = ", ".join(str(i + 1) for i in CYCLE)
    return _LUA_TEMPLATE.replace("@KINDS@", "\n".join(rows)).replace("@CYCLE@", cycle)


_LUA_TEMPLATE = """-- written by benchmarks/apps/soak_load.py
local kinds = {
@KINDS@
}
local cycle = {@CYCLE@}
local threads = {}

local function headers_of(kind)
  local h = {}
  if kind.ctype then h["Content-Type"] = kind.ctype end
  return h
end

function setup(thread)
  table.insert(threads, thread)
  -- wrk calls the first thread's request() once after init(), to check it, and never sends it.
  thread:set("checking", #threads == 1)
end

function init(args)
  target = tonumber(args[1])
  planned, issued, completed = 0, 0, 0
  sent, statuses, prebuilt = {}, {}, {}
  for i, kind in ipairs(kinds) do
    sent[i] = 0
    if not kind.unique then
      prebuilt[i] = wrk.format(kind.method, kind.path, headers_of(kind), kind.body)
    end
  end
end

function delay()
  -- Each request is planned here, so exactly `target` are sent; past it, connections are held
  -- back for an hour while the requests in flight finish.
  if planned >= target then
    if not holding then
      holding = true
      io.write("SOAK_ISSUED\\n")
      io.flush()
    end
    return 3600000
  end
  planned = planned + 1
  return 0
end

function request()
  if checking then
    checking = false
    return prebuilt[1]
  end
  issued = issued + 1
  local i = cycle[(issued - 1) % #cycle + 1]
  sent[i] = sent[i] + 1
  local built = prebuilt[i]
  if built then return built end
  local kind = kinds[i]
  return wrk.format(kind.method, kind.path .. issued, headers_of(kind), kind.body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  completed = completed + 1
  if completed >= target and not reached then
    -- wrk's main thread sleeps for the whole -d: tell the harness, which sends SIGINT.
    reached = true
    io.write("SOAK_REACHED\\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local seen, per_kind = {}, {}
  for i = 1, #kinds do per_kind[i] = 0 end
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("statuses")) do seen[s] = (seen[s] or 0) + n end
    for i, n in pairs(t:get("sent")) do per_kind[i] = per_kind[i] + n end
  end
  local parts = {}
  for s, n in pairs(seen) do table.insert(parts, string.format('"%d": %d', s, n)) end
  local sent_parts = {}
  for i = 1, #kinds do table.insert(sent_parts, string.format("%d", per_kind[i])) end
  local e = summary.errors
  io.write(string.format(
    'SOAK_RESULT {"requests": %d, "duration_us": %d, "statuses": {%s}, "sent": [%s], ' ..
    '"p50_us": %.0f, "p99_us": %.0f, "max_us": %.0f, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, table.concat(parts, ", "), table.concat(sent_parts, ", "),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(slots=True)
class WrkRun:
    """What one wrk segment reported."""

    completed: int
    seconds: float
    statuses: dict[int, int]
    sent: list[int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int


def run_segment(
    wrk: str, port: int, script: Path, requests: int, connections: int, cpu: int | None
) -> WrkRun:
    """Run wrk until ``requests`` responses arrived, or its time limit passed.

    The script stops wrk's thread at the count and says so on stdout; wrk's main thread would
    still sleep for the whole ``-d``, so it gets SIGINT then, and reports at once.

    Raises:
        RuntimeError: If wrk fails, hangs 30 s past its limit or prints no result.
    """
    limit = max(30, math.ceil(requests / MIN_RATE))
    command = [wrk, "-t1", f"-c{connections}", f"-d{limit}s", "--timeout", "5s", "-s", str(script)]
    command += [f"http://127.0.0.1:{port}/", "--", str(requests)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = _read_until_exit(process, process.stdout.fileno(), time.monotonic() + limit + 30)
    line = next((ln for ln in output.splitlines() if ln.startswith("SOAK_RESULT ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output.strip()[-500:]}")
    data = json.loads(line.removeprefix("SOAK_RESULT "))
    return WrkRun(
        completed=data["requests"],
        seconds=data["duration_us"] / 1e6,
        statuses={int(k): v for k, v in data["statuses"].items()},
        sent=data["sent"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
    )


def _read_until_exit(process: subprocess.Popen[bytes], fd: int, deadline: float) -> str:
    """Collect wrk's output until it exits; SIGINT it once the script has every answer.

    Once the script stopped issuing requests, the ones in flight get ``DRAIN_SECONDS`` to be
    answered; a request lost to a socket error would otherwise keep wrk waiting to its ``-d``.
    """
    chunks: list[bytes] = []
    drain_deadline = math.inf
    signalled = False
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise RuntimeError("wrk did not stop within its time limit")
            if not signalled and now >= drain_deadline:
                process.send_signal(signal.SIGINT)
                signalled = True
            ready, _, _ = select.select([fd], [], [], min(deadline - now, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            recent = b"".join(chunks[-2:])
            if b"SOAK_ISSUED" in recent and drain_deadline == math.inf:
                drain_deadline = time.monotonic() + DRAIN_SECONDS
            if not signalled and b"SOAK_REACHED" in recent:
                process.send_signal(signal.SIGINT)
                signalled = True
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        process.kill()
        process.wait()
        raise RuntimeError(f"wrk did not stop in time: {exc}") from exc
    finally:
        if process.stdout is not None:
            process.stdout.close()
    return b"".join(chunks).decode("utf-8", "replace")
