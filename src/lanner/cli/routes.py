"""``lanner routes``: the app's routes as a table: methods, path, name, handler."""

from __future__ import annotations

import argparse
from typing import Any

from lanner.cli.targets import TargetError, load_target, target_of

__all__ = ["print_routes", "route_rows"]


def print_routes(args: argparse.Namespace) -> int:
    """Print TARGET's routes, WebSocket routes and mounts, one per line under a header; return 0.

    Raises:
        TargetError: TARGET cannot be loaded or is not a lanner application.
    """
    target = target_of(args.target, args.app)
    app = load_target(target)
    if getattr(app, "routes", None) is None:
        raise TargetError(f"{target} is not a lanner application")
    rows = [("METHODS", "PATH", "NAME", "HANDLER"), *route_rows(app)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def route_rows(app: Any) -> list[tuple[str, str, str, str]]:
    """One ``(methods, path, name, handler)`` row per route of `app`, then its WebSocket routes and mounts."""
    rows = [
        (",".join(sorted(route.methods)), route.path, route.name, _qualified(route.handler))
        for route in app.routes
    ]
    rows += [
        ("WEBSOCKET", route.path, route.name, _qualified(route.handler))
        for route in getattr(app, "websocket_routes", ())
    ]
    rows += [
        ("*", prefix + "/*", name or "", f"mount: {type(mounted).__name__}")
        for prefix, mounted, name in getattr(app, "_mounts", ())
    ]
    return rows


def _qualified(handler: Any) -> str:
    """``module.function`` for a handler."""
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
