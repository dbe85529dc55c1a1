"""WSGI bridge benchmark: a Flask app mounted in lanner, and lanner served as WSGI (issue 13).

``python -m benchmarks.wsgi [--quick] [--out benchmarks/results/wsgi.md]`` (about 9 minutes; 3
with ``--quick``) serves the JSON and plaintext scenarios of the server benchmark
(``GET /json`` → ``{"message": "hello"}``, ``GET /plaintext``) from real servers, each pinned to
CPU 0 with every process it forks, loaded by wrk on CPU 1, in interleaved rounds:

1. The server benchmark's Flask app (`benchmarks.apps.flask_app`) on gunicorn gthread workers,
   against the same Flask app mounted in a lanner app with ``app.mount_wsgi("/", flask_app)``
   on uvicorn with as many worker processes (`benchmarks.apps.wsgi_lanner`). Target: the mount
   answers at least 0.8 x as many requests. Measured with the main suite's sizing (3 processes,
   gunicorn's 2 x CPUs + 1 for the one CPU) and with 1 process on each side.
2. The server benchmark's lanner app (the same routes) through ``app.wsgi``
   (`lanner.wsgi.to_wsgi`) on gunicorn sync workers, against the Flask app on the same
   workers. Target: at least 1.5 x Flask. The same on gthread workers is shown too.
3. For reference: the Flask app under a prefix (``/legacy``), the lanner app on uvicorn (a route
   that has moved), and floors that do no work (`raw_wsgi` on each gunicorn worker class, through
   ``mount_wsgi`` and through a2wsgi alone), which split each bridge's cost from its server's.

Every answer is checked before and after each measured run; ratios are paired by round. An
in-process section times the WSGI callables alone (no server). The markdown report and a JSON
file with every sample go to ``benchmarks/results/wsgi.md`` and ``wsgi.json`` (``wsgi-quick.*``
with ``--quick``). Exit status: 0 when every target was met, 1 when one was missed, 3 when the
benchmark could not run (wrk missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import io
import json
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

from benchmarks.harness import describe_machine, describe_versions, find_executable, load_average
from benchmarks.load import LoadError, check, fetch, find_wrk, run_wrk
from benchmarks.realtime import cpu_stall_us
from benchmarks.scenarios import SCENARIOS, HttpScenario, wrk_script
from benchmarks.servers import (
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    ROOT,
    FrameworkSpec,
    Interface,
    ServerError,
    ServerProcess,
    ServerSpec,
    missing_packages,
)

SCENARIO_NAMES = ("json", "plaintext")
"""The scenarios measured, from the server benchmark's (`benchmarks.scenarios.SCENARIOS`)."""

TARGET_MOUNT = 0.8
"""Flask through ``mount_wsgi`` on uvicorn over Flask on gunicorn gthread, at least (JSON)."""

TARGET_SYNC = 1.5
"""lanner through ``to_wsgi`` on gunicorn sync workers over Flask on the same workers, at least (JSON)."""

_APPS = "benchmarks.apps"


def has_module(name: str) -> bool:
    """Whether the top-level package ``name`` can be imported here."""
    return importlib.util.find_spec(name) is not None


