"""``lanner new NAME``: create a project to start from, then say how to run it and its tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from lanner.scaffold import create_project, package_name

__all__ = ["create"]


def create(args: argparse.Namespace) -> int:
    """Create project ``args.name`` in the working directory, list its files and the next steps; return 0.

    Raises:
        ScaffoldError: the name is invalid or its folder is in use.
    """
    written = create_project(args.name, Path.cwd())
    package = package_name(args.name)
    print(f"created {args.name}/:")
    for path in written:
        print(f"  {path.as_posix()}")
    print(
        "\nnext:\n"
        f"  cd {args.name}\n"
        "  python3 -m venv .venv && .venv/bin/pip install -e '.[test]'\n"
        f"  .venv/bin/lanner dev {package}/app.py    # http://127.0.0.1:8000\n"
        "  .venv/bin/python -m pytest"
    )
    return 0
