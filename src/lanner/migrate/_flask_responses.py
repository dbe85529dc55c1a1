"""Flask's response helpers as lanner's: ``jsonify``, ``abort``, ``redirect``, and Flask's return values.

A Flask view may return a str (HTML), a dict, or a ``(body, status[, headers])`` tuple; a lanner
handler's str and tuple would be sent as JSON, so those returns become ``HTMLResponse`` and
``JSONResponse`` objects with the status.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from lanner.migrate._flask_base import FlaskVisitor, code, string_value
from lanner.migrate._flask_params import Plan

_RESPONSES = "lanner.responses"
_JSON_LITERALS = (cst.Dict, cst.List, cst.DictComp, cst.ListComp)


def _arg(value: cst.BaseExpression, keyword: str | None = None) -> cst.Arg:
    if keyword is None:
        return cst.Arg(value)
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    return cst.Arg(value, keyword=cst.Name(keyword), equal=equal)


def _call(name: str, *args: cst.Arg) -> cst.Call:
    return cst.Call(cst.Name(name), list(args))


def jsonify_convertible(call: cst.Call) -> bool:
    """Whether ``jsonify(...)`` has one shape of arguments: values, or keywords (no ``*args``)."""
    positional = [arg for arg in call.args if arg.keyword is None]
    named = [arg for arg in call.args if arg.keyword is not None]
    return not any(arg.star for arg in call.args) and not (positional and named)


def render_convertible(call: cst.Call) -> bool:
    """Whether ``render_template(...)`` is ``render_template(name, **context)`` (one name, not a list)."""
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return (
        len(positional) == 1
        and call.args[0] is positional[0]
        and not isinstance(positional[0].value, cst.List | cst.Tuple)
    )


class ResponsesMixin(FlaskVisitor):
    """Convert ``jsonify``, ``abort``, ``redirect`` and the returns of views, hooks and error handlers."""

    def plan_active(self) -> bool:
        """Whether the visitor is in a function whose request globals are converted."""
        return False

    def _called(self, ref: cst.CSTNode) -> cst.Call | None:
        parent = self.parent(ref)
        return parent if isinstance(parent, cst.Call) and parent.func is ref else None

    def jsonify(self, ref: cst.CSTNode) -> None:
        """``jsonify(x)`` → ``x`` when returned (``JSONResponse(x)`` otherwise)."""
        call = self._called(ref)
        if call is None:
            return
        if not jsonify_convertible(call):
            return
        self.ctx.converted.add(ref)
        returned = self._returned(call)

        def edit(updated: cst.Call) -> cst.BaseExpression:
            args = list(updated.args)
            value: cst.BaseExpression
            if len(args) == 1 and args[0].keyword is None:
                value = args[0].value
            elif args and args[0].keyword is None:
                value = cst.List([cst.Element(arg.value) for arg in args])
            elif args:
                value = cst.Dict(
                    [
                        cst.DictElement(cst.SimpleString(f'"{arg.keyword.value}"'), arg.value)
                        for arg in args
                        if arg.keyword is not None
                    ]
                )
            else:
                value = cst.Name("None")
            if returned:
                return value
            return _call(self.ctx.use(_RESPONSES, "JSONResponse"), _arg(value))

        self.ctx.edits.add(call, edit)

    def _returned(self, call: cst.Call) -> bool:
        """Whether `call` is what a return statement returns (alone or as a tuple's body)."""
        parent = self.parent(call)
        if isinstance(parent, cst.Element):
            tuple_ = self.parent(parent)
            if isinstance(tuple_, cst.Tuple) and tuple_.elements[0] is parent:
                parent = self.parent(tuple_)
        return isinstance(parent, cst.Return)

    def abort(self, ref: cst.CSTNode) -> None:
        """``abort(404, "why")`` as a statement → ``raise HTTPException(404, "why")``."""
        call = self._called(ref)
        statement = self.parent(call) if call is not None else None
        if call is None or not isinstance(statement, cst.Expr):
            if call is not None:
                self.report(call, "abort()", "only abort() as a statement becomes raise HTTPException(...)")
            return
        status = call.args[0].value if call.args and call.args[0].keyword is None else None
        if not isinstance(status, cst.Integer | cst.Attribute):
            self.report(call, code(call), "abort() with a response object: return the response instead")
            return
        detail = [arg for arg in call.args[1:] if arg.keyword is None or arg.keyword.value == "description"]
        if len(detail) + 1 != len(call.args):
            self.report(call, code(call), "only abort(status, description) is converted")
            return
        self.ctx.converted.add(ref)
        exception = self.ctx.use("lanner", "HTTPException")

        def edit(updated: cst.Expr) -> cst.Raise:
            original = updated.value
            assert isinstance(original, cst.Call)
            args = [_arg(arg.value) for arg in original.args]
            return cst.Raise(_call(exception, *args), semicolon=updated.semicolon)

        self.ctx.edits.add(statement, edit)

    def redirect(self, ref: cst.CSTNode) -> None:
        """``redirect(url, code=301)`` → ``RedirectResponse(url, 301)``; Flask's default 302 kept."""
        call = self._called(ref)
        if call is None:
            return
        status: str = "302"
        for index, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword == "code" or (keyword is None and index == 1):
                status = ""
            elif keyword not in (None, "location"):
                self.report(call, f"redirect({keyword}=...)", "RedirectResponse takes (url, status_code)")
                return
        self.ctx.converted.add(ref)
        response = self.ctx.use(_RESPONSES, "RedirectResponse")

        def edit(updated: cst.Call) -> cst.Call:
            args = [_arg(arg.value) for arg in updated.args]
            if status:
                args.append(_arg(cst.Integer(status)))
            return _call(response, *args).with_changes(lpar=updated.lpar, rpar=updated.rpar)

        self.ctx.edits.add(call, edit)

    def returned(self, plan: Plan, node: cst.Return) -> None:
        """Make a Flask return value a lanner response: str → HTML, ``(body, status)`` → a Response."""
        value = node.value
        if value is None:
            return
        if isinstance(value, cst.Tuple) and len(value.elements) in (2, 3):
            self._tuple(node, value)
        elif self._kind(value) == "text":
            html = self.ctx.use(_RESPONSES, "HTMLResponse")
            self.ctx.edits.add(
                node, lambda updated: updated.with_changes(value=_call(html, _arg(updated.value)))
            )

    def _kind(self, node: cst.BaseExpression) -> str:
        if isinstance(node, cst.SimpleString | cst.FormattedString | cst.ConcatenatedString):
            return "text" if string_value(node) is not None or not isinstance(node, cst.SimpleString) else ""
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
            return self._kind(node.left)
        if isinstance(node, _JSON_LITERALS):
            return "json"
        if isinstance(node, cst.Call):
            func = node.func
            name = self.flask(func)
            if name == "jsonify" and jsonify_convertible(node):
                return "json"
            if name == "render_template" and render_convertible(node) and self.plan_active():
                return "template"
            if isinstance(func, cst.Attribute) and func.attr.value == "format":
                return self._kind(func.value)
        return ""

    def _tuple(self, node: cst.Return, value: cst.Tuple) -> None:
        body = value.elements[0].value
        kind = self._kind(body)
        rest = [element.value for element in value.elements[1:]]
        keywords = ["status_code", "headers"]
        if len(rest) == 1 and isinstance(rest[0], cst.Dict):
            keywords = ["headers"]
        if not kind:
            self.report(
                node,
                f"return {code(value)}",
                "return a Response with the status: Response(body, status_code)",
            )
            return
        if kind == "template":
            # The render call takes the status and headers as keywords.
            def edit(updated: cst.Return) -> Any:
                assert isinstance(updated.value, cst.Tuple)
                render = updated.value.elements[0].value
                extra = [_arg(e.value, k) for e, k in zip(updated.value.elements[1:], keywords, strict=False)]
                if not isinstance(render, cst.Call):
                    return updated
                return updated.with_changes(value=render.with_changes(args=[*render.args, *extra]))

            self.ctx.edits.add(node, edit)
            return
        response = self.ctx.use(_RESPONSES, "JSONResponse" if kind == "json" else "HTMLResponse")

        def build(updated: cst.Return) -> Any:
            assert isinstance(updated.value, cst.Tuple)
            elements = updated.value.elements
            extra = [_arg(e.value, k) for e, k in zip(elements[1:], keywords, strict=False)]
            return updated.with_changes(value=_call(response, _arg(elements[0].value), *extra))

        self.ctx.edits.add(node, build)