@dataclass(frozen=True, slots=True)
class Target:
    """One app on one server.

    Attributes:
        key: Short name, unique in a run (``mount``, ``flask-gthread-1p``...).
        label: What the report calls the app.
        factory: ``module:function`` building the app (an ASGI app for uvicorn, WSGI for gunicorn).
        server: ``uvicorn``, ``gunicorn-sync`` or ``gunicorn-gthread``.
        processes: Worker processes (uvicorn ``--workers``, gunicorn ``--workers``).
        prefix: Put in front of every scenario's path (a mount prefix).
        floor: Whether the app does no work of its own (a reference, not a framework).
    """

    key: str
    label: str
    factory: str
    server: str
    processes: int
    prefix: str = ""
    floor: bool = False

    @property
    def setting(self) -> str:
        """The server and its sizing, as the report shows it."""
        if self.server == "gunicorn-gthread":
            return f"gunicorn gthread {self.processes} x {GUNICORN_THREADS} threads"
        if self.server == "gunicorn-sync":
            return f"gunicorn sync x {self.processes}"
        return f"uvicorn x {self.processes}"

    def command(self, port: int) -> list[str]:
        """The command line serving this target on 127.0.0.1:``port`` (the main suite's settings)."""
        python, host, quiet = sys.executable, "127.0.0.1", ["--log-level", "warning"]
        if self.server == "uvicorn":
            loop = ["--loop", "uvloop"] if has_module("uvloop") else []
            http = ["--http", "httptools"] if has_module("httptools") else []
            workers = ["--workers", str(self.processes)] if self.processes > 1 else []
            serve = [python, "-m", "uvicorn", self.factory, "--factory", "--host", host, "--port", str(port)]
            return [*serve, *workers, *loop, *http, "--no-access-log", *quiet]
        worker = self.server.removeprefix("gunicorn-")
        threads = ["--threads", str(GUNICORN_THREADS)] if worker == "gthread" else []
        serve = [python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--worker-class", worker]
        return [*serve, "--workers", str(self.processes), *threads, *quiet, f"{self.factory}()"]

    def scenario(self, name: str) -> HttpScenario:
        """The scenario ``name`` as this target is asked it (under its prefix)."""
        base = SCENARIOS[name]
        return dataclasses.replace(base, target=self.prefix + base.target) if self.prefix else base


@dataclass(frozen=True, slots=True)
class Comparison:
    """A ratio the report gives: ``top``'s requests per second over ``bottom``'s, paired by round.

    Attributes:
        key: Short name.
        label: What it compares, for the report.
        top: The target on top.
        bottom: The target below.
        bound: The issue's target for the JSON scenario (None: shown for information).
    """

    key: str
    label: str
    top: str
    bottom: str
    bound: float | None = None


def plan(processes: int = GUNICORN_WORKERS) -> tuple[list[Target], list[Comparison]]:
    """The targets and comparisons of a run with ``processes`` processes a server.

    With more than one process, the mount comparison is also made with one process a side.

    Raises:
        ValueError: If ``processes`` is below 1.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    n, mod = processes, f"{_APPS}.wsgi_lanner"
    flask = f"{_APPS}.flask_app:create_app"
    targets = [
        Target("flask-gthread", "Flask", flask, "gunicorn-gthread", n),
        Target("mount", 'Flask in lanner, mount_wsgi("/")', f"{mod}:create_mount_app", "uvicorn", n),
        Target(
            "mount-prefix",
            'Flask in lanner, mount_wsgi("/legacy")',
            f"{mod}:create_prefix_mount_app",
            "uvicorn",
            n,
            prefix="/legacy",
        ),
        Target("flask-sync", "Flask", flask, "gunicorn-sync", n),
        Target("lanner-wsgi-sync", "lanner, app.wsgi", f"{mod}:create_wsgi", "gunicorn-sync", n),
        Target("lanner-wsgi-gthread", "lanner, app.wsgi", f"{mod}:create_wsgi", "gunicorn-gthread", n),
        Target("lanner", "lanner (the route moved)", f"{_APPS}.lanner_app:create_app", "uvicorn", n),
        Target("raw-sync", "raw WSGI floor", f"{mod}:create_raw_wsgi", "gunicorn-sync", n, floor=True),
        Target("raw-gthread", "raw WSGI floor", f"{mod}:create_raw_wsgi", "gunicorn-gthread", n, floor=True),
        Target(
            "raw-mount", 'raw WSGI, mount_wsgi("/")', f"{mod}:create_raw_mount_app", "uvicorn", n, floor=True
        ),
        Target(
            "raw-a2wsgi", "raw WSGI, a2wsgi alone", f"{mod}:create_raw_a2wsgi_app", "uvicorn", n, floor=True
        ),
    ]
    comparisons = [
        Comparison(
            "mount",
            "Flask mounted (uvicorn) / Flask on gunicorn gthread",
            "mount",
            "flask-gthread",
            TARGET_MOUNT,
        ),
    ]
    if n > 1:
        targets += [
            Target("flask-gthread-1p", "Flask", flask, "gunicorn-gthread", 1),
            Target("mount-1p", 'Flask in lanner, mount_wsgi("/")', f"{mod}:create_mount_app", "uvicorn", 1),
        ]
        comparisons.append(
            Comparison("mount-1p", "the same, 1 process a side", "mount-1p", "flask-gthread-1p", TARGET_MOUNT)
        )
    comparisons += [
        Comparison(
            "sync", "lanner app.wsgi / Flask, gunicorn sync", "lanner-wsgi-sync", "flask-sync", TARGET_SYNC
        ),
        Comparison(
            "gthread", "lanner app.wsgi / Flask, gunicorn gthread", "lanner-wsgi-gthread", "flask-gthread"
        ),
        Comparison(
            "prefix", 'Flask mount_wsgi("/legacy") / Flask on gthread', "mount-prefix", "flask-gthread"
        ),
        Comparison("moved", "lanner on uvicorn / Flask on gthread", "lanner", "flask-gthread"),
        Comparison("flask-sync-floor", "Flask / floor, gunicorn sync", "flask-sync", "raw-sync"),
        Comparison(
            "lanner-sync-floor", "lanner app.wsgi / floor, gunicorn sync", "lanner-wsgi-sync", "raw-sync"
        ),
        Comparison("mount-floor", "raw mount_wsgi / raw on gthread", "raw-mount", "raw-gthread"),
        Comparison("mount-a2wsgi", "raw mount_wsgi / raw a2wsgi alone", "raw-mount", "raw-a2wsgi"),
    ]
    return targets, comparisons


PACKAGES = ("flask", "a2wsgi", "gunicorn", "uvicorn")
"""What the run needs besides wrk (``pip install -e '.[bench,wsgi]'``)."""


class BenchmarkError(Exception):
    """Raised when the benchmark cannot run: wrk or a package missing."""


# -- real servers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured wrk run against one target.

    Attributes:
        target: The target's key.
        scenario: The scenario's name.
        round: The round, which pairs it with the other targets' samples.
        rps: Requests per second.
        p50_ms: Median latency.
        p99_ms: 99th percentile latency.
        server_cpu: Share of one CPU the server's processes used.
        cpu_us: Server CPU microseconds per request (every process of the server).
        stall: Share of the run in which some task of the machine waited for a CPU (Linux PSI).
    """

    target: str
    scenario: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    cpu_us: float
    stall: float = 0.0


@dataclass(frozen=True, slots=True)
class _TargetServer(ServerSpec):
    """A `ServerSpec` whose command line is its target's own (sizing, factory, prefix)."""

    target: Target | None = None

    def command(self, module: str, port: int) -> list[str]:
        """The target's command line (``module`` is in it already)."""
        assert self.target is not None
        return self.target.command(port)


@dataclass(slots=True)
class Report:
    """One run: settings, machine, every sample, the in-process times, and what went wrong."""

    command: str
    started: str
    machine: dict[str, str]
    versions: dict[str, str]
    settings: dict[str, Any]
    targets: list[Target]
    comparisons: list[Comparison]
    scenarios: tuple[str, ...] = SCENARIO_NAMES
    samples: list[Sample] = field(default_factory=list)
    in_process: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, target: str, scenario: str) -> list[Sample]:
        """The samples of one target in one scenario."""
        return [s for s in self.samples if s.target == target and s.scenario == scenario]

    def ratio(self, top: str, bottom: str, scenario: str, metric: str = "rps") -> float | None:
        """The median over rounds of ``top``'s ``metric`` over ``bottom``'s in the same round.

        ``metric`` is ``rps`` or ``cpu_rate`` (requests per second of server CPU). None when no
        round has both.
        """
        below = {s.round: _metric(s, metric) for s in self.of(bottom, scenario)}
        values = [
            _metric(s, metric) / below[s.round] for s in self.of(top, scenario) if below.get(s.round, 0.0) > 0
        ]
        return statistics.median(values) if values else None

    def verdicts(self) -> list[tuple[Comparison, float | None, float | None, bool]]:
        """Each comparison with a bound: its JSON ratios (req/s, CPU per request) and whether it is met.

        A target is met when both ratios reach the bound: on a shared machine a neighbour taking
        the CPU during one target's runs moves its rate, and its CPU time per request much less.
        """
        found = []
        for comparison in self.comparisons:
            if comparison.bound is None:
                continue
            rate = self.ratio(comparison.top, comparison.bottom, "json")
            cpu = self.ratio(comparison.top, comparison.bottom, "json", "cpu_rate")
            met = rate is not None and cpu is not None and min(rate, cpu) >= comparison.bound
            found.append((comparison, rate, cpu, met))
        return found

    def met(self) -> bool:
        """Whether every target was measured and met."""
        verdicts = self.verdicts()
        return bool(verdicts) and all(met for *_, met in verdicts)


