"""The LibCST codemod every source framework shares, driven by a `Table`.

A first pass (`_Collector`) reads the module with scope and qualified-name metadata and records
edits keyed by the original nodes; a second pass (`_apply.Apply`) makes them, so the formatting and the
comments of everything else are kept. This module imports LibCST: import it only when migrating.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    Assignment,
    BaseAssignment,
    ImportAssignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)

from lanner.migrate._apply import Apply, Edits
from lanner.migrate._imports import import_from_statements, import_statements
from lanner.migrate._table import CallRule, Home, Table

_STAR = "a star import cannot be migrated; import the names you use instead"


@dataclasses.dataclass(frozen=True)
class Item:
    """Something the report lists: at `line`, `what` is unmapped (or, with `note`, changed) because `why`."""

    line: int
    what: str
    why: str
    note: bool = False


def migrate_module(
    code: bytes, table: Table, *, skip_additions: frozenset[str] = frozenset()
) -> tuple[bytes, list[Item]]:
    """Migrate one module's source; return the new source and what the report should list.

    A module that imports nothing from the table's packages is returned as is, with no items.

    Raises:
        libcst.ParserSyntaxError: `code` is not valid Python.
    """
    if not any(root.encode() in code for root in table.roots):
        return code, []
    wrapper = MetadataWrapper(cst.parse_module(code))
    collector = _Collector(table, skip_additions)
    wrapper.visit(collector)
    if not collector.found:
        return code, []
    migrated = wrapper.module.visit(Apply(collector.edits))
    items = sorted(collector.items, key=lambda item: (item.line, item.note, item.what))
    return migrated.bytes, items


class _Collector(cst.CSTVisitor):
    """Read the module and record the edits and the report's items."""

    METADATA_DEPENDENCIES = (ScopeProvider, QualifiedNameProvider, PositionProvider, ParentNodeProvider)

    def __init__(self, table: Table, skip_additions: frozenset[str]) -> None:
        super().__init__()
        self.table = table
        self.skip_additions = skip_additions
        self.found = False
        self.edits = Edits()
        self.items: list[Item] = []
        self._instances: dict[cst.CSTNode, str] = {}
        self._members: list[tuple[cst.Attribute, cst.Name]] = []
        self._bound: dict[str, list[BaseAssignment]] | None = None
        self._planned: set[cst.CSTNode] = set()

    # -- helpers -----------------------------------------------------------------------------

    def _line(self, node: cst.CSTNode) -> int:
        return int(self.get_metadata(PositionProvider, node).start.line)

    def _report(self, node: cst.CSTNode | int, what: str, why: str, *, note: bool = False) -> None:
        line = node if isinstance(node, int) else self._line(node)
        item = Item(line, what, why, note)
        if item not in self.items:
            self.items.append(item)

    def _home(self, expression: cst.BaseExpression) -> Home | None:
        """The mapped lanner home of what `expression` names, when it comes from a source import."""
        for qualified in self.get_metadata(QualifiedNameProvider, expression, set()):
            home = self.table.lookup(qualified.name)
            if home is not None and home.module is not None:
                return home
        return None

    def _scope(self, node: cst.CSTNode) -> Scope:
        scope = self.get_metadata(ScopeProvider, node)
        assert scope is not None, "every statement has a scope"
        return scope

    def _own_assignments(self, node: cst.CSTNode) -> list[BaseAssignment]:
        return [assignment for assignment in self._scope(node).assignments if _node(assignment) is node]

    def _all_bindings(self) -> dict[str, list[BaseAssignment]]:
        if self._bound is None:
            self._bound = {}
            for scope in set(self.metadata[ScopeProvider].values()):
                for assignment in cast(Scope, scope).assignments:
                    self._bound.setdefault(assignment.name, []).append(assignment)
        return self._bound

    def _binds_lanner(self, assignment: BaseAssignment, name: str) -> bool:
        """Whether `assignment` binds lanner's `name` (once migrated): ``from fastapi import X``."""
        node = _node(assignment)
        if not isinstance(assignment, ImportAssignment) or not isinstance(node, cst.ImportFrom):
            return False
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if node.relative or not module or isinstance(node.names, cst.ImportStar):
            return False
        imported = next(
            alias.evaluated_name
            for alias in node.names
            if (alias.evaluated_alias or alias.evaluated_name) == assignment.name
        )
        if module == "lanner" or module.startswith("lanner."):
            return imported == name
        home = self.table.lookup(f"{module}.{imported}")
        return home is not None and home.module is not None and home.name == name

    # -- imports -----------------------------------------------------------------------------

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        """Map each imported name to its lanner module; split, rename and report."""
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if node.relative or not module or not self.table.covers(module):
            return
        self.found = True
        if isinstance(node.names, cst.ImportStar):
            self._report(node, f"from {module} import *", _STAR)
            return
        groups: dict[str, list[cst.ImportAlias]] = {}
        changed = False
        for alias in node.names:
            name = alias.evaluated_name
            qualified = f"{module}.{name}"
            home = self.table.lookup(qualified)
            if home is None or home.module is None:
                groups.setdefault(module, []).append(alias)
                self._report_unmapped(node, alias.evaluated_alias or name, qualified, home)
                continue
            changed = True
            if home.note:
                self._report(node, qualified, f"became {home.module}.{home.name}: {home.note}", note=True)
            new = alias.with_changes(name=cst.Name(home.name))
            if alias.asname is None and home.name != name and not self._rename(node, name, home.name):
                new = new.with_changes(asname=cst.AsName(name=cst.Name(name)))
            group = groups.setdefault(home.module, [])
            if not any(_same_alias(new, other) for other in group):
                group.append(new)
        if changed:
            self.edits.statements[node] = import_from_statements(node, groups)

    def _report_unmapped(self, node: cst.ImportFrom, local: str, qualified: str, home: Home | None) -> None:
        why = home.note if home is not None else ""
        self._report(node, qualified, why)
        line = self._line(node)
        for assignment in self._own_assignments(node):
            if assignment.name == local:
                for access in assignment.references:
                    self._report(access.node, local, f"{why} (imported at line {line})")

    def _rename(self, node: cst.ImportFrom, old: str, new: str) -> bool:
        """Rename the references bound by this import; False when that could change their meaning."""
        bindings = self._all_bindings()
        if any(not self._binds_lanner(other, new) for other in bindings.get(new, [])):
            return False
        own = [assignment for assignment in self._own_assignments(node) if assignment.name == old]
        if any(not self._binds_lanner(other, new) for other in self._scope(node).assignments[old]):
            return False
        for assignment in own:
            for access in assignment.references:
                if isinstance(access.node, cst.SimpleString):  # a string annotation: "FastAPI"
                    self.edits.strings.setdefault(access.node, []).append((old, new))
                else:
                    self.edits.names[cast(cst.Name, access.node)] = new
        return True

    def visit_Import(self, node: cst.Import) -> None:
        """``import fastapi``: rewrite each ``fastapi.X`` use to its lanner module and import that."""
        kept: list[cst.ImportAlias] = []
        added: dict[tuple[str, str | None], None] = {}
        changed = False
        for alias in node.names:
            dotted = alias.evaluated_name
            if not self.table.covers(dotted):
                kept.append(alias)
                continue
            self.found = True
            needed, keep = self._plan_module_import(node, dotted, alias.evaluated_alias)
            if keep:
                kept.append(alias)
            else:
                changed = True
            for home_module, asname in needed:
                added[(home_module, asname)] = None
                changed = True
        if changed:
            self.edits.statements[node] = import_statements(node, kept, list(added))

    def _plan_module_import(
        self, node: cst.Import, dotted: str, asname: str | None
    ) -> tuple[list[tuple[str, str | None]], bool]:
        """Plan the uses of one ``import source.module``; return the imports needed and whether to keep it."""
        keep = False
        plans: list[tuple[cst.Attribute, Home]] = []
        for assignment in self._own_assignments(node):
            if not _binds(assignment.name, dotted, asname):
                continue
            for access in assignment.references:
                # `import fastapi` and `import fastapi.responses` both bind `fastapi`: the first
                # import that sees a use plans it.
                if access.node in self._planned:
                    continue
                self._planned.add(access.node)
                target = self._resolve_use(access.node, dotted, asname)
                if target is None:
                    keep = True
                else:
                    plans.append(target)
        counterpart = self.table.module_home(dotted)
        needed: dict[tuple[str, str | None], None] = {}
        for attribute, home in plans:
            module = home.module or ""
            alias = asname if asname is not None and not keep and module == counterpart else None
            self.edits.expressions[attribute] = f"{alias or module}.{home.name}"
            needed[(module, alias)] = None
        if not needed and not keep:
            if counterpart is None:
                unmapped = self.table.lookup(dotted)
                self._report(node, dotted, unmapped.note if unmapped is not None else "")
                keep = True
            else:
                needed[(counterpart, asname)] = None
        return list(needed), keep

    def _resolve_use(
        self, use: cst.CSTNode, dotted: str, asname: str | None
    ) -> tuple[cst.Attribute, Home] | None:
        """The attribute chain `use` starts and its lanner home; None (reported) when it has none."""
        base = get_full_name_for_node(use) or ""
        real = dotted if asname is not None and base == asname else base
        chain: list[cst.Attribute] = []
        current = use
        while True:
            parent = self.get_metadata(ParentNodeProvider, current, None)
            if not isinstance(parent, cst.Attribute) or parent.value is not current:
                break
            chain.append(parent)
            current = parent
        names = [attribute.attr.value for attribute in chain]
        for size in range(len(chain), 0, -1):
            qualified = ".".join([real, *names[:size]])
            home = self.table.lookup(qualified)
            if home is not None and home.module is not None:
                if home.note:
                    self._report(use, qualified, f"became {home.module}.{home.name}: {home.note}", note=True)
                return chain[size - 1], home
        what = ".".join([real, *names])
        unmapped = self.table.lookup(what) if names else None
        self._report(
            use, what, unmapped.note if unmapped else "the module object itself has no lanner equivalent"
        )
        return None

    # -- calls -------------------------------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        """Remember ``app = FastAPI()``-like assignments, whose methods have rules."""
        for target in node.targets:
            self._remember_instance(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        """Remember ``app: FastAPI = FastAPI()``."""
        if node.value is not None:
            self._remember_instance(node.target, node.value)

    def _remember_instance(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name) and isinstance(value, cst.Call):
            home = self._home(value.func)
            if home is not None and home.name in self.table.methods:
                self._instances[target] = home.name

    def visit_Call(self, node: cst.Call) -> None:
        """Check the keywords of calls to mapped names."""
        home = self._home(node.func)
        if home is not None and home.name in self.table.calls:
            self._check_call(node, self.table.calls[home.name], home.name)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """Queue ``name.attribute`` for `leave_Module`, which knows every instance by then."""
        if isinstance(node.value, cst.Name):
            self._members.append((node, node.value))

    def leave_Module(self, original_node: cst.Module) -> None:
        """Apply the attribute rules to the uses of ``app = FastAPI()``-like objects."""
        for attribute, owner in self._members:
            kind = self._instance_kind(owner)
            if kind is None:
                continue
            name = attribute.attr.value
            parent = self.get_metadata(ParentNodeProvider, attribute, None)
            call = parent if isinstance(parent, cst.Call) and parent.func is attribute else None
            what = f"{owner.value}.{name}" + ("()" if call is not None else "")
            rule = self.table.methods[kind].get(name)
            if rule is None:
                if self.table.lacks(kind, name):
                    self._report(attribute, what, f"lanner's {kind} has no {name!r}")
                continue
            if rule.reason:
                self._report(attribute, what, rule.reason)
                continue
            if rule.rename is not None:
                self.edits.methods[attribute] = rule.rename
            if call is not None and rule.call is not None:
                self._check_call(call, rule.call, f"{owner.value}.{rule.rename or name}")

    def _instance_kind(self, name: cst.Name) -> str | None:
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return None
        for assignment in scope[name.value]:
            target = _node(assignment)
            if target is not None and target in self._instances:
                return self._instances[target]
        return None

    def _check_call(self, call: cst.Call, rule: CallRule, label: str) -> None:
        present = {arg.keyword.value for arg in call.args if arg.keyword is not None}
        first = call.args[0] if call.args else None
        text = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
        if rule.text_first and first is not None and not first.keyword and isinstance(first.value, text):
            self._report(call, f"{label}({cst.Module([]).code_for_node(first.value)}, ...)", rule.text_first)
        for arg in call.args:
            if arg.keyword is None:
                continue
            keyword = arg.keyword.value
            what = f"{label}({keyword}=...)"
            if keyword in rule.renames:
                new = rule.renames[keyword]
                if new in present:
                    self._report(call, what, f"both {keyword}= and {new}= are given; keep {new}= only")
                else:
                    self.edits.arguments[arg] = (new, keyword in rule.listify)
            elif keyword in rule.reasons:
                self._report(call, what, rule.reasons[keyword])
            elif not rule.accepts(keyword):
                self._report(call, what, f"{label}() has no {keyword}= keyword in lanner; left in place")
        additions = [
            (keyword, value)
            for keyword, value in rule.add.items()
            if keyword not in present and keyword not in self.skip_additions
        ]
        if additions:
            self.edits.additions[call] = additions


def _node(assignment: BaseAssignment) -> cst.CSTNode | None:
    return assignment.node if isinstance(assignment, Assignment) else None


def _binds(name: str, dotted: str, asname: str | None) -> bool:
    """Whether the binding `name` comes from ``import DOTTED [as ASNAME]``."""
    if asname is not None:
        return name == asname
    return (dotted + ".").startswith(name + ".")


def _same_alias(first: cst.ImportAlias, second: cst.ImportAlias) -> bool:
    return (first.evaluated_name, first.evaluated_alias) == (second.evaluated_name, second.evaluated_alias)
