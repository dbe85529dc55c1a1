"""The server benchmark's run: plan, start servers, check answers, load with wrk, measure, stop.

Every (framework, server) pair is a target. All targets' servers are started together, each
pinned to the server CPU, and stay up for the whole run; rounds then go over every (scenario,
connections) load and, within it, over every target in an order that rotates each round, so that
frameworks are measured side by side and drift hits them alike. Each measured run is preceded by
a one-request answer check and a warm-up run. Only samples whose every answer was 2xx/3xx count.

A run measures one suite (`benchmarks.suites`): the API scenarios on the main apps, or the
server-rendered ones (pages, forms, static files) on the pages apps.
"""

import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from benchmarks.load import (
    WRK_MISSING,
    LoadError,
    check,
    fetch,
    find_wrk,
    revalidated,
    run_wrk,
    wrk_version,
)
from benchmarks.report import Cell, Results, cell_key
from benchmarks.scenarios import HttpScenario, wrk_script
from benchmarks.servers import (
    ROOT,
    SERVER_SPECS,
    FrameworkSpec,
    ServerError,
    ServerProcess,
    missing_packages,
)
from benchmarks.suites import get_suite

STARTUP_TIMEOUT = 120.0
"""Seconds every server together gets to answer its first request."""

_VERSIONED = (
    "lanner",
    "pydantic",
    "pydantic-core",
    "uvicorn",
    "uvloop",
    "httptools",
    "granian",
    "gunicorn",
    "fastapi",
    "starlette",
    "litestar",
    "blacksheep",
    "falcon",
    "flask",
    "werkzeug",
    "jinja2",
    "python-multipart",
)


class HarnessError(Exception):
    """Raised when the run cannot start: wrk missing, or nothing left to measure."""


@dataclass(frozen=True, slots=True)
class Options:
    """What to run (see ``python -m benchmarks --help`` for the meaning of each field)."""

    frameworks: tuple[str, ...]
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    levels: tuple[int, ...] | None
    duration: float
    warmup: float
    rounds: int
    coldstart_runs: int
    quick: bool
    output: Path
    stem: str
    mode: str = "custom"
    command: str = "python -m benchmarks"
    progress: bool = True
    suite: str = "api"


