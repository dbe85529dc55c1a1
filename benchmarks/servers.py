"""The frameworks and servers of the server benchmark, and the server processes the harness runs.

Each server is started with its own command line (``python -m uvicorn ...``), pinned to one CPU
with ``taskset``, in a new session, and stopped by its process id: SIGTERM, then SIGKILL for the
whole process group it created (granian and gunicorn fork workers) if it does not exit in time.
"""

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

ROOT = Path(__file__).resolve().parents[1]
"""The repository root: servers run there so that ``benchmarks.apps`` is importable."""

Interface = Literal["asgi", "wsgi"]


@dataclass(frozen=True, slots=True)
class FrameworkSpec:
    """A framework's benchmark app.

    Attributes:
        name: Short name used on the command line and in reports.
        module: Module whose ``create_app()`` builds the app with every benchmark route.
        interface: ``asgi`` or ``wsgi``; decides which servers can run it.
        packages: Top-level packages the app needs; a missing one skips the framework.
    """

    name: str
    module: str
    interface: Interface
    packages: tuple[str, ...]


FRAMEWORK_SPECS: dict[str, FrameworkSpec] = {
    spec.name: spec
    for spec in (
        FrameworkSpec("lanner", "benchmarks.apps.lanner_app", "asgi", ("lanner",)),
        FrameworkSpec("raw", "benchmarks.apps.raw_asgi", "asgi", ("pydantic",)),
        FrameworkSpec("fastapi", "benchmarks.apps.fastapi_app", "asgi", ("fastapi",)),
        FrameworkSpec("starlette", "benchmarks.apps.starlette_app", "asgi", ("starlette",)),
        FrameworkSpec("litestar", "benchmarks.apps.litestar_app", "asgi", ("litestar",)),
        FrameworkSpec("blacksheep", "benchmarks.apps.blacksheep_app", "asgi", ("blacksheep",)),
        FrameworkSpec("falcon", "benchmarks.apps.falcon_app", "asgi", ("falcon",)),
        FrameworkSpec("flask", "benchmarks.apps.flask_app", "wsgi", ("flask",)),
    )
}
"""Every framework the harness knows, in report order; ``raw`` is the floor."""

FLOOR = "raw"
"""The framework every other is divided by."""

GUNICORN_WORKERS = 3
"""gunicorn's documented starting point, 2 x CPUs + 1, for the one CPU the server is pinned to."""

GUNICORN_THREADS = 16
"""Threads per gthread worker: 3 x 16 = 48 requests in flight, enough to overlap 50 ms sleeps."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A server and the way the harness runs an app on it.

    Attributes:
        name: Short name used on the command line and in reports.
        interface: The app interface it serves.
        packages: Packages it needs (missing ones skip the server, or degrade it, see ``notes``).
        sizing: How it is sized, for the report.
    """

    name: str
    interface: Interface
    packages: tuple[str, ...]
    sizing: str

    def command(self, module: str, port: int) -> list[str]:
        """Return the command line serving ``module:create_app`` on 127.0.0.1:``port``.

        Args:
            module: A module with a ``create_app()`` factory.
            port: The TCP port to listen on.

        Returns:
            The argument list, starting with this interpreter.
        """
        python, host = sys.executable, "127.0.0.1"
        if self.name == "uvicorn":
            fast = [
                *(["--loop", "uvloop"] if _has("uvloop") else []),
                *(["--http", "httptools"] if _has("httptools") else []),
            ]
            return [
                python,
                "-m",
                "uvicorn",
                f"{module}:create_app",
                "--factory",
                "--host",
                host,
                "--port",
                str(port),
                *fast,
                "--no-access-log",
                "--log-level",
                "warning",
            ]
        if self.name == "granian":
            loop = ["--loop", "uvloop"] if _has("uvloop") else []
            return [
                python,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                "1",
                *loop,
                "--no-access-log",
                "--log-level",
                "warning",
                f"{module}:create_app",
            ]
        worker = self.name.removeprefix("gunicorn-")
        threads = ["--threads", str(GUNICORN_THREADS)] if worker == "gthread" else []
        return [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--worker-class",
            worker,
            "--workers",
            str(GUNICORN_WORKERS),
            *threads,
            "--log-level",
            "warning",
            f"{module}:create_app()",
        ]


SERVER_SPECS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec("uvicorn", "asgi", ("uvicorn",), "1 process; uvloop + httptools; access log off"),
        ServerSpec("granian", "asgi", ("granian",), "1 worker, 1 runtime thread, uvloop; access log off"),
        ServerSpec(
            "gunicorn-sync",
            "wsgi",
            ("gunicorn",),
            f"{GUNICORN_WORKERS} sync workers (2 x 1 CPU + 1), one request each, no keep-alive",
        ),
        ServerSpec(
            "gunicorn-gthread",
            "wsgi",
            ("gunicorn",),
            f"{GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads, keep-alive 2 s",
        ),
    )
}
"""Every server the harness knows; ``uvicorn`` is the reference one."""


def _has(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def missing_packages(packages: tuple[str, ...]) -> list[str]:
    """Return the packages of ``packages`` that cannot be imported here."""
    return [p for p in packages if not _has(p)]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerError(Exception):
    """Raised when a server process exits early or does not answer in time."""


class ServerProcess:
    """One server process serving one framework's app, started and stopped by process id.

    Args:
        framework: The framework served.
        server: The server running it.
        log: An open binary file receiving the server's output.
        cpu: CPU to pin the server to (``taskset -c``), or None not to pin it.
        env: Environment of the process (``PYTHONPATH`` must reach ``benchmarks``).
    """

    def __init__(
        self,
        framework: FrameworkSpec,
        server: ServerSpec,
        log: IO[bytes],
        cpu: int | None,
        env: dict[str, str],
    ) -> None:
        self.framework = framework
        self.server = server
        self.port = free_port()
        self.requests_served = 0
        self._log = log
        command = server.command(framework.module, self.port)
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        # taskset execs the server, so the process id below is the server's own.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def name(self) -> str:
        """``framework@server``, as reports show it."""
        return f"{self.framework.name}@{self.server.name}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process.poll() is None

    def output(self, limit: int = 2000) -> str:
        """Return the end of the server's output (at most ``limit`` characters)."""
        if self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:]

    def wait_ready(self, probe: Callable[[int], object], timeout: float) -> None:
        """Call ``probe(port)`` until it returns without raising ``OSError``.

        Args:
            probe: Sends one request; raises ``OSError`` while nothing listens.
            timeout: Seconds to wait at most.

        Raises:
            ServerError: If the process exits or does not answer within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(f"{self.name} exited with {self.process.returncode}: {self.output()}")
            try:
                probe(self.port)
                return
            except OSError:
                time.sleep(0.1)
        raise ServerError(f"{self.name} did not answer within {timeout:.0f} s: {self.output()}")

    def rss_kib(self) -> int:
        """Return the resident memory of the server and all its descendants, in KiB (VmRSS)."""
        return sum(_vm_rss_kib(pid) for pid in _process_tree(self.pid))

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) used so far by the server and its living descendants."""
        return sum(_cpu_ticks(pid) for pid in _process_tree(self.pid)) / _TICKS

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL to its process group after ``timeout`` seconds."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # The group is the one this server created (start_new_session): its own workers only.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=timeout)
        self._log.close()


def _process_tree(pid: int) -> list[int]:
    """Return ``pid`` and its living descendants, read from /proc."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            pending.extend(int(child) for child in children)
    return found


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of proc(5)


def _vm_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
