"""The one place lanner talks to pydantic: validators for request sources, bodies and responses.

Everything here is built once, when a route is registered; the returned objects do only the
per-request work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import types as _pytypes
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, get_args, get_origin

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from lanner._json import holds_infinity, may_overflow
from lanner.exceptions import MalformedBodyError, ResponseValidationError

_SOURCE_CONFIG = ConfigDict(extra="ignore", allow_inf_nan=False, arbitrary_types_allowed=True)
_NO_DEFAULT: Any = pydantic_core.PydanticUndefined


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One request value to validate: its Python name, the key it has in the request, its type."""

    name: str
    key: str
    annotation: Any
    default: Any = _NO_DEFAULT
    constraints: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def required(self) -> bool:
        """Whether the request must carry this value."""
        return self.default is _NO_DEFAULT


def no_default() -> Any:
    """Return the marker `FieldSpec.default` holds for a required value."""
    return _NO_DEFAULT


def _errors(
    exc: ValidationError, prefix: tuple[str | int, ...], fields: bool = False
) -> list[dict[str, Any]]:
    """The validation errors, located under `prefix`, with their input and context made JSON-safe.

    With `fields`, the value validated is a set of request fields, not one value the client sent:
    a missing field's input is then null (what FastAPI reports) rather than every other field.
    """
    found = []
    for error in exc.errors(include_url=False):
        item: dict[str, Any] = {
            "type": error["type"],
            "loc": [*prefix, *error["loc"]],
            "msg": error["msg"],
            "input": None
            if fields and error["type"] == "missing" and len(error["loc"]) == 1
            else _jsonable(error["input"]),
        }
        if "ctx" in error:
            item["ctx"] = {key: _jsonable(value) for key, value in error["ctx"].items()}
        found.append(item)
    return found


def _jsonable(value: Any) -> Any:
    """`value` as JSON can carry it (an exception in a context becomes its message)."""
    if isinstance(value, BaseException):
        return str(value)
    try:
        # Through JSON text, so a non-finite float becomes a string, never bare Infinity.
        return pydantic_core.from_json(pydantic_core.to_json(value, fallback=str, inf_nan_mode="strings"))
    except (ValueError, TypeError):  # pragma: no cover - the fallback covers unknown types
        return str(value)


def _python_errors(validator: Any, raw: bytes, exc: ValidationError) -> ValidationError:
    """Re-run a failed JSON validation on the parsed value, for pydantic's Python-mode wording.

    pydantic words some JSON-mode errors differently ("a valid array" for "a valid list"); the
    errors a client sees should read the same whichever way the value arrived. Only failures pay.
    """
    try:
        validator.validate_python(pydantic_core.from_json(raw))
    except ValidationError as python_exc:
        # Only the wording may change: the same errors at the same places, or keep JSON's.
        same = [(e["loc"], e["type"]) for e in python_exc.errors()] == [
            (e["loc"], e["type"]) for e in exc.errors()
        ]
        return python_exc if same else exc
    except ValueError:
        return exc
    return exc


