"""The Flask codemod's first pass: apps, blueprints, routes, hooks and error handlers.

``Flask(__name__)`` becomes ``Lanner()``, ``Blueprint(...)`` a ``Router(...)``, ``@bp.route(path,
methods=[...])`` one decorator per method with lanner's ``{id:int}`` converters, and the hooks and
error handlers lanner's names. It also decides which functions Flask calls (views, hooks, error
handlers), which the views pass (`_flask_views`) then gives their parameters.
"""

from __future__ import annotations

import re

import libcst as cst

from lanner.migrate._flask_apps import AppsMixin, keyword_arg
from lanner.migrate._flask_base import ModuleContext, Role, RoleKind, code, expression, string_value

_VERBS = ("get", "post", "put", "patch", "delete", "options", "head")
_RULE = re.compile(r"<(?:(?P<converter>[A-Za-z_]\w*)(?P<arguments>\([^)]*\))?:)?(?P<name>[A-Za-z_]\w*)>")
_CONVERTERS = {
    "string": "",
    "default": "",
    "int": ":int",
    "float": ":float",
    "path": ":path",
    "uuid": ":uuid",
}

#: App and blueprint attributes reported when used, with the suggested change.
_UNSUPPORTED = {
    "run": "serve the app with `lanner run module:app` (or `lanner dev` while developing)",
    "test_client": "use lanner.testing.TestClient(app)",
    "test_request_context": "lanner has no request context: build a Request or use TestClient",
    "logger": "use logging.getLogger(__name__)",
    "jinja_env": "use templates.env of a lanner.templating.Templates",
    "url_map": "register custom path converters with lanner.convertors.CONVERTORS",
    "wsgi_app": "wrap the app in ASGI middleware with app.add_middleware()",
    "json": "lanner serialises with pydantic: return JSON-compatible values",
    "extensions": "Flask extensions do not run on lanner: find a lanner or ASGI equivalent",
    "url_value_preprocessor": "read the value as a path parameter of each view",
    "url_defaults": "pass the value to request.url_for() explicitly",
    "shell_context_processor": "lanner has no shell command",
    "before_first_request": "run it at startup: Lanner(on_startup=[f]) or lifespan=",
}
_NOTES = {
    "config": "app.config kept: check that lanner's app.config provides what this reads",
}
#: Blueprint hooks that apply to the whole app: the app method that registers them in lanner.
APP_HOOKS = {
    "before_app_request": "before_request",
    "after_app_request": "after_request",
    "teardown_app_request": "teardown_request",
    "app_errorhandler": "add_exception_handler",
    "app_context_processor": "context_processor",
    "app_template_filter": "add_template_filter",
    "app_template_global": "add_template_global",
    "app_template_test": "add_template_test",
}
#: Flask's app and blueprint template helpers; lanner has the app's only.
_TEMPLATE_HELPERS = ("context_processor", "template_filter", "template_global", "template_test")
_BLUEPRINT_ONLY = (
    "lanner's Router has no {0}: register the hook on the app (it then runs for every route) or "
    "make it a dependency of the router: Router(dependencies=[Depends(f)])"
)
_HOOK_ROLES: dict[str, RoleKind] = {
    "before_request": "before",
    "after_request": "after",
    "register_error_handler": "error",
    "before_app_request": "before",
    "after_app_request": "after",
    "teardown_app_request": "teardown",
    "app_errorhandler": "error",
}
#: Flask's two teardown hooks: lanner has one, run after each request and each app_context() block.
_TEARDOWNS = ("teardown_request", "teardown_appcontext")


def convert_rule(rule: str) -> tuple[str, set[str], list[str]]:
    """A Flask URL rule in lanner's syntax: ``/<int:id>`` → ``/{id:int}``.

    Returns:
        The converted rule, the names of its path parameters, and the converters it could not
        convert (``any(a, b)``, custom ones), left as they were.
    """
    names: set[str] = set()
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        converter = match["converter"] or "default"
        if match["arguments"] or converter not in _CONVERTERS:
            problems.append(match[0])
            return match[0]
        names.add(match["name"])
        return "{" + match["name"] + _CONVERTERS[converter] + "}"

    return _RULE.sub(replace, rule), names, problems


def _string_list(node: cst.BaseExpression) -> list[str] | None:
    if not isinstance(node, cst.List | cst.Tuple | cst.Set):
        return None
    values = [string_value(element.value) for element in node.elements]
    return None if any(value is None for value in values) else [str(value) for value in values]


