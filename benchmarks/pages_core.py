"""In-process benchmark of the server-rendered scenarios: lanner against Starlette and FastAPI.

Run ``python -m benchmarks.pages_core --help`` from the repository root. Like `benchmarks.core`, each
pages app (``benchmarks/apps/pages_*.py``) is driven directly with synthetic ASGI events on one
event loop, with no server or socket, so the numbers are the framework's work: rendering the page,
parsing the forms, finding and sending the static file. Request bodies arrive in 64 KiB messages,
as a server delivers a large body. Flask (WSGI) is measured by the server benchmark only
(``python -m benchmarks --pages``).

Every app's answer to every scenario is checked before anything is timed, with the checks of the
server benchmark (`benchmarks.scenarios.page_scenarios`), and the last answer of each timed batch
is checked again.

FastAPI is left out unless asked for (``--only lanner,starlette,fastapi``): apps sharing one process
share its C heap, and after FastAPI's app has run in the process, lanner's 1 MiB upload buffers
come back as fresh pages from the kernel on every request (about 390 page faults, doubling its
time), which does not happen when it runs first, alone, or beside Starlette only, nor in a server.
The server benchmark, one process per framework, is the reference for uploads.
"""

import argparse
import asyncio
import dataclasses
import gc
import importlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.apps import ASGIApp, Message
from benchmarks.core import BenchmarkError, LifespanRunner, Recorder
from benchmarks.scenarios import PAGE_SCENARIO_NAMES, HttpScenario, page_scenarios
from benchmarks.servers import missing_packages
from benchmarks.suites import PAGE_FRAMEWORK_SPECS

FRAMEWORKS = ("lanner", "starlette", "fastapi")
"""The ASGI frameworks of the pages suite; ratios are lanner's time over each peer's."""

DEFAULT_FRAMEWORKS = ("lanner", "starlette")
"""Measured unless ``--only`` says otherwise (see the module docstring about FastAPI)."""

CHUNK = 64 * 1024
"""Largest ``http.request`` message: bodies arrive in pieces of this size."""

Answer = tuple[int, dict[str, str], bytes]


class PageClient:
    """Sends scenarios' requests to one pages app, in process, as ASGI events.

    Args:
        framework: A key of `PAGE_FRAMEWORK_SPECS` with an ASGI app.
        app: The app; built from the framework's module when None.
    """

    def __init__(self, framework: str, app: ASGIApp | None = None) -> None:
        self.framework = framework
        if app is None:
            app = importlib.import_module(PAGE_FRAMEWORK_SPECS[framework].module).create_app()
        self.app: ASGIApp = app
        self.lifespan = LifespanRunner(app)

    async def start(self) -> None:
        """Run the app's lifespan startup."""
        await self.lifespan.startup()

    async def stop(self) -> None:
        """Run the app's lifespan shutdown."""
        await self.lifespan.shutdown()

    def scope(self, scenario: HttpScenario) -> dict[str, Any]:
        """An HTTP scope like uvicorn's for the scenario's request, headers and body length included."""
        path, _, query = scenario.target.partition("?")
        headers = [(b"host", b"127.0.0.1:8000")]
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in scenario.request_headers().items()
        ]
        if scenario.body:
            headers.append((b"content-length", str(len(scenario.body)).encode()))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50123),
            "scheme": "http",
            "method": scenario.method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "state": self.lifespan.state.copy(),
        }

    async def send(self, scenario: HttpScenario) -> Answer:
        """Send the request once; return the status, the headers (lower-case names) and the body."""
        recorder = await self._call(self.scope(scenario), _messages(scenario.body))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in recorder.headers}
        return recorder.status, headers, recorder.body

    async def _call(self, scope: dict[str, Any], messages: list[Message]) -> Recorder:
        pending = list(messages)

        async def receive() -> Message:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        recorder = Recorder()
        await self.app(scope, receive, recorder.send)
        return recorder

    async def revalidated(self, scenario: HttpScenario) -> HttpScenario:
        """The scenario with this app's own ``ETag`` in ``If-None-Match`` (see `benchmarks.load.revalidated`).

        Raises:
            BenchmarkError: If the plain GET is not a 200 with an ``ETag``.
        """
        if not scenario.revalidate:
            return scenario
        plain = dataclasses.replace(scenario, revalidate=False, expected_status=200)
        status, headers, _ = await self.send(plain)
        etag = headers.get("etag")
        if status != 200 or not etag:
            raise BenchmarkError(f"{self.framework}: GET {scenario.target} answered {status} without an ETag")
        return dataclasses.replace(
            scenario, headers=(*scenario.headers, ("If-None-Match", etag)), revalidate=False
        )

    async def check(self, scenario: HttpScenario) -> None:
        """Send the request once and compare the answer with the expected one.

        Raises:
            BenchmarkError: Naming the framework, the scenario and the difference.
        """
        status, headers, body = await self.send(scenario)
        problem = scenario.check(status, headers.get("content-type", ""), body)
        if problem is not None:
            raise BenchmarkError(f"{self.framework} {scenario.name}: {problem}")

    async def time_requests(self, scenario: HttpScenario, count: int) -> float:
        """Send the request ``count`` times; return microseconds per request.

        Raises:
            BenchmarkError: If the last answer is wrong.
        """
        template, messages = self.scope(scenario), _messages(scenario.body)
        state = self.lifespan.state
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(count):
            scope = template.copy()
            scope["state"] = state.copy()
            recorder = await self._call(scope, messages)
        elapsed = time.perf_counter_ns() - start
        content_type = next((v.decode() for k, v in recorder.headers if k.lower() == b"content-type"), "")
        problem = scenario.check(recorder.status, content_type, recorder.body)
        if problem is not None:
            raise BenchmarkError(f"{self.framework} {scenario.name} while timed: {problem}")
        return elapsed / count / 1000


