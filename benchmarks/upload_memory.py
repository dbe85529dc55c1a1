"""Peak memory of one 100 MiB upload, under a real uvicorn: streamed to disk, or buffered?

Run ``python -m benchmarks.upload_memory`` from the repository root (about 20 s). For lanner, then
Starlette and FastAPI for comparison, it starts uvicorn (one process, pinned to CPU 0 like the
server benchmark) serving the pages app (``benchmarks/apps/pages_*.py``), waits for it to settle
and reads ``VmRSS`` from ``/proc/PID/status``. It then resets the process's peak resident size
(writing ``5`` to ``/proc/PID/clear_refs``, Linux 4.0+), sends one multipart upload of a 100 MiB
file to ``/upload`` and reads ``VmHWM``, the peak since the reset. A client thread streams the body
from a generator in 64 KiB pieces (`benchmarks.apps.pages.upload_chunks`), so it never holds the
file either; a second thread samples ``VmRSS`` every 20 ms meanwhile.

The handler reads the file to its end in 64 KiB pieces and answers its size, which is checked.
Target: lanner's peak stays under 20 MiB above its idle resident size. The lanner app raises its
form size limit for this route (``form_limits=FormLimits(max_size=200 MiB)``); Starlette and
FastAPI have no total size limit by default.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.apps.pages import UPLOAD_CONTENT_TYPE, upload_answer, upload_chunks, upload_length
from benchmarks.servers import ROOT, SERVER_SPECS, ServerError, ServerProcess, missing_packages
from benchmarks.suites import PAGE_FRAMEWORK_SPECS

MIB = 1024 * 1024
UPLOAD_MIB = 100
"""Size of the uploaded file, MiB."""

LIMIT_MIB = 20.0
"""lanner's target: peak resident size at most this much above idle, MiB."""

FRAMEWORKS = ("lanner", "starlette", "fastapi")
"""Measured in this order; lanner carries the target, the others are for comparison."""

SAMPLE_EVERY = 0.02
"""Seconds between ``VmRSS`` samples during the upload."""

UPLOAD_TIMEOUT = 120.0
"""Seconds the upload may take at most (socket timeout of the client)."""


