"""Run FastAPI's tutorial tests, migrated with ``lanner migrate --from fastapi``, against lanner.

``python -m tests.compat [--fastapi-version V] [--keep DIR] [--json PATH] [--markdown PATH] [-k EXPR]``
(from the repository's root folder).

1. Take FastAPI's sdist from the package index (``pip download --no-deps --no-binary :all:``),
   cached in ``~/.cache/lanner-compat/`` so later runs work offline; ``--sdist`` takes a local one.
   FastAPI's code is never committed here.
2. Unpack it in a temporary folder and copy ``docs_src/``, ``docs/`` (the tests read an image from
   it), ``tests/__init__.py``, ``tests/utils.py``, ``tests/test_tutorial/`` and whatever they import
   from ``tests/``, twice: one copy stays as it is, the other is rewritten in place by
   ``lanner migrate --from fastapi`` (its files shared out between a few runs of the command).
3. Run pytest on ``tests/test_tutorial`` three times; the ``plugin`` module records each test's
   outcome. The baseline runs the untouched copy against FastAPI (what can pass in this environment
   at all) while the migration runs. Run A runs the migrated copy against lanner, with ``fastapi``
   made unimportable. Run B runs run A's failures again with the FastAPI conventions shim (see
   `shim.RULE`). Runs A and B are shared out between a few pytest processes.
4. Classify each test (`report.classify`) and print the Markdown report; ``--json`` and
   ``--markdown`` also write it to files. The temporary folder is removed unless ``--keep DIR``.

In the test runs this package is imported as ``lanner_compat`` (a copy put on ``PYTHONPATH``),
because FastAPI's own ``tests`` package holds the name ``tests`` there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import report

DEFAULT_FASTAPI_VERSION = "0.165.0"
DEFAULT_TIMEOUT = 20.0  # seconds per test, as FastAPI's own pytest configuration sets
PLUGIN_PACKAGE = "lanner_compat"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent
_MARKER = ".lanner-compat"
_RUN_LIMIT = 900.0  # seconds for one whole pytest run, a last resort behind the per-test timeout

PYTEST_INI = """\
[pytest]
# Written by lanner's compatibility check (tests/compat). FastAPI's own settings are not used:
# no warnings-as-errors, no strict markers, and no xdist (the check shards the runs itself).
markers =
    xdist_group: FastAPI's marker for tests that share the working directory
"""


class CheckError(RuntimeError):
    """The check could not run (no sdist, a failed migration, pytest crashed)."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lanner-compat``, ``~/.cache/lanner-compat`` by default."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lanner-compat"


def default_processes() -> int:
    """How many pytest processes share run A and run B: one per core, up to 4."""
    return max(1, min(4, os.cpu_count() or 1))


def default_migrate_command() -> list[str]:
    """``lanner migrate --from fastapi``, run with this interpreter."""
    return [sys.executable, "-m", "lanner.cli", "migrate", "--from", "fastapi"]


def fetch_sdist(version: str, cache_dir: Path | None = None) -> Path:
    """FastAPI's sdist for `version`, from the cache or downloaded into it.

    Raises:
        CheckError: pip could not download it (offline, unknown version).
    """
    cache = cache_dir or default_cache_dir()
    name = f"fastapi-{version}.tar.gz"
    cached = cache / name
    if cached.is_file():
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"fastapi=={version}",
        "-d",
        str(cache),
        # Offline, fail in seconds rather than after pip's default retries.
        "--retries",
        "1",
        "--timeout",
        "15",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CheckError(f"pip download of FastAPI {version} took over {exc.timeout:.0f} s") from exc
    if done.returncode != 0 or not cached.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise CheckError(f"could not download FastAPI {version}'s sdist with pip:\n{tail}")
    return cached


def unpack(sdist: Path, into: Path) -> Path:
    """Unpack `sdist` into `into`; return its top folder."""
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise CheckError(f"{sdist.name}: expected one top folder, found {[p.name for p in tops]}")
    return tops[0]


_FROM_IMPORT = re.compile(r"^\s*from\s+(\.*)([\w.]*)\s+import\s+\(?\s*([\w\s,]+)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+(tests(?:\.\w+)*)", re.MULTILINE)


