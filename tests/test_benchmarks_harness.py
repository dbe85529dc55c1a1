"""The server benchmark harness (python -m benchmarks): its apps, checks, plan, report and real runs.

The real runs start uvicorn and wrk for about a second; they are marked slow and skipped only when
wrk is not installed. Nothing here asserts on timing beyond "some requests were served".
"""

import dataclasses
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import harness, report  # noqa: E402
from benchmarks.core import LifespanRunner, LoadedApp, Scenario  # noqa: E402
from benchmarks.load import WRK_MISSING, Sample, find_wrk  # noqa: E402
from benchmarks.profile import top_frames  # noqa: E402
from benchmarks.scenarios import SCENARIOS, HttpScenario, wrk_script  # noqa: E402
from benchmarks.servers import FRAMEWORK_SPECS, FrameworkSpec, missing_packages  # noqa: E402

needs_wrk = pytest.mark.skipif(find_wrk() is None, reason=WRK_MISSING)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _options(tmp_path: Path, **changes: Any) -> harness.Options:
    values: dict[str, Any] = {
        "frameworks": ("lanner", "raw"),
        "servers": ("uvicorn",),
        "scenarios": ("json",),
        "levels": (10,),
        "duration": 1.0,
        "warmup": 0.0,
        "rounds": 1,
        "coldstart_runs": 0,
        "quick": True,
        "output": tmp_path,
        "stem": "test",
        "progress": False,
    }
    values.update(changes)
    return harness.Options(**values)


# -- the apps answer every scenario the same way -----------------------------------------------


async def _asgi_answers(app: Any) -> dict[str, tuple[int, str, bytes]]:
    answers = {}
    runner = LifespanRunner(app)
    await runner.startup()
    try:
        for scenario in SCENARIOS.values():
            path, _, query = scenario.target.partition("?")
            request = Scenario(
                scenario.name, scenario.label, scenario.method, path, None, query.encode(), scenario.body
            )
            response = await LoadedApp("app", app, runner).request(request)
            content_type = next((v.decode() for k, v in response.headers if k.lower() == b"content-type"), "")
            answers[scenario.name] = (response.status, content_type, response.body)
    finally:
        await runner.shutdown()
    return answers


def _wsgi_answer(app: Any, scenario: HttpScenario) -> tuple[int, str, bytes]:
    headers = {"Content-Type": "application/json"} if scenario.body else {}
    response = app.test_client().open(
        scenario.target, method=scenario.method, data=scenario.body, headers=headers
    )
    return response.status_code, response.headers.get("Content-Type", ""), response.get_data()


@pytest.mark.anyio
@pytest.mark.parametrize("framework", list(FRAMEWORK_SPECS))
async def test_every_app_answers_every_scenario(framework: str) -> None:
    spec = FRAMEWORK_SPECS[framework]
    if missing_packages(spec.packages):
        pytest.skip(f"{framework} is not installed")
    app = importlib.import_module(spec.module).create_app()
    if spec.interface == "asgi":
        answers = await _asgi_answers(app)
    else:
        answers = {name: _wsgi_answer(app, scenario) for name, scenario in SCENARIOS.items()}
    for scenario in SCENARIOS.values():
        status, content_type, body = answers[scenario.name]
        assert scenario.check(status, content_type, body) is None, (framework, scenario.name, status, body)


# -- checks, scripts, plans ---------------------------------------------------------------------


def test_check_accepts_the_expected_answer_only() -> None:
    json_get, plaintext = SCENARIOS["json"], SCENARIOS["plaintext"]
    assert json_get.check(200, "application/json", b'{"message": "hello"}') is None
    assert plaintext.check(200, "text/plain; charset=utf-8", b"Hello, World!") is None
    assert "answered 500" in str(json_get.check(500, "application/json", b'{"message": "hello"}'))
    assert "text/html" in str(json_get.check(200, "text/html", b'{"message": "hello"}'))
    assert "'bye'" in str(json_get.check(200, "application/json", b'{"message": "bye"}'))
    assert plaintext.check(200, "text/plain", b"Hello") is not None
    assert "(no content-type)" in str(json_get.check(200, "", b"not json"))


def test_scenarios_cover_the_issue() -> None:
    assert list(SCENARIOS) == ["plaintext", "json", "params", "post", "routes", "io", "cpu"]
    assert SCENARIOS["json"].full_levels == (10, 64, 200)
    assert SCENARIOS["io"].full_levels == (200, 1000) and SCENARIOS["io"].quick_levels == (200,)
    assert 500 <= len(SCENARIOS["post"].body) <= 700
    assert SCENARIOS["params"].target == "/items/42?limit=5&q=abc"


