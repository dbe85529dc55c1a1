"""The Flask codemod's first pass: apps, blueprints, routes, hooks and error handlers.

``Flask(__name__)`` becomes ``Lanner()``, ``Blueprint(...)`` a ``Router(...)``, ``@bp.route(path,
methods=[...])`` one decorator per method with lanner's ``{id:int}`` converters, and the hooks and
error handlers lanner's names. It also decides which functions Flask calls (views, hooks, error
handlers), which the views pass (`_flask_views`) then gives their parameters. The calls on apps
and blueprints (``register_blueprint``, ``add_url_rule``...) are `_flask_registrations`'.
"""

from __future__ import annotations

import libcst as cst

from lanner.migrate._flask_apps import keyword_arg
from lanner.migrate._flask_base import ModuleContext, code, expression, string_value
from lanner.migrate._flask_params import literal
from lanner.migrate._flask_registrations import (
    BLUEPRINT_ONLY,
    HOOK_ROLES,
    TEARDOWNS,
    UNSUPPORTED,
    RegistrationsMixin,
    convert_rule,
    missing,
    string_list,
)

__all__ = ["APP_HOOKS", "RoutesPass", "convert_rule"]

_VERBS = ("get", "post", "put", "patch", "delete", "options", "head")

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


def _defaults(node: cst.BaseExpression) -> dict[str, str] | None:
    """A route's ``defaults={"page": 1}`` as ``{name: source}``, when keys and values are literals."""
    if not isinstance(node, cst.Dict):
        return None
    found: dict[str, str] = {}
    for element in node.elements:
        key = string_value(element.key) if isinstance(element, cst.DictElement) else None
        if key is None or not isinstance(element, cst.DictElement) or not literal(element.value):
            return None
        found[key] = code(element.value)
    return found


class RoutesPass(RegistrationsMixin):
    """Record the edits of apps, blueprints, routes and hooks; decide the roles of functions."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        self._decorated: list[cst.FunctionDef] = []
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
                self.report(decorator, label, BLUEPRINT_ONLY.format(attribute))
                return None
            self._role(function, "before" if attribute == "before_request" else "after")
            return None
        if attribute == "errorhandler" and call is not None:
            if not is_app:
                self.report(decorator, label, BLUEPRINT_ONLY.format("errorhandler"))
                return None
            self._role(function, "error").errors |= self.error_kind([arg.value for arg in call.args])
            keys = ", ".join(self.error_key(arg.value) for arg in call.args)
            return [f"{variable}.exception_handler({keys})"]
        if attribute in _TEMPLATE_HELPERS:
            if not is_app:
                why = f"lanner's Router has no {attribute}: use @app.{attribute} (for every template)"
                self.report(decorator, label, why)
            return None
        if attribute in APP_HOOKS and not is_app:
            if attribute in HOOK_ROLES:
                role = self._role(function, HOOK_ROLES[attribute])
                if attribute == "app_errorhandler" and call is not None:
                    role.errors |= self.error_kind([arg.value for arg in call.args])
                    for arg in call.args:
                        self.error_key(arg.value)  # the decorator goes: its werkzeug class is converted
            method = APP_HOOKS[attribute]
            if self.ctx.qualify(variable) in self.ctx.facts.included:
                why = f"now registered with app.{method}() where the router is included"
                self.report(decorator, label, why, note=True)
            else:
                why = "register it on the app where the router is included: "
                why += f"app.{method}({function.name.value})"
                self.report(decorator, label, why)
            return []
        if attribute in TEARDOWNS:
            if not is_app:
                self.report(decorator, label, BLUEPRINT_ONLY.format(attribute))
                return None
            self._role(function, "teardown")
            return [f"{variable}.teardown_request"]
        reason = UNSUPPORTED.get(attribute) or missing(is_app, attribute)
        if reason:
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
        defaults: dict[str, str] = {}
        defaults_at: cst.CSTNode | None = None
        for arg in call.args:
            if arg.keyword is None:
                continue
            keyword = arg.keyword.value
            if keyword == "methods" and attribute == "route":
                methods = string_list(arg.value)
                methods_source = code(arg.value)
            elif keyword == "defaults" and (found := _defaults(arg.value)) is not None:
                defaults, defaults_at = found, arg  # the views pass gives the parameters their defaults
            elif keyword == "endpoint":
                options.append(f"name={code(arg.value)}")
            elif keyword == "strict_slashes":
                why = "lanner redirects between /path and /path/ itself; dropped"
                self.report(arg, f"{keyword}=", why, note=True)
            elif keyword == "provide_automatic_options":
                why = (
                    "lanner answers OPTIONS with 405 and an Allow header (@app.options declares one); dropped"
                )
                self.report(arg, f"{keyword}=", why, note=True)
            elif keyword == "rule":
                continue
            else:
                self.report(
                    arg,
                    f"@{variable}.{attribute}({keyword}=...)",
                    "only a literal dict is converted: give the view's parameters these defaults; dropped"
                    if keyword == "defaults"
                    else "lanner routes have no such option; dropped",
                )
        role = self._role(function, "view")
        role.path_params |= names
        if defaults_at is not None:
            role.defaults.update(defaults)
            role.defaults_at = defaults_at
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
