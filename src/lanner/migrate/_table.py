"""The data a source framework's codemod is driven by: where each name lives in lanner, call rules.

Nothing here needs LibCST, so the docs test and ``lanner migrate --help`` can read the tables
without it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

#: The reason given for a name no table row mentions.
NO_EQUIVALENT = "no lanner equivalent yet"


@dataclasses.dataclass(frozen=True)
class Home:
    """Where one imported name goes in lanner.

    Attributes:
        module: the lanner module to import it from; None when lanner has no equivalent.
        name: the name in lanner (the source name unless lanner renamed it).
        note: for a mapped name, something the user should know (reported as a note); for an
            unmapped one, the reason it stays.
    """

    module: str | None
    name: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Group:
    """Names of one or more source modules that share a lanner home: one row of the docs table.

    Attributes:
        sources: dotted source modules (``fastapi.responses``, ``starlette.responses``).
        home: the lanner module, or None when lanner has no equivalent.
        names: ``"Name"`` or ``"Old=New"`` entries; ``"*"`` is every name of the source modules and
            of their submodules.
        note: reported with each use (for an unmapped group: the reason).
    """

    sources: tuple[str, ...]
    home: str | None
    names: tuple[str, ...]
    note: str = ""

    def pairs(self) -> list[tuple[str, str]]:
        """The ``(source name, lanner name)`` pairs of this group."""
        result = []
        for entry in self.names:
            old, _, new = entry.partition("=")
            result.append((old, new or old))
        return result


@dataclasses.dataclass(frozen=True)
class CallRule:
    """What to check and rewrite in the keywords of a call.

    Attributes:
        label: how messages name the callee (``Lanner()``).
        accepted: the keywords lanner takes; None when it takes any (``**options``).
        renames: ``{source keyword: lanner keyword}``, rewritten in place.
        listify: renamed keywords whose value is wrapped in a list (``example=x`` → ``examples=[x]``).
        reasons: keywords always reported, with the reason (whether or not `accepted` has them).
        add: ``{keyword: Python source of its value}`` added when the call lacks it.
        signature: ``"module:qualname"`` of the lanner callable whose keywords are accepted too,
            read when migrating (so keywords lanner gained since the table was written pass).
        text_first: when set, a call whose first argument is a string literal is reported with it
            (``TemplateResponse("page.html", {"request": request})``, the request must come first).
    """

    label: str
    accepted: frozenset[str] | None = None
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    listify: frozenset[str] = frozenset()
    reasons: Mapping[str, str] = dataclasses.field(default_factory=dict)
    add: Mapping[str, str] = dataclasses.field(default_factory=dict)
    signature: str = ""
    text_first: str = ""

    def accepts(self, keyword: str) -> bool:
        """Whether lanner's callable takes `keyword` (per the table or its signature)."""
        if self.accepted is None or keyword in self.accepted:
            return True
        return keyword in _signature_keywords(self.signature)


@dataclasses.dataclass(frozen=True)
class MethodRule:
    """A method called on an object the module built from a mapped class (``app.get(...)``).

    Attributes:
        rename: the lanner method name when it differs.
        call: the rule for its keywords.
        reason: when set, the method has no lanner equivalent and each call is reported with it.
    """

    rename: str | None = None
    call: CallRule | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Table:
    """Everything one source framework's migration knows.

    Attributes:
        source: the framework's name as given to ``lanner migrate --from``.
        roots: the top-level packages whose imports are rewritten (``fastapi``, ``starlette``).
        groups: where each name goes (see `Group`).
        calls: call rules keyed by the lanner name of the callee (``Lanner``, ``Query``).
        methods: ``{lanner class name: {attribute: rule}}`` for objects the module builds from
            those classes (``app = FastAPI()`` then ``app.get(...)``).
        probes: ``{lanner class name: "module:qualname"}``: attributes used on such objects that
            an instance built with no arguments lacks are reported.
    """

    source: str
    roots: tuple[str, ...]
    groups: tuple[Group, ...]
    calls: Mapping[str, CallRule] = dataclasses.field(default_factory=dict)
    methods: Mapping[str, Mapping[str, MethodRule]] = dataclasses.field(default_factory=dict)
    probes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    _exact: dict[str, Home] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    _wildcard: dict[str, Home] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for group in self.groups:
            for source in group.sources:
                for old, new in group.pairs():
                    home = Home(group.home, new, group.note)
                    if old == "*":
                        self._wildcard[source] = home
                    else:
                        self._exact[f"{source}.{old}"] = home

    def covers(self, dotted: str) -> bool:
        """Whether `dotted` (a module or a name) belongs to one of the source's packages."""
        return dotted.partition(".")[0] in self.roots

    def lookup(self, qualified: str) -> Home | None:
        """Where the source name `qualified` (``fastapi.FastAPI``) goes; None if not a source name.

        A name no row mentions gets a `Home` with no module and the reason `NO_EQUIVALENT`.
        """
        if not self.covers(qualified):
            return None
        if qualified in self._exact:
            return self._exact[qualified]
        module, _, name = qualified.rpartition(".")
        while module:
            home = self._wildcard.get(module)
            if home is not None:
                return dataclasses.replace(home, name=name)
            module = module.rpartition(".")[0]
        return Home(None, name, NO_EQUIVALENT)

    def module_home(self, module: str) -> str | None:
        """The lanner module that stands for the source `module` (``fastapi`` → ``lanner``), if any."""
        for group in self.groups:
            if module in group.sources and group.home is not None:
                return group.home
        return None

    def lacks(self, kind: str, attribute: str) -> bool:
        """Whether a lanner `kind` object (``Lanner``) surely has no `attribute`."""
        target = self.probes.get(kind)
        if not target or attribute.startswith("__"):
            return False
        instance = _instance(target)
        return instance is not None and not hasattr(instance, attribute)


def _resolve(target: str) -> Any:
    module, _, qualname = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


@functools.cache
def _signature_keywords(target: str) -> frozenset[str]:
    if not target:
        return frozenset()
    try:
        parameters = inspect.signature(_resolve(target)).parameters.values()
    except (ImportError, AttributeError, TypeError, ValueError):
        return frozenset()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(parameter.name for parameter in parameters if parameter.kind in named)


@functools.cache
def _instance(target: str) -> object | None:
    try:
        return _resolve(target)()  # type: ignore[no-any-return]
    except Exception:  # a probe that cannot be built checks nothing
        return None


def markdown_rows(table: Table) -> list[str]:
    """The rows of the docs table of names, one per group, in table order."""
    rows = []
    for group in table.groups:
        sources = ", ".join(f"`{source}`" for source in group.sources)
        home = f"`{group.home}`" if group.home else "—"
        names = ", ".join(_cell(old, new) for old, new in group.pairs())
        note = group.note.replace("|", "\\|")
        rows.append(f"| {sources} | {names} | {home} | {note} |")
    return rows


def markdown_table(table: Table) -> str:
    """The docs table of names (a Markdown table with a header)."""
    head = ["| From | Names | lanner module | Note |", "| --- | --- | --- | --- |"]
    return "\n".join([*head, *markdown_rows(table)]) + "\n"


def _cell(old: str, new: str) -> str:
    if old == "*":
        return "every name"
    return f"`{old}` → `{new}`" if new != old else f"`{old}`"


def words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated list of names (keeps the tables compact)."""
    return tuple(text.split())


def keywords(*parts: str | Iterable[str]) -> frozenset[str]:
    """A set of keyword names from whitespace-separated strings and iterables."""
    result: set[str] = set()
    for part in parts:
        result.update(part.split() if isinstance(part, str) else part)
    return frozenset(result)
