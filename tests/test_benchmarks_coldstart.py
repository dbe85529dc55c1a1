"""The cold-start report (python -m benchmarks.coldstart): its child, its rounds and its report.

Real fresh interpreters with a single round; nothing asserts on timing beyond "positive".
"""

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import coldstart  # noqa: E402

STEPS = {"import_ms", "build_ms", "first_ms", "total_ms"}


def child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.coldstart", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_child_preloads_nothing_a_framework_needs() -> None:
    # From scratch, the clock must start before typing (re, enum) and pydantic are loaded.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, benchmarks.coldstart; print(sorted(m for m in ('typing', 're', 'enum', "
            "'json', 'asyncio', 'pathlib', 'pydantic', 'argparse') if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("mode", [[], ["--from-scratch"]])
def test_the_child_measures_lanner(mode: list[str]) -> None:
    done = child("benchmarks.apps.lanner_app", "asgi", *mode)
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout.strip().splitlines()[-1])
    expected = STEPS | ({"total_cpu_ms", "peak_rss_mib"} if mode else set())
    assert set(values) == expected
    assert all(values[key] > 0 for key in expected)
    assert values["total_ms"] == pytest.approx(values["import_ms"] + values["build_ms"] + values["first_ms"])


def test_the_child_measures_a_wsgi_app() -> None:
    if find_spec("flask") is None:
        pytest.skip("Flask is not installed (pip install -e '.[bench]')")
    done = child("benchmarks.apps.flask_app", "wsgi", "--from-scratch")
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(values) == STEPS | {"total_cpu_ms", "peak_rss_mib"}
    assert values["peak_rss_mib"] > 10


def test_the_child_refuses_bad_arguments() -> None:
    for args in (
        ["benchmarks.apps.lanner_app"],
        ["benchmarks.apps.lanner_app", "http"],
        ["m", "asgi", "--x"],
    ):
        done = child(*args)
        assert done.returncode == 2
        assert "usage: python -m benchmarks.coldstart MODULE asgi|wsgi" in done.stderr


def test_the_child_fails_on_a_wrong_answer(tmp_path: Path) -> None:
    (tmp_path / "wrong_app.py").write_text(
        "def create_app(route_ids, basic_routes=True):\n"
        "    def app(environ, start_response):\n"
        "        start_response('404 Not Found', [])\n"
        "        return [b'{}']\n"
        "    return app\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.coldstart", "wrong_app", "wsgi"],
        cwd=ROOT,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "wrong_app answered 404" in done.stderr


def test_the_report_runs_in_fresh_interpreters_and_writes_markdown_and_json(tmp_path: Path) -> None:
    args = ["--runs", "1", "--frameworks", "lanner,raw", "--output", str(tmp_path), "--name", "smoke"]
    assert coldstart.main(args) == 0
    markdown = (tmp_path / "smoke.md").read_text()
    assert markdown.startswith(
        "# Cold start: `python -m benchmarks.coldstart --runs 1 --frameworks lanner,raw"
    )
    assert "## From scratch" in markdown and "## pydantic and the shared models preloaded" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith(("| lanner |", "| raw |"))]
    assert len(rows) == 4  # each framework in both tables
    assert "Relative to lanner, total CPU from scratch: raw " in markdown
    assert "| `python -c pass` |" in markdown
    data = json.loads((tmp_path / "smoke.json").read_text())
    assert set(data["samples"]) == {"lanner", "raw"}
    for modes in data["samples"].values():
        assert len(modes["scratch"]) == len(modes["preloaded"]) == 1
        scratch = modes["scratch"][0]
        assert scratch["process_ms"] > scratch["total_ms"] > 0
        assert scratch["process_cpu_ms"] > scratch["total_cpu_ms"] > 0
    assert len(data["floor"]) == 1 and data["floor"][0]["process_cpu_ms"] > 0
    assert (
        data["medians"]["lanner"]["scratch"]["total_ms"]
        == data["samples"]["lanner"]["scratch"][0]["total_ms"]
    )


def test_the_report_refuses_unknown_frameworks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        coldstart.main(["--runs", "1", "--frameworks", "lanner,nope"])
    assert stopped.value.code == 2
    assert "unknown framework 'nope'" in capsys.readouterr().err


def test_medians_are_per_framework_and_mode() -> None:
    sample = {"import_ms": 1.0, "build_ms": 1.0, "first_ms": 1.0, "total_ms": 3.0, "process_ms": 9.0}
    collected = {
        "samples": {
            "lanner": {
                "scratch": [sample, {**sample, "total_ms": 5.0}, {**sample, "total_ms": 4.0}],
                "preloaded": [sample],
            }
        }
    }
    table = coldstart.medians(collected)
    assert table["lanner"]["scratch"]["total_ms"] == 4.0
    assert table["lanner"]["preloaded"]["process_ms"] == 9.0
