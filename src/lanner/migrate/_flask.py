"""Flask → lanner: rewrite a Flask project (a folder, a package or one file) to run on lanner.

    from lanner.migrate._flask import migrate_flask_paths

    report = migrate_flask_paths(["flaskr/"], write=False)
    for result in report.changed:
        print(result.diff())
    print(report)  # flaskr/db.py:12: g.pop(): use getattr(request.state, ...) ...

The whole project is read first (`_flask_scan`), so a helper that uses ``g`` in one module and
its callers in another agree. Each module then goes through three passes that record edits on
the original syntax tree: `_flask_routes` (apps, blueprints, routes, hooks), `_flask_views`
(Flask's request globals become parameters) and `_flask_imports` (imports, the report of what is
left); `ApplyEdits` makes them at once. Templates under ``templates`` folders are converted by
`lanner.migrate._flask_templates`. A file that cannot be parsed is reported and left untouched;
running the migration again changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from lanner.migrate import iter_python_files
from lanner.migrate._flask_base import ApplyEdits, Item, ProjectFacts
from lanner.migrate._flask_imports import ImportsPass, bound_names
from lanner.migrate._flask_names import detect_source
from lanner.migrate._flask_routes import RoutesPass
from lanner.migrate._flask_scan import Module, module_context, scan
from lanner.migrate._flask_views import ViewsPass
from lanner.migrate._report import FileResult, Finding, MigrationReport

__all__ = [
    "TEMPLATE_SUFFIXES",
    "detect_source",
    "iter_template_files",
    "migrate_flask_paths",
    "migrate_flask_source",
]

#: Files under a ``templates`` folder with these suffixes are converted as Jinja templates.
TEMPLATE_SUFFIXES = (".html", ".htm", ".jinja", ".jinja2", ".j2", ".xml", ".txt")
_ROOTS = (b"flask", b"werkzeug")
_NO_TEMPLATES = "templates were not converted: lanner.migrate._flask_templates is missing"


def _module_names(file: Path) -> tuple[str, str]:
    """The dotted module name of `file` and the package its relative imports start from."""
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.resolve().parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    package = parts if file.name == "__init__.py" else parts[:-1]
    return ".".join(parts), ".".join(package)


def _parse(path: str, code: bytes, folder: Path | None, module: str, package: str) -> Module:
    return Module(path, module, package, folder, MetadataWrapper(cst.parse_module(code)))


def _migrate(module: Module, facts: ProjectFacts, original: bytes) -> FileResult:
    ctx = module_context(module, facts)
    ctx.taken, ctx.existing = bound_names(module.wrapper.module)
    for visitor in (RoutesPass(ctx), ViewsPass(ctx), ImportsPass(ctx)):
        module.wrapper.visit(visitor)
    migrated = original
    if ctx.edits.by_node:
        migrated = module.wrapper.module.visit(ApplyEdits(ctx.edits)).bytes
        if not original[:1].isspace():
            # The first statement was a Flask import that went away: its blank lines go too.
            migrated = migrated.lstrip(b"\r\n")
    items = sorted(ctx.items, key=lambda item: (item.line, item.note, item.what))
    return FileResult(module.path, original, migrated, [_finding(module.path, item) for item in items])


def _finding(path: str, item: Item) -> Finding:
    return Finding(path, item.line, item.what, item.why, item.note)


def migrate_flask_source(code: str | bytes, *, path: str = "<string>") -> FileResult:
    """Migrate one Flask module's source on its own; nothing is written.

    Helpers, decorators and blueprints are looked for in this module only; `migrate_flask_paths`
    reads the whole project.

    Raises:
        libcst.ParserSyntaxError: `code` is not valid Python.
    """
    original = code.encode("utf-8") if isinstance(code, str) else code
    if not any(root in original for root in _ROOTS):
        return FileResult(path, original, original)
    file = Path(path)
    folder = file.parent if file.is_file() else None
    module, package = _module_names(file) if folder is not None else ("", "")
    parsed = _parse(path, original, folder, module, package)
    return _migrate(parsed, scan([parsed]), original)


def iter_template_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The template files under `paths`: files with a template suffix inside a ``templates`` folder.

    A Python file given alone brings the ``templates`` folder beside it (``app.py`` and
    ``templates/``, Flask's layout for a one-module app).
    """
    seen: set[Path] = set()
    for given in paths:
        root = Path(given)
        if root.is_file() and root.suffix == ".py":
            root = root.parent / "templates"
        if not root.is_dir():
            continue
        for folder, names, files in os.walk(root):
            names[:] = sorted(name for name in names if not name.startswith(".") and name != "__pycache__")
            if "templates" not in Path(folder).relative_to(root).parts and root.name != "templates":
                continue
            for name in sorted(files):
                path = Path(folder, name)
                if name.endswith(TEMPLATE_SUFFIXES) and path.resolve() not in seen:
                    seen.add(path.resolve())
                    yield path


def migrate_flask_paths(paths: Iterable[str | os.PathLike[str]], write: bool = True) -> MigrationReport:
    """Migrate a Flask project: its Python files and the templates under its ``templates`` folders.

    Args:
        paths: files and folders (searched for ``*.py`` files and templates).
        write: write the changed files back; False only reports (``--diff``).

    Raises:
        FileNotFoundError: a path does not exist (checked before any file is written).
    """
    paths = list(paths)
    files = list(iter_python_files(paths))
    report = MigrationReport(written=write)
    parsed: list[tuple[Module, bytes]] = []
    results: dict[Path, FileResult] = {}
    for file in files:
        original = file.read_bytes()
        if not any(root in original for root in _ROOTS):
            results[file] = FileResult(str(file), original, original)
            continue
        name, package = _module_names(file)
        try:
            parsed.append((_parse(str(file), original, file.parent, name, package), original))
        except cst.ParserSyntaxError as exc:
            results[file] = FileResult(
                str(file), original, original, error=f"line {exc.raw_line}: not valid Python"
            )
    facts = scan(module for module, _ in parsed)
    for module, original in parsed:
        try:
            results[Path(module.path)] = _migrate(module, facts, original)
        except Exception as exc:  # a bug must not stop the other files; the report names it
            results[Path(module.path)] = FileResult(
                module.path, original, original, error=f"migration failed: {exc!r}"
            )
    report.files.extend(results[file] for file in files)
    report.files.extend(_templates(paths))
    if write:
        for result in report.changed:
            Path(result.path).write_bytes(result.migrated)
    return report


def _templates(paths: list[str | os.PathLike[str]]) -> list[FileResult]:
    files = list(iter_template_files(paths))
    if not files:
        return []
    try:
        from lanner.migrate._flask_templates import convert_template
    except ImportError:
        return [FileResult(str(files[0]), b"", b"", error=_NO_TEMPLATES)]
    results = []
    for file in files:
        original = file.read_bytes()
        try:
            text, findings = convert_template(original.decode("utf-8"), str(file))
        except Exception as exc:  # a template the converter cannot read is reported, not fatal
            results.append(FileResult(str(file), original, original, error=f"template not converted: {exc}"))
            continue
        results.append(FileResult(str(file), original, text.encode("utf-8"), list(findings)))
    return results
