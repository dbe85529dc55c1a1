"""In-process microbenchmark of lanner's core against FastAPI and a hand-written raw ASGI app.

Run ``python -m benchmarks.core --help`` from the repository root. Each app is driven directly with
synthetic ASGI events, in one process and on one event loop; no server or socket is involved, so
the numbers are framework overhead (plus a small, measured harness cost) and nothing else.
"""

import argparse
import asyncio
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.apps import (
    FRAMEWORKS,
    ORDER_PAYLOAD,
    ROUTE_TARGET,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    load_app_factory,
)

SCENARIO_NAMES = ("json", "params", "post", "routes")
"""The answered requests, each with a target against raw; ``routes`` also runs its one-route baseline."""

ERROR_SCENARIO_NAMES = ("404", "405")
"""Error answers from the app of the ``json`` request, each compared with that request's cost."""

SELECTABLE_SCENARIOS = SCENARIO_NAMES + ERROR_SCENARIO_NAMES
"""Scenarios selectable with ``--scenario``, and the default selection."""

TARGETS = {"json": 3.0, "params": 3.0, "routes": 3.0, "post": 1.3}
"""Upper bounds of lanner's time as a multiple of the raw app's, per scenario."""

ROUTES_TARGET = 1.10
"""Upper bound of lanner's 1,000-route time as a multiple of its 1-route time."""

ERROR_TARGET = 1.10
"""Upper bound of lanner's 404 or 405 time as a multiple of its ``json`` time on the same app: an
error costs no more than a 200, give or take the run's noise."""


class BenchmarkError(Exception):
    """Raised when an app cannot be imported, fails its lifespan startup or answers wrongly."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One framework's own answer to a scenario, where frameworks differ (error documents)."""

    body: Any
    media_type: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """One benchmarked request and the answer every framework must give to it.

    ``answers`` overrides ``expected_body`` for the frameworks it names, and also fixes the media
    type of their answer.
    """

    name: str
    label: str
    method: str
    path: str
    expected_body: Any
    query: bytes = b""
    body: bytes = b""
    one_route_app: bool = False
    expected_status: int = 200
    answers: tuple[tuple[str, Answer], ...] = ()

    def expected(self, framework: str) -> tuple[Any, str | None]:
        """Return the body ``framework`` must answer with, and its media type (None: unchecked)."""
        for name, answer in self.answers:
            if name == framework:
                return answer.body, answer.media_type
        return self.expected_body, None


def _expected_order_summary() -> dict[str, Any]:
    # Computed from the raw JSON, not through the Order model, so it checks the apps independently.
    order = json.loads(ORDER_PAYLOAD)
    total = sum(item["qty"] * item["price"] for item in order["items"])
    return {"order_id": order["order_id"], "total": round(total, 2), "items": len(order["items"])}


_ROUTE_PATH = f"/r{ROUTE_TARGET}/items/5"
_ROUTE_BODY = {"route": ROUTE_TARGET, "item_id": 5}


def _error_answers(status: int, title: str) -> tuple[tuple[str, Answer], ...]:
    """lanner answers with an RFC 9457 problem document; FastAPI and raw with ``{"detail": ...}``."""
    problem = {"type": "about:blank", "title": title, "status": status, "detail": title}
    detail = Answer({"detail": title}, "application/json")
    return (("lanner", Answer(problem, "application/problem+json")), ("fastapi", detail), ("raw", detail))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("json", "JSON GET", "GET", "/json", {"message": "hello"}),
        Scenario(
            "params",
            "path + query params",
            "GET",
            "/items/42",
            {"item_id": 42, "limit": 5, "q": "abc"},
            query=b"limit=5&q=abc",
        ),
        Scenario(
            "post",
            f"validated POST ({len(ORDER_PAYLOAD)} B)",
            "POST",
            "/orders",
            _expected_order_summary(),
            body=ORDER_PAYLOAD,
        ),
        Scenario("routes", "1,000 routes", "GET", _ROUTE_PATH, _ROUTE_BODY),
        Scenario("routes-1", "1 route (baseline)", "GET", _ROUTE_PATH, _ROUTE_BODY, one_route_app=True),
        Scenario(
            "404",
            "unknown path",
            "GET",
            "/nowhere",
            {"detail": "Not Found"},
            expected_status=404,
            answers=_error_answers(404, "Not Found"),
        ),
        Scenario(
            "405",
            "wrong method (DELETE /json)",
            "DELETE",
            "/json",
            {"detail": "Method Not Allowed"},
            expected_status=405,
            answers=_error_answers(405, "Method Not Allowed"),
        ),
    )
}
"""Every measured request by name; ``routes-1`` is the one-route baseline of ``routes``."""


