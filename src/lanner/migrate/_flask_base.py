"""What the Flask codemod's passes share: the module being migrated, its edits and its report.

Every pass (`_flask_routes`, `_flask_views`, `_flask_imports`) reads the original module, with
LibCST metadata, and records edits keyed by the original nodes; `ApplyEdits` then makes them all
at once, so line numbers in the report are the original file's and untouched code keeps its
formatting and comments. This module imports LibCST: import it only when migrating.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import libcst as cst
from libcst.metadata import (
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    ScopeProvider,
)

from lanner.migrate._flask_names import HTTP_ERRORS, canonical

#: An edit: takes the node as the transformation left it (children already edited), returns its
#: replacement (or a removal or flatten sentinel, for statements).
Edit = Callable[[Any], Any]
RoleKind = Literal["view", "before", "after", "error", "teardown"]

_EMPTY = cst.Module([])


def code(node: cst.CSTNode) -> str:
    """The source text of `node`."""
    return _EMPTY.code_for_node(node)


def expression(text: str) -> cst.BaseExpression:
    """Parse one expression."""
    return cst.parse_expression(text)


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The value of a plain string literal (no f-string, no concatenation), else None."""
    if isinstance(node, cst.SimpleString) and "b" not in node.prefix.lower():
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


@dataclasses.dataclass(frozen=True)
class Item:
    """A line of the report: at `line`, `what` was left as is (or, with `note`, changed) because `why`."""

    line: int
    what: str
    why: str
    note: bool = False


@dataclasses.dataclass
class Role:
    """What a function is to Flask: a view (with its methods and path parameters) or a hook.

    Attributes:
        kind: ``"view"`` gets typed parameters; hooks and error handlers get the request first.
        methods: the HTTP methods a view serves.
        path_params: the names in its route paths.
        defaults: a view's parameter defaults from Flask's ``defaults={...}`` route option.
        defaults_at: that option, where the report points.
        errors: what an error handler handles, one word per key: ``"http"`` (an HTTP error: lanner
            passes its `HTTPException`), ``"server"`` (500: lanner passes the exception raised) or
            ``"other"`` (an exception class of the project's).
    """

    kind: RoleKind
    methods: set[str] = dataclasses.field(default_factory=set)
    path_params: set[str] = dataclasses.field(default_factory=set)
    defaults: dict[str, str] = dataclasses.field(default_factory=dict)
    defaults_at: cst.CSTNode | None = None
    errors: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class ProjectFacts:
    """What the migration of one module needs to know about the others.

    Attributes:
        request_functions: ``module.function`` of the helpers that take the request as their first
            argument once migrated (they use ``g``, ``session``... or call such a helper).
        request_decorators: ``module.function`` of the view decorators whose wrapper needs the
            request: the views they wrap take a ``request`` parameter.
        app_hooks: ``module.blueprint`` → the ``(app method, first arguments, function)`` calls
            that register its ``before_app_request``-like hooks where it is included.
        included: ``module.blueprint`` of the blueprints some module registers on an app.
        views: ``module.function`` of the module-level views (``add_url_rule`` may name them).
        objects: ``module.variable`` → ``("app", None)`` or ``("blueprint", its name)``, for the apps
            and blueprints other modules import (``from app import app``, ``from . import bp``).
        prefixes: ``module.blueprint`` → the ``url_prefix`` its ``Blueprint(...)`` gives (source).
        templates: the app's template folder, when known.
        blueprint_templates: the blueprints' template folders (Flask searches them all, after the
            app's, whichever view renders).
        uses_session: some module uses Flask's ``session`` (so the app needs a secret key).
    """

    request_functions: set[str] = dataclasses.field(default_factory=set)
    request_decorators: set[str] = dataclasses.field(default_factory=set)
    app_hooks: dict[str, list[tuple[str, str, str]]] = dataclasses.field(default_factory=dict)
    included: set[str] = dataclasses.field(default_factory=set)
    views: set[str] = dataclasses.field(default_factory=set)
    objects: dict[str, tuple[str, str | None]] = dataclasses.field(default_factory=dict)
    prefixes: dict[str, str] = dataclasses.field(default_factory=dict)
    templates: Path | None = None
    blueprint_templates: list[Path] = dataclasses.field(default_factory=list)
    uses_session: bool = False


