"""The ``lanner`` command: serve an app, serve it for development, list its routes, migrate code."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lanner.migrate import SOURCES
from lanner.openapi.diff import main as diff_main


class TargetError(Exception):
    """The TARGET argument does not name an importable application."""


def split_target(target: str) -> tuple[str, str, str | None]:
    """Turn TARGET into ``(module, attribute, directory to import from)``.

    TARGET is ``package.module:attr``, ``package.module`` (attribute ``app``), or a file path
    ``path/app.py`` optionally followed by ``:attr``.

    Raises:
        TargetError: the file does not exist or the target is empty.
    """
    spec, _, attr = target.partition(":")
    attr = attr or "app"
    if not spec:
        raise TargetError(f"invalid target {target!r}: expected module:attr or a file path")
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise TargetError(f"no such file: {spec}")
        module, directory = _module_of(path.resolve())
        return module, attr, directory
    return spec, attr, None


def _module_of(path: Path) -> tuple[str, str]:
    """The dotted module name of a file and the folder to import it from.

    A file inside packages (folders with ``__init__.py``) is imported as part of them, as Flask
    does, so its relative imports work: ``examples/bookshelf/app.py`` is ``examples.bookshelf.app``
    imported from the folder above ``examples`` when ``examples`` is a package, else
    ``bookshelf.app`` from ``examples``.
    """
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), str(folder)


def load_target(target: str) -> Any:
    """Import and return the object TARGET names.

    Raises:
        TargetError: the module cannot be imported or lacks the attribute.
    """
    module_name, attr, directory = split_target(target)
    if directory is not None and directory not in sys.path:
        sys.path.insert(0, directory)
    elif directory is None and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None


def _serve(args: argparse.Namespace, *, reload: bool, debug: bool) -> int:
    import uvicorn

    module_name, attr, directory = split_target(args.target)
    app = load_target(args.target)  # fail fast with a clear message before uvicorn starts
    if debug:
        os.environ["LANNER_DEBUG"] = "1"
    options: dict[str, Any] = {}
    if (largest := _largest_websocket_message(app)) is not None:
        options["ws_max_size"] = largest
    uvicorn.run(
        f"{module_name}:{attr}",
        host=args.host,
        port=args.port,
        workers=None if reload else args.workers,
        reload=reload,
        reload_dirs=[directory or os.getcwd()] if reload else None,
        app_dir=directory or os.getcwd(),
        log_level=args.log_level,
        **options,
    )
    return 0


def _largest_websocket_message(app: Any) -> int | None:
    """The largest message any WebSocket route of `app` (or of a lanner app mounted in it) accepts.

    uvicorn then refuses bigger frames itself; without it uvicorn buffers up to 16 MiB of a
    message before lanner sees it is over the limit. None for an app that is not lanner's.
    """
    limits = getattr(app, "websocket_limits", None)
    if limits is None:
        return None
    sizes: list[int] = [limits.max_message_size]
    sizes += [r.options.max_message_size for r in app.websocket_routes if r.options.max_message_size]
    for _, mounted, _ in getattr(app, "_mounts", ()):
        if (size := _largest_websocket_message(mounted)) is not None:
            sizes.append(size)
    return max(sizes)


def _routes(args: argparse.Namespace) -> int:
    app = load_target(args.target)
    routes = getattr(app, "routes", None)
    if routes is None:
        raise TargetError(f"{args.target} is not a lanner application")
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    for route in routes:
        handler = route.handler
        rows.append(
            (
                ",".join(sorted(route.methods)),
                route.path,
                route.name,
                f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}",
            )
        )
    for route in getattr(app, "websocket_routes", ()):
        handler = route.handler
        rows.append(
            (
                "WEBSOCKET",
                route.path,
                route.name,
                f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}",
            )
        )
    for prefix, mounted, name in getattr(app, "_mounts", ()):
        rows.append(("*", prefix + "/*", name or "", f"mount: {type(mounted).__name__}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (``lanner openapi``) or the AsyncAPI one (``lanner asyncapi``)."""
    app = load_target(args.target)
    build = getattr(app, args.command, None)
    if not callable(build):
        raise TargetError(f"{args.target} is not a lanner application")
    document = build()
    if args.yaml:
        import yaml  # type: ignore[import-untyped]

        text = yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from lanner.migrate import MissingDependencyError, migrate_paths

    try:
        report = migrate_paths(
            args.paths, args.source, write=not args.diff, openapi_compat=args.openapi_compat
        )
    except FileNotFoundError as exc:
        raise TargetError(str(exc)) from None
    except MissingDependencyError as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 1
    if args.diff:
        for result in report.changed:
            sys.stdout.write(result.diff())
    for line in report.lines():
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``lanner`` command."""
    parser = argparse.ArgumentParser(prog="lanner", description="Serve and inspect lanner apps.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "serve the app with uvicorn"),
        ("dev", "serve with auto-reload and debug tracebacks"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("target", help="module:attr, or a file path such as app.py")
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
        command.add_argument(
            "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"]
        )
        if name == "run":
            command.add_argument("--workers", type=int, default=1)
            command.add_argument("--reload", action="store_true")
    routes = commands.add_parser(
        "routes", help="print the app's routes", description="print the app's routes"
    )
    routes.add_argument("target", help="module:attr, or a file path such as app.py")
    openapi = commands.add_parser(
        "openapi",
        help="write the OpenAPI document; 'lanner openapi diff OLD NEW' compares two",
        description="Write the app's OpenAPI document with sorted keys, ready to commit and diff. "
        "'lanner openapi diff OLD NEW [--format text|json]' reports the changes between two "
        "documents and exits 1 when any is breaking.",
    )
    asyncapi = commands.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of the app's WebSocket routes",
        description="Write the AsyncAPI 3.0 document of the app's WebSocket routes (channels, "
        "handshake parameters, message schemas) with sorted keys.",
    )
    for command in (openapi, asyncapi):
        command.add_argument("target", help="module:attr, or a file path such as app.py")
        command.add_argument("-o", "--output", help="write to FILE instead of standard output")
        command.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    migrate = commands.add_parser(
        "migrate",
        help="rewrite an app written for another framework to lanner",
        description="Rewrite imports, names and keywords of code written for another framework to "
        "lanner's, in place; list what has no lanner equivalent as path:line: message. Running it "
        "again changes nothing. Needs LibCST: pip install 'lanner[migrate]'.",
    )
    migrate.add_argument("--from", dest="source", required=True, choices=SOURCES, help="the framework")
    migrate.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders searched for *.py")
    migrate.add_argument("--diff", action="store_true", help="print a unified diff; write nothing")
    migrate.add_argument(
        "--no-openapi-compat",
        dest="openapi_compat",
        action="store_false",
        help="FastAPI: keep lanner's OpenAPI conventions (add no openapi_compat= to Lanner())",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lanner`` command; return its exit status (2 for a bad target or path, 1 without LibCST)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["openapi", "diff"]:
        return diff_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _serve(args, reload=args.reload, debug=False)
        if args.command == "dev":
            return _serve(args, reload=True, debug=True)
        if args.command in ("openapi", "asyncapi"):
            return _openapi(args)
        if args.command == "migrate":
            return _migrate(args)
        return _routes(args)
    except TargetError as exc:
        print(f"lanner: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
