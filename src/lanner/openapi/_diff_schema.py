"""Schema comparison for the OpenAPI diff: what changed between two schemas, and whom it breaks.

The same change is breaking or not depending on the side it is seen from: a request schema breaks
clients when it accepts less than before, a response schema when it may produce something clients
could not parse. `SCHEMA_RULES` holds both answers for every kind. Constraint changes (lengths,
bounds, patterns...) are only reported for requests: a client parsing a response does not validate
them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from lanner.openapi._diff_reader import (
    ANY_SCHEMA,
    LIMITS,
    SchemaReader,
    SchemaView,
    is_number,
    ref_of,
    tighter_bound,
    value_key,
)

Side = Literal["request", "response"]

# kind suffix: (breaking in a request, breaking in a response)
SCHEMA_RULES: Final[dict[str, tuple[bool, bool]]] = {
    "type-narrowed": (True, False),
    "type-widened": (False, True),
    "type-changed": (True, True),
    "nullable-added": (False, True),
    "nullable-removed": (True, False),
    "enum-value-added": (False, True),
    "enum-value-removed": (True, False),
    "enum-added": (True, False),
    "enum-removed": (False, True),
    "constraint-tightened": (True, False),
    "constraint-loosened": (False, False),
    "property-added": (False, False),
    "required-property-added": (True, False),
    # In a request, only when the schema refuses additional properties.
    "property-removed": (True, True),
    "property-made-required": (True, False),
    "property-made-optional": (False, True),
    "additional-properties-restricted": (True, False),
    "additional-properties-allowed": (False, False),
    "variant-added": (False, True),
    "variant-removed": (True, False),
}

_CONSTRAINTS: Final = (*LIMITS, "pattern", "multipleOf", "uniqueItems")
_FORMAT_WIDTH: Final = {
    "int32": ("integer", 1),
    "int64": ("integer", 2),
    "float": ("number", 1),
    "double": ("number", 2),
}
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Finding:
    """One schema change, located by `pointer` relative to the compared schema ("" is the root)."""

    kind: str
    breaking: bool
    pointer: str
    message: str


class SchemaComparer:
    """Compares schemas of an old and a new document, following references without looping."""

    def __init__(self, old: SchemaReader, new: SchemaReader) -> None:
        self._old = old
        self._new = new
        self._active: set[tuple[int, int, str]] = set()
        self._done: set[tuple[int, int, str]] = set()

    def compare(self, old: Any, new: Any, side: Side) -> list[Finding]:
        """Return the changes from schema `old` to schema `new`, as seen from `side`.

        A change inside a schema used at several places of `old` is reported at its first place
        only: schemas sharing components could otherwise list it exponentially many times.
        """
        self._done = set()
        return self._compare(old, new, side, check_nullable=True)

    def _compare(self, old: Any, new: Any, side: Side, check_nullable: bool) -> list[Finding]:
        out: list[Finding] = []
        ov, nv = self._old.view(old), self._new.view(new)
        if check_nullable and ov.nullable != nv.nullable:
            kind = "nullable-added" if nv.nullable else "nullable-removed"
            text = "became nullable" if nv.nullable else "is no longer nullable"
            _emit(out, kind, side, "", text)
        # The rest is keyed by the structure the schemas stand for, so that a recursive `$ref`,
        # even wrapped to be nullable, meets its own key again.
        old_target, new_target = self._old.target(old), self._new.target(new)
        key = (id(old_target), id(new_target), side)
        if key in self._active or key in self._done:  # recursive, or already reported
            return out
        self._active.add(key)
        try:
            out += self._compare_views(old, new, ov, nv, side)
        finally:
            self._active.discard(key)
        # ANY_SCHEMA stands in for absent schemas, which differ from one place to the next.
        if all(isinstance(t, dict) and t is not ANY_SCHEMA for t in (old_target, new_target)):
            self._done.add(key)
        return out

    def _compare_views(self, old: Any, new: Any, ov: SchemaView, nv: SchemaView, side: Side) -> list[Finding]:
        out: list[Finding] = []
        if bool(ov.branches) != bool(nv.branches):
            self._branches(out, old, new, ov, nv, side)
            return out
        if self._types(out, ov, nv, side) == "changed":
            return out
        self._enum(out, ov, nv, side)
        if side == "request":
            _limits(out, ov, nv)
        self._properties(out, ov, nv, side)
        if (ov.additional is False) != (nv.additional is False):
            restricted = nv.additional is False
            kind = "restricted" if restricted else "allowed"
            text = f"{'no longer' if restricted else 'now'} allows additional properties"
            _emit(out, f"additional-properties-{kind}", side, "", text)
        elif isinstance(ov.additional, dict) or isinstance(nv.additional, dict):
            self._child(out, ".*", _schema(ov.additional), _schema(nv.additional), side)
        if ov.items is not None or nv.items is not None:
            self._child(out, "[]", _schema(ov.items), _schema(nv.items), side)
        if ov.branches:
            self._branches(out, old, new, ov, nv, side)
        return out

    def _child(self, out: list[Finding], at: str, old: Any, new: Any, side: Side) -> None:
        self._prefixed(out, at, self._compare(old, new, side, check_nullable=True))

    @staticmethod
    def _prefixed(out: list[Finding], pointer: str, found_below: list[Finding]) -> None:
        for found in found_below:
            out.append(replace(found, pointer=pointer + found.pointer))

    def _types(self, out: list[Finding], ov: SchemaView, nv: SchemaView, side: Side) -> str:
        wider, narrower = _covers(nv.types, ov.types), _covers(ov.types, nv.types)
        if wider and narrower:
            relation = _format_relation(ov.fmt, nv.fmt)
        else:
            relation = "widened" if wider else "narrowed" if narrower else "changed"
        if relation != "same":
            text = f"type {relation} from {_describe(ov)} to {_describe(nv)}"
            _emit(out, f"type-{relation}", side, "", text)
        return relation

    def _enum(self, out: list[Finding], ov: SchemaView, nv: SchemaView, side: Side) -> None:
        if nv.enum is not None and ov.enum is None:
            _emit(out, "enum-added", side, "", f"now restricted to {_values(nv.enum)}")
        elif ov.enum is not None and nv.enum is None:
            _emit(out, "enum-removed", side, "", f"no longer restricted to {_values(ov.enum)}")
        elif ov.enum is not None and nv.enum is not None:
            added = {k: v for k, v in nv.enum.items() if k not in ov.enum}
            removed = {k: v for k, v in ov.enum.items() if k not in nv.enum}
            if added:
                _emit(out, "enum-value-added", side, "", f"enum value(s) added: {_values(added)}")
            if removed:
                text = f"enum value(s) removed: {_values(removed)}"
                _emit(out, "enum-value-removed", side, "", text)

    def _properties(self, out: list[Finding], ov: SchemaView, nv: SchemaView, side: Side) -> None:
        old_props, old_req = self._visible(self._old, ov, side)
        new_props, new_req = self._visible(self._new, nv, side)
        for name in sorted(old_props.keys() | new_props.keys()):
            at = _member(name)
            if name not in new_props:
                # Extra request properties stay valid unless the schema refuses unknown ones.
                refused = side == "response" or nv.additional is False
                why = "" if side == "response" else " (unknown properties are refused)"
                text = f"property {name!r} removed{why if refused else ''}"
                _emit(out, "property-removed", side, at, text, breaking=refused)
            elif name not in old_props:
                required = name in new_req
                kind = "required-property-added" if required else "property-added"
                text = f"{'required' if required else 'optional'} property {name!r} added"
                _emit(out, kind, side, at, text)
            else:
                if (name in old_req) != (name in new_req):
                    kind = "required" if name in new_req else "optional"
                    _emit(out, f"property-made-{kind}", side, at, f"property {name!r} made {kind}")
                self._child(out, at, old_props[name], new_props[name], side)

    @staticmethod
    def _visible(reader: SchemaReader, view: SchemaView, side: Side) -> tuple[dict[str, Any], set[str]]:
        # Clients never send readOnly properties nor receive writeOnly ones.
        hidden = "read_only" if side == "request" else "write_only"
        props = {n: s for n, s in view.properties.items() if not getattr(reader.view(s), hidden)}
        required = view.required - (view.properties.keys() - props.keys())
        props.update((name, ANY_SCHEMA) for name in required if name not in props)
        return props, required

    def _branches(
        self, out: list[Finding], old: Any, new: Any, ov: SchemaView, nv: SchemaView, side: Side
    ) -> None:
        # A schema without anyOf/oneOf is compared as the single variant of its counterpart.
        old_left = list(ov.branches or [("", old)])
        new_left = list(nv.branches or [("", new)])
        pairs: list[tuple[tuple[str, Any], tuple[str, Any]]] = []
        for by_ref in (True, False):  # same component first, then same JSON types
            for old_branch in list(old_left):
                match = next((b for b in new_left if self._same(old_branch, b, by_ref)), None)
                if match is not None:
                    pairs.append((old_branch, match))
                    old_left.remove(old_branch)
                    new_left.remove(match)
        for (old_label, old_branch), (new_label, new_branch) in pairs:
            # Null-ness of a variant was already folded into the parent and compared there.
            found = self._compare(old_branch, new_branch, side, check_nullable=False)
            self._prefixed(out, f".{old_label or new_label}", found)
        for label, branch in old_left:
            text = f"variant {self._name(self._old, branch)} removed"
            _emit(out, "variant-removed", side, f".{label}" if label else "", text)
        for label, branch in new_left:
            text = f"variant {self._name(self._new, branch)} added"
            _emit(out, "variant-added", side, f".{label}" if label else "", text)

    def _same(self, old: tuple[str, Any], new: tuple[str, Any], by_ref: bool) -> bool:
        if by_ref:
            return ref_of(old[1]) is not None and ref_of(old[1]) == ref_of(new[1])
        return self._old.view(old[1]).types == self._new.view(new[1]).types

    @staticmethod
    def _name(reader: SchemaReader, branch: Any) -> str:
        ref = ref_of(branch)
        return ref.rsplit("/", 1)[-1] if ref else _describe(reader.view(branch))


def _emit(
    out: list[Finding], kind: str, side: Side, at: str, message: str, breaking: bool | None = None
) -> None:
    if breaking is None:
        breaking = SCHEMA_RULES[kind][0 if side == "request" else 1]
    out.append(Finding(kind, breaking, at, message))


def _limits(out: list[Finding], ov: SchemaView, nv: SchemaView) -> None:
    pairs: list[tuple[str, Any, Any]] = [
        ("maximum", ov.upper, nv.upper),
        ("minimum", ov.lower, nv.lower),
    ]
    pairs += [(name, ov.limits.get(name), nv.limits.get(name)) for name in _CONSTRAINTS]
    for name, old, new in pairs:
        if old == new:
            continue
        if old is None or new is None:
            tight = old is None
            text = f"{name} {_show(new if tight else old)} {'added' if tight else 'removed'}"
        else:
            tight = _istighter_bound(name, old, new)
            text = f"{name} changed from {_show(old)} to {_show(new)}"
        _emit(out, f"constraint-{'tightened' if tight else 'loosened'}", "request", "", text)


def _istighter_bound(name: str, old: Any, new: Any) -> bool:
    if name in ("maximum", "minimum"):
        return tighter_bound(old, new, upper=name == "maximum")
    if name in LIMITS:
        return bool(new < old if name.startswith("max") else new > old)
    if name == "multipleOf":  # multiples of 10 are multiples of 5: a divisor loosens
        return not (is_number(old) and is_number(new) and new and old % new == 0)
    return True  # a changed pattern cannot be proven to accept more


def _schema(value: Any) -> Any:
    return value if isinstance(value, dict) or value is False else ANY_SCHEMA


def _values(enum: dict[str, Any]) -> str:
    return ", ".join(value_key(value) for value in enum.values())


def _show(value: Any) -> str:
    if isinstance(value, tuple):  # a (bound, exclusive) pair
        return f"{value[0]} (exclusive)" if value[1] else f"{value[0]}"
    return json.dumps(value)


def _covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _format_relation(old: str | None, new: str | None) -> str:
    if old == new:
        return "same"
    if old is None or new is None:
        return "narrowed" if old is None else "widened"
    old_width, new_width = _FORMAT_WIDTH.get(old), _FORMAT_WIDTH.get(new)
    if old_width and new_width and old_width[0] == new_width[0]:
        return "widened" if new_width[1] > old_width[1] else "narrowed"
    return "changed"


def _describe(view: SchemaView) -> str:
    text = "any" if view.types is None else " | ".join(sorted(view.types)) or "nothing"
    return f"{text} ({view.fmt})" if view.fmt else text


def _member(name: str) -> str:
    return f".{name}" if _IDENTIFIER.fullmatch(name) else f"[{json.dumps(name)}]"