class Progress:
    """A one-line progress bar on stderr (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self._start = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._last_tenth = -1

    def step(self, label: str) -> None:
        """Count one finished measured run and redraw."""
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._start
        eta = elapsed / self.done * (self.total - self.done)
        filled = int(30 * self.done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {_clock(elapsed)} elapsed, "
            f"~{_clock(eta)} left  {label}"
        )
        if self._tty:
            print(f"\r{line[:120]:<120}", end="", file=sys.stderr, flush=True)
        elif (tenth := 10 * self.done // self.total) != self._last_tenth:
            self._last_tenth = tenth
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self._tty:
            print(file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def plan(
    options: Options, frameworks: Mapping[str, FrameworkSpec]
) -> tuple[list[tuple[str, str]], list[tuple[str, int]], list[str]]:
    """Decide the targets and loads of a run; what cannot run becomes a note.

    Args:
        options: The run's options.
        frameworks: The known frameworks (``FRAMEWORK_SPECS`` unless a test adds one).

    Returns:
        Targets ``(framework, server)``, loads ``(scenario, connections)`` and notes.
    """
    suite = get_suite(options.suite)
    notes: list[str] = []
    servers = []
    for name in options.servers:
        missing = missing_packages(SERVER_SPECS[name].packages)
        if missing:
            notes.append(f"{name} skipped: {', '.join(missing)} not installed (pip install '.[bench]')")
        else:
            servers.append(name)
    names = list(options.frameworks)
    if suite.floor is not None and suite.floor not in names:
        names.insert(0, suite.floor)
        notes.append(f"{suite.floor} (the floor every ratio divides by) is always measured")
    targets = []
    for name in names:
        spec = frameworks[name]
        missing = missing_packages(spec.packages)
        if missing:
            notes.append(f"{name} skipped: {', '.join(missing)} not installed (pip install '.[bench]')")
            continue
        fitting = [s for s in servers if SERVER_SPECS[s].interface == spec.interface]
        if not fitting:
            notes.append(f"{name} skipped: no selected server runs {spec.interface.upper()} apps")
        targets += [(name, s) for s in fitting]
    loads = []
    for name in options.scenarios:
        scenario = suite.scenarios[name]
        levels = options.levels or (scenario.quick_levels if options.quick else scenario.full_levels)
        loads += [(name, level) for level in levels]
    return targets, loads, notes


def load_average() -> str:
    """Return the 1-minute load average (from /proc/loadavg), or "?"."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def describe_machine() -> dict[str, str]:
    """Return the CPU model (from /proc/cpuinfo), CPU count, OS, Python version and load average."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return {
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "os": system,
        "python": platform.python_version(),
        "load_before": load_average(),
    }


def describe_versions(wrk: str) -> dict[str, str]:
    """Return the versions of lanner (with its git commit), the peers, the servers and wrk."""
    versions = {}
    for package in _VERSIONED:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    if "lanner" in versions:
        versions["lanner"] += _git_describe()
    versions["wrk"] = wrk_version(wrk).removeprefix("wrk ")
    return versions


def _git_describe() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/lanner"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" (git {head}{', src/lanner modified' if dirty else ''})"


def _cpus() -> tuple[int | None, int | None, str]:
    """Server CPU, load CPU and a sentence about pinning."""
    if (os.cpu_count() or 1) >= 2 and find_executable("taskset"):
        return 0, 1, "Server pinned to CPU 0 and wrk to CPU 1 (taskset); loopback only."
    return None, None, "No pinning (needs taskset from util-linux and 2 CPUs); loopback only."


def find_executable(name: str) -> bool:
    """Whether ``name`` is on PATH."""
    return any(os.access(Path(d) / name, os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep) if d)


def measure_coldstart(
    names: list[str], frameworks: Mapping[str, FrameworkSpec], runs: int, cpu: int | None, results: Results
) -> None:
    """Run ``benchmarks.coldstart`` ``runs`` times per framework; store medians or problems."""
    env = _server_env()
    for name in names:
        spec, values = frameworks[name], []
        command = [sys.executable, "-m", "benchmarks.coldstart", spec.module, spec.interface]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        for _ in range(runs):
            try:
                done = subprocess.run(
                    command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
                )
                values.append(json.loads(done.stdout.strip().splitlines()[-1]))
            except (subprocess.SubprocessError, ValueError, IndexError) as exc:
                detail = getattr(exc, "stderr", "") or ""
                results.problems.append(f"cold start of {name} failed: {exc} {detail.strip()[-300:]}")
                break
        if values:
            results.coldstart[name] = {k: statistics.median(v[k] for v in values) for k in values[0]}


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    return env


def _raise_fd_limit() -> None:
    # 1,000 connections need more descriptors than the usual soft limit; children inherit it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def run(options: Options, frameworks: Mapping[str, FrameworkSpec] | None = None) -> Results:
    """Run the benchmark described by ``options`` and return what it measured.

    Args:
        options: What to run.
        frameworks: The known frameworks (default: the suite's).

    Returns:
        The results; wrong answers, failed servers and faulty samples are listed in ``problems``.

    Raises:
        HarnessError: If wrk is missing or nothing can be measured.
    """
    wrk = find_wrk()
    if wrk is None:
        raise HarnessError(WRK_MISSING)
    _raise_fd_limit()
    if frameworks is None:
        frameworks = get_suite(options.suite).frameworks
    server_cpu, load_cpu, pinning = _cpus()
    targets, loads, notes = plan(options, frameworks)
    if not targets or not loads:
        raise HarnessError("nothing to measure: " + "; ".join(notes or ["no scenario selected"]))
    settings = {
        "duration": options.duration,
        "warmup": options.warmup,
        "rounds": options.rounds,
        "coldstart_runs": options.coldstart_runs,
        "pinning": pinning,
    }
    results = Results(
        options.mode,
        options.command,
        datetime.now().strftime("%Y-%m-%d %H:%M"),
        settings,
        describe_machine(),
        describe_versions(wrk),
        targets,
        loads,
        notes=notes,
        suite=options.suite,
    )
    if options.progress:
        runs = options.rounds * len(loads) * len(targets)
        guess = runs * (options.warmup + options.duration + 0.35) + 2.5 * options.coldstart_runs * len(
            targets
        )
        print(
            f"{len(targets)} targets x {len(loads)} loads x {options.rounds} rounds = {runs} measured runs, "
            f"about {guess / 60:.0f} min",
            file=sys.stderr,
        )
    started = time.monotonic()
    if options.coldstart_runs > 0:
        names = list(dict.fromkeys(f for f, _ in targets))
        measure_coldstart(names, frameworks, options.coldstart_runs, server_cpu, results)
    with tempfile.TemporaryDirectory(prefix="lanner-bench-") as scratch:
        _Session(options, results, wrk, (server_cpu, load_cpu)).measure(frameworks, Path(scratch))
    results.wall_seconds = time.monotonic() - started
    results.machine["load_after"] = load_average()
    return results


class _Session:
    """One run's servers and state: which (target, scenario) pairs were rejected, and why."""

    def __init__(
        self, options: Options, results: Results, wrk: str, cpus: tuple[int | None, int | None]
    ) -> None:
        self.options, self.results, self.wrk = options, results, wrk
        self.server_cpu, self.load_cpu = cpus
        self.rejected: set[tuple[str, str]] = set()
        self.scenarios = get_suite(options.suite).scenarios
        # Requests as a given server must get them (a conditional GET carries its own ETag), and
        # the wrk script of each distinct request.
        self.requests: dict[tuple[str, str], HttpScenario] = {}
        self.scripts: dict[tuple[str, tuple[tuple[str, str], ...]], Path] = {}
        self.scratch = Path()

    def measure(self, frameworks: Mapping[str, FrameworkSpec], scratch: Path) -> None:
        """Start every target's server, run the rounds, record memory, stop every server."""
        results = self.results
        self.scratch = scratch
        env, servers = _server_env(), []
        try:
            for framework, server in results.targets:
                log = (scratch / f"{framework}-{server}.log").open("w+b")
                spec = SERVER_SPECS[server]
                servers.append(ServerProcess(frameworks[framework], spec, log, self.server_cpu, env))
            live = self._start_and_check(servers)
            rounds = self.options.rounds
            progress = Progress(rounds * len(results.loads) * len(live), self.options.progress)
            for round_index in range(rounds):
                shift = round_index % max(len(live), 1)
                order = live[shift:] + live[:shift]
                for name, connections in results.loads:
                    for process in order:
                        self._measure_one(process, name, connections, round_index)
                        progress.step(f"{process.name} {name} c{connections}")
            progress.close()
            for process in live:
                if process.alive():
                    memory = results.memory[process.name]
                    memory.update(loaded_kib=process.rss_kib(), requests=process.requests_served)
        finally:
            for process in servers:
                process.stop()

    def request(self, process: ServerProcess, name: str) -> HttpScenario:
        """The request ``name`` as ``process`` gets it (see `benchmarks.load.revalidated`)."""
        return self.requests.get((process.name, name)) or self.scenarios[name]

    def script(self, process: ServerProcess, name: str) -> Path:
        """The wrk script sending ``name``'s request to ``process``, written on first use."""
        request = self.request(process, name)
        key = (name, request.headers)
        path = self.scripts.get(key)
        if path is None:
            path = self.scratch / f"{name}-{len(self.scripts)}.lua"
            path.write_text(wrk_script(request))
            self.scripts[key] = path
        return path

    def _start_and_check(self, servers: list[ServerProcess]) -> list[ServerProcess]:
        """Wait for every server, check every scenario's answer once, record idle memory."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        probe = next(iter(self.scenarios.values()))  # any answer at all means the server is up
        live = []
        for process in servers:
            try:
                remaining = max(deadline - time.monotonic(), 1.0)
                process.wait_ready(lambda port: fetch(port, probe), remaining)
            except ServerError as exc:
                self.results.problems.append(f"{process.name} did not start: {exc}")
                continue
            live.append(process)
        for process in live:
            for name in dict.fromkeys(n for n, _ in self.results.loads):
                self._resolve(process, name)
                self._check(process, name)
        time.sleep(0.5)
        for process in live:
            self.results.memory[process.name] = {
                "idle_kib": process.rss_kib(),
                "loaded_kib": 0,
                "requests": 0,
            }
        return live

    def _resolve(self, process: ServerProcess, name: str) -> None:
        """Build the request ``process`` must get for ``name``; a failure rejects the pair."""
        scenario = self.scenarios[name]
        if not scenario.revalidate:
            return
        try:
            self.requests[(process.name, name)] = revalidated(process.port, scenario)
        except (OSError, LoadError) as exc:
            self.rejected.add((process.name, name))
            self.results.problems.append(f"{process.name} {name} rejected before timing: {exc}")
        process.requests_served += 1

    def _check(self, process: ServerProcess, name: str) -> bool:
        """Check one answer; a wrong one rejects the (target, scenario) pair for the rest of the run."""
        key = (process.name, name)
        if key in self.rejected:
            return False
        if not process.alive():
            if (process.name, "") not in self.rejected:
                self.rejected.add((process.name, ""))
                self.results.problems.append(f"{process.name} exited during the run: {process.output(500)}")
            return False
        problem = check(process.port, self.request(process, name))
        process.requests_served += 1
        if problem is None:
            return True
        self.rejected.add(key)
        self.results.problems.append(f"{process.name} {name} rejected before timing: {problem}")
        return False

    def _measure_one(self, process: ServerProcess, name: str, connections: int, round_index: int) -> None:
        """Check, warm up, check, measure, check: keep the sample if it and the answers are clean.

        The checks between runs double as barriers: each waits until the server has served what
        the previous wrk run left behind, so no run pays for another's backlog.
        """
        if not self._check(process, name):
            return
        script = self.script(process, name)
        results, options = self.results, self.options
        framework, server = process.framework.name, process.server.name
        key = cell_key(framework, server, name, connections)
        cell = results.cells.setdefault(key, Cell(framework, server, name, connections))
        try:
            if options.warmup > 0:
                warm = run_wrk(self.wrk, process.port, script, connections, options.warmup, self.load_cpu)
                process.requests_served += warm.requests
                if not self._check(process, name):
                    return
            cpu_before, clock_before = process.cpu_seconds(), time.monotonic()
            sample = run_wrk(self.wrk, process.port, script, connections, options.duration, self.load_cpu)
            share = (process.cpu_seconds() - cpu_before) / (time.monotonic() - clock_before)
        except LoadError as exc:
            results.problems.append(f"{process.name} {name} c{connections}: {exc}")
            return
        process.requests_served += sample.requests
        if not self._check(process, name):
            return
        if sample.bad_status:
            bad = f"{sample.bad_status} non-2xx/3xx answers; sample dropped"
            results.problems.append(f"{process.name} {name} c{connections}: {bad}")
            return
        cell.samples.append(dataclasses.replace(sample, server_cpu=round(share, 3), round=round_index))
