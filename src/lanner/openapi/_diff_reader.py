"""Reading JSON Schemas for the OpenAPI diff: follow `$ref`s and normalise each schema into a view.

A schema is read once into a `SchemaView`: `$ref`s and `allOf` are merged, and the three spellings of
"may be null" (3.0 `nullable: true`, 3.1 `type: [X, "null"]`, `anyOf: [X, {type: null}]`) become one
flag, so documents written for either version compare equal. Only references inside the document are
followed; any other reads as "any schema".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

ANY_SCHEMA: Final[dict[str, Any]] = {}
LIMITS: Final = ("maxLength", "maxItems", "maxProperties", "minLength", "minItems", "minProperties")
_ANNOTATIONS: Final = frozenset({"$ref", "$comment", "description", "title", "summary", "example"})

Bound = tuple[float, bool]
"""A numeric bound and whether it is exclusive."""


@dataclass
class SchemaView:
    """What a schema accepts, with references, `allOf` and nullable spellings merged."""

    types: frozenset[str] | None = None
    fmt: str | None = None
    nullable: bool = False
    enum: dict[str, Any] | None = None
    upper: Bound | None = None
    lower: Bound | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    additional: Any = None
    items: Any = None
    branches: list[tuple[str, Any]] = field(default_factory=list)
    read_only: bool = False
    write_only: bool = False


class SchemaReader:
    """Follows local `$ref`s inside one document and reads its schemas as normalised views."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document
        self._views: dict[int, SchemaView] = {}

    def lookup(self, ref: str) -> Any:
        """Return the value a local reference ("#/components/...") points at, or None."""
        if not ref.startswith("#"):
            return None
        node: Any = self._document
        for token in unquote(ref[1:]).split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict):
                node = node.get(token)
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node

    def resolve(self, value: Any) -> Any:
        """Follow a chain of `$ref`s; a missing or cyclic reference resolves to an empty object."""
        seen: set[str] = set()
        while isinstance(value, dict) and isinstance(value.get("$ref"), str):
            ref = value["$ref"]
            if ref in seen:
                return ANY_SCHEMA
            seen.add(ref)
            value = self.lookup(ref)
            if value is None:
                return ANY_SCHEMA
        return value

    def target(self, schema: Any) -> Any:
        """Return the schema `schema` has the structure of, through `$ref`s and nullable wrappers."""
        seen: set[int] = set()
        while isinstance(schema, dict) and id(schema) not in seen:
            seen.add(id(schema))
            if ref_of(schema) is not None and schema.keys() <= _ANNOTATIONS:
                schema = self.lookup(schema["$ref"])
                continue
            wrappers = [key for key in schema if key not in _ANNOTATIONS and key != "nullable"]
            members = (
                [m for m in _list(schema.get(wrappers[0])) if not self._is_null(m)]
                if (len(wrappers) == 1 and wrappers[0] in ("allOf", "anyOf", "oneOf"))
                else []
            )
            if len(members) != 1:
                break
            schema = members[0]
        return schema

    def view(self, schema: Any) -> SchemaView:
        """Return the normalised view of `schema` (cached: documents are not mutated)."""
        cached = self._views.get(id(schema))
        if cached is None:
            cached = self._views[id(schema)] = self._build(schema, set())
        return cached

    def _build(self, schema: Any, seen: set[int]) -> SchemaView:
        view = SchemaView()
        self._absorb(view, schema, seen)
        if view.types is None:
            if view.properties or view.required or view.additional is not None:
                view.types = frozenset({"object"})
            elif view.items is not None:
                view.types = frozenset({"array"})
        return view

    def _is_null(self, schema: Any) -> bool:
        target = self.resolve(schema)
        return isinstance(target, dict) and (
            target.get("type") in ("null", ["null"]) or target.get("enum") == [None]
        )

    def _absorb(self, view: SchemaView, schema: Any, seen: set[int]) -> None:
        if schema is False:
            view.types = frozenset()
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        if isinstance(schema.get("$ref"), str):
            self._absorb(view, self.lookup(schema["$ref"]), seen)
        for member in _list(schema.get("allOf")):
            self._absorb(view, member, seen)
        for keyword in ("anyOf", "oneOf"):
            members = _list(schema.get(keyword))
            kept = [(f"{keyword}[{i}]", m) for i, m in enumerate(members) if not self._is_null(m)]
            view.nullable |= len(kept) < len(members)
            if len(kept) == 1:
                self._absorb(view, kept[0][1], seen)
            elif kept:
                view.branches.extend(kept)
                view.nullable |= any(self._build(m, set(seen)).nullable for _, m in kept)
        self._absorb_value_keywords(view, schema)
        self._absorb_object_keywords(view, schema)

    def _absorb_value_keywords(self, view: SchemaView, schema: dict[str, Any]) -> None:
        raw = schema.get("type")
        names = {raw} if isinstance(raw, str) else set(_list(raw))
        if names:
            view.nullable |= "null" in names
            types = frozenset(name for name in names if isinstance(name, str) and name != "null")
            view.types = types if view.types is None else (view.types & types or types)
        view.nullable |= schema.get("nullable") is True
        if isinstance(schema.get("format"), str):
            view.fmt = schema["format"]
        values = _list(schema.get("enum")) if "enum" in schema else None
        if "const" in schema:
            values = [schema["const"]]
        if values is not None:
            view.nullable |= None in values
            enum = {value_key(value): value for value in values if value is not None}
            view.enum = enum if view.enum is None else {k: enum[k] for k in enum if k in view.enum}
        for attr, keyword, exclusive, upper in (
            ("upper", "maximum", "exclusiveMaximum", True),
            ("lower", "minimum", "exclusiveMinimum", False),
        ):
            bounds = []
            if is_number(schema.get(keyword)):
                bounds.append((schema[keyword], schema.get(exclusive) is True))
            if is_number(schema.get(exclusive)):
                bounds.append((schema[exclusive], True))
            for bound in bounds:
                current = getattr(view, attr)
                if current is None or tighter_bound(current, bound, upper):
                    setattr(view, attr, bound)
        for keyword in LIMITS:
            if is_number(schema.get(keyword)):
                value, current = schema[keyword], view.limits.get(keyword, schema[keyword])
                view.limits[keyword] = min(current, value) if keyword[:3] == "max" else max(current, value)
        for keyword in ("pattern", "multipleOf"):
            if keyword in schema:
                view.limits[keyword] = schema[keyword]
        if schema.get("uniqueItems") is True:
            view.limits["uniqueItems"] = True

    def _absorb_object_keywords(self, view: SchemaView, schema: dict[str, Any]) -> None:
        properties = schema.get("properties")
        if isinstance(properties, dict):
            view.properties.update(properties)
        view.required.update(name for name in _list(schema.get("required")) if isinstance(name, str))
        if "additionalProperties" in schema and view.additional is not False:
            view.additional = schema["additionalProperties"]
        # unevaluatedProperties only matters here when it refuses unknown properties.
        if schema.get("unevaluatedProperties") is False:
            view.additional = False
        if "items" in schema:
            view.items = ANY_SCHEMA if schema["items"] is True else schema["items"]
        view.read_only |= schema.get("readOnly") is True
        view.write_only |= schema.get("writeOnly") is True


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def ref_of(schema: Any) -> str | None:
    """Return the `$ref` of a schema, or None when it has none."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return ref if isinstance(ref, str) else None


def is_number(value: Any) -> bool:
    """Tell whether a JSON value is a number (booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_key(value: Any) -> str:
    """Return a hashable key for any JSON value (enum members may be objects)."""
    return json.dumps(value, sort_keys=True, default=str)


def tighter_bound(old: Bound, new: Bound, upper: bool) -> bool:
    """Tell whether `new` accepts fewer numbers than `old`, both upper or both lower bounds."""
    if new[0] != old[0]:
        return new[0] < old[0] if upper else new[0] > old[0]
    return new[1] and not old[1]
