"""Production-stack benchmark: the JSON scenario with request id, access log, metrics, CORS, gzip...

``python -m benchmarks.production`` (2 to 6 minutes here, with other jobs running) serves the
JSON scenario (``GET /json`` → ``{"message": "hello"}``) from lanner and from FastAPI, each bare
and with the full production stack: request id, a JSON access log written to a file, Prometheus
metrics, CORS, gzip, security headers and an in-memory rate limit (`FEATURES`; the apps are
``benchmarks/apps/production_*.py``).
Every request carries what a browser's ``fetch`` sends: an ``Origin`` the CORS policy allows and
``Accept-Encoding: gzip, deflate, br, zstd``. The 19-byte answer is below both compressors'
minimum size, so gzip looks at every response and compresses none.

1. In process (the driver of `benchmarks.core`: synthetic ASGI events, one event loop, no
   sockets): lanner bare, with each piece alone, and full; FastAPI the same (``--no-fastapi-pieces``
   skips its pieces), plus its full stack with pure ASGI middleware (`FASTAPI_ASGI`). Times are
   the process's CPU time, which other jobs on a shared machine barely move. A piece's own cost
   is its time minus the bare app's, paired by round.
2. Real servers (with wrk installed): uvicorn, 1 process (uvloop, httptools, access log off),
   pinned to CPU 0, wrk on CPU 1: lanner bare and full, FastAPI bare, full and `FASTAPI_ASGI`,
   interleaved rounds; requests per second and the server's CPU time per request.

Targets (issue 12): lanner full at least 0.75 x the bare lanner app's throughput, and at least
3 x FastAPI's full stack, both in the same run. Before anything is timed, every app's answer is
checked (status, body, the headers each piece adds, a line in the access log, the request counted
on ``/metrics``). The report goes to ``benchmarks/results/production.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import gzip
import http.client
import importlib
import json
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.apps import ASGIApp, Message
from benchmarks.core import LifespanRunner, Recorder, build_scope
from benchmarks.harness import describe_machine, describe_versions, find_executable, load_average
from benchmarks.load import LoadError, find_wrk, run_wrk
from benchmarks.realtime import cpu_stall_us
from benchmarks.scenarios import HttpScenario, wrk_script
from benchmarks.servers import ROOT, SERVER_SPECS, FrameworkSpec, ServerError, ServerProcess

# -- the scenario (shared with the apps) --------------------------------------------------------

FEATURES: dict[str, str] = {
    "request_id": "request id",
    "access_log": "JSON access log to a file",
    "metrics": "Prometheus metrics",
    "cors": "CORS",
    "gzip": "gzip",
    "security_headers": "security headers",
    "rate_limit": "rate limit in memory",
}
"""The production pieces by name, in lanner's order from the outside in, with their report label."""

ORIGIN = "https://app.example.com"
"""The browser's origin: sent with every request and allowed by both CORS policies."""

RATE = "1000000/second"
"""The rate limit: never reached here (lanner takes at most one request per microsecond)."""

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
"""The headers of lanner's `SecurityHeadersMiddleware` by default, which the FastAPI app copies."""

FEATURES_ENV = "BENCH_PRODUCTION_FEATURES"
"""The pieces a ``create_app()`` without arguments turns on: ``all``, ``none`` or a comma list."""

PURE_ASGI_ENV = "BENCH_PRODUCTION_PURE_ASGI"
"""``1``: the FastAPI app's hand-written middleware are pure ASGI classes (`FASTAPI_ASGI`)."""

LOG_DIR_ENV = "BENCH_PRODUCTION_LOG_DIR"
"""Where the apps write their access log (default: the temporary directory)."""

REQUEST_HEADERS: tuple[tuple[str, str], ...] = (
    ("Origin", ORIGIN),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
)
"""What a browser's ``fetch`` adds to the JSON request here: an origin and the encodings it takes."""

EXPECTED_BODY = {"message": "hello"}
"""The JSON scenario's answer."""

APP_MODULES = {"lanner": "benchmarks.apps.production_lanner", "fastapi": "benchmarks.apps.production_fastapi"}
"""The module serving each framework's app."""

_FILE_HANDLERS: list[tuple[logging.Logger, logging.FileHandler]] = []


def parse_features(value: str) -> frozenset[str]:
    """Parse ``all``, ``none`` (or nothing) or a comma-separated list of `FEATURES`.

    Raises:
        ValueError: If a name is not in `FEATURES`.
    """
    value = value.strip()
    if value == "all":
        return frozenset(FEATURES)
    names = frozenset(n.strip() for n in value.split(",") if n.strip() and n.strip() != "none")
    if unknown := names - set(FEATURES):
        raise ValueError(
            f"unknown production feature(s) {sorted(unknown)}; choose from {', '.join(FEATURES)}"
        )
    return names


def chosen_features(features: Iterable[str] | None) -> frozenset[str]:
    """The pieces an app factory turns on: ``features``, or those of `FEATURES_ENV` (default all).

    Raises:
        ValueError: If a name is not in `FEATURES`.
    """
    if features is None:
        return parse_features(os.environ.get(FEATURES_ENV, "all"))
    return parse_features(",".join(features) or "none")


def access_log_path(framework: str) -> str:
    """The default access log file of ``framework``'s app, in `LOG_DIR_ENV` or the temporary directory."""
    folder = os.environ.get(LOG_DIR_ENV) or tempfile.gettempdir()
    return str(Path(folder) / f"production-{framework}-access.log")


