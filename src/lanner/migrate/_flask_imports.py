"""The Flask codemod's last pass: imports, the module's `Templates`, and what is left to report.

Flask imports whose every use was converted are removed; the others stay, and each use left is
reported with a suggestion. The lanner (and typing) names the edits use are imported where the
first Flask import was, and a module that renders templates gets a ``templates = Templates(...)``
pointing at the app's template folder.
"""

from __future__ import annotations

import os
from typing import Any

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import Scope, ScopeProvider

from lanner.migrate._flask_base import FlaskVisitor, ModuleContext
from lanner.migrate._flask_names import EXTENSION, canonical, is_extension, suggestion

_ORDER = ("http", "typing", "lanner", "lanner.responses", "lanner.templating")


def bound_names(module: cst.Module) -> tuple[set[str], dict[tuple[str, str], str]]:
    """The names `module` binds at its top level (Flask's imports excepted), and what it imports.

    Returns:
        The names, and ``{(module, name): local name}`` for its ``from X import name`` statements.
    """
    taken: set[str] = set()
    existing: dict[tuple[str, str], str] = {}
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef | cst.ClassDef):
            taken.add(statement.name.value)
            continue
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                source = get_full_name_for_node(small.module) if small.module is not None else ""
                for alias in small.names:
                    local = alias.evaluated_alias or alias.evaluated_name
                    if source and not small.relative and canonical(f"{source}.{alias.evaluated_name}"):
                        continue  # Flask's own: replaced or kept by this pass
                    taken.add(local)
                    if source and not small.relative:
                        existing[(source, alias.evaluated_name)] = local
            elif isinstance(small, cst.Import):
                taken.update(
                    (alias.evaluated_alias or alias.evaluated_name).split(".")[0] for alias in small.names
                )
            elif isinstance(small, cst.Assign | cst.AnnAssign):
                targets = (
                    [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                )
                taken.update(t.value for t in targets if isinstance(t, cst.Name))
    return taken, existing


class ImportsPass(FlaskVisitor):
    """Report the Flask uses left, rewrite the Flask imports, add lanner's and the `Templates`."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        self._flask_imports: list[tuple[cst.SimpleStatementLine, cst.Import | cst.ImportFrom]] = []
        self._last_import: cst.SimpleStatementLine | None = None
        self._first_statement: cst.BaseStatement | None = None
        self._depth = 0

    def visit_Module(self, node: cst.Module) -> None:
        """Remember where new imports may go: after a docstring and ``__future__`` imports."""
        for statement in node.body:
            if isinstance(statement, cst.SimpleStatementLine) and (
                _is_docstring(statement) or _is_future(statement)
            ):
                self._last_import = statement
                continue
            self._first_statement = statement
            break

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Count nesting: only module-level imports move."""
        self._depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        """Count nesting."""
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Count nesting."""
        self._depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        """Count nesting."""
        self._depth -= 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        """Remember the module's imports and its Flask imports."""
        for small in node.body:
            if not isinstance(small, cst.Import | cst.ImportFrom):
                continue
            if self._depth == 0:
                self._last_import = node
            for module in _modules(small):
                if is_extension(module):
                    self.report(small, module, EXTENSION)
            if _imports_flask(small):
                self._flask_imports.append((node, small))

    def visit_Name(self, node: cst.Name) -> None:
        """Report a use of a Flask name the other passes did not convert."""
        parent = self.parent(node)
        if isinstance(parent, cst.ImportAlias) or (
            isinstance(parent, cst.Attribute) and parent.value is not node
        ):
            return
        self._left(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """Report ``flask.X`` left after ``import flask``."""
        self._left(node)

    def _left(self, node: cst.Name | cst.Attribute) -> None:
        name = self.flask(node)
        if name is None or node in self.ctx.converted:
            return
        line = self.line(node)
        if any(item.line == line and name in item.what for item in self.ctx.items):
            return  # a pass already said why
        self.report(node, name, suggestion(name))

    def leave_Module(self, original_node: cst.Module) -> None:
        """Rewrite the Flask imports and add lanner's."""
        if self.ctx.imports.get("lanner.templating") is not None and self.ctx.templates:
            template = self._templates_line()
        else:
            template = None
        new = _import_lines(self.ctx.imports)
        anchor: cst.CSTNode | None = None
        for line, small in self._flask_imports:
            self._rewrite(small)
            if anchor is None and self._depth_of(line) == 0:
                anchor = line
        before: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        after: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        if anchor is not None:
            before.setdefault(anchor, []).extend(new)
        elif self._last_import is not None:
            after.setdefault(self._last_import, []).extend(new)
        elif self._first_statement is not None:
            before.setdefault(self._first_statement, []).extend(new)
        if template is not None:
            last = self._last_import or self._first_statement
            if last is not None:
                (after if last is self._last_import else before).setdefault(last, []).append(template)
        for node in {*before, *after}:
            self.ctx.edits.add(node, _surround(before.get(node, []), after.get(node, [])))

    def _depth_of(self, line: cst.SimpleStatementLine) -> int:
        return 0 if isinstance(self.parent(line), cst.Module) else 1

    def _templates_line(self) -> cst.SimpleStatementLine:
        """``templates = Templates(...)`` with the app's folder, then every blueprint's, as Flask searches."""
        folder = self.ctx.folder
        facts = self.ctx.facts
        folders = ["templates"]
        if folder is not None:
            targets = [facts.templates or folder / "templates", *facts.blueprint_templates]
            folders = [os.path.relpath(target, folder).replace(os.sep, "/") for target in targets]
        quoted = [f'"{relative}"' for relative in dict.fromkeys(folders)]
        argument = quoted[0] if len(quoted) == 1 else f"[{', '.join(quoted)}]"
        templates = self.ctx.use("lanner.templating", "Templates")
        line = cst.parse_statement(f"{self.ctx.templates} = {templates}({argument})")
        assert isinstance(line, cst.SimpleStatementLine)
        return line.with_changes(leading_lines=[cst.EmptyLine()])

    def _rewrite(self, small: cst.Import | cst.ImportFrom) -> None:
        """Drop the imported names whose every use was converted."""
        if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
            self.report(
                small,
                "from flask import *",
                "import the names you use: the codemod cannot tell which are Flask's",
            )
            return
        names = list(small.names) if not isinstance(small.names, cst.ImportStar) else []
        kept = [alias for alias in names if self._still_used(small, alias)]
        if len(kept) == len(names):
            return

        def edit(updated: Any) -> Any:
            if not kept:
                return cst.RemovalSentinel.REMOVE
            survivors = [
                alias for alias, original in zip(updated.names, names, strict=True) if original in kept
            ]
            last = survivors[-1]
            if not (isinstance(updated, cst.ImportFrom) and updated.lpar is not None):
                survivors[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated.with_changes(names=survivors)

        self.ctx.edits.add(small, edit)

    def _still_used(self, small: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> bool:
        if isinstance(small, cst.ImportFrom):
            source = get_full_name_for_node(small.module) if small.module is not None else ""
            if not canonical(f"{source}.{alias.evaluated_name}"):
                return True
        elif not alias.evaluated_name.startswith("flask"):
            return True
        local = alias.evaluated_alias or alias.evaluated_name
        # `import flask.json` binds `flask`; LibCST records the uses of `flask.json` under the
        # dotted name, and those of `flask` alone under `flask`.
        names = {local, local.split(".")[0]}
        scope = self._scope(small)
        for name in names if scope is not None else ():
            assert scope is not None
            for assignment in scope.assignments[name]:
                if getattr(assignment, "node", None) is not small:
                    continue
                for access in assignment.references:
                    if access.node not in self.ctx.converted and not self._is_converted_attribute(
                        access.node
                    ):
                        return True
        return False

    def _is_converted_attribute(self, node: cst.CSTNode) -> bool:
        """``flask.X`` counts as converted when the attribute use was converted."""
        parent = self.parent(node)
        return isinstance(parent, cst.Attribute) and parent in self.ctx.converted

    def _scope(self, node: cst.CSTNode) -> Scope | None:
        """The scope `node` binds its names in."""
        scope: Scope | None = self.get_metadata(ScopeProvider, node, None)
        return scope


def _modules(small: cst.Import | cst.ImportFrom) -> list[str]:
    if isinstance(small, cst.Import):
        return [alias.evaluated_name for alias in small.names]
    if small.relative or small.module is None:
        return []
    return [get_full_name_for_node(small.module) or ""]


def _imports_flask(small: cst.Import | cst.ImportFrom) -> bool:
    if isinstance(small, cst.Import):
        return any(alias.evaluated_name.split(".")[0] == "flask" for alias in small.names)
    if small.relative or small.module is None:
        return False
    source = get_full_name_for_node(small.module) or ""
    if source.split(".")[0] == "flask":
        return True
    return source in ("werkzeug.exceptions", "werkzeug.utils")


def _import_lines(imports: dict[str, dict[str, str]]) -> list[cst.BaseStatement]:
    lines: list[cst.BaseStatement] = []
    for module in sorted(imports, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m)):
        names = imports[module]
        if not names:
            continue
        parts = [name if local == name else f"{name} as {local}" for name, local in sorted(names.items())]
        lines.append(cst.parse_statement(f"from {module} import {', '.join(parts)}"))
    return lines


def _surround(before: list[cst.BaseStatement], after: list[cst.BaseStatement]) -> Any:
    def edit(updated: Any) -> Any:
        if isinstance(updated, cst.SimpleStatementLine) and not updated.body:
            # The Flask import line lost every name: the new imports take its place and comments.
            if before:
                before[0] = before[0].with_changes(leading_lines=updated.leading_lines)
            return cst.FlattenSentinel([*before, *after]) if before or after else cst.RemovalSentinel.REMOVE
        if before and isinstance(updated, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            before[0] = before[0].with_changes(leading_lines=updated.leading_lines)
            updated = updated.with_changes(leading_lines=[])
        return cst.FlattenSentinel([*before, updated, *after])

    return edit


def _is_docstring(statement: cst.SimpleStatementLine) -> bool:
    first = statement.body[0]
    return isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString | cst.ConcatenatedString)


def _is_future(statement: cst.SimpleStatementLine) -> bool:
    first = statement.body[0]
    return (
        isinstance(first, cst.ImportFrom)
        and get_full_name_for_node(first.module or cst.Name("")) == "__future__"
    )
