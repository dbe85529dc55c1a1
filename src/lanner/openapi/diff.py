"""Breaking-change checker for OpenAPI documents: what a new version of an API does to its clients.

`diff_documents(old, new)` compares two parsed OpenAPI 3.0/3.1 documents and returns every change
as a `Change`, flagged breaking when a client written against `old` may fail against `new`: a
request it used to send may now be refused, or a response may hold something it cannot parse.

Paths are matched by shape (`/items/{id}` is `/items/{item_id}`), `$ref`s are followed into
`components` (recursive schemas included), and the 3.0 and 3.1 spellings of a nullable schema
compare equal. A location names the operation, the part of it, then a path into the schema:
`POST /items > request body > $.tags[]`; the root of a schema is the part itself. A change inside
a component used at several places of one request or response is reported at its first place.

Not compared: descriptions, summaries, tags and examples (documentation only), response headers,
callbacks, links, webhooks and servers, and constraint changes in response schemas (clients parse
responses, they do not validate them). References outside the document compare as "any schema".

Example:
    >>> old = {"openapi": "3.1.0", "paths": {"/items": {"get": {"responses": {"200": {}}}}}}
    >>> new = {"openapi": "3.1.0", "paths": {}}
    >>> print(format_text(diff_documents(old, new)))
    BREAKING  /items: path removed with all its operations
    1 breaking, 0 non-breaking change(s)

"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from lanner.openapi._diff_reader import ANY_SCHEMA, SchemaReader
from lanner.openapi._diff_schema import Finding, SchemaComparer, Side

__all__ = [
    "Change",
    "DocumentError",
    "diff_documents",
    "format_json",
    "format_text",
    "load_document",
    "main",
]

_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SEP: Final = " > "
_TEMPLATE_PARAM: Final = re.compile(r"\{([^}/]*)\}")
_NOTHING: Final[dict[str, Any]] = {}


@dataclass(frozen=True)
class Change:
    """One difference between two OpenAPI documents.

    Attributes:
        kind: A stable machine code, such as "operation-removed" or "response-property-removed".
        breaking: Whether a client written against the old document may fail against the new one.
        location: Where the change is, such as "GET /items/{id} > response 200 > $.tags[]".
        message: What changed, in words.
    """

    kind: str
    breaking: bool
    location: str
    message: str


class DocumentError(Exception):
    """A file that cannot be read, cannot be parsed, or does not hold an OpenAPI document."""


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Compare two OpenAPI documents and list what changed for the clients of `old`.

    Args:
        old: The published document, parsed from JSON or YAML.
        new: The candidate document.

    Returns:
        Every change found, breaking ones first, then ordered by location.
    """
    differ = _Differ(old, new)
    differ.compare_paths(_dict(old.get("paths")), _dict(new.get("paths")))
    return sorted(differ.changes, key=lambda change: (not change.breaking, change.location))


def format_text(changes: Iterable[Change]) -> str:
    """Render changes one per line ("BREAKING  <location>: <message>"), then a summary line."""
    changes = list(changes)
    lines = [f"{'BREAKING' if c.breaking else 'ok':<10}{c.location}: {c.message}" for c in changes]
    breaking = sum(change.breaking for change in changes)
    lines.append(f"{breaking} breaking, {len(changes) - breaking} non-breaking change(s)")
    return "\n".join(lines)