def attach_access_log_file(logger_name: str, path: str, formatter: logging.Formatter | None = None) -> None:
    """Send the INFO records of ``logger_name`` to the file ``path``, through ``formatter``.

    Several apps of one framework share its logger in process, so a file gets one handler.
    """
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.INFO)
    target = os.path.abspath(path)
    if any(isinstance(h, logging.FileHandler) and h.baseFilename == target for h in logger.handlers):
        return
    handler = logging.FileHandler(target)
    if formatter is not None:
        handler.setFormatter(formatter)
    logger.addHandler(handler)
    _FILE_HANDLERS.append((logger, handler))


def close_access_log_files() -> None:
    """Detach and close every file handler `attach_access_log_file` added."""
    while _FILE_HANDLERS:
        logger, handler = _FILE_HANDLERS.pop()
        logger.removeHandler(handler)
        handler.close()


# -- what is measured ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """One app: a framework with some production pieces on.

    Attributes:
        framework: ``lanner`` or ``fastapi``.
        features: The pieces on (none: the bare app).
        pure_asgi: FastAPI only: request id, access log and security headers as pure ASGI
            middleware classes rather than ``@app.middleware("http")`` functions.
    """

    framework: str
    features: frozenset[str] = frozenset()
    pure_asgi: bool = False

    @property
    def name(self) -> str:
        """``lanner``, ``lanner+cors``, ``lanner-full``... as reports and servers name it."""
        suffix = "-asgi" if self.pure_asgi else ""
        if self.features == frozenset(FEATURES):
            return f"{self.framework}-full{suffix}"
        return "+".join([self.framework, *(f for f in FEATURES if f in self.features)]) + suffix

    @property
    def label(self) -> str:
        """The row label: ``lanner bare``, ``lanner + CORS``, ``lanner full stack``."""
        suffix = ", pure ASGI middleware" if self.pure_asgi else ""
        if not self.features:
            return f"{self.framework} bare{suffix}"
        if self.features == frozenset(FEATURES):
            return f"{self.framework} full stack{suffix}"
        pieces = ", ".join(FEATURES[f] for f in FEATURES if f in self.features)
        return f"{self.framework} + {pieces}{suffix}"

    @property
    def piece(self) -> str | None:
        """The one piece on, or None (bare or several)."""
        return next(iter(self.features)) if len(self.features) == 1 else None


def bare(framework: str) -> Variant:
    """The framework's app with no production piece."""
    return Variant(framework)


def full(framework: str) -> Variant:
    """The framework's app with every production piece."""
    return Variant(framework, frozenset(FEATURES))


def in_process_variants(fastapi_pieces: bool = True) -> list[Variant]:
    """Bare, each piece alone, full: for lanner, and for FastAPI (its pieces when asked)."""
    found = [bare("lanner"), *(Variant("lanner", frozenset({f})) for f in FEATURES), full("lanner")]
    found.append(bare("fastapi"))
    if fastapi_pieces:
        found += [Variant("fastapi", frozenset({f})) for f in FEATURES]
    return [*found, full("fastapi"), FASTAPI_ASGI]


FASTAPI_ASGI = Variant("fastapi", frozenset(FEATURES), pure_asgi=True)
"""FastAPI's full stack with its three hand-written middleware as pure ASGI classes: what a
careful FastAPI user could write instead of the usual ``@app.middleware("http")`` functions."""

SERVER_VARIANTS = (bare("lanner"), full("lanner"), bare("fastapi"), full("fastapi"), FASTAPI_ASGI)
"""The apps measured on a real server."""


def build_app(variant: Variant, log_dir: Path, **options: Any) -> ASGIApp:
    """Build ``variant``'s app, its access log in ``log_dir`` (`options` go to ``create_app``).

    Raises:
        ImportError: If the framework, a piece's package or a lanner production module is missing.
    """
    module = importlib.import_module(APP_MODULES[variant.framework])
    factory: Callable[..., ASGIApp] = module.create_app
    log = log_dir / f"{variant.framework}-access.log"
    if variant.pure_asgi:
        options["pure_asgi"] = True
    return factory(sorted(variant.features), access_log=str(log), **options)


# -- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """A response to the JSON request, decoded.

    Attributes:
        status: The status code.
        body: The JSON body (the raw bytes when it is not JSON), decompressed when gzipped.
        media_type: The ``Content-Type`` before any parameter.
        compressed: Whether the body came gzipped.
        headers: Every header, names in lower case (the last of repeated ones).
    """

    status: int
    body: Any
    media_type: str
    compressed: bool
    headers: dict[str, str]


def decode_answer(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Answer:
    """Decode a response: lower-case header names, gunzip and parse the body."""
    named = {name.lower(): value for name, value in headers}
    compressed = named.get("content-encoding", "") == "gzip"
    if compressed:
        with contextlib.suppress(OSError, EOFError):
            body = gzip.decompress(body)
    parsed: Any = body
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
    media = named.get("content-type", "").split(";")[0].strip().lower()
    return Answer(status, parsed, media, compressed, named)


def visible(answer: Answer) -> tuple[Any, ...]:
    """What a client sees of the production pieces: equal for lanner and FastAPI with the same pieces.

    Status, body, media type, whether it was compressed, the CORS origin allowed, whether a
    request id came back, and the security headers. Rate-limit headers are left out: slowapi sends
    none by default.
    """
    security = tuple((name, answer.headers.get(name.lower())) for name, _ in SECURITY_HEADERS)
    return (
        answer.status,
        answer.body,
        answer.media_type,
        answer.compressed,
        answer.headers.get("access-control-allow-origin"),
        bool(answer.headers.get("x-request-id")),
        security,
    )


def answer_problems(variant: Variant, answer: Answer) -> list[str]:
    """What is wrong with ``variant``'s answer to the JSON request (nothing: an empty list)."""
    problems = []
    if (answer.status, answer.body, answer.media_type) != (200, EXPECTED_BODY, "application/json"):
        problems.append(f"answered {answer.status} {answer.media_type} {answer.body!r}")
    origin = answer.headers.get("access-control-allow-origin")
    if ("cors" in variant.features) != (origin == ORIGIN):
        problems.append(f"Access-Control-Allow-Origin is {origin!r}")
    request_id = answer.headers.get("x-request-id")
    # lanner's access log brings its request id along: every line carries one.
    implied = variant.framework == "lanner" and "access_log" in variant.features
    if ("request_id" in variant.features or implied) != bool(request_id):
        problems.append(f"X-Request-ID is {request_id!r}")
    sent = [(n, answer.headers.get(n.lower())) for n, _ in SECURITY_HEADERS]
    if "security_headers" in variant.features and sent != list(SECURITY_HEADERS):
        problems.append(f"security headers are {sent}")
    if "security_headers" not in variant.features and any(v is not None for _, v in sent):
        problems.append(f"security headers without the piece: {sent}")
    return [f"{variant.name}: {p}" for p in problems]


