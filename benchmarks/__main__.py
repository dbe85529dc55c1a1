"""Server benchmark: lanner, its peers and a raw ASGI floor under wrk, on uvicorn, granian, gunicorn.

Run from the repository root: ``python -m benchmarks --quick`` (under 5 minutes) or
``python -m benchmarks`` (the full run, under 30 minutes). Results go to ``benchmarks/results/``
as markdown, JSON and a PNG chart. ``--pages`` (or naming its scenarios: page, login, upload,
static, static304) runs the server-rendered suite instead, lanner against Starlette, FastAPI and
Flask, then the 100 MiB upload memory check; its results go to ``pages.md`` and ``pages.json``.
``--model`` runs the model-bound suite (`benchmarks.model`: the embedder, batched against per
request and against FastAPI); ``--realtime`` the WebSocket and SSE one (`benchmarks.realtime`);
``--production`` the production-stack one (`benchmarks.production`: request id, access log,
metrics, CORS, gzip, security headers and rate limit on the JSON scenario, against FastAPI);
``--wsgi`` the WSGI bridges one (`benchmarks.wsgi`: a Flask app through ``mount_wsgi`` against
gunicorn gthread, lanner through ``app.wsgi`` against Flask on gunicorn sync workers).
See ``benchmarks/README.md``.
"""

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import model as model_suite
from benchmarks import production as production_suite
from benchmarks import realtime as realtime_suite
from benchmarks import upload_memory
from benchmarks import wsgi as wsgi_suite
from benchmarks.harness import HarnessError, Options, run
from benchmarks.pages_report import UPLOAD_MEMORY_KEY, format_pages_markdown, pages_json
from benchmarks.report import Results, format_markdown, write_outputs
from benchmarks.scenarios import PAGE_SCENARIO_NAMES, SCENARIOS
from benchmarks.servers import FRAMEWORK_SPECS, SERVER_SPECS, missing_packages
from benchmarks.suites import PAGE_FRAMEWORK_SPECS, QUICK_SERVERS, SCENARIO_SUITES, get_suite

RESULTS = Path(__file__).resolve().parent / "results"
"""Default output directory."""


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
    add(
        "--pages",
        action="store_true",
        help="the server-rendered suite: page, login, upload, static, static304 (lanner, starlette, "
        "fastapi, flask), then the 100 MiB upload memory check",
    )
    known_frameworks = list(dict.fromkeys([*FRAMEWORK_SPECS, *PAGE_FRAMEWORK_SPECS]))
    add("--frameworks", type=_names(known_frameworks), help="comma-separated (default: all; raw always)")
    add("--servers", type=_names(list(SERVER_SPECS)), help="comma-separated (default: all; --quick: two)")
    add(
        "--scenarios",
        type=_names(list(SCENARIO_SUITES)),
        help="comma-separated, from one suite (default: all of the suite)",
    )
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
    add("--no-upload-memory", action="store_true", help="pages suite: skip the 100 MiB upload memory check")
    add("--list", action="store_true", help="list frameworks, servers and scenarios, then exit")
    args = parser.parse_args(argv)
    args.suite = _suite_of(parser, args)
    return args


