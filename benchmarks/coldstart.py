"""Cold start of one framework, measured in a fresh interpreter: import, build 100 routes, answer.

Run by the harness as ``python -m benchmarks.coldstart MODULE asgi|wsgi``; prints one JSON line
with milliseconds for the three steps. pydantic, the shared models and asyncio are imported
before the clock starts: every app needs them, and the raw app is nothing but them.

``--from-scratch`` preloads nothing: the import step then includes pydantic, the shared models
and everything the framework pulls in, as a new serverless instance or a new worker process sees
it, and the line also gives the peak resident memory.

Run without a module, it is the cold-start report: ``python -m benchmarks.coldstart [--runs N]
[--frameworks lanner,fastapi,flask]`` starts a fresh interpreter for every measurement, in both
modes, in rounds that rotate the frameworks, and writes the medians to
``benchmarks/results/coldstart.md`` (every sample to ``coldstart.json``).
"""

from __future__ import annotations

import importlib
import os
import sys
import time

# The measuring child imports nothing before the clock that a framework would have to import
# itself (typing alone brings re and enum: some 20 ms on a slow machine), so `typing`, and the
# report's modules, are imported where they are used. mypy reads this block; Python skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

ROUTES = 100
"""Numbered routes in the cold-start app (``/r0/items/{item_id}`` ... ``/r99/...``)."""

_FIRST_PATH = "/r0/items/1"
_FIRST_BODY = {"route": 0, "item_id": 1}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository's root (a string: pathlib would load before the clock)."""

DEFAULT_FRAMEWORKS = ("lanner", "fastapi", "flask")
"""What the report compares by default: lanner against FastAPI (ASGI) and Flask (WSGI)."""

MODES = ("scratch", "preloaded")
"""``scratch``: nothing imported before the clock; ``preloaded``: pydantic and the models are."""

STEPS = ("import_ms", "build_ms", "first_ms", "total_ms")
"""What the child measures in process, in order."""

_VERSIONED = ("lanner", "fastapi", "starlette", "flask", "werkzeug", "pydantic", "pydantic-core")


def _preload() -> None:
    # What every benchmark app shares (pydantic, the models) and what drives the first request.
    importlib.import_module("asyncio")
    importlib.import_module("benchmarks.apps")
    importlib.import_module("benchmarks.core")


def _first_asgi_response(app: Any) -> tuple[int, bytes]:
    # Imported here so that, from scratch, asyncio and the driver are the framework's cost only
    # when the framework itself imported them (benchmarks.core is loaded off the clock).
    import asyncio

    from benchmarks.core import LifespanRunner, LoadedApp, Scenario

    first = Scenario("first", "first request", "GET", _FIRST_PATH, _FIRST_BODY)

    async def answer() -> tuple[int, bytes]:
        runner = LifespanRunner(app)
        await runner.startup()
        try:
            response = await LoadedApp("app", app, runner).request(first)
        finally:
            await runner.shutdown()
        return response.status, response.body

    return asyncio.run(answer())


