"""The Flask codemod's reading of an app's and blueprints' other uses: registrations and attributes.

``app.register_blueprint(bp, url_prefix=)`` becomes ``app.include_router(bp, prefix=)``,
``app.add_url_rule(...)`` an ``app.add_route(...)`` (or a URL alias), hooks registered by a call
(``app.before_request(f)``, ``app.register_error_handler(404, f)``) lanner's, and the attributes
lanner's app or `Router` lacks are reported. `RoutesPass` (`_flask_routes`) builds on it; Flask's
URL rules are converted here too, for both.
"""

from __future__ import annotations

import functools
import re

import libcst as cst

from lanner.app import Lanner
from lanner.migrate._flask_apps import AppsMixin, keyword_arg
from lanner.migrate._flask_base import ModuleContext, Role, RoleKind, code, string_value
from lanner.routing import Router

#: A Flask rule's ``<converter(arguments):name>`` and the lanner converters they become.
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
UNSUPPORTED = {
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
    "permanent_session_lifetime": "give the lifetime in seconds to Lanner(session_max_age=...)",
    "url_prefix": "a Router's prefix is router.prefix",
}
_NOTES = {
    "config": "app.config kept: check that lanner's app.config provides what this reads",
}
#: What the report says about a hook or error handler declared on a blueprint (``{0}``: its name).
BLUEPRINT_ONLY = (
    "lanner's Router has no {0}: register the hook on the app (it then runs for every route) or "
    "make it a dependency of the router: Router(dependencies=[Depends(f)])"
)
#: The hooks registered by a call or a blueprint decorator, and the role of the function they take.
HOOK_ROLES: dict[str, RoleKind] = {
    "before_request": "before",
    "after_request": "after",
    "register_error_handler": "error",
    "before_app_request": "before",
    "after_app_request": "after",
    "teardown_app_request": "teardown",
    "app_errorhandler": "error",
}
#: Flask's two teardown hooks: lanner has one, run after each request and each app_context() block.
TEARDOWNS = ("teardown_request", "teardown_appcontext")


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


def string_list(node: cst.BaseExpression) -> list[str] | None:
    """The values of a literal list, tuple or set of strings (``methods=("GET", "POST")``), else None."""
    if not isinstance(node, cst.List | cst.Tuple | cst.Set):
        return None
    values = [string_value(element.value) for element in node.elements]
    return None if any(value is None for value in values) else [str(value) for value in values]


@functools.cache
def _members(is_app: bool) -> frozenset[str]:
    """The attributes of a lanner app (or of a `Router`): what a converted Flask use may keep."""
    return frozenset(dir(Lanner() if is_app else Router()))


def missing(is_app: bool, name: str) -> str:
    """Why the report lists ``app.name`` (or ``bp.name``) that lanner's object lacks, else ""."""
    if name in _members(is_app):
        return ""
    return f"lanner's {'app' if is_app else 'Router'} has no {name}: convert it by hand"


