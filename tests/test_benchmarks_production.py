"""The production-stack benchmark (python -m benchmarks.production): apps, checks, report; never timing.

The in-process machinery runs for a handful of requests; one slow test serves two apps on uvicorn
for a fraction of a second under wrk (skipped when wrk is missing). Nothing asserts on speed.
"""

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The FastAPI peer's add-ons come with the bench extra (.ci/run runs this module with it).
pytest.importorskip("slowapi", reason="the bench extra is not installed")
pytest.importorskip("prometheus_fastapi_instrumentator", reason="the bench extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import production  # noqa: E402
from benchmarks.production import (  # noqa: E402
    FEATURES,
    InProcessRun,
    Report,
    ServerRun,
    ServerSample,
    Variant,
    bare,
    full,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _close_log_files() -> Iterator[None]:
    yield
    production.close_access_log_files()


# -- the scenario -------------------------------------------------------------------------------


def test_features_are_parsed_from_names_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert production.parse_features("all") == frozenset(FEATURES)
    assert production.parse_features("none") == production.parse_features("") == frozenset()
    assert production.parse_features(" cors, gzip ") == {"cors", "gzip"}
    with pytest.raises(ValueError, match="brotli"):
        production.parse_features("cors,brotli")
    monkeypatch.delenv(production.FEATURES_ENV, raising=False)
    assert production.chosen_features(None) == frozenset(FEATURES)
    monkeypatch.setenv(production.FEATURES_ENV, "metrics")
    assert production.chosen_features(None) == {"metrics"}
    assert production.chosen_features([]) == frozenset()


def test_variants_cover_bare_each_piece_and_full() -> None:
    variants = production.in_process_variants()
    names = [v.name for v in variants]
    assert names[0] == "lanner" and names[-2:] == ["fastapi-full", "fastapi-full-asgi"]
    assert "lanner+access_log" in names and "fastapi+rate_limit" in names and "lanner-full" in names
    assert len(variants) == 2 * (len(FEATURES) + 2) + 1
    assert len(production.in_process_variants(fastapi_pieces=False)) == len(FEATURES) + 5
    assert full("lanner").label == "lanner full stack"
    assert bare("fastapi").label == "fastapi bare"
    assert Variant("lanner", frozenset({"cors"})).label == "lanner + CORS"
    assert Variant("lanner", frozenset({"cors"})).piece == "cors"
    assert production.FASTAPI_ASGI.label == "fastapi full stack, pure ASGI middleware"
    assert [v.name for v in production.SERVER_VARIANTS] == [
        "lanner",
        "lanner-full",
        "fastapi",
        "fastapi-full",
        "fastapi-full-asgi",
    ]


# -- the apps -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_lanner_and_fastapi_answer_identically(tmp_path: Path) -> None:
    variants = [bare("lanner"), full("lanner"), bare("fastapi"), full("fastapi"), production.FASTAPI_ASGI]
    loaded = await production.load_variants(variants, tmp_path)
    try:
        answers = [await production.verify(item) for item in loaded]
    finally:
        await production.shutdown(loaded)
    lanner_bare, lanner_full, fastapi_bare, fastapi_full, fastapi_asgi = answers
    assert production.visible(lanner_full) == production.visible(fastapi_full)
    assert production.visible(lanner_full) == production.visible(fastapi_asgi)
    assert production.visible(lanner_bare) == production.visible(fastapi_bare)
    assert lanner_full.body == {"message": "hello"} and not lanner_full.compressed
    assert lanner_full.headers["access-control-allow-origin"] == production.ORIGIN
    assert lanner_full.headers["x-request-id"] and fastapi_full.headers["x-request-id"]
    assert lanner_full.headers["x-frame-options"] == fastapi_full.headers["x-frame-options"] == "DENY"
    assert "access-control-allow-origin" not in lanner_bare.headers
    for framework in ("lanner", "fastapi"):
        lines = (tmp_path / f"{framework}-access.log").read_text().splitlines()
        # verify() sent /json, then /metrics, to each full app: JSON lines, /json's first.
        assert len(lines) == (2 if framework == "lanner" else 4), framework
        assert "/json" in json.dumps(json.loads(lines[0]))
        assert "/json" in json.dumps(json.loads(lines[-2]))


@pytest.mark.anyio
async def test_a_wrong_answer_is_caught(tmp_path: Path) -> None:
    # The bare app served as if it had CORS: the missing header is reported before timing.
    (item,) = await production.load_variants([bare("lanner")], tmp_path)
    item.variant = Variant("lanner", frozenset({"cors"}))
    try:
        with pytest.raises(production.BenchmarkError, match="Access-Control-Allow-Origin"):
            await production.verify(item)
        with pytest.raises(production.BenchmarkError, match="Access-Control-Allow-Origin"):
            await item.time_requests(3)
    finally:
        await production.shutdown([item])


@pytest.mark.anyio
@pytest.mark.parametrize("framework", ["lanner", "fastapi"])
async def test_the_rate_limit_is_wired(framework: str, tmp_path: Path) -> None:
    variant = Variant(framework, frozenset({"rate_limit"}))
    (item,) = await production.load_variants([variant], tmp_path, rate="2/minute")
    try:
        statuses = [(await item.get()).status for _ in range(3)]
    finally:
        await production.shutdown([item])
    assert statuses == [200, 200, 429]


# -- measuring and reporting --------------------------------------------------------------------


@pytest.mark.anyio
async def test_in_process_run_reports_every_app_and_piece(tmp_path: Path) -> None:
    variants = production.in_process_variants()
    run = await production.measure_in_process(
        variants, requests=3, fastapi_requests=2, rounds=2, warmup=1, log_dir=tmp_path
    )
    assert set(run.samples) == {v.name for v in variants}
    assert all(len(values) == 2 and min(values) > 0 for values in run.samples.values())
    assert len(run.harness) == 2
    assert (run.count(bare("lanner")), run.count(full("fastapi"))) == (3, 2)
    machine = {"cpu": "test CPU", "cpus": "2", "os": "Linux", "python": "3.11", "load_before": "0.1"}
    report = Report("python -m benchmarks.production", "2026-12-05 10:00", machine, {}, run)
    text = production.format_markdown(report)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for variant in variants:
        assert sum(row.startswith(f"| {variant.label} |") for row in rows) == 1, variant.label
    assert sum("in process (CPU time)" in row for row in rows) == 3  # two targets, one for information
    assert "lanner: the pieces alone add" in text and "fastapi: the pieces alone add" in text
    assert "## Real server" not in text


_CPU_US = {"lanner": 50.0, "lanner-full": 100.0, "fastapi": 200.0, "fastapi-full": 500.0}


def _server_run(rates: dict[str, list[float]]) -> ServerRun:
    run = ServerRun(list(production.SERVER_VARIANTS), 2, 1.0, 0.1, 64, "not pinned")
    for name, values in rates.items():
        for index, rps in enumerate(values):
            run.samples.append(ServerSample(name, index, rps, 1.0, 2.0, 0.99, _CPU_US[name], 0.0))
    return run


def test_targets_are_paired_by_round_and_judged() -> None:
    # Round 1 is slow for everyone: pairing keeps the ratios what each round says.
    servers = _server_run(
        {
            "lanner": [10_000, 5_000],
            "lanner-full": [8_000, 4_000],
            "fastapi": [3_000, 1_500],
            "fastapi-full": [2_000, 1_000],
        }
    )
    in_process = InProcessRun([bare("lanner"), full("lanner"), full("fastapi")], 10, 2)
    in_process.samples = {"lanner": [5.0, 6.0], "lanner-full": [10.0, 12.0], "fastapi-full": [100.0, 90.0]}
    in_process.wall = in_process.samples
    report = Report("cmd", "now", {}, {}, in_process, servers)
    targets = {(key, setting): ratio for key, setting, ratio, _ in report.targets()}
    assert targets[("bare", "in process (CPU time)")] == pytest.approx(0.5)
    assert targets[("fastapi", "in process (CPU time)")] == pytest.approx(8.75)
    assert targets[("bare", "real server (req/s)")] == pytest.approx(0.8)
    assert targets[("fastapi", "real server (req/s)")] == pytest.approx(4.0)
    # Per request of server CPU: what a server with a CPU of its own would do.
    assert targets[("bare", "real server (CPU per request)")] == pytest.approx(0.5)
    assert targets[("fastapi", "real server (CPU per request)")] == pytest.approx(5.0)
    assert targets[("fastapi-asgi", "real server (req/s)")] is None  # not measured
    assert not report.met()  # 0.5 x bare in process
    text = production.format_markdown(report)
    assert "| lanner full stack >= 0.75 x bare lanner | in process (CPU time) | 0.50 x | MISSED |" in text
    assert "| lanner full stack >= 3 x FastAPI full stack | real server (req/s) | 4.00 x | ok |" in text
    assert (
        "| lanner full stack >= 0.75 x bare lanner | real server (CPU per request) | 0.50 x | MISSED |"
        in text
    )
    assert "| lanner full stack | 6,000 | 4,000 - 8,000 |" in text
    # A third of the bare app's time is what 0.75 x leaves for the stack.
    assert (
        "in process, the bare app takes 5.5 CPU µs a request, which leaves 1.8 for the whole stack; "
        "it takes 5.5" in text
    )
    assert "server CPU µs a request, which leaves 16.7 for the whole stack; it takes 50.0" in text


def test_arguments() -> None:
    args = production.parse_args([])
    assert (args.requests, args.rounds, args.server_rounds, args.connections) == (5_000, 7, 5, 64)
    assert args.name == "production" and not args.no_server
    for bad in (["--rounds", "0"], ["--server-warmup", "-1"], ["--no-server", "--no-in-process"]):
        with pytest.raises(SystemExit):
            production.parse_args(bad)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_servers_are_measured_under_wrk() -> None:
    variants = [bare("lanner"), full("lanner")]
    run = production.measure_servers(variants, rounds=1, duration=0.3, warmup=0, connections=8)
    assert run.problems == []
    assert [s.variant for s in run.samples] == ["lanner", "lanner-full"]
    assert all(s.rps > 0 and s.cpu_us > 0 for s in run.samples)
