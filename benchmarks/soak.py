"""Leak and soak check: a million mixed requests against one real server per framework.

Run ``python -m benchmarks.soak --help`` from the repository root. For each framework (lanner and
FastAPI, apps in ``apps/soak_*.py``) it starts uvicorn (one worker, uvloop + httptools) pinned to
one CPU, and sends N requests with wrk and a Lua script that rotates through 200, 404, 405, 413
and 422 answers and counts the statuses it gets. A Python thread meanwhile opens sockets that
send headers and part of a body, then close (about 1 in 1,000 requests). The load runs in ten
segments: after each one, with no load, the server's RSS, descriptors and threads are read from
``/proc`` and its collector from the hidden ``GET /__soak__``; during the load they are sampled
every 2 s. The first segment (10 % of N) is the warm-up the end is compared with.

Every wrk run is bounded by a request count and a time limit, and the whole run by
``--budget-minutes``: a framework that would overrun it stops early, and the report says so.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.apps import ORDER_PAYLOAD
from benchmarks.apps.soak_load import KINDS, MIN_RATE, expected_shares, lua_script, run_segment
from benchmarks.apps.soak_probe import MAX_BODY_SIZE, SOAK_PATH
from benchmarks.harness import describe_machine, describe_versions, load_average
from benchmarks.load import WRK_MISSING, find_wrk
from benchmarks.servers import (
    ROOT,
    SERVER_SPECS,
    FrameworkSpec,
    ServerError,
    ServerProcess,
    missing_packages,
)

DEFAULT_REQUESTS = 1_000_000
QUICK_REQUESTS = 100_000
SEGMENTS = 10
"""Load segments per framework; the first is the warm-up."""
SAMPLE_INTERVAL = 2.0
"""Seconds between samples taken while wrk runs."""
SETTLE_SECONDS = 1.0
"""Pause after a segment, so closed connections are gone before the idle sample."""
DISCONNECT_EVERY = 1000
"""One client disconnect per this many requests (at least one per run)."""
RSS_GROWTH_LIMIT = 0.05
"""Largest RSS growth from the end of the warm-up to the end of the run, as a fraction."""
GC_PAUSE_LIMIT_MS = 20.0
"""Longest garbage collector pause allowed while the load runs, in milliseconds."""

SOAK_FRAMEWORKS: dict[str, FrameworkSpec] = {
    "lanner": FrameworkSpec("lanner", "benchmarks.apps.soak_lanner", "asgi", ("lanner",)),
    "fastapi": FrameworkSpec("fastapi", "benchmarks.apps.soak_fastapi", "asgi", ("fastapi",)),
}
"""The soaked frameworks, in report order."""

ERROR_MEDIA_TYPES = {"lanner": "application/problem+json", "fastapi": "application/json"}
"""The content type each framework's default error answers carry."""


# -- what is measured -----------------------------------------------------------------------------


def read_proc(pid: int) -> dict[str, int]:
    """Return the process's VmRSS (KiB), open descriptors and threads, read from ``/proc``."""
    rss = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    counts = []
    for folder in ("fd", "task"):
        try:
            counts.append(len(os.listdir(f"/proc/{pid}/{folder}")))
        except OSError:
            counts.append(-1)
    return {"rss_kib": rss, "fds": counts[0], "threads": counts[1]}


