"""`Config`: the application's settings dict, with Flask's loaders and their semantics.

A team moving from Flask keeps its settings files, its settings classes and its environment
variables as they are: ``from_pyfile``, ``from_object``, ``from_mapping``, ``from_file``,
``from_envvar``, ``from_prefixed_env`` and ``get_namespace`` behave as Flask's do. Only UPPERCASE
names are taken from files, objects and mappings, so helpers and imports in a settings module
never leak into the configuration.

Relative file names resolve against the config's ``root_path``: the application's folder, or its
instance folder when the application is created with ``instance_relative_config=True``.

Root path and instance path. Flask derives an application's folder from the import name passed to
``Flask(__name__)``. ``Lanner()`` takes no import name, so `caller_root_path` looks at the code that
creates the application instead: the folder of the first module on the call stack outside the
lanner package (a factory in ``myproject/__init__.py`` gives ``myproject/``), or the current
directory when that code has no file (a REPL, ``python -c``, a notebook). The instance folder
defaults to ``<that folder>/instance`` (`default_instance_path`). Unlike Flask, an installed
package does not get ``$PREFIX/var/<name>-instance``: pass ``instance_path=`` for that layout.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import sys
import types
from collections.abc import Callable, Mapping, MutableMapping
from typing import IO, Any, Generic, Protocol, Self, TypeVar, overload

__all__ = [
    "Config",
    "ConfigAttribute",
    "caller_root_path",
    "default_instance_path",
    "import_string",
    "resolve_instance_path",
]

_T = TypeVar("_T")

# A missing file, or a folder where a file was expected: what ``silent=True`` forgives. Anything
# else (permissions, I/O errors) is a real problem and raised even in silent mode, as Flask does.
_SILENT_ERRNOS = frozenset((errno.ENOENT, errno.EISDIR, errno.ENOTDIR))


class Config(dict[str, Any]):
    """A dict of settings that loads from files, objects, mappings and environment variables.

    Args:
        root_path: folder that relative file names given to the loaders resolve against.
        defaults: initial values, copied in as they are (any key, not only UPPERCASE ones).

    Attributes:
        root_path: as given.
    """

    def __init__(self, root_path: str | os.PathLike[str], defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(defaults or {})
        self.root_path = os.fspath(root_path)

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python settings file that an environment variable names (see `from_pyfile`).

        Args:
            variable_name: the environment variable holding the file name.
            silent: return False instead of raising when the variable is unset or empty, or the
                file does not exist.

        Returns:
            True when a file was loaded, False when ``silent`` let a problem pass.

        Raises:
            RuntimeError: the variable is unset or empty (unless ``silent``).
            OSError: the file cannot be read (see `from_pyfile`).
        """
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set, so the configuration could not "
                "be loaded. Set it to the path of a configuration file."
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(self, prefix: str = "LANNER", *, loads: Callable[[str], Any] = json.loads) -> bool:
        """Load every environment variable whose name starts with ``PREFIX_``.

        ``LANNER_PORT=8000`` sets ``config["PORT"] = 8000``: each value goes through ``loads``
        (JSON by default, so numbers, booleans, lists and objects keep their types) and stays a
        string when ``loads`` fails. A double underscore reaches into nested dicts:
        ``LANNER_DB__HOST=db`` sets ``config["DB"]["HOST"] = "db"``, creating ``config["DB"]``
        when it is missing. Variables are applied in sorted order, so ``LANNER_DB`` (a whole
        object) comes before ``LANNER_DB__HOST`` (one key of it).

        Args:
            prefix: the name prefix, without the trailing underscore.
            loads: turns a value's text into a Python value.

        Returns:
            True.

        Raises:
            TypeError: a double-underscore path goes through a value that is not a dict.
        """
        start = f"{prefix}_"
        for name in sorted(os.environ):
            if not name.startswith(start):
                continue
            text = os.environ[name]
            value: Any
            try:
                value = loads(text)
            except Exception:
                # Not JSON (a bare word, a path, a URL): the string itself is the value.
                value = text
            *parents, leaf = name[len(start) :].split("__")
            target: MutableMapping[str, Any] = self
            for part in parents:
                child = target.setdefault(part, {})
                if not isinstance(child, MutableMapping):
                    raise TypeError(
                        f"Cannot set {name}: config key {part!r} holds a {type(child).__name__}, not a dict"
                    )
                target = child
            target[leaf] = value
        return True

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Run a Python file as a module and load its UPPERCASE names (see `from_object`).

        Args:
            filename: the file, absolute or relative to ``root_path``. Any extension works
                (Flask projects often use ``.cfg``).
            silent: return False instead of raising when the file does not exist.

        Returns:
            True when the file was loaded, False when ``silent`` let a missing file pass.

        Raises:
            OSError: the file cannot be read; the message says "Unable to load configuration
                file" and names the file.
            Exception: whatever the file raises while it runs, with a note naming the file.
        """
        path = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError as exc:
            if silent and exc.errno in _SILENT_ERRNOS:
                return False
            exc.strerror = f"Unable to load configuration file ({exc.strerror})"
            raise
        try:
            # Compiled under its own name, so tracebacks and syntax errors point into the file.
            exec(compile(source, path, "exec"), module.__dict__)
        except BaseException as exc:
            exc.add_note(f"while loading configuration file {path!r}")
            raise
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of a module, class or any object.

        Args:
            obj: the object, or an import string naming it: ``"pkg.settings"``,
                ``"pkg.settings:Production"`` or ``"pkg.settings.Production"``. A class is read
                as it is, not instantiated, so properties need an instance.

        Raises:
            ImportError: an import string cannot be imported (see `import_string`).
        """
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file through a loader, keeping its UPPERCASE top-level keys.

        ``config.from_file("config.json", load=json.load)`` or, for TOML (whose loader wants
        bytes), ``config.from_file("config.toml", load=tomllib.load, text=False)``.

        Args:
            filename: the file, absolute or relative to ``root_path``.
            load: reads the open file and returns a mapping.
            silent: return False instead of raising when the file does not exist.
            text: open the file as UTF-8 text; False opens it in binary mode.

        Returns:
            True when the file was loaded, False when ``silent`` let a missing file pass.

        Raises:
            OSError: the file cannot be read; the message names the file.
            TypeError: ``load`` returned something other than a mapping.
            Exception: whatever ``load`` raises on bad content, with a note naming the file.
        """
        path = os.path.join(self.root_path, filename)
        try:
            file = open(path, encoding="utf-8") if text else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            if silent and exc.errno in _SILENT_ERRNOS:
                return False
            exc.strerror = f"Unable to load configuration file ({exc.strerror})"
            raise
        with file:
            try:
                data = load(file)
            except Exception as exc:
                exc.add_note(f"while loading configuration file {path!r}")
                raise
        if not isinstance(data, Mapping):
            raise TypeError(f"Configuration file {path!r} must hold a mapping, not {type(data).__name__}")
        return self.from_mapping(data)

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Load the UPPERCASE keys of a mapping and of keyword arguments (which win).

        Returns:
            True.
        """
        merged: dict[str, Any] = {}
        if mapping is not None:
            merged.update(mapping)
        merged.update(kwargs)
        for key, value in merged.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """Return the settings whose keys start with ``namespace``, as a new dict.

        With ``IMAGE_STORE_TYPE`` and ``IMAGE_STORE_PATH`` set, ``get_namespace("IMAGE_STORE_")``
        returns ``{"type": ..., "path": ...}``, ready to pass as keyword arguments.

        Args:
            namespace: the key prefix, usually ending with an underscore.
            lowercase: lowercase the returned keys.
            trim_namespace: drop the prefix from the returned keys.
        """
        found: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