def test_wrk_script_sends_the_request_and_prints_percentiles() -> None:
    script = wrk_script(SCENARIOS["post"])
    assert 'wrk.method = "POST"' in script and 'wrk.path = "/orders"' in script
    assert SCENARIOS["post"].body.decode() in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert "latency:percentile(95)" in script and "WRK_RESULT" in script
    assert "wrk.body" not in wrk_script(SCENARIOS["json"])


def test_plan_skips_what_cannot_run(tmp_path: Path) -> None:
    frameworks = {
        **FRAMEWORK_SPECS,
        "ghost": FrameworkSpec("ghost", "ghost_app", "asgi", ("no_such_pkg_q7",)),
        # A WSGI app that needs nothing beyond the test extra, so the note does not depend on
        # whether the bench extra (Flask) is installed.
        "oldwsgi": FrameworkSpec("oldwsgi", "oldwsgi_app", "wsgi", ("json",)),
    }
    options = _options(
        tmp_path, frameworks=("lanner", "ghost", "oldwsgi"), scenarios=("json", "io"), levels=None
    )
    targets, loads, notes = harness.plan(options, frameworks)
    assert targets == [("raw", "uvicorn"), ("lanner", "uvicorn")]
    assert loads == [("json", 64), ("io", 200)]
    assert any("ghost skipped: no_such_pkg_q7 not installed" in n for n in notes)
    assert any("oldwsgi skipped: no selected server runs WSGI" in n for n in notes)
    assert any("raw" in n and "always measured" in n for n in notes)
    full = harness.plan(_options(tmp_path, quick=False, levels=None, scenarios=("json",)), frameworks)
    assert full[1] == [("json", 10), ("json", 64), ("json", 200)]


# -- the report ---------------------------------------------------------------------------------


def _sample(rps: float, p99: float = 5.0, bad: int = 0) -> Sample:
    return Sample(
        requests=int(rps * 2), seconds=2.0, p50_ms=1.0, p95_ms=3.0, p99_ms=p99, errors=0, bad_status=bad
    )


def _fake_results() -> report.Results:
    machine = {"cpu": "Test CPU", "cpus": "2", "os": "Linux", "python": "3.11"}
    settings = {"duration": 2, "warmup": 0.5, "rounds": 2, "coldstart_runs": 1, "pinning": "pinned."}
    targets = [
        ("raw", "uvicorn"),
        ("lanner", "uvicorn"),
        ("fastapi", "uvicorn"),
        ("flask", "gunicorn-gthread"),
    ]
    loads = [("json", 64), ("post", 64), ("routes", 64)]
    results = report.Results(
        "quick",
        "python -m benchmarks",
        "2025-01-01 10:00",
        settings,
        machine,
        {"lanner": "0.1.0"},
        targets,
        loads,
    )
    rates = {"raw": 10_000.0, "lanner": 9_000.0, "fastapi": 3_000.0, "flask": 1_000.0}
    for framework, server in targets:
        for name, connections in loads:
            rps = rates[framework] * (0.5 if name == "post" else 1.0)
            if (framework, name) == ("lanner", "routes"):
                rps = 8_000.0
            cell = report.Cell(
                framework, server, name, connections, [_sample(rps), _sample(rps * 1.1, p99=4.0)]
            )
            results.cells[report.cell_key(framework, server, name, connections)] = cell
    results.coldstart = {"lanner": {"import_ms": 100.0, "build_ms": 10.0, "first_ms": 5.0, "total_ms": 115.0}}
    results.memory = {"lanner@uvicorn": {"idle_kib": 40_960, "loaded_kib": 51_200, "requests": 123_456}}
    results.problems.append("fastapi@uvicorn cpu rejected before timing: nope")
    return results


def test_ratios_divide_by_the_floor_of_the_same_run() -> None:
    results = _fake_results()
    assert results.ratio("lanner", "uvicorn", "json", 64) == pytest.approx(0.9)
    assert results.ratio("flask", "gunicorn-gthread", "json", 64) == pytest.approx(0.1)  # raw@uvicorn
    assert results.ratio("lanner", "granian", "json", 64) is None
    cell = results.cell("lanner", "uvicorn", "json", 64)
    assert cell is not None and cell.rps() == (pytest.approx(9_450.0), 9_000.0, pytest.approx(9_900.0))
    assert cell.latency("p99_ms") == pytest.approx(4.5)


