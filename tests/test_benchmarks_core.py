"""Correctness of the in-process benchmark (benchmarks/core.py) and its three apps; never timing."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is a top-level package beside src/, not installed: make it importable from tests.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import core  # noqa: E402
from benchmarks.apps import (  # noqa: E402
    FRAMEWORKS,
    ORDER_PAYLOAD,
    ROUTE_TARGET,
    Message,
    Receive,
    Scope,
    Send,
    load_app_factory,
)

ALL_FRAMEWORKS = list(FRAMEWORKS)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _scenario(name: str, **changes: Any) -> core.Scenario:
    """A variant of a benchmark scenario: same request except ``changes``."""
    base = core.SCENARIOS[name]
    fields = {f: getattr(base, f) for f in core.Scenario.__dataclass_fields__}
    fields.update(changes)
    return core.Scenario(**fields)


async def _small_app(framework: str) -> core.LoadedApp:
    """The basic routes plus one numbered route: quick to build, same handlers."""
    app = load_app_factory(framework)([ROUTE_TARGET])
    runner = core.LifespanRunner(app)
    await runner.startup()
    return core.LoadedApp(framework, app, runner)


@pytest.mark.anyio
@pytest.mark.parametrize("framework", ALL_FRAMEWORKS)
async def test_every_scenario_answers_correctly(framework: str) -> None:
    measured = core.expand_scenarios(core.SCENARIO_NAMES)
    apps = await core.load_apps([framework], measured)
    try:
        for name in measured:
            scenario = core.SCENARIOS[name]
            response = await core.app_for(apps, framework, scenario).request(scenario)
            assert response.status == 200, (name, response.body)
            assert json.loads(response.body) == scenario.expected_body, name
            assert (b"content-type", b"application/json") in [
                (k.lower(), v.split(b";")[0]) for k, v in response.headers
            ]
    finally:
        for loaded in apps.values():
            await loaded.lifespan.shutdown()


def test_expected_bodies_are_the_spec() -> None:
    assert core.SCENARIOS["json"].expected_body == {"message": "hello"}
    assert core.SCENARIOS["params"].expected_body == {"item_id": 42, "limit": 5, "q": "abc"}
    assert core.SCENARIOS["post"].expected_body == {"order_id": 73021, "total": 79.75, "items": 5}
    assert core.SCENARIOS["routes"].expected_body == {"route": 987, "item_id": 5}
    assert core.SCENARIOS["routes-1"].one_route_app
    assert 500 <= len(ORDER_PAYLOAD) <= 700


_BAD_ORDER = json.dumps({**json.loads(ORDER_PAYLOAD), "items": [{"sku": "x", "qty": 0, "price": 1}]})

ERROR_CASES: dict[str, tuple[core.Scenario, set[int]]] = {
    "limit-below-range": (_scenario("params", query=b"limit=0"), {422}),
    "limit-above-range": (_scenario("params", query=b"limit=101&q=abc"), {422}),
    "limit-not-int": (_scenario("params", query=b"limit=five"), {422}),
    # A typed path convertor may reject before validation: no route matches, so 404 is fine too.
    "item-id-not-int": (_scenario("params", path="/items/forty-two"), {404, 422}),
    "order-invalid": (_scenario("post", body=_BAD_ORDER.encode()), {422}),
    "order-not-json": (_scenario("post", body=b"{not json"), {400, 422}),
    "unknown-path": (_scenario("json", path="/nowhere"), {404}),
    "unknown-numbered-route": (_scenario("routes", path="/r1000/items/5"), {404}),
    "numbered-route-bad-id": (_scenario("routes", path="/r987/items/x"), {404, 422}),
    "wrong-method": (_scenario("json", method="DELETE"), {405}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("framework", ALL_FRAMEWORKS)
async def test_bad_requests_are_rejected(framework: str) -> None:
    loaded = await _small_app(framework)
    try:
        for case, (scenario, statuses) in ERROR_CASES.items():
            response = await loaded.request(scenario)
            assert response.status in statuses, (case, response.status, response.body)
    finally:
        await loaded.lifespan.shutdown()


@pytest.mark.anyio
@pytest.mark.parametrize("framework", ALL_FRAMEWORKS)
async def test_defaults_apply_when_query_is_absent(framework: str) -> None:
    loaded = await _small_app(framework)
    try:
        response = await loaded.request(_scenario("params", query=b""))
        assert response.status == 200
        assert json.loads(response.body) == {"item_id": 42, "limit": 10, "q": None}
        response = await loaded.request(core.SCENARIOS["routes"])
        assert json.loads(response.body) == core.SCENARIOS["routes"].expected_body
    finally:
        await loaded.lifespan.shutdown()


@pytest.mark.anyio
async def test_run_benchmark_collects_every_cell() -> None:
    report = await core.run_benchmark(ALL_FRAMEWORKS, core.SCENARIO_NAMES, requests=3, rounds=2, warmup=1)
    assert report.scenarios == ["json", "params", "post", "routes", "routes-1"]
    for name in report.scenarios:
        for framework in ALL_FRAMEWORKS:
            samples = report.samples[name][framework]
            assert len(samples) == 2 and all(s > 0 for s in samples)
    assert len(report.harness) == 2

    table = core.format_markdown(report)
    assert "| scenario | lanner µs | fastapi µs | raw µs | lanner/raw | fastapi/raw |" in table
    assert table.count("\n| ") == 6  # header + five scenario rows
    assert "1,000 routes / 1 route: lanner " in table
    assert "- post: " in table and "(target <= 1.3x)" in table

    data = core.report_to_json(report)
    json.dumps(data)  # must be serialisable as is
    assert set(data["results"]) == set(report.scenarios)
    assert data["ratios_to_raw"]["json"]["lanner"] == report.ratio("json", "lanner")
    assert data["routes_1000_over_1"]["raw"] == report.routes_ratio("raw")


@pytest.mark.anyio
async def test_wrong_answer_aborts_with_clear_message() -> None:
    async def wrong(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan here")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"message":"bye"}'})

    runner = core.LifespanRunner(wrong)
    await runner.startup()
    assert runner.supported is False
    apps = {"broken": core.LoadedApp("broken", wrong, runner)}
    with pytest.raises(core.BenchmarkError, match=r"broken answered GET /json \(json\)"):
        await core.verify(apps, ["broken"], ["json"])
    await runner.shutdown()


@pytest.mark.anyio
async def test_failed_lifespan_startup_aborts() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    runner = core.LifespanRunner(failing)
    with pytest.raises(core.BenchmarkError, match="no database"):
        await runner.startup()
    await runner.shutdown()


@pytest.mark.anyio
async def test_lifespan_state_reaches_requests() -> None:
    seen: list[Message] = []

    async def stateful(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["token"] = "abc"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(dict(scope["state"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"message":"hello"}'})

    runner = core.LifespanRunner(stateful)
    await runner.startup()
    assert runner.supported
    await core.LoadedApp("stateful", stateful, runner).time_requests(core.SCENARIOS["json"], 2)
    await runner.shutdown()
    assert seen == [{"token": "abc"}] * 2


@pytest.mark.anyio
async def test_missing_framework_aborts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FRAMEWORKS, "ghost", "benchmarks.apps.no_such_module")
    with pytest.raises(core.BenchmarkError, match="cannot import the ghost app"):
        await core.run_benchmark(["raw", "ghost"], ["json"], requests=1, rounds=1)


def test_main_prints_table_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    argv = ["--only", "raw", "--scenario", "json,routes", "--requests", "2", "--rounds", "1"]
    assert core.main([*argv, "--warmup", "0", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| json: JSON GET |" in printed and "| routes-1: 1 route (baseline) |" in printed
    assert "lanner targets" not in printed
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"json", "routes", "routes-1"}
    assert data["requests"] == 2 and data["rounds"] == 1


@pytest.mark.parametrize("argv", [["--only", "flask"], ["--scenario", "json,websocket"], ["--requests", "0"]])
def test_bad_arguments_exit_with_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        core.parse_args(argv)
    assert exc_info.value.code == 2


def test_runs_as_module() -> None:
    argv = ["--only", "raw", "--scenario", "json", "--requests", "2", "--rounds", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.core", *argv, "--warmup", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| json: JSON GET |" in result.stdout