def _module_files(source_root: Path, dotted: str) -> list[Path]:
    """The files (relative to `source_root`) that importing `dotted` needs: the module and packages."""
    parts = dotted.split(".")
    needed = [Path(*parts[:end], "__init__.py") for end in range(1, len(parts))]
    module = Path(*parts)
    if (source_root / module / "__init__.py").is_file():
        needed.append(module / "__init__.py")
    elif (source_root / module.with_suffix(".py")).is_file():
        needed.append(module.with_suffix(".py"))
    return [p for p in needed if (source_root / p).is_file()]


def imported_test_files(source_root: Path, path: Path) -> set[Path]:
    """The files under ``tests/`` that the file `path` (relative to `source_root`) imports."""
    text = (source_root / path).read_text(encoding="utf-8", errors="replace")
    found: set[Path] = set()
    package = list(path.parent.parts)
    for dots, module, names in _FROM_IMPORT.findall(text):
        if dots:
            base = package[: len(package) - (len(dots) - 1)] if len(dots) > 1 else package
            dotted = ".".join([*base, *([module] if module else [])])
        else:
            dotted = module
        if dotted.split(".")[0] != "tests":
            continue
        found.update(_module_files(source_root, dotted))
        for name in re.findall(r"\w+", names):
            found.update(_module_files(source_root, f"{dotted}.{name}"))
    for dotted in _IMPORT.findall(text):
        found.update(_module_files(source_root, dotted))
    return found


def prepare(source: Path, dest: Path) -> None:
    """Copy what the tutorial tests need from the unpacked sdist `source` into `dest`."""
    dest.mkdir(parents=True)
    shutil.copytree(source / "docs_src", dest / "docs_src")
    if (source / "docs").is_dir():
        shutil.copytree(source / "docs", dest / "docs")
    wanted = {Path("tests/__init__.py"), Path("tests/utils.py")}
    wanted.update(p.relative_to(source) for p in (source / "tests/test_tutorial").rglob("*") if p.is_file())
    pending = [p for p in wanted if p.suffix == ".py"]
    while pending:
        for imported in imported_test_files(source, pending.pop()):
            if imported not in wanted:
                wanted.add(imported)
                pending.append(imported)
    for relative in sorted(wanted):
        if (source / relative).is_file():
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, dest / relative)
    (dest / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def install_plugin(into: Path) -> Path:
    """Copy this package to ``into/lanner_compat`` (FastAPI's ``tests`` package takes the name
    ``tests`` in the runs); return the folder to put on ``PYTHONPATH``."""
    shutil.copytree(PACKAGE_DIR, into / PLUGIN_PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def _lanner_import_root() -> str:
    spec = importlib.util.find_spec("lanner")
    if spec is None or spec.origin is None:
        raise CheckError("lanner is not importable from this interpreter")
    return str(Path(spec.origin).resolve().parent.parent)


def subprocess_env(plugin_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a test run: ours, without pytest settings meant for the outer run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "LANNER_COMPAT_", "COV_CORE_"))
        and key not in ("LANNER_DEBUG", "PYTHONPATH", "COVERAGE_PROCESS_START")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_path), _lanner_import_root()])
    env.update(extra)
    return env