def _metric(sample: Sample, metric: str) -> float:
    if metric == "cpu_rate":
        return 1e6 / sample.cpu_us if sample.cpu_us > 0 else 0.0
    value: float = getattr(sample, metric)
    return value


def _pinning() -> tuple[int | None, int | None, str]:
    if find_executable("taskset") and has_cpus(2):
        return 0, 1, "every server process on CPU 0, wrk on CPU 1 (taskset)"
    return None, None, "not pinned (needs taskset and 2 CPUs)"


def has_cpus(count: int) -> bool:
    """Whether the machine has at least ``count`` CPUs."""
    return (os.cpu_count() or 1) >= count


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    return env


def start(target: Target, log: Any, cpu: int | None) -> ServerProcess:
    """Start ``target``'s server (pinned to ``cpu``), writing its output to ``log``."""
    module = target.factory.partition(":")[0]
    interface: Interface = "asgi" if target.server == "uvicorn" else "wsgi"
    spec = _TargetServer(target.setting, interface, (), target.setting, target)
    return ServerProcess(FrameworkSpec(target.key, module, interface, ()), spec, log, cpu, _server_env())


def measure_servers(
    report: Report,
    *,
    rounds: int,
    duration: float,
    warmup: float,
    connections: int,
    progress: bool = False,
) -> None:
    """Serve every target, check its answers, and load it with wrk in interleaved rounds.

    Within a round, every scenario goes over every target, in an order that rotates each round.
    Samples go to ``report.samples``; wrong answers, failed servers and bad samples to
    ``report.problems``.

    Raises:
        BenchmarkError: If wrk is not installed.
    """
    wrk = find_wrk()
    if wrk is None:
        raise BenchmarkError("wrk is not installed; install Debian's package: apt-get install -y wrk")
    server_cpu, load_cpu, pinning = _pinning()
    report.settings.update(
        rounds=rounds, duration=duration, warmup=warmup, connections=connections, pinning=pinning
    )
    with tempfile.TemporaryDirectory(prefix="lanner-bench-wsgi-") as folder:
        scratch = Path(folder)
        scripts: dict[tuple[str, str], Path] = {}
        servers: list[tuple[Target, ServerProcess]] = []
        try:
            for target in report.targets:
                log = (scratch / f"{target.key}.log").open("w+b")
                servers.append((target, start(target, log, server_cpu)))
                for name in report.scenarios:
                    path = scratch / f"{target.key}-{name}.lua"
                    path.write_text(wrk_script(target.scenario(name)))
                    scripts[(target.key, name)] = path
            live = _wait_all(servers, report)
            done, total = 0, rounds * len(report.scenarios) * len(live)
            for index in range(rounds):
                shift = index % max(len(live), 1)
                for name in report.scenarios:
                    for target, process in live[shift:] + live[:shift]:
                        load = (wrk, scripts[(target.key, name)], connections, load_cpu)
                        _measure_one(report, target, process, name, index, load, (warmup, duration))
                        done += 1
                if progress:
                    print(f"servers: round {index + 1}/{rounds} done ({done}/{total} runs)", file=sys.stderr)
        finally:
            for _, process in servers:
                process.stop()


