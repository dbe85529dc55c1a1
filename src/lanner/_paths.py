"""Path templates and the lookup table built from them (`compile_path`, `RouteTable`).

Lookup never scans every route. Static paths live in a dict. Dynamic paths live in a tree of path
segments; at each segment a static child is tried first, then typed parameters (``int``, ``uuid``,
``float``), then segments mixing text and parameters (the one with the most literal text first), then
plain ``{name}`` parameters, and last a ``{name:path}`` catch-all. The search backtracks, so
``/files/{p:path}`` never hides ``/files/special``, whatever the registration order. In a mixed
segment such as ``{name}.{ext}`` each parameter takes the shortest value that lets the rest match
(``a.tar.gz`` gives ``name="a"``, ``ext="tar.gz"``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from lanner.convertors import Convertor, PathConvertor, get_convertor, split_mixed

T = TypeVar("T")
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?}")
# "." and ".." never fill a parameter: clients remove them from URLs (RFC 3986 section 5.2.4), so
# no link could lead to such a match, and a {p:path} holding ".." is how folders leak.
_DOT_SEGMENTS = frozenset((".", ".."))
# RFC 3986 pchar minus "%": what a literal path segment may keep unescaped.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


class NoMatchFound(LookupError):
    """`url_path_for` was given an unknown route name or parameters that do not fit."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Segment:
    kind: str  # "static" | "param" | "mixed" | "path"
    text: str = ""
    names: tuple[str, ...] = ()
    convertors: tuple[Convertor, ...] = ()
    parts: tuple[str | Convertor, ...] = ()  # mixed only: literal text and convertors, in order

    @property
    def shape(self) -> str:
        if self.kind == "static":
            return "s:" + self.text
        if self.kind == "mixed":
            return "m:" + _PARAM.sub(lambda m: "{" + (m.group(2) or "str") + "}", self.text)
        return self.kind + ":" + self.convertors[0].name


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledPath:
    """A path template parsed into segments, with its parameter names and convertors."""

    template: str
    segments: tuple[_Segment, ...]
    param_names: tuple[str, ...]
    param_types: dict[str, Any]

    @property
    def is_static(self) -> bool:
        """Whether the template has no parameters."""
        return not self.param_names

    @property
    def shape(self) -> tuple[str, ...]:
        """What two templates share when no request could tell them apart."""
        return tuple(segment.shape for segment in self.segments)

    def format(self, params: dict[str, Any]) -> str:
        """Fill the template with `params`.

        Raises:
            NoMatchFound: a parameter is missing, unexpected or cannot be written.
        """
        if set(params) != set(self.param_names):
            raise NoMatchFound(
                f"{self.template} takes parameters {sorted(self.param_names)}, got {sorted(params)}"
            )
        written = []
        for segment in self.segments:
            if segment.kind == "static":
                written.append(quote(segment.text, safe=_SEGMENT_SAFE))
                continue
            parts = segment.parts or segment.convertors
            names = iter(segment.names)
            text = []
            for part in parts:
                if isinstance(part, str):
                    text.append(quote(part, safe=_SEGMENT_SAFE))
                    continue
                try:
                    value = part.to_string(params[next(names)])
                except (ValueError, TypeError) as exc:
                    raise NoMatchFound(f"{self.template}: {exc}") from None
                text.append(quote(value, safe="/" if isinstance(part, PathConvertor) else ""))
            written.append("".join(text))
        return "/" + "/".join(written)