def broken_conftests(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    """The folders under ``tests/test_tutorial`` whose conftest does not import (pytest would stop)."""
    if not any((workdir / "tests/test_tutorial").rglob("conftest.py")):
        return {}
    done = subprocess.run(
        [sys.executable, "-m", f"{PLUGIN_PACKAGE}.plugin", "check-conftests", "tests/test_tutorial"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise CheckError(f"checking the conftests failed:\n{done.stderr[-2000:]}")
    failures: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return failures


def pytest_targets(workdir: Path, broken: dict[str, str]) -> list[str]:
    """What to collect: the entries of the tutorial folder, minus the sections that cannot load."""
    root = workdir / "tests/test_tutorial"
    targets = []
    for entry in sorted(root.iterdir()):
        relative = entry.relative_to(workdir).as_posix()
        if any(b == relative or b.startswith(relative + "/") for b in broken):
            continue
        if (entry.is_dir() and entry.name != "__pycache__") or (
            entry.suffix == ".py" and entry.name.startswith("test")
        ):
            targets.append(relative)
    return targets


def _test_files(workdir: Path, target: str) -> list[Path]:
    path = workdir / target
    return [path] if path.is_file() else sorted(path.rglob("test*.py"))


def balance(sizes: Mapping[str, int], count: int, first: Sequence[str] = ()) -> list[list[str]]:
    """Split the keys of `sizes` in up to `count` groups of about the same total size.

    The keys in `first` all go to the first group.
    """
    groups: list[list[str]] = [list(first)] + [[] for _ in range(max(1, count) - 1)]
    loads = [sum(sizes[k] for k in first)] + [0] * (len(groups) - 1)
    for key in sorted((k for k in sizes if k not in first), key=lambda k: (-sizes[k], k)):
        index = loads.index(min(loads))
        groups[index].append(key)
        loads[index] += sizes[key]
    return [sorted(group) for group in groups if group]


def shard(workdir: Path, targets: Sequence[str], count: int) -> list[list[str]]:
    """Split `targets` (folders or files) in up to `count` groups with about as many test files each.

    The targets whose tests use FastAPI's ``workdir_lock`` (they write into the working folder,
    which all processes share) go to the first group together, as FastAPI's ``xdist_group`` keeps
    them on one worker.
    """
    files = {t: _test_files(workdir, t) for t in targets}
    locked = [
        t
        for t in targets
        if any("workdir_lock" in f.read_text(encoding="utf-8", errors="replace") for f in files[t])
    ]
    return balance({t: max(1, len(found)) for t, found in files.items()}, count, locked)


def pytest_command(targets: Sequence[str], *, timeout: float, keyword: str | None) -> list[str]:
    """The pytest command line of a run (the plugin reads the rest from the environment)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        f"{PLUGIN_PACKAGE}.plugin",
        "-o",
        "addopts=",
        "--continue-on-collection-errors",
        "--tb=line",  # the plugin keeps one line per failure; full tracebacks double the run time
    ]
    if importlib.util.find_spec("pytest_timeout") is not None:
        command += ["--timeout", f"{timeout:g}"]
    if importlib.util.find_spec("inline_snapshot") is not None:
        command.append("--inline-snapshot=disable")  # snapshot(x) is x: plain comparisons
    if keyword:
        command += ["-k", keyword]
    return command


class PytestRun:
    """One pytest subprocess whose outcomes the plugin writes to a JSON file."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        targets: Sequence[str],
        env: dict[str, str],
        logs: Path,
        *,
        timeout: float,
        keyword: str | None,
    ) -> None:
        self.name = name
        self.outcomes_path = logs / f"{name}.json"
        self.log_path = logs / f"{name}.log"
        env = {**env, "LANNER_COMPAT_OUTCOMES": str(self.outcomes_path)}
        self.command = pytest_command(targets, timeout=timeout, keyword=keyword)
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.command, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.seconds = 0.0
        # Times the run itself, even when nobody waits for it at once.
        self._timer = threading.Thread(target=self._time, name=f"compat-{name}", daemon=True)
        self._timer.start()

    def _time(self) -> None:
        self.process.wait()
        self.seconds = time.monotonic() - self.started

    def stop(self) -> None:
        """Kill the run if it is still going (after an error elsewhere)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def wait(self) -> dict[str, dict[str, Any]]:
        """Wait for the run; return its outcomes.

        Raises:
            CheckError: pytest crashed or wrote no outcomes.
        """
        try:
            code = self.process.wait(timeout=_RUN_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise CheckError(f"{self.name}: pytest ran longer than {_RUN_LIMIT:.0f} s") from None
        finally:
            self._log.close()
            self._timer.join()
        if code not in (0, 1, 5) or not self.outcomes_path.is_file():
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise CheckError(f"{self.name}: pytest exited with {code}:\n{tail}")
        outcomes: dict[str, dict[str, Any]] = json.loads(self.outcomes_path.read_text(encoding="utf-8"))
        return outcomes


def _wait_all(runs: Sequence[PytestRun]) -> dict[str, dict[str, Any]]:
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        for run in runs:
            outcomes.update(run.wait())
    finally:
        for run in runs:
            run.stop()
    return outcomes


def migration_targets(workdir: Path) -> dict[str, int]:
    """The Python files of ``docs_src`` and ``tests`` (relative to `workdir`), with their sizes."""
    return {
        path.relative_to(workdir).as_posix(): path.stat().st_size
        for top in ("docs_src", "tests")
        for path in sorted((workdir / top).rglob("*.py"))
    }


def _migrate(command: Sequence[str], workdir: Path, logs: Path, processes: int) -> float:
    """Run the migration on ``docs_src`` and ``tests`` in `workdir`; return the seconds it took.

    The migration rewrites each file on its own, so the files are shared out between `processes`
    runs of the command, by size (LibCST's time grows with it).
    """
    started = time.monotonic()
    groups = balance(migration_targets(workdir), processes)
    outputs = [logs / f"migrate{i + 1}.log" for i in range(len(groups))]
    running = []
    try:
        for group, output in zip(groups, outputs, strict=True):
            with output.open("wb") as log:
                running.append(
                    subprocess.Popen([*command, *group], cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
                )
        codes = [process.wait(timeout=_RUN_LIMIT) for process in running]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CheckError(f"could not run the migration {shlex.join(command)}: {exc}") from exc
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    for code, output in zip(codes, outputs, strict=True):
        if code != 0:
            tail = "\n".join(output.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-20:])
            raise CheckError(f"the migration exited with {code}:\n{tail}")
    return time.monotonic() - started


def _conftest_outcomes(broken: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {folder: {"outcome": "collect-error", "message": message} for folder, message in broken.items()}


def _git_revision() -> str | None:
    if not (REPO_ROOT / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"[compat] {message}", file=sys.stderr, flush=True)


def _workdir(keep: Path | None) -> Path:
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="lanner-compat-"))
    if keep.exists() and any(keep.iterdir()):
        if not (keep / _MARKER).is_file():
            raise CheckError(f"--keep {keep}: not empty and not a folder of an earlier check")
        shutil.rmtree(keep)
    keep.mkdir(parents=True, exist_ok=True)
    (keep / _MARKER).write_text("lanner compatibility check work folder\n", encoding="utf-8")
    return keep


def run_check(
    *,
    fastapi_version: str = DEFAULT_FASTAPI_VERSION,
    sdist: Path | None = None,
    cache_dir: Path | None = None,
    keep: Path | None = None,
    keyword: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    migrate_command: Sequence[str] | None = None,
    shards: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the whole check; return the report (see `report.summarize`, plus ``meta`` and ``tests``).

    Raises:
        CheckError: the sdist, the migration or a pytest run failed.
    """
    started = time.monotonic()
    shards = shards or default_processes()
    migrate = list(migrate_command or default_migrate_command())
    if sdist is None:
        _log(f"fetching FastAPI {fastapi_version}'s sdist", quiet)
        sdist = fetch_sdist(fastapi_version, cache_dir)
    work = _workdir(keep)
    try:
        source = unpack(sdist, work / "sdist")
        fastapi_dir, lanner_dir = work / "fastapi", work / "lanner"
        prepare(source, fastapi_dir)
        shutil.copytree(fastapi_dir, lanner_dir)
        logs = work / "logs"
        logs.mkdir()
        plugin_path = install_plugin(work / "plugin")
        base_env = subprocess_env(plugin_path)
        lanner_env = subprocess_env(plugin_path, LANNER_COMPAT_BLOCK="fastapi")
        options: dict[str, Any] = {"timeout": timeout, "keyword": keyword}
        # The baseline needs no migration: it runs on one core while the migration takes the other.
        base_broken = broken_conftests(fastapi_dir, base_env)
        _log("running the tests against FastAPI (baseline)", quiet)
        baseline_run = PytestRun(
            "baseline", fastapi_dir, pytest_targets(fastapi_dir, base_broken), base_env, logs, **options
        )
        try:
            _log(f"migrating docs_src and tests ({shards} processes): {shlex.join(migrate)} PATH...", quiet)
            migrate_seconds = _migrate(migrate, lanner_dir, logs, shards)
            lanner_broken = broken_conftests(lanner_dir, lanner_env)
            targets = pytest_targets(lanner_dir, lanner_broken)
            baseline = {**baseline_run.wait(), **_conftest_outcomes(base_broken)}
        except BaseException:
            baseline_run.stop()
            raise
        _log(f"running the migrated tests against lanner (run A, {shards} processes)", quiet)
        runs_a = [
            PytestRun(f"run-a{i + 1}", lanner_dir, group, lanner_env, logs, **options)
            for i, group in enumerate(shard(lanner_dir, targets, shards))
        ]
        outcomes_a = {**_wait_all(runs_a), **_conftest_outcomes(lanner_broken)}
        rerun = report.to_rerun(baseline, outcomes_a)
        outcomes_b: dict[str, dict[str, Any]] = {}
        runs_b: list[PytestRun] = []
        if rerun:
            _log(f"running run A's {len(rerun)} failures again with the conventions shim (run B)", quiet)
            select = logs / "run-b-select.txt"
            select.write_text("\n".join(rerun) + "\n", encoding="utf-8")
            files = sorted({test_id.split("::", 1)[0] for test_id in rerun})
            shim_env = {**lanner_env, "LANNER_COMPAT_SHIM": "1", "LANNER_COMPAT_SELECT": str(select)}
            runs_b = [
                PytestRun(f"run-b{i + 1}", lanner_dir, group, shim_env, logs, timeout=timeout, keyword=None)
                for i, group in enumerate(shard(lanner_dir, files, shards))
            ]
            outcomes_b = _wait_all(runs_b)
        results = report.classify(baseline, outcomes_a, outcomes_b)
        if keyword:
            # -k cannot deselect a module that fails to collect: keep those of the sections it chose.
            chosen = {report.section_of(i) for i in (*baseline, *outcomes_a) if "::" in i}
            results = [r for r in results if "::" in r.id or r.section in chosen]
        summary = report.summarize(results)
        summary["meta"] = {
            "fastapi_version": sdist.name.removeprefix("fastapi-").removesuffix(".tar.gz"),
            "lanner_version": _lanner_version(),
            "git_revision": _git_revision(),
            "migrate_command": shlex.join(migrate),
            "python": sys.version.split()[0],
            "keyword": keyword,
            "per_test_timeout": timeout,
            "seconds": {
                "migration": round(migrate_seconds, 1),
                "baseline": round(baseline_run.seconds, 1),
                "run_a": round(max(r.seconds for r in runs_a), 1),
                "run_b": round(max((r.seconds for r in runs_b), default=0.0), 1),
            },
            "duration_seconds": round(time.monotonic() - started, 1),
            "work_dir": str(work) if keep is not None else None,
        }
        summary["tests"] = [
            {"id": r.id, "section": r.section, "category": r.category, "message": r.message} for r in results
        ]
        return summary
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _lanner_version() -> str:
    try:
        import lanner
    except ImportError:  # pragma: no cover - the check needs lanner anyway
        return "?"
    return str(getattr(lanner, "__version__", "?"))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m tests.compat``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.compat",
        description="Run FastAPI's tutorial tests, migrated to lanner, against lanner.",
    )
    parser.add_argument("--fastapi-version", default=DEFAULT_FASTAPI_VERSION, help="default: %(default)s")
    parser.add_argument("--sdist", type=Path, help="a local FastAPI sdist (.tar.gz): no download")
    parser.add_argument(
        "--cache-dir", type=Path, help=f"where downloaded sdists are kept (default: {default_cache_dir()})"
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it afterwards")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the full report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the Markdown report")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="only the tests pytest's -k EXPR selects")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per test (default: %(default)s)"
    )
    parser.add_argument(
        "--migrate-command",
        help="the migration command, run in the work folder with the paths of the files to migrate "
        "appended (default: lanner migrate --from fastapi)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        help=f"pytest processes for the runs against lanner (default here: {default_processes()})",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check and print the Markdown report; 2 when the check could not run."""
    args = build_parser().parse_args(argv)
    try:
        result = run_check(
            fastapi_version=args.fastapi_version,
            sdist=args.sdist,
            cache_dir=args.cache_dir,
            keep=args.keep,
            keyword=args.keyword,
            timeout=args.timeout,
            migrate_command=shlex.split(args.migrate_command) if args.migrate_command else None,
            shards=args.processes,
            quiet=args.quiet,
        )
    except CheckError as exc:
        print(f"compat: error: {exc}", file=sys.stderr)
        return 2
    markdown = report.render_markdown(result, result["meta"])
    print(markdown, end="")
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0
