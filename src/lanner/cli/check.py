"""``lanner check``: every mistake in the app's routes and its OpenAPI document, listed at once."""

from __future__ import annotations

import argparse
import os
import sys

from lanner.checks import check_app, collecting
from lanner.cli.targets import TargetError, load_target, target_of

__all__ = ["run_check"]


def run_check(args: argparse.Namespace) -> int:
    """Import TARGET collecting route errors, compile every route and build OpenAPI; list what fails.

    Returns:
        0 when the app is sound (one ``ok`` line), 1 when something is listed.

    Raises:
        TargetError: TARGET cannot be loaded or is not a lanner application.
    """
    target = target_of(args.target, args.app)
    with collecting() as found:
        app = load_target(target)
    if getattr(app, "routes", None) is None:
        raise TargetError(f"{target} is not a lanner application")
    problems = check_app(app, found)
    here = os.path.join(os.getcwd(), "")
    for problem in problems:
        # Files under the working directory are shown relative to it, as the other commands do.
        print(problem.removeprefix(here), file=sys.stderr)
    if problems:
        print(f"lanner check: {len(problems)} problem(s) in {target}", file=sys.stderr)
        return 1
    routes = len(app.routes)
    print(f"lanner check: ok: {routes} route(s) compiled and the OpenAPI document builds")
    return 0