def test_ratios_pair_samples_by_round() -> None:
    def cell(framework: str, *rates: float) -> report.Cell:
        samples = [dataclasses.replace(_sample(rps), round=i) for i, rps in enumerate(rates)]
        return report.Cell(framework, "uvicorn", "json", 64, samples)

    # The machine ran at full speed, then half, then full: each round lanner served 0.9 of raw.
    raw = cell("raw", 20_000.0, 10_000.0, 20_000.0)
    lanner = cell("lanner", 18_000.0, 9_000.0, 18_000.0)
    assert report.paired_ratio(lanner, raw) == pytest.approx(0.9)
    # Here lanner's slow round met raw's fast one: the medians say 0.45 (9,000 / 20,000), the
    # rounds say 0.45, 0.9 and 0.9.
    slow_lanner = cell("lanner", 9_000.0, 9_000.0, 18_000.0)
    assert slow_lanner.rps()[0] / raw.rps()[0] == pytest.approx(0.45)
    assert report.paired_ratio(slow_lanner, raw) == pytest.approx(0.9)
    unpaired = report.Cell("lanner", "uvicorn", "json", 64, [_sample(9_000.0)])
    assert report.paired_ratio(unpaired, raw) == pytest.approx(0.45)  # medians: 9,000 / 20,000
    assert report.paired_ratio(lanner, report.Cell("raw", "uvicorn", "json", 64, [_sample(0.0)])) is None


def test_markdown_shows_tables_targets_and_problems() -> None:
    text = report.format_markdown(_fake_results(), "test.png")
    assert "Machine: Test CPU (2 CPUs)" in text and "lanner 0.1.0" in text
    assert "![ratio to the raw ASGI floor](test.png)" in text
    assert "| lanner@uvicorn | 0.90 | 0.90 | 0.80 |" in text
    assert "| flask@gunicorn-gthread | 0.10 | 0.10 | 0.10 |" in text
    assert "- json c64 on uvicorn: 0.90 of raw (target >= 0.85) ok" in text
    assert "- post c64 on uvicorn: 0.90 of raw (target >= 0.9) ok" in text
    assert "1,000 routes c64 on uvicorn: 0.89 of lanner's JSON GET (target >= 0.95) MISSED" in text
    assert "the floor's same ratio is 1.00, so lanner keeps 0.89 of it" in text
    assert "json c64 on uvicorn: 9,450 req/s vs best peer fastapi@uvicorn 3,150, 3.00x ok" in text
    assert (
        "| JSON GET | 64 | lanner@uvicorn | 9,450 | 9,000 | 9,900 | 0.90 | 1.00 | 3.00 | 4.50 | 0 | 0% |"
        in text
    )
    assert "| lanner | 100.0 | 10.0 | 5.0 | 115.0 |" in text
    assert "| lanner@uvicorn | 40.0 | 50.0 | 123,456 |" in text
    assert "- PROBLEM: fastapi@uvicorn cpu rejected before timing: nope" in text


def test_faulty_peers_are_not_the_best_p99() -> None:
    results = _fake_results()
    fastapi = results.cell("fastapi", "uvicorn", "json", 64)
    assert fastapi is not None
    fastapi.samples = [_sample(3_000.0, p99=0.5), Sample(10, 2.0, 0.1, 0.2, 0.3, errors=7, bad_status=0)]
    text = report.format_markdown(results)
    assert "p99 4.5 ms vs flask@gunicorn-gthread 4.5 ms ok" in text
    fastapi.samples = [Sample(0, 2.0, 0.0, 0.0, 0.0, errors=0, bad_status=0)]
    text = report.format_markdown(results)
    assert "vs fastapi@uvicorn 0.0 ms" not in text
    # A peer that served nothing is not the best peer either.
    assert "json c64 on uvicorn: 9,450 req/s vs best peer flask@gunicorn-gthread 1,050, 9.00x ok" in text


def test_outputs_are_written(tmp_path: Path) -> None:
    written = report.write_outputs(_fake_results(), tmp_path / "out", "run")
    names = {p.name for p in written}
    assert {"run.md", "run.json"} <= names
    data = json.loads((tmp_path / "out" / "run.json").read_text())
    assert data["cells"]["lanner@uvicorn|json|c64"]["ratio_to_floor"] == pytest.approx(0.9)
    if missing_packages(("matplotlib",)):
        assert "no chart: matplotlib is not installed" in (tmp_path / "out" / "run.md").read_text()
    else:
        assert (tmp_path / "out" / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_top_frames_counts_self_and_inclusive_samples() -> None:
    stacks = (
        "main (a.py:1);handle (lanner/endpoint.py:9);send (u.py:3) 6\n"
        "main (a.py:1);route (lanner/routing.py:4) 4\nbad\n"
    )
    own, inclusive, total = top_frames(stacks, 10)
    assert total == 10
    assert own == [("send (u.py:3)", 6), ("route (lanner/routing.py:4)", 4)]
    assert inclusive[0] == ("main (a.py:1)", 10)
    own, inclusive, _ = top_frames(stacks, 10, only="lanner/")
    assert own == [("route (lanner/routing.py:4)", 4)]
    assert inclusive == [("handle (lanner/endpoint.py:9)", 6), ("route (lanner/routing.py:4)", 4)]


# -- command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["--frameworks", "django"], ["--scenarios", "json,ws"], ["--concurrency", "0"], ["--duration", "0"]],
)
def test_bad_arguments_exit_with_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        cli.parse_args(argv)
    assert exc_info.value.code == 2


