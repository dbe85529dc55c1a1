"""The soak check (python -m benchmarks.soak): its status accounting, and a short real run.

The real run starts uvicorn and wrk for a few thousand requests against lanner only; it is marked
slow and skipped only when wrk is missing. It checks that the report is written and that every
status arrived as often as it was sent, never the timing or the memory figures.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import soak  # noqa: E402
from benchmarks.apps.soak_load import CYCLE, KINDS, expected_shares, lua_script  # noqa: E402
from benchmarks.load import WRK_MISSING, find_wrk  # noqa: E402

REQUESTS = 5000


def _one_segment(statuses: dict[int, int], socket_errors: int = 0) -> soak.Soak:
    """A soak whose one segment sent one rotation ``CYCLE`` 100 times and got ``statuses``."""
    sent = [100 * CYCLE.count(i) for i in range(len(KINDS))]
    result = soak.Soak("lanner", 100 * len(CYCLE))
    segment = {"sent": sent, "statuses": statuses, "completed": sum(statuses.values())}
    result.segments.append({**segment, "socket_errors": socket_errors})
    return result


def _right_answers() -> dict[int, int]:
    return {status: round(share * 100 * len(CYCLE)) for status, share in expected_shares().items()}


def test_rotation_has_every_status() -> None:
    assert expected_shares() == pytest.approx({200: 0.5, 404: 0.2, 405: 0.1, 413: 0.05, 422: 0.15})
    script = lua_script()
    assert script.count("method = ") == len(KINDS)
    assert "wrk.thread:stop()" in script and "SOAK_RESULT" in script


def test_status_mix_accepts_answers_as_sent() -> None:
    mix = soak.status_mix(_one_segment(_right_answers()))
    assert mix["pass"] and mix["lost"] == 0 and mix["wrong_statuses"] == []


def test_status_mix_catches_a_wrong_answer() -> None:
    answers = _right_answers()
    answers[413] -= 1
    answers[200] += 1  # one oversized upload accepted
    assert soak.status_mix(_one_segment(answers))["wrong_statuses"] == [200, 413]

    answers = _right_answers()
    answers[404] -= 1
    answers[500] = 1
    assert not soak.status_mix(_one_segment(answers))["pass"]


def test_status_mix_allows_only_losses_to_socket_errors() -> None:
    answers = _right_answers()
    answers[200] -= 2
    assert not soak.status_mix(_one_segment(answers))["pass"]
    assert soak.status_mix(_one_segment(answers, socket_errors=2))["pass"]


def test_log_errors_name_the_exception() -> None:
    log = "ERROR:    Exception in ASGI application\nTraceback (most recent call last):\n  File x\n"
    log += "KeyError: 1\n"
    assert soak.log_errors(log + log) == ["ERROR: Exception in ASGI application -> KeyError: 1"] * 2


@pytest.mark.slow
@pytest.mark.skipif(find_wrk() is None, reason=WRK_MISSING)
def test_short_soak_against_lanner(tmp_path: Path) -> None:
    argv = ["--requests", str(REQUESTS), "--only", "lanner", "--output", str(tmp_path), "--name", "t"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    # 1 is a missed memory or pause target, which a run this short may see; the mix must be exact.
    assert done.returncode in (0, 1), done.stderr
    data = json.loads((tmp_path / "t.json").read_text())
    result = data["results"]["lanner"]
    assert result["problems"] == [] and result["stopped_early"] == ""
    assert result["completed"] == REQUESTS
    mix = result["mix"]
    expected = {str(s): round(share * REQUESTS) for s, share in expected_shares().items()}
    assert mix["sent"] == expected and mix["answered"] == expected and mix["pass"]
    assert result["disconnects"]["sent"] == REQUESTS // 1000
    assert result["server_errors"] == 0
    assert len(data["raw"]["lanner"]["idle"]) == soak.SEGMENTS + 1
    report = (tmp_path / "t.md").read_text()
    assert "| status mix | every status as sent | as sent **PASS** |" in report
    assert "| 413 | 5% | 250 | 250 |" in report
