"""What a server-benchmark run measured, and its markdown, JSON and PNG renderings.

Ratios compare a cell with the raw ASGI floor in the same scenario, at the same concurrency, in the
same run: on the same server for ASGI servers, and on uvicorn for the WSGI servers (Flask's rows),
since the floor is an ASGI app. They are paired by round: each round's sample is divided by the
floor's sample of that round, and the median of those quotients is the ratio (see `paired_ratio`).
"""

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.load import Sample
from benchmarks.servers import FLOOR, SERVER_SPECS
from benchmarks.suites import get_suite

REFERENCE_SERVER = "uvicorn"
"""The server of the floor that WSGI rows are divided by, and of lanner's ratio targets."""

RATIO_TARGETS = {"json": 0.85, "post": 0.9}
"""lanner's lowest acceptable ratio to the floor on uvicorn, per scenario (issue 4)."""

ROUTES_TARGET = 0.95
"""lanner's 1,000-route req/s over its own JSON GET req/s, at least."""


@dataclass(slots=True)
class Cell:
    """Every measured sample of one framework on one server, in one scenario at one concurrency."""

    framework: str
    server: str
    scenario: str
    connections: int
    samples: list[Sample] = field(default_factory=list)

    def rps(self) -> tuple[float, float, float]:
        """Median, min and max requests per second over the samples."""
        values = [s.rps for s in self.samples]
        return statistics.median(values), min(values), max(values)

    def latency(self, name: str) -> float:
        """Median over the samples of one field (``p50_ms``, ``p95_ms``, ``p99_ms``, ``server_cpu``)."""
        values: list[float] = [getattr(s, name) for s in self.samples]
        return statistics.median(values)

    def faults(self) -> int:
        """Socket errors, timeouts and non-2xx/3xx answers over all samples."""
        return sum(s.errors + s.bad_status for s in self.samples)


def paired_ratio(cell: Cell, base: Cell) -> float | None:
    """The median, over rounds, of `cell`'s req/s divided by `base`'s req/s in the same round.

    On a shared host the speed of the whole machine drifts over seconds to minutes, and one round's
    runs of a load follow one another within seconds, so dividing within a round cancels most of
    that drift. Samples from no round (or no common one) fall back to the ratio of the medians.

    Returns:
        The ratio, or None when `base` served nothing.
    """
    partner = {s.round: s.rps for s in base.samples if s.round >= 0 and s.rps > 0}
    quotients = [s.rps / partner[s.round] for s in cell.samples if s.round in partner]
    if quotients:
        return statistics.median(quotients)
    floor = base.rps()[0]
    return cell.rps()[0] / floor if floor > 0 else None


def cell_key(framework: str, server: str, scenario: str, connections: int) -> str:
    """Return the key of a cell in ``Results.cells``."""
    return f"{framework}@{server}|{scenario}|c{connections}"


@dataclass(slots=True)
class Results:
    """Everything one run measured, plus what is needed to reproduce and read it."""

    mode: str
    command: str
    started: str
    settings: dict[str, Any]
    machine: dict[str, str]
    versions: dict[str, str]
    targets: list[tuple[str, str]] = field(default_factory=list)
    loads: list[tuple[str, int]] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)
    coldstart: dict[str, dict[str, float]] = field(default_factory=dict)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    suite: str = "api"
    extra: dict[str, Any] = field(default_factory=dict)
    """Findings measured beside the rounds (the pages suite: the 100 MiB upload memory check)."""

    def cell(self, framework: str, server: str, scenario: str, connections: int) -> Cell | None:
        """Return the cell if it has at least one sample."""
        found = self.cells.get(cell_key(framework, server, scenario, connections))
        return found if found is not None and found.samples else None

    def ratio(self, framework: str, server: str, scenario: str, connections: int) -> float | None:
        """The cell's req/s over the floor's, paired by round (see the module docstring), or None."""
        floor_server = server if SERVER_SPECS[server].interface == "asgi" else REFERENCE_SERVER
        cell = self.cell(framework, server, scenario, connections)
        floor = self.cell(FLOOR, floor_server, scenario, connections)
        if cell is None or floor is None:
            return None
        return paired_ratio(cell, floor)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _load_label(scenario: str, connections: int) -> str:
    return f"{scenario} c{connections}"