def _wait_all(
    servers: list[tuple[Target, ServerProcess]], report: Report
) -> list[tuple[Target, ServerProcess]]:
    live = []
    deadline = time.monotonic() + 120
    for target, process in servers:
        probe = target.scenario(report.scenarios[0])
        try:
            process.wait_ready(
                functools.partial(fetch, scenario=probe), max(deadline - time.monotonic(), 1.0)
            )
        except ServerError as exc:
            report.problems.append(f"{target.key} did not start: {exc}")
            continue
        if all(_answer_ok(report, target, process, name) for name in report.scenarios):
            live.append((target, process))
    time.sleep(0.5)
    return live


def _answer_ok(report: Report, target: Target, process: ServerProcess, name: str) -> bool:
    problem = check(process.port, target.scenario(name)) if process.alive() else "the server exited"
    if problem is not None:
        report.problems.append(f"{target.key} {name}: {problem}; not measured")
    return problem is None


def _measure_one(
    report: Report,
    target: Target,
    process: ServerProcess,
    name: str,
    index: int,
    load: tuple[str, Path, int, int | None],
    times: tuple[float, float],
) -> None:
    """Check, warm up, measure, check: keep the sample when the answers and the run are clean.

    The checks double as barriers: gunicorn's sync workers still serve the connections a stopped
    wrk run left queued, and the check waits for them.
    """
    wrk, script, connections, cpu = load
    warmup, duration = times
    if not _answer_ok(report, target, process, name):
        return
    try:
        if warmup > 0:
            run_wrk(wrk, process.port, script, connections, warmup, cpu)
        stall, cpu_before, clock = cpu_stall_us(), process.cpu_seconds(), time.monotonic()
        sample = run_wrk(wrk, process.port, script, connections, duration, cpu)
        wall, used = time.monotonic() - clock, process.cpu_seconds() - cpu_before
        stalled = (cpu_stall_us() - stall) / 1e6 / wall
    except LoadError as exc:
        report.problems.append(f"{target.key} {name}: {exc}")
        return
    if not _answer_ok(report, target, process, name):
        return
    if sample.bad_status:
        report.problems.append(f"{target.key} {name}: {sample.bad_status} non-2xx/3xx answers; dropped")
        return
    cpu_us = used / sample.requests * 1e6 if sample.requests else 0.0
    report.samples.append(
        Sample(
            target.key, name, index, sample.rps, sample.p50_ms, sample.p99_ms, used / wall, cpu_us, stalled
        )
    )