class SourceValidator:
    """Validate the values one source (path, query, header, cookie, embedded body) supplies.

    Built from a list of `FieldSpec`; `validate` takes a dict keyed by request keys and returns the
    values keyed by Python name.
    """

    __slots__ = ("_model", "_names", "_overflow", "_validate", "_validator", "fields", "location")

    def __init__(self, location: str, fields: Sequence[FieldSpec]) -> None:
        self.location = location
        self.fields = tuple(fields)
        definitions: dict[str, Any] = {}
        for i, spec in enumerate(self.fields):
            # Internal names p0, p1... cannot shadow BaseModel attributes, whatever the user's names.
            definitions[f"p{i}"] = (
                spec.annotation,
                Field(spec.default, alias=spec.key, **spec.constraints),
            )
        self._model: type[BaseModel] = create_model(
            f"{location.title()}Parameters", __config__=_SOURCE_CONFIG, **definitions
        )
        self._names = tuple(spec.name for spec in self.fields)
        # PERF(params): the model stays the schema's source of truth (OpenAPI reads it), but requests
        # are validated against the same fields as a typed dict keyed by Python name, which returns
        # the keyword arguments directly instead of a model instance to unpack (~1.3 us saved).
        schema = _as_typed_dict(self._model.__pydantic_core_schema__, self._names)
        self._validator = _finite_validator(schema, None) or pydantic_core.SchemaValidator(schema)
        self._validate = self._validator.validate_python
        self._overflow = accepts_any(schema)

    def validate(self, data: Mapping[str, Any], out: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        """Validate `data`, storing values in `out` or appending problems to `errors`."""
        try:
            out.update(self._validate(data))
        except ValidationError as exc:
            errors.extend(_errors(exc, (self.location,), fields=True))

    def validate_json(self, raw: bytes, out: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        """Validate a JSON object whose keys are this source's fields (an embedded body)."""
        check_hostile_json(raw, self._overflow)
        try:
            out.update(self._validator.validate_json(raw))
        except ValidationError as exc:
            _raise_if_malformed(exc)
            exc = _python_errors(self._validator, raw, exc)
            errors.extend(_errors(exc, (self.location,), fields=True))

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model that validates this source (its fields are keyed by request key)."""
        return self._model


class ValueValidator:
    """Validate one whole value (a body, a model read from the query string)."""

    __slots__ = ("_adapter", "_overflow", "_validator", "annotation", "location")

    def __init__(self, location: str, annotation: Any, constraints: Mapping[str, Any] | None = None) -> None:
        self.location = location
        self.annotation = annotation
        # `deprecated` only means something on a model field; pydantic warns about it here.
        constraints = {k: v for k, v in (constraints or {}).items() if k != "deprecated"}
        if constraints:
            annotation = Annotated[annotation, Field(**constraints)]
        self._adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        self._validator = _finite_validator(self._adapter.core_schema, self._adapter.validator)
        # Decided once: only a value with an untyped position can receive an overflowing number.
        self._overflow = accepts_any(self._adapter.core_schema)

    def validate_json(self, raw: bytes, errors: list[dict[str, Any]]) -> Any:
        """Parse and validate JSON bytes in one pass; append problems to `errors`.

        Raises:
            MalformedBodyError: the bytes are not JSON lanner accepts (broken syntax, nesting too
                deep, numbers too long, NaN or Infinity).
        """
        check_hostile_json(raw, self._overflow)
        try:
            return self._validator.validate_json(raw)
        except ValidationError as exc:
            _raise_if_malformed(exc)
            exc = _python_errors(self._validator, raw, exc)
            errors.extend(_errors(exc, (self.location,)))
            return None

    def validate_python(self, data: Any, errors: list[dict[str, Any]]) -> Any:
        """Validate a Python value; append problems to `errors`."""
        try:
            return self._validator.validate_python(data)
        except ValidationError as exc:
            errors.extend(_errors(exc, (self.location,)))
            return None

    @property
    def adapter(self) -> TypeAdapter[Any]:
        """The pydantic adapter that validates the value."""
        return self._adapter


def check_hostile_json(raw: bytes, overflow: bool = False) -> None:
    """Reject the NaN and Infinity literals, which pydantic would otherwise accept as floats.

    Args:
        raw: the JSON document.
        overflow: also reject numbers too large for a float (``1e999``), which parse to infinity;
            needed where a number can land in an untyped (``Any``) position, since typed float
            fields refuse infinity themselves.

    Raises:
        MalformedBodyError: the document contains one of those literals outside a string, or
            (with `overflow`) a number that overflows a float.
    """
    # PERF(post): a substring test costs ~100 ns on a 600-byte body; only a body that mentions
    # the words pays for the second, strict parse.
    if b"NaN" in raw or b"Infinity" in raw:
        try:
            pydantic_core.from_json(raw, allow_inf_nan=False)
        except ValueError as exc:
            raise MalformedBodyError(f"Malformed JSON: {exc}") from None
    if overflow and may_overflow(raw):
        try:
            document = pydantic_core.from_json(raw)
        except ValueError:
            return  # malformed: the validator reports it
        if holds_infinity(document):
            raise MalformedBodyError("Malformed JSON: a number is too large for a float")


def accepts_any(schema: Any) -> bool:
    """Whether a pydantic core schema has an untyped (``any``) position anywhere inside it."""
    pending = [schema]
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.get("type") == "any":
                return True
            pending.extend(node.values())
        elif isinstance(node, list | tuple):
            pending.extend(node)
    return False


def _as_typed_dict(schema: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Rewrite a generated source model's core schema as a typed dict whose keys are `names`.

    The fields keep their schemas, defaults and request aliases, so values, defaults and error
    locations are the model's own; only the container changes.
    """
    if schema["type"] == "definitions":
        return {**schema, "schema": _as_typed_dict(schema["schema"], names)}
    if schema["type"] != "model" or schema["schema"]["type"] != "model-fields":
        raise TypeError(f"expected a generated model schema, got {schema['type']!r}")
    fields = schema["schema"]["fields"].values()
    typed_fields = {
        name: {
            "type": "typed-dict-field",
            "schema": field["schema"],
            "required": field["schema"]["type"] != "default",
            "validation_alias": field["validation_alias"],
        }
        for name, field in zip(names, fields, strict=True)
    }
    return {
        "type": "typed-dict",
        "fields": typed_fields,
        "extra_behavior": "ignore",
        "config": schema.get("config", {}),
    }


def _finite_validator(schema: Any, default: Any) -> Any:
    """Return a validator for `schema` that refuses NaN and infinite floats everywhere.

    Users' models accept ``"NaN"``, ``"inf"`` or ``1e999`` for float fields unless they opt out, and
    `check_hostile_json` cannot see those; the request sources switch them off once, here, on a copy
    of the schema, so requests pay nothing. `default` is returned when the schema has no float.
    """
    classes: set[type] = set()
    copy, changed = _refuse_non_finite(schema, classes)
    if not changed:
        return default
    with _BUILD_LOCK, _fresh_build(classes):
        return pydantic_core.SchemaValidator(copy)


# Keys holding user values, never validation schemas.
_NOT_SCHEMA_KEYS = frozenset({"metadata", "default", "default_factory", "cls", "expected"})
_BUILD_LOCK = threading.Lock()


def _refuse_non_finite(node: Any, classes: set[type]) -> tuple[Any, bool]:
    if isinstance(node, list):
        items = [_refuse_non_finite(item, classes) for item in node]
        return [item for item, _ in items], any(changed for _, changed in items)
    if not isinstance(node, dict):
        return node, False
    copy: dict[str, Any] = {}
    changed = False
    for key, value in node.items():
        if key in _NOT_SCHEMA_KEYS:
            copy[key] = value
            continue
        copy[key], sub_changed = _refuse_non_finite(value, classes)
        changed = changed or sub_changed
    kind = copy.get("type")
    if kind in ("float", "decimal") and copy.get("allow_inf_nan") is not False:
        copy["allow_inf_nan"] = False
        changed = True
    elif kind in ("model", "dataclass") and isinstance(copy.get("cls"), type):
        classes.add(copy["cls"])
    return copy, changed


@contextlib.contextmanager
def _fresh_build(classes: set[type]) -> Iterator[None]:
    """Make pydantic-core build `classes` from the given schema instead of reusing their validator.

    pydantic-core reuses a complete class's own validator when it meets the class in a schema, which
    would discard the edited copy; it decides by the class's ``__pydantic_complete__`` flag, lowered
    here only while the validator is built (under `_BUILD_LOCK`) and always restored.
    """
    saved = [
        (cls, cls.__dict__["__pydantic_complete__"])
        for cls in classes
        if "__pydantic_complete__" in cls.__dict__
    ]
    try:
        for cls, _ in saved:
            type.__setattr__(cls, "__pydantic_complete__", False)
        yield
    finally:
        for cls, value in saved:
            type.__setattr__(cls, "__pydantic_complete__", value)


def _raise_if_malformed(exc: ValidationError) -> None:
    for error in exc.errors(include_url=False, include_input=False):
        if error["type"] == "json_invalid":
            raise MalformedBodyError(f"Malformed JSON: {error['msg'].removeprefix('Invalid JSON: ')}")


_PLAIN_RETURNS: frozenset[Any] = frozenset({Any, dict, list, object, type(None), None})


def wants_response_model(annotation: Any) -> bool:
    """Whether a return annotation should validate and filter what the handler returns."""
    if annotation in _PLAIN_RETURNS:
        return False
    origin = get_origin(annotation)
    if origin is Annotated:
        return wants_response_model(get_args(annotation)[0])
    # PERF(json): dict[str, Any] and list[Any] have nothing to check or filter.
    return not (origin in (dict, list) and all(arg is Any or arg is str for arg in get_args(annotation)))


class ResponseSerializer:
    """Turn a handler's return value into JSON bytes, through a response model when one is declared.

    Args:
        annotation: the response model; None serialises whatever is returned as it is.
        exclude_none: leave out fields whose value is None.
        include, exclude: the fields to keep or leave out (sets or nested dicts, as pydantic takes).
        exclude_unset: leave out fields the value never set (kept at their defaults implicitly).
        exclude_defaults: leave out fields equal to their defaults.
        by_alias: name fields by their serialisation alias, as the OpenAPI schema does.
    """

    __slots__ = ("_adapter", "_exact", "_exclude_none", "_options", "annotation")

    def __init__(
        self,
        annotation: Any = None,
        exclude_none: bool = False,
        *,
        include: Any = None,
        exclude: Any = None,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        by_alias: bool = True,
    ) -> None:
        self.annotation = annotation
        self._exclude_none = exclude_none
        self._adapter: TypeAdapter[Any] | None = TypeAdapter(annotation) if annotation is not None else None
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        self._exact: type | None = annotation if is_model else None
        options: dict[str, Any] = {
            "include": _field_set(include),
            "exclude": _field_set(exclude),
            "exclude_unset": exclude_unset,
            "exclude_defaults": exclude_defaults,
        }
        # PERF(json): the common case passes no options at all.
        self._options = {key: value for key, value in options.items() if value}
        if self._options or not by_alias:
            self._options["by_alias"] = by_alias

    def serialize(self, value: Any) -> bytes:
        """Return the JSON bytes for `value`.

        Raises:
            ResponseValidationError: the value does not fit the response model.
        """
        adapter = self._adapter
        if adapter is None:
            if self._options:
                return pydantic_core.to_json(value, exclude_none=self._exclude_none, **self._options)
            return pydantic_core.to_json(value, exclude_none=self._exclude_none)
        # PERF(json): an instance of exactly the declared model needs no second validation.
        if type(value) is not self._exact:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                # pydantic reads a dataclass model only from its own class or a mapping.
                value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            try:
                value = adapter.validate_python(value, from_attributes=True)
            except ValidationError as exc:
                raise ResponseValidationError(_errors(exc, ("response",))) from None
        if self._options:
            return adapter.dump_json(value, exclude_none=self._exclude_none, **self._options)
        return adapter.dump_json(value, exclude_none=self._exclude_none, by_alias=True)

    @property
    def exclude_none(self) -> bool:
        """Whether fields whose value is None are left out of the output."""
        return self._exclude_none

    @property
    def adapter(self) -> TypeAdapter[Any] | None:
        """The pydantic adapter of the response model, if one is declared."""
        return self._adapter


def _field_set(fields: Any) -> Any:
    """Fields to include or exclude as pydantic takes them (FastAPI's users also pass lists)."""
    if isinstance(fields, (list, tuple, frozenset)):
        return set(fields)
    return fields


def is_model_type(annotation: Any) -> bool:
    """Whether `annotation` is a structured type read from a body (model, dataclass, TypedDict)."""
    if get_origin(annotation) is Annotated:
        return is_model_type(get_args(annotation)[0])
    if isinstance(annotation, type):
        return (
            issubclass(annotation, BaseModel)
            or dataclasses.is_dataclass(annotation)
            or _is_typeddict(annotation)
        )
    return False


def _is_typeddict(annotation: type) -> bool:
    # typing.is_typeddict misses typing_extensions.TypedDict, which pydantic requires before 3.12.
    return issubclass(annotation, dict) and hasattr(annotation, "__required_keys__")


def model_field_keys(annotation: Any) -> list[tuple[str, bool]]:
    """For a model read from the query string: each field's request key and whether it repeats."""
    fields = getattr(annotation, "model_fields", None)
    if fields is None:
        raise TypeError(f"{annotation!r} is not a pydantic model")
    keys = []
    for name, info in fields.items():
        keys.append((info.alias or name, is_sequence_type(info.annotation)))
    return keys


def model_requires_fields(annotation: Any) -> bool:
    """Whether a model read field by field (from a query or form) has a required field."""
    fields = getattr(annotation, "model_fields", None)
    if fields is None:
        raise TypeError(f"{annotation!r} is not a pydantic model")
    return any(info.is_required() for info in fields.values())


def is_sequence_type(annotation: Any) -> bool:
    """Whether a parameter type collects repeated keys (``list[int]``, ``tuple[str, ...]``...)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return is_sequence_type(get_args(annotation)[0])
    if origin in (typing.Union, _pytypes.UnionType):
        return any(is_sequence_type(a) for a in get_args(annotation) if a is not type(None))
    return origin in (list, tuple, set, frozenset, Sequence) or annotation in (list, tuple, set)