def _messages(body: bytes) -> list[Message]:
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    return [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]


@dataclass(slots=True)
class Report:
    """Per-round microseconds per request of every scenario and framework."""

    frameworks: list[str]
    scenarios: list[str]
    requests: dict[str, int]
    rounds: int
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def median(self, scenario: str, framework: str) -> float:
        """Median microseconds per request of one cell."""
        return statistics.median(self.samples[scenario][framework])

    def lead(self, scenario: str, peer: str) -> float | None:
        """lanner's speed over ``peer``'s (the peer's time over lanner's), median of per-round quotients."""
        if "lanner" not in self.frameworks or peer not in self.frameworks or peer == "lanner":
            return None
        pairs = zip(self.samples[scenario][peer], self.samples[scenario]["lanner"], strict=True)
        return statistics.median(theirs / mine for theirs, mine in pairs)


REQUESTS = {"page": 2000, "login": 2000, "upload": 200, "static": 1000, "static304": 2000}
"""Default requests per scenario, framework and round (the 1 MiB upload costs about 1 ms)."""


async def run_benchmark(
    frameworks: Sequence[str],
    scenarios: Sequence[str],
    *,
    scale: float = 1.0,
    rounds: int = 5,
    warmup: int = 50,
) -> Report:
    """Check every app, warm up, then time ``rounds`` interleaved rounds of every scenario.

    Args:
        frameworks: Keys of `PAGE_FRAMEWORK_SPECS` with ASGI apps.
        scenarios: Names from `PAGE_SCENARIO_NAMES`.
        scale: Multiplies the default request counts (`REQUESTS`); at least one request each.
        rounds: Rounds; the order of frameworks rotates each round.
        warmup: Untimed requests per scenario and framework before the first round.

    Raises:
        BenchmarkError: If an app is missing, fails its startup or answers any request wrongly.
    """
    for framework in frameworks:
        missing = missing_packages(PAGE_FRAMEWORK_SPECS[framework].packages)
        if missing:
            raise BenchmarkError(
                f"cannot import the {framework} pages app: {', '.join(missing)} not installed"
            )
    clients = [PageClient(framework) for framework in frameworks]
    requests = {name: max(int(REQUESTS[name] * scale), 1) for name in scenarios}
    report = Report(list(frameworks), list(scenarios), requests, rounds)
    report.samples = {s: {f: [] for f in frameworks} for s in scenarios}
    try:
        for client in clients:
            await client.start()
        requests_for: dict[tuple[str, str], HttpScenario] = {}
        for client in clients:
            for name in scenarios:
                scenario = await client.revalidated(page_scenarios()[name])
                await client.check(scenario)
                requests_for[(client.framework, name)] = scenario
        for name in scenarios if warmup > 0 else ():
            for client in clients:
                await client.time_requests(requests_for[(client.framework, name)], warmup)
        for round_index in range(rounds):
            shift = round_index % len(clients)
            for name in scenarios:
                for client in clients[shift:] + clients[:shift]:
                    scenario = requests_for[(client.framework, name)]
                    report.samples[name][client.framework].append(
                        await client.time_requests(scenario, requests[name])
                    )
    finally:
        for client in clients:
            await client.stop()
    return report


def format_markdown(report: Report) -> str:
    """Render the medians and lanner's lead over each peer as markdown."""
    peers = [f for f in report.frameworks if f != "lanner"]
    head = ["scenario", *(f"{f} µs" for f in report.frameworks), *(f"lanner vs {p}" for p in peers)]
    lines = [
        f"{report.rounds} rounds, median µs per request, in process (no server); lanner vs peer: the "
        "peer's time over lanner's, paired by round (above 1: lanner is faster)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", *("---:" for _ in head[1:])]) + "|",
    ]
    labels = page_scenarios()
    for name in report.scenarios:
        cells = [f"{report.median(name, f):.1f}" for f in report.frameworks]
        cells += [_ratio(report.lead(name, p)) for p in peers]
        label = f"{labels[name].label} ({report.requests[name]} requests)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def report_to_json(report: Report) -> dict[str, Any]:
    """Return the report as JSON-ready data: medians, every round's sample and lanner's leads."""
    return {
        "rounds": report.rounds,
        "requests": report.requests,
        "results": {
            name: {
                f: {"median_us": report.median(name, f), "rounds_us": report.samples[name][f]}
                for f in report.frameworks
            }
            for name in report.scenarios
        },
        "lanner_vs_peer": {
            name: {p: report.lead(name, p) for p in report.frameworks} for name in report.scenarios
        },
    }


def _names(value: str, allowed: Sequence[str]) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or any(n not in allowed for n in names):
        raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}; got {value!r}")
    return list(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages_core", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request counts (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per cell first (default 50)")
    parser.add_argument(
        "--only",
        type=lambda v: _names(v, FRAMEWORKS),
        default=list(DEFAULT_FRAMEWORKS),
        help="frameworks, comma-separated (default lanner,starlette; fastapi on request)",
    )
    parser.add_argument(
        "--scenario", type=lambda v: _names(v, PAGE_SCENARIO_NAMES), default=list(PAGE_SCENARIO_NAMES)
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not args.scale > 0:
        parser.error("--rounds must be at least 1 and --scale above 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line: 0 on success, 1 when an app answered wrongly or is missing."""
    args = parse_args(argv)
    coroutine = run_benchmark(
        args.only, args.scenario, scale=args.scale, rounds=args.rounds, warmup=args.warmup
    )
    try:
        report = asyncio.run(coroutine)
    except BenchmarkError as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1
    print(format_markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report_to_json(report), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
