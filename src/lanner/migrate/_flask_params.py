"""Flask's request data as typed handler parameters: ``request.args.get("x", type=int)`` → ``x: int | None``.

A view's ``request.args``, ``request.form``, ``request.files`` and ``request.get_json()`` reads
become parameters lanner validates and passes, so the handler stays a plain (sync) function. A
read whose key, default or type cannot be known from the source is left to the caller, which
falls back to the request object or reports it.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from typing import Literal

import libcst as cst

from lanner.migrate._flask_base import FlaskVisitor, Role, code, string_value

PlanKind = Literal["view", "before", "after", "error", "teardown", "helper", "wrapper", "command"]
Source = Literal["query", "form", "file", "body"]

_TYPES = frozenset(("int", "float", "str", "bool"))
#: Methods whose requests carry a body: a form field read only there can be required.
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_MARKERS = {"query": "Query", "form": "Form", "file": "File", "body": "Body"}


@dataclasses.dataclass
class Param:
    """A parameter the migration adds to a function: ``name: annotation = default``."""

    name: str
    annotation: str
    default: str | None = None
    raw: str = ""


@dataclasses.dataclass
class Plan:
    """How one function is migrated: what it must take and the parameters it gains.

    Attributes:
        function: the original function.
        kind: a ``"view"`` gets typed parameters; the others get the request (hooks, error handlers
            and helpers as a parameter, a decorator's wrapper from its keyword arguments).
        role: the view's methods and path parameters, for a view.
        names: every name the function uses that is not a Flask reference, with its first use.
        existing: the function's own parameter names.
        request: the name of the request (parameter or local).
        session: the name of the session parameter (views).
        needs_request, needs_session: whether the edits use them.
        forced_request: a decorator reads ``kwargs["request"]``: the parameter must be there and
            be called ``request``.
        params: typed parameters, keyed by ``(source, request key)``.
        body: how the body is read (``"json"`` or ``"form"``), which lanner cannot mix.
        kwargs: a wrapper's ``**kwargs`` name.
        app_context: a click command had Flask's ``@with_appcontext`` (now lanner's
            ``@pass_app_context``).
        error: an error handler's exception parameter (when lanner passes it something else
            than Flask did, see `Role.errors`).
    """

    function: cst.FunctionDef
    kind: PlanKind
    role: Role | None
    names: dict[str, cst.Name]
    existing: set[str]
    request: str = "request"
    session: str = "session"
    needs_request: bool = False
    needs_session: bool = False
    forced_request: bool = False
    params: dict[tuple[Source, str], Param] = dataclasses.field(default_factory=dict)
    body: Literal["json", "form", ""] = ""
    kwargs: str = ""
    app_context: bool = False
    error: str = ""

    @property
    def view(self) -> bool:
        """Whether lanner passes the function its parameters (a view)."""
        return self.kind == "view"

    def taken(self, name: str) -> bool:
        """Whether a new parameter may not be called `name`."""
        return name in self.names or name in self.existing or self.taken_by_params(name)

    def taken_by_params(self, name: str) -> bool:
        """Whether `name` is already a parameter the migration gives the function."""
        return (
            name in (self.request, self.session)
            or any(param.name == name for param in self.params.values())
            or (self.role is not None and name in self.role.path_params)
        )


def literal(node: cst.BaseExpression) -> bool:
    """Whether `node` is a constant that can be a parameter default."""
    if isinstance(node, cst.SimpleString | cst.Integer | cst.Float):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return isinstance(node.expression, cst.Integer | cst.Float)
    return False


def _identifier(key: str) -> str:
    name = re.sub(r"\W", "_", key)
    if not name or name[0].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) else name


class ParamsMixin(FlaskVisitor):
    """Turn reads of the request's query, form, files and JSON body into typed parameters."""

    def typed(self, plan: Plan, source: Source, node: cst.Call | cst.Subscript) -> bool:
        """Replace ``request.X.get(key...)`` or ``request.X[key]`` by a parameter; False if not possible."""
        if not plan.view:
            return False
        if isinstance(node, cst.Call):
            spec = self._getter(plan, source, node)
        else:
            spec = self._subscript(plan, source, node)
        if spec is None:
            return False
        key, annotation, default = spec
        if source in ("form", "file"):
            if plan.body == "json":
                return False
            plan.body = "form"
        bound = self._bind(plan, source, key, annotation, default, node)
        if bound and source == "file":
            why = "lanner's UploadFile reads asynchronously (await upload.read()); FileStorage.save() has no "
            why += "equivalent"
            self.report(node, f"request.files[{key!r}]", why, note=True)
        return bound

    def _getter(self, plan: Plan, source: Source, call: cst.Call) -> tuple[str, str, str | None] | None:
        positional = [arg for arg in call.args if arg.keyword is None]
        if not positional or any(arg.star for arg in call.args):
            return None
        key = string_value(positional[0].value)
        default: cst.BaseExpression | None = positional[1].value if len(positional) > 1 else None
        kind = "str"
        for arg in call.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value == "default":
                default = arg.value
            elif (
                arg.keyword.value == "type" and isinstance(arg.value, cst.Name) and arg.value.value in _TYPES
            ):
                kind = arg.value.value
            else:
                return None
        if key is None or len(positional) > 2 or (default is not None and not literal(default)):
            return None
        if source == "file":
            kind = self.ctx.use("lanner", "UploadFile")
        if default is None or code(default) == "None":
            return key, f"{kind} | None", "None"
        return key, kind, code(default)

    def _subscript(
        self, plan: Plan, source: Source, node: cst.Subscript
    ) -> tuple[str, str, str | None] | None:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return None
        key = string_value(node.slice[0].slice.value)
        if key is None:
            return None
        body_only = plan.role is not None and plan.role.methods <= _BODY_METHODS
        if source == "file":
            upload = self.ctx.use("lanner", "UploadFile")
            return (key, upload, None) if body_only else (key, f"{upload} | None", "None")
        if source == "form":
            # Flask reads an empty field as "", lanner as absent: "" keeps `if not title:` checks,
            # and a page that also answers GET still renders without the field.
            return key, "str", '""'
        return key, "str", None

    def json_body(self, plan: Plan, node: cst.CSTNode, call: cst.Call | None) -> bool:
        """Replace ``request.get_json()`` (or ``request.json``) by a body parameter; False if not possible."""
        if not plan.view or plan.body == "form":
            return False
        default: str | None = None
        forced = False
        for arg in call.args if call is not None else ():
            name = arg.keyword.value if arg.keyword is not None else ""
            if name == "silent" and code(arg.value) == "True":
                default = "None"
            elif name == "force" and code(arg.value) == "True":
                forced = True
            elif name != "cache":
                return False
        plan.body = "json"
        annotated = self.ctx.use("typing", "Annotated")
        anything = self.ctx.use("typing", "Any")
        body = self.ctx.use("lanner", "Body")
        bound = self._bind(plan, "body", "", f"{annotated}[{anything}, {body}()]", default, node, marked=True)
        if bound and forced:
            why = "lanner reads JSON only with a JSON Content-Type"
            why += " (Lanner(strict_content_type=False) relaxes it)"
            self.report(node, "get_json(force=True)", why, note=True)
        return bound

    def _bind(
        self,
        plan: Plan,
        source: Source,
        key: str,
        annotation: str,
        default: str | None,
        node: cst.CSTNode,
        *,
        marked: bool = False,
    ) -> bool:
        existing = plan.params.get((source, key))
        if existing is not None:
            if (existing.raw, existing.default) != (annotation, default):
                return False
            self.ctx.edits.replace(node, existing.name)
            return True
        raw = annotation
        name, removed = self._name(plan, key or "payload", source, node)
        if not marked:
            alias = f"alias={key!r}".replace("'", '"') if name != key else ""
            if source != "query" or alias:
                annotated = self.ctx.use("typing", "Annotated")
                marker = self.ctx.use("lanner", _MARKERS[source])
                annotation = f"{annotated}[{annotation}, {marker}({alias})]"
        plan.params[(source, key)] = Param(name, annotation, default, raw)
        if not removed:
            self.ctx.edits.replace(node, name)
        return True

    def _name(self, plan: Plan, key: str, source: Source, node: cst.CSTNode) -> tuple[str, bool]:
        """The new parameter's name, and whether ``name = <read>`` was removed for it.

        ``title = request.form["title"]`` becomes the parameter ``title`` when nothing in the
        function uses ``title`` before; otherwise the key names the parameter when the function
        does not use that name at all, or the key with the source appended.
        """
        assign = self.parent(node)
        if (
            isinstance(assign, cst.Assign)
            and assign.value is node
            and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name)
        ):
            target = assign.targets[0].target
            first = plan.names.get(target.value)
            if (
                first is target
                and target.value not in plan.existing
                and not plan.taken_by_params(target.value)
            ):
                self.ctx.edits.add(assign, lambda updated: cst.RemovalSentinel.REMOVE)
                return target.value, True
        name = _identifier(key)
        while plan.taken(name):
            name = f"{name}_{source}"
        return name, False
