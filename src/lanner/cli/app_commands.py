"""The app's own commands (``@app.cli.command()``, click, as in Flask) and ``lanner --help``.

A command that is not one of lanner's is the app's: ``lanner --app TARGET init-db``, TARGET coming
from ``LANNER_APP`` when ``--app`` is not given, as Flask's ``FLASK_APP``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lanner.cli.targets import TargetError, load_target

__all__ = ["leading_options", "print_help", "run_app_command"]


def leading_options(argv: list[str]) -> tuple[str | None, bool, list[str]]:
    """Split off the options given before the command: ``--app TARGET`` and ``-h``/``--help``.

    Returns:
        The ``--app`` value (None without it), whether help was asked for, and the arguments from
        the command on.
    """
    app: str | None = None
    wants_help = False
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        token = argv[index]
        if token == "--app" and index + 1 < len(argv):
            app = argv[index + 1]
            index += 2
        elif token.startswith("--app="):
            app = token.removeprefix("--app=")
            index += 1
        elif token in ("-h", "--help"):
            wants_help = True
            index += 1
        else:
            break
    return app, wants_help, argv[index:]


def _app_commands(target: str) -> Any:
    """The app's ``click.Group`` of project commands (``app.cli``).

    Raises:
        TargetError: TARGET cannot be loaded, or has no ``cli`` group.
    """
    import click  # installed with uvicorn

    group = getattr(load_target(target), "cli", None)
    if not isinstance(group, click.Group):
        raise TargetError(f"{target} has no commands of its own (declare them with @app.cli.command())")
    return group


def run_app_command(target: str, args: list[str], prog_name: str) -> int:
    """Run one of the app's commands as click runs it: its output, its errors, its exit status."""
    group = _app_commands(target)
    try:
        # Standalone, as Flask runs its commands: click prints usage errors and exits with the
        # command's status. Not standalone, click would hand back what the command returns and a
        # ctx.exit() status alike, so a command returning 5 would exit with 5.
        group.main(args=args, prog_name=prog_name, standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        raise  # sys.exit("message"): Python prints it and exits with 1
    return 0  # pragma: no cover - standalone click always ends with SystemExit


def print_help(parser: argparse.ArgumentParser, target: str | None, *, explicit: bool) -> int:
    """Print lanner's help, then the app's own commands when an app is named."""
    import click  # installed with uvicorn

    parser.print_help()
    if target is None:
        return 0
    try:
        group = _app_commands(target)
    except TargetError as exc:
        print(f"\nlanner: error: {exc}", file=sys.stderr)
        return 2 if explicit else 0  # a stale LANNER_APP must not break lanner --help
    context = click.Context(group, info_name="lanner")
    rows: list[tuple[str, str]] = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is not None and not command.hidden:
            rows.append((name, command.get_short_help_str(limit=70)))
    print(f"\ncommands of {target}:")
    width = max((len(name) for name, _ in rows), default=0)
    for name, text in rows or [("(none)", "")]:
        print(f"  {name.ljust(width)}  {text}".rstrip())
    return 0
