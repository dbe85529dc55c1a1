"""Real-time benchmark: WebSocket echo and typed JSON echo against the peers, SSE fan-out.

``python -m benchmarks.realtime`` (about 4 minutes) runs four scenarios, each app on uvicorn
(one process, uvloop, httptools, ``--ws websockets-sansio``) pinned to CPU 0, the load generator
(`benchmarks.ws_load`, a process of its own) pinned to CPU 1:

- ``ws-echo``: 64 clients, each sending 1 KiB of text and waiting for the echo before sending
  again; lanner, Starlette, Litestar, BlackSheep and a raw ASGI echo (the ceiling).
- ``ws-json-untyped``: the same with a ~1 KiB JSON message that the server parses and sends
  back as JSON, with no validation.
- ``ws-json``: the same message, validated by the server into a pydantic `ChatMessage`, which it
  sends back (before timing, each app must refuse an invalid message).
- ``sse-fanout``: 1,000 event streams, each receiving the ten events a second of one shared
  broadcaster; lanner and a raw ASGI stream over the same broadcaster.

Frameworks are interleaved (the order rotates every round) and lanner is divided by each peer
within a round, the median of those quotients being the ratio. The server's CPU time is read
from /proc around each measured window, so the report gives the CPU cost of a message beside the
rate: on a shared host the rate moves with the neighbours' load, the cost much less. The report
goes to ``benchmarks/results/realtime.md`` and stdout; with ``--json``, stdout gets every sample
as JSON instead. See ``benchmarks/results/realtime.md`` for a run and what it showed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import select
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import describe_machine, load_average
from benchmarks.servers import ROOT, FrameworkSpec, ServerError, ServerProcess, ServerSpec, missing_packages
from benchmarks.ws_load import check_validation, raise_fd_limit

RESULTS = ROOT / "benchmarks" / "results"
"""Default output directory."""

WS_IMPLEMENTATION = "websockets-sansio"
"""uvicorn's ``--ws``: its default (``auto``) with websockets installed, and the faster of the two
it can give every peer (``websockets``, the legacy one, is deprecated and made the raw echo about
35 % slower here); wsproto is not installed."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One real-time workload.

    Attributes:
        name: Name on the command line and in reports.
        kind: ``ws`` (echo clients) or ``sse`` (event streams).
        path: The route the clients connect to.
        payload: The ``ws_load --payload`` the clients send (``ws`` only).
        label: What it is, for the report.
        typed: Whether the server validates the messages (checked before timing).
    """

    name: str
    kind: str
    path: str
    payload: str
    label: str
    typed: bool = False


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("ws-echo", "ws", "/echo", "text", "WebSocket echo, 1 KiB text"),
        Scenario("ws-json-untyped", "ws", "/json-untyped", "json", "untyped JSON echo, ~1 KiB parsed"),
        Scenario("ws-json", "ws", "/json", "json", "typed JSON echo, a ~1 KiB ChatMessage validated", True),
        Scenario("sse-fanout", "sse", "/events", "", "SSE fan-out, 10 events/s to every client"),
    )
}
"""Every scenario, in report order."""


def _spec(name: str, module: str, *packages: str) -> FrameworkSpec:
    return FrameworkSpec(name, f"benchmarks.apps.{module}", "asgi", packages)


WS_FRAMEWORKS: dict[str, FrameworkSpec] = {
    s.name: s
    for s in (
        _spec("raw", "ws_raw", "pydantic"),
        _spec("lanner", "ws_lanner", "lanner"),
        _spec("starlette", "ws_starlette", "starlette"),
        _spec("litestar", "ws_litestar", "litestar"),
        _spec("blacksheep", "ws_blacksheep", "blacksheep"),
    )
}
"""The WebSocket apps; ``raw`` is the ceiling, the others are compared with lanner."""

SSE_FRAMEWORKS: dict[str, FrameworkSpec] = {
    s.name: s for s in (_spec("raw", "sse_raw", "lanner"), _spec("lanner", "sse_lanner", "lanner"))
}
"""The SSE apps; both use lanner.channels as the broadcaster."""

PEERS = ("starlette", "litestar", "blacksheep")
"""The frameworks lanner's WebSocket echo must beat (the issue's target)."""

TYPED_MINIMUM = 0.8
"""lanner's typed JSON echo rate over its untyped echo rate, at least (validation adds <= 25 %)."""


