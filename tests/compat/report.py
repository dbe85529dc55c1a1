"""Classify the tutorial tests from the outcomes of the runs, and render the report.

Three runs of the same tests give each test id an outcome (`plugin.Recorder`'s JSON):

- the baseline: the unmodified tests against FastAPI itself, in this environment;
- run A: the migrated tests against lanner;
- run B: run A's failures again, with the FastAPI conventions shim (`shim.RULE`).

Classification of a test id:

- ``skipped``: it does not pass against FastAPI itself here (a skip such as ``needs_py314`` or a
  missing optional package like orjson or sqlmodel, an import error at collection, an expected
  failure): nothing lanner does can be measured by it. Listed with FastAPI's reason, left out of
  the score.
- ``pass``: it passes in run A.
- ``deliberate``: it fails in run A and passes in run B, where the shim translated at least one of
  its responses (passing in run B with nothing translated shows that it failed in run A for
  another reason, such as the tests run before it: that is a ``fail``).
- ``fail``: anything else, including a test that lanner's run skipped or could not collect. Its
  message is the first line of run B's failure when run B ran it (what is left once lanner's
  conventions are translated), else run A's.

A module (or a folder, for a ``conftest.py``) that cannot be collected has no test ids of its own.
When FastAPI cannot collect it either, it counts as one skipped entry. When only lanner's run cannot
collect it, each test the baseline found in it fails with the collection error, so an import error
weighs as much as the tests it hides.

score = (pass + deliberate) / (pass + deliberate + fail).
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .shim import RULE

CATEGORIES = ("pass", "deliberate", "fail", "skipped")
TUTORIAL_ROOT = "tests/test_tutorial/"
TOP_FAILURE_GROUPS = 40

Outcomes = Mapping[str, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class TestResult:
    """The classification of one test id."""

    __test__ = False  # not a pytest test class

    id: str
    section: str
    category: str
    message: str = ""


def section_of(test_id: str) -> str:
    """The tutorial section of a test id: the folder under ``tests/test_tutorial``."""
    path = test_id.split("::", 1)[0]
    rest = path.removeprefix(TUTORIAL_ROOT)
    head = rest.split("/", 1)[0]
    return head.removesuffix(".py") or "(root)"


def _covering(test_id: str, outcomes: Outcomes) -> Mapping[str, str] | None:
    """The outcome of `test_id`, or of the module or folder whose collection covers it."""
    entry = outcomes.get(test_id)
    if entry is not None:
        return entry
    path = test_id.split("::", 1)[0]
    parts = path.split("/")
    for end in range(len(parts), 0, -1):
        entry = outcomes.get("/".join(parts[:end]))
        if entry is not None and entry.get("outcome") in ("collect-error", "skipped"):
            return entry
    return None


def _is_test(test_id: str) -> bool:
    return "::" in test_id


def classify(baseline: Outcomes, run_a: Outcomes, run_b: Outcomes) -> list[TestResult]:
    """Classify every test id found by the baseline or run A (see the module docstring)."""
    results: list[TestResult] = []
    ids = sorted(set(baseline) | set(run_a))
    for test_id in ids:
        base = _covering(test_id, baseline)
        own_base = baseline.get(test_id)
        if not _is_test(test_id):
            # A module or folder entry: it stands for its tests only when FastAPI could not collect
            # them either (otherwise the baseline lists them one by one).
            if own_base is not None and own_base["outcome"] != "passed":
                results.append(
                    TestResult(test_id, section_of(test_id), "skipped", f"FastAPI: {own_base['message']}")
                )
            continue
        if base is not None and base["outcome"] != "passed":
            if own_base is None:
                continue  # FastAPI could not collect its module: that entry stands for it
            reason = base["message"] or base["outcome"]
            if base["outcome"] == "xfailed":
                reason = f"xfail: {reason}"
            results.append(TestResult(test_id, section_of(test_id), "skipped", f"FastAPI: {reason}"))
            continue
        a = _covering(test_id, run_a)
        if a is not None and a["outcome"] == "passed":
            results.append(TestResult(test_id, section_of(test_id), "pass"))
            continue
        b = run_b.get(test_id)
        if b is not None and b["outcome"] == "passed" and b.get("translations", 1) > 0:
            results.append(TestResult(test_id, section_of(test_id), "deliberate"))
            continue
        if a is None:
            message = "not collected against lanner"
        elif a["outcome"] == "skipped":
            message = f"skipped against lanner: {a['message']}"
        elif a["outcome"] == "collect-error":
            message = f"collection error: {a['message']}"
        elif b is not None and b["outcome"] == "passed":
            # It passed with the shim, which translated nothing: it fails in run A for another
            # reason, such as the tests run before it.
            message = a["message"] or a["outcome"]
        elif b is not None and b["message"]:
            # With lanner's conventions translated away, what is left is the difference to fix.
            message = b["message"]
        else:
            message = a["message"] or a["outcome"]
        results.append(TestResult(test_id, section_of(test_id), "fail", message))
    return results


def to_rerun(baseline: Outcomes, run_a: Outcomes) -> list[str]:
    """The tests run B must try: they pass against FastAPI and fail (not skip) in run A."""
    rerun = []
    for test_id, entry in run_a.items():
        if not _is_test(test_id) or entry["outcome"] not in ("failed", "error"):
            continue
        base = _covering(test_id, baseline)
        if base is None or base["outcome"] == "passed":
            rerun.append(test_id)
    return sorted(rerun)


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def group_key(message: str) -> str:
    """The text failures are grouped by: the first line, without object addresses."""
    return _ADDRESS.sub("", message)


def summarize(results: Iterable[TestResult]) -> dict[str, Any]:
    """Counts per section and in total, the score, and the failure and skip groups."""
    results = list(results)
    sections: dict[str, dict[str, int]] = {}
    for result in results:
        counts = sections.setdefault(result.section, {"tests": 0, **dict.fromkeys(CATEGORIES, 0)})
        counts["tests"] += 1
        counts[result.category] += 1
    totals = {"tests": len(results), **dict.fromkeys(CATEGORIES, 0)}
    for result in results:
        totals[result.category] += 1
    scored = totals["pass"] + totals["deliberate"] + totals["fail"]
    score = (totals["pass"] + totals["deliberate"]) / scored if scored else 0.0
    groups: dict[str, list[TestResult]] = collections.defaultdict(list)
    for result in results:
        if result.category == "fail":
            groups[group_key(result.message)].append(result)
    failure_groups = [
        {
            "message": message,
            "count": len(members),
            "sections": sorted({m.section for m in members}),
            "examples": [m.id for m in members[:3]],
        }
        for message, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    skips: collections.Counter[str] = collections.Counter(
        r.message for r in results if r.category == "skipped"
    )
    return {
        "rule": RULE,
        "score": score,
        "totals": totals,
        "sections": dict(sorted(sections.items())),
        "failure_groups": failure_groups,
        "skip_reasons": [{"reason": reason, "count": count} for reason, count in skips.most_common()],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    totals = summary["totals"]
    lines = [
        f"# FastAPI {meta.get('fastapi_version', '?')} tutorial tests against "
        f"lanner {meta.get('lanner_version', '?')}",
        "",
        f"**Score: {summary['score'] * 100:.1f}%** = (pass + deliberate) / (pass + deliberate + fail) = "
        f"({totals['pass']} + {totals['deliberate']}) / "
        f"({totals['pass']} + {totals['deliberate']} + {totals['fail']}); "
        f"{totals['skipped']} skipped, not counted.",
        "",
        f"Deliberate difference: {summary['rule']}.",
        "",
        "Skipped: the tests that do not pass against FastAPI itself here (optional packages, Python "
        "versions). A module that only lanner's run cannot import fails each test FastAPI found in "
        "it; one neither can import counts once. A failure shows the first line left after the "
        "shim (or without it, when it never ran); `JSON differs at` names the first differing key.",
        "",
    ]
    if meta.get("duration_seconds") is not None:
        lines += [
            f"Took {meta['duration_seconds']:.0f} s; migrated with `{meta.get('migrate_command', '?')}`.",
            "",
        ]
    lines += [
        "| section | tests | pass | deliberate | fail | skipped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, counts in summary["sections"].items():
        lines.append(
            f"| {name} | {counts['tests']} | {counts['pass']} | {counts['deliberate']} | "
            f"{counts['fail']} | {counts['skipped']} |"
        )
    lines.append(
        f"| **total** | **{totals['tests']}** | **{totals['pass']}** | **{totals['deliberate']}** | "
        f"**{totals['fail']}** | **{totals['skipped']}** |"
    )
    groups = summary["failure_groups"][:TOP_FAILURE_GROUPS]
    if groups:
        lines += [
            "",
            f"## Top failures ({len(groups)} of {len(summary['failure_groups'])} groups, by first line)",
            "",
            "| count | first line | sections |",
            "|---:|---|---|",
        ]
        for group in groups:
            lines.append(
                f"| {group['count']} | `{_cell(group['message'])}` | {', '.join(group['sections'])} |"
            )
    if summary["skip_reasons"]:
        lines += [
            "",
            "## Skipped (they do not pass against FastAPI here either)",
            "",
            "| count | reason |",
            "|---:|---|",
        ]
        for skip in summary["skip_reasons"]:
            lines.append(f"| {skip['count']} | {_cell(skip['reason'])} |")
    return "\n".join(lines) + "\n"