def build_scope(method: str, path: str, query: bytes = b"", body: bytes = b"") -> dict[str, Any]:
    """Build an HTTP scope shaped like the one uvicorn passes to an app.

    Args:
        method: HTTP method.
        path: Decoded request path.
        query: Raw query string, without ``?``.
        body: Request body; when non-empty, JSON content-type and content-length headers are added.

    Returns:
        A new scope dict (with an empty ``state``).
    """
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"lanner-benchmark/1"),
        (b"accept", b"*/*"),
    ]
    if body:
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50123),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": query,
        "headers": headers,
        "state": {},
    }


def _receiver(body: bytes) -> Receive:
    """Return a ``receive`` that yields the body once, then ``http.disconnect`` forever."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    return receive


class Recorder:
    """An ASGI ``send`` target that keeps the status, headers and body of the response."""

    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        """Record one ``http.response.*`` message."""
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        elif message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))


class LifespanRunner:
    """Drive one app's ASGI lifespan protocol on the running loop, like uvicorn's "auto" mode.

    An app that raises or returns before answering ``lifespan.startup`` is taken not to use
    lifespan, and runs without it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.state: dict[str, Any] = {}
        self.supported = True
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Start the lifespan task and wait for the app's startup answer.

        Raises:
            BenchmarkError: If the app answers ``lifespan.startup.failed``.
        """
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self._task = asyncio.create_task(self._run(scope))
        self.supported = await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` (if the app still listens) and wait for the task to end.

        Raises:
            BenchmarkError: If the app answers ``lifespan.shutdown.failed`` or raises.
        """
        task, self._task = self._task, None
        if task is None:
            return
        try:
            if not task.done():
                await self._exchange("lifespan.shutdown")
        finally:
            await task

    async def _exchange(self, event: str) -> bool:
        """Send ``event``; True if the app completed it, False if it ended without answering."""
        self._inbox.put_nowait({"type": event})
        answer = await self._outbox.get()
        if answer["type"] == f"{event}.complete":
            return True
        if answer["type"] == f"{event}.failed" or event == "lifespan.shutdown":
            raise BenchmarkError(f"{answer['type']}: {answer.get('message', '')}")
        return False

    async def _run(self, scope: Scope) -> None:
        try:
            await self._app(scope, self._inbox.get, self._outbox.put)
        except Exception as exc:
            self._outbox.put_nowait({"type": "lifespan.raised", "message": repr(exc)})
        else:
            self._outbox.put_nowait({"type": "lifespan.returned"})


@dataclass(slots=True)
class LoadedApp:
    """One framework's app, built and started, ready to take requests."""

    framework: str
    app: ASGIApp
    lifespan: LifespanRunner

    async def request(self, scenario: Scenario) -> Recorder:
        """Send the scenario's request once and return what the app answered."""
        scope = build_scope(scenario.method, scenario.path, scenario.query, scenario.body)
        scope["state"] = self.lifespan.state.copy()
        recorder = Recorder()
        await self.app(scope, _receiver(scenario.body), recorder.send)
        return recorder

    async def time_requests(self, scenario: Scenario, count: int) -> float:
        """Send the scenario's request ``count`` times and return microseconds per request.

        Raises:
            BenchmarkError: If the last response is wrong (the app broke while being timed).
        """
        template = build_scope(scenario.method, scenario.path, scenario.query, scenario.body)
        copy_scope, copy_state, body = template.copy, self.lifespan.state.copy, scenario.body
        app, recorder = self.app, Recorder()
        send = recorder.send
        if count >= 1000:  # a full collection costs ~0.1 s: worth it only before real batches
            gc.collect()
        start = time.perf_counter_ns()
        for _ in range(count):
            recorder.body = b""
            scope = copy_scope()
            scope["state"] = copy_state()
            await app(scope, _receiver(body), send)
        elapsed = time.perf_counter_ns() - start
        check_response(self.framework, scenario, recorder)
        return elapsed / count / 1000