def compile_path(template: str) -> CompiledPath:
    """Parse a path template such as ``/users/{user_id:int}/files/{rest:path}``.

    Raises:
        ValueError: the template does not start with "/", repeats a parameter name, names an
            unknown convertor, or puts a ``path`` parameter anywhere but the last segment.
    """
    if not template.startswith("/"):
        raise ValueError(f"route path {template!r} must start with '/'")
    segments: list[_Segment] = []
    names: list[str] = []
    types: dict[str, Any] = {}
    raw_segments = template[1:].split("/")
    for index, raw in enumerate(raw_segments):
        matches = list(_PARAM.finditer(raw))
        if not matches:
            if "{" in raw or "}" in raw:
                raise ValueError(f"route path {template!r}: malformed parameter in {raw!r}")
            segments.append(_Segment("static", raw))
            continue
        seg_names = tuple(m.group(1) for m in matches)
        convertors = tuple(get_convertor(m.group(2) or "str") for m in matches)
        for name, convertor in zip(seg_names, convertors, strict=True):
            if name in types:
                raise ValueError(f"route path {template!r} repeats parameter {name!r}")
            names.append(name)
            types[name] = convertor.type
        is_whole = len(matches) == 1 and matches[0].group(0) == raw
        has_path = any(isinstance(c, PathConvertor) for c in convertors)
        if has_path and (not is_whole or index != len(raw_segments) - 1):
            raise ValueError(f"route path {template!r}: a path parameter must be a whole, last segment")
        if is_whole:
            segments.append(_Segment("path" if has_path else "param", raw, seg_names, convertors))
            continue
        parts: list[str | Convertor] = []
        last = 0
        for match, convertor in zip(matches, convertors, strict=True):
            parts.extend(_literal(template, raw[last : match.start()]))
            parts.append(convertor)
            last = match.end()
        parts.extend(_literal(template, raw[last:]))
        segments.append(_Segment("mixed", raw, seg_names, convertors, tuple(parts)))
    return CompiledPath(template, tuple(segments), tuple(names), types)


def _literal(template: str, text: str) -> tuple[str, ...]:
    if "{" in text or "}" in text:
        raise ValueError(f"route path {template!r}: malformed parameter near {text!r}")
    return (text,) if text else ()


class _Node(Generic[T]):
    __slots__ = ("catchall", "leaf", "mixed", "params", "plain", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node[T]] = {}
        self.params: list[tuple[Convertor, _Node[T]]] = []  # typed: int, uuid, float
        self.mixed: list[tuple[_Segment, _Node[T]]] = []
        self.plain: _Node[T] | None = None  # {name}
        self.catchall: dict[str, tuple[T, tuple[str, ...]]] | None = None
        self.leaf: dict[str, tuple[T, tuple[str, ...]]] | None = None

    def child(self, segment: _Segment) -> _Node[T]:
        if segment.kind == "static":
            return self.static.setdefault(segment.text, _Node())
        if segment.kind == "param" and segment.convertors[0].name == "str":
            self.plain = self.plain or _Node()
            return self.plain
        if segment.kind == "param":
            for convertor, node in self.params:
                if convertor.name == segment.convertors[0].name:
                    return node
            node = _Node[T]()
            self.params.append((segment.convertors[0], node))
            self.params.sort(key=lambda pair: pair[0].priority)
            return node
        for existing, node in self.mixed:
            if existing.shape == segment.shape:
                return node
        node = _Node()
        self.mixed.append((segment, node))
        self.mixed.sort(key=_specificity)  # stable: equally specific shapes keep their order
        return node


def _specificity(pair: tuple[_Segment, _Node[Any]]) -> tuple[int, int]:
    """Sort key for mixed siblings: more literal text first, then fewer untyped parameters."""
    parts = pair[0].parts
    literal = sum(len(part) for part in parts if isinstance(part, str))
    untyped = sum(1 for part in parts if isinstance(part, Convertor) and part.name == "str")
    return -literal, untyped


