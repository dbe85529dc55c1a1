"""Server benchmark: lanner, its peers and a raw ASGI floor under wrk, on uvicorn, granian, gunicorn.

Run from the repository root: ``python -m benchmarks --quick`` (under 5 minutes) or
``python -m benchmarks`` (the full run, under 30 minutes). Results go to ``benchmarks/results/``
as markdown, JSON and a PNG chart. See ``benchmarks/README.md``.
"""

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.harness import HarnessError, Options, run
from benchmarks.report import format_markdown, write_outputs
from benchmarks.scenarios import SCENARIOS
from benchmarks.servers import FRAMEWORK_SPECS, SERVER_SPECS, missing_packages

RESULTS = Path(__file__).resolve().parent / "results"
"""Default output directory."""

QUICK_SERVERS = ("uvicorn", "gunicorn-gthread")
"""Servers of ``--quick``: the reference ASGI server, and Flask's threaded one."""


def _names(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}; got {value!r}")
        return tuple(dict.fromkeys(names))

    return parse


def _levels(value: str) -> tuple[int, ...]:
    try:
        levels = tuple(dict.fromkeys(int(v) for v in value.split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated integers expected, got {value!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"connection counts must be >= 1, got {value!r}")
    return levels


def _seconds(minimum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value)
        if not number >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return number

    return parse


def _count(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add = parser.add_argument
    add(
        "--quick",
        action="store_true",
        help="uvicorn + gunicorn-gthread, one load per scenario, 2 short rounds",
    )
    add("--frameworks", type=_names(list(FRAMEWORK_SPECS)), help="comma-separated (default: all; raw always)")
    add("--servers", type=_names(list(SERVER_SPECS)), help="comma-separated (default: all; --quick: two)")
    add("--scenarios", type=_names(list(SCENARIOS)), help="comma-separated (default: all)")
    add(
        "--concurrency",
        type=_levels,
        help="connections for every scenario, e.g. 10,64,200 (default: per scenario)",
    )
    add("--duration", type=_seconds(0.1), help="measured seconds per run (default 1.25; --quick 1)")
    add("--warmup", type=_seconds(0), default=0.3, help="warm-up seconds before each run (default 0.3)")
    add("--rounds", type=_count(1), help="interleaved rounds (default 5; --quick 2)")
    add(
        "--coldstart-runs",
        type=_count(0),
        help="fresh interpreters per framework (default 3; --quick 1; 0 skips)",
    )
    add("--output", type=Path, default=RESULTS, help="output directory (default benchmarks/results)")
    add("--name", help="output file stem (default: quick, full, or custom when the selection is narrowed)")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--list", action="store_true", help="list frameworks, servers and scenarios, then exit")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace, argv: Sequence[str]) -> Options:
    """Fill the defaults of ``--quick`` or of the full run into the parsed arguments."""
    narrowed = any(
        v is not None
        for v in (args.frameworks, args.servers, args.scenarios, args.concurrency, args.duration, args.rounds)
    )
    mode = "custom" if narrowed else "quick" if args.quick else "full"
    stem = args.name or mode
    return Options(
        frameworks=args.frameworks or tuple(FRAMEWORK_SPECS),
        servers=args.servers or (QUICK_SERVERS if args.quick else tuple(SERVER_SPECS)),
        scenarios=args.scenarios or tuple(SCENARIOS),
        levels=args.concurrency,
        duration=args.duration or (1 if args.quick else 1.25),
        warmup=args.warmup,
        rounds=args.rounds or (2 if args.quick else 5),
        coldstart_runs=args.coldstart_runs if args.coldstart_runs is not None else (1 if args.quick else 3),
        quick=args.quick,
        output=args.output,
        stem=stem,
        mode=mode,
        command=shlex.join(["python", "-m", "benchmarks", *argv]),
        progress=not args.no_progress,
    )


def _listing() -> str:
    def status(packages: tuple[str, ...]) -> str:
        missing = missing_packages(packages)
        return "installed" if not missing else f"missing {', '.join(missing)}"

    lines = ["frameworks:"]
    lines += [f"  {n:<11} {s.interface}  {status(s.packages)}" for n, s in FRAMEWORK_SPECS.items()]
    lines += ["servers:"] + [f"  {n:<17} {status(s.packages)}: {s.sizing}" for n, s in SERVER_SPECS.items()]
    lines += ["scenarios:"]
    lines += [
        f"  {n:<10} {s.label}; connections {s.full_levels} (quick {s.quick_levels})"
        for n, s in SCENARIOS.items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line.

    Returns:
        0 when everything was measured cleanly, 1 when the report lists problems (wrong answers,
        servers that failed, dropped samples), 3 when the run could not start (wrk missing...).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    options = options_from(args, argv)
    try:
        results = run(options)
    except HarnessError as exc:
        print(f"benchmark not run: {exc}", file=sys.stderr)
        return 3
    written = write_outputs(results, options.output, options.stem)
    print(format_markdown(results, None))
    print("written: " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
