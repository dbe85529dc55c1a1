"""The pytest plugin loaded into every run of FastAPI's tutorial tests (``-p <package>.plugin``).

It is configured by environment variables, set by `tests.compat.run`:

- ``LANNER_COMPAT_OUTCOMES``: write each test's outcome here (JSON), with the first line of its
  failure message; collection errors and module-level skips are recorded under the module's id.
- ``LANNER_COMPAT_BLOCK``: comma-separated top-level modules that may not be imported (``fastapi``
  in the runs against lanner, so a name the migration missed fails instead of quietly testing
  FastAPI).
- ``LANNER_COMPAT_SHIM=1``: install the FastAPI conventions shim (`shim.install`).
- ``LANNER_COMPAT_SELECT``: a file of test ids, one per line; the other tests are deselected.

``python -m <package>.plugin check-conftests DIR`` imports every ``conftest.py`` under DIR (with
the same blocking) and prints the ones that fail as JSON: pytest would stop the whole run on them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import linecache
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from . import shim

OUTCOMES_ENV = "LANNER_COMPAT_OUTCOMES"
BLOCK_ENV = "LANNER_COMPAT_BLOCK"
SHIM_ENV = "LANNER_COMPAT_SHIM"
SELECT_ENV = "LANNER_COMPAT_SELECT"
_MAX_MESSAGE = 300


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuse to import some top-level packages (and their submodules)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Raise ModuleNotFoundError for a blocked name; leave every other name to the next finder."""
        if fullname.partition(".")[0] in self.names:
            statement = _importing_statement()
            where = f": {statement}" if statement else ""
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (blocked: the check runs against lanner){where}",
                name=fullname,
            )
        return None


def _importing_statement() -> str:
    """The source line of the import being run, so a blocked import says what was left to migrate."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen") and "importlib" not in filename and filename != __file__:
            return linecache.getline(filename, frame.f_lineno).strip()
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def block_imports(names: Sequence[str]) -> None:
    """Install an `ImportBlocker` for `names`, forgetting any of them already imported."""
    names = [n for n in names if n]
    if not names:
        return
    for module in list(sys.modules):
        if module.partition(".")[0] in names:
            del sys.modules[module]
    sys.meta_path.insert(0, ImportBlocker(names))


def first_line(text: str) -> str:
    """The first non-empty line of `text`, shortened."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."
    return ""


def failure_message(longrepr: Any) -> str:
    """The first line of the exception a failed test or collector reported."""
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", ""):
        return first_line(crash.message)
    text = str(longrepr)
    error_lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    if error_lines:
        # Collection errors print the traceback first and the exception last.
        return first_line(error_lines[-1])
    return first_line(text.splitlines()[-1] if text.strip() else "")


def skip_reason(longrepr: Any) -> str:
    """The reason of a skip report."""
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return first_line(reason.removeprefix("Skipped: "))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(path: Sequence[Any]) -> str:
    """`path` as ``$.a[0].b``; OpenAPI path and schema names become ``[*]``, so failures group."""
    out = "$"
    for index, step in enumerate(path):
        if (index == 1 and path[0] in ("paths", "webhooks")) or (
            index == 2 and tuple(path[:2]) == ("components", "schemas")
        ):
            out += "[*]"
        elif isinstance(step, int):
            out += f"[{step}]"
        elif isinstance(step, str) and step.isidentifier():
            out += f".{step}"
        else:
            out += f"[{step!r}]"
    return out