@dataclasses.dataclass
class Blueprint:
    """A ``Blueprint(...)`` the module builds: its variable, its name and its prefix."""

    variable: str
    name: str | None
    prefix: str = ""


class Edits:
    """The edits the passes recorded, keyed by original node, in the order they were recorded."""

    def __init__(self) -> None:
        self.by_node: dict[cst.CSTNode, list[Edit]] = {}

    def add(self, node: cst.CSTNode, edit: Edit) -> None:
        """Record `edit` for `node` (after the edits already recorded for it)."""
        self.by_node.setdefault(node, []).append(edit)

    def replace(self, node: cst.CSTNode, text: str) -> None:
        """Replace the expression `node` with the expression `text`, keeping its parentheses."""

        def edit(updated: Any) -> Any:
            return expression(text).with_changes(lpar=updated.lpar, rpar=updated.rpar)

        self.add(node, edit)


class ApplyEdits(cst.CSTTransformer):
    """Make the recorded `Edits`, bottom-up, and tidy the blocks and lines they emptied."""

    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: Any, updated_node: Any) -> Any:
        """Run the edits recorded for `original_node` on its updated form."""
        result = updated_node
        for edit in self.edits.by_node.get(original_node, ()):
            result = edit(result)
            if not isinstance(result, cst.CSTNode):
                return result  # a removal or a flatten sentinel ends the node's edits
        if isinstance(result, cst.SimpleStatementLine) and not result.body:
            return cst.RemovalSentinel.REMOVE
        if isinstance(result, cst.IndentedBlock) and not result.body:
            return result.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return result


@dataclasses.dataclass
class ModuleContext:
    """One module's migration in progress, shared by the passes.

    Attributes:
        path: the file name findings are reported under.
        module: the module's dotted name ("" when unknown, for a single source).
        package: the package relative imports start from (the module itself for an ``__init__``).
        folder: the module's folder on disk, when it has one.
        facts: what the other modules of the project need or offer.
        edits: the edits recorded so far.
        items: the report's lines so far.
        converted: the references to Flask names that no longer refer to Flask once edited.
        roles: the functions Flask calls (views, hooks, error handlers) and their roles.
        apps: the variables holding a ``Flask(...)``.
        blueprints: the variables holding a ``Blueprint(...)``.
        taken: the names the module binds at its top level (new imports must not shadow them).
        existing: names the module already imports: ``{(module, name): local name}``.
        imports: the lanner (and typing) names the edits use: ``{module: {name: local name}}``.
        templates: the module-level name of the `Templates` the edits render with ("" when unused).
    """

    path: str
    module: str
    package: str
    folder: Path | None
    facts: ProjectFacts
    edits: Edits = dataclasses.field(default_factory=Edits)
    items: list[Item] = dataclasses.field(default_factory=list)
    converted: set[cst.CSTNode] = dataclasses.field(default_factory=set)
    roles: dict[cst.FunctionDef, Role] = dataclasses.field(default_factory=dict)
    apps: set[str] = dataclasses.field(default_factory=set)
    blueprints: dict[str, Blueprint] = dataclasses.field(default_factory=dict)
    taken: set[str] = dataclasses.field(default_factory=set)
    existing: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    imports: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    templates: str = ""

    def use(self, module: str, name: str) -> str:
        """The local name under which the edits use lanner's `module`.`name` (imported later)."""
        if (module, name) in self.existing:
            return self.existing[(module, name)]
        names = self.imports.setdefault(module, {})
        if name not in names:
            local = name
            while local in self.taken:
                local = f"lanner_{local}"
            names[name] = local
        return names[name]

    def use_templates(self) -> str:
        """The module-level `Templates` object's name (created by the imports pass)."""
        if not self.templates:
            name = "templates"
            while name in self.taken:
                name = f"lanner_{name}"
            self.templates = name
            self.use("lanner.templating", "Templates")
        return self.templates

    def qualify(self, name: str) -> str:
        """``module.name`` for a function this module defines (the key `ProjectFacts` uses)."""
        return f"{self.module}.{name}" if self.module else name


