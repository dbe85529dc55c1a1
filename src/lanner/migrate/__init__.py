"""``lanner migrate``: rewrite an app written for another framework to lanner's API.

    from lanner.migrate import migrate_paths

    report = migrate_paths(["app/"], source="fastapi", write=False)
    for result in report.changed:
        print(result.diff())
    for finding in report.unmapped:
        print(finding)  # app/main.py:12: fastapi.WebSocket: lanner has no WebSocket support yet

Imports are rewritten to lanner's modules (renaming the references of ``FastAPI``, ``APIRouter``
and ``Jinja2Templates`` with scope analysis), keywords lanner spells differently are rewritten, and
whatever has no lanner equivalent is left in place and listed in the report with its file and line.
Running it again changes nothing. It needs LibCST: ``pip install 'lanner[migrate]'``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from lanner.migrate._report import FileResult, Finding, MigrationReport

if TYPE_CHECKING:
    from lanner.migrate._table import Table

__all__ = [
    "MISSING_LIBCST",
    "SOURCES",
    "FileResult",
    "Finding",
    "MigrationReport",
    "MissingDependencyError",
    "iter_python_files",
    "migrate_paths",
    "migrate_source",
    "names_table",
]

#: The frameworks ``lanner migrate --from`` knows, and the modules holding their tables.
_TABLES = {"fastapi": "lanner.migrate._fastapi"}
#: Flask has no rename table: its own transformers (`lanner.migrate._flask`) rewrite whole views.
SOURCES = (*_TABLES, "flask")
MISSING_LIBCST = "lanner migrate needs LibCST: pip install 'lanner[migrate]'"
_SKIPPED_FOLDERS = frozenset(("__pycache__", "node_modules", "site-packages"))


class MissingDependencyError(ImportError):
    """LibCST, which the migration needs, is not installed."""


def _get_table(source: str) -> Table:
    if source not in _TABLES:
        raise ValueError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    table: Table = importlib.import_module(_TABLES[source]).TABLE
    return table


def _load_codemod() -> ModuleType:
    try:
        import libcst  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(MISSING_LIBCST) from exc
    return importlib.import_module("lanner.migrate._codemod")


def names_table(source: str = "fastapi") -> str:
    """The Markdown table of where each name of `source` goes in lanner (the docs print it).

    Raises:
        ValueError: `source` is not one of `SOURCES`.
    """
    if source == "flask":
        from lanner.migrate._flask_names import markdown_table as flask_table

        return flask_table()
    from lanner.migrate._table import markdown_table

    return markdown_table(_get_table(source))


def migrate_source(
    code: str | bytes, source: str = "fastapi", *, path: str = "<string>", openapi_compat: bool = True
) -> FileResult:
    """Migrate one module's source code; nothing is written.

    Args:
        code: the module's source (bytes keep its encoding and line endings).
        source: the framework it was written for, one of `SOURCES`.
        path: the name findings are reported under.
        openapi_compat: FastAPI only: add ``openapi_compat="fastapi"`` (and FastAPI's default
            ``title="FastAPI"`` when none is given) to ``Lanner(...)`` so the OpenAPI document keeps
            FastAPI's title, operation ids and summaries.

    Raises:
        MissingDependencyError: LibCST is not installed.
        ValueError: `source` is not one of `SOURCES`.
        libcst.ParserSyntaxError: `code` is not valid Python.
    """
    if source == "flask":
        _load_codemod()
        from lanner.migrate._flask import migrate_flask_source

        return migrate_flask_source(code, path=path)
    table = _get_table(source)
    codemod = _load_codemod()
    original = code.encode("utf-8") if isinstance(code, str) else code
    skip = frozenset() if openapi_compat else frozenset({"openapi_compat", "title"})
    migrated, items = codemod.migrate_module(original, table, skip_additions=skip)
    findings = [Finding(path, item.line, item.what, item.why, item.note) for item in items]
    return FileResult(path, original, migrated, findings)


def iter_python_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files given and the ``*.py`` files under the folders given, sorted within each folder.

    Hidden folders, ``__pycache__``, ``node_modules``, ``site-packages`` and virtual environments
    (folders holding ``pyvenv.cfg``) are skipped.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    for given in paths:
        path = Path(given)
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from _walk(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {given}")


def _walk(folder: Path) -> Iterator[Path]:
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".")
            and name not in _SKIPPED_FOLDERS
            and not (Path(root, name) / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(root, name)


def migrate_paths(
    paths: Iterable[str | os.PathLike[str]],
    source: str = "fastapi",
    write: bool = True,
    *,
    openapi_compat: bool = True,
) -> MigrationReport:
    """Migrate the Python files given or found under the folders given.

    A file that cannot be parsed is left untouched and listed in `MigrationReport.errors`.

    Args:
        paths: files and folders (searched for ``*.py`` files recursively).
        source: the framework the code was written for, one of `SOURCES`.
        write: write the changed files back; False only reports (``--diff``).
        openapi_compat: see `migrate_source`.

    A Flask project's templates are converted too (``g.x`` to ``request.state.x``...).

    Raises:
        MissingDependencyError: LibCST is not installed.
        ValueError: `source` is not one of `SOURCES`.
        FileNotFoundError: a path does not exist (checked before any file is written).
    """
    if source == "flask":
        _load_codemod()
        from lanner.migrate._flask import migrate_flask_paths

        return migrate_flask_paths(paths, write)
    _get_table(source)
    codemod = _load_codemod()
    files = list(iter_python_files(paths))
    report = MigrationReport(written=write)
    for file in files:
        original = file.read_bytes()
        try:
            result = migrate_source(original, source, path=str(file), openapi_compat=openapi_compat)
        except codemod.cst.ParserSyntaxError as exc:
            result = FileResult(str(file), original, original, error=f"line {exc.raw_line}: not valid Python")
        except Exception as exc:  # a bug must not stop the other files; the report names it
            result = FileResult(str(file), original, original, error=f"migration failed: {exc!r}")
        if write and result.changed:
            file.write_bytes(result.migrated)
        report.files.append(result)
    return report