# -- in process ---------------------------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_environ(path: str = "/json", *, multithread: bool = False) -> dict[str, Any]:
    """A GET request's WSGI environ, as gunicorn builds it (``wsgi.multithread`` as its workers say)."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """Call a WSGI app as a server does: the status, the headers (lower-case names) and the body."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, headers = started
    return status, {k.lower(): v for k, v in headers}, body


IN_PROCESS_LABELS = {
    "raw": "raw WSGI callable (`raw_wsgi`)",
    "flask": "Flask app",
    "lanner-inline": "lanner app.wsgi, one thread (as on sync workers)",
    "lanner-threaded": "lanner app.wsgi, loop thread (as on gthread workers)",
}
"""The WSGI callables timed in process, by key."""


def in_process_apps() -> dict[str, tuple[WSGIApp, bool]]:
    """Build the callables of `IN_PROCESS_LABELS`, each with the ``wsgi.multithread`` it gets."""
    from benchmarks.apps import flask_app, lanner_app, wsgi_lanner

    # One adapter a lanner app, and the first request picks its mode: two apps for two modes.
    return {
        "raw": (wsgi_lanner.raw_wsgi, False),
        "flask": (flask_app.create_app().wsgi_app, False),
        "lanner-inline": (lanner_app.create_app().wsgi, False),
        "lanner-threaded": (lanner_app.create_app().wsgi, True),
    }


def measure_in_process(requests: int, rounds: int) -> dict[str, list[float]]:
    """CPU microseconds per ``GET /json`` of each callable, one per round (interleaved, rotating).

    Raises:
        BenchmarkError: If an answer is not the JSON scenario's.
    """
    apps = in_process_apps()
    expected = SCENARIOS["json"]
    times: dict[str, list[float]] = {key: [] for key in apps}
    try:
        for key, (app, threaded) in apps.items():
            status, headers, body = call_wsgi(app, wsgi_environ(multithread=threaded))
            problem = expected.check(int(status.split()[0]), headers.get("content-type", ""), body)
            if problem is not None:
                raise BenchmarkError(f"in process, {key}: {problem}")
            for _ in range(min(requests, 500)):
                call_wsgi(app, wsgi_environ(multithread=threaded))
        keys = list(apps)
        for index in range(rounds):
            shift = index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                app, threaded = apps[key]
                before = time.process_time_ns()
                for _ in range(requests):
                    call_wsgi(app, wsgi_environ(multithread=threaded))
                times[key].append((time.process_time_ns() - before) / requests / 1000)
    finally:
        for app, _ in apps.values():
            shutdown = getattr(app, "shutdown", None)
            if shutdown is not None:
                shutdown()
    return times


# -- report -------------------------------------------------------------------------------------


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} x"


def _median(values: Iterable[float]) -> float | None:
    found = list(values)
    return statistics.median(found) if found else None


def cpu_per_request(report: Report, target: str, scenario: str = "json") -> float | None:
    """The median server CPU microseconds per request of ``target`` in ``scenario``."""
    return _median(s.cpu_us for s in report.of(target, scenario))