def check_response(framework: str, scenario: Scenario, response: Recorder) -> None:
    """Check that a recorded response is the one the scenario expects.

    Raises:
        BenchmarkError: If the status, the JSON body or (where the scenario names one for the
            framework) the media type differs, naming framework and scenario.
    """
    try:
        body: Any = json.loads(response.body)
    except ValueError:
        body = response.body
    expected_body, media_type = scenario.expected(framework)
    content_type = next((v for k, v in response.headers if k.lower() == b"content-type"), b"")
    media = content_type.split(b";")[0].strip().decode("latin-1")
    if (
        response.status != scenario.expected_status
        or body != expected_body
        or (media_type is not None and media != media_type)
    ):
        shown = f" ({media or 'no content-type'})" if media_type is not None else ""
        wanted = f" ({media_type})" if media_type is not None else ""
        raise BenchmarkError(
            f"{framework} answered {scenario.method} {scenario.path} ({scenario.name}) with "
            f"{response.status} {body!r}{shown}; expected {scenario.expected_status} "
            f"{expected_body!r}{wanted}"
        )


async def load_apps(frameworks: Sequence[str], scenarios: Sequence[str]) -> dict[str, LoadedApp]:
    """Build and start the apps the scenarios need, keyed ``framework`` or ``framework/1-route``.

    Raises:
        BenchmarkError: If a framework cannot be imported or an app fails its lifespan startup.
    """
    loaded: dict[str, LoadedApp] = {}
    try:
        await _load_into(loaded, frameworks, scenarios)
    except BaseException:
        for app in loaded.values():
            await app.lifespan.shutdown()
        raise
    return loaded


async def _load_into(
    loaded: dict[str, LoadedApp], frameworks: Sequence[str], scenarios: Sequence[str]
) -> None:
    for framework in frameworks:
        try:
            factory = load_app_factory(framework)
        except ImportError as exc:
            raise BenchmarkError(
                f"cannot import the {framework} app ({exc}); install it, or leave it out with "
                f"--only {','.join(f for f in FRAMEWORKS if f != framework)}"
            ) from exc
        builds: dict[str, ASGIApp] = {}
        if any(not SCENARIOS[s].one_route_app for s in scenarios):
            builds[framework] = factory()
        if any(SCENARIOS[s].one_route_app for s in scenarios):
            builds[f"{framework}/1-route"] = factory([ROUTE_TARGET], basic_routes=False)
        for key, app in builds.items():
            runner = LifespanRunner(app)
            try:
                await runner.startup()
            except BenchmarkError as exc:
                raise BenchmarkError(f"{key}: {exc}") from exc
            loaded[key] = LoadedApp(framework, app, runner)


def app_for(apps: dict[str, LoadedApp], framework: str, scenario: Scenario) -> LoadedApp:
    """Return the loaded app of ``framework`` that serves ``scenario``."""
    return apps[f"{framework}/1-route" if scenario.one_route_app else framework]


async def verify(apps: dict[str, LoadedApp], frameworks: Sequence[str], scenarios: Sequence[str]) -> None:
    """Send every scenario's request once to every framework and check the answers.

    Raises:
        BenchmarkError: On the first wrong answer.
    """
    for name in scenarios:
        for framework in frameworks:
            scenario = SCENARIOS[name]
            check_response(framework, scenario, await app_for(apps, framework, scenario).request(scenario))


async def _null_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The cheapest correct answer to the json scenario: what the harness itself costs."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"message":"hello"}'})


