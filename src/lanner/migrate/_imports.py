"""LibCST node building for the codemod: import statements, keyword insertion, statement splitting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst


def _module_expression(dotted: str) -> cst.Attribute | cst.Name:
    expression = cst.parse_expression(dotted)
    assert isinstance(expression, cst.Attribute | cst.Name)
    return expression


def _with_commas(
    aliases: Sequence[cst.ImportAlias], original: Sequence[cst.ImportAlias]
) -> list[cst.ImportAlias]:
    """`aliases` with the original's trailing comma (or none) on the last one.

    The others keep their commas: only the original's last name can lack one, and it stays last.
    """
    return [*aliases[:-1], aliases[-1].with_changes(comma=original[-1].comma)]


def import_from_statements(
    node: cst.ImportFrom, groups: Mapping[str, Sequence[cst.ImportAlias]]
) -> list[cst.BaseSmallStatement]:
    """One ``from MODULE import ...`` per group, in order, shaped like `node` (parentheses, commas)."""
    assert not isinstance(node.names, cst.ImportStar)
    original = list(node.names)
    return [
        node.with_changes(module=_module_expression(module), names=_with_commas(aliases, original))
        for module, aliases in groups.items()
    ]


def import_statements(
    node: cst.Import, kept: Sequence[cst.ImportAlias], added: Sequence[tuple[str, str | None]]
) -> list[cst.BaseSmallStatement]:
    """`node` with only the `kept` names (if any), then ``import MODULE [as NAME]`` for each `added`."""
    statements: list[cst.BaseSmallStatement] = []
    if kept:
        statements.append(node.with_changes(names=_with_commas(kept, list(node.names))))
    for module, asname in added:
        alias = cst.ImportAlias(
            name=_module_expression(module),
            asname=cst.AsName(name=cst.Name(asname)) if asname is not None else None,
        )
        statements.append(cst.Import(names=[alias]))
    return statements


def insert_keyword(call: cst.Call, keyword: str, value: str) -> cst.Call:
    """`call` with ``keyword=value`` appended, following its layout (one line, or one per line)."""
    argument = cst.Arg(
        keyword=cst.Name(keyword),
        value=cst.parse_expression(value),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    args = list(call.args)
    if not args:
        return call.with_changes(args=[argument])
    last = args[-1]
    if len(args) > 1 and isinstance(args[-2].comma, cst.Comma):
        separator = args[-2].comma
    elif isinstance(last.comma, cst.Comma):
        separator = cst.Comma(whitespace_after=call.whitespace_before_args)
    else:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    argument = argument.with_changes(comma=last.comma, whitespace_after_arg=last.whitespace_after_arg)
    args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
    return call.with_changes(args=[*args, argument])


def replace_small_statements(
    original: cst.SimpleStatementLine,
    updated: cst.SimpleStatementLine,
    replacements: Mapping[cst.CSTNode, Sequence[cst.BaseSmallStatement]],
) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
    """Replace the small statements of a line; a lone statement that became several gets a line each.

    The first line keeps the original's leading comments and blank lines and its trailing comment.
    """
    if not any(statement in replacements for statement in original.body):
        return updated
    body: list[cst.BaseSmallStatement] = []
    for before, after in zip(original.body, updated.body, strict=True):
        body.extend(replacements.get(before, [after]))
    body = [statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for statement in body]
    if len(original.body) > 1 or len(body) == 1:
        return updated.with_changes(body=body)
    lines: list[cst.BaseStatement] = [updated.with_changes(body=body[:1])]
    lines.extend(cst.SimpleStatementLine(body=[statement]) for statement in body[1:])
    return cst.FlattenSentinel(lines)