@dataclass(slots=True)
class Sample:
    """One measured window of one app in one scenario.

    Attributes:
        framework, scenario, round: What was measured, and in which round (pairs the ratios).
        rate: Echoes (or events delivered) per second.
        p50_ms, p99_ms: Round-trip (or delivery lag) percentiles.
        server_cpu: Share of one CPU the server used in the window.
        cpu_us: Server CPU microseconds per echo (or per event).
        client_cpu: Share of one CPU the load generator used in the window.
        stall: Share of the window in which some task of the machine waited for a CPU (Linux PSI,
            ``/proc/pressure/cpu``; 0 where unavailable): how much the neighbours got in the way.
        detail: The load generator's other numbers (SSE: events, missing, gaps, ticks per second...).
    """

    framework: str
    scenario: str
    round: int
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    cpu_us: float
    client_cpu: float
    stall: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Results:
    """Everything one run measured, and what is needed to read it."""

    command: str
    started: str
    settings: dict[str, Any]
    machine: dict[str, str]
    versions: dict[str, str]
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def of(self, framework: str, scenario: str) -> list[Sample]:
        """The samples of one app in one scenario."""
        return [s for s in self.samples if s.framework == framework and s.scenario == scenario]


# -- statistics ---------------------------------------------------------------------------------


def paired_ratio(
    numerator: Sequence[Sample], denominator: Sequence[Sample], metric: str = "rate"
) -> float | None:
    """The median over rounds of ``numerator``'s `metric` divided by ``denominator``'s in the same round.

    Returns:
        None when no round has both (or the denominator is zero in all of them).
    """
    partner = {s.round: getattr(s, metric) for s in denominator}
    quotients = [getattr(s, metric) / partner[s.round] for s in numerator if partner.get(s.round, 0) > 0]
    return statistics.median(quotients) if quotients else None


def spread(samples: Sequence[Sample], metric: str = "rate") -> tuple[float, float, float]:
    """Median, min and max of `metric` over `samples` (zeros when there are none)."""
    values = [getattr(s, metric) for s in samples]
    if not values:
        return 0.0, 0.0, 0.0
    return statistics.median(values), min(values), max(values)


# -- command line -------------------------------------------------------------------------------


def _names(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}; got {value!r}")
        return tuple(dict.fromkeys(names))

    return parse