class _HasConfig(Protocol):
    config: Config


class ConfigAttribute(Generic[_T]):
    """A class attribute that reads and writes one config key.

    ``testing = ConfigAttribute("TESTING", False)`` in a class body makes ``obj.testing`` read
    ``obj.config.get("TESTING", False)`` and ``obj.testing = True`` set the key.

    Args:
        key: the config key.
        default: what reading returns while the key is absent.
    """

    def __init__(self, key: str, default: _T) -> None:
        self.key = key
        self.default = default

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: _HasConfig, owner: type | None = None) -> _T: ...
    def __get__(self, obj: _HasConfig | None, owner: type | None = None) -> Self | _T:
        if obj is None:
            return self
        value: _T = obj.config.get(self.key, self.default)
        return value

    def __set__(self, obj: _HasConfig, value: _T) -> None:
        obj.config[self.key] = value


def import_string(name: str) -> Any:
    """Import the object an import string names.

    ``"pkg.mod:Obj.attr"`` imports ``pkg.mod`` and follows the attributes after the colon.
    Without a colon the longest importable module prefix is imported and the rest followed as
    attributes, so ``"pkg.mod.Obj"`` and ``"pkg.mod"`` both work.

    Raises:
        ImportError: nothing can be imported under that name, or an attribute is missing; the
            message names the whole string. An ImportError raised inside an existing module
            propagates as it is, so a broken settings module is not mistaken for a missing one.
    """
    if ":" in name:
        module_name, _, attrs = name.partition(":")
        module = _import_module(name, module_name)
        return _follow(name, module, attrs.split(".") if attrs else [])
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only "this module (or a parent) does not exist" means try a shorter prefix; a
            # missing import *inside* an existing module is that module's error.
            if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue
            raise
        return _follow(name, module, parts[cut:])
    raise ImportError(f"Cannot import {name!r}: no module named {parts[0]!r}", name=parts[0])


