"""Flask's ``Flask(...)`` and ``Blueprint(...)`` calls as lanner's ``Lanner(...)`` and ``Router(...)``.

The app keeps the arguments lanner shares (``instance_relative_config``...), gains the session key
Flask read from its config when it is a literal (or ``os.environ``), and serves its ``static``
folder as Flask did; a blueprint's name, prefix and folders become the router's.
"""

from __future__ import annotations

import inspect
from typing import Any

import libcst as cst

from lanner.app import Lanner
from lanner.migrate._flask_base import Blueprint, FlaskVisitor, ModuleContext, code, string_value


def keyword_arg(call: cst.Call, name: str, position: int | None = None) -> cst.Arg | None:
    """The argument `name` of `call`, given by keyword or (with `position`) positionally."""
    for index, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
        if arg.keyword is None and arg.star == "" and index == position:
            return arg
    return None


def blueprint_prefix(call: cst.Call) -> str:
    """The ``url_prefix`` a ``Blueprint(...)`` call gives, as source ("" for none or "/")."""
    arg = keyword_arg(call, "url_prefix")
    if arg is None:
        return ""
    prefix = string_value(arg.value)
    if prefix is None:
        return code(arg.value)
    return repr("/" + prefix.strip("/")).replace("'", '"') if prefix.strip("/") else ""


class AppsMixin(FlaskVisitor):
    """Find the module's apps and blueprints (and their secret key) and convert their constructors."""

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__(ctx)
        self._constructors: list[tuple[str, cst.Call, cst.CSTNode]] = []
        self._secrets: dict[str, cst.BaseExpression] = {}
        self._app_params: set[str] = set()
        self._aliases: dict[str, list[str]] = {}
        #: The variables the module assigns a Flask() or Blueprint() to (other modules may import them).
        self.assigned: list[str] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        """Remember ``app = Flask(...)``, ``bp = Blueprint(...)`` and a literal secret key."""
        if len(node.targets) == 1:
            self._assigned(node.targets[0].target, node.value, node)
            return
        # app = application = Flask(__name__): one constructor, several names for it.
        names = [target.target for target in node.targets if isinstance(target.target, cst.Name)]
        if names:
            self._assigned(names[0], node.value, node)
            if self._constructors and self._constructors[-1][1] is node.value:
                self._aliases[names[0].value] = [name.value for name in names[1:]]
                self.assigned.extend(name.value for name in names[1:])

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        """Remember ``app: Flask = Flask(...)``."""
        if node.value is not None:
            self._assigned(node.target, node.value, node)

    def _assigned(self, target: cst.BaseExpression, value: cst.BaseExpression, node: cst.CSTNode) -> None:
        if isinstance(target, cst.Name) and isinstance(value, cst.Call):
            kind = self.flask(value.func)
            if kind in ("Flask", "Blueprint"):
                self._constructors.append((target.value, value, node))
                self.assigned.append(target.value)
        secret = _secret_target(target)
        if secret is not None:
            self._secrets.setdefault(secret, value)

    def visit_Param(self, node: cst.Param) -> None:
        """Remember ``def init_app(app)``: an extension-style function's ``app`` is a Flask app."""
        annotation = node.annotation.annotation if node.annotation is not None else None
        if node.name.value == "app" or (annotation is not None and self.flask(annotation) == "Flask"):
            self._app_params.add(node.name.value)

    def visit_Call(self, node: cst.Call) -> None:
        """Remember ``app.config.from_mapping(SECRET_KEY=...)``."""
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("from_mapping", "update")
            and isinstance(func.value, cst.Attribute)
            and func.value.attr.value == "config"
            and isinstance(func.value.value, cst.Name)
        ):
            secret = keyword_arg(node, "SECRET_KEY")
            if secret is not None:
                self._secrets.setdefault(func.value.value.value, secret.value)

    def convert_apps(self, imported: list[cst.Name]) -> None:
        """Record the apps and blueprints (built here or `imported`), then convert their constructors."""
        self.ctx.apps |= self._app_params
        for use in imported:
            known = self.ctx.facts.objects.get(self.target(use) or "")
            if known is not None and use.value not in self.ctx.apps:
                if known[0] == "app":
                    self.ctx.apps.add(use.value)
                else:
                    self.ctx.blueprints.setdefault(use.value, Blueprint(use.value, known[1]))
        for variable, call, _ in self._constructors:
            names = [variable, *self._aliases.get(variable, ())]
            if self.flask(call.func) == "Flask":
                self.ctx.apps.update(names)
            else:
                name_arg = keyword_arg(call, "name", 0)
                name = string_value(name_arg.value) if name_arg is not None else None
                for each in names:
                    self.ctx.blueprints[each] = Blueprint(each, name, blueprint_prefix(call))
        for variable, call, statement in self._constructors:
            if variable in self.ctx.apps:
                self._app(variable, call, statement)
            else:
                self._blueprint(call)

    # -- Flask() and Blueprint() --------------------------------------------------------------

    def _app(self, variable: str, call: cst.Call, statement: cst.CSTNode) -> None:
        keep: list[str] = []
        static_folder: str | None = "static"
        static_url: str | None = None
        for index, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if (keyword is None and index == 0 and not arg.star) or keyword == "import_name":
                continue
            if keyword == "static_folder":
                static_folder = string_value(arg.value)
                # static_folder=None turns Flask's static route off; any other expression is unknown.
                if static_folder is None and code(arg.value) != "None":
                    self.report(
                        arg, "Flask(static_folder=...)", "serve the folder with app.static(prefix, dir)"
                    )
            elif keyword == "static_url_path":
                static_url = string_value(arg.value)
            elif keyword == "template_folder":
                continue  # the views pass builds its Templates from the project's template folder
            elif keyword in ("instance_path", "instance_relative_config") and _lanner_accepts(keyword):
                keep.append(f"{keyword}={code(arg.value)}")
            else:
                self.report(
                    arg, f"Flask({keyword or '...'}=...)", "Lanner() has no such argument; left in place"
                )
                keep.append(code(arg).rstrip(", "))
        secret = self._secrets.get(variable)
        if secret is not None and _portable(secret):
            keep.append(f"secret_key={code(secret)}")
        elif self.ctx.facts.uses_session:
            self.report(
                call, "Flask()", "sessions need a key: give Lanner(secret_key=...) or LANNER_SECRET_KEY"
            )
        lanner = self.ctx.use("lanner", "Lanner")
        self.ctx.converted.add(call.func)
        self.ctx.edits.replace(call, f"{lanner}({', '.join(keep)})")
        folder = self.ctx.folder
        if static_folder and folder is not None and (folder / static_folder).is_dir():
            prefix = static_url if static_url is not None else "/" + static_folder.rstrip("/").split("/")[-1]
            line = f"{variable}.static({prefix!r}, {static_folder!r})".replace("'", '"')
            self.after_statement(statement, line)

    def after_statement(self, node: cst.CSTNode, *lines: str) -> None:
        """Insert statements after the statement line holding `node`."""
        current: cst.CSTNode | None = node
        while current is not None and not isinstance(current, cst.SimpleStatementLine):
            current = self.parent(current)
        if current is None:
            return
        added = [cst.parse_statement(line) for line in lines]

        def edit(updated: Any) -> Any:
            return cst.FlattenSentinel([updated, *added])

        self.ctx.edits.add(current, edit)

    def _blueprint(self, call: cst.Call) -> None:
        keep: list[str] = []
        for index, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword == "import_name" or (keyword is None and index == 1):
                continue
            value = code(arg.value)
            if keyword == "name" or (keyword is None and index == 0):
                keep.append(f"name={value}")
            elif keyword == "url_prefix":
                prefix = string_value(arg.value)
                if prefix is not None:
                    prefix = prefix.rstrip("/")
                    value = repr("/" + prefix.lstrip("/") if prefix else "").replace("'", '"')
                if prefix != "":
                    keep.insert(0, f"prefix={value}")
            elif keyword == "template_folder":
                keep.append(f"templates={value}")
            elif keyword == "static_folder":
                keep.append(f"static={value}")
            else:
                self.report(
                    arg, f"Blueprint({keyword or '...'}=...)", "Router() has no such argument; dropped"
                )
        router = self.ctx.use("lanner", "Router")
        self.ctx.converted.add(call.func)
        self.ctx.edits.replace(call, f"{router}({', '.join(keep)})")