class RouteTable(Generic[T]):
    """Compiled lookup from (method, path) to a target; built once, when the app freezes."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, T]] = {}
        self._root: _Node[T] = _Node()

    def add(self, compiled: CompiledPath, methods: Iterable[str], target: T) -> None:
        """Add `target` for the template and methods (callers have checked conflicts)."""
        if compiled.is_static:
            by_method = self._static.setdefault(compiled.template, {})
            for method in methods:
                by_method[method] = target
            return
        node = self._root
        *body, last = compiled.segments
        for segment in body:
            node = node.child(segment)
        if last.kind == "path":
            node.catchall = node.catchall or {}
            leaf = node.catchall
        else:
            node = node.child(last)
            node.leaf = node.leaf or {}
            leaf = node.leaf
        for method in methods:
            leaf[method] = (target, compiled.param_names)

    def find(self, method: str, path: str) -> tuple[T | None, dict[str, Any], set[str]]:
        """Return ``(target, params, allowed)``.

        `target` is None when nothing matched; `allowed` then holds the methods the path does
        accept (empty for an unknown path, so the caller answers 404 or 405). `params` is a new
        dict each time: it becomes the request's ``path_params``, which code may change.
        """
        by_method = self._static.get(path)
        if by_method is not None:
            target = by_method.get(method)
            if target is not None:
                return target, {}, set()
        segments = path[1:].split("/")
        values: list[Any] = []
        # PERF(routes): the first path a depth-first search tries is the greedy one; when it ends
        # in a match, that match is the search's answer, found without recursion or backtracking.
        hit = _walk(self._root, segments, values, method)
        if hit is not None:
            return hit[0], _params(hit[1], values), set()
        allowed: set[str] = set(by_method) if by_method else set()
        values.clear()
        hit = _search(self._root, segments, 0, values, method, allowed)
        if hit is None:
            return None, {}, allowed
        return hit[0], _params(hit[1], values), allowed


def _params(names: tuple[str, ...], values: list[Any]) -> dict[str, Any]:
    # PERF(routes): one parameter is the common case; dict(zip(...)) costs ~0.4 us more.
    if len(names) == 1:
        return {names[0]: values[0]}
    return dict(zip(names, values, strict=True))


def _walk(
    node: _Node[T], segments: list[str], values: list[Any], method: str
) -> tuple[T, tuple[str, ...]] | None:
    """Follow the first choice `_search` would try at every segment; None where it would go on."""
    for segment in segments:
        child = node.static.get(segment)
        if child is None:
            for convertor, candidate in node.params:
                value = convertor.convert(segment)
                if value is not None:
                    values.append(value)
                    child = candidate
                    break
            else:
                # Mixed segments come before {name} in the search order, and a catch-all is tried
                # last: those cases are left to `_search`.
                if node.mixed or node.plain is None or not segment or segment in _DOT_SEGMENTS:
                    return None
                values.append(segment)
                child = node.plain
        node = child
    leaf = node.leaf
    return None if leaf is None else leaf.get(method)


def _search(
    node: _Node[T], segments: list[str], index: int, values: list[Any], method: str, allowed: set[str]
) -> tuple[T, tuple[str, ...]] | None:
    if index == len(segments):
        leaf = node.leaf
        if leaf is not None:
            hit = leaf.get(method)
            if hit is not None:
                return hit
            allowed.update(leaf)
        return None
    segment = segments[index]
    child = node.static.get(segment)
    if child is not None:
        hit = _search(child, segments, index + 1, values, method, allowed)
        if hit is not None:
            return hit
    for convertor, child in node.params:
        value = convertor.convert(segment)
        if value is not None:
            values.append(value)
            hit = _search(child, segments, index + 1, values, method, allowed)
            if hit is not None:
                return hit
            values.pop()
    for mixed, child in node.mixed:
        converted = split_mixed(mixed.parts, segment)
        if converted is None:
            continue
        values.extend(converted)
        hit = _search(child, segments, index + 1, values, method, allowed)
        if hit is not None:
            return hit
        del values[len(values) - len(converted) :]
    child = node.plain
    if child is not None and segment and segment not in _DOT_SEGMENTS:
        values.append(segment)
        hit = _search(child, segments, index + 1, values, method, allowed)
        if hit is not None:
            return hit
        values.pop()
    if node.catchall is not None and _DOT_SEGMENTS.isdisjoint(segments[index:]):
        hit = node.catchall.get(method)
        if hit is not None:
            values.append("/".join(segments[index:]))
            return hit
        allowed.update(node.catchall)
    return None