class BenchmarkError(Exception):
    """Raised when an app cannot be built, fails its startup or answers wrongly."""


# -- in process ---------------------------------------------------------------------------------


def _receiver() -> Callable[[], Any]:
    pending: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    return receive


def json_scope(path: str = "/json", headers: Sequence[tuple[str, str]] = REQUEST_HEADERS) -> dict[str, Any]:
    """The in-process request: `benchmarks.core`'s uvicorn-shaped scope plus `REQUEST_HEADERS`."""
    scope = build_scope("GET", path)
    scope["headers"] += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return scope


@dataclass(slots=True)
class LoadedVariant:
    """A variant's app, started, with its access log file."""

    variant: Variant
    app: ASGIApp
    lifespan: LifespanRunner
    log: Path

    async def get(self, path: str = "/json", headers: Sequence[tuple[str, str]] = REQUEST_HEADERS) -> Answer:
        """Send one GET with `REQUEST_HEADERS` (or ``headers``) and return the decoded answer."""
        scope = json_scope(path, headers)
        scope["state"] = self.lifespan.state.copy()
        recorder = Recorder()
        await self.app(scope, _receiver(), recorder.send)
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in recorder.headers]
        return decode_answer(recorder.status, raw, recorder.body)

    async def time_requests(self, count: int, check: bool = True) -> tuple[float, float]:
        """Send the JSON request ``count`` times; CPU and wall-clock microseconds per request.

        CPU time is the process's (``time.process_time``: user and system, every thread): on a
        shared machine it is what the requests cost, while the wall clock also counts the time
        other jobs held the CPU.

        Raises:
            BenchmarkError: If the last answer is wrong (and ``check``).
        """
        template = json_scope()
        copy_scope, copy_state, headers = template.copy, self.lifespan.state.copy, template["headers"]
        app, recorder = self.app, Recorder()
        send = recorder.send
        if count >= 1000:
            gc.collect()
        cpu, start = time.process_time_ns(), time.perf_counter_ns()
        for _ in range(count):
            recorder.body = b""
            scope = copy_scope()
            scope["state"] = copy_state()
            scope["headers"] = list(headers)  # a middleware may add to the request's headers
            await app(scope, _receiver(), send)
        elapsed, cpu = time.perf_counter_ns() - start, time.process_time_ns() - cpu
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in recorder.headers]
        answer = decode_answer(recorder.status, raw, recorder.body)
        if check and (problems := answer_problems(self.variant, answer)):
            raise BenchmarkError("; ".join(problems))
        return cpu / count / 1000, elapsed / count / 1000


async def load_variants(variants: Sequence[Variant], log_dir: Path, **options: Any) -> list[LoadedVariant]:
    """Build and start every variant's app (`options` go to each ``create_app``).

    Raises:
        BenchmarkError: If an app cannot be built or fails its lifespan startup.
    """
    loaded: list[LoadedVariant] = []
    try:
        for variant in variants:
            try:
                app = build_app(variant, log_dir, **options)
            except ImportError as exc:
                raise BenchmarkError(f"{variant.name}: {exc}") from exc
            runner = LifespanRunner(app)
            await runner.startup()
            loaded.append(LoadedVariant(variant, app, runner, log_dir / f"{variant.framework}-access.log"))
    except BaseException:
        await shutdown(loaded)
        raise
    return loaded


async def shutdown(loaded: Sequence[LoadedVariant]) -> None:
    """Run every app's lifespan shutdown."""
    for item in loaded:
        await item.lifespan.shutdown()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


async def verify(item: LoadedVariant) -> Answer:
    """Check one app: its answer, the access log line it writes, the request counted on ``/metrics``.

    Raises:
        BenchmarkError: On the first problem.
    """
    before = len(_lines(item.log))
    answer = await item.get()
    problems = answer_problems(item.variant, answer)
    lines = _lines(item.log)
    if "access_log" in item.variant.features:
        last: Any = None
        with contextlib.suppress(ValueError, IndexError):
            last = json.loads(lines[-1])
        if len(lines) != before + 1 or not isinstance(last, dict) or "/json" not in json.dumps(last):
            problems.append(f"{item.variant.name}: access log went from {before} to {len(lines)} lines")
    elif len(lines) != before:
        problems.append(f"{item.variant.name}: logged without the access log piece")
    if "metrics" in item.variant.features:
        metrics = await item.get("/metrics", [("Origin", ORIGIN), ("Accept-Encoding", "identity")])
        if metrics.status != 200 or b"/json" not in metrics.body:
            problems.append(f"{item.variant.name}: /metrics answered {metrics.status} without /json")
    if problems:
        raise BenchmarkError("; ".join(problems))
    return answer