class RoutesPass(AppsMixin):
    """Record the edits of apps, blueprints, routes and hooks; decide the roles of functions."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        self._decorated: list[cst.FunctionDef] = []
        self._functions: dict[str, cst.FunctionDef] = {}
        self._attributes: list[cst.Attribute] = []

    # -- collecting ---------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Remember decorated functions and every function by name (``view_func=index``)."""
        self._functions.setdefault(node.name.value, node)
        if node.decorators:
            self._decorated.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """Remember ``name.attribute`` uses: the app's and blueprints' are read at the end."""
        if isinstance(node.value, cst.Name):
            self._attributes.append(node)

    # -- deciding -----------------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        """Convert what was collected, now that every app and blueprint variable is known."""
        self.convert_apps(
            [attribute.value for attribute in self._attributes if isinstance(attribute.value, cst.Name)]
        )
        for function in self._decorated:
            self._decorators(function)
        for attribute in self._attributes:
            self._member(attribute)

    def _owner(self, node: cst.BaseExpression) -> tuple[str, str] | None:
        """``(variable, attribute)`` when `node` is ``app.attribute`` or ``bp.attribute``."""
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            variable = node.value.value
            if variable in self.ctx.apps or variable in self.ctx.blueprints:
                return variable, node.attr.value
        return None

    def _role(self, function: cst.FunctionDef, kind: RoleKind) -> Role:
        role = self.ctx.roles.get(function)
        if role is None:
            role = self.ctx.roles[function] = Role(kind)
        return role

    # -- decorators ---------------------------------------------------------------------------

    def _decorators(self, function: cst.FunctionDef) -> None:
        plan: dict[int, list[str]] = {}
        for index, decorator in enumerate(function.decorators):
            node = decorator.decorator
            call = node if isinstance(node, cst.Call) else None
            owner = self._owner(call.func if call is not None else node)
            if owner is None:
                continue
            variable, attribute = owner
            replacement = self._decorator(function, decorator, call, variable, attribute)
            if replacement is not None:
                plan[index] = replacement
        if plan:

            def edit(updated: cst.FunctionDef) -> cst.FunctionDef:
                decorators: list[cst.Decorator] = []
                for index, decorator in enumerate(updated.decorators):
                    if index not in plan:
                        decorators.append(decorator)
                        continue
                    for position, text in enumerate(plan[index]):
                        new = cst.Decorator(expression(text))
                        decorators.append(
                            new.with_changes(leading_lines=decorator.leading_lines) if position == 0 else new
                        )
                return updated.with_changes(decorators=decorators)

            self.ctx.edits.add(function, edit)

    def _decorator(
        self,
        function: cst.FunctionDef,
        decorator: cst.Decorator,
        call: cst.Call | None,
        variable: str,
        attribute: str,
    ) -> list[str] | None:
        """The decorators replacing this one ([] removes it), or None to keep it."""
        is_app = variable in self.ctx.apps
        label = f"@{variable}.{attribute}"
        if attribute == "route" or attribute in _VERBS:
            if call is None:
                self.report(decorator, label, "a route decorator needs a path")
                return None
            return self._route(function, call, variable, attribute)
        if attribute in ("before_request", "after_request"):
            if not is_app:
                self.report(decorator, label, _BLUEPRINT_ONLY.format(attribute))
                return None
            self._role(function, "before" if attribute == "before_request" else "after")
            return None
        if attribute == "errorhandler" and call is not None:
            if not is_app:
                self.report(decorator, label, _BLUEPRINT_ONLY.format("errorhandler"))
                return None
            self._role(function, "error")
            return [f"{variable}.exception_handler({', '.join(code(arg.value) for arg in call.args)})"]
        if attribute in _TEMPLATE_HELPERS:
            if not is_app:
                why = f"lanner's Router has no {attribute}: use @app.{attribute} (for every template)"
                self.report(decorator, label, why)
            return None
        if attribute in APP_HOOKS and not is_app:
            if attribute in _HOOK_ROLES:
                self._role(function, _HOOK_ROLES[attribute])
            method = APP_HOOKS[attribute]
            if self.ctx.qualify(variable) in self.ctx.facts.included:
                why = f"now registered with app.{method}() where the router is included"
                self.report(decorator, label, why, note=True)
            else:
                why = "register it on the app where the router is included: "
                why += f"app.{method}({function.name.value})"
                self.report(decorator, label, why)
            return []
        if attribute in _TEARDOWNS:
            if not is_app:
                self.report(decorator, label, _BLUEPRINT_ONLY.format(attribute))
                return None
            self._role(function, "teardown")
            return [f"{variable}.teardown_request"]
        reason = _UNSUPPORTED.get(attribute)
        if reason is not None:
            self.report(decorator, label, reason)
        return None

    def _route(
        self, function: cst.FunctionDef, call: cst.Call, variable: str, attribute: str
    ) -> list[str] | None:
        rule_arg = keyword_arg(call, "rule", 0)
        if rule_arg is None:
            self.report(call, f"@{variable}.{attribute}()", "a route decorator needs a path")
            return None
        path, names, options = self._path(rule_arg.value)
        if path is None:
            return None
        methods: list[str] | None = [attribute.upper()] if attribute != "route" else ["GET"]
        methods_source = ""
        for arg in call.args:
            if arg.keyword is None:
                continue
            keyword = arg.keyword.value
            if keyword == "methods" and attribute == "route":
                methods = _string_list(arg.value)
                methods_source = code(arg.value)
            elif keyword == "endpoint":
                options.append(f"name={code(arg.value)}")
            elif keyword in ("strict_slashes", "provide_automatic_options"):
                self.report(
                    arg, f"{keyword}=", "lanner redirects between /path and /path/ itself; dropped", note=True
                )
            elif keyword == "rule":
                continue
            else:
                self.report(
                    arg,
                    f"@{variable}.{attribute}({keyword}=...)",
                    "lanner routes have no such option; dropped",
                )
        role = self._role(function, "view")
        role.path_params |= names
        if methods is None:
            role.methods |= {"GET", "POST"}
            return [f"{variable}.route({', '.join([path, f'methods={methods_source}', *options])})"]
        verbs = [method.upper() for method in methods]
        if "GET" in verbs and "HEAD" in verbs:
            verbs.remove("HEAD")  # lanner answers HEAD for every GET route
        unknown = [verb for verb in verbs if verb.lower() not in _VERBS]
        if unknown:
            self.report(call, f"methods={unknown}", "lanner serves no such method; dropped")
        verbs = [verb for verb in dict.fromkeys(verbs) if verb.lower() in _VERBS]
        role.methods |= set(verbs)
        return [f"{variable}.{verb.lower()}({', '.join([path, *options])})" for verb in verbs]

    def _path(self, node: cst.BaseExpression) -> tuple[str | None, set[str], list[str]]:
        """The converted path's source, its parameter names, and options it needs."""
        if not isinstance(node, cst.SimpleString) or "b" in node.prefix.lower():
            if "<" in code(node):
                self.report(node, code(node), "only a literal path is converted: use {name:int} converters")
            return code(node), set(), []
        rule, names, problems = convert_rule(node.raw_value)
        for problem in problems:
            self.report(
                node,
                problem,
                "lanner has no such path converter: use {name}, {name:int}, "
                "{name:float}, {name:uuid} or {name:path} and check the value in the view",
            )
        if problems:
            return None, set(), []
        return f"{node.prefix}{node.quote}{rule}{node.quote}", names, []

    # -- other uses of the app and blueprints -------------------------------------------------

    def _member(self, attribute: cst.Attribute) -> None:
        owner = self._owner(attribute)
        if owner is None:
            return
        variable, name = owner
        parent = self.parent(attribute)
        if isinstance(parent, cst.Decorator):
            return
        call = parent if isinstance(parent, cst.Call) and parent.func is attribute else None
        if call is not None and self._decorates(call):
            return
        label = f"{variable}.{name}" + ("()" if call is not None else "")
        if name == "register_blueprint" and call is not None:
            self._register(variable, call, attribute)
        elif name == "add_url_rule" and call is not None:
            self._add_url_rule(variable, call, attribute)
        elif name in ("before_request", "after_request", "register_error_handler") and call is not None:
            self._hook_call(variable, name, call, attribute)
        elif name in _TEARDOWNS and call is not None:
            self._teardown_call(variable, name, call, attribute)
        elif name in _NOTES:
            self.report(attribute, label, _NOTES[name], note=True)
        elif name in _UNSUPPORTED:
            self.report(attribute, label, _UNSUPPORTED[name])

    def _decorates(self, call: cst.Call) -> bool:
        return isinstance(self.parent(call), cst.Decorator)

    def _register(self, variable: str, call: cst.Call, attribute: cst.Attribute) -> None:
        keep: list[str] = []
        for index, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword is None and index == 0:
                keep.append(code(arg.value))
            elif keyword == "url_prefix":
                prefix = string_value(arg.value)
                value = code(arg.value) if prefix is None else repr("/" + prefix.strip("/")).replace("'", '"')
                if prefix is None or prefix.strip("/"):
                    keep.append(f"prefix={value}")
            else:
                self.report(
                    arg,
                    f"register_blueprint({keyword or '...'}=...)",
                    "include_router() has no such argument; dropped",
                )
        self.ctx.edits.replace(call, f"{variable}.include_router({', '.join(keep)})")
        if not call.args:
            return
        blueprint = call.args[0].value
        key = self.target(blueprint) or ""
        hooks = self.ctx.facts.app_hooks.get(key, [])
        if not hooks:
            return
        if isinstance(blueprint, cst.Name) and key != self.ctx.qualify(blueprint.value):
            # `from .auth import bp`: the hooks are not importable under a known name here.
            why = "its before_app_request-like hooks must be registered here by hand: app.before_request(f)"
            self.report(call, f"{variable}.register_blueprint({blueprint.value})", why)
            return
        base = code(blueprint).rpartition(".")[0]
        prefix = base + "." if base else ""
        lines = [
            # add_template_filter(f, name) takes the function first, the hooks take it last.
            f"{variable}.{method}({prefix}{function}{', ' + first.rstrip(', ') if first else ''})"
            if method.startswith("add_template_")
            else f"{variable}.{method}({first}{prefix}{function})"
            for method, first, function in hooks
        ]
        self.after_statement(call, *lines)

    def _add_url_rule(self, variable: str, call: cst.Call, attribute: cst.Attribute) -> None:
        rule = keyword_arg(call, "rule", 0)
        endpoint = keyword_arg(call, "endpoint", 1)
        view = keyword_arg(call, "view_func", 2)
        if rule is None or (view is None and endpoint is None):
            self.report(call, f"{variable}.add_url_rule()", "a rule needs a path and a view_func or endpoint")
            return
        path, names, _ = self._path(rule.value)
        if view is None:
            # A name for url_for() only: the request is served by the route already at that path.
            if path is not None and endpoint is not None and variable in self.ctx.apps:
                self.ctx.edits.replace(call, f"{variable}.add_url_alias({code(endpoint.value)}, {path})")
            else:
                why = "a Router has no URL aliases: call app.add_url_alias(endpoint, path) on the app"
                self.report(call, f"{variable}.add_url_rule()", why)
            return
        methods = ["GET"]
        methods_arg = keyword_arg(call, "methods")
        if methods_arg is not None:
            methods = _string_list(methods_arg.value) or methods
        if path is None:
            return
        function = self._functions.get(view.value.value) if isinstance(view.value, cst.Name) else None
        if function is None:
            if self.target(view.value) not in self.ctx.facts.views:
                why = "only a function defined in the project is converted as a view"
                self.report(view, code(view.value), why)
        else:
            role = self._role(function, "view")
            role.methods |= {method.upper() for method in methods}
            role.path_params |= names
        arguments = [path, code(view.value), repr([method.upper() for method in methods]).replace("'", '"')]
        if endpoint is not None:
            arguments.append(f"name={code(endpoint.value)}")
        self.ctx.edits.replace(call, f"{variable}.add_route({', '.join(arguments)})")

    def _teardown_call(self, variable: str, name: str, call: cst.Call, attribute: cst.Attribute) -> None:
        if variable not in self.ctx.apps:
            self.report(attribute, f"{variable}.{name}()", _BLUEPRINT_ONLY.format(name))
            return
        target = call.args[-1].value if call.args else None
        function = self._functions.get(target.value) if isinstance(target, cst.Name) else None
        if function is not None:
            self._role(function, "teardown")
        if name != "teardown_request":
            self.ctx.edits.add(
                attribute, lambda updated: updated.with_changes(attr=cst.Name("teardown_request"))
            )

    def _hook_call(self, variable: str, name: str, call: cst.Call, attribute: cst.Attribute) -> None:
        if variable not in self.ctx.apps:
            self.report(attribute, f"{variable}.{name}()", _BLUEPRINT_ONLY.format(name))
            return
        target = call.args[-1].value if call.args else None
        function = self._functions.get(target.value) if isinstance(target, cst.Name) else None
        if function is not None:
            self._role(function, _HOOK_ROLES[name])
        if name == "register_error_handler":
            self.ctx.edits.add(
                attribute, lambda updated: updated.with_changes(attr=cst.Name("add_exception_handler"))
            )