def get_json(
    port: int, method: str, path: str, body: bytes = b"", content_type: str = ""
) -> tuple[int, str, Any]:
    """Send one request to 127.0.0.1:``port``; return status, media type and parsed body.

    Raises:
        OSError: If the connection fails or the answer is not HTTP.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": content_type} if body else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        media = response.getheader("content-type", "").split(";")[0].strip()
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return response.status, media, parsed


def sample(pid: int, port: int, elapsed: float, label: str) -> dict[str, Any]:
    """Read ``/proc`` first (the probe's own connection would count), then the probe."""
    taken: dict[str, Any] = {"t": round(elapsed, 2), "label": label, **read_proc(pid)}
    try:
        status, _, probe = get_json(port, "GET", SOAK_PATH)
        taken["probe"] = probe if status == 200 else None
    except OSError:
        taken["probe"] = None
    return taken


def check_answers(framework: str, port: int) -> list[str]:
    """Send every request kind once and check the answer; return what was wrong."""
    problems = []
    error_media = ERROR_MEDIA_TYPES[framework]
    for kind in KINDS:
        path = f"{kind.path}0" if kind.unique else kind.path
        try:
            status, media, body = get_json(port, kind.method, path, kind.body, kind.content_type)
        except OSError as exc:
            problems.append(f"{kind.name}: {exc}")
            continue
        if status != kind.status:
            problems.append(f"{kind.name}: {kind.method} {path} answered {status}, expected {kind.status}")
        elif kind.status == 200 and (media != "application/json" or body != kind.expected):
            problems.append(f"{kind.name}: answered {media} {body!r}, expected {kind.expected!r}")
        elif kind.status != 200 and media != error_media:
            problems.append(f"{kind.name}: error answer is {media}, expected {error_media}")
        elif kind.status != 200 and framework == "lanner" and not _is_problem(body, status):
            problems.append(f"{kind.name}: not a problem document with status {status}: {body!r}")
    try:
        _, _, document = get_json(port, "GET", "/openapi.json")
        if isinstance(document, dict) and SOAK_PATH in document.get("paths", {}):
            problems.append(f"{SOAK_PATH} is listed in the OpenAPI document")
    except OSError as exc:
        problems.append(f"openapi: {exc}")
    return problems


def _is_problem(body: Any, status: int) -> bool:
    return isinstance(body, dict) and body.get("status") == status and "title" in body and "type" in body


class Sampler(threading.Thread):
    """Samples the server every ``SAMPLE_INTERVAL`` seconds until stopped."""

    def __init__(self, pid: int, port: int, start: float, label: str) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.pid, self.port, self.start_time, self.label = pid, port, start, label
        self.samples: list[dict[str, Any]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        """Sample until ``stopped`` is set."""
        while not self.stopped.wait(SAMPLE_INTERVAL):
            self.samples.append(sample(self.pid, self.port, time.monotonic() - self.start_time, self.label))


class Disconnector(threading.Thread):
    """Sends ``count`` requests that stop halfway through the body, then close, spread over a segment.

    Even ones close with FIN, odd ones with RST (``SO_LINGER`` 0). Once ``hurry`` is set (the
    segment's wrk run ended) the rest go out without waiting.
    """

    def __init__(self, port: int, count: int, interval: float, first: int) -> None:
        super().__init__(name="soak-disconnects", daemon=True)
        self.port, self.count, self.interval, self.first = port, count, interval, first
        self.hurry = threading.Event()
        self.sent = 0
        self.during_load = 0
        self.failed = 0

    def run(self) -> None:
        """Send the disconnects."""
        for i in range(self.first, self.first + self.count):
            if not self.hurry.is_set():
                self.hurry.wait(self.interval)
            loaded = not self.hurry.is_set()
            try:
                self._disconnect(i)
            except OSError:
                self.failed += 1
                continue
            self.sent += 1
            self.during_load += loaded

    def _disconnect(self, index: int) -> None:
        target, declared = ("/orders", len(ORDER_PAYLOAD)) if index % 4 < 2 else ("/upload", 2048)
        head = (
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(head + ORDER_PAYLOAD[: declared // 3])
            time.sleep(0.02)  # the handler is now waiting for the rest of the body
            if index % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# -- one framework ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Options:
    """What to run."""

    frameworks: list[str]
    requests: int
    connections: int
    budget_seconds: float
    output: Path
    name: str
    progress: bool = True


@dataclass(slots=True)
class Soak:
    """Everything measured for one framework."""

    framework: str
    requested: int
    problems: list[str] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    idle: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    disconnects: dict[str, int] = field(default_factory=lambda: {"sent": 0, "during_load": 0, "failed": 0})
    stopped_early: str = ""
    seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)


def _log(options: Options, text: str) -> None:
    if options.progress:
        print(text, file=sys.stderr, flush=True)


def soak_framework(spec: FrameworkSpec, options: Options, wrk: str, deadline: float) -> Soak:
    """Start the framework's server, run the segments, and return what was measured."""
    result = Soak(spec.name, options.requests)
    pinned = (os.cpu_count() or 1) >= 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    with tempfile.TemporaryDirectory(prefix="soak-") as folder, tempfile.TemporaryFile() as log:
        script = Path(folder) / "soak.lua"
        script.write_text(lua_script())
        server = ServerProcess(spec, SERVER_SPECS["uvicorn"], log, 0 if pinned else None, env)
        started = time.monotonic()
        try:
            server.wait_ready(lambda port: get_json(port, "GET", SOAK_PATH), timeout=60)
            result.problems += check_answers(spec.name, server.port)
            if not result.problems:
                result.idle.append(sample(server.pid, server.port, 0.0, "start"))
                _run_segments(server, result, options, wrk, script, deadline, pinned, started)
                if server.alive():
                    result.problems += [f"after the load: {p}" for p in check_answers(spec.name, server.port)]
                else:
                    result.problems.append(f"the server exited with {server.process.returncode}")
        except (ServerError, RuntimeError) as exc:
            result.problems.append(str(exc))
        finally:
            result.seconds = time.monotonic() - started
            output = server.output(limit=10_000_000)
            result.server_errors = log_errors(output)
            server.stop()
    return result


def log_errors(output: str) -> list[str]:
    """Return one line per error the server logged, ending with the exception its traceback ended on."""
    errors: list[str] = []
    ending = ""
    for line in output.splitlines():
        if line.startswith(("ERROR", "CRITICAL")):
            if errors and ending:
                errors[-1] += f" -> {ending}"
            errors.append(" ".join(line.split()))
            ending = ""
        elif errors and line and not line[0].isspace() and not line.startswith("Traceback"):
            ending = line.strip()
    if errors and ending:
        errors[-1] += f" -> {ending}"
    return errors


def _run_segments(
    server: ServerProcess,
    result: Soak,
    options: Options,
    wrk: str,
    script: Path,
    deadline: float,
    pinned: bool,
    started: float,
) -> None:
    per_segment = max(1, options.requests // SEGMENTS)
    disconnects = max(1, options.requests // DISCONNECT_EVERY)
    interval = 0.05
    done = 0
    for index in range(SEGMENTS):
        count = per_segment if index < SEGMENTS - 1 else options.requests - per_segment * index
        if count <= 0:
            break
        expected = (
            count / max(done / max(sum(s["seconds"] for s in result.segments), 1e-9), MIN_RATE) if done else 0
        )
        if done and time.monotonic() + expected > deadline:
            result.stopped_early = (
                f"time budget reached after {done:,} requests ({index} of {SEGMENTS} segments)"
            )
            break
        share = disconnects // SEGMENTS + (1 if index < disconnects % SEGMENTS else 0)
        if done:
            interval = expected / max(share, 1)
        sampler = Sampler(server.pid, server.port, started, f"segment {index + 1}")
        disconnector = Disconnector(server.port, share, interval, first=int(result.disconnects["sent"]))
        sampler.start()
        disconnector.start()
        try:
            run = run_segment(wrk, server.port, script, count, options.connections, 1 if pinned else None)
        finally:
            disconnector.hurry.set()
            sampler.stopped.set()
            disconnector.join(timeout=60)
            sampler.join(timeout=30)
        result.samples += sampler.samples
        for key in ("sent", "during_load", "failed"):
            result.disconnects[key] += getattr(disconnector, key)
        done += run.completed
        result.segments.append(
            {
                "index": index + 1,
                "requested": count,
                "completed": run.completed,
                "seconds": run.seconds,
                "statuses": run.statuses,
                "sent": run.sent,
                "p50_ms": run.p50_ms,
                "p99_ms": run.p99_ms,
                "max_ms": run.max_ms,
                "socket_errors": run.socket_errors,
            }
        )
        if not server.alive():
            result.problems.append(
                f"the server exited with {server.process.returncode} in segment {index + 1}"
            )
            return
        time.sleep(SETTLE_SECONDS)
        result.idle.append(
            sample(server.pid, server.port, time.monotonic() - started, f"after segment {index + 1}")
        )
        rss = result.idle[-1]["rss_kib"] / 1024
        _log(
            options,
            f"{result.framework}: segment {index + 1}/{SEGMENTS}, {done:,} requests, "
            f"{run.completed / max(run.seconds, 1e-9):,.0f} req/s, RSS {rss:.1f} MiB",
        )
        if run.completed < count:
            result.stopped_early = (
                f"segment {index + 1} hit its time limit after {run.completed:,} of {count:,} requests"
            )
            return


# -- verdicts and report ----------------------------------------------------------------------------


def _probe(taken: dict[str, Any], *keys: str) -> Any:
    value: Any = taken.get("probe")
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def status_mix(soak: Soak) -> dict[str, Any]:
    """Compare the statuses wrk received with the ones the requests it sent must get.

    Every request sent is answered before a segment ends, so each status's count must equal the
    number of requests sent expecting it. Only requests lost to socket errors may be missing (a
    wrong answer shows up as an excess of another status, or one outside the mix).
    """
    sent: dict[int, int] = {}
    answered: dict[int, int] = {}
    errors = 0
    for segment in soak.segments:
        for index, count in enumerate(segment["sent"]):
            sent[KINDS[index].status] = sent.get(KINDS[index].status, 0) + count
        for status, count in segment["statuses"].items():
            answered[int(status)] = answered.get(int(status), 0) + count
        errors += segment["socket_errors"]
    lost = sum(sent.values()) - sum(answered.values())
    wrong = [s for s in answered if s not in sent]
    for status, count in sent.items():
        got = answered.get(status, 0)
        if got > count or got < count - max(lost, 0) or got == 0:
            wrong.append(status)
    completed = sum(s["completed"] for s in soak.segments)
    consistent = sum(answered.values()) == completed and 0 <= lost <= errors
    return {
        "sent": {str(k): v for k, v in sorted(sent.items())},
        "answered": {str(k): v for k, v in sorted(answered.items())},
        "wrong_statuses": sorted(set(wrong)),
        "lost": lost,
        "socket_errors": errors,
        "answer_checks": not soak.problems,
        "pass": bool(soak.segments) and not wrong and consistent and not soak.problems,
    }


def evaluate(soak: Soak) -> dict[str, Any]:
    """Return the figures of the report and a verdict per target."""
    completed = sum(s["completed"] for s in soak.segments)
    seconds = sum(s["seconds"] for s in soak.segments)
    figures: dict[str, Any] = {
        "requested": soak.requested,
        "completed": completed,
        "rps": completed / seconds if seconds else 0.0,
        "load_seconds": seconds,
        "wall_seconds": soak.seconds,
        "stopped_early": soak.stopped_early,
        "problems": soak.problems,
        "disconnects": soak.disconnects,
        "server_errors": len(soak.server_errors),
        "mix": status_mix(soak),
    }
    if soak.segments:
        figures["p50_ms"] = sorted(s["p50_ms"] for s in soak.segments)[len(soak.segments) // 2]
        figures["p99_ms_worst"] = max(s["p99_ms"] for s in soak.segments)
    if len(soak.idle) < 3:  # start, warm-up and at least one later segment
        figures["targets"] = {
            "mix": figures["mix"]["pass"],
            "rss": False,
            "fds": False,
            "threads": False,
            "gc": False,
        }
        return figures
    start, warm, end = soak.idle[0], soak.idle[1], soak.idle[-1]
    growth = end["rss_kib"] / warm["rss_kib"] - 1 if warm["rss_kib"] else math.inf
    windows = [
        t for t in [*soak.samples, *soak.idle[1:]] if _probe(t, "gc_pauses", "max_since_last_ms") is not None
    ]
    longest = max(windows, key=lambda t: float(_probe(t, "gc_pauses", "max_since_last_ms")), default=None)
    after_warm_up = completed - soak.segments[0]["completed"]
    figures.update(
        {
            "rss_kib": {
                "start": start["rss_kib"],
                "warm": warm["rss_kib"],
                "end": end["rss_kib"],
                "peak": max(t["rss_kib"] for t in [*soak.samples, *soak.idle]),
                "growth": growth,
            },
            "fds": {"start": start["fds"], "warm": warm["fds"], "end": end["fds"]},
            "threads": {"start": start["threads"], "warm": warm["threads"], "end": end["threads"]},
            "gc_max_pause_ms": _probe(longest, "gc_pauses", "max_since_last_ms") if longest else None,
            "gc_max_pause_generation": _probe(longest, "gc_pauses", "max_since_last_generation")
            if longest
            else None,
            "gc_max_pause_since_start_ms": _probe(end, "gc_pauses", "max_ms"),
            "gc_collections": [_probe(t, "gc_pauses", "collections") for t in (warm, end)],
            "gc_per_1000": _per_thousand(warm, end, after_warm_up),
            "gc_total_ms": _probe(end, "gc_pauses", "total_ms"),
            "gc_stats_end": _probe(end, "gc_stats"),
            "gc_freeze_count": _probe(end, "gc_freeze_count"),
            "allocated_blocks": [_probe(t, "allocated_blocks") for t in (start, warm, end)],
            "asyncio_tasks": [_probe(t, "asyncio_tasks") for t in (start, warm, end)],
        }
    )
    gc_max = figures["gc_max_pause_ms"]
    figures["targets"] = {
        "mix": figures["mix"]["pass"],
        "rss": growth <= RSS_GROWTH_LIMIT,
        "fds": end["fds"] <= warm["fds"],
        "threads": end["threads"] <= warm["threads"],
        "gc": gc_max is not None and gc_max < GC_PAUSE_LIMIT_MS,
    }
    return figures


def _per_thousand(warm: dict[str, Any], end: dict[str, Any], requests: int) -> dict[str, float] | None:
    """Collections, and objects the collector freed (cyclic garbage), per 1,000 requests."""
    stats = [_probe(t, "gc_stats") for t in (warm, end)]
    runs = [_probe(t, "gc_pauses", "collections") for t in (warm, end)]
    if requests <= 0 or None in runs or not all(isinstance(s, list) for s in stats):
        return None
    freed = [sum(generation["collected"] for generation in s) for s in stats]
    return {
        "collections": (runs[1] - runs[0]) * 1000 / requests,
        "freed_objects": (freed[1] - freed[0]) * 1000 / requests,
    }


def _mark(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def _target_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    names = list(results)

    def row(label: str, target: str, cell: Any) -> list[str]:
        return [label, target, *(cell(results[n]) for n in names)]

    def rss(f: dict[str, Any]) -> str:
        r = f.get("rss_kib")
        if r is None:
            return "-"
        change = f"{r['growth']:+.1%}"
        return f"{r['warm'] / 1024:.1f} → {r['end'] / 1024:.1f} MiB ({change}) {_mark(f['targets']['rss'])}"

    def counts(key: str) -> Any:
        def cell(f: dict[str, Any]) -> str:
            c = f.get(key)
            return "-" if c is None else f"{c['warm']} → {c['end']} {_mark(f['targets'][key])}"

        return cell

    def gc_pause(f: dict[str, Any]) -> str:
        p = f.get("gc_max_pause_ms")
        if p is None:
            return "-"
        generation = f.get("gc_max_pause_generation")
        where = f" (gen {generation})" if isinstance(generation, int) and generation >= 0 else ""
        return f"{p:.1f} ms{where} {_mark(f['targets']['gc'])}"

    def mix(f: dict[str, Any]) -> str:
        m = f["mix"]
        if m["pass"]:
            note = "as sent"
        elif m["wrong_statuses"]:
            note = f"wrong: {m['wrong_statuses']}"
        elif not m["answer_checks"]:
            note = "failed (see notes)"
        else:
            note = f"{m['lost']} unanswered, {m['socket_errors']} socket errors"
        return f"{note} {_mark(m['pass'])}"

    return [
        row("requests completed", "N", lambda f: f"{f['completed']:,} of {f['requested']:,}"),
        row("status mix", "every status as sent", mix),
        row("RSS after warm-up → end", f"growth ≤ {RSS_GROWTH_LIMIT:.0%}", rss),
        row("open fds after warm-up → end", "no growth", counts("fds")),
        row("threads after warm-up → end", "no growth", counts("threads")),
        row("longest GC pause under load", f"< {GC_PAUSE_LIMIT_MS:.0f} ms", gc_pause),
        row("requests/s", "-", lambda f: f"{f['rps']:,.0f}"),
        row(
            "latency p50 / worst segment p99",
            "-",
            lambda f: f"{f.get('p50_ms', 0):.1f} / {f.get('p99_ms_worst', 0):.1f} ms",
        ),
        row(
            "RSS at start / peak",
            "-",
            lambda f: (
                "-"
                if "rss_kib" not in f
                else f"{f['rss_kib']['start'] / 1024:.1f} / {f['rss_kib']['peak'] / 1024:.1f} MiB"
            ),
        ),
        row(
            "allocated blocks start / warm-up / end",
            "-",
            lambda f: " / ".join(f"{b:,}" for b in f.get("allocated_blocks", []) if b is not None) or "-",
        ),
        row(
            "asyncio tasks start / warm-up / end",
            "-",
            lambda f: " / ".join(str(t) for t in f.get("asyncio_tasks", [])) or "-",
        ),
        row(
            "GC collections warm-up → end (gen 0-2 total)",
            "-",
            lambda f: " → ".join(f"{c:,}" for c in f.get("gc_collections", []) if c is not None) or "-",
        ),
        row(
            "GC after warm-up, per 1,000 requests: collections / objects freed",
            "-",
            lambda f: (
                "-"
                if not f.get("gc_per_1000")
                else "{collections:.1f} / {freed_objects:,.0f}".format(**f["gc_per_1000"])
            ),
        ),
        row(
            "GC time in total / longest pause since start",
            "-",
            lambda f: (
                "-"
                if f.get("gc_total_ms") is None
                else f"{f['gc_total_ms']:.0f} ms / {f['gc_max_pause_since_start_ms']:.1f} ms"
            ),
        ),
        row(
            "uncollectable objects",
            "-",
            lambda f: str(sum(g["uncollectable"] for g in f.get("gc_stats_end") or [])),
        ),
        row(
            "client disconnects (during load, failed)",
            "about N / 1,000",
            lambda f: "{sent:,} ({during_load:,}, {failed:,})".format(**f["disconnects"]),
        ),
        row("errors in the server log", "-", lambda f: str(f["server_errors"])),
        row("wall time", "-", lambda f: f"{f['wall_seconds'] / 60:.1f} min"),
    ]


def format_markdown(meta: dict[str, Any], results: dict[str, dict[str, Any]], soaks: dict[str, Soak]) -> str:
    """Render the report: targets side by side, the status mix, the idle samples per segment."""
    names = list(results)
    lines = [
        "# Soak check (`python -m benchmarks.soak`)",
        "",
        f"- Date: {meta['date']}; command: `{meta['command']}`",
        f"- Machine: {meta['machine']['cpu']}, {meta['machine']['cpus']} CPUs, {meta['machine']['os']}, "
        f"Python {meta['machine']['python']}; load average {meta['machine']['load_before']} before, "
        f"{meta['load_after']} after",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}",
        f"- Server: uvicorn, 1 worker, `--loop uvloop --http httptools`, access log off, pinned to CPU 0; "
        f"wrk -t1 -c{meta['connections']} pinned to CPU 1; loopback only",
        f"- Requests per framework: {meta['requests']:,} in {SEGMENTS} segments (the first, 10 %, is the "
        f"warm-up); 1 in {DISCONNECT_EVERY:,} more are client disconnects; "
        f"total time {meta['minutes']:.1f} min",
        "- Default settings for both frameworks (lanner freezes the GC heap at startup), except the "
        f"{MAX_BODY_SIZE:,}-byte body limit (413) and the hidden `{SOAK_PATH}` probe",
        "",
        "## Targets",
        "",
        "| | target | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
        *("| " + " | ".join(r) + " |" for r in _target_rows(results)),
        "",
        "Verdict: " + ", ".join(f"{n} {_mark(all(results[n]['targets'].values()))}" for n in names),
        "",
        "## Status mix",
        "",
        'Statuses counted by wrk\'s `response` callback; "sent" counts the requests the rotation issued '
        "expecting that status. Each segment waits for every answer, so the two must be equal. Every "
        "kind was also sent once before and after the load, its body and content type checked.",
        "",
        "| status | share | " + " | ".join(f"{n} sent | {n} answered" for n in names) + " |",
        "|---|---:|" + "---:|---:|" * len(names),
    ]
    statuses = sorted(
        {int(s) for n in names for s in (*results[n]["mix"]["sent"], *results[n]["mix"]["answered"])}
    )
    shares = expected_shares()
    for status in statuses:
        cells = []
        for n in names:
            mix = results[n]["mix"]
            cells += [f"{mix['sent'].get(str(status), 0):,}", f"{mix['answered'].get(str(status), 0):,}"]
        lines.append(f"| {status} | {shares.get(status, 0):.0%} | " + " | ".join(cells) + " |")
    lines += ["", "Request kinds: " + ", ".join(f"{k.name} ({k.status})" for k in KINDS) + ".", ""]
    lines += [
        "## Idle samples after each segment",
        "",
        "RSS MiB / open fds / threads / allocated blocks / asyncio tasks.",
        "",
    ]
    lines += ["| after | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = max(len(soaks[n].idle) for n in names)
    for i in range(rows):
        cells = []
        label = "start"
        for n in names:
            idle = soaks[n].idle
            if i >= len(idle):
                cells.append("-")
                continue
            t = idle[i]
            label = t["label"]
            cells.append(
                f"{t['rss_kib'] / 1024:.1f} / {t['fds']} / {t['threads']} / "
                f"{_probe(t, 'allocated_blocks') or '-':,} / {_probe(t, 'asyncio_tasks')}"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = []
    for n in names:
        f = results[n]
        if f["stopped_early"]:
            notes.append(f"- {n}: stopped early: {f['stopped_early']}.")
        notes += [f"- {n}: {p}" for p in f["problems"]]
        logged = soaks[n].server_errors
        notes += [f"- {n} server log, {logged.count(e):,} x: `{e}`" for e in dict.fromkeys(logged)]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------------------------


def _frameworks(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or any(n not in SOAK_FRAMEWORKS for n in names):
        raise argparse.ArgumentTypeError(f"choose from {','.join(SOAK_FRAMEWORKS)}; got {value!r}")
    return list(dict.fromkeys(names))


def _positive(value: str) -> int:
    number = int(value)
    if number < SEGMENTS * 10:
        raise argparse.ArgumentTypeError(f"must be at least {SEGMENTS * 10}, got {number}")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see ``--help``); exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--requests", type=_positive, help=f"requests per framework (default {DEFAULT_REQUESTS:,})"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS:,} requests per framework")
    parser.add_argument(
        "--only", type=_frameworks, default=list(SOAK_FRAMEWORKS), help="frameworks, comma-separated"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--budget-minutes", type=float, default=40.0, help="stop a framework early past this")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results", help="report directory"
    )
    parser.add_argument("--name", help="report file stem (default soak, or soak-quick with --quick)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak from the command line.

    Returns:
        0 when every target passed, 1 when one failed, 3 when wrk or a framework is missing.
    """
    args = parse_args(argv)
    wrk = find_wrk()
    if wrk is None:
        print(WRK_MISSING, file=sys.stderr)
        return 3
    missing = [n for n in args.only if missing_packages(SOAK_FRAMEWORKS[n].packages)]
    if missing:
        print(f"not installed: {', '.join(missing)}; leave them out with --only", file=sys.stderr)
        return 3
    requests = args.requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)
    name = args.name or ("soak-quick" if args.quick and not args.requests else "soak")
    options = Options(args.only, requests, args.connections, args.budget_minutes * 60, args.output, name)
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m benchmarks.soak", *(sys.argv[1:] if argv is None else argv)]),
        "machine": describe_machine(),
        "versions": describe_versions(wrk),
        "requests": requests,
        "connections": args.connections,
        "targets": {
            "rss_growth": RSS_GROWTH_LIMIT,
            "gc_pause_ms": GC_PAUSE_LIMIT_MS,
            "fds": "no growth",
            "threads": "no growth",
        },
        "mix": {str(k): v for k, v in expected_shares().items()},
    }
    started = time.monotonic()
    deadline = started + options.budget_seconds
    soaks = {}
    for name in options.frameworks:
        _log(options, f"{name}: soaking with {requests:,} requests")
        soaks[name] = soak_framework(SOAK_FRAMEWORKS[name], options, wrk, deadline)
    results = {name: evaluate(soak) for name, soak in soaks.items()}
    meta["minutes"] = (time.monotonic() - started) / 60
    meta["load_after"] = load_average()
    options.output.mkdir(parents=True, exist_ok=True)
    report = format_markdown(meta, results, soaks)
    (options.output / f"{options.name}.md").write_text(report)
    data = {"meta": meta, "results": results, "raw": {n: _raw(s) for n, s in soaks.items()}}
    (options.output / f"{options.name}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(report)
    return 0 if all(all(f["targets"].values()) for f in results.values()) else 1


def _raw(soak: Soak) -> dict[str, Any]:
    return {
        "segments": soak.segments,
        "idle": soak.idle,
        "samples": soak.samples,
        "server_errors": soak.server_errors[:50],
    }


if __name__ == "__main__":
    sys.exit(main())
