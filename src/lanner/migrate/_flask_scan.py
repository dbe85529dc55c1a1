"""The Flask codemod's look at the whole project before any module is migrated.

Migrating a module needs facts found in others: a helper in ``db.py`` that uses ``g`` takes the
request once migrated, so its callers in ``blog.py`` must pass it; a ``login_required`` in
``auth.py`` reads the request from the view's keyword arguments, so the views it wraps must take
one; a blueprint's ``before_app_request`` hook is registered where the app includes the router.
`scan` collects them into the `ProjectFacts` every module's migration reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from lanner.migrate._flask_base import FlaskVisitor, ModuleContext, ProjectFacts, code, string_value
from lanner.migrate._flask_routes import APP_HOOKS, RoutesPass

#: The Flask names that only work with the request at hand.
NEEDS_REQUEST = frozenset(
    ["request", "g", "session", "current_app", "url_for", "render_template", "flash", "get_flashed_messages"]
)
_SESSION = frozenset(("session", "flash", "get_flashed_messages"))


@dataclasses.dataclass
class Module:
    """A parsed module of the project, as the scan and the migration read it."""

    path: str
    module: str
    package: str
    folder: Path | None
    wrapper: MetadataWrapper


@dataclasses.dataclass
class _Function:
    """A module-level function: whether it uses the request itself, and what it calls."""

    direct: bool = False
    calls: set[str] = dataclasses.field(default_factory=set)
    decorator: bool = False
    candidate: bool = True


def module_context(module: Module, facts: ProjectFacts) -> ModuleContext:
    """A fresh migration context for `module`."""
    return ModuleContext(module.path, module.module, module.package, module.folder, facts)


def scan(modules: Iterable[Module]) -> ProjectFacts:
    """Read every module and return what their migrations need to know about each other."""
    facts = ProjectFacts()
    functions: dict[str, _Function] = {}
    for module in modules:
        scratch = module_context(module, ProjectFacts())
        routes = RoutesPass(scratch)
        module.wrapper.visit(routes)
        for variable in routes.assigned:
            blueprint = scratch.blueprints.get(variable)
            kind = ("blueprint", blueprint.name) if blueprint is not None else ("app", None)
            facts.objects[scratch.qualify(variable)] = kind
            if blueprint is not None and blueprint.prefix:
                facts.prefixes[scratch.qualify(variable)] = blueprint.prefix
        module.wrapper.visit(_ScanPass(scratch, facts, functions))
    needs = {key for key, function in functions.items() if function.direct}
    changed = True
    while changed:
        changed = False
        for key, function in functions.items():
            if key not in needs and function.calls & needs:
                needs.add(key)
                changed = True
    for key in needs:
        function = functions[key]
        if function.decorator:
            facts.request_decorators.add(key)
        elif function.candidate:
            facts.request_functions.add(key)
    return facts


def _has_request(function: cst.FunctionDef) -> bool:
    """Whether the function already takes a request (migrated before, or written so)."""
    params = function.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        annotation = code(param.annotation.annotation) if param.annotation is not None else ""
        if param.name.value == "request" or annotation.rpartition(".")[2] == "Request":
            return True
    return False


class _ScanPass(FlaskVisitor):
    def __init__(self, ctx: ModuleContext, facts: ProjectFacts, functions: dict[str, _Function]) -> None:
        super().__init__(ctx)
        self.facts = facts
        self.functions = functions
        self._stack: list[_Function | None] = []

    @property
    def _current(self) -> _Function | None:
        return self._stack[-1] if self._stack else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._app_hooks(node)
        role = self.ctx.roles.get(node)
        registered = node.decorators and not any(self._is_wraps(d) for d in node.decorators)
        if self._stack and (role is not None or registered):
            # A function that registers views, hooks or commands is an app factory: called once,
            # outside any request, so it cannot take one (``@app.get`` once migrated counts too).
            for enclosing in self._stack:
                if enclosing is not None:
                    enclosing.candidate = False
        if role is not None:
            if role.kind == "view" and not self._stack:
                self.facts.views.add(self.ctx.qualify(node.name.value))
            self._stack.append(None)  # a view's uses are its own, not its enclosing function's
            return
        if self._stack:
            current = self._current
            if current is not None and any(self._is_wraps(d) for d in node.decorators):
                current.decorator = True
            self._stack.append(current)
            return
        function = _Function(candidate=not node.decorators and not _has_request(node))
        self.functions[self.ctx.qualify(node.name.value)] = function
        self._stack.append(function)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(None)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._stack.pop()

    def _is_wraps(self, decorator: cst.Decorator) -> bool:
        call = decorator.decorator
        return isinstance(call, cst.Call) and "functools.wraps" in self.qualified(call.func)

    def _app_hooks(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            call = decorator.decorator if isinstance(decorator.decorator, cst.Call) else None
            target = call.func if call is not None else decorator.decorator
            if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
                continue
            variable, attribute = target.value.value, target.attr.value
            if variable in self.ctx.blueprints and attribute in APP_HOOKS:
                keys = call.args if call is not None else ()
                first = "".join(self.error_key(arg.value) + ", " for arg in keys)
                hooks = self.facts.app_hooks.setdefault(self.ctx.qualify(variable), [])
                hooks.append((APP_HOOKS[attribute], first, node.name.value))

    def visit_Name(self, node: cst.Name) -> None:
        parent = self.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is not node:
            return
        self._flask_use(self.flask(node))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._flask_use(self.flask(node))

    def _flask_use(self, name: str | None) -> None:
        if name is None:
            return
        if name in _SESSION:
            self.facts.uses_session = True
        current = self._current
        if current is not None and name in NEEDS_REQUEST:
            current.direct = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        kind = self.flask(func)
        if kind in ("Flask", "Blueprint"):
            folder = self.ctx.folder
            default = "templates" if kind == "Flask" else None
            template_folder = next(
                (
                    string_value(a.value)
                    for a in node.args
                    if a.keyword and a.keyword.value == "template_folder"
                ),
                default,
            )
            if folder is not None and template_folder is not None:
                if kind == "Flask":
                    self.facts.templates = folder / template_folder
                else:
                    self.facts.blueprint_templates.append(folder / template_folder)
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value in self.ctx.apps
            and func.attr.value == "register_blueprint"
            and node.args
        ):
            key = self.target(node.args[0].value)
            if key is not None:
                self.facts.included.add(key)
        current = self._current
        if current is not None and isinstance(func, cst.Name | cst.Attribute):
            key = self.target(func)
            if key is not None:
                current.calls.add(key)
