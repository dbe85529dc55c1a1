"""TARGET: how ``lanner run app.py`` (or ``shop.app:api``) finds the application it names.

A target is a module (``shop.app``) or a file path (``shop/app.py``), optionally followed by
``:attr`` or ``:factory()``. Everything that can go wrong on the way, from a folder given instead
of a file to a syntax error in the user's code, becomes a `TargetError` whose message is meant to
be printed as it is, without a traceback.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from lanner.app import Lanner
from lanner.cli.diagnostics import describe_import_failure

__all__ = [
    "AppLoadError",
    "TargetError",
    "app_attribute",
    "import_target_module",
    "lanner_apps_in",
    "load_target",
    "split_target",
    "target_of",
]

#: What a TARGET without ``:attr`` may name, as Flask looks for them: an app, then a factory.
_APP_NAMES = ("app", "application")
_FACTORY_NAMES = ("create_app", "make_app")
#: How many Python files of a folder are read to suggest the one that creates the app.
_FILES_READ = 50


class TargetError(Exception):
    """The TARGET argument does not name an importable application."""


class AppLoadError(TargetError):
    """TARGET's module exists, but importing it failed or it holds no application.

    ``lanner dev`` keeps watching then: the next save may fix it.
    """


def split_target(target: str) -> tuple[str, str, str | None]:
    """Turn TARGET into ``(module, attribute, directory to import from)``.

    TARGET is ``package.module:attr``, ``package.module`` (see `app_attribute` for what it finds),
    or a file path ``path/app.py`` optionally followed by ``:attr``; ``:create_app()`` calls a
    factory.

    Raises:
        TargetError: the file does not exist, is a folder, or the target is empty.
    """
    spec, _, attr = target.partition(":")
    attr = attr or "app"
    if not spec:
        raise TargetError(f"invalid target {target!r}: expected module:attr or a file path")
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec)
        if path.is_dir():
            raise TargetError(f"{spec} is a folder, not a Python file: {_folder_hint(spec, path)}")
        if not path.is_file():
            raise TargetError(f"no such file: {spec}{_close_files(path)}")
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


def _folder_hint(spec: str, folder: Path) -> str:
    """``did you mean shop/app.py?`` when files of the folder create a `Lanner`, else what to give."""
    shown = spec.rstrip("/" + os.sep)
    candidates = [f"{shown}/{name}" for name in _files_creating_an_app(folder)]
    if candidates:
        return f"did you mean {' or '.join(candidates[:3])}?"
    return f"name the Python file that creates the app, such as {shown}/app.py"


def _files_creating_an_app(folder: Path) -> list[str]:
    """The names of the Python files directly in `folder` that call ``Lanner(``, app.py first."""
    files = sorted(folder.glob("*.py"), key=lambda path: (path.name != "app.py", path.name))
    found = []
    for path in files[:_FILES_READ]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "Lanner(" in text:
            found.append(path.name)
    return found


def _close_files(path: Path) -> str:
    """`` (did you mean app.py?)`` when a Python file beside the missing one has a close name."""
    if not path.parent.is_dir():
        return ""
    names = [entry.name for entry in path.parent.glob("*.py")]
    # A high cutoff: a typo (apps.py, ap.py), not any file sharing the project's prefix.
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.8)
    return f" (did you mean {path.with_name(close[0])}?)" if close else ""


def import_target_module(module_name: str, directory: str | None) -> ModuleType:
    """Import TARGET's module, from `directory` (a file target) or the working directory.

    Raises:
        TargetError: no such module, or a folder without ``__init__.py``.
        AppLoadError: importing it failed: a syntax error, a missing dependency, an exception
            raised by the module's code. The message points at the user's file and line.
    """
    if directory is not None and directory not in sys.path:
        sys.path.insert(0, directory)
    elif directory is None and "" not in sys.path and os.getcwd() not in sys.path:
        # The console script's sys.path holds its own folder, not the one it was started from.
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise TargetError(
                f"cannot import {module_name!r}: no module named {exc.name!r} in {os.getcwd()} "
                "(give a file path such as app.py, or run lanner from the project's folder)"
            ) from None
        raise AppLoadError(describe_import_failure(exc, f"cannot import {module_name!r}")) from None
    except Exception as exc:  # anything the module's own code raises while it is imported
        raise AppLoadError(describe_import_failure(exc, f"cannot import {module_name!r}")) from None
    if getattr(module, "__file__", None) is None and hasattr(module, "__path__"):
        # A folder without __init__.py imports as an empty namespace package: say what it is.
        shown = module_name.replace(".", "/")
        folder = Path(next(iter(module.__path__), shown))
        raise TargetError(
            f"{module_name!r} is a folder without __init__.py, not a module: {_folder_hint(shown, folder)}"
        )
    return module


def load_target(target: str) -> Any:
    """Import and return the object TARGET names (calling it when it names a factory).

    Raises:
        TargetError: TARGET names nothing importable.
        AppLoadError: its module fails to import, lacks the attribute, or the factory fails.
    """
    module_name, attr, directory = split_target(target)
    module = import_target_module(module_name, directory)
    name, is_factory = app_attribute(module, attr, explicit=":" in target, spec=target.partition(":")[0])
    found = getattr(module, name)
    if not is_factory:
        return found
    try:
        return found()
    except Exception as exc:  # the factory is the user's code: point at it as an import failure
        raise AppLoadError(describe_import_failure(exc, f"{name}() of {module_name!r} failed")) from None


def app_attribute(module: Any, attr: str, *, explicit: bool, spec: str | None = None) -> tuple[str, bool]:
    """The module attribute holding the app, and whether it is a factory to call with no arguments.

    ``module:create_app()`` names a factory. Without ``:attr``, ``app`` or ``application`` is the
    app, else a ``create_app`` or ``make_app`` function builds it (Flask's application factory).

    Args:
        module: the imported module.
        attr: the attribute TARGET names (``app`` when it names none).
        explicit: whether TARGET named the attribute; an explicit name is not second-guessed.
        spec: TARGET without its ``:attr`` (a file path or a module), used to write suggestions as
            the user would type them; the module's name when not given.

    Raises:
        AppLoadError: the module has none of them; the message lists the `Lanner` apps it has.
    """
    if attr.endswith("()"):
        name = attr[:-2]
        if not callable(getattr(module, name, None)):
            raise AppLoadError(
                f"module {module.__name__!r} has no function {name!r}{_suggestion(module, spec)}"
            )
        return name, True
    if hasattr(module, attr):
        return attr, False
    if not explicit:
        for name in _APP_NAMES:
            if hasattr(module, name):
                return name, False
        for name in _FACTORY_NAMES:
            if callable(getattr(module, name, None)):
                return name, True
    raise AppLoadError(f"module {module.__name__!r} has no attribute {attr!r}{_suggestion(module, spec)}")


def lanner_apps_in(module: Any) -> list[str]:
    """The names of the module's globals that hold a `Lanner` application, in definition order."""
    return [
        name for name, value in vars(module).items() if isinstance(value, Lanner) and not name.startswith("_")
    ]


def _suggestion(module: Any, spec: str | None) -> str:
    """``; did you mean named.py:api?``, or how to create an app when the module has none."""
    names = lanner_apps_in(module)
    spec = spec or module.__name__
    if not names:
        return " and no Lanner app (create one: app = Lanner())"
    targets = [f"{spec}:{name}" for name in names]
    if len(targets) == 1:
        return f"; did you mean {targets[0]}?"
    if len(targets) == 2:
        return f"; did you mean {targets[0]} or {targets[1]}?"
    return f"; did you mean one of {', '.join(targets[:-1])} or {targets[-1]}?"


def target_of(target: str | None, app: str | None) -> str:
    """The command's TARGET, else ``--app``, else ``LANNER_APP``.

    Raises:
        TargetError: none of them is given.
    """
    chosen = target or app or os.environ.get("LANNER_APP")
    if not chosen:
        raise TargetError(
            "no TARGET given: name the app (module:attr or a file path), use --app or set LANNER_APP"
        )
    return str(chosen)