def _suite_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The suite the arguments select; exits with status 2 when they mix suites."""
    suites = {SCENARIO_SUITES[name] for name in args.scenarios or ()}
    if args.pages:
        suites.add("pages")
    if len(suites) > 1:
        parser.error("--scenarios (and --pages) must name scenarios of one suite: API or pages")
    suite = suites.pop() if suites else "api"
    known = PAGE_FRAMEWORK_SPECS if suite == "pages" else FRAMEWORK_SPECS
    unknown = [name for name in args.frameworks or () if name not in known]
    if unknown:
        parser.error(f"--frameworks: the {suite} suite has {','.join(known)}; got {','.join(unknown)}")
    if suite == "pages" and args.coldstart_runs:
        parser.error("--coldstart-runs: cold start is measured by the API suite only")
    return suite


def options_from(args: argparse.Namespace, argv: Sequence[str]) -> Options:
    """Fill the defaults of ``--quick`` or of the full run into the parsed arguments."""
    narrowed = any(
        v is not None
        for v in (args.frameworks, args.servers, args.scenarios, args.concurrency, args.duration, args.rounds)
    )
    mode = "custom" if narrowed else "quick" if args.quick else "full"
    pages = getattr(args, "suite", "api") == "pages"
    frameworks: tuple[str, ...]
    scenarios: tuple[str, ...]
    if pages:
        # One results file for the suite; a narrowed run does not overwrite it.
        stem = args.name or ("pages-custom" if narrowed else "pages")
        frameworks, scenarios = tuple(PAGE_FRAMEWORK_SPECS), PAGE_SCENARIO_NAMES
        servers = get_suite("pages").quick_servers if args.quick else tuple(SERVER_SPECS)
        # Few loads: 3 rounds fit a quick run, and pairing needs rounds on this noisy host.
        rounds, coldstart = args.rounds or (3 if args.quick else 5), 0
    else:
        stem = args.name or mode
        frameworks, scenarios = tuple(FRAMEWORK_SPECS), tuple(SCENARIOS)
        servers = QUICK_SERVERS if args.quick else tuple(SERVER_SPECS)
        rounds = args.rounds or (2 if args.quick else 5)
        coldstart = args.coldstart_runs if args.coldstart_runs is not None else (1 if args.quick else 3)
    return Options(
        frameworks=args.frameworks or frameworks,
        servers=args.servers or servers,
        scenarios=args.scenarios or scenarios,
        levels=args.concurrency,
        duration=args.duration or (1 if args.quick else 1.25),
        warmup=args.warmup,
        rounds=rounds,
        coldstart_runs=coldstart,
        quick=args.quick,
        output=args.output,
        stem=stem,
        mode=mode,
        command=shlex.join(["python", "-m", "benchmarks", *argv]),
        progress=not args.no_progress,
        suite="pages" if pages else "api",
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
    lines += ["pages suite (--pages) frameworks:"]
    lines += [f"  {n:<11} {s.interface}  {status(s.packages)}" for n, s in PAGE_FRAMEWORK_SPECS.items()]
    lines += ["pages suite scenarios:"]
    try:
        page_scenarios = get_suite("pages").scenarios
    except ImportError as exc:
        return "\n".join([*lines, f"  unavailable: {exc}"])
    lines += [
        f"  {n:<10} {s.label}; connections {s.full_levels} (quick {s.quick_levels})"
        for n, s in page_scenarios.items()
    ]
    return "\n".join(lines)


def _write(results: Results, output: Path, stem: str) -> list[Path]:
    """Write the run's markdown and JSON (and, for the API suite, its chart)."""
    if results.suite == "pages":
        return write_outputs(results, output, stem, format_pages_markdown, chart=False, to_data=pages_json)
    return write_outputs(results, output, stem)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line.

    Returns:
        0 when everything was measured cleanly, 1 when the report lists problems (wrong answers,
        servers that failed, dropped samples), 3 when the run could not start (wrk missing...).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--model" in argv:
        return model_suite.main([a for a in argv if a != "--model"])
    if "--realtime" in argv:
        return realtime_suite.main([a for a in argv if a != "--realtime"])
    if "--production" in argv:
        return production_suite.main([a for a in argv if a != "--production"])
    if "--wsgi" in argv:
        return wsgi_suite.main([a for a in argv if a != "--wsgi"])
    args = parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    options = options_from(args, argv)
    try:
        results = run(options)
    except (HarnessError, ImportError) as exc:
        print(f"benchmark not run: {exc}", file=sys.stderr)
        return 3
    if options.suite == "pages" and not args.no_upload_memory:
        if options.progress:
            print("100 MiB upload memory check (lanner, starlette, fastapi on uvicorn)...", file=sys.stderr)
        memory = upload_memory.run()
        results.extra[UPLOAD_MEMORY_KEY] = memory
        results.problems += [f"upload memory: {p}" for p in memory["problems"]]
    written = _write(results, options.output, options.stem)
    print(format_pages_markdown(results) if options.suite == "pages" else format_markdown(results, None))
    print("written: " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
