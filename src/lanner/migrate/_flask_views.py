"""The Flask codemod's second pass: Flask's request globals become parameters.

lanner passes the request explicitly, so every function that used Flask's proxies takes what it
needs: a view gains ``request: Request``, ``session: Session`` and typed parameters
(`_flask_params`); a hook or error handler gets the request first, as lanner calls it; a helper
that used ``g`` or ``session`` takes the request as its first argument and its callers pass it;
a ``functools.wraps`` decorator's wrapper reads the request from the view's keyword arguments.
The new signatures are `_flask_signatures`'; the returns, `_flask_responses`'.
"""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider

from lanner.migrate._flask_base import ModuleContext, code, expression, string_value
from lanner.migrate._flask_names import HTTP_ERRORS, ROOTS
from lanner.migrate._flask_params import Plan, PlanKind
from lanner.migrate._flask_proxies import ProxiesMixin
from lanner.migrate._flask_responses import ResponsesMixin, render_convertible
from lanner.migrate._flask_signatures import SignaturesMixin, all_params

#: The functions whose return value lanner turns into the response.
_RESPONDERS = frozenset(("view", "before", "error", "wrapper"))


class _Names(cst.CSTVisitor):
    """Every variable-like name in a function, in source order (attributes and keywords excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        # ``from flask import request`` inside the function binds nothing once migrated.
        module = get_full_name_for_node(node.module) if node.module is not None else ""
        return bool(node.relative) or (module or "").split(".")[0] not in ROOTS


class ViewsPass(ProxiesMixin, ResponsesMixin, SignaturesMixin):
    """Record the edits that give functions the request, the session and typed parameters."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        self._plans: list[Plan | None] = []
        self._defs: list[cst.FunctionDef] = []

    # -- plans --------------------------------------------------------------------------------

    def plan_active(self) -> bool:
        """Whether the visitor is in a function whose request globals are converted."""
        return self.plan is not None

    @property
    def plan(self) -> Plan | None:
        """The plan of the function the visitor is in (a nested plain function shares its parent's)."""
        return self._plans[-1] if self._plans else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Start a plan for a view, hook, helper or wrapper; a plain nested function inherits one."""
        top = len(self._defs) == 0
        self._defs.append(node)
        plan = self._new_plan(node, top)
        self._plans.append(plan if plan is not None else self.plan)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        """Give the finished plan's function its new parameters."""
        self._defs.pop()
        plan = self._plans.pop()
        if plan is not None and plan.function is original_node:
            self.finish(plan)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Methods are not converted: a class body starts without a plan."""
        self._plans.append(None)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        """End the class body."""
        self._plans.pop()

    def _new_plan(self, node: cst.FunctionDef, top: bool) -> Plan | None:
        role = self.ctx.roles.get(node)
        kind: PlanKind | None = role.kind if role is not None else None
        facts = self.ctx.facts
        if (
            kind is None
            and top
            and not node.decorators
            and self.ctx.qualify(node.name.value) in facts.request_functions
        ):
            kind = "helper"
        kwargs = ""
        if kind is None and any(self._is_command(d) for d in node.decorators):
            kind = "command"
        if kind is None and self._wrapper_of_request_decorator(node):
            star = node.params.star_kwarg
            if star is None:
                why = "lanner passes a view its parameters by keyword: give the wrapper **kwargs"
                self.report(node, node.name.value, why)
                return None
            kind, kwargs = "wrapper", star.name.value
        if kind is None:
            return None
        names: dict[str, cst.Name] = {}
        collector = _Names()
        node.visit(collector)
        for name in sorted(collector.found, key=self._position):
            if self.flask(name) is None:
                names.setdefault(name.value, name)
        existing = {param.name.value for param in all_params(node.params)}
        plan = Plan(node, kind, role, names, existing, kwargs=kwargs)
        if "request" in names and kind != "wrapper":
            plan.request = "lanner_request"
        if "session" in names:
            plan.session = "lanner_session"
        if role is not None and role.errors and "other" not in role.errors and node.params.params:
            plan.error = node.params.params[0].name.value
        if kind == "view" and any(self._requests_decorator(d) for d in node.decorators):
            plan.needs_request = plan.forced_request = True
            if plan.request != "request":
                self.report(
                    node,
                    node.name.value,
                    "its decorator reads kwargs['request']: rename the function's own `request` variable",
                )
        return plan

    def _position(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    def _wrapper_of_request_decorator(self, node: cst.FunctionDef) -> bool:
        """Whether `node` is the ``functools.wraps`` wrapper of a decorator that needs the request."""
        if len(self._defs) != 2 or not any(self._is_wraps(d) for d in node.decorators):
            return False
        return self.ctx.qualify(self._defs[0].name.value) in self.ctx.facts.request_decorators

    def _is_wraps(self, decorator: cst.Decorator) -> bool:
        call = decorator.decorator
        return isinstance(call, cst.Call) and "functools.wraps" in self.qualified(call.func)

    def _is_command(self, decorator: cst.Decorator) -> bool:
        """Whether `decorator` makes a click command (``@click.command()``, ``@app.cli.command()``)."""
        target = decorator.decorator
        target = target.func if isinstance(target, cst.Call) else target
        return "click.command" in self.qualified(target) or code(target).endswith("cli.command")

    def _requests_decorator(self, decorator: cst.Decorator) -> bool:
        target = decorator.decorator
        target = target.func if isinstance(target, cst.Call) else target
        return self.target(target) in self.ctx.facts.request_decorators

    # -- Flask references ---------------------------------------------------------------------

    def visit_Name(self, node: cst.Name) -> None:
        """Convert a use of a Flask name (``request``, ``g``, ``jsonify``...)."""
        parent = self.parent(node)
        if isinstance(parent, cst.ImportAlias | cst.Attribute) and not (
            isinstance(parent, cst.Attribute) and parent.value is node
        ):
            return
        name = self.flask(node)
        if name is not None:
            self._use(node, name)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """Convert ``flask.X`` after ``import flask``, and an error handler's ``e.code``."""
        name = self.flask(node)
        if name is not None:
            self._use(node, name)
        elif self.plan is not None:
            self.error_attribute(self.plan, node)

    def _use(self, ref: cst.CSTNode, name: str) -> None:
        plan = self.plan
        if name in ("Flask", "Blueprint") and self._called(ref) is not None and ref not in self.ctx.converted:
            # Not `app = Flask(...)`: its arguments were not converted, Lanner() would misread them.
            why = "only app = Flask(...) and bp = Blueprint(...) are converted: "
            why += "build it with Lanner() or Router()"
            self.report(ref, f"{name}()", why)
        elif name in ("Flask", "Blueprint", "HTTPException"):
            self._rename(ref, "lanner", {"Flask": "Lanner", "Blueprint": "Router"}.get(name, name))
        elif name == "jsonify":
            self.jsonify(ref)
        elif name == "abort":
            self.abort(ref)
        elif name == "redirect":
            self.redirect(ref)
        elif name in HTTP_ERRORS:
            if ref not in self.ctx.converted:
                self.http_error(ref, HTTP_ERRORS[name])
        elif plan is None:
            return
        elif name == "with_appcontext":
            self._with_appcontext(plan, ref)
        elif name == "request":
            self._request(plan, ref)
        elif name == "g":
            self._g(plan, ref)
        elif name == "session":
            self._session(plan, ref)
        elif name == "current_app":
            self._current_app(plan, ref)
        elif name == "url_for":
            self._url_for(plan, ref)
        elif name == "render_template":
            self._render(plan, ref)
        elif name in ("flash", "get_flashed_messages"):
            self._flash(plan, ref, name)

    def _rename(self, ref: cst.CSTNode, module: str, name: str) -> None:
        local = self.ctx.use(module, name)
        self.ctx.converted.add(ref)
        if code(ref) != local:
            self.ctx.edits.replace(ref, local)

    def _with_appcontext(self, plan: Plan, ref: cst.CSTNode) -> None:
        """Flask's ``@with_appcontext`` on a command becomes ``@pass_app_context``."""
        if plan.kind != "command" or not isinstance(self.parent(ref), cst.Decorator):
            return
        plan.app_context = True
        self._rename(ref, "lanner", "pass_app_context")

    def _url_for(self, plan: Plan, ref: cst.CSTNode) -> None:
        call = self._called(ref)
        if call is None:
            return
        # lanner's url_for takes _anchor and _external as Flask's does, not _scheme or _method.
        special = [
            arg
            for arg in call.args
            if arg.keyword is not None
            and arg.keyword.value.startswith("_")
            and arg.keyword.value not in ("_anchor", "_external")
        ]
        if special or not call.args or call.args[0].keyword is not None:
            why = "url_for() needs the endpoint first"
            if special:
                why = "lanner's url_for takes _anchor and _external only: build the rest from request.url"
            self.report(call, code(call), why)
            return
        endpoint = string_value(call.args[0].value)
        renamed = self._endpoint(endpoint) if endpoint is not None else None
        request = self._request_name(plan)
        self.ctx.converted.add(ref)

        def edit(updated: cst.Call) -> cst.Call:
            args = list(updated.args)
            if renamed is not None:
                args[0] = args[0].with_changes(value=cst.SimpleString(repr(renamed).replace("'", '"')))
            if endpoint is not None and endpoint.rpartition(".")[2] == "static":
                args = [
                    arg.with_changes(keyword=cst.Name("path"))
                    if arg.keyword is not None and arg.keyword.value == "filename"
                    else arg
                    for arg in args
                ]
            return updated.with_changes(func=expression(f"{request}.url_for"), args=args)

        self.ctx.edits.add(call, edit)

    def _endpoint(self, endpoint: str) -> str | None:
        """A blueprint-relative endpoint (``.index``) with the module's blueprint name."""
        if not endpoint.startswith("."):
            return None
        names = [bp.name for bp in self.ctx.blueprints.values() if bp.name]
        return f"{names[0]}{endpoint}" if len(names) == 1 else None

    def _render(self, plan: Plan, ref: cst.CSTNode) -> None:
        call = self._called(ref)
        if call is None:
            return
        if not render_convertible(call):
            self.report(
                call,
                "render_template()",
                "only render_template(name, **context) is converted: a list of names needs "
                "templates.env.select_template()",
            )
            return
        request = self._request_name(plan)
        templates = self.ctx.use_templates()
        self.ctx.converted.add(ref)

        def edit(updated: cst.Call) -> cst.Call:
            name, *rest = updated.args
            elements: list[cst.BaseDictElement] = []
            for arg in rest:
                if arg.star == "**":
                    elements.append(cst.StarredDictElement(arg.value))
                elif arg.keyword is not None:
                    key = cst.SimpleString(f'"{arg.keyword.value}"')
                    elements.append(cst.DictElement(key, arg.value))
            args = [cst.Arg(cst.Name(request)), name.with_changes(comma=cst.MaybeSentinel.DEFAULT)]
            if elements:
                args.append(cst.Arg(cst.Dict(elements)))
            return updated.with_changes(func=expression(f"{templates}.render"), args=args)

        self.ctx.edits.add(call, edit)

    def _flash(self, plan: Plan, ref: cst.CSTNode, name: str) -> None:
        call = self._called(ref)
        if call is None:
            return
        self._rename(ref, "lanner", name)
        session = self._session_name(plan)

        def edit(updated: cst.Call) -> cst.Call:
            return updated.with_changes(args=[cst.Arg(expression(session)), *updated.args])

        self.ctx.edits.add(call, edit)

    # -- calls to helpers and returns ---------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        """Pass the request to a helper that takes it once migrated."""
        if not isinstance(node.func, cst.Name | cst.Attribute):
            return
        target = self.target(node.func)
        if target is None or target not in self.ctx.facts.request_functions:
            return
        plan = self.plan
        if plan is None:
            self.report(
                node,
                code(node.func) + "()",
                "it now takes the request first (it uses Flask's request globals); pass one",
            )
            return
        request = self._request_name(plan)
        self.ctx.edits.add(
            node, lambda updated: updated.with_changes(args=[cst.Arg(cst.Name(request)), *updated.args])
        )

    def returns_responses(self) -> bool:
        """Whether the visitor is right in a view, before hook, error handler or view wrapper."""
        plan = self.plan
        return plan is not None and plan.function is self._defs[-1] and plan.kind in _RESPONDERS

    def visit_Return(self, node: cst.Return) -> None:
        """Convert what a view, before hook, error handler or a view's wrapper returns."""
        plan = self.plan
        if plan is not None and self.returns_responses():
            self.returned(plan, node)
        elif self._defs:
            self.response_tuple(node)