def test_quick_and_full_defaults(tmp_path: Path) -> None:
    quick = cli.options_from(cli.parse_args(["--quick"]), ["--quick"])
    assert quick.servers == ("uvicorn", "gunicorn-gthread") and quick.rounds == 2 and quick.duration == 1
    assert quick.stem == "quick" and quick.frameworks == tuple(FRAMEWORK_SPECS)
    full = cli.options_from(cli.parse_args([]), [])
    assert full.servers == ("uvicorn", "granian", "gunicorn-sync", "gunicorn-gthread") and full.rounds == 5
    assert full.stem == "full" and full.coldstart_runs == 3 and full.duration == 1.25
    narrowed = cli.options_from(cli.parse_args(["--frameworks", "lanner"]), ["--frameworks", "lanner"])
    assert narrowed.stem == "custom" and narrowed.command == "python -m benchmarks --frameworks lanner"


def test_missing_wrk_is_reported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(harness, "find_wrk", lambda: None)
    assert cli.main(["--scenarios", "json", "--no-progress"]) == 3
    assert "apt-get install -y wrk" in capsys.readouterr().err


def test_list_shows_what_is_installed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "lanner      asgi  installed" in out and "gunicorn-gthread" in out and "cpu" in out


def test_coldstart_runs_in_a_fresh_interpreter(tmp_path: Path) -> None:
    results = _fake_results()
    results.coldstart.clear()
    harness.measure_coldstart(["raw"], FRAMEWORK_SPECS, 1, None, results)
    assert set(results.coldstart["raw"]) == {"import_ms", "build_ms", "first_ms", "total_ms"}
    assert results.coldstart["raw"]["total_ms"] > 0


# -- real servers under wrk ---------------------------------------------------------------------


@pytest.mark.slow
@needs_wrk
def test_one_second_run_against_lanner_and_the_floor(tmp_path: Path) -> None:
    argv = [
        "--frameworks",
        "lanner,raw",
        "--servers",
        "uvicorn",
        "--scenarios",
        "json",
        "--concurrency",
        "10",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--rounds",
        "1",
        "--coldstart-runs",
        "0",
        "--output",
        str(tmp_path),
        "--name",
        "one",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    data = json.loads((tmp_path / "one.json").read_text())
    for framework in ("lanner", "raw"):
        cell = data["cells"][f"{framework}@uvicorn|json|c10"]
        assert cell["rps_median"] > 0 and len(cell["samples"]) == 1
        assert cell["samples"][0]["bad_status"] == 0
        assert 0 < cell["samples"][0]["server_cpu"] <= 1.5
        assert data["memory"][f"{framework}@uvicorn"]["idle_kib"] > 0
    assert data["cells"]["lanner@uvicorn|json|c10"]["ratio_to_floor"] > 0
    assert data["problems"] == []
    markdown = (tmp_path / "one.md").read_text()
    assert "| framework@server | json c10 |" in markdown
    assert "| lanner@uvicorn | " in markdown and "- json c10 on uvicorn: " in markdown


_WRONG_APP = """
async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"message": "bye"}'})


def create_app():
    return _app
"""


@pytest.mark.slow
@needs_wrk
def test_wrong_answers_are_rejected_before_timing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wrong_bench_app.py").write_text(_WRONG_APP)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    frameworks = {**FRAMEWORK_SPECS, "wrong": FrameworkSpec("wrong", "wrong_bench_app", "asgi", ())}
    results = harness.run(_options(tmp_path, frameworks=("wrong",), duration=0.3), frameworks)
    assert results.targets == [("raw", "uvicorn"), ("wrong", "uvicorn")]
    assert any(
        p.startswith("wrong@uvicorn json rejected before timing: GET /json answered 200") and "'bye'" in p
        for p in results.problems
    )
    assert results.cell("wrong", "uvicorn", "json", 10) is None
    assert "wrong@uvicorn|json|c10" not in results.cells
    raw = results.cell("raw", "uvicorn", "json", 10)
    assert raw is not None and raw.rps()[0] > 0
