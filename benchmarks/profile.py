"""Profile one framework's server under wrk load with py-spy, and print its hottest frames.

Run ``python -m benchmarks.profile --framework lanner --scenario json`` from the repository root
(py-spy is a pip package; it needs permission to ptrace the server, as root or with
CAP_SYS_PTRACE). The server runs pinned like in the benchmark. wrk loads it while py-spy samples it
without pausing it (``--nonblocking``). The script prints the functions with the most samples,
by self time and including callees, and keeps py-spy's collapsed stacks (``--stacks``) for a
flame graph tool. A scenario of the pages suite (``--scenario upload``) is served by the
framework's pages app.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.load import WRK_MISSING, LoadError, check, fetch, find_wrk, revalidated, run_wrk
from benchmarks.scenarios import wrk_script
from benchmarks.servers import FRAMEWORK_SPECS, ROOT, SERVER_SPECS, ServerError, ServerProcess
from benchmarks.suites import PAGE_FRAMEWORK_SPECS, SCENARIO_SUITES, get_suite


def top_frames(
    stacks: str, limit: int, only: str | None = None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """Aggregate py-spy's collapsed stacks (``frame;frame;... count`` lines).

    Args:
        stacks: The text py-spy wrote with ``--format raw``.
        limit: How many frames to return per list.
        only: Keep only frames containing this text (the total still counts every sample).

    Returns:
        The top frames by self samples, the top frames by inclusive samples, and the sample total.
    """
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if only:
        own = collections.Counter({k: v for k, v in own.items() if only in k})
        inclusive = collections.Counter({k: v for k, v in inclusive.items() if only in k})
    return own.most_common(limit), inclusive.most_common(limit), total


def _print_table(title: str, rows: list[tuple[str, int]], total: int) -> None:
    print(f"\n{title}")
    for frame, count in rows:
        print(f"  {100 * count / max(total, 1):5.1f}%  {frame}")


def profile(
    framework: str, server: str, scenario: str, connections: int, seconds: int, lines: bool = False
) -> str:
    """Serve ``framework`` on ``server``, load it with wrk, sample it with py-spy.

    Returns:
        py-spy's collapsed stacks.

    Raises:
        RuntimeError: If wrk or py-spy is missing, the framework has no app for the scenario's
            suite, the server does not start or answers wrongly, or py-spy fails.
    """
    suite = get_suite(SCENARIO_SUITES[scenario])
    if framework not in suite.frameworks:
        raise RuntimeError(f"{framework} has no app in the {suite.name} suite")
    request = suite.scenarios[scenario]
    wrk = find_wrk()
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if wrk is None:
        raise RuntimeError(WRK_MISSING)
    if py_spy is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    with tempfile.TemporaryDirectory(prefix="lanner-profile-") as scratch:
        script, output = Path(scratch) / "load.lua", Path(scratch) / "stacks.txt"
        log = (Path(scratch) / "server.log").open("w+b")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = ServerProcess(suite.frameworks[framework], SERVER_SPECS[server], log, 0, env)
        try:
            process.wait_ready(lambda port: fetch(port, request), 60.0)
            request = revalidated(process.port, request)  # a conditional GET carries this server's ETag
            script.write_text(wrk_script(request))
            problem = check(process.port, request)
            if problem:
                raise RuntimeError(f"{process.name} answers wrongly: {problem}")
            errors: list[LoadError] = []

            def load() -> None:
                try:
                    run_wrk(wrk, process.port, script, connections, seconds + 2, 1)
                except LoadError as exc:
                    errors.append(exc)

            loader = threading.Thread(target=load)
            loader.start()
            time.sleep(1)
            command = [
                py_spy,
                "record",
                "--pid",
                str(process.pid),
                "--duration",
                str(seconds),
                "--rate",
                "500",
                "--nonblocking",
                *([] if lines else ["--function"]),
                "--subprocesses",
                "--format",
                "raw",
                "--output",
                str(output),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
            loader.join(timeout=seconds + 60)
            if done.returncode != 0 or not output.exists():
                raise RuntimeError(f"py-spy failed: {(done.stderr or done.stdout).strip()[-500:]}")
            if errors:
                raise RuntimeError(str(errors[0]))
            return output.read_text()
        except (ServerError, LoadError) as exc:
            raise RuntimeError(str(exc)) from exc
        finally:
            process.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Profile from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    frameworks = list(dict.fromkeys([*FRAMEWORK_SPECS, *PAGE_FRAMEWORK_SPECS]))
    parser.add_argument("--framework", choices=frameworks, default="lanner")
    parser.add_argument("--server", choices=list(SERVER_SPECS), default="uvicorn")
    parser.add_argument("--scenario", choices=list(SCENARIO_SUITES), default="json")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=8, help="sampling time")
    parser.add_argument("--top", type=int, default=25, help="frames per table")
    parser.add_argument("--lines", action="store_true", help="one frame per line, not per function")
    parser.add_argument("--only", metavar="TEXT", help="list only frames containing TEXT, e.g. lanner/")
    parser.add_argument("--stacks", type=Path, help="also write the collapsed stacks here")
    args = parser.parse_args(argv)
    try:
        stacks = profile(
            args.framework, args.server, args.scenario, args.connections, args.seconds, args.lines
        )
    except RuntimeError as exc:
        print(f"profile not taken: {exc}", file=sys.stderr)
        return 1
    if args.stacks:
        args.stacks.write_text(stacks)
    own, inclusive, total = top_frames(stacks, args.top, args.only)
    print(f"{args.framework}@{args.server} {args.scenario} c{args.connections}: {total} samples")
    _print_table("self (the frame itself was running):", own, total)
    _print_table("inclusive (the frame was on the stack):", inclusive, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