@dataclass(slots=True)
class Report:
    """Per-round microseconds per request of every scenario and framework, plus harness cost."""

    frameworks: list[str]
    scenarios: list[str]
    requests: int
    rounds: int
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    harness: list[float] = field(default_factory=list)

    def median(self, scenario: str, framework: str) -> float:
        """Median microseconds per request of one cell."""
        return statistics.median(self.samples[scenario][framework])

    def ratio(self, scenario: str, framework: str, baseline: str = "raw") -> float | None:
        """``framework``'s median over ``baseline``'s in ``scenario``, or None if not measured."""
        if framework not in self.frameworks or baseline not in self.frameworks:
            return None
        return self.median(scenario, framework) / self.median(scenario, baseline)

    def error_ratio(self, scenario: str, framework: str) -> float | None:
        """``framework``'s median in an error scenario over its ``json`` median, or None."""
        if scenario not in self.scenarios or "json" not in self.scenarios or framework not in self.frameworks:
            return None
        return self.median(scenario, framework) / self.median("json", framework)

    def routes_ratio(self, framework: str) -> float | None:
        """``framework``'s 1,000-route median over its 1-route median, or None if not measured."""
        if "routes" not in self.scenarios or framework not in self.frameworks:
            return None
        return self.median("routes", framework) / self.median("routes-1", framework)


def expand_scenarios(names: Sequence[str]) -> list[str]:
    """Turn ``--scenario`` names into measured scenarios (``routes`` adds ``routes-1``)."""
    expanded: list[str] = []
    for name in names:
        expanded.extend(["routes", "routes-1"] if name == "routes" else [name])
    return expanded


async def run_benchmark(
    frameworks: Sequence[str],
    scenarios: Sequence[str],
    *,
    requests: int = 20_000,
    rounds: int = 5,
    warmup: int = 2_000,
    progress: bool = False,
) -> Report:
    """Verify every app, warm up, then time ``rounds`` interleaved rounds of every scenario.

    Args:
        frameworks: Keys of ``FRAMEWORKS`` to measure.
        scenarios: Names from ``SELECTABLE_SCENARIOS``.
        requests: Requests per scenario, framework and round.
        rounds: Rounds; the order of frameworks rotates each round.
        warmup: Untimed requests per scenario and framework before the first round.
        progress: Whether to report each round on stderr.

    Returns:
        The per-round samples.

    Raises:
        BenchmarkError: If an app cannot be loaded or answers any request wrongly.
    """
    measured = expand_scenarios(scenarios)
    apps = await load_apps(frameworks, measured)
    try:
        await verify(apps, frameworks, measured)
        report = Report(list(frameworks), measured, requests, rounds)
        report.samples = {s: {f: [] for f in frameworks} for s in measured}
        null_app = LoadedApp("harness", _null_app, LifespanRunner(_null_app))
        for name in measured if warmup > 0 else ():
            for framework in frameworks:
                await app_for(apps, framework, SCENARIOS[name]).time_requests(SCENARIOS[name], warmup)
        for round_index in range(rounds):
            shift = round_index % len(frameworks)
            order = [*frameworks[shift:], *frameworks[:shift]]
            for name in measured:
                scenario = SCENARIOS[name]
                for framework in order:
                    app = app_for(apps, framework, scenario)
                    report.samples[name][framework].append(await app.time_requests(scenario, requests))
            report.harness.append(await null_app.time_requests(SCENARIOS["json"], requests))
            if progress:
                print(f"round {round_index + 1}/{rounds} done", file=sys.stderr, flush=True)
        return report
    finally:
        for loaded in apps.values():
            await loaded.lifespan.shutdown()