def budget(report: Report) -> list[str]:
    """Where the time goes, in server CPU µs per JSON request (medians): floors, apps, bridges.

    On one CPU, requests per second are about a million over these, so each target becomes a
    budget: what the bridge may cost for the ratio to reach its bound.
    """
    cpu = {t.key: cpu_per_request(report, t.key) for t in report.targets}
    lines = []
    floor, flask, lanner = cpu.get("raw-sync"), cpu.get("flask-sync"), cpu.get("lanner-wsgi-sync")
    if floor is not None and flask is not None and lanner is not None:
        allowed = (flask / TARGET_SYNC) - floor
        reach = "out of reach on this server" if allowed <= 0 else f"at most {allowed:.0f} µs"
        lines.append(
            f"- gunicorn sync: the server alone (the raw floor) takes {floor:.0f} µs of CPU a request; "
            f"Flask adds {flask - floor:.0f}, lanner through `app.wsgi` adds {lanner - floor:.0f}. "
            f"{TARGET_SYNC:g} x Flask means {flask / TARGET_SYNC:.0f} µs a request in all, so lanner "
            f"may add {reach} to the floor; an app costing nothing would reach {flask / floor:.2f} x."
        )
    gthread, flask_gthread = cpu.get("raw-gthread"), cpu.get("flask-gthread")
    mount_floor, a2wsgi, mount = cpu.get("raw-mount"), cpu.get("raw-a2wsgi"), cpu.get("mount")
    if None not in (gthread, flask_gthread, mount_floor, a2wsgi, mount):
        assert gthread is not None and flask_gthread is not None
        assert mount_floor is not None and a2wsgi is not None and mount is not None
        app_cost = flask_gthread - gthread
        allowed = flask_gthread / TARGET_MOUNT - app_cost
        lines.append(
            f"- Mount: gunicorn gthread serves the raw floor in {gthread:.0f} µs a request, Flask adds "
            f"{app_cost:.0f}. uvicorn serves the raw floor through a2wsgi alone in {a2wsgi:.0f} µs and "
            f"through `mount_wsgi` in {mount_floor:.0f} (lanner's `WSGIMount` and router add "
            f"{mount_floor - a2wsgi:.0f}); the mounted Flask app takes {mount:.0f} in all. "
            f"{TARGET_MOUNT:g} x Flask on gthread means {flask_gthread / TARGET_MOUNT:.0f} µs a request "
            f"in all: with Flask's {app_cost:.0f}, the server and the bridge may take {allowed:.0f} "
            f"(now {mount - app_cost:.0f})."
        )
    return lines


def format_markdown(report: Report) -> str:
    """Render the report: setting, targets, ratios, per-scenario tables, budget, in process, problems."""
    machine, settings = report.machine, report.settings
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    processes = settings.get("processes", GUNICORN_WORKERS)
    lines = [
        "# WSGI bridges benchmark",
        "",
        f"`{report.command}` on {report.started}, {report.seconds / 60:.1f} min.",
        "",
        f"- Machine: {machine.get('cpu')} ({machine.get('cpus')} CPUs), {machine.get('os')}, Python "
        f"{machine.get('python')}; load average {machine.get('load_before')} before, "
        f"{machine.get('load_after', '?')} after.",
        f"- Versions: {versions}.",
        f"- Servers: {settings.get('pinning', '?')}; {processes} processes a server unless the row says "
        "otherwise (gunicorn's 2 x CPUs + 1 for one CPU, the server benchmark's sizing). uvicorn: uvloop, "
        f"httptools, access log off, `--workers`. gunicorn: sync workers (no keep-alive) or gthread "
        f"workers x {GUNICORN_THREADS} threads (keep-alive 2 s), as in `python -m benchmarks`.",
        f"- Load: wrk, 1 thread, {settings.get('connections')} connections, 127.0.0.1; "
        f"{settings.get('rounds')} interleaved rounds (the order rotates) of {settings.get('duration')} s "
        f"after {settings.get('warmup')} s of warm-up; every answer checked before and after each run. "
        "Ratios are paired by round (the median of the per-round quotients).",
        "- Apps: the server benchmark's Flask app (`apps/flask_app.py`, 1,000 numbered routes "
        "besides `/json`) on gunicorn, and the same app object mounted with `app.mount_wsgi` in a lanner "
        "app that serves one moved route itself (`apps/wsgi_lanner.py`; the mount's thread pool at its "
        "default size, 10). The server benchmark's lanner app (the same routes) through `app.wsgi`. The "
        "floors (`raw_wsgi`) answer by hand and do no work.",
        *(f"- {note}" for note in report.notes),
        "",
        "## Targets (JSON scenario)",
        "",
        "| target | req/s ratio | CPU per request ratio | result |",
        "|---|---:|---:|---|",
    ]
    for comparison, rate, cpu, met in report.verdicts():
        lines.append(
            f"| {comparison.label} >= {comparison.bound:g} x | {_x(rate)} | {_x(cpu)} | "
            f"{_verdict(rate, cpu, comparison.bound or 0.0, met)} |"
        )
    lines += [
        "",
        "`CPU per request ratio` compares the servers' CPU time per request instead (the rate each would "
        "reach with the CPU to itself); it moves less when neighbours take the CPU. A target is met when "
        "both ratios reach it.",
        "",
        "## Ratios",
        "",
        "| comparison | " + " | ".join(f"{s} | {s}, CPU" for s in report.scenarios) + " |",
        "|---|" + "---:|---:|" * len(report.scenarios),
    ]
    for comparison in report.comparisons:
        cells = []
        for scenario in report.scenarios:
            cells.append(_x(report.ratio(comparison.top, comparison.bottom, scenario)))
            cells.append(_x(report.ratio(comparison.top, comparison.bottom, scenario, "cpu_rate")))
        lines.append(f"| {comparison.label} | " + " | ".join(cells) + " |")
    for scenario in report.scenarios:
        lines += ["", *_scenario_table(report, scenario)]
    if spent := budget(report):
        lines += ["", "## Where the time goes (JSON, server CPU per request, medians)", "", *spent]
    if report.in_process:
        lines += ["", *_in_process_table(report)]
    lines += ["", "## Noise", "", *_noise(report)]
    if report.problems:
        lines += ["", "## Problems", "", *(f"- {p}" for p in report.problems)]
    return "\n".join(lines) + "\n"