def _secret_target(target: cst.BaseExpression) -> str | None:
    """The app variable of ``app.secret_key = ...`` or ``app.config["SECRET_KEY"] = ...``."""
    if (
        isinstance(target, cst.Attribute)
        and target.attr.value == "secret_key"
        and isinstance(target.value, cst.Name)
    ):
        return target.value.value
    if (
        isinstance(target, cst.Subscript)
        and isinstance(target.value, cst.Attribute)
        and target.value.attr.value == "config"
        and isinstance(target.value.value, cst.Name)
        and len(target.slice) == 1
        and isinstance(target.slice[0].slice, cst.Index)
        and string_value(target.slice[0].slice.value) == "SECRET_KEY"
    ):
        return target.value.value.value
    return None


def _portable(node: cst.BaseExpression) -> bool:
    """Whether the secret's expression can move into ``Lanner(...)``: literals and ``os.environ``."""
    if string_value(node) is not None:
        return True
    text = code(node)
    if not text.startswith(("os.environ", "os.getenv(")):
        return False
    # Only literals besides `os`: a local variable would not exist where Lanner() is called.
    names = _Names()
    node.visit(names)
    return names.found <= {"os", "environ", "getenv", "get"}


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.found.add(node.value)


def _lanner_accepts(keyword: str) -> bool:
    """Whether this version of ``Lanner()`` takes `keyword` (the codemod follows lanner's growth)."""
    return keyword in inspect.signature(Lanner).parameters