def target_checks(results: Results) -> list[str]:
    """Check lanner against the issue's targets; one markdown bullet per check ("ok"/"MISSED")."""
    lines: list[str] = []
    if not any(f == "lanner" for f, _ in results.targets):
        return lines
    for scenario, minimum in RATIO_TARGETS.items():
        for name, connections in results.loads:
            ratio = results.ratio("lanner", REFERENCE_SERVER, name, connections)
            if name == scenario and ratio is not None:
                mark = "ok" if ratio >= minimum else "MISSED"
                lines.append(
                    f"- {name} c{connections} on uvicorn: {ratio:.2f} of raw (target >= {minimum}) {mark}"
                )
    for server in sorted({s for f, s in results.targets if f == "lanner"}):
        for name, connections in results.loads:
            if name == "routes":
                lines += _routes_check(results, server, connections)
    lines += _lead_checks(results)
    return lines


def _routes_check(results: Results, server: str, connections: int) -> list[str]:
    """lanner's 1,000-route req/s over its JSON GET req/s, beside the floor's same ratio."""
    routes = results.cell("lanner", server, "routes", connections)
    json_get = results.cell("lanner", server, "json", connections)
    if routes is None or json_get is None:
        return []
    share = paired_ratio(routes, json_get) or 0.0
    mark = "ok" if share >= ROUTES_TARGET else "MISSED"
    line = (
        f"- 1,000 routes c{connections} on {server}: {share:.2f} of lanner's JSON GET "
        f"(target >= {ROUTES_TARGET}) {mark}"
    )
    floor_routes = results.cell(FLOOR, server, "routes", connections)
    floor_json = results.cell(FLOOR, server, "json", connections)
    if floor_routes and floor_json and (floor_share := paired_ratio(floor_routes, floor_json)):
        # The route handler parses and validates a path parameter that JSON GET does not have:
        # the floor's own ratio shows how much of the gap is that work rather than routing.
        line += (
            f"; the floor's same ratio is {floor_share:.2f}, so lanner keeps {share / floor_share:.2f} of it"
        )
    return [line]


def _comparable(cell: Cell) -> bool:
    """Whether a cell's latency can be compared: it completed requests and had no faults."""
    return cell.rps()[0] > 0 and cell.faults() == 0


def _lead_checks(results: Results) -> list[str]:
    """lanner ahead of every peer, and its p99 no worse than the best peer's, per server and load."""
    lines = []
    wsgi = [(f, s) for f, s in results.targets if SERVER_SPECS[s].interface == "wsgi"]
    for server in [s for s in SERVER_SPECS if ("lanner", s) in results.targets]:
        peers = [(f, s) for f, s in results.targets if s == server and f not in ("lanner", FLOOR)] + wsgi
        for name, connections in results.loads:
            mine = results.cell("lanner", server, name, connections)
            theirs = [(f"{f}@{s}", c) for f, s in peers if (c := results.cell(f, s, name, connections))]
            if mine is None or not theirs:
                continue
            # The best peer is the one lanner's paired ratio is lowest against; a peer that served
            # nothing has no ratio and cannot be it.
            leads = [(ratio, label, c) for label, c in theirs if (ratio := paired_ratio(mine, c)) is not None]
            if not leads:
                continue
            lead, best_label, best = min(leads, key=lambda item: item[0])
            line = (
                f"- {_load_label(name, connections)} on {server}: {mine.rps()[0]:,.0f} req/s vs best peer "
                f"{best_label} {best.rps()[0]:,.0f}, {lead:.2f}x {'ok' if lead >= 1 else 'MISSED'}"
            )
            # A peer that timed out or failed requests has no trustworthy p99 (wrk leaves them out).
            timed = [item for item in theirs if _comparable(item[1])]
            if timed:
                best_p99 = min(timed, key=lambda item: item[1].latency("p99_ms"))
                p99_ok = mine.latency("p99_ms") <= best_p99[1].latency("p99_ms")
                line += (
                    f"; p99 {mine.latency('p99_ms'):.1f} ms vs {best_p99[0]} "
                    f"{best_p99[1].latency('p99_ms'):.1f} ms {'ok' if p99_ok else 'MISSED'}"
                )
            lines.append(line)
    return lines