async def _null_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"message":"hello"}'})


@dataclass(slots=True)
class InProcessRun:
    """The in-process samples: microseconds per request, per variant and round.

    Attributes:
        samples: CPU microseconds per request, by variant name, one per round.
        wall: Wall-clock microseconds per request, the same way.
        harness: CPU microseconds per request of a null app (the driver's own cost), per round.
        stall: Share of the time some task of the machine waited for a CPU (Linux PSI).
    """

    variants: list[Variant]
    requests: int
    rounds: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)
    harness: list[float] = field(default_factory=list)
    stall: float = 0.0
    seconds: float = 0.0
    fastapi_requests: int = 0

    def count(self, variant: Variant) -> int:
        """Requests per round of ``variant``: FastAPI's apps take over ten times longer each."""
        return (self.fastapi_requests or self.requests) if variant.framework == "fastapi" else self.requests


async def measure_in_process(
    variants: Sequence[Variant],
    *,
    requests: int = 5_000,
    fastapi_requests: int = 1_000,
    rounds: int = 7,
    warmup: int = 2_000,
    log_dir: Path,
    progress: bool = False,
) -> InProcessRun:
    """Check every app, warm up, then time interleaved rounds (the order rotates every round).

    Every lanner app gets ``requests`` requests a round, every FastAPI app ``fastapi_requests``.

    Raises:
        BenchmarkError: If an app cannot be loaded or answers wrongly.
    """
    loaded = await load_variants(variants, log_dir)
    run = InProcessRun(list(variants), requests, rounds, {v.name: [] for v in variants})
    run.fastapi_requests = fastapi_requests
    run.wall = {v.name: [] for v in variants}
    null = LoadedVariant(Variant("harness"), _null_app, LifespanRunner(_null_app), log_dir / "none")
    try:
        for item in loaded:
            await verify(item)
            if warmup > 0:
                await item.time_requests(warmup)
        stall, started = cpu_stall_us(), time.monotonic()
        for index in range(rounds):
            shift = index % len(loaded)
            for item in loaded[shift:] + loaded[:shift]:
                cpu, wall = await item.time_requests(run.count(item.variant))
                run.samples[item.variant.name].append(cpu)
                run.wall[item.variant.name].append(wall)
            run.harness.append((await null.time_requests(requests, check=False))[0])
            if progress:
                print(f"in process: round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
        run.seconds = time.monotonic() - started
        run.stall = (cpu_stall_us() - stall) / 1e6 / run.seconds if run.seconds > 0 else 0.0
    finally:
        await shutdown(loaded)
    return run


# -- real servers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerSample:
    """One measured wrk run against one server.

    Attributes:
        variant, round: What was measured, and in which round (pairs the ratios).
        rps: Requests per second.
        p50_ms, p99_ms: Latency percentiles.
        server_cpu: Share of one CPU the server used.
        cpu_us: Server CPU microseconds per request.
        stall: Share of the window in which some task waited for a CPU (Linux PSI).
    """

    variant: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    cpu_us: float
    stall: float

    @property
    def cpu_rate(self) -> float:
        """Requests per second of server CPU: the rate a server with a CPU of its own would reach."""
        return 1e6 / self.cpu_us if self.cpu_us > 0 else 0.0


@dataclass(slots=True)
class ServerRun:
    """The server samples, the settings, and what went wrong."""

    variants: list[Variant]
    rounds: int
    duration: float
    warmup: float
    connections: int
    pinning: str = ""
    samples: list[ServerSample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, variant: Variant) -> list[ServerSample]:
        """The samples of one variant."""
        return [s for s in self.samples if s.variant == variant.name]

    def by_round(self, metric: str) -> dict[str, dict[int, float]]:
        """Every variant's `metric` (``rps`` or ``cpu_rate``) by round."""
        return {v.name: {s.round: getattr(s, metric) for s in self.of(v)} for v in self.variants}


SCENARIO = HttpScenario("json", "JSON GET", "GET", "/json", EXPECTED_BODY, headers=REQUEST_HEADERS)
"""The JSON request as wrk sends it."""


def fetch_answer(port: int, path: str = "/json", timeout: float = 30.0) -> Answer:
    """Send the JSON request's headers to ``path`` on 127.0.0.1:``port`` and decode the answer.

    Raises:
        OSError: If the connection fails or the answer is not HTTP.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=dict(REQUEST_HEADERS))
        response = connection.getresponse()
        return decode_answer(response.status, response.getheaders(), response.read())
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()


def _server_env(variant: Variant, log_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    env[FEATURES_ENV] = ",".join(sorted(variant.features)) or "none"
    env[LOG_DIR_ENV] = str(log_dir)
    env[PURE_ASGI_ENV] = "1" if variant.pure_asgi else "0"
    return env


def measure_servers(
    variants: Sequence[Variant],
    *,
    rounds: int = 5,
    duration: float = 2.0,
    warmup: float = 0.5,
    connections: int = 64,
    progress: bool = False,
) -> ServerRun:
    """Serve every variant on uvicorn and load it with wrk in interleaved rounds.

    Raises:
        BenchmarkError: If wrk is missing.
    """
    wrk = find_wrk()
    if wrk is None:
        raise BenchmarkError("wrk is not installed; install Debian's package: apt-get install -y wrk")
    pinned = (os.cpu_count() or 1) >= 2 and find_executable("taskset")
    server_cpu, load_cpu = (0, 1) if pinned else (None, None)
    run = ServerRun(list(variants), rounds, duration, warmup, connections)
    run.pinning = "server on CPU 0, wrk on CPU 1 (taskset)" if pinned else "not pinned"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lanner-production-") as folder:
        scratch = Path(folder)
        script = scratch / "json.lua"
        script.write_text(wrk_script(SCENARIO))
        servers: list[tuple[Variant, ServerProcess]] = []
        try:
            for variant in variants:
                log_dir = scratch / variant.name
                log_dir.mkdir()
                spec = FrameworkSpec(variant.name, APP_MODULES[variant.framework], "asgi", ())
                log = (scratch / f"{variant.name}.out").open("w+b")
                env = _server_env(variant, log_dir)
                servers.append((variant, ServerProcess(spec, SERVER_SPECS["uvicorn"], log, server_cpu, env)))
            live = _start(servers, run)
            for index in range(rounds):
                shift = index % max(len(live), 1)
                for variant, process in live[shift:] + live[:shift]:
                    _measure_server(run, variant, process, index, (wrk, script, load_cpu))
                if progress:
                    print(f"servers: round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
        finally:
            for _, process in servers:
                process.stop()
    run.seconds = time.monotonic() - started
    return run


def _check_server(run: ServerRun, variant: Variant, process: ServerProcess) -> bool:
    try:
        problems = answer_problems(variant, fetch_answer(process.port))
    except OSError as exc:
        problems = [f"{variant.name}: {exc}"]
    run.problems += problems
    return not problems


def _start(
    servers: list[tuple[Variant, ServerProcess]], run: ServerRun
) -> list[tuple[Variant, ServerProcess]]:
    live = []
    for variant, process in servers:
        try:
            process.wait_ready(lambda port: fetch_answer(port, timeout=5), 60)
        except ServerError as exc:
            run.problems.append(f"{variant.name} did not start: {exc}")
            continue
        if _check_server(run, variant, process):
            live.append((variant, process))
    return live


def _measure_server(
    run: ServerRun, variant: Variant, process: ServerProcess, index: int, load: tuple[str, Path, int | None]
) -> None:
    wrk, script, cpu = load
    if not _check_server(run, variant, process):
        return
    try:
        if run.warmup > 0:
            run_wrk(wrk, process.port, script, run.connections, run.warmup, cpu)
        stall, cpu_before, clock = cpu_stall_us(), process.cpu_seconds(), time.monotonic()
        sample = run_wrk(wrk, process.port, script, run.connections, run.duration, cpu)
        wall = time.monotonic() - clock
        used, stalled = process.cpu_seconds() - cpu_before, (cpu_stall_us() - stall) / 1e6
    except LoadError as exc:
        run.problems.append(f"{variant.name}: {exc}")
        return
    if not _check_server(run, variant, process):
        return
    if sample.bad_status or sample.errors:
        run.problems.append(
            f"{variant.name}: {sample.bad_status} bad answers, {sample.errors} errors; dropped"
        )
        return
    cpu_us = used / sample.requests * 1e6 if sample.requests else 0.0
    run.samples.append(
        ServerSample(
            variant.name, index, sample.rps, sample.p50_ms, sample.p99_ms, used / wall, cpu_us, stalled / wall
        )
    )


# -- statistics ---------------------------------------------------------------------------------


def paired(numerator: dict[int, float], denominator: dict[int, float], op: str = "/") -> float | None:
    """The median over rounds of ``numerator[r] / denominator[r]`` (or ``-``), None without a pair."""
    values = [
        numerator[r] / denominator[r] if op == "/" else numerator[r] - denominator[r]
        for r in numerator
        if r in denominator and (op != "/" or denominator[r] > 0)
    ]
    return statistics.median(values) if values else None


def by_round(samples: Sequence[float]) -> dict[int, float]:
    """The samples of consecutive rounds, keyed by round."""
    return dict(enumerate(samples))


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how much the rounds disagreed (0 without values)."""
    if not values:
        return 0.0
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


# -- report -------------------------------------------------------------------------------------

TARGET_VS_BARE = 0.75
"""lanner full stack's throughput over the bare lanner app's, at least."""

TARGET_VS_FASTAPI = 3.0
"""lanner full stack's throughput over FastAPI's full stack, at least."""


@dataclass(slots=True)
class Report:
    """One run: its settings, the machine, both measurements and what went wrong."""

    command: str
    started: str
    machine: dict[str, str]
    versions: dict[str, str]
    in_process: InProcessRun | None = None
    servers: ServerRun | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def targets(self) -> list[tuple[str, str, float | None, float]]:
        """``(comparison, setting, lanner full's speed over the other app's, bound)``, paired by round.

        Comparisons: ``bare`` (over the bare lanner app) and ``fastapi`` (over FastAPI's full
        stack), the issue's targets, and ``fastapi-asgi`` (over `FASTAPI_ASGI`), shown for
        information. The ratio is None when either app was not measured.
        """
        found: list[tuple[str, str, float | None, float]] = []
        top = full("lanner").name
        others = {
            "bare": bare("lanner").name,
            "fastapi": full("fastapi").name,
            "fastapi-asgi": FASTAPI_ASGI.name,
        }
        bounds = {"bare": TARGET_VS_BARE, "fastapi": TARGET_VS_FASTAPI, "fastapi-asgi": TARGET_VS_FASTAPI}
        if self.in_process is not None:
            times = {name: by_round(values) for name, values in self.in_process.samples.items()}
            for key, other in others.items():
                ratio = paired(times[other], times[top]) if top in times and other in times else None
                found.append((key, "in process (CPU time)", ratio, bounds[key]))
        if self.servers is not None:
            for setting, metric in (
                ("real server (req/s)", "rps"),
                ("real server (CPU per request)", "cpu_rate"),
            ):
                rates = self.servers.by_round(metric)
                found += [
                    (key, setting, _server_ratio(rates, top, other), bounds[key])
                    for key, other in others.items()
                ]
        return found

    def met(self) -> bool:
        """Whether every target measured was met and nothing went wrong."""
        measured = [t for t in self.targets() if t[0] != "fastapi-asgi"]
        problems = self.servers.problems if self.servers is not None else []
        return not problems and all(r is not None and r >= bound for _, _, r, bound in measured)


def _server_ratio(rates: dict[str, dict[int, float]], top: str, bottom: str) -> float | None:
    if top not in rates or bottom not in rates:
        return None
    return paired(rates[top], rates[bottom])


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} x"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def format_markdown(report: Report) -> str:
    """Render the report: setting, targets, in-process table with each piece's cost, server table, noise."""
    machine = report.machine
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    headers = " and ".join(f"`{k}: {v}`" for k, v in REQUEST_HEADERS)
    size = len(json.dumps(EXPECTED_BODY, separators=(",", ":")))
    lines = [
        "# Production stack benchmark",
        "",
        f"`{report.command}` on {report.started}, {report.seconds / 60:.1f} min.",
        "",
        f"- Machine: {machine.get('cpu')} ({machine.get('cpus')} CPUs), {machine.get('os')}, Python "
        f"{machine.get('python')}; load average {machine.get('load_before')} before, "
        f"{machine.get('load_after', '?')} after.",
        f"- Versions: {versions}.",
        f"- Request: `GET /json` with {headers}, as a browser's `fetch` sends it; answer "
        f"`{json.dumps(EXPECTED_BODY)}` ({size} bytes). Both gzip middlewares "
        "skip bodies under their minimum size (500 bytes by default), so gzip inspects every response "
        "and compresses none: its cost here is the check alone.",
        '- lanner full stack: `RequestIDMiddleware`, `Lanner(access_log="json")` to a file, '
        '`Lanner(metrics_url="/metrics")`, `CORSMiddleware`, `GZipMiddleware`, '
        "`SecurityHeadersMiddleware`, `rate_limit=RateLimit(...)` in memory on the route.",
        '- FastAPI full stack: `@app.middleware("http")` request id (UUID4 in a context variable), '
        '`@app.middleware("http")` JSON access log through `logging` to a file, '
        "prometheus-fastapi-instrumentator (`Instrumentator().instrument(app).expose(app)`), "
        'Starlette\'s `CORSMiddleware` and `GZipMiddleware`, `@app.middleware("http")` security headers '
        "(lanner's default set), slowapi's `@limiter.limit(...)` in memory on the route.",
        f"- The rate limit is `{RATE}` for both: never reached, so its cost is the bookkeeping alone.",
        "- lanner's `access_log` adds `RequestIDMiddleware` when the app has none (every line carries an "
        "id), so `lanner + JSON access log` pays for a request id too, and the sum of the pieces alone "
        "counts the request id twice. lanner's `RateLimit` sends `RateLimit` and `RateLimit-Policy` "
        "headers; slowapi sends none by default.",
        *(f"- {note}" for note in report.notes),
        "",
        "## Targets",
        "",
        "| target | setting | measured | result |",
        "|---|---|---:|---|",
    ]
    names = {
        "bare": f"lanner full stack >= {TARGET_VS_BARE} x bare lanner",
        "fastapi": f"lanner full stack >= {TARGET_VS_FASTAPI:.0f} x FastAPI full stack",
        "fastapi-asgi": "(not a target) lanner full stack / FastAPI full stack, pure ASGI middleware",
    }
    for key, setting, ratio, bound in report.targets():
        result = "not measured" if ratio is None else "ok" if ratio >= bound else "MISSED"
        if key == "fastapi-asgi" and ratio is not None:
            result = f"{'above' if ratio >= bound else 'below'} {bound:.0f} x"
        lines.append(f"| {names[key]} | {setting} | {_x(ratio)} | {result} |")
    lines += ["", *_budget(report)]
    if report.in_process is not None:
        lines += ["", *_in_process_section(report.in_process)]
    if report.servers is not None:
        lines += ["", *_server_section(report.servers)]
    lines += ["", *_noise_section(report)]
    return "\n".join(lines) + "\n"