def first_difference(actual: Any, expected: Any, path: tuple[Any, ...] = ()) -> str | None:
    """Where two JSON-like values first differ, in one line (None when they are equal)."""
    if actual == expected:
        return None
    if isinstance(actual, dict) and isinstance(expected, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {_short(missing if len(missing) > 1 else missing[0])}")
            if extra:
                parts.append(f"unexpected {_short(extra if len(extra) > 1 else extra[0])}")
            return f"{_where(path)}: {', '.join(parts)}"
        for key in expected:
            if actual[key] != expected[key]:
                return first_difference(actual[key], expected[key], (*path, key))
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            return f"{_where(path)}: {len(actual)} items, expected {len(expected)}"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            if a != e:
                return first_difference(a, e, (*path, index))
    return f"{_where(path)}: {_short(actual)} != {_short(expected)}"


@pytest.hookimpl(tryfirst=True)
def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    """For ``==`` between dicts or lists, say where they first differ: the line failures are grouped by."""
    if op != "==" or not isinstance(left, dict | list) or not isinstance(right, dict | list):
        return None
    difference = first_difference(left, right)
    if difference is None:
        return None
    return [f"JSON differs at {difference}"]


class Recorder:
    """Collect one outcome per test id and write them as JSON at the end of the session."""

    def __init__(self, path: str, select: set[str] | None) -> None:
        self.path = path
        self.select = select
        self.outcomes: dict[str, dict[str, Any]] = {}
        self._translations_before = 0

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.select is None:
            return
        keep = [item for item in items if item.nodeid in self.select]
        dropped = [item for item in items if item.nodeid not in self.select]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._translations_before = shim.translations

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        entry = self.outcomes.get(nodeid)
        if entry is not None:
            entry["translations"] = shim.translations - self._translations_before

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = {
                "outcome": "collect-error",
                "message": failure_message(report.longrepr),
            }
        elif report.skipped:
            self.outcomes[report.nodeid] = {"outcome": "skipped", "message": skip_reason(report.longrepr)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if entry["outcome"] in ("failed", "error"):
            return  # the first failure is the one to report
        if report.failed:
            if report.when == "call":
                xpass = getattr(report, "wasxfail", None) is not None
                entry["outcome"] = "failed"
                entry["message"] = "XPASS(strict)" if xpass else failure_message(report.longrepr)
            else:
                entry["outcome"] = "error"
                entry["message"] = f"error at {report.when}: {failure_message(report.longrepr)}"
        elif report.skipped:
            if getattr(report, "wasxfail", None) is not None:
                entry.update(outcome="xfailed", message=first_line(str(report.wasxfail)) or "xfail")
            else:
                entry.update(outcome="skipped", message=skip_reason(report.longrepr))

    def pytest_sessionfinish(self) -> None:
        Path(self.path).write_text(json.dumps(self.outcomes, indent=1, sort_keys=True), encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    """Block imports, install the shim and register the recorder, as the environment asks."""
    block_imports(os.environ.get(BLOCK_ENV, "").split(","))
    if os.environ.get(SHIM_ENV) == "1":
        shim.install()
    path = os.environ.get(OUTCOMES_ENV)
    if path:
        select_file = os.environ.get(SELECT_ENV)
        select = None
        if select_file:
            select = set(Path(select_file).read_text(encoding="utf-8").splitlines())
        config.pluginmanager.register(Recorder(path, select), "lanner-compat-recorder")


def _module_name(path: Path) -> str:
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def check_conftests(root: Path) -> dict[str, str]:
    """Import every conftest under `root` (from the current directory); the failures, by folder."""
    failures: dict[str, str] = {}
    for conftest in sorted(root.rglob("conftest.py")):
        try:
            importlib.import_module(_module_name(conftest))
        except BaseException as exc:  # any failure stops pytest, so report any
            if isinstance(exc, KeyboardInterrupt):
                raise
            text = "".join(traceback.format_exception_only(type(exc), exc))
            failures[conftest.parent.as_posix()] = first_line(text)
    return failures


def main(argv: Sequence[str]) -> int:
    """``check-conftests DIR``: print the conftests under DIR that fail to import, as JSON."""
    if len(argv) != 2 or argv[0] != "check-conftests":
        print("usage: python -m <package>.plugin check-conftests DIR", file=sys.stderr)
        return 2
    block_imports(os.environ.get(BLOCK_ENV, "").split(","))
    sys.path.insert(0, os.getcwd())
    print(json.dumps(check_conftests(Path(argv[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
