"""Load generation with wrk, and the one-request checks made before anything is timed."""

import contextlib
import dataclasses
import http.client
import json
import math
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.scenarios import HttpScenario

WRK_MISSING = "wrk is not installed; install Debian's package: apt-get install -y wrk"
"""What to tell the user when wrk cannot be found."""


class LoadError(Exception):
    """Raised when wrk fails, hangs past its bound, or prints no result."""


def find_wrk() -> str | None:
    """Return the path of the ``wrk`` executable, or None when it is not installed."""
    return shutil.which("wrk")


@dataclass(frozen=True, slots=True)
class Sample:
    """One wrk run's numbers.

    Attributes:
        requests: Completed requests.
        seconds: Measured duration.
        p50_ms: Median latency, milliseconds.
        p95_ms: 95th percentile latency, milliseconds.
        p99_ms: 99th percentile latency, milliseconds.
        errors: Socket errors (connect, read, write) and timeouts.
        bad_status: Responses with a status outside 2xx/3xx.
        server_cpu: Share of one CPU the server used during the run (1.0 = all of it); lower
            than expected in a CPU-bound scenario means something else ran on the server's CPU.
        round: The round the run belonged to (-1: none), which pairs it with other targets' runs
            of the same load for ratios.
    """

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    bad_status: int
    server_cpu: float = 0.0
    round: int = -1

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_wrk(
    wrk: str,
    port: int,
    script: Path,
    connections: int,
    seconds: float,
    cpu: int | None,
) -> Sample:
    """Run wrk once against 127.0.0.1:``port`` and return what it measured.

    wrk runs one thread (it has one CPU), keeps ``connections`` connections open, and stops by
    itself. It takes whole seconds only, so a fractional ``seconds`` is ended by SIGINT, on which
    wrk stops its clock and reports as usual. It is killed if still running 30 s past its bound.

    Args:
        wrk: Path of the wrk executable.
        port: The server's port on 127.0.0.1.
        script: A script written by ``benchmarks.scenarios.wrk_script``.
        connections: Concurrent connections.
        seconds: Duration of the run.
        cpu: CPU to pin wrk to, or None.

    Returns:
        The sample.

    Raises:
        LoadError: If wrk exits with an error, overruns its bound or prints no result line.
    """
    whole = max(math.ceil(seconds), 1)
    command = [wrk, "-t1", f"-c{connections}", f"-d{whole}s", "--timeout", "5s", "-s", str(script)]
    command.append(f"http://127.0.0.1:{port}/")
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if seconds < whole:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=seconds)
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=whole + 30)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise LoadError(f"wrk did not stop within {whole + 30} s") from exc
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if process.returncode != 0 or line is None:
        raise LoadError(f"wrk failed ({process.returncode}): {(stderr or stdout).strip()[-500:]}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    return Sample(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        bad_status=data["status"],
    )


def wrk_version(wrk: str) -> str:
    """Return wrk's version line (``wrk 4.1.0 [epoll] ...``), or "unknown"."""
    try:
        done = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def fetch(port: int, scenario: HttpScenario, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """Send ``scenario``'s request once to 127.0.0.1:``port``.

    Args:
        port: The server's port.
        scenario: The request to send.
        timeout: Socket timeout, seconds.

    Returns:
        Status, ``Content-Type`` header ("" when absent) and body.

    Raises:
        OSError: If the connection fails (``http.client`` errors are ``OSError`` too, or wrapped).
    """
    status, headers, body = _exchange(port, scenario, timeout)
    return status, headers.get("content-type", ""), body


def _exchange(port: int, scenario: HttpScenario, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Send the request; return the status, the headers (lower-case names) and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = scenario.request_headers()
        connection.request(scenario.method, scenario.target, body=scenario.body or None, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()


def revalidated(port: int, scenario: HttpScenario, timeout: float = 10.0) -> HttpScenario:
    """Return ``scenario`` as this server must be asked it: with its own ``ETag`` in ``If-None-Match``.

    Scenarios without ``revalidate`` are returned as they are. Each framework makes its own
    validator (a hash, or the file's mtime and size), so the conditional request is built per
    server from a plain GET of the same target.

    Raises:
        OSError: If the connection fails.
        LoadError: If the plain GET is not a 200 with an ``ETag``.
    """
    if not scenario.revalidate:
        return scenario
    plain = dataclasses.replace(scenario, revalidate=False, expected_status=200)
    status, headers, _ = _exchange(port, plain, timeout)
    etag = headers.get("etag")
    if status != 200 or not etag:
        raise LoadError(f"GET {scenario.target} answered {status} without an ETag to revalidate")
    return dataclasses.replace(
        scenario, headers=(*scenario.headers, ("If-None-Match", etag)), revalidate=False
    )


def check(port: int, scenario: HttpScenario, timeout: float = 60.0) -> str | None:
    """Send ``scenario``'s request once and compare the answer with the expected one.

    The answer also tells that the server has drained the work a finished wrk run left queued
    (gunicorn's sync workers still serve the abandoned connections one by one), so the harness
    sends one before and after every run, and the timeout is long.

    Args:
        port: The server's port.
        scenario: The request to check.
        timeout: Socket timeout, seconds.

    Returns:
        None when the answer is right, otherwise what was wrong (a failed connection included).
    """
    try:
        status, content_type, body = fetch(port, scenario, timeout)
    except OSError as exc:
        return f"{scenario.method} {scenario.target} failed: {exc}"
    return scenario.check(status, content_type, body)