def format_markdown(results: Results, chart: str | None = None) -> str:
    """Render the run as markdown: context, ratio summary, targets, full table, cold start, memory.

    Args:
        results: The run.
        chart: File name of the PNG chart to link, if one was written.

    Returns:
        The document.
    """
    lines = context_lines(results, f"Server benchmark: {results.mode} run, {results.started}")
    if chart:
        lines += [f"![ratio to the raw ASGI floor]({chart})", ""]
    lines += _ratio_table(results)
    checks = target_checks(results)
    if checks:
        lines += ["", "## lanner's targets", "", *checks]
    lines += ["", "## Requests per second and latency", "", *detail_table(results)]
    if results.coldstart:
        lines += ["", *_coldstart_table(results)]
    if results.memory:
        lines += ["", *memory_table(results)]
    lines += problem_lines(results)
    return "\n".join(lines) + "\n"


def context_lines(results: Results, title: str) -> list[str]:
    """The report's heading: the command, settings, machine, load average, versions and servers."""
    s = results.settings
    return [
        f"# {title}",
        "",
        f"Command: `{results.command}` ({results.wall_seconds / 60:.1f} min). {s['rounds']} interleaved "
        f"round(s); each run: {s['warmup']} s warm-up, then {s['duration']} s measured; wrk 1 thread.",
        f"Machine: {results.machine['cpu']} ({results.machine['cpus']} CPUs), {results.machine['os']}, "
        f"Python {results.machine['python']}. {s['pinning']} 1-minute load average "
        f"{results.machine.get('load_before', '?')} before the run, {results.machine.get('load_after', '?')} "
        "after it (anything above 0 is other work sharing the CPUs).",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results.versions.items()) + ".",
        "Servers: " + "; ".join(f"{n}: {sp.sizing}" for n, sp in SERVER_SPECS.items()) + ".",
        "",
    ]


def problem_lines(results: Results) -> list[str]:
    """The notes and problems section (empty when there are none)."""
    if not results.notes and not results.problems:
        return []
    lines = ["", "## Notes and problems", ""]
    return lines + [f"- {n}" for n in results.notes] + [f"- PROBLEM: {p}" for p in results.problems]