def _noise(report: Report) -> list[str]:
    lines = []
    if report.samples:
        shares, stalls = [s.server_cpu for s in report.samples], [s.stall for s in report.samples]
        spreads = [
            (max(rps) - min(rps)) / statistics.median(rps)
            for t in report.targets
            for n in report.scenarios
            if (rps := [s.rps for s in report.of(t.key, n)]) and statistics.median(rps) > 0
        ]
        lines.append(
            f"- A target's rate differs by {min(spreads):.0%} to {max(spreads):.0%} between rounds (max - "
            f"min over median; median {statistics.median(spreads):.0%}). The server used {min(shares):.0%} "
            f"to {max(shares):.0%} of its CPU while measured; some task of the machine waited for a CPU "
            f"{min(stalls):.0%} to {max(stalls):.0%} of a run (Linux PSI; median "
            f"{statistics.median(stalls):.0%})."
        )
    machine = report.machine
    lines.append(
        f"- Load average {machine.get('load_before', '?')} before, {machine.get('load_after', '?')} after. "
        "On a shared machine, trust the paired ratios and the CPU per request over absolute rates."
    )
    return lines


def _verdict(rate: float | None, cpu: float | None, bound: float, met: bool) -> str:
    if rate is None or cpu is None:
        return "not measured"
    if met:
        return "ok"
    if rate >= bound:
        return "MISSED (req/s alone reaches it)"
    return "MISSED (CPU per request alone reaches it)" if cpu >= bound else "MISSED"


