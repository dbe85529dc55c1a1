"""``lanner new NAME``: a small project to start from, whose tests pass as created.

The files come from the ``project/`` folder beside this module. Each one ends in ``.tmpl`` (so
that no tool takes ``app.py.tmpl`` for one of lanner's modules) and may hold three placeholders,
replaced in the file names and the text: ``@project@`` (NAME), ``@package@`` (NAME as a Python
package: ``-`` becomes ``_``) and ``@version@`` (this lanner's version, the least the project
asks for).
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from lanner import __version__

__all__ = ["ScaffoldError", "create_project", "package_name"]

_TEMPLATE = Path(__file__).parent / "project"
_SUFFIX = ".tmpl"
#: Files whose real name cannot sit in lanner's own tree as it is (a dotfile) are renamed.
_RENAMED = {"gitignore": ".gitignore"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: Names that would shadow what the project imports (besides the standard library's modules).
_TAKEN = frozenset({"lanner", "pydantic", "jinja2", "pytest", "test", "tests"})


class ScaffoldError(Exception):
    """The project cannot be created: an invalid name, or its folder is already in use."""


def package_name(name: str) -> str:
    """The Python package of project `name`: lower case, ``-`` replaced by ``_``.

    Raises:
        ScaffoldError: `name` cannot name a project and its package.
    """
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"invalid project name {name!r}: use letters, digits, '-' and '_', starting with a letter "
            "(it names the folder and the Python package)"
        )
    package = name.replace("-", "_").lower()
    if keyword.iskeyword(package):
        raise ScaffoldError(f"invalid project name {name!r}: {package!r} is a Python keyword")
    if package in sys.stdlib_module_names or package in _TAKEN:
        raise ScaffoldError(
            f"invalid project name {name!r}: a package called {package!r} would hide the module "
            "of that name from the project's imports"
        )
    return package


def create_project(name: str, parent: Path) -> list[Path]:
    """Create project `name` in ``parent / name``.

    Args:
        name: the project's name (see `package_name`).
        parent: the folder to create it in.

    Returns:
        The files written, relative to `parent`: the top-level ones first.

    Raises:
        ScaffoldError: `name` is invalid, or ``parent / name`` is a file or a folder that is not
            empty.
    """
    package = package_name(name)
    root = parent / name
    if root.is_file() or (root.is_dir() and any(root.iterdir())):
        what = "a file" if root.is_file() else "a folder that is not empty"
        raise ScaffoldError(f"./{name} already exists and is {what}: choose another name, or move it away")
    values = {"@project@": name, "@package@": package, "@version@": __version__}
    written = []
    for template in sorted(_TEMPLATE.rglob("*" + _SUFFIX)):
        relative = template.relative_to(_TEMPLATE).with_name(template.name.removesuffix(_SUFFIX))
        relative = relative.with_name(_RENAMED.get(relative.name, relative.name))
        target = root / _fill(str(relative), values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_fill(template.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(target.relative_to(parent))
    return sorted(written, key=lambda path: (len(path.parts), str(path)))  # the top-level files first


def _fill(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder replaced by its value."""
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