def format_json(changes: Iterable[Change]) -> str:
    """Render changes as a JSON object: `{"breaking": n, "non_breaking": m, "changes": [...]}`."""
    changes = list(changes)
    breaking = sum(change.breaking for change in changes)
    report = {
        "breaking": breaking,
        "non_breaking": len(changes) - breaking,
        "changes": [asdict(change) for change in changes],
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


def load_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an OpenAPI document from a JSON file, or a .yaml/.yml file when PyYAML is installed.

    Raises:
        DocumentError: The file cannot be read or parsed, YAML is asked for without PyYAML, or the
            content is not an OpenAPI 3 document (no "openapi" version or no "paths" object).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DocumentError(f"cannot read {path}: it is not UTF-8 text") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ImportError as exc:
            message = f"cannot read {path}: YAML needs PyYAML (pip install pyyaml), or use JSON"
            raise DocumentError(message) from exc
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DocumentError(f"{path} is not valid YAML: {exc}") from exc
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise DocumentError(f"{path} is not valid JSON: {exc.msg} ({where})") from exc
    if isinstance(document, dict) and "swagger" in document:
        raise DocumentError(f"{path} is a Swagger 2 document; only OpenAPI 3 is supported")
    if not isinstance(document, dict) or "openapi" not in document:
        raise DocumentError(f"{path} is not an OpenAPI document: no 'openapi' version field")
    if not isinstance(document.get("paths"), dict):
        raise DocumentError(f"{path} is not an OpenAPI document: no 'paths' object")
    return document


def main(argv: list[str] | None = None) -> int:
    """Run `diff OLD NEW [--format text|json]`, the `lanner openapi` command line.

    The report goes to stdout, errors to stderr.

    Returns:
        0 when nothing breaks, 1 when some change is breaking, 2 for a usage error or a document
        that cannot be loaded.
    """
    parser = argparse.ArgumentParser(prog="lanner openapi", description="Check OpenAPI documents.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    diff = commands.add_parser(
        "diff",
        help="list the changes between two documents, and whether they break clients",
        description="List the changes from OLD to NEW; exit with 1 if any breaks clients of OLD.",
    )
    diff.add_argument("old", metavar="OLD", help="the published document (JSON, or YAML)")
    diff.add_argument("new", metavar="NEW", help="the candidate document (JSON, or YAML)")
    diff.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors and --help: report the status instead of exiting
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    try:
        old, new = load_document(args.old), load_document(args.new)
    except DocumentError as exc:
        print(f"lanner openapi diff: error: {exc}", file=sys.stderr)
        return 2
    changes = diff_documents(old, new)
    print(format_json(changes) if args.format == "json" else format_text(changes))
    return 1 if any(change.breaking for change in changes) else 0


class _Differ:
    """Walks two documents side by side and collects their changes."""

    def __init__(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.old_document, self.new_document = old, new
        self.old, self.new = SchemaReader(old), SchemaReader(new)
        self.schemas = SchemaComparer(self.old, self.new)
        self.changes: list[Change] = []

    def add(self, kind: str, breaking: bool, location: str, message: str) -> None:
        self.changes.append(Change(kind, breaking, location, message))

    def add_findings(self, prefix: str, location: str, findings: list[Finding]) -> None:
        for found in findings:
            where = f"{location}{_SEP}${found.pointer}" if found.pointer else location
            self.add(f"{prefix}-{found.kind}", found.breaking, where, found.message)

    def compare_paths(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        pairs = [(template, template) for template in old if template in new]
        added = [template for template in new if template not in old]
        for template in old:
            if template in new:
                continue
            # Parameter names are not part of the URL: /items/{id} is still /items/{item_id}.
            match = next((t for t in added if _shape(t) == _shape(template)), None)
            if match is None:
                self.add("path-removed", True, template, "path removed with all its operations")
            else:
                pairs.append((template, match))
                added.remove(match)
        for template in added:
            self.add("path-added", False, template, "path added")
        for old_t, new_t in pairs:
            self.compare_path(
                old_t, new_t, _dict(self.old.resolve(old[old_t])), _dict(self.new.resolve(new[new_t]))
            )

    def compare_path(
        self, template: str, new_template: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        # Same shape, so both templates hold as many parameters, in the same places.
        names = dict(
            zip(_TEMPLATE_PARAM.findall(template), _TEMPLATE_PARAM.findall(new_template), strict=True)
        )
        for old_name, new_name in names.items():
            if old_name != new_name:
                text = f"path parameter {{{old_name}}} renamed to {{{new_name}}} (same URLs)"
                self.add("path-parameter-renamed", False, template, text)
        for method in _METHODS:
            old_op, new_op = old.get(method), new.get(method)
            where = f"{method.upper()} {template}"
            if isinstance(old_op, dict) and isinstance(new_op, dict):
                self.compare_operation(where, names, (old, old_op), (new, new_op))
            elif isinstance(old_op, dict):
                self.add("operation-removed", True, where, "operation removed")
            elif isinstance(new_op, dict):
                self.add("operation-added", False, f"{method.upper()} {new_template}", "operation added")

    def compare_operation(
        self,
        where: str,
        names: dict[str, str],
        old: tuple[dict[str, Any], dict[str, Any]],
        new: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        (old_item, old_op), (new_item, new_op) = old, new
        old_id, new_id = old_op.get("operationId"), new_op.get("operationId")
        if old_id != new_id:
            text = (
                f"operationId changed from {old_id!r} to {new_id!r}; generated clients that name"
                " their methods after it will rename them"
            )
            self.add("operation-id-changed", False, where, text)
        if new_op.get("deprecated") is True and old_op.get("deprecated") is not True:
            self.add("operation-deprecated", False, where, "operation deprecated")
        self.compare_security(where, old_op, new_op)
        self.compare_parameters(
            where,
            names,
            _parameters(self.old, old_item, old_op),
            _parameters(self.new, new_item, new_op),
        )
        self.compare_request_body(where, old_op.get("requestBody"), new_op.get("requestBody"))
        self.compare_responses(where, _dict(old_op.get("responses")), _dict(new_op.get("responses")))

    def compare_security(self, where: str, old_op: dict[str, Any], new_op: dict[str, Any]) -> None:
        old, new = _security(self.old_document, old_op), _security(self.new_document, new_op)
        if old == new:
            return
        if old is None:
            self.add("security-added", True, where, f"now requires {_schemes(new)}")
        elif new is None:
            self.add("security-removed", False, where, "no longer requires authentication")
        else:
            # Breaking when some credentials that satisfied the old requirements no longer do.
            kept = all(any(_satisfies(given, wanted) for wanted in new) for given in old)
            text = f"security changed from {_schemes(old)} to {_schemes(new)}"
            self.add("security-changed", not kept, where, text)

    def compare_parameters(
        self,
        where: str,
        names: dict[str, str],
        old: dict[tuple[str, str], dict[str, Any]],
        new: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        left = dict(new)
        for key, param in old.items():
            at = f"{where}{_SEP}{param['in']} parameter {param['name']}"
            target = ("path", names.get(key[1], key[1])) if key[0] == "path" else key
            moved = next((k for k in left if k[1].lower() == key[1].lower()), None)
            if target in left:
                self.compare_parameter(at, param, left.pop(target))
            elif moved is not None:
                text = f"moved from {param['in']} to {left.pop(moved)['in']}"
                self.add("parameter-location-changed", True, at, text)
            else:
                # Servers ignore parameters they do not expect, so old requests still pass.
                self.add("parameter-removed", False, at, "parameter removed")
        for param in left.values():
            at = f"{where}{_SEP}{param['in']} parameter {param['name']}"
            if _required(param):
                self.add("parameter-required-added", True, at, "required parameter added")
            else:
                self.add("parameter-added", False, at, "optional parameter added")

    def compare_parameter(self, at: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if _required(old) != _required(new):
            made = "required" if _required(new) else "optional"
            self.add(f"parameter-made-{made}", made == "required", at, f"parameter made {made}")
        if _style(old) != _style(new):
            text = f"serialisation changed from {_style(old)} to {_style(new)} (style, explode)"
            self.add("parameter-style-changed", True, at, text)
        if new.get("deprecated") is True and old.get("deprecated") is not True:
            self.add("parameter-deprecated", False, at, "parameter deprecated")
        self.add_findings(
            "parameter",
            at,
            self.schemas.compare(_parameter_schema(old), _parameter_schema(new), "request"),
        )

    def compare_request_body(self, where: str, old_raw: Any, new_raw: Any) -> None:
        old, new = self.old.resolve(old_raw), self.new.resolve(new_raw)
        at = f"{where}{_SEP}request body"
        if not isinstance(old, dict) and isinstance(new, dict):
            if new.get("required") is True:
                self.add("request-body-required-added", True, at, "required request body added")
            else:
                self.add("request-body-added", False, at, "optional request body added")
        elif isinstance(old, dict) and not isinstance(new, dict):
            self.add("request-body-removed", False, at, "request body removed")
        elif isinstance(old, dict) and isinstance(new, dict):
            if (old.get("required") is True) != (new.get("required") is True):
                made = "required" if new.get("required") is True else "optional"
                self.add(f"request-body-made-{made}", made == "required", at, f"request body made {made}")
            self.compare_content(at, "request", _dict(old.get("content")), _dict(new.get("content")))

    def compare_responses(self, where: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        old_codes = {str(code).upper(): response for code, response in old.items()}
        new_codes = {str(code).upper(): response for code, response in new.items()}
        for code, response in old_codes.items():
            at = f"{where}{_SEP}response {code}"
            # A code still covered by a documented range (200 by 2XX) keeps its meaning.
            match = code if code in new_codes else f"{code[:1]}XX"
            if match not in new_codes:
                self.add("response-status-removed", True, at, f"response {code} removed")
                continue
            old_content = _dict(_dict(self.old.resolve(response)).get("content"))
            new_content = _dict(_dict(self.new.resolve(new_codes[match])).get("content"))
            self.compare_content(at, "response", old_content, new_content)
        for code in [code for code in new_codes if code not in old_codes]:
            self.add(
                "response-status-added", False, f"{where}{_SEP}response {code}", f"response {code} added"
            )

    def compare_content(self, at: str, side: Side, old: dict[str, Any], new: dict[str, Any]) -> None:
        old = {media.lower(): value for media, value in old.items()}
        new = {media.lower(): value for media, value in new.items()}
        alone = len(old) == 1 and len(new) == 1
        for media in [media for media in old if media not in new]:
            self.add(f"{side}-media-type-removed", True, f"{at} [{media}]", f"media type {media} removed")
        for media in [media for media in new if media not in old]:
            self.add(f"{side}-media-type-added", False, f"{at} [{media}]", f"media type {media} added")
        for media in [media for media in old if media in new]:
            old_schema = _dict(old[media]).get("schema", ANY_SCHEMA)
            new_schema = _dict(new[media]).get("schema", ANY_SCHEMA)
            findings = self.schemas.compare(old_schema, new_schema, side)
            self.add_findings(side, at if alone else f"{at} [{media}]", findings)


def _dict(value: Any) -> dict[str, Any]:
    # A shared constant, not a fresh {}: the schema comparer keys its memo on object ids.
    return value if isinstance(value, dict) else _NOTHING


def _shape(template: str) -> str:
    return _TEMPLATE_PARAM.sub("{}", template)


def _parameters(
    reader: SchemaReader, item: dict[str, Any], op: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    # Operation parameters override the path item's ones with the same name and location.
    for raw in [*_list(item.get("parameters")), *_list(op.get("parameters"))]:
        param = reader.resolve(raw)
        if (
            isinstance(param, dict)
            and isinstance(param.get("name"), str)
            and isinstance(param.get("in"), str)
        ):
            name = param["name"].lower() if param["in"] == "header" else param["name"]
            found[(param["in"], name)] = param
    return found


def _parameter_schema(param: dict[str, Any]) -> Any:
    if "schema" in param:
        return param["schema"]
    media = next(iter(_dict(param.get("content")).values()), None)
    return _dict(media).get("schema", ANY_SCHEMA)


def _required(param: dict[str, Any]) -> bool:
    return param.get("in") == "path" or param.get("required") is True


def _style(param: dict[str, Any]) -> tuple[str, bool]:
    style = param.get("style") or ("form" if param.get("in") in ("query", "cookie") else "simple")
    return str(style), bool(param.get("explode", style == "form"))


def _security(document: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]] | None:
    requirements = op["security"] if "security" in op else document.get("security")
    alternatives = [r for r in _list(requirements) if isinstance(r, dict)]
    # An empty alternative ({}) makes authentication optional.
    return None if not alternatives or any(not r for r in alternatives) else alternatives


def _satisfies(given: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(name in given and _scopes(needed) <= _scopes(given[name]) for name, needed in wanted.items())


def _scopes(value: Any) -> set[str]:
    return {scope for scope in _list(value) if isinstance(scope, str)}


def _schemes(alternatives: list[dict[str, Any]] | None) -> str:
    return " or ".join(" + ".join(sorted(alternative)) for alternative in alternatives or [])


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


if __name__ == "__main__":
    raise SystemExit(main())