class RegistrationsMixin(AppsMixin):
    """Convert the calls on the module's apps and blueprints and report the attributes lanner lacks."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        #: Every function of the module by name (``view_func=index``).
        self._functions: dict[str, cst.FunctionDef] = {}

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

    def _path(self, node: cst.BaseExpression) -> tuple[str | None, set[str], list[str]]:
        """The converted path's source, its parameter names, and options it needs."""
        if not isinstance(node, cst.SimpleString) or "b" in node.prefix.lower():
            if "<" in code(node):
                self.report(node, code(node), "only a literal path is converted: use {name:int} converters")
            else:
                why = "not a literal, kept: check that it uses lanner's {name:int} converters, not <int:name>"
                self.report(node, code(node), why, note=True)
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
        """Convert or report one use of ``app.name`` or ``bp.name`` that decorates nothing."""
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
        elif name in TEARDOWNS and call is not None:
            self._teardown_call(variable, name, call, attribute)
        elif name in _NOTES:
            self.report(attribute, label, _NOTES[name], note=True)
        elif name in UNSUPPORTED:
            self.report(attribute, label, UNSUPPORTED[name])
        elif reason := missing(variable in self.ctx.apps, name):
            self.report(attribute, label, reason)

    def _decorates(self, call: cst.Call) -> bool:
        return isinstance(self.parent(call), cst.Decorator)

    def _register(self, variable: str, call: cst.Call, attribute: cst.Attribute) -> None:
        registered = keyword_arg(call, "blueprint", 0)
        if registered is None:
            self.report(call, f"{variable}.register_blueprint()", "include_router() needs the router")
            return
        blueprint = registered.value
        key = self.target(blueprint) or ""
        keep = [code(blueprint)]
        for arg in call.args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if arg is registered:
                continue
            if keyword == "url_prefix":
                prefix = string_value(arg.value)
                value = code(arg.value) if prefix is None else repr("/" + prefix.strip("/")).replace("'", '"')
                if prefix is None or prefix.strip("/"):
                    keep.append(f"prefix={value}")
                else:
                    value = ""
                self._prefix_override(call, blueprint, key, value)
            else:
                self.report(
                    arg,
                    f"register_blueprint({keyword or '...'}=...)",
                    "include_router() has no such argument; dropped",
                )
        self.ctx.edits.replace(call, f"{variable}.include_router({', '.join(keep)})")
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

    def _prefix_override(self, call: cst.Call, blueprint: cst.BaseExpression, key: str, prefix: str) -> None:
        """Report ``register_blueprint(bp, url_prefix=...)`` of a blueprint that has a prefix of its own.

        Flask's registration prefix replaces the blueprint's; lanner's ``include_router`` prefix
        goes in front of the router's, so the routes would move.
        """
        own = self.ctx.facts.prefixes.get(key, "")
        if not own:
            return
        if prefix.startswith('"') and own.startswith('"'):
            where = f"under {prefix[:-1]}{own[1:]}"
        else:
            where = f"under {prefix} + {own}" if prefix else f"under {own}"
        why = (
            f"Flask's url_prefix replaces the blueprint's own ({own}), include_router() keeps the "
            f"router's: its routes are now {where}; drop one of the two prefixes"
        )
        self.report(call, f"register_blueprint({code(blueprint)}, url_prefix=...)", why)

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
                name = string_value(endpoint.value)
                if name is not None and self.ctx.qualify(name) in self.ctx.facts.views:
                    # Flask serves the path with the endpoint's view; the alias only names it.
                    why = f"Flask also serves {path} with the {name} view: app.add_route({path}, {name}) "
                    why += "unless another route answers it"
                    self.report(call, f"{variable}.add_url_rule({path}, {code(endpoint.value)})", why)
            else:
                why = "a Router has no URL aliases: call app.add_url_alias(endpoint, path) on the app"
                self.report(call, f"{variable}.add_url_rule()", why)
            return
        methods: list[str] | None = ["GET"]
        methods_arg = keyword_arg(call, "methods")
        if methods_arg is not None:
            methods = string_list(methods_arg.value)
        if path is None:
            return
        function = self._functions.get(view.value.value) if isinstance(view.value, cst.Name) else None
        if function is None:
            if self.target(view.value) not in self.ctx.facts.views:
                why = "only a function defined in the project is converted as a view"
                self.report(view, code(view.value), why)
        else:
            role = self._role(function, "view")
            # Methods named by a variable are unknown: the view may then answer a POST.
            role.methods |= {method.upper() for method in methods} if methods is not None else {"GET", "POST"}
            role.path_params |= names
        if methods is not None:
            listed = repr([method.upper() for method in methods]).replace("'", '"')
        else:
            assert methods_arg is not None
            listed = code(methods_arg.value)
        arguments = [path, code(view.value), listed]
        if endpoint is not None:
            arguments.append(f"name={code(endpoint.value)}")
        self.ctx.edits.replace(call, f"{variable}.add_route({', '.join(arguments)})")

    def _teardown_call(self, variable: str, name: str, call: cst.Call, attribute: cst.Attribute) -> None:
        if variable not in self.ctx.apps:
            self.report(attribute, f"{variable}.{name}()", BLUEPRINT_ONLY.format(name))
            return
        target = call.args[-1].value if call.args else None
        function = self._functions.get(target.value) if isinstance(target, cst.Name) else None
        if function is not None:
            self._role(function, "teardown")
        else:
            self._foreign_hook(variable, name, target, call)
        if name != "teardown_request":
            self.ctx.edits.add(
                attribute, lambda updated: updated.with_changes(attr=cst.Name("teardown_request"))
            )

    def _foreign_hook(
        self, variable: str, name: str, target: cst.BaseExpression | None, call: cst.Call
    ) -> None:
        """Report a hook this module does not define: lanner calls it with the request first."""
        if target is not None and self.target(target) in self.ctx.facts.request_functions:
            return  # a project helper that takes the request first once migrated
        shown = code(target) if target is not None else ""
        why = "lanner passes the request first: hook(request), hook(request, response), "
        why += "hook(request, error) or handler(request, exc); make sure it takes it"
        self.report(call, f"{variable}.{name}({shown})", why)

    def _hook_call(self, variable: str, name: str, call: cst.Call, attribute: cst.Attribute) -> None:
        if variable not in self.ctx.apps:
            self.report(attribute, f"{variable}.{name}()", BLUEPRINT_ONLY.format(name))
            return
        target = call.args[-1].value if call.args else None
        function = self._functions.get(target.value) if isinstance(target, cst.Name) else None
        if function is not None:
            role = self._role(function, HOOK_ROLES[name])
            if name == "register_error_handler" and len(call.args) == 2:
                role.errors |= self.error_kind([call.args[0].value])
        else:
            self._foreign_hook(variable, name, target, call)
        if name == "register_error_handler" and len(call.args) == 2:
            key = call.args[0].value
            status = self.error_key(key)
            if status != code(key):
                self.ctx.edits.replace(key, status)
        if name == "register_error_handler":
            self.ctx.edits.add(
                attribute, lambda updated: updated.with_changes(attr=cst.Name("add_exception_handler"))
            )
