"""``lanner migrate``: rewrite code written for Flask or FastAPI to lanner, and report what is left."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lanner.cli.targets import TargetError

__all__ = ["run_migrate"]


def run_migrate(args: argparse.Namespace) -> int:
    """Rewrite the code at ``args.paths`` to lanner (or print the diff), then print the report.

    Returns:
        0, or 1 when LibCST is missing or a Flask project has something left for a person to do.

    Raises:
        TargetError: a path does not exist, or the framework cannot be told.
    """
    from lanner.migrate import MissingDependencyError, migrate_paths
    from lanner.migrate._flask_names import detect_source

    try:
        source = args.source or detect_source(args.paths)
        if source is None and detect_source(args.paths, lanner=True):
            print("nothing to migrate: the code imports lanner and neither Flask nor FastAPI")
            return 0
        if source is None:
            raise TargetError(
                "cannot tell which framework the code is written for: pass --from flask|fastapi"
            )
        report = migrate_paths(args.paths, source, write=not args.diff, openapi_compat=args.openapi_compat)
    except FileNotFoundError as exc:
        raise TargetError(str(exc)) from None
    except MissingDependencyError as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 1
    if args.diff:
        for result in report.changed:
            sys.stdout.write(result.diff())
    lines = report.lines()
    if args.report:
        Path(args.report).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        print(line)
    # Flask: 1 when something is left for a person to do. FastAPI's codemod keeps its exit status 0.
    if source == "flask" and (report.unmapped or report.errors):
        return 1
    return 0
