"""The WSGI bridge benchmark (python -m benchmarks.wsgi): apps, plan, report, command line; never timing.

The apps are checked in process, the report renders from made-up samples, and one slow test serves
two targets under wrk for a fraction of a second (skipped when wrk is missing). Nothing asserts on
speed.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("a2wsgi", reason="the WSGI bridges need a2wsgi (the test extra)")
pytest.importorskip("flask", reason="the benchmark's Flask app needs Flask (the test extra)")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import wsgi  # noqa: E402
from benchmarks.apps import wsgi_lanner  # noqa: E402
from benchmarks.wsgi import Comparison, Report, Sample, Target  # noqa: E402

from lanner.testing import TestClient  # noqa: E402

HELLO = {"message": "hello"}


# -- the apps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "prefix"),
    [(wsgi_lanner.create_mount_app, ""), (wsgi_lanner.create_prefix_mount_app, wsgi_lanner.PREFIX)],
)
def test_the_mount_apps_serve_flask_and_their_own_route(factory: object, prefix: str) -> None:
    assert callable(factory)
    with TestClient(factory()) as client:
        answer = client.get(f"{prefix}/json")
        assert (answer.status_code, answer.json()) == (200, HELLO)
        assert answer.headers["content-type"] == "application/json"
        text = client.get(f"{prefix}/plaintext")
        assert (text.status_code, text.text) == (200, "Hello, World!")
        assert text.headers["content-type"].startswith("text/plain")
        # The Flask app's 1,000 routes come along, and its own 404 page answers the rest.
        assert client.get(f"{prefix}/r987/items/5").json() == {"route": 987, "item_id": 5}
        missing = client.get(f"{prefix}/nowhere")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
        moved = client.get(wsgi_lanner.MOVED_PATH)
        assert (moved.status_code, moved.json()) == (200, wsgi_lanner.MOVED_BODY)


def test_the_prefix_mount_answers_only_under_its_prefix() -> None:
    with TestClient(wsgi_lanner.create_prefix_mount_app()) as client:
        assert client.get("/json").status_code == 404


@pytest.mark.parametrize("threaded", [False, True])
def test_the_lanner_app_answers_as_a_wsgi_callable(threaded: bool) -> None:
    app = wsgi_lanner.create_wsgi()
    try:
        status, headers, body = wsgi.call_wsgi(app, wsgi.wsgi_environ("/json", multithread=threaded))
        assert (status, headers["content-type"], json.loads(body)) == ("200 OK", "application/json", HELLO)
        status, headers, body = wsgi.call_wsgi(app, wsgi.wsgi_environ("/plaintext", multithread=threaded))
        assert (status, body) == ("200 OK", b"Hello, World!")
    finally:
        app.shutdown()


def test_the_floors_answer_like_the_apps() -> None:
    raw = wsgi_lanner.create_raw_wsgi()
    status, headers, body = wsgi.call_wsgi(raw, wsgi.wsgi_environ("/json"))
    assert (status, headers["content-type"], json.loads(body)) == ("200 OK", "application/json", HELLO)
    status, headers, body = wsgi.call_wsgi(raw, wsgi.wsgi_environ("/plaintext"))
    assert (status, headers["content-type"], body) == (
        "200 OK",
        "text/plain; charset=utf-8",
        b"Hello, World!",
    )
    assert wsgi.call_wsgi(raw, wsgi.wsgi_environ("/other"))[0] == "404 Not Found"
    for factory in (wsgi_lanner.create_raw_mount_app, wsgi_lanner.create_raw_a2wsgi_app):
        with TestClient(factory()) as client:
            assert client.get("/json").json() == HELLO
            assert client.get("/plaintext").text == "Hello, World!"


def test_every_scenario_is_checked_against_every_in_process_callable() -> None:
    times = wsgi.measure_in_process(requests=3, rounds=2)
    assert set(times) == set(wsgi.IN_PROCESS_LABELS)
    assert all(len(values) == 2 and min(values) > 0 for values in times.values())


# -- the plan -----------------------------------------------------------------------------------


def test_the_plan_compares_targets_it_serves() -> None:
    targets, comparisons = wsgi.plan(3)
    keys = [t.key for t in targets]
    assert len(keys) == len(set(keys))
    assert {c.top for c in comparisons} | {c.bottom for c in comparisons} <= set(keys)
    bounds = {c.key: c.bound for c in comparisons if c.bound is not None}
    assert bounds == {"mount": 0.8, "mount-1p": 0.8, "sync": 1.5}
    by_key = {t.key: t for t in targets}
    assert by_key["mount"].processes == by_key["flask-gthread"].processes == 3
    assert by_key["mount-1p"].processes == by_key["flask-gthread-1p"].processes == 1
    # With one process a server already, there is no second, one-process pair.
    one_targets, one_comparisons = wsgi.plan(1)
    assert "mount-1p" not in {t.key for t in one_targets}
    assert [c.key for c in one_comparisons if c.bound] == ["mount", "sync"]
    with pytest.raises(ValueError, match="at least 1"):
        wsgi.plan(0)


def test_command_lines_size_each_server_as_the_main_suite_does() -> None:
    targets = {t.key: t for t in wsgi.plan(3)[0]}
    gthread = targets["flask-gthread"].command(8000)
    assert gthread[1:3] == ["-m", "gunicorn"] and gthread[-1] == "benchmarks.apps.flask_app:create_app()"
    assert gthread[5:7] == ["--worker-class", "gthread"] and "--threads" in gthread
    assert gthread[gthread.index("--workers") + 1] == "3"
    sync = targets["lanner-wsgi-sync"].command(8000)
    assert "--threads" not in sync and sync[-1] == "benchmarks.apps.wsgi_lanner:create_wsgi()"
    uvicorn = targets["mount"].command(8000)
    assert uvicorn[1:4] == ["-m", "uvicorn", "benchmarks.apps.wsgi_lanner:create_mount_app"]
    assert "--factory" in uvicorn and uvicorn[uvicorn.index("--workers") + 1] == "3"
    assert "--workers" not in targets["mount-1p"].command(8000)
    assert targets["mount-prefix"].scenario("json").target == "/legacy/json"
    assert targets["mount"].scenario("plaintext").target == "/plaintext"
    assert targets["flask-gthread"].setting == "gunicorn gthread 3 x 16 threads"


# -- the report ---------------------------------------------------------------------------------


def _report(rates: dict[str, list[float]], cpu_us: dict[str, float]) -> Report:
    targets, comparisons = wsgi.plan(3)
    report = Report(
        "python -m benchmarks.wsgi", "2026-12-05 10:00", {"cpu": "test CPU"}, {}, {}, targets, comparisons
    )
    report.settings.update(processes=3, connections=64, rounds=2, duration=1.0, warmup=0.1, pinning="none")
    for key, values in rates.items():
        for index, rps in enumerate(values):
            for scenario in wsgi.SCENARIO_NAMES:
                report.samples.append(Sample(key, scenario, index, rps, 1.0, 2.0, 0.99, cpu_us[key], 0.05))
    return report


_CPU = {
    "flask-gthread": 170.0,
    "mount": 300.0,
    "flask-gthread-1p": 200.0,
    "mount-1p": 240.0,
    "flask-sync": 180.0,
    "lanner-wsgi-sync": 110.0,
    "raw-sync": 100.0,
    "raw-gthread": 100.0,
    "raw-mount": 250.0,
    "raw-a2wsgi": 130.0,
}


def test_ratios_are_paired_by_round_and_judged() -> None:
    # Round 1 is slow for everyone: pairing keeps what each round says.
    report = _report(
        {
            "flask-gthread": [6_000, 3_000],
            "mount": [3_000, 1_500],
            "flask-gthread-1p": [5_000, 2_500],
            "mount-1p": [4_500, 2_250],
            "flask-sync": [5_000, 2_500],
            "lanner-wsgi-sync": [8_000, 4_000],
        },
        _CPU,
    )
    assert report.ratio("mount", "flask-gthread", "json") == pytest.approx(0.5)
    assert report.ratio("mount", "flask-gthread", "json", "cpu_rate") == pytest.approx(170 / 300)
    assert report.ratio("mount", "raw-sync", "json") is None  # never measured
    verdicts = {c.key: (rate, cpu, met) for c, rate, cpu, met in report.verdicts()}
    assert verdicts["mount"] == (pytest.approx(0.5), pytest.approx(170 / 300), False)
    assert verdicts["mount-1p"] == (pytest.approx(0.9), pytest.approx(200 / 240), True)
    assert verdicts["sync"] == (pytest.approx(1.6), pytest.approx(180 / 110), True)
    assert not report.met()
    text = wsgi.format_markdown(report)
    assert (
        "| Flask mounted (uvicorn) / Flask on gunicorn gthread >= 0.8 x | 0.50 x | 0.57 x | MISSED |" in text
    )
    assert "| the same, 1 process a side >= 0.8 x | 0.90 x | 0.83 x | ok |" in text
    assert "| lanner app.wsgi / Flask, gunicorn sync >= 1.5 x | 1.60 x | 1.64 x | ok |" in text
    assert "| Flask | gunicorn gthread 3 x 16 threads | 4,500 | 3,000 - 6,000 |" in text
    assert "| raw WSGI floor | gunicorn sync x 3 | not measured |" in text
    assert "## In process" not in text and "## Problems" not in text
    assert "- A target's rate differs by 67% to 67% between rounds" in text


def test_a_target_is_met_only_when_both_ratios_reach_it() -> None:
    # 1.6 x in req/s, but 180/150 = 1.2 x in CPU per request: a neighbour slowed Flask's runs.
    report = _report({"flask-sync": [5_000], "lanner-wsgi-sync": [8_000]}, _CPU | {"lanner-wsgi-sync": 150.0})
    (sync,) = [v for v in report.verdicts() if v[0].key == "sync"]
    assert sync[1:] == (pytest.approx(1.6), pytest.approx(1.2), False)
    assert "| 1.60 x | 1.20 x | MISSED (req/s alone reaches it) |" in wsgi.format_markdown(report)
    report = _report({"flask-sync": [5_000], "lanner-wsgi-sync": [6_000]}, _CPU | {"lanner-wsgi-sync": 100.0})
    assert "| 1.20 x | 1.80 x | MISSED (CPU per request alone reaches it) |" in wsgi.format_markdown(report)


def test_the_budget_says_what_each_target_leaves() -> None:
    report = _report({key: [1_000.0] for key in _CPU}, _CPU)
    report.in_process = {"flask": [50.0, 52.0], "lanner-inline": [20.0, 26.0]}
    report.problems.append("raw-sync json: 3 non-2xx/3xx answers; dropped")
    text = wsgi.format_markdown(report)
    # Flask 180 µs over a 100 µs floor: 1.5 x means 120 µs in all, 20 over the floor; lanner adds 10.
    assert "the server alone (the raw floor) takes 100 µs of CPU a request; Flask adds 80, lanner" in text
    assert "adds 10. 1.5 x Flask means 120 µs a request in all, so lanner may add at most 20 µs" in text
    assert "an app costing nothing would reach 1.80 x" in text
    assert "(lanner's `WSGIMount` and router add 120)" in text
    assert "may take 142 (now 230)" in text
    assert "| Flask app | 51.0 | 50.0 - 52.0 | 1.00 x |" in text
    assert "| lanner app.wsgi, one thread (as on sync workers) | 23.0 | 20.0 - 26.0 | 2.25 x |" in text
    assert "## Problems\n\n- raw-sync json: 3 non-2xx/3xx answers; dropped" in text
    data = json.loads(json.dumps(wsgi.report_to_json(report)))
    assert data["verdicts"]["sync"] == {
        "ratio": 1.0,
        "cpu_ratio": pytest.approx(180 / 110),
        "bound": 1.5,
        "met": False,
    }
    assert len(data["samples"]) == 2 * len(_CPU) and data["met"] is False
    assert data["targets"][0]["setting"] == "gunicorn gthread 3 x 16 threads"


def test_a_comparison_without_samples_is_not_measured() -> None:
    report = Report("cmd", "now", {}, {}, {}, [], [Comparison("x", "x over y", "x", "y", 2.0)])
    assert report.verdicts()[0][1:] == (None, None, False)
    assert not report.met()
    assert "| x over y >= 2 x | - | - | not measured |" in wsgi.format_markdown(report)


def test_arguments() -> None:
    full = wsgi.parse_args([])
    assert (full.rounds, full.duration, full.warmup, full.processes) == (7, 2.0, 0.5, 3)
    assert full.out == ROOT / "benchmarks" / "results" / "wsgi.md" and full.scenarios == ("json", "plaintext")
    quick = wsgi.parse_args(["--quick", "--scenarios", "json"])
    assert (quick.rounds, quick.duration, quick.warmup, quick.in_process_requests) == (3, 1.0, 0.3, 2000)
    assert quick.out.name == "wsgi-quick.md" and quick.scenarios == ("json",)
    mine = wsgi.parse_args(["--out", "/tmp/x.md", "--rounds", "2", "--warmup", "0"])
    assert (mine.out, mine.rounds, mine.warmup) == (Path("/tmp/x.md"), 2, 0.0)
    for bad in (["--processes", "0"], ["--scenarios", "post"], ["--warmup", "-1"], ["--duration", "0"]):
        with pytest.raises(SystemExit):
            wsgi.parse_args(bad)


# -- a real run ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_servers_are_started_checked_and_measured_under_wrk() -> None:
    targets, comparisons = wsgi.plan(1)
    chosen = [t for t in targets if t.key in ("mount-prefix", "lanner-wsgi-sync")]
    # Asked under a prefix its app does not serve: rejected by the check before timing.
    wrong = Target("wrong", "wrong", "benchmarks.apps.wsgi_lanner:create_raw_wsgi", "gunicorn-sync", 1, "/x")
    report = Report("test", "now", {}, {}, {"processes": 1}, [*chosen, wrong], comparisons, ("json",))
    wsgi.measure_servers(report, rounds=1, duration=0.3, warmup=0, connections=8)
    assert len(report.problems) == 1, report.problems
    assert report.problems[0].startswith("wrong json: GET /x/json answered 404")
    assert report.problems[0].endswith("; not measured")
    assert sorted(s.target for s in report.samples) == ["lanner-wsgi-sync", "mount-prefix"]
    assert all(s.rps > 0 and s.cpu_us > 0 and s.round == 0 for s in report.samples)
    assert report.settings["connections"] == 8 and "pinning" in report.settings