def _scenario_table(report: Report, scenario: str) -> list[str]:
    base = SCENARIOS[scenario]
    lines = [
        f"## {base.label}: `{base.method} {base.target}`",
        "",
        "| app | server | req/s | min - max | p50 ms | p99 ms | server CPU | CPU µs/request |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for target in report.targets:
        samples = report.of(target.key, scenario)
        label = target.label + (f" (`{target.prefix}{base.target}`)" if target.prefix else "")
        if not samples:
            lines.append(f"| {label} | {target.setting} | not measured |" + " |" * 5)
            continue
        rps = [s.rps for s in samples]
        cells = [
            label,
            target.setting,
            f"{statistics.median(rps):,.0f}",
            f"{min(rps):,.0f} - {max(rps):,.0f}",
            f"{statistics.median(s.p50_ms for s in samples):.2f}",
            f"{statistics.median(s.p99_ms for s in samples):.2f}",
            f"{statistics.median(s.server_cpu for s in samples) * 100:.0f}%",
            f"{statistics.median(s.cpu_us for s in samples):.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _in_process_table(report: Report) -> list[str]:
    requests = report.settings.get("in_process_requests", "?")
    lines = [
        "## In process (no server)",
        "",
        f"Each WSGI callable called directly with a `GET /json` environ, {requests} calls x "
        f"{len(next(iter(report.in_process.values())))} interleaved rounds, process CPU time per call "
        "(every thread's), median over rounds. The environ and the `start_response` cost the same in "
        "every row.",
        "",
        "| callable | CPU µs/call | min - max | vs Flask |",
        "|---|---:|---:|---:|",
    ]
    flask = report.in_process.get("flask")
    for key, values in report.in_process.items():
        ratio = None
        if flask:
            ratio = statistics.median(f / v for f, v in zip(flask, values, strict=False) if v > 0)
        lines.append(
            f"| {IN_PROCESS_LABELS.get(key, key)} | {statistics.median(values):.1f} | "
            f"{min(values):.1f} - {max(values):.1f} | {_x(ratio)} |"
        )
    return lines


def report_to_json(report: Report) -> dict[str, Any]:
    """Everything the run measured, as JSON-ready data (every sample, ratios, verdicts)."""
    return {
        "command": report.command,
        "started": report.started,
        "seconds": report.seconds,
        "machine": report.machine,
        "versions": report.versions,
        "settings": report.settings,
        "targets": [dataclasses.asdict(t) | {"setting": t.setting} for t in report.targets],
        "comparisons": [
            dataclasses.asdict(c)
            | {
                "ratios": {s: report.ratio(c.top, c.bottom, s) for s in report.scenarios},
                "cpu_ratios": {s: report.ratio(c.top, c.bottom, s, "cpu_rate") for s in report.scenarios},
            }
            for c in report.comparisons
        ],
        "verdicts": {
            c.key: {"ratio": rate, "cpu_ratio": cpu, "bound": c.bound, "met": met}
            for c, rate, cpu, met in report.verdicts()
        },
        "samples": [dataclasses.asdict(s) for s in report.samples],
        "in_process_cpu_us": report.in_process,
        "problems": report.problems,
        "notes": report.notes,
        "met": report.met(),
    }


# -- command line -------------------------------------------------------------------------------

_VERSIONED = ("lanner", "flask", "werkzeug", "a2wsgi", "gunicorn", "uvicorn", "uvloop", "httptools", "wrk")


def _versions() -> dict[str, str]:
    found = describe_versions(find_wrk() or "wrk")
    for package in _VERSIONED:
        if package not in found and has_module(package):
            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                continue
    return {k: found[k] for k in _VERSIONED if k in found}


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        number = kind(value)
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return number

    return parse


def _scenarios(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(SCENARIO_NAMES)}, got {value!r}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--quick`` sets shorter defaults); exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wsgi", description=__doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="3 rounds of 1 s (about 3 minutes)")
    add("--out", type=Path, help="markdown report; the JSON goes beside it (default results/wsgi.md)")
    add("--processes", type=_positive(int), default=GUNICORN_WORKERS, help="processes a server (3)")
    add("--rounds", type=_positive(int), help="interleaved rounds (7; --quick 3)")
    add("--duration", type=_positive(float), help="measured seconds a run (2; --quick 1)")
    add("--warmup", type=float, help="warm-up seconds a run (0.5; --quick 0.3)")
    add("--connections", type=_positive(int), default=64, help="wrk connections (64)")
    add("--scenarios", type=_scenarios, default=SCENARIO_NAMES, help="json,plaintext (both)")
    add("--in-process-requests", type=_positive(int), help="calls a round in process (5000; --quick 2000)")
    add("--no-in-process", action="store_true", help="skip the in-process timing")
    add("--no-progress", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (3 if quick else 7)
    args.duration = args.duration or (1.0 if quick else 2.0)
    args.warmup = (0.3 if quick else 0.5) if args.warmup is None else args.warmup
    args.in_process_requests = args.in_process_requests or (2000 if quick else 5000)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.out is None:
        args.out = ROOT / "benchmarks" / "results" / ("wsgi-quick.md" if quick else "wsgi.md")
    return args


def run(args: argparse.Namespace, command: str) -> Report:
    """Measure what ``args`` asks for and return the report.

    Raises:
        BenchmarkError: If wrk or a package the apps need is missing, or an app answers wrongly in
            process.
    """
    missing = missing_packages(PACKAGES)
    if missing:
        raise BenchmarkError(f"{', '.join(missing)} not installed: pip install -e '.[bench,wsgi]'")
    targets, comparisons = plan(args.processes)
    settings: dict[str, Any] = {"processes": args.processes, "in_process_requests": args.in_process_requests}
    started = time.monotonic()
    report = Report(
        command,
        datetime.now().strftime("%Y-%m-%d %H:%M"),
        describe_machine(),
        _versions(),
        settings,
        targets,
        comparisons,
        args.scenarios,
    )
    if "json" not in args.scenarios:
        report.notes.append("The JSON scenario was not run: no target is judged.")
    if not args.no_in_process:
        report.in_process = measure_in_process(args.in_process_requests, args.rounds)
    measure_servers(
        report,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        progress=not args.no_progress,
    )
    report.seconds = time.monotonic() - started
    report.machine["load_after"] = load_average()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target was met, 1 when one was missed, 3 when it could not run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        report = run(args, shlex.join(["python", "-m", "benchmarks.wsgi", *argv]))
    except BenchmarkError as exc:
        print(f"benchmark not run: {exc}", file=sys.stderr)
        return 3
    text = format_markdown(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(report_to_json(report), indent=1) + "\n")
    print(text)
    print(f"written: {args.out} and {args.out.with_suffix('.json').name}", file=sys.stderr)
    return 0 if report.met() else 1


if __name__ == "__main__":
    sys.exit(main())