class FlaskVisitor(cst.CSTVisitor):
    """A pass over the original module: reads metadata, records edits and report lines."""

    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider, ParentNodeProvider, ScopeProvider)

    def __init__(self, ctx: ModuleContext) -> None:
        super().__init__()
        self.ctx = ctx

    def line(self, node: cst.CSTNode) -> int:
        """The 1-based line where `node` starts in the original file."""
        return int(self.get_metadata(PositionProvider, node).start.line)

    def report(self, node: cst.CSTNode, what: str, why: str, *, note: bool = False) -> None:
        """Add a line to the report (once)."""
        item = Item(self.line(node), what, why, note)
        if item not in self.ctx.items:
            self.ctx.items.append(item)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node's parent in the original module."""
        parent: cst.CSTNode | None = self.get_metadata(ParentNodeProvider, node, None)
        return parent

    def flask(self, node: cst.CSTNode) -> str | None:
        """The Flask name `node` refers to (``request``, ``Flask``...), through the module's imports.

        A ``Name`` bound by ``from flask import ...`` counts, and ``flask.X`` after ``import flask``;
        a parameter or local variable of the same name does not.
        """
        if isinstance(node, cst.Name):
            return self._imported(node)
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            for qualified in self.get_metadata(QualifiedNameProvider, node.value, set()):
                if qualified.source is QualifiedNameSource.IMPORT and qualified.name == "flask":
                    return canonical(f"flask.{node.attr.value}")
        return None

    def _imported(self, node: cst.Name) -> str | None:
        for qualified in self.get_metadata(QualifiedNameProvider, node, set()):
            if qualified.source is QualifiedNameSource.IMPORT:
                name = canonical(qualified.name)
                if name is not None:
                    return name
        return None

    def error_status(self, node: cst.CSTNode) -> int | None:
        """The status of werkzeug's HTTP error class `node` names (``NotFound`` → 404), else None."""
        name = self.flask(node)
        return HTTP_ERRORS.get(name) if name is not None else None

    def error_key(self, node: cst.BaseExpression) -> str:
        """An error handler's key as lanner takes it: werkzeug's ``NotFound`` becomes ``404``."""
        status = self.error_status(node)
        if status is None:
            return code(node)
        self.ctx.converted.add(node)
        return str(status)

    def error_kind(self, keys: list[cst.BaseExpression]) -> set[str]:
        """What an error handler registered for `keys` receives from lanner (see `Role.errors`)."""
        kinds: set[str] = set()
        for key in keys:
            status = self.error_status(key)
            if isinstance(key, cst.Integer) and isinstance(key.evaluated_value, int):
                status = key.evaluated_value
            if status is not None:
                kinds.add("server" if status == 500 else "http")
            else:
                kinds.add("http" if self.flask(key) == "HTTPException" else "other")
        return kinds

    def qualified(self, node: cst.CSTNode) -> set[str]:
        """The qualified names of `node` (``.auth.login_required`` for a relative import)."""
        return {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}

    def target(self, node: cst.BaseExpression) -> str | None:
        """``module.name`` of the project function `node` names: defined here or imported."""
        for qualified in self.get_metadata(QualifiedNameProvider, node, set()):
            if qualified.source is QualifiedNameSource.LOCAL and "." not in qualified.name:
                return self.ctx.qualify(qualified.name)
            if qualified.source is QualifiedNameSource.IMPORT:
                return absolute(qualified.name, self.ctx.package)
        return None


def absolute(name: str, package: str) -> str:
    """Resolve a relative qualified name (``.auth.login_required``) from a module of `package`."""
    if not name.startswith("."):
        return name
    dots = len(name) - len(name.lstrip("."))
    parts = package.split(".") if package else []
    base = parts[: len(parts) - dots + 1]
    rest = name[dots:]
    return ".".join([*base, rest]) if base else rest
