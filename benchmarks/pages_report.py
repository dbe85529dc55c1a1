"""The pages suite's report: lanner divided by each peer, its targets, and the upload memory check.

The pages suite has no floor. Each ratio is lanner's req/s over a peer's, in the same scenario,
concurrency and round (`benchmarks.report.paired_ratio`), on the same ASGI server, or lanner on
uvicorn for Flask's gunicorn rows. A target holds against the best of a framework's servers (Flask:
the faster of gunicorn's sync and gthread workers in that round's median).
"""

from dataclasses import dataclass
from typing import Any

from benchmarks import upload_memory
from benchmarks.report import (
    REFERENCE_SERVER,
    Results,
    context_lines,
    detail_table,
    memory_table,
    paired_ratio,
    problem_lines,
    to_json,
)
from benchmarks.servers import SERVER_SPECS
from benchmarks.suites import get_suite

LANNER = "lanner"


@dataclass(frozen=True, slots=True)
class PageTarget:
    """lanner's req/s must be at least ``minimum`` times ``peer``'s in ``scenario`` (issue targets)."""

    scenario: str
    peer: str
    minimum: float


PAGE_TARGETS = (
    PageTarget("page", "flask", 3.0),
    PageTarget("page", "starlette", 1.0),
    PageTarget("login", "starlette", 1.0),
    PageTarget("upload", "starlette", 1.0),
    PageTarget("static", "starlette", 1.0),
    PageTarget("static304", "starlette", 1.0),
)
"""The targets of the server-rendered scenarios; FastAPI's ratios are shown without one."""

UPLOAD_MEMORY_KEY = "upload_memory"
"""Where `Results.extra` holds the 100 MiB upload measurements (`benchmarks.upload_memory.run`)."""


def lanner_server(peer_server: str, results: Results) -> str | None:
    """The server lanner is compared on: the peer's own if ASGI and lanner ran there, else uvicorn."""
    if SERVER_SPECS[peer_server].interface == "asgi":
        return peer_server if (LANNER, peer_server) in results.targets else None
    return REFERENCE_SERVER if (LANNER, REFERENCE_SERVER) in results.targets else None


def lead(results: Results, peer: str, server: str, scenario: str, connections: int) -> float | None:
    """lanner's req/s over ``peer@server``'s, paired by round, or None when either is missing."""
    mine_server = lanner_server(server, results)
    if mine_server is None:
        return None
    mine = results.cell(LANNER, mine_server, scenario, connections)
    theirs = results.cell(peer, server, scenario, connections)
    if mine is None or theirs is None:
        return None
    return paired_ratio(mine, theirs)


def peers(results: Results) -> list[tuple[str, str]]:
    """Every measured target except lanner's own, in run order."""
    return [(f, s) for f, s in results.targets if f != LANNER]


def target_rows(results: Results) -> list[dict[str, Any]]:
    """Each target's verdict: the lowest ratio over the peer's servers (its best server) decides."""
    rows = []
    for target in PAGE_TARGETS:
        for name, connections in results.loads:
            if name != target.scenario:
                continue
            leads = [
                (ratio, server)
                for framework, server in peers(results)
                if framework == target.peer
                and (ratio := lead(results, framework, server, name, connections)) is not None
            ]
            row: dict[str, Any] = {
                "scenario": name,
                "connections": connections,
                "peer": target.peer,
                "minimum": target.minimum,
                "ratio": None,
                "against": None,
                "passed": None,
            }
            if leads:
                ratio, server = min(leads)
                row.update(ratio=ratio, against=f"{target.peer}@{server}", passed=ratio >= target.minimum)
            rows.append(row)
    return rows


def memory_verdict(results: Results) -> bool | None:
    """Whether lanner met the upload memory target (None when it was not measured)."""
    data = results.extra.get(UPLOAD_MEMORY_KEY)
    return None if data is None else upload_memory.passed(data)


def _lead_table(results: Results) -> list[str]:
    columns = peers(results)
    head = ["scenario", *(f"÷ {f}@{s}" for f, s in columns)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * len(columns) + "|",
    ]
    labels = get_suite(results.suite).scenarios
    for name, connections in results.loads:
        cells = []
        for framework, server in columns:
            ratio = lead(results, framework, server, name, connections)
            cells.append("-" if ratio is None else f"{ratio:.2f}")
        lines.append(f"| {labels[name].label} c{connections} | " + " | ".join(cells) + " |")
    return lines


def _target_lines(results: Results) -> list[str]:
    lines = []
    for row in target_rows(results):
        label = f"- {row['scenario']} c{row['connections']}: lanner >= {row['minimum']:g}x {row['peer']}"
        if row["ratio"] is None:
            lines.append(f"{label}: not measured")
            continue
        verdict = "PASS" if row["passed"] else "FAIL"
        lines.append(f"{label}: {row['ratio']:.2f}x against {row['against']} {verdict}")
    memory = results.extra.get(UPLOAD_MEMORY_KEY)
    if memory is not None:
        mine = memory["results"].get(LANNER)
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[upload_memory.passed(memory)]
        growth = "" if mine is None else f": {mine['growth_kib'] / 1024:.1f} MiB"
        lines.append(
            f"- {memory['size_mib']} MiB upload, lanner's peak above idle < {memory['limit_mib']:g} MiB"
            f"{growth} {verdict}"
        )
    return lines


def format_pages_markdown(results: Results, chart: str | None = None) -> str:
    """Render a pages run: lanner over each peer, the targets, req/s and latency, memory, problems.

    Args:
        results: The run.
        chart: Unused (the pages suite draws no chart); accepted for `benchmarks.report.write_outputs`.

    Returns:
        The document.
    """
    lines = context_lines(results, f"Server-rendered pages benchmark: {results.mode} run, {results.started}")
    lines += [
        "## lanner ÷ each peer",
        "",
        "lanner's req/s divided by the peer's in the same scenario, concurrency and round (lanner on the "
        "same ASGI server; on uvicorn for Flask's gunicorn rows); the median over rounds. Above 1: lanner "
        "is faster. Every app renders the same template files (`benchmarks/apps/templates/`) and serves "
        "the same static file.",
        "",
        *_lead_table(results),
        "",
        "## lanner's targets",
        "",
        *_target_lines(results),
        "",
        "## Requests per second and latency",
        "",
        *detail_table(results),
    ]
    if results.memory:
        lines += ["", *memory_table(results)]
    memory = results.extra.get(UPLOAD_MEMORY_KEY)
    if memory is not None:
        lines += ["", *upload_memory.format_markdown(memory, "##")]
    lines += problem_lines(results)
    return "\n".join(lines) + "\n"


def pages_json(results: Results) -> dict[str, Any]:
    """The run as JSON-ready data (`benchmarks.report.to_json`) plus lanner's ratios and targets."""
    data = to_json(results)
    data["lanner_over_peer"] = {
        f"{name}|c{connections}": {
            f"{framework}@{server}": lead(results, framework, server, name, connections)
            for framework, server in peers(results)
        }
        for name, connections in results.loads
    }
    data["targets"] = target_rows(results)
    data["upload_memory_passed"] = memory_verdict(results)
    return data
