"""The codemod's second pass: make the recorded edits, keeping every other byte as it was."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import libcst as cst

from lanner.migrate._imports import insert_keyword, replace_small_statements


@dataclasses.dataclass
class Edits:
    """The changes `Apply` makes, keyed by the original nodes `_Collector` read."""

    statements: dict[cst.CSTNode, list[cst.BaseSmallStatement]] = dataclasses.field(default_factory=dict)
    names: dict[cst.Name, str] = dataclasses.field(default_factory=dict)
    strings: dict[cst.SimpleString, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    expressions: dict[cst.Attribute, str] = dataclasses.field(default_factory=dict)
    methods: dict[cst.Attribute, str] = dataclasses.field(default_factory=dict)
    arguments: dict[cst.Arg, tuple[str, bool]] = dataclasses.field(default_factory=dict)
    additions: dict[cst.Call, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)


class Apply(cst.CSTTransformer):
    """Make the `Edits` the collector recorded."""

    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        """Rename a reference bound by a renamed import."""
        new = self.edits.names.get(original_node)
        return updated_node if new is None else updated_node.with_changes(value=new)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        """Rename a reference inside a string annotation (``"FastAPI"``)."""
        value = updated_node.value
        for old, new in self.edits.strings.get(original_node, ()):
            value = re.sub(rf"\b{re.escape(old)}\b", new, value)
        return updated_node.with_changes(value=value)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        """Replace ``fastapi.X`` with its lanner spelling; rename a method (``api_route``)."""
        expression = self.edits.expressions.get(original_node)
        if expression is not None:
            replacement = cst.parse_expression(expression)
            return replacement.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
        method = self.edits.methods.get(original_node)
        if method is not None:
            return updated_node.with_changes(attr=cst.Name(method))
        return updated_node

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        """Rename a keyword (``regex=`` → ``pattern=``), wrapping its value in a list if asked."""
        edit = self.edits.arguments.get(original_node)
        if edit is None or updated_node.keyword is None:
            return updated_node
        keyword, listify = edit
        value = cst.List([cst.Element(updated_node.value)]) if listify else updated_node.value
        return updated_node.with_changes(
            keyword=updated_node.keyword.with_changes(value=keyword), value=value
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        """Add the keywords a rule adds (``openapi_compat="fastapi"``)."""
        for keyword, value in self.edits.additions.get(original_node, ()):
            updated_node = insert_keyword(updated_node, keyword, value)
        return updated_node

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        """Replace rewritten imports, one statement per line where an import was split."""
        return replace_small_statements(original_node, updated_node, self.edits.statements)

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        """Replace rewritten imports in a one-line suite (``if x: import fastapi``)."""
        body: list[cst.BaseSmallStatement] = []
        for original, updated in zip(original_node.body, updated_node.body, strict=True):
            body.extend(_without_semicolons(self.edits.statements.get(original, [updated])))
        return updated_node.with_changes(body=body)


def _without_semicolons(statements: Sequence[cst.BaseSmallStatement]) -> list[cst.BaseSmallStatement]:
    return [statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for statement in statements]
