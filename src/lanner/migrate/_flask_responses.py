"""Flask's response helpers as lanner's: ``jsonify``, ``abort``, ``redirect``, and Flask's return values.

A Flask view may return a str (HTML), a dict, or a ``(body, status[, headers])`` tuple; a lanner
handler's str and tuple would be sent as JSON, so those returns become ``HTMLResponse`` and
``JSONResponse`` objects with the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst
from libcst.metadata import ScopeProvider

from lanner.migrate._flask_base import FlaskVisitor, code, string_value
from lanner.migrate._flask_params import Plan

_RESPONSES = "lanner.responses"
#: werkzeug's HTTPException attributes → lanner's (``{}`` is the exception).
_HTTP_ERROR_ATTRIBUTES = {
    "code": "{}.status_code",
    "description": "{}.detail",
    "name": "{http}({}.status_code).phrase",
}
_SAME_ERROR_ATTRIBUTES = frozenset(("status_code", "detail", "headers", "args"))
#: str methods that give a str: ``"<li>{}</li>".format(x)``, ``"".join(rows)``.
_STR_METHODS = frozenset(
    ("format", "join", "strip", "replace", "upper", "lower", "title", "lstrip", "rstrip")
)
_JSON_LITERALS = (cst.Dict, cst.List, cst.DictComp, cst.ListComp)


def _arg(value: cst.BaseExpression, keyword: str | None = None) -> cst.Arg:
    if keyword is None:
        return cst.Arg(value)
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    return cst.Arg(value, keyword=cst.Name(keyword), equal=equal)


def _call(name: str, *args: cst.Arg) -> cst.Call:
    return cst.Call(cst.Name(name), list(args))


def _pairs(value: cst.BaseExpression) -> list[tuple[cst.BaseExpression, cst.BaseExpression]]:
    """The ``(name, value)`` pairs of a literal list of headers (none for anything else)."""
    elements = value.elements if isinstance(value, cst.List | cst.Tuple) else ()
    pairs = [element.value for element in elements]
    if not all(isinstance(pair, cst.Tuple) and len(pair.elements) == 2 for pair in pairs):
        return []
    return [(pair.elements[0].value, pair.elements[1].value) for pair in pairs if isinstance(pair, cst.Tuple)]


def _repeated(value: cst.BaseExpression) -> bool:
    """Whether a literal list of headers names one header twice (a mapping cannot hold it)."""
    names = [code(name).lower() for name, _ in _pairs(value)]
    return len(set(names)) != len(names)


def _headers(value: cst.BaseExpression) -> cst.BaseExpression:
    """Flask's headers (a dict, or a list of pairs) as the mapping lanner's responses take."""
    if isinstance(value, cst.Dict):
        return value
    pairs = _pairs(value)
    if pairs:
        return cst.Dict([cst.DictElement(name, header) for name, header in pairs])
    return _call("dict", _arg(value))


def _extra(elements: Sequence[cst.BaseElement], keywords: list[str]) -> list[cst.Arg]:
    """The status and headers of a returned tuple, as keyword arguments of a response."""
    return [
        _arg(_headers(element.value) if keyword == "headers" else element.value, keyword)
        for element, keyword in zip(elements, keywords, strict=False)
    ]


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


def _appends_to(value: cst.BaseExpression, name: str) -> bool:
    """Whether `value` is ``name + ...``."""
    return (
        isinstance(value, cst.BinaryOperation)
        and isinstance(value.operator, cst.Add)
        and isinstance(value.left, cst.Name)
        and value.left.value == name
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

    def returns_responses(self) -> bool:
        """Whether the visitor is right in a function whose returns lanner makes responses (a view)."""
        return False

    def _returned(self, call: cst.Call) -> bool:
        """Whether `call` is what a view returns (alone or as a tuple's body): lanner encodes it.

        Elsewhere (a helper building a view's response) ``jsonify(x)`` stays a response, and only
        ``return jsonify(x), status`` becomes one response with the status (`response_tuple`).
        """
        parent = self.parent(call)
        tuple_ = None
        if isinstance(parent, cst.Element):
            outer = self.parent(parent)
            if isinstance(outer, cst.Tuple) and outer.elements[0] is parent:
                tuple_, parent = outer, self.parent(outer)
        if not isinstance(parent, cst.Return):
            return False
        return self.returns_responses() or (tuple_ is not None and self._response_tuple(tuple_))

    def _response_tuple(self, value: cst.BaseExpression) -> bool:
        """Whether `value` is Flask's ``(jsonify(...), status[, headers])``."""
        if not (isinstance(value, cst.Tuple) and len(value.elements) in (2, 3)):
            return False
        body = value.elements[0].value
        return isinstance(body, cst.Call) and self.flask(body.func) == "jsonify" and jsonify_convertible(body)

    def response_tuple(self, node: cst.Return) -> None:
        """A helper's ``return jsonify(x), 400`` → ``return JSONResponse(x, status_code=400)``."""
        if node.value is not None and self._response_tuple(node.value):
            assert isinstance(node.value, cst.Tuple)
            self._tuple(node, node.value)

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
            why = "only abort(<status>) is converted: raise HTTPException(status) for a status code, "
            why += "return a response object"
            self.report(call, code(call), why)
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

    def http_error(self, ref: cst.CSTNode, status: int) -> None:
        """A werkzeug error class called: ``NotFound("why")`` → ``HTTPException(404, "why")``."""
        call = self._called(ref)
        if call is None:
            return
        detail = [arg for arg in call.args if arg.keyword is None or arg.keyword.value == "description"]
        if len(detail) != len(call.args) or len(detail) > 1 or any(arg.star for arg in detail):
            self.report(
                call,
                code(call),
                f"only {code(ref)}(description) is converted: HTTPException({status}, detail)",
            )
            return
        self.ctx.converted.add(ref)
        exception = self.ctx.use("lanner", "HTTPException")

        def edit(updated: cst.Call) -> cst.Call:
            args = [_arg(cst.Integer(str(status))), *(_arg(arg.value) for arg in updated.args)]
            return _call(exception, *args).with_changes(lpar=updated.lpar, rpar=updated.rpar)

        self.ctx.edits.add(call, edit)

    def error_attribute(self, plan: Plan, node: cst.Attribute) -> None:
        """In an HTTP error handler, werkzeug's ``e.code`` is lanner's ``e.status_code`` (and so on)."""
        if not (plan.error and isinstance(node.value, cst.Name) and node.value.value == plan.error):
            return
        attribute = node.attr.value
        role = self.ctx.roles.get(plan.function)
        if role is None or attribute in _SAME_ERROR_ATTRIBUTES:
            return
        name = f"{plan.error}.{attribute}"
        if role.errors == {"http"} and attribute in _HTTP_ERROR_ATTRIBUTES:
            http = self.ctx.use("http", "HTTPStatus") if attribute == "name" else ""
            self.ctx.edits.replace(node, _HTTP_ERROR_ATTRIBUTES[attribute].format(plan.error, http=http))
            if attribute == "description":
                why = "became .detail: None unless the HTTPException was raised with one"
                self.report(node, name, why, note=True)
        elif role.errors == {"http"}:
            self.report(node, name, "lanner's HTTPException has status_code, detail and headers only")
        elif attribute in (*_HTTP_ERROR_ATTRIBUTES, "original_exception"):  # a 500 handler
            why = "lanner passes a 500 handler the exception that was raised: use 500, str(e) or e itself"
            self.report(node, name, why)

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

    def _kind(self, node: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> str:
        if isinstance(node, cst.SimpleString | cst.FormattedString | cst.ConcatenatedString):
            return "text" if string_value(node) is not None or not isinstance(node, cst.SimpleString) else ""
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
            return self._kind(node.left, seen)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            # str + x is a str (or an error): either side being text is enough.
            kinds = {self._kind(node.left, seen), self._kind(node.right, seen)}
            return "text" if "text" in kinds else ""
        if isinstance(node, _JSON_LITERALS):
            return "json"
        if isinstance(node, cst.Name) and node.value not in seen:
            return self._variable_kind(node, seen | {node.value})
        if isinstance(node, cst.Call):
            func = node.func
            name = self.flask(func)
            if name == "jsonify" and jsonify_convertible(node):
                return "json"
            if name == "render_template" and render_convertible(node) and self.plan_active():
                return "template"
            if isinstance(func, cst.Attribute) and func.attr.value in _STR_METHODS:
                return "text" if self._kind(func.value, seen) == "text" else ""
            if "builtins.str" in self.qualified(func):
                return "text"
        return ""

    def _variable_kind(self, node: cst.Name, seen: frozenset[str]) -> str:
        """A variable's kind when every assignment to it gives one: ``html = "<p>"``; ``html += x``.

        Only literals count for JSON: a converted ``jsonify()`` or ``render_template()`` assigned
        to a variable is a response already.
        """
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return ""
        kinds: set[str] = set()
        for assignment in scope[node.value]:
            target = getattr(assignment, "node", None)
            statement = self.parent(target) if target is not None else None
            if isinstance(statement, cst.AssignTarget):
                statement = self.parent(statement)
            if isinstance(statement, cst.AugAssign) and isinstance(statement.operator, cst.AddAssign):
                continue  # x += ... keeps the kind x's other assignments give
            if isinstance(statement, cst.Assign) and _appends_to(statement.value, node.value):
                continue  # so does x = x + ...
            if not (isinstance(statement, cst.Assign | cst.AnnAssign) and statement.value is not None):
                return ""
            if isinstance(statement, cst.Assign) and len(statement.targets) != 1:
                return ""
            kind = self._kind(statement.value, seen)
            kinds.add(kind if kind == "text" or isinstance(statement.value, _JSON_LITERALS) else "")
        return kinds.pop() if len(kinds) == 1 else ""

    def _tuple(self, node: cst.Return, value: cst.Tuple) -> None:
        body = value.elements[0].value
        kind = self._kind(body)
        rest = [element.value for element in value.elements[1:]]
        keywords = ["status_code", "headers"]
        if len(rest) == 1 and isinstance(rest[0], cst.Dict | cst.List):
            keywords = ["headers"]  # Flask tells headers from a status by their type
        if not kind:
            self.report(
                node,
                f"return {code(value)}",
                "return a Response with the status: Response(body, status_code)",
            )
            return
        if "headers" in keywords[: len(rest)] and _repeated(rest[keywords.index("headers")]):
            why = "a header given twice: lanner's headers= is a mapping; add the second one with "
            why += "response.headers.append(name, value)"
            self.report(node, f"return {code(value)}", why)
            return
        if kind == "template":
            # The render call takes the status and headers as keywords.
            def edit(updated: cst.Return) -> Any:
                assert isinstance(updated.value, cst.Tuple)
                render = updated.value.elements[0].value
                extra = _extra(updated.value.elements[1:], keywords)
                if not isinstance(render, cst.Call):
                    return updated
                return updated.with_changes(value=render.with_changes(args=[*render.args, *extra]))

            self.ctx.edits.add(node, edit)
            return
        response = self.ctx.use(_RESPONSES, "JSONResponse" if kind == "json" else "HTMLResponse")

        def build(updated: cst.Return) -> Any:
            assert isinstance(updated.value, cst.Tuple)
            elements = updated.value.elements
            extra = _extra(elements[1:], keywords)
            return updated.with_changes(value=_call(response, _arg(elements[0].value), *extra))

        self.ctx.edits.add(node, build)