def _ratio_table(results: Results) -> list[str]:
    head = ["framework@server", *(_load_label(n, c) for n, c in results.loads)]
    lines = [
        "## Ratio to the raw ASGI floor",
        "",
        "Req/s divided by raw's req/s in the same scenario, concurrency and round, on the same server "
        "(Flask's gunicorn rows: raw on uvicorn); the median over rounds. `-`: not measured.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for framework, server in results.targets:
        if framework == FLOOR:
            continue
        cells = [_fmt(results.ratio(framework, server, n, c)) for n, c in results.loads]
        lines.append(f"| {framework}@{server} | " + " | ".join(cells) + " |")
    return lines


def detail_table(results: Results) -> list[str]:
    """Req/s (median, min, max), the ratio to the floor, latency, errors and CPU of every cell.

    A suite without a floor (the pages suite) has no ``vs floor`` column.
    """
    suite = get_suite(results.suite)
    floor = suite.floor is not None
    lines = [
        "`server CPU`: share of one CPU the server process tree used while measured (median); well "
        "under 100 % in a CPU-bound scenario means other work shared its CPU.",
        "",
        "| scenario | conns | framework@server | req/s median | min | max | "
        + ("vs floor | " if floor else "")
        + "p50 ms | p95 ms | p99 ms | errors | server CPU |",
        "|---|---:|---|---:|---:|---:|" + ("---:|" if floor else "") + "---:|---:|---:|---:|---:|",
    ]
    for name, connections in results.loads:
        for framework, server in results.targets:
            cell = results.cell(framework, server, name, connections)
            if cell is None:
                continue
            median, low, high = cell.rps()
            ratio = f"{_fmt(results.ratio(framework, server, name, connections))} | " if floor else ""
            lines.append(
                f"| {suite.scenarios[name].label} | {connections} | {framework}@{server} | {median:,.0f} | "
                f"{low:,.0f} | {high:,.0f} | {ratio}{cell.latency('p50_ms'):.2f} | "
                f"{cell.latency('p95_ms'):.2f} | {cell.latency('p99_ms'):.2f} | {cell.faults()} | "
                f"{cell.latency('server_cpu'):.0%} |"
            )
    return lines


def _coldstart_table(results: Results) -> list[str]:
    runs = results.settings.get("coldstart_runs", 1)
    lines = [
        f"## Cold start (fresh interpreter, median of {runs}: import the app module, build a 100-route "
        "app, answer one request with lifespan startup; pydantic and the shared models preloaded)",
        "",
        "| framework | import ms | build ms | first response ms | total ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for framework, values in results.coldstart.items():
        cells = [_fmt(values[k], 1) for k in ("import_ms", "build_ms", "first_ms", "total_ms")]
        lines.append(f"| {framework} | " + " | ".join(cells) + " |")
    return lines


def memory_table(results: Results) -> list[str]:
    """Idle and after-load resident memory of every server, and the requests it served."""
    lines = [
        "## Memory (VmRSS summed over the server's process tree, from /proc)",
        "",
        "| framework@server | idle MiB | after load MiB | requests served |",
        "|---|---:|---:|---:|",
    ]
    for target, values in results.memory.items():
        lines.append(
            f"| {target} | {values['idle_kib'] / 1024:.1f} | {values['loaded_kib'] / 1024:.1f} | "
            f"{values['requests']:,} |"
        )
    return lines


def write_chart(results: Results, path: Path) -> str | None:
    """Draw the ratio of every framework to the floor, one panel per ASGI server, as a PNG.

    Args:
        results: The run.
        path: Where to write the PNG.

    Returns:
        None on success, or why no chart was written (matplotlib missing, nothing measured).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return "no chart: matplotlib is not installed"
    panels = [
        s
        for s in SERVER_SPECS
        if SERVER_SPECS[s].interface == "asgi" and any(t[1] == s for t in results.targets)
    ]
    if not panels or not results.loads:
        return "no chart: nothing was measured"
    figure, axes = pyplot.subplots(
        len(panels), 1, figsize=(max(8, 1.3 * len(results.loads)), 4.2 * len(panels))
    )
    for axis, panel in zip([axes] if len(panels) == 1 else list(axes), panels, strict=True):
        members = [
            t
            for t in results.targets
            if t[0] != FLOOR
            and (t[1] == panel or (panel == REFERENCE_SERVER and SERVER_SPECS[t[1]].interface == "wsgi"))
        ]
        width = 0.8 / max(len(members), 1)
        for index, (framework, server) in enumerate(members):
            values = [results.ratio(framework, server, n, c) or 0.0 for n, c in results.loads]
            positions = [i + (index - (len(members) - 1) / 2) * width for i in range(len(results.loads))]
            axis.bar(positions, values, width, label=f"{framework}@{server}")
        axis.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        axis.set_ylim(0, max(1.2, axis.get_ylim()[1]) * 1.3)  # headroom for the legend
        axis.set_xticks(range(len(results.loads)), [_load_label(n, c) for n, c in results.loads], fontsize=8)
        axis.set_ylabel("req/s ÷ raw ASGI floor")
        axis.set_title(f"{panel} (floor: raw@{panel})")
        axis.legend(fontsize=7, ncol=4, loc="upper left")
    figure.suptitle(f"{results.machine['cpu']}: {results.mode} run {results.started}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return None


def to_json(results: Results) -> dict[str, Any]:
    """Return the run as JSON-ready data, with each cell's median, min, max and ratio added."""
    data = asdict(results)
    for key, cell in results.cells.items():
        if cell.samples:
            median, low, high = cell.rps()
            ratio = results.ratio(cell.framework, cell.server, cell.scenario, cell.connections)
            data["cells"][key].update(rps_median=median, rps_min=low, rps_max=high, ratio_to_floor=ratio)
    return data


def write_outputs(
    results: Results,
    directory: Path,
    stem: str,
    render: Callable[[Results, str | None], str] = format_markdown,
    chart: bool = True,
    to_data: Callable[[Results], dict[str, Any]] = to_json,
) -> list[Path]:
    """Write ``stem``.md, ``stem``.json and (when matplotlib is available) ``stem``.png.

    Args:
        results: The run.
        directory: Output directory (created if needed).
        stem: File name without extension.
        render: Renders the markdown, given the chart's file name (the pages suite has its own).
        chart: Whether to draw the chart of ratios to the floor.
        to_data: Turns the run into the JSON file's data.

    Returns:
        The files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{stem}.png"
    note = write_chart(results, png) if chart else "no chart"
    if note and chart:
        results.notes.append(note)
    markdown = directory / f"{stem}.md"
    markdown.write_text(render(results, None if note else png.name))
    data = directory / f"{stem}.json"
    data.write_text(json.dumps(to_data(results), indent=1) + "\n")
    return [markdown, data] + ([] if note else [png])