def _first_wsgi_response(app: Any) -> tuple[int, bytes]:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {"PATH_INFO": _FIRST_PATH, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append(status)

    body = b"".join(app(environ, start_response))
    return int(statuses[0].split()[0]), body


def measure(module_name: str, interface: str, *, from_scratch: bool = False) -> dict[str, float]:
    """Import ``module_name``, build its app with ``ROUTES`` routes and serve one request.

    Args:
        module_name: An app module with ``create_app(route_ids, basic_routes=...)``.
        interface: ``asgi`` or ``wsgi``.
        from_scratch: Preload nothing: the import then includes pydantic and the shared models.
            The benchmark's own ASGI driver is imported between the steps, off the clock.

    Returns:
        ``import_ms``, ``build_ms``, ``first_ms`` (first answer, lifespan startup included) and
        ``total_ms`` (their sum); from scratch also ``total_cpu_ms``, the CPU time of those
        steps (which other processes on the machine disturb far less than the wall time), and
        ``peak_rss_mib``, the process's peak resident memory.

    Raises:
        RuntimeError: If the first answer is not the expected one.
    """
    if not from_scratch:
        _preload()
    cpu_start, start = time.process_time(), time.perf_counter()
    module = importlib.import_module(module_name)
    imported, cpu_imported = time.perf_counter(), time.process_time()
    if interface == "asgi":
        importlib.import_module("benchmarks.core")
    cpu_resumed, resumed = time.process_time(), time.perf_counter()
    app = module.create_app(range(ROUTES), basic_routes=False)
    built = time.perf_counter()
    if interface == "asgi":
        status, body = _first_asgi_response(app)
    else:
        status, body = _first_wsgi_response(app)
    answered, cpu_answered = time.perf_counter(), time.process_time()
    import json

    if status != 200 or json.loads(body) != _FIRST_BODY:
        raise RuntimeError(f"{module_name} answered {status} {body[:200]!r} to GET {_FIRST_PATH}")
    result = {
        "import_ms": (imported - start) * 1000,
        "build_ms": (built - resumed) * 1000,
        "first_ms": (answered - built) * 1000,
        "total_ms": (answered - resumed + imported - start) * 1000,
    }
    if from_scratch:
        import resource

        # ru_maxrss is in KiB on Linux.
        result["total_cpu_ms"] = (cpu_answered - cpu_resumed + cpu_imported - cpu_start) * 1000
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# -- the report: many fresh interpreters ------------------------------------------------------
# Its modules are imported inside its functions, for the reason given at the top.


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    return env


def _pinning() -> list[str]:
    import shutil

    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0"]
    return []


def run_child(command: Sequence[str], env: dict[str, str]) -> tuple[dict[str, float], float, float]:
    """Run one fresh interpreter; return the JSON object it printed last, its wall and CPU ms.

    The CPU time is the child's user and system time, from the kernel's accounting.

    Raises:
        RuntimeError: If the child fails.
    """
    import json
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(list(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    lines = done.stdout.strip().splitlines()
    values: dict[str, float] = json.loads(lines[-1]) if lines else {}
    return values, elapsed, cpu


def collect(frameworks: Sequence[str], runs: int, *, progress: bool = False) -> dict[str, Any]:
    """Measure every framework ``runs`` times in both modes, and a bare interpreter as the floor.

    Each round goes through the frameworks in a rotated order, each measurement in its own
    process, so drift over the run spreads over every framework alike. One untimed round first
    writes every module's bytecode cache and warms the page cache, as a deployed image has.

    Args:
        frameworks: Names from `benchmarks.servers.FRAMEWORK_SPECS`.
        runs: Rounds (at least 1).
        progress: Print a line per round to standard error.

    Returns:
        ``{"samples": {framework: {mode: [sample, ...]}}, "floor": [ms, ...], "settings": {...}}``;
        each sample holds the child's values, ``process_ms``, the wall time from starting the
        interpreter to its exit, and ``process_cpu_ms``, the CPU time it used; ``floor`` holds
        the same two for ``python -c pass``.

    Raises:
        RuntimeError: If a child fails.
        ValueError: For an unknown or uninstalled framework, or ``runs`` below 1.
    """
    from benchmarks.servers import FRAMEWORK_SPECS, missing_packages

    if runs < 1 or not frameworks:
        raise ValueError(f"need at least one framework and one run, got {list(frameworks)} and {runs}")
    for name in frameworks:
        if name not in FRAMEWORK_SPECS:
            raise ValueError(f"unknown framework {name!r}: choose from {', '.join(FRAMEWORK_SPECS)}")
        if missing := missing_packages(FRAMEWORK_SPECS[name].packages):
            raise ValueError(f"{name} needs {', '.join(missing)}: pip install -e '.[bench]'")
    env, pin = _child_env(), _pinning()
    python = [*pin, sys.executable]
    commands: dict[tuple[str, str], list[str]] = {}
    for name in frameworks:
        spec = FRAMEWORK_SPECS[name]
        base = [*python, "-m", "benchmarks.coldstart", spec.module, spec.interface]
        commands[name, "preloaded"] = base
        commands[name, "scratch"] = [*base, "--from-scratch"]
    load_before = _load_average()
    for command in commands.values():
        run_child(command, env)
    samples: dict[str, dict[str, list[dict[str, float]]]] = {n: {m: [] for m in MODES} for n in frameworks}
    floor: list[dict[str, float]] = []
    for round_index in range(runs):
        shift = round_index % len(frameworks)
        for name in [*frameworks[shift:], *frameworks[:shift]]:
            for mode in MODES:
                values, elapsed, cpu = run_child(commands[name, mode], env)
                samples[name][mode].append({**values, "process_ms": elapsed, "process_cpu_ms": cpu})
        _, elapsed, cpu = run_child([*python, "-c", "pass"], env)
        floor.append({"process_ms": elapsed, "process_cpu_ms": cpu})
        if progress:
            print(f"round {round_index + 1}/{runs} done", file=sys.stderr)
    return {
        "samples": samples,
        "floor": floor,
        "settings": {
            "runs": runs,
            "routes": ROUTES,
            "pinning": " ".join(pin) or "none",
            "load": f"{load_before} before, {_load_average()} after",
        },
    }


def _load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as loadavg:
            return loadavg.read().split()[0]
    except (OSError, IndexError):
        return "?"


def medians(collected: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """The median of every value per framework and mode: ``{framework: {mode: {key: ms}}}``."""
    import statistics

    result: dict[str, dict[str, dict[str, float]]] = {}
    for name, modes in collected["samples"].items():
        result[name] = {}
        for mode, samples in modes.items():
            result[name][mode] = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    return result


def _context() -> str:
    """Date, lanner's commit, CPU and Python: the line under the report's title."""
    import platform
    import subprocess
    from datetime import UTC, datetime

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{stamp}, lanner at git {head or '?'}, {cpu} ({os.cpu_count()} CPUs), "
        f"Python {platform.python_version()}"
    )


def _versions() -> str:
    from importlib import metadata

    found = []
    for package in _VERSIONED:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def format_report(collected: dict[str, Any], command: str) -> str:
    """Render the medians of `collect` as the markdown of ``benchmarks/results/coldstart.md``."""
    import statistics

    table = medians(collected)
    settings = collected["settings"]
    floor = {
        key: statistics.median(f[key] for f in collected["floor"]) for key in ("process_ms", "process_cpu_ms")
    }
    lines = [
        f"# Cold start: `{command}`",
        "",
        f"{_context()}; pinning: {settings['pinning']}; 1-minute load average {settings['load']}. "
        f"Median of {settings['runs']} fresh "
        "interpreters per cell, the frameworks' order rotated every round, after one untimed round "
        "that writes the bytecode caches. Every sample is in `coldstart.json`.",
        "",
        _versions(),
        "",
        "Each framework's benchmark app (`benchmarks/apps/`) is imported, builds "
        f"{settings['routes']} routes `/r{{i}}/items/{{item_id}}` with a typed path parameter, and "
        "answers `GET /r0/items/1` once (ASGI: lifespan startup, the request, lifespan shutdown; "
        "WSGI: one call). Every app validates with the same pydantic models, so each imports pydantic.",
        "",
        "## From scratch: a new serverless instance or worker process",
        "",
        "Nothing is imported before the clock. *total* is import + build + first answer; *CPU* is "
        "the CPU time of the same steps, which other processes on a busy machine disturb far less "
        "than the wall time. *process* is the whole interpreter, start-up and exit included, as "
        "the parent sees it: its wall time and its CPU time.",
        "",
        "| framework | import ms | build ms | first answer ms | total ms | total CPU ms "
        "| process ms | process CPU ms | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, modes in table.items():
        row = modes["scratch"]
        cells = [row[key] for key in ("import_ms", "build_ms", "first_ms", "total_ms", "total_cpu_ms")]
        cells += [row["process_ms"], row["process_cpu_ms"], row["peak_rss_mib"]]
        lines.append(f"| {name} | " + " | ".join(f"{cell:.1f}" for cell in cells) + " |")
    lines.append(
        f"| `python -c pass` | | | | | | {floor['process_ms']:.1f} | {floor['process_cpu_ms']:.1f} | |"
    )
    if "lanner" in table and len(table) > 1:
        lanner = table["lanner"]["scratch"]
        ratios = [
            f"{name} {modes['scratch']['total_cpu_ms'] / lanner['total_cpu_ms']:.2f}x "
            f"(wall {modes['scratch']['total_ms'] / lanner['total_ms']:.2f}x, whole process CPU "
            f"{modes['scratch']['process_cpu_ms'] / lanner['process_cpu_ms']:.2f}x)"
            for name, modes in table.items()
            if name != "lanner"
        ]
        lines += ["", f"Relative to lanner, total CPU from scratch: {'; '.join(ratios)}."]
    lines += [
        "",
        "## pydantic and the shared models preloaded (as in the server benchmark's cold-start table)",
        "",
        "| framework | import ms | build ms | first answer ms | total ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, modes in table.items():
        row = modes["preloaded"]
        lines.append(
            f"| {name} | {row['import_ms']:.1f} | {row['build_ms']:.1f} | {row['first_ms']:.1f} | "
            f"{row['total_ms']:.1f} |"
        )
    lines += [
        "",
        "What the steps hold: *import* is the app module with its framework; *build* is "
        "`create_app()`, where lanner inspects each handler once and compiles its plan "
        "(parameters, validation, serialisation) and FastAPI builds its dependency models; *first "
        "answer* includes lifespan startup, where lanner freezes its route table and compiles each "
        "route's endpoint, so lanner's route compilation is split between *build* and *first "
        "answer*. Flask compiles its URL rules on the first match.",
        "",
    ]
    return "\n".join(lines)


def _report(argv: Sequence[str]) -> int:
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.coldstart",
        description="Cold start of lanner and its peers, each measurement in a fresh interpreter. "
        "With MODULE INTERFACE [--from-scratch], measure that app here and print one JSON line.",
    )
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per cell (default 15)")
    parser.add_argument(
        "--frameworks",
        default=",".join(DEFAULT_FRAMEWORKS),
        help=f"comma-separated (default {','.join(DEFAULT_FRAMEWORKS)})",
    )
    parser.add_argument(
        "--output", type=Path, default=Path(ROOT, "benchmarks", "results"), help="folder of the report"
    )
    parser.add_argument("--name", default="coldstart", help="file stem of the report (default coldstart)")
    args = parser.parse_args(argv)
    frameworks = tuple(name.strip() for name in args.frameworks.split(",") if name.strip())
    try:
        collected = collect(frameworks, args.runs, progress=True)
    except ValueError as exc:
        parser.error(str(exc))
    markdown = format_report(collected, " ".join(["python -m benchmarks.coldstart", *argv]))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{args.name}.md").write_text(markdown, encoding="utf-8")
    data = {**collected, "medians": medians(collected), "versions": _versions()}
    (args.output / f"{args.name}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(markdown)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``MODULE asgi|wsgi [--from-scratch]``: measure here and print JSON; else write the report."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        # The child: parsed by hand, since argparse would load before the clock.
        flags = args[2:]
        if len(args) < 2 or args[1] not in ("asgi", "wsgi") or flags not in ([], ["--from-scratch"]):
            print("usage: python -m benchmarks.coldstart MODULE asgi|wsgi [--from-scratch]", file=sys.stderr)
            return 2
        values = measure(args[0], args[1], from_scratch=bool(flags))
        import json

        print(json.dumps(values))
        return 0
    return _report(args)


if __name__ == "__main__":
    sys.exit(main())