def _positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        number = kind(value)
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return number

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realtime", description=__doc__)
    add = parser.add_argument
    add("--scenario", type=_names(list(SCENARIOS)), default=tuple(SCENARIOS), help="comma-separated")
    add(
        "--frameworks", type=_names(list(WS_FRAMEWORKS)), default=tuple(WS_FRAMEWORKS), help="comma-separated"
    )
    add("--rounds", type=_positive(int), default=5, help="interleaved WebSocket rounds (default 5)")
    add("--duration", type=_positive(float), default=1.5, help="measured seconds per WebSocket run (1.5)")
    add("--warmup", type=float, default=0.5, help="warm-up seconds before each run (default 0.5)")
    add("--clients", type=_positive(int), default=64, help="WebSocket clients (default 64)")
    add("--sse-clients", type=_positive(int), default=1000, help="event streams (default 1000)")
    add("--sse-rounds", type=_positive(int), default=2, help="SSE rounds (default 2)")
    add("--sse-duration", type=_positive(float), default=10.0, help="measured SSE seconds (default 10)")
    add("--json", action="store_true", help="print every sample as JSON on stdout (not the markdown)")
    add("--output", type=Path, default=RESULTS, help="output directory (default benchmarks/results)")
    add("--name", default="realtime", help="markdown file stem (default realtime)")
    add("--no-progress", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


# -- running ------------------------------------------------------------------------------------


def _cpus() -> tuple[int | None, list[str], str]:
    """The server's CPU, the load generator's ``taskset`` prefix, and a sentence about pinning."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return 0, ["taskset", "-c", "1"], "server on CPU 0, load generator on CPU 1 (taskset)"
    return None, [], "not pinned (needs taskset and 2 CPUs)"


class UvicornWs(ServerSpec):
    """uvicorn as `benchmarks.servers` runs it, with ``--ws`` set to `WS_IMPLEMENTATION`."""

    __slots__ = ()

    def command(self, module: str, port: int) -> list[str]:
        """The uvicorn command line of `benchmarks.servers`, with the WebSocket implementation."""
        return [*ServerSpec.command(self, module, port), "--ws", WS_IMPLEMENTATION]


UVICORN = UvicornWs(
    "uvicorn", "asgi", ("uvicorn",), f"1 process; uvloop + httptools; --ws {WS_IMPLEMENTATION}"
)
"""The server every app runs on."""


def cpu_stall_us() -> int:
    """Microseconds some task has waited for a CPU since boot (``/proc/pressure/cpu``), or 0."""
    try:
        first = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
    except OSError:
        return 0
    return int(first.rpartition("total=")[2] or 0)


def tcp_probe(port: int) -> None:
    """Connect to the server once; raises ``OSError`` while nothing listens.

    uvicorn listens only once the lifespan startup is over, so a connection means ready.
    """
    socket.create_connection(("127.0.0.1", port), timeout=1).close()


def run_load(command: list[str], on_mark: Callable[[str], None], timeout: float) -> dict[str, Any]:
    """Run one `benchmarks.ws_load` process; call ``on_mark`` on its ``start``/``stop`` lines.

    Returns:
        The JSON result it printed last.

    Raises:
        RuntimeError: if it fails, prints no result or runs past `timeout` seconds (it is killed).
    """
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=server_env(),
        start_new_session=True,
    ) as process:
        assert process.stdout is not None
        deadline, pending = time.monotonic() + timeout, b""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"load generator still running after {timeout:.0f} s")
                if not select.select([process.stdout], [], [], remaining)[0]:
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                *complete, pending = (pending + chunk).split(b"\n")
                for line in complete:
                    text = line.decode()
                    if text in ("start", "stop"):
                        on_mark(text)
                    elif text:
                        lines.append(text)
            process.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            if process.poll() is None:
                process.kill()
    found = [line for line in lines if line.startswith("{")]
    if not found:
        output = "\n".join(lines)[-800:]
        raise RuntimeError(f"load generator exited with {process.returncode} and no result: {output}")
    result: dict[str, Any] = json.loads(found[-1])
    return result


def server_env() -> dict[str, str]:
    """The environment of the servers and load generators: ``benchmarks`` importable from the root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class _Run:
    """One run's state: the options, the results, the pinning, what was rejected."""

    def __init__(self, args: argparse.Namespace, results: Results) -> None:
        self.args, self.results = args, results
        self.server_cpu, self.load_cpu, _ = _cpus()
        self.rejected: set[tuple[str, str]] = set()
        self.progress = not args.no_progress

    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def load_command(
        self, port: int, scenario: Scenario, clients: int, warmup: float, duration: float
    ) -> list[str]:
        command = [
            *self.load_cpu,
            sys.executable,
            "-m",
            "benchmarks.ws_load",
            scenario.kind,
            "--port",
            str(port),
        ]
        command += ["--path", scenario.path, "--clients", str(clients)]
        command += ["--warmup", str(warmup), "--duration", str(duration)]
        return command + (["--payload", scenario.payload] if scenario.kind == "ws" else [])

    def measure(
        self, process: ServerProcess, scenario: Scenario, round_index: int, check: bool = False
    ) -> None:
        """Load one server once (``check``: one client, briefly, and keep nothing but problems)."""
        name, key = process.framework.name, (process.framework.name, scenario.name)
        if key in self.rejected:
            return
        sse, args = scenario.kind == "sse", self.args
        clients = 1 if check else args.sse_clients if sse else args.clients
        warmup = 0.0 if check else args.warmup + (2.0 if sse else 0.0)  # SSE: let 1,000 streams settle
        duration = 0.3 if check else args.sse_duration if sse else args.duration
        marks: dict[str, tuple[float, float, int]] = {}

        def on_mark(word: str) -> None:
            marks[word] = (process.cpu_seconds(), time.monotonic(), cpu_stall_us())

        command = self.load_command(process.port, scenario, clients, warmup, duration)
        try:
            result = run_load(command, on_mark, timeout=warmup + duration + 60)
        except (RuntimeError, ValueError) as exc:
            result = {"errors": [str(exc)]}
        if check and scenario.typed and not result["errors"]:
            # A typed endpoint must refuse an invalid message, or it is not doing the work measured.
            refused = asyncio.run(check_validation(process.port, scenario.path))
            result["errors"] = [refused] if refused else []
        if not process.alive():
            result["errors"] = [*result.get("errors", []), f"server exited: {process.output(500)}"]
        if result["errors"]:
            self.rejected.add(key)
            when = "before timing" if check else f"in round {round_index + 1}"
            self.results.problems.append(
                f"{name} {scenario.name} rejected {when}: {'; '.join(result['errors'][:3])}"
            )
            return
        if check or "start" not in marks or "stop" not in marks:
            return
        (cpu0, clock0, stall0), (cpu1, clock1, stall1) = marks["start"], marks["stop"]
        cpu, seconds = cpu1 - cpu0, clock1 - clock0
        count = result["events"] if sse else result["messages"]
        detail = {
            k: v for k, v in result.items() if k not in ("rate", "p50_ms", "p99_ms", "client_cpu", "errors")
        }
        sample = Sample(
            name,
            scenario.name,
            round_index,
            result["rate"],
            result["p50_ms"],
            result["p99_ms"],
            cpu / seconds if seconds > 0 else 0.0,
            cpu / count * 1e6 if count else 0.0,
            result["client_cpu"],
            (stall1 - stall0) / 1e6 / seconds if seconds > 0 else 0.0,
            detail,
        )
        self.results.samples.append(sample)
        self.say(
            f"  round {round_index + 1} {scenario.name} {name}: "
            f"{sample.rate:,.0f}/s, {sample.cpu_us:.1f} us of server CPU each"
        )

    def serve(
        self, specs: Mapping[str, FrameworkSpec], scenarios: list[Scenario], rounds: int, scratch: Path
    ) -> None:
        """Start one server per app, check each scenario once, then run the interleaved rounds."""
        names = [n for n in self.args.frameworks if n in specs]
        for name in list(names):
            missing = missing_packages(specs[name].packages)
            if missing:
                names.remove(name)
                self.results.notes.append(
                    f"{name} skipped: {', '.join(missing)} not installed (pip install '.[bench]')"
                )
        servers: list[ServerProcess] = []
        try:
            for name in names:
                log = (scratch / f"{name}-{scenarios[0].kind}.log").open("w+b")
                servers.append(ServerProcess(specs[name], UVICORN, log, self.server_cpu, server_env()))
            live = []
            for process in servers:
                try:
                    process.wait_ready(tcp_probe, 60)
                    live.append(process)
                except ServerError as exc:
                    self.results.problems.append(f"{process.framework.name} did not start: {exc}")
            for process in live:
                for scenario in scenarios:
                    self.measure(process, scenario, -1, check=True)
            for round_index in range(rounds):
                shift = round_index % max(len(live), 1)
                order = live[shift:] + live[:shift]
                for scenario in scenarios:
                    for process in order:
                        self.measure(process, scenario, round_index)
        finally:
            for process in servers:
                process.stop()


def _versions() -> dict[str, str]:
    versions = {}
    for package in (
        "lanner",
        "pydantic",
        "pydantic-core",
        "uvicorn",
        "uvloop",
        "httptools",
        "websockets",
        "starlette",
        "litestar",
        "blacksheep",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        versions["lanner"] = f"{versions.get('lanner', '?')} (git {head})"
    except (OSError, subprocess.SubprocessError):
        pass
    return versions


def run(args: argparse.Namespace, command: str) -> Results:
    """Run the scenarios `args` selects and return what they measured."""
    raise_fd_limit()  # the 1,000 streams' server inherits it
    _, _, pinning = _cpus()
    settings = {
        k: getattr(args, k)
        for k in ("rounds", "duration", "warmup", "clients", "sse_clients", "sse_rounds", "sse_duration")
    }
    settings["pinning"], settings["ws"] = pinning, WS_IMPLEMENTATION
    results = Results(
        command, datetime.now().strftime("%Y-%m-%d %H:%M"), settings, describe_machine(), _versions()
    )
    started, state = time.monotonic(), _Run(args, results)
    chosen = [SCENARIOS[n] for n in args.scenario]
    websocket = [s for s in chosen if s.kind == "ws"]
    with tempfile.TemporaryDirectory(prefix="lanner-realtime-") as scratch:
        if websocket:
            state.say(f"WebSocket: {', '.join(s.name for s in websocket)}, {args.rounds} rounds")
            state.serve(WS_FRAMEWORKS, websocket, args.rounds, Path(scratch))
        if SCENARIOS["sse-fanout"] in chosen:
            state.say(f"SSE fan-out: {args.sse_clients} streams, {args.sse_rounds} rounds")
            state.serve(SSE_FRAMEWORKS, [SCENARIOS["sse-fanout"]], args.sse_rounds, Path(scratch))
    results.wall_seconds = time.monotonic() - started
    results.machine["load_after"] = load_average()
    return results


# -- report -------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _frameworks(results: Results, scenario: str) -> list[str]:
    order = list(dict.fromkeys([*WS_FRAMEWORKS, *SSE_FRAMEWORKS]))
    return [n for n in order if results.of(n, scenario)]


def _ws_table(results: Results, scenario: Scenario) -> list[str]:
    lanner = results.of("lanner", scenario.name)
    lines = [
        f"## {scenario.label} ({scenario.name}, {results.settings['clients']} clients)",
        "",
        "| app | messages/s | min - max | p50 ms | p99 ms | server CPU | server us/msg | load CPU "
        "| CPU stall | lanner / app, msg/s | app / lanner, us/msg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in _frameworks(results, scenario.name):
        samples = results.of(name, scenario.name)
        rate, low, high = spread(samples)
        ahead = paired_ratio(lanner, samples) if name != "lanner" else None
        cheaper = paired_ratio(samples, lanner, "cpu_us") if name != "lanner" else None
        lines.append(
            f"| {name} | {rate:,.0f} | {low:,.0f} - {high:,.0f} | {_f(spread(samples, 'p50_ms')[0])} "
            f"| {_f(spread(samples, 'p99_ms')[0])} | {spread(samples, 'server_cpu')[0]:.0%} "
            f"| {_f(spread(samples, 'cpu_us')[0], 1)} | {spread(samples, 'client_cpu')[0]:.0%} "
            f"| {spread(samples, 'stall')[0]:.0%} | {_f(ahead)} | {_f(cheaper)} |"
        )
    return [*lines, ""]


def _typed_table(results: Results) -> list[str]:
    lines = [
        "## What typing the messages costs (same app, paired by round)",
        "",
        "| app | typed / untyped JSON, msg/s | typed / text echo, msg/s | us/msg: text echo "
        "| untyped JSON | typed | validation (typed - untyped JSON) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in _frameworks(results, "ws-json"):
        typed, untyped = results.of(name, "ws-json"), results.of(name, "ws-json-untyped")
        echo = results.of(name, "ws-echo")
        costs = [spread(samples, "cpu_us")[0] if samples else None for samples in (echo, untyped, typed)]
        validation = None if costs[1] is None or costs[2] is None else costs[2] - costs[1]
        lines.append(
            f"| {name} | {_f(paired_ratio(typed, untyped))} | {_f(paired_ratio(typed, echo))} "
            f"| {_f(costs[0], 1)} | {_f(costs[1], 1)} | {_f(costs[2], 1)} | {_f(validation, 1)} |"
        )
    return [*lines, ""]


def _sse_table(results: Results) -> list[str]:
    lanner = results.of("lanner", "sse-fanout")
    lines = [
        f"## SSE fan-out (sse-fanout, {results.settings['sse_clients']} streams, 10 events/s each)",
        "",
        "| app | streams | events/s | delivered / expected | missing | ids skipped | ticks/s "
        "| lag p50 / p99 / max ms | server CPU | server us/event | load CPU | CPU stall "
        "| app / lanner, us/event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in _frameworks(results, "sse-fanout"):
        samples = results.of(name, "sse-fanout")

        def total(key: str, samples: list[Sample] = samples) -> int:
            return sum(int(s.detail[key]) for s in samples)

        ticks = spread([dataclasses.replace(s, rate=s.detail["ticks_per_s"]) for s in samples])[0]
        worst = max(s.detail["max_ms"] for s in samples)
        ratio = paired_ratio(samples, lanner, "cpu_us") if name != "lanner" else None
        lines.append(
            f"| {name} | {min(s.detail['connections'] for s in samples)} | {spread(samples)[0]:,.0f} "
            f"| {total('events'):,} / {total('expected'):,} | {total('missing')} | {total('gaps')} "
            f"| {ticks:.2f} "
            f"| {spread(samples, 'p50_ms')[0]:.1f} / {spread(samples, 'p99_ms')[0]:.1f} / {worst:.1f} "
            f"| {spread(samples, 'server_cpu')[0]:.0%} | {spread(samples, 'cpu_us')[0]:.1f} "
            f"| {spread(samples, 'client_cpu')[0]:.0%} | {spread(samples, 'stall')[0]:.0%} | {_f(ratio)} |"
        )
    return [*lines, ""]


def target_checks(results: Results) -> list[str]:
    """lanner against the issue's targets, one markdown bullet each, marked ok or MISSED."""
    lines = []
    lanner = results.of("lanner", "ws-echo")
    for peer in PEERS:
        ratio = paired_ratio(lanner, results.of(peer, "ws-echo"))
        if ratio is not None:
            mark = "ok" if ratio > 1 else "MISSED"
            lines.append(f"- ws-echo: lanner {ratio:.2f}x {peer}'s messages/s (target: ahead, > 1) {mark}")
    typed = results.of("lanner", "ws-json")
    untyped = paired_ratio(typed, results.of("lanner", "ws-json-untyped"))
    if untyped is not None:
        mark = "ok" if untyped >= TYPED_MINIMUM else "MISSED"
        lines.append(
            f"- ws-json: lanner typed {untyped:.2f}x its untyped JSON echo of the same message "
            f"(target >= {TYPED_MINIMUM}: validation adds <= 25 %) {mark}"
        )
    echo = paired_ratio(typed, lanner)
    if echo is not None:
        mark = "ok" if echo >= TYPED_MINIMUM else "MISSED"
        lines.append(
            f"- ws-json: lanner typed {echo:.2f}x its 1 KiB text echo (the stricter reading: JSON "
            f"parsing and serialising counted as typing's cost too; >= {TYPED_MINIMUM}) {mark}"
        )
    sse = results.of("lanner", "sse-fanout")
    if sse:
        clients = results.settings["sse_clients"]
        missing = sum(s.detail["missing"] + s.detail["gaps"] for s in sse)
        slow = min(s.detail["ticks_per_s"] for s in sse)
        full = all(s.detail["connections"] == clients for s in sse)
        mark = "ok" if missing == 0 and slow >= 9.9 and full else "MISSED"
        lines.append(
            f"- sse-fanout: {clients} streams at 10 events/s on one worker, no event dropped: "
            f"{missing} missing or skipped, slowest round {slow:.2f} ticks/s, "
            f"{spread(sse, 'cpu_us')[0]:.1f} us of server CPU per event {mark}"
        )
    return lines


def format_markdown(results: Results) -> str:
    """Render a run as markdown: setup, one table per scenario, the targets, notes and problems."""
    machine, settings = results.machine, results.settings
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    lines = [
        "# Real-time benchmark",
        "",
        f"`{results.command}` on {results.started}, {results.wall_seconds / 60:.1f} min.",
        "",
        f"- Machine: {machine['cpu']} ({machine['cpus']} CPUs), {machine['os']}, Python {machine['python']}; "
        f"load average {machine['load_before']} before, {machine.get('load_after', '?')} after.",
        f"- Server: uvicorn, 1 process, uvloop + httptools, `--ws {settings['ws']}`; {settings['pinning']}.",
        f"- WebSocket: {settings['rounds']} interleaved rounds of {settings['duration']} s after "
        f"{settings['warmup']} s of warm-up; SSE: {settings['sse_rounds']} rounds of "
        f"{settings['sse_duration']} s.",
        f"- Versions: {versions}.",
        "",
        "Ratios are paired by round (the median of the per-round quotients); above 1 means lanner is "
        "ahead. `server us/msg` is the server's CPU time (from /proc) over the messages of the window. "
        "`CPU stall` is the share of the window in which some task on the machine waited for a CPU "
        "(Linux PSI): well above 0, neighbours were competing for the CPUs and the rates are noisy, "
        "while the CPU cost per message moves much less.",
        "",
    ]
    for scenario in SCENARIOS.values():
        if scenario.kind == "ws" and any(s.scenario == scenario.name for s in results.samples):
            lines += _ws_table(results, scenario)
    if results.of("lanner", "ws-json"):
        lines += _typed_table(results)
    if any(s.scenario == "sse-fanout" for s in results.samples):
        lines += _sse_table(results)
    checks = target_checks(results)
    if checks:
        lines += ["## Targets", "", *checks, ""]
    for title, items in (("Notes", results.notes), ("Problems", results.problems)):
        if items:
            lines += [f"## {title}", "", *(f"- {item}" for item in items), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line.

    Returns:
        0 when every sample was clean, 1 when the report lists problems.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    results = run(args, shlex.join(["python", "-m", "benchmarks.realtime", *argv]))
    markdown = format_markdown(results)
    args.output.mkdir(parents=True, exist_ok=True)
    written = args.output / f"{args.name}.md"
    written.write_text(markdown + "\n")
    print(json.dumps(dataclasses.asdict(results), indent=1) if args.json else markdown)
    print(f"written: {written}", file=sys.stderr)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