def read_status(pid: int) -> dict[str, int]:
    """Return ``VmRSS`` and ``VmHWM`` of ``pid`` in KiB (0 when unreadable), from /proc/PID/status."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Reset the peak resident size (``VmHWM``) of ``pid`` to its current one; False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Sampler(threading.Thread):
    """Samples ``VmRSS`` of one process until stopped; keeps the highest value seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.highest_kib = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_EVERY):
            self.highest_kib = max(self.highest_kib, read_status(self.pid)["VmRSS"])
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def send_upload(port: int, size: int) -> tuple[int, bytes, float]:
    """POST a multipart upload of a ``size``-byte file to ``/upload``, streamed from a generator.

    Returns:
        The status, the body and the seconds from the first byte sent to the answer read.

    Raises:
        OSError: If the connection fails or times out.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=UPLOAD_TIMEOUT)
    headers = {"Content-Type": UPLOAD_CONTENT_TYPE, "Content-Length": str(upload_length(size))}
    start = time.monotonic()
    try:
        # http.client sends an iterable body piece by piece; with Content-Length it is not chunked.
        connection.request("POST", "/upload", body=upload_chunks(size), headers=headers)
        response = connection.getresponse()
        body = response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
    return response.status, body, time.monotonic() - start


def measure(framework: str, size: int = UPLOAD_MIB * MIB, cpu: int | None = 0) -> dict[str, Any]:
    """Serve ``framework``'s pages app on uvicorn and measure one upload of a ``size``-byte file.

    Args:
        framework: A key of `PAGE_FRAMEWORK_SPECS` (an ASGI one).
        size: The file's size in bytes.
        cpu: CPU to pin the server to, or None.

    Returns:
        ``idle_kib``, ``peak_kib`` (``VmHWM`` after the upload), ``growth_kib`` (peak minus idle),
        ``after_kib``, ``sampled_peak_kib``, ``seconds``, ``mib_per_s``, ``peak_reset`` (whether the
        high-water mark was reset first; if not, the peak may be the startup's), ``problem``
        (None, or why the answer was wrong).

    Raises:
        ServerError: If the server does not start.
    """
    spec = PAGE_FRAMEWORK_SPECS[framework]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("LANNER_DEBUG", None)
    with tempfile.TemporaryFile() as log:
        process = ServerProcess(spec, SERVER_SPECS["uvicorn"], log, cpu, env)
        try:
            process.wait_ready(_probe, 60.0)
            time.sleep(1.0)  # let startup's garbage settle before reading the idle size
            idle = read_status(process.pid)
            peak_reset = reset_peak(process.pid)
            sampler = _Sampler(process.pid)
            sampler.start()
            try:
                status, body, seconds = send_upload(process.port, size)
            finally:
                sampler.stop()
            after = read_status(process.pid)
        finally:
            process.stop()
    problem = None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = body[:200].decode("utf-8", "replace")
    if status != 200 or answer != upload_answer(size):
        problem = f"answered {status} {answer!r}; expected 200 {upload_answer(size)!r}"
    return {
        "idle_kib": idle["VmRSS"],
        "peak_kib": after["VmHWM"],
        "growth_kib": after["VmHWM"] - idle["VmRSS"],
        "after_kib": after["VmRSS"],
        "sampled_peak_kib": sampler.highest_kib,
        "samples": sampler.samples,
        "seconds": round(seconds, 3),
        "mib_per_s": round(size / MIB / seconds, 1) if seconds > 0 else 0.0,
        "peak_reset": peak_reset,
        "problem": problem,
    }


def _probe(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/static/app.css")
        connection.getresponse().read()
    except http.client.HTTPException as exc:
        raise OSError(repr(exc)) from exc
    finally:
        connection.close()


def run(
    frameworks: Sequence[str] = FRAMEWORKS, size_mib: int = UPLOAD_MIB, limit_mib: float = LIMIT_MIB
) -> dict[str, Any]:
    """Measure every framework in turn; return the settings, each one's numbers and the verdict.

    A framework that is not installed, or whose server does not start, is listed in ``problems``.
    """
    cpu = 0 if (os.cpu_count() or 1) >= 2 else None
    data: dict[str, Any] = {
        "started": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "size_mib": size_mib,
        "limit_mib": limit_mib,
        "pinned_cpu": cpu,
        "results": {},
        "problems": [],
    }
    started = time.monotonic()
    for name in frameworks:
        missing = missing_packages(PAGE_FRAMEWORK_SPECS[name].packages)
        if missing:
            data["problems"].append(f"{name} skipped: {', '.join(missing)} not installed")
            continue
        try:
            data["results"][name] = measure(name, size_mib * MIB, cpu)
        except (ServerError, OSError) as exc:
            data["problems"].append(f"{name}: {exc}")
    data["wall_seconds"] = round(time.monotonic() - started, 1)
    data["passed"] = passed(data)
    return data


def passed(data: dict[str, Any]) -> bool | None:
    """Whether lanner met the target (None when lanner was not measured)."""
    lanner = data["results"].get("lanner")
    if lanner is None:
        return None
    return lanner["problem"] is None and lanner["growth_kib"] / 1024 < data["limit_mib"]


def format_markdown(data: dict[str, Any], heading: str = "#") -> list[str]:
    """Render the measurements as markdown lines (a section headed at level ``heading``)."""
    size, limit = data["size_mib"], data["limit_mib"]
    lines = [
        f"{heading} Peak memory of one {size} MiB upload (uvicorn, {data['started']}, "
        f"{data['wall_seconds']:.0f} s)",
        "",
        f"One multipart upload of a {size} MiB file, streamed by the client from a generator in 64 KiB "
        "pieces; the handler reads it to its end in 64 KiB pieces. `idle`: VmRSS before; `peak`: "
        "VmHWM after the upload, reset just before it (/proc/PID/clear_refs); `growth` = peak - idle. "
        f"Target: lanner's growth under {limit:g} MiB.",
        "",
        "| framework@uvicorn | idle MiB | peak MiB | growth MiB | after MiB | highest sampled MiB | "
        "seconds | MiB/s | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in data["results"].items():
        growth = r["growth_kib"] / 1024
        if r["problem"]:
            verdict = f"wrong answer: {r['problem']}"
        elif name == "lanner":
            verdict = "PASS" if growth < limit else "FAIL"
        else:
            verdict = f"(comparison: {'under' if growth < limit else 'over'} {limit:g} MiB)"
        if not r["peak_reset"]:
            verdict += " (peak not reset: includes startup)"
        lines.append(
            f"| {name} | {r['idle_kib'] / 1024:.1f} | {r['peak_kib'] / 1024:.1f} | {growth:.1f} | "
            f"{r['after_kib'] / 1024:.1f} | {r['sampled_peak_kib'] / 1024:.1f} | {r['seconds']:.2f} | "
            f"{r['mib_per_s']:.0f} | {verdict} |"
        )
    lines += [f"- PROBLEM: {p}" for p in data["problems"]]
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload_memory", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=UPLOAD_MIB, help="file size, MiB (default 100)")
    parser.add_argument("--limit-mib", type=float, default=LIMIT_MIB, help="lanner's target (default 20)")
    parser.add_argument(
        "--only",
        type=lambda v: [n.strip() for n in v.split(",") if n.strip()],
        default=list(FRAMEWORKS),
        help="frameworks, comma-separated (default lanner,starlette,fastapi)",
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--name", default="upload-memory", help="output file stem")
    args = parser.parse_args(argv)
    if args.size_mib < 1:
        parser.error(f"--size-mib must be at least 1, got {args.size_mib}")
    if not args.only or any(name not in FRAMEWORKS for name in args.only):
        parser.error(f"--only: choose from {','.join(FRAMEWORKS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line: 0 when lanner met the target, 1 when not, 3 when not measured."""
    args = parse_args(argv)
    data = run(args.only, args.size_mib, args.limit_mib)
    text = "\n".join(format_markdown(data)) + "\n"
    print(text)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{args.name}.md").write_text(text)
    (args.output / f"{args.name}.json").write_text(json.dumps(data, indent=1) + "\n")
    verdict = data["passed"]
    return 3 if verdict is None else 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