def _import_module(name: str, module_name: str) -> types.ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ImportError(f"Cannot import {name!r}: no module named {exc.name!r}", name=exc.name) from exc
        raise


def _follow(name: str, obj: Any, attrs: list[str]) -> Any:
    for attr in attrs:
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ImportError(f"Cannot import {name!r}: {obj!r} has no attribute {attr!r}") from None
    return obj


def caller_root_path() -> str:
    """Return the folder of the code creating the application (see the module docstring).

    Walks the call stack to the first frame outside the lanner package and returns the absolute
    folder of its module's file; the current directory when that module has no file.
    """
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        module_name = frame.f_globals.get("__name__", "")
        if module_name != "lanner" and not module_name.startswith("lanner."):
            filename = frame.f_globals.get("__file__")
            if isinstance(filename, str) and filename:
                return os.path.dirname(os.path.abspath(filename))
            return os.getcwd()
        frame = frame.f_back
    return os.getcwd()


def default_instance_path(root_path: str | os.PathLike[str]) -> str:
    """Return the default instance folder of an application rooted at ``root_path``.

    As in Flask: ``instance`` next to the top-level package the app's module belongs to
    (``project/instance`` for ``project/flaskr/__init__.py``), or next to a module outside any
    package (``project/instance`` for ``project/app.py``). The folder is not created: a project
    creates it when it first writes there (Flask's tutorial does ``os.makedirs(app.instance_path)``).
    """
    folder = os.fspath(root_path)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return os.path.join(folder, "instance")


def resolve_instance_path(
    instance_path: str | os.PathLike[str] | None, root_path: str | os.PathLike[str]
) -> str:
    """Return the instance folder to use: ``instance_path`` when given, else the default.

    Raises:
        ValueError: ``instance_path`` is relative. Relative to what would depend on the current
            directory at start-up, so it must be absolute, as in Flask.
    """
    if instance_path is None:
        return default_instance_path(root_path)
    path = os.fspath(instance_path)
    if not os.path.isabs(path):
        raise ValueError(f"instance_path must be an absolute path, not {path!r}")
    return path
