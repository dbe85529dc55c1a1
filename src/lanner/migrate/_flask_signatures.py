"""The signatures the Flask codemod gives functions once their request globals are converted.

A view gains ``request: Request``, ``session: Session`` and its typed parameters (after its path
parameters, the ones with a default last), and Flask's ``defaults={...}`` route option becomes
parameter defaults; a hook, error handler or helper takes the request first; a click command takes
lanner's ``AppContext``; a view decorator's wrapper reads the request from the view's keyword
arguments. `ViewsPass` (`_flask_views`) decides what each function needs.
"""

from __future__ import annotations

import libcst as cst

from lanner.migrate._flask_base import FlaskVisitor, expression
from lanner.migrate._flask_params import Plan


class SignaturesMixin(FlaskVisitor):
    """Give a planned function the parameters (or the prologue) its converted body needs."""

    def finish(self, plan: Plan) -> None:
        """Record the edits that give `plan`'s function what its converted body uses."""
        view_only = plan.kind == "view" and not plan.needs_request
        request_type = "" if view_only or plan.kind == "wrapper" else self.ctx.use("lanner", "Request")
        first: list[cst.Param] = []
        required: list[cst.Param] = []
        optional: list[cst.Param] = []
        if plan.kind == "wrapper":
            if plan.needs_request:
                self._prologue(plan)
            return
        if plan.kind == "command":
            self._command(plan)
            return
        if plan.kind == "view":
            if plan.needs_request:
                required.append(_param(plan.request, request_type))
            if plan.needs_session:
                required.append(_param(plan.session, self.ctx.use("lanner", "Session")))
            for param in plan.params.values():
                (required if param.default is None else optional).append(
                    _param(param.name, param.annotation, param.default)
                )
        else:
            # A helper takes the request even if no use was converted: its callers pass it.
            first.append(_param(plan.request, request_type))
        if plan.role is not None and plan.role.defaults_at is not None:
            self._route_defaults(plan, plan.role.defaults, plan.role.defaults_at)
        if not (first or required or optional):
            return
        self.ctx.edits.add(plan.function, lambda updated: _insert(updated, first, required, optional))

    def _route_defaults(self, plan: Plan, defaults: dict[str, str], at: cst.CSTNode) -> None:
        """Flask's ``defaults={"page": 1}`` route option becomes the parameter's default."""
        params = plan.function.params
        positional = [param.name.value for param in params.params]
        given = [name for name in positional if name in defaults]
        after = positional[positional.index(given[0]) :] if given else []
        required = [param.name.value for param in params.params if param.default is None]
        if any(name not in defaults and name in required for name in after):
            why = "give the view's parameters their defaults by hand: a parameter without one follows"
            self.report(at, "defaults=", why)
            return
        why = "became parameter defaults: lanner also reads them from the query string there"
        self.report(at, "defaults=", why, note=True)

        def edit(updated: cst.FunctionDef) -> cst.FunctionDef:
            def default(param: cst.Param) -> cst.Param:
                name = param.name.value
                if param.default is None and name in defaults:
                    tight = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
                    equal = tight if param.annotation is None else cst.MaybeSentinel.DEFAULT
                    return param.with_changes(default=expression(defaults[name]), equal=equal)
                return param

            new = updated.params.with_changes(
                params=[default(param) for param in updated.params.params],
                kwonly_params=[default(param) for param in updated.params.kwonly_params],
            )
            return updated.with_changes(params=new)

        self.ctx.edits.add(plan.function, edit)

    def _command(self, plan: Plan) -> None:
        """A click command that used the app context takes an `AppContext` as its request."""
        if not (plan.needs_request or plan.app_context):
            return
        first = [_param(plan.request, self.ctx.use("lanner", "AppContext"))]
        decorator = (
            None
            if plan.app_context
            else cst.Decorator(expression(self.ctx.use("lanner", "pass_app_context")))
        )

        def edit(updated: cst.FunctionDef) -> cst.FunctionDef:
            updated = _insert(updated, first, [], [])
            if decorator is not None:
                updated = updated.with_changes(decorators=[*updated.decorators, decorator])
            return updated

        self.ctx.edits.add(plan.function, edit)

    def _prologue(self, plan: Plan) -> None:
        line = cst.parse_statement(f'{plan.request} = {plan.kwargs}["request"]')

        def edit(updated: cst.FunctionDef) -> cst.FunctionDef:
            body = updated.body
            assert isinstance(body, cst.IndentedBlock)
            statements = list(body.body)
            at = 1 if statements and _is_docstring(statements[0]) else 0
            return updated.with_changes(
                body=body.with_changes(body=[*statements[:at], line, *statements[at:]])
            )

        self.ctx.edits.add(plan.function, edit)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def all_params(params: cst.Parameters) -> list[cst.Param]:
    found = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


def _param(name: str, annotation: str, default: str | None = None) -> cst.Param:
    return cst.Param(
        cst.Name(name),
        annotation=cst.Annotation(expression(annotation)),
        default=expression(default) if default is not None else None,
    )


def _insert(
    function: cst.FunctionDef, first: list[cst.Param], required: list[cst.Param], optional: list[cst.Param]
) -> cst.FunctionDef:
    """`function` with `first` leading, `required` after its own required ones, `optional` last.

    Flask's view parameters come from the path and are never defaulted, so the new required ones
    go right after them; with ``*args`` or keyword-only parameters the optional ones join the
    keyword-only ones, where defaults may come in any order.
    """
    params = function.params
    own = list(params.params)
    at = next((index for index, param in enumerate(own) if param.default is not None), len(own))
    own = [*first, *own[:at], *required, *own[at:]]
    if isinstance(params.star_arg, cst.Param) or params.kwonly_params:
        new = params.with_changes(params=own, kwonly_params=[*params.kwonly_params, *optional])
    else:
        new = params.with_changes(params=[*own, *optional])
    return function.with_changes(params=new)