def _cell(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def format_markdown(report: Report) -> str:
    """Render the medians, ratios to raw and the lanner target check as markdown."""
    frameworks = report.frameworks
    ratio_of = [f for f in ("lanner", "fastapi") if f in frameworks and "raw" in frameworks]
    head = ["scenario", *(f"{f} µs" for f in frameworks), *(f"{f}/raw" for f in ratio_of)]
    lines = [
        f"{report.requests} requests x {report.rounds} rounds, median µs/request "
        f"(Python {platform.python_version()}, {_versions()})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", *("---:" for _ in head[1:])]) + "|",
    ]
    for name in report.scenarios:
        cells = [_cell(report.median(name, f)) for f in frameworks]
        cells += [_cell(report.ratio(name, f), "x") for f in ratio_of]
        lines.append(f"| {name}: {SCENARIOS[name].label} | " + " | ".join(cells) + " |")
    lines.append("")
    if "routes" in report.scenarios:
        ratios = ", ".join(f"{f} {_cell(report.routes_ratio(f), 'x')}" for f in frameworks)
        lines.append(f"1,000 routes / 1 route: {ratios}")
    errors = [s for s in ERROR_SCENARIO_NAMES if report.error_ratio(s, frameworks[0]) is not None]
    if errors:
        ratios = "; ".join(
            f"{f} " + ", ".join(f"{s} {_cell(report.error_ratio(s, f), 'x')}" for s in errors)
            for f in frameworks
        )
        lines.append(f"Error answer / JSON GET on the same app: {ratios}")
    harness = statistics.median(report.harness)
    lines.append(f"Harness cost (null app, included above): {harness:.2f} µs/request")
    if "lanner" in frameworks and "raw" in frameworks:
        lines += ["", "lanner targets:"]
        for name in (s for s in SCENARIO_NAMES if s in report.scenarios):
            value = report.ratio(name, "lanner")
            assert value is not None
            mark = "ok" if value <= TARGETS[name] else "MISSED"
            lines.append(f"- {name}: {value:.2f}x raw (target <= {TARGETS[name]:.1f}x) {mark}")
        routes = report.routes_ratio("lanner")
        if routes is not None:
            mark = "ok" if routes <= ROUTES_TARGET else "MISSED"
            lines.append(f"- 1,000 vs 1 route: {routes:.2f}x (target <= {ROUTES_TARGET:.2f}x) {mark}")
    if "lanner" in frameworks:
        for name in errors:
            value = report.error_ratio(name, "lanner")
            assert value is not None
            mark = "ok" if value <= ERROR_TARGET else "MISSED"
            lines.append(f"- {name}: {value:.2f}x lanner's json (target <= {ERROR_TARGET:.2f}x) {mark}")
    return "\n".join(lines)


def _versions() -> str:
    found = []
    for package in ("lanner", "fastapi", "starlette", "pydantic"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def report_to_json(report: Report) -> dict[str, Any]:
    """Return the report as JSON-ready data: settings, medians, every sample and ratios."""
    return {
        "requests": report.requests,
        "rounds": report.rounds,
        "python": platform.python_version(),
        "versions": _versions(),
        "harness_us": statistics.median(report.harness),
        "results": {
            name: {
                f: {"median_us": report.median(name, f), "rounds_us": report.samples[name][f]}
                for f in report.frameworks
            }
            for name in report.scenarios
        },
        "ratios_to_raw": {
            name: {f: report.ratio(name, f) for f in report.frameworks if f != "raw"}
            for name in report.scenarios
        },
        "routes_1000_over_1": {f: report.routes_ratio(f) for f in report.frameworks},
        "errors_over_json": {
            name: {f: report.error_ratio(name, f) for f in report.frameworks}
            for name in ERROR_SCENARIO_NAMES
            if name in report.scenarios
        },
    }


def _names(value: str, allowed: Sequence[str]) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}; got {value!r}")
    return list(dict.fromkeys(names))


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see ``--help``); exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__)
    parser.add_argument("--requests", type=_positive, default=20_000, help="requests per cell and round")
    parser.add_argument("--rounds", type=_positive, default=5, help="interleaved rounds (median taken)")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed requests per cell first")
    parser.add_argument(
        "--only",
        type=lambda v: _names(v, list(FRAMEWORKS)),
        default=list(FRAMEWORKS),
        help="frameworks, comma-separated (default: all)",
    )
    parser.add_argument(
        "--scenario",
        type=lambda v: _names(v, SELECTABLE_SCENARIOS),
        default=list(SELECTABLE_SCENARIOS),
        help="scenarios, comma-separated (default: all)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the process exit status."""
    args = parse_args(argv)
    coroutine = run_benchmark(
        args.only,
        args.scenario,
        requests=args.requests,
        rounds=args.rounds,
        warmup=max(args.warmup, 0),
        progress=True,
    )
    try:
        report = asyncio.run(coroutine)
    except BenchmarkError as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1
    print(format_markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report_to_json(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