def _budget(report: Report) -> list[str]:
    """What 0.75 x leaves for the whole stack (a third of the bare app's time), and what it costs."""
    costs = []
    if report.in_process is not None:
        samples = report.in_process.samples
        costs.append(
            ("in process", "CPU µs a request", samples.get("lanner", []), samples.get("lanner-full", []))
        )
    if report.servers is not None:
        cpu = {v: [s.cpu_us for s in report.servers.of(v)] for v in (bare("lanner"), full("lanner"))}
        costs.append(("on the server", "server CPU µs a request", cpu[bare("lanner")], cpu[full("lanner")]))
    found = []
    for setting, unit, plain, stacked in costs:
        if plain and stacked:
            base, whole = statistics.median(plain), statistics.median(stacked)
            found.append(
                f"{setting}, the bare app takes {base:.1f} {unit}, which leaves "
                f"{base * (1 / TARGET_VS_BARE - 1):.1f} for the whole stack; it takes {whole - base:.1f}"
            )
    if not found:
        return []
    return [f"Budget of the {TARGET_VS_BARE} x target: " + "; ".join(found) + " (medians)."]


def _in_process_section(run: InProcessRun) -> list[str]:
    harness = statistics.median(run.harness) if run.harness else 0.0
    lines = [
        "## In process",
        "",
        f"{run.requests:,} requests (FastAPI's apps: {run.count(bare('fastapi')):,}) x {run.rounds} "
        "interleaved rounds per app (the order rotates every "
        "round), the driver of `benchmarks.core`: synthetic ASGI events on one event loop, no sockets. "
        "Times are the process's CPU time per request (user + system: the access log's writes count), "
        "which other jobs on the machine barely move; the wall clock is beside it. The harness itself "
        f"costs {harness:.2f} µs of CPU a request (a null app), included in every number. `speed vs "
        "lanner bare` is the bare lanner app's time over the app's, `own cost` the app's time minus its "
        "framework's bare app's; both are paired by round (the median of the per-round quotients or "
        "differences), on CPU time, and on wall-clock time for `speed (wall)`.",
        "",
        "| app | CPU µs/request | min - max | spread | wall µs/request | speed vs lanner bare "
        "| speed (wall) | own cost µs | own cost % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    times = {name: by_round(values) for name, values in run.samples.items()}
    walls = {name: by_round(values) for name, values in run.wall.items()}
    lanner = bare("lanner").name
    for variant in run.variants:
        values = run.samples[variant.name]
        own = times.get(bare(variant.framework).name)
        cost = paired(times[variant.name], own, "-") if own is not None and variant.features else None
        base = statistics.median(own.values()) if own else 0.0
        cells = [
            variant.label,
            f"{statistics.median(values):.2f}",
            f"{min(values):.2f} - {max(values):.2f}",
            _pct(spread(values)),
            f"{statistics.median(run.wall[variant.name]):.2f}",
            _x(paired(times[lanner], times[variant.name]) if lanner in times else None),
            _x(paired(walls[lanner], walls[variant.name]) if lanner in walls else None),
            "-" if cost is None else f"{cost:+.2f}",
            "-" if cost is None or not base else f"{cost / base * 100:+.0f}%",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for framework in ("lanner", "fastapi"):
        summary = _pieces_summary(run, times, framework)
        if summary:
            lines += ["", summary]
    return lines


def _pieces_summary(run: InProcessRun, times: dict[str, dict[int, float]], framework: str) -> str:
    own = times.get(bare(framework).name)
    whole = times.get(full(framework).name)
    pieces = [v for v in run.variants if v.framework == framework and v.piece is not None]
    if own is None or whole is None or not pieces:
        return ""
    costs = {v.piece: paired(times[v.name], own, "-") or 0.0 for v in pieces}
    total = paired(whole, own, "-") or 0.0
    ranked = ", ".join(f"{FEATURES[p]} {c:+.2f}" for p, c in sorted(costs.items(), key=lambda i: -i[1]) if p)
    return (
        f"{framework}: the pieces alone add {sum(costs.values()):+.2f} µs together ({ranked}); the full "
        f"stack adds {total:+.2f} µs to the bare app's {statistics.median(own.values()):.2f} µs."
    )


def _server_section(run: ServerRun) -> list[str]:
    lines = [
        "## Real server",
        "",
        f"uvicorn, 1 process (uvloop, httptools, access log off), {run.pinning}; wrk with 1 thread and "
        f"{run.connections} connections on 127.0.0.1; {run.rounds} interleaved rounds (the order rotates) "
        f"of {run.duration:g} s measured after {run.warmup:g} s of warm-up, each answer checked before and "
        "after. Ratios are paired by round. `server µs/request` is the server's CPU time (from /proc) "
        "over the requests it answered: it moves less than the rate when neighbours take the CPU.",
        "",
        "| app | req/s | min - max | spread | p50 ms | p99 ms | server CPU | server µs/request "
        "| CPU stall | vs lanner bare | vs lanner bare, CPU | lanner full / app | lanner full / app, CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rates, cpu_rates = run.by_round("rps"), run.by_round("cpu_rate")
    for variant in run.variants:
        samples = run.of(variant)
        if not samples:
            lines.append(f"| {variant.label} | not measured |" + " |" * 11)
            continue
        rps = [s.rps for s in samples]
        cells = [
            variant.label,
            f"{statistics.median(rps):,.0f}",
            f"{min(rps):,.0f} - {max(rps):,.0f}",
            _pct(spread(rps)),
            f"{statistics.median(s.p50_ms for s in samples):.2f}",
            f"{statistics.median(s.p99_ms for s in samples):.2f}",
            _pct(statistics.median(s.server_cpu for s in samples)),
            f"{statistics.median(s.cpu_us for s in samples):.1f}",
            _pct(statistics.median(s.stall for s in samples)),
            _x(_server_ratio(rates, variant.name, bare("lanner").name)),
            _x(_server_ratio(cpu_rates, variant.name, bare("lanner").name)),
            _x(_server_ratio(rates, full("lanner").name, variant.name)),
            _x(_server_ratio(cpu_rates, full("lanner").name, variant.name)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if run.problems:
        lines += ["", "Problems:", *(f"- {p}" for p in run.problems)]
    return lines


def _noise_section(report: Report) -> list[str]:
    lines = ["## Noise", ""]
    if report.in_process is not None:
        run = report.in_process
        spreads = [spread(v) for v in run.samples.values()]
        lines.append(
            f"- In process: the rounds of one app differ by {_pct(min(spreads))} to {_pct(max(spreads))} "
            f"(max - min over median, median {_pct(statistics.median(spreads))}); some task waited for a "
            f"CPU {_pct(run.stall)} of the {run.seconds:.0f} s (Linux PSI)."
        )
    if report.servers is not None and report.servers.samples:
        samples = report.servers.samples
        spreads = [spread([s.rps for s in report.servers.of(v)]) for v in report.servers.variants]
        stall = [s.stall for s in samples]
        lines.append(
            f"- Real server: rates differ by {_pct(min(spreads))} to {_pct(max(spreads))} between rounds; "
            f"CPU stall {_pct(min(stall))} to {_pct(max(stall))} of the windows (median "
            f"{_pct(statistics.median(stall))}); server CPU {_pct(min(s.server_cpu for s in samples))} to "
            f"{_pct(max(s.server_cpu for s in samples))}."
        )
    lines.append(
        f"- Load average {report.machine.get('load_before')} before, {report.machine.get('load_after', '?')} "
        "after. The machine is shared: other jobs ran during the run, so compare ratios (paired by "
        "round), not absolute numbers."
    )
    return lines


_VERSIONED = (
    "lanner",
    "fastapi",
    "starlette",
    "slowapi",
    "limits",
    "prometheus-fastapi-instrumentator",
    "prometheus-client",
    "pydantic",
    "uvicorn",
    "uvloop",
    "httptools",
    "wrk",
)


def _versions() -> dict[str, str]:
    found = describe_versions(find_wrk() or "wrk")
    for package in _VERSIONED:
        if package not in found:
            with contextlib.suppress(metadata.PackageNotFoundError):
                found[package] = metadata.version(package)
    return {k: found[k] for k in _VERSIONED if k in found}


# -- command line -------------------------------------------------------------------------------


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        number = kind(value)
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return number

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.production", description=__doc__)
    add = parser.add_argument
    add("--requests", type=_positive(int), default=5_000, help="in process: requests per app and round")
    add("--fastapi-requests", type=_positive(int), default=1_000, help="in process: the same for FastAPI")
    add("--rounds", type=_positive(int), default=7, help="in process: interleaved rounds (default 7)")
    add("--warmup", type=int, default=2_000, help="in process: untimed requests per app first")
    add("--no-fastapi-pieces", action="store_true", help="in process: FastAPI bare and full only")
    add("--server-rounds", type=_positive(int), default=5, help="real server: interleaved rounds (5)")
    add("--duration", type=_positive(float), default=2.0, help="real server: measured seconds per run (2)")
    add("--server-warmup", type=float, default=0.5, help="real server: warm-up seconds per run (0.5)")
    add("--connections", type=_positive(int), default=64, help="real server: wrk connections (64)")
    add("--no-server", action="store_true", help="skip the real-server measurement")
    add("--no-in-process", action="store_true", help="skip the in-process measurement")
    add("--output", type=Path, default=ROOT / "benchmarks" / "results", help="output directory")
    add("--name", default="production", help="markdown file stem (default production)")
    add("--no-progress", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.server_warmup < 0 or args.warmup < 0:
        parser.error("warm-ups must not be negative")
    if args.no_server and args.no_in_process:
        parser.error("nothing to measure: --no-server and --no-in-process together")
    return args


def run(args: argparse.Namespace, command: str) -> Report:
    """Measure what ``args`` asks for and return the report.

    Raises:
        BenchmarkError: If an app cannot be built or answers wrongly.
    """
    report = Report(command, datetime.now().strftime("%Y-%m-%d %H:%M"), describe_machine(), _versions())
    started, progress = time.monotonic(), not args.no_progress
    if not args.no_in_process:
        with tempfile.TemporaryDirectory(prefix="lanner-production-") as folder:
            try:
                coroutine = measure_in_process(
                    in_process_variants(not args.no_fastapi_pieces),
                    requests=args.requests,
                    fastapi_requests=args.fastapi_requests,
                    rounds=args.rounds,
                    warmup=args.warmup,
                    log_dir=Path(folder),
                    progress=progress,
                )
                report.in_process = asyncio.run(coroutine)
            finally:
                close_access_log_files()
    if not args.no_server:
        try:
            report.servers = measure_servers(
                SERVER_VARIANTS,
                rounds=args.server_rounds,
                duration=args.duration,
                warmup=args.server_warmup,
                connections=args.connections,
                progress=progress,
            )
        except BenchmarkError as exc:
            report.notes.append(f"Real server not measured: {exc}")
    report.seconds = time.monotonic() - started
    report.machine["load_after"] = load_average()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target was met, 1 when one was missed, 3 when it could not run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        report = run(args, shlex.join(["python", "-m", "benchmarks.production", *argv]))
    except BenchmarkError as exc:
        print(f"benchmark not run: {exc}", file=sys.stderr)
        return 3
    text = format_markdown(report)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"{args.name}.md"
    path.write_text(text)
    print(text)
    print(f"written: {path}", file=sys.stderr)
    return 0 if report.met() else 1


if __name__ == "__main__":
    sys.exit(main())
