"""Build the OpenAPI 3.1 document from the compiled route plans.

The document is generated from the same validators the requests use (the per-source models, the body
adapters, the response serializers), never by inspecting handlers again, so the docs and the runtime
cannot disagree.

Two naming conventions are available. lanner's own (``compat="lanner"``) gives short operation ids
(``read_item_get``), sentence-case summaries and untitled inline schemas. FastAPI's
(``compat="fastapi"``) reproduces FastAPI's document: its operation ids, summaries, success
description, parameter titles and ``Body_...`` request schemas, so a migrated API keeps its generated
clients and snapshots. Both document lanner's errors the same way: RFC 9457 problem documents.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import enum
import inspect
import re
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import to_jsonable_python

from lanner import status
from lanner._validation import SourceValidator
from lanner.di import DependencyPlan, Step
from lanner.endpoint import Endpoint
from lanner.params import MISSING, Param
from lanner.responses import JSONResponse, Response
from lanner.routing import Route
from lanner.signature import BodyPlan, FormPlan

from .naming import (
    RouteView,
    deep_update,
    fastapi_summary,
    fastapi_title,
    generate_unique_id,
    openapi_path,
)

__all__ = ["OpenAPIInfo", "build_openapi", "openapi_path"]

REF_TEMPLATE = "#/components/schemas/{model}"
REF_PREFIX = REF_TEMPLATE.format(model="")
PROBLEM_MEDIA_TYPE = "application/problem+json"
_LIFTED = ("description", "examples", "deprecated")
_MULTIPART = "multipart/form-data"
_LOCATIONS = ("path", "query", "header", "cookie")
_NO_BODY_STATUSES = (204, 205, 304)
# FastAPI's descriptions of the status ranges a declared response may use.
_RANGE_DESCRIPTIONS = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}
_FASTAPI_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
JSON_LINES = "application/jsonl"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {},
    },
    "required": ["type", "title", "status"],
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A 422 problem document listing every field that failed validation.",
    "type": "object",
    "properties": {
        **PROBLEM_SCHEMA["properties"],
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        },
    },
    "required": ["type", "title", "status", "errors"],
}


@dataclasses.dataclass(frozen=True)
class OpenAPIInfo:
    """The document-level settings taken from the application."""

    title: str
    version: str
    description: str = ""
    summary: str | None = None
    terms_of_service: str | None = None
    contact: Mapping[str, Any] | None = None
    license_info: Mapping[str, Any] | None = None
    servers: Sequence[Mapping[str, Any]] = ()
    tags: Sequence[Mapping[str, Any]] = ()
    openapi_version: str = "3.1.0"
    external_docs: Mapping[str, Any] | None = None


class _SchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, except that output fields with defaults are marked required.

    A serialised model always carries those fields, so client generators can rely on them; this is
    what makes input and output schemas differ (``Model-Input`` / ``Model-Output``).
    """

    def field_is_required(self, field: Any, total: bool) -> bool:
        if (
            self.mode == "serialization"
            and field["type"] != "typed-dict-field"
            and field.get("serialization_exclude_if") is None
        ):
            return True
        return super().field_is_required(field, total)


class _FastAPISchemaGenerator(GenerateJsonSchema):
    """pydantic's generator as FastAPI configures it: bytes are documented as binary content."""

    def bytes_schema(self, schema: Any) -> dict[str, Any]:
        json_schema: dict[str, Any] = dict(_FASTAPI_BINARY)
        config = self._config
        mode = config.ser_json_bytes if self.mode == "serialization" else config.val_json_bytes
        if mode == "base64":
            json_schema["contentEncoding"] = "base64"
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.bytes)
        return json_schema


@dataclasses.dataclass(frozen=True)
class _Settings:
    fastapi: bool
    separate: bool


SchemaKey = tuple[Any, JsonSchemaMode]


class _Schemas:
    """Collect every type the document needs, then ask pydantic for all schemas at once."""

    def __init__(self, generator: type[GenerateJsonSchema]) -> None:
        self._generator = generator
        self._inputs: list[tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = []
        self._keys: set[SchemaKey] = set()
        self.results: dict[SchemaKey, dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}
        # Each function's signature, read once per document (a dependency serves many routes).
        self.signatures: dict[int, tuple[Callable[..., Any], _Signature]] = {}

    def signature(self, call: Callable[..., Any]) -> _Signature:
        """`call`'s `_Signature`, read once."""
        found = self.signatures.get(id(call))
        if found is None or found[0] is not call:
            found = self.signatures[id(call)] = (call, _signature(call))
        return found[1]

    def want(self, key: Any, mode: JsonSchemaMode, adapter: TypeAdapter[Any]) -> SchemaKey:
        if (key, mode) not in self._keys:
            self._keys.add((key, mode))
            self._inputs.append((key, mode, adapter))
        return key, mode

    def build(self, inline: set[SchemaKey]) -> None:
        """Generate every schema; those keyed in `inline` are taken out of the definitions."""
        if not self._inputs:
            return
        results, definitions = TypeAdapter.json_schemas(
            self._inputs, ref_template=REF_TEMPLATE, schema_generator=self._generator
        )
        self.results = dict(results)
        self.definitions = dict(definitions.get("$defs", {}))
        for key in inline:
            # Only models are inlined (the generated per-source models, query models), and pydantic
            # always answers a model with a reference to its definition.
            schema = dict(self.definitions[self.results[key]["$ref"].removeprefix(REF_PREFIX)])
            schema.pop("title", None)
            self.results[key] = schema


# -- what each operation reads -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Signature:
    """What the document needs from a function's signature beyond its plan."""

    positions: Mapping[str, int]
    hidden: frozenset[str]  # parameters marked include_in_schema=False


def _hint_target(call: Callable[..., Any]) -> Any:
    if inspect.isclass(call):
        return call.__init__
    while hasattr(call, "func") and hasattr(call, "args"):  # functools.partial
        call = call.func
    if inspect.isroutine(call):
        return call
    return getattr(call, "__call__", call)  # noqa: B004 - a callable instance's method


def _signature(call: Callable[..., Any]) -> _Signature:
    try:
        parameters = list(inspect.signature(call).parameters.values())
    except (TypeError, ValueError):
        return _Signature({}, frozenset())
    try:
        hints = typing.get_type_hints(_hint_target(call), include_extras=True)
    except Exception:  # the plan already resolved them; a failure here only loses markers
        hints = {}
    hidden = set()
    for parameter in parameters:
        markers: list[Any] = [parameter.default]
        annotation = hints.get(parameter.name, parameter.annotation)
        if get_origin(annotation) is Annotated:
            markers.extend(get_args(annotation)[1:])
        if any(isinstance(m, Param) and not m.include_in_schema for m in markers):
            hidden.add(parameter.name)
    return _Signature({p.name: i for i, p in enumerate(parameters)}, frozenset(hidden))


@dataclasses.dataclass(frozen=True)
class _ParamSource:
    """One source of parameters of one function: a per-source model or a parameter model."""

    location: str
    key: SchemaKey
    step: int  # the function's place in the documentation order
    position: int  # the parameter's place in the function's signature (a parameter model's)
    validator: SourceValidator | None  # None for a parameter model
    signature: _Signature
    model: Any = None  # a parameter model (`lanner.signature.ParamModel`)


@dataclasses.dataclass(frozen=True)
class _BodyPart:
    """A body (or the body's share) one function reads."""

    step: int
    plan: BodyPlan
    signature: _Signature


@dataclasses.dataclass
class _Slot:
    """One operation to document: where it goes and what it is named."""

    route: Route
    endpoint: Endpoint
    method: str
    path: str
    served: bool  # False for webhooks and callbacks: lanner answers none of their requests
    parent: int | None = None
    operation_id: str = ""
    unique_id: str = ""  # FastAPI's route id, which names the Body_/Response_ schemas


@dataclasses.dataclass
class _Operation:
    slot: _Slot
    steps: tuple[Step, ...]
    sources: list[_ParamSource] = dataclasses.field(default_factory=list)
    bodies: list[_BodyPart] = dataclasses.field(default_factory=list)
    body_keys: list[SchemaKey] = dataclasses.field(default_factory=list)  # JSON bodies, in order
    form_parts: list[tuple[_BodyPart, str, SchemaKey]] = dataclasses.field(default_factory=list)
    form_media_type: str = ""
    form_model: SchemaKey | None = None  # FastAPI: the one model a form is read into, by reference
    streams: bool = False  # the handler yields JSON values, sent as JSON Lines
    response_key: SchemaKey | None = None  # for a stream, the schema of one item
    extra_responses: dict[str, SchemaKey] = dataclasses.field(default_factory=dict)


def _documentation_steps(plan: DependencyPlan, fastapi: bool) -> tuple[Step, ...]:
    """The request steps in the order the document lists what they read.

    lanner's order is the plan's (dependencies first); FastAPI's is its dependency tree walked from
    the handler down: the handler, then the route's extra dependencies, then its own, depth first.
    """
    steps = plan.request_steps
    if not fastapi:
        return steps
    by_slot = {step.slot: step for step in steps}
    handler = plan.handler
    referenced = {slot for step in plan.steps for _, slot in step.inputs}
    order: list[Step] = [handler]
    seen = {handler.slot}

    def visit(slot: int) -> None:
        if slot in seen or slot not in by_slot:
            return
        seen.add(slot)
        step = by_slot[slot]
        order.append(step)
        for _, sub in step.inputs:
            visit(sub)

    for step in steps[:-1]:
        if step.slot not in referenced:
            visit(step.slot)
    for _, slot in handler.inputs:
        visit(slot)
    return tuple(order)


def _has_computed_fields(annotation: Any, seen: set[Any] | None = None) -> bool:
    """Whether `annotation` holds a model with computed fields (its output differs from its input)."""
    seen = set() if seen is None else seen
    if isinstance(annotation, type) and annotation not in seen:
        seen.add(annotation)
        decorators = getattr(annotation, "__pydantic_decorators__", None)
        if decorators is not None and decorators.computed_fields:
            return True
        if issubclass(annotation, BaseModel):
            return any(_has_computed_fields(f.annotation, seen) for f in annotation.model_fields.values())
        fields = getattr(annotation, "__dataclass_fields__", None)
        if fields:
            return any(_has_computed_fields(f.type, seen) for f in fields.values())
        return False
    return any(_has_computed_fields(arg, seen) for arg in get_args(annotation))


def _output_mode(annotation: Any, settings: _Settings, exclude_none: bool = False) -> JsonSchemaMode:
    if not settings.separate and not _has_computed_fields(annotation):
        return "validation"
    # lanner: with exclude_none, fields may be missing from the output: describe it like an input.
    return "validation" if exclude_none and not settings.fastapi else "serialization"


_STREAMS = (
    collections.abc.Iterable,
    collections.abc.Iterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncIterator,
    collections.abc.Generator,
    collections.abc.AsyncGenerator,
)


def _return_annotation(slot: _Slot) -> Any:
    """FastAPI's response model when none is declared: the return annotation, unless a response.

    A generator's annotation (``AsyncIterable[str]``) describes a stream, not a JSON value.
    """
    annotation = slot.endpoint.plan.handler.plan.return_annotation
    if annotation is inspect.Signature.empty or annotation is None or annotation is type(None):
        return None
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return None
    if any(isinstance(arg, type) and issubclass(arg, Response) for arg in get_args(annotation)):
        return None
    if get_origin(annotation) in _STREAMS or annotation in _STREAMS:
        return None
    return annotation


def _streamed_item(slot: _Slot) -> tuple[bool, Any]:
    """Whether the handler streams JSON Lines (it yields, its responses are JSON), and the item type.

    The item type is what the return annotation says the generator yields
    (``AsyncIterator[Item]`` -> ``Item``); None when it does not say.
    """
    endpoint = slot.endpoint
    plan = endpoint.plan.handler.plan
    if plan.kind not in ("generator", "async_generator") or slot.route.options.response_class is not None:
        return False, None
    annotation = plan.return_annotation
    args = get_args(annotation) if get_origin(annotation) in _STREAMS else ()
    return True, args[0] if args else None


def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    """An adapter that can document `annotation`, or None (no schema rather than no document)."""
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        adapter.json_schema()
    except Exception:
        return None
    return adapter


def _collect(slot: _Slot, schemas: _Schemas, settings: _Settings) -> _Operation:
    route, endpoint, method = slot.route, slot.endpoint, slot.method
    operation = _Operation(slot, _documentation_steps(endpoint.plan, settings.fastapi))
    for index, step in enumerate(operation.steps):
        plan = step.plan
        signature = schemas.signature(plan.call)
        for location in _LOCATIONS:
            validator = getattr(plan, location)
            if validator is not None:
                key = schemas.want(validator, "validation", TypeAdapter(validator.model))
                operation.sources.append(_ParamSource(location, key, index, 0, validator, signature))
        for location in ("query", "header", "cookie"):
            for model in getattr(plan, f"{location}_models", ()):
                if model.name in signature.hidden:
                    continue
                key = schemas.want(model.validator, "validation", model.validator.adapter)
                position = signature.positions.get(model.name, 0)
                source = _ParamSource(location, key, index, position, None, signature, model)
                operation.sources.append(source)
        if plan.body is not None:
            operation.bodies.append(_BodyPart(index, plan.body, signature))
    for part in operation.bodies:
        if part.plan.form is not None:
            _collect_form(operation, part, part.plan.form, part.plan.media_type, schemas)
            if settings.fastapi and len(operation.form_parts) == 1:
                _, kind, key = operation.form_parts[0]
                operation.form_model = key if kind.startswith("model:") else None
            else:
                operation.form_model = None
        elif part.plan.whole is not None:
            operation.body_keys.append(schemas.want(part.plan.whole, "validation", part.plan.whole.adapter))
        else:
            embedded = part.plan.embedded
            assert embedded is not None  # a JSON body plan reads a whole value or embedded ones
            operation.body_keys.append(schemas.want(embedded, "validation", TypeAdapter(embedded.model)))
    adapter = endpoint.serializer.adapter
    operation.streams, item = _streamed_item(slot)
    if operation.streams and adapter is None:
        # The items' type when lanner does not validate them (``AsyncIterator[dict[str, Any]]``).
        streamed = _adapter(item) if item is not None else None
        if streamed is not None:
            operation.response_key = schemas.want(
                ("item", id(endpoint)), _output_mode(item, settings), streamed
            )
    elif adapter is not None:
        # The response model, or for a stream the model of each item.
        mode = _output_mode(endpoint.serializer.annotation, settings, endpoint.serializer.exclude_none)
        operation.response_key = schemas.want(endpoint.serializer, mode, adapter)
    elif settings.fastapi and route.options.response_model is MISSING:
        # FastAPI documents the return annotation even where lanner does not validate with it
        # (``-> dict[str, Any]``, ``-> Any``).
        annotation = _return_annotation(slot)
        returned = _adapter(annotation) if annotation is not None else None
        if returned is not None:
            mode = _output_mode(annotation, settings)
            operation.response_key = schemas.want(("returns", id(endpoint)), mode, returned)
    for code, spec in route.options.responses.items():
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"{method} {route.path}: responses[{code!r}] must be a mapping such as "
                f"{{'model': ..., 'description': ...}}, got {spec!r}"
            )
        response_model = spec.get("model")
        if response_model is not None:
            mode = _output_mode(response_model, settings)
            operation.extra_responses[str(code)] = schemas.want(
                response_model, mode, TypeAdapter(response_model)
            )
    return operation


def _collect_form(
    operation: _Operation, part: _BodyPart, form: FormPlan, media_type: str, schemas: _Schemas
) -> None:
    """Every function of a route reads the same form: their fields make one request body."""
    for kind, validator in (("fields", form.fields), ("files", form.files)):
        if validator is not None:
            key = schemas.want(validator, "validation", TypeAdapter(validator.model))
            operation.form_parts.append((part, kind, key))
    for model in form.models:
        key = schemas.want(model.validator, "validation", model.validator.adapter)
        operation.form_parts.append((part, "model:" + model.name, key))
    # One file anywhere makes the whole body multipart.
    if operation.form_media_type != _MULTIPART:
        operation.form_media_type = media_type


# -- rendering -----------------------------------------------------------------------------------


def _merged_object(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One object schema holding the properties of every part (the first one of a name wins)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for schema in parts:
        for name, prop in schema.get("properties", {}).items():
            properties.setdefault(name, prop)
        required.extend(name for name in schema.get("required", ()) if name not in required)
    merged: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        merged["required"] = required
    return merged


def _source_entries(
    source: _ParamSource, schemas: _Schemas
) -> list[tuple[tuple[int, int, int], str, dict[str, Any], bool]]:
    """(sort key, request key, property schema, required) for each parameter of one source."""
    schema = schemas.results[source.key]
    # An optional model (``Model | None``) requires none of its fields.
    required = set() if getattr(source.model, "optional", False) else set(schema.get("required", ()))
    validator = source.validator
    specs = {spec.key: spec for spec in validator.fields} if validator is not None else {}
    # A model's field may be sent under another key (a header model's ``x_tag`` as ``x-tag``).
    renames = dict(getattr(source.model, "fields", ()))
    entries = []
    for index, (field, prop) in enumerate(schema.get("properties", {}).items()):
        name = renames.get(field, field)
        spec = specs.get(name)
        if spec is not None and spec.name in source.signature.hidden:
            continue
        position = source.signature.positions.get(spec.name, 0) if spec is not None else source.position
        prop = dict(prop)
        if spec is not None and "$ref" not in prop:
            prop["title"] = spec.constraints.get("title") or fastapi_title(name)
        entries.append(((source.step, position, index), name, prop, field in required))
    return entries


def _parameters(operation: _Operation, schemas: _Schemas, settings: _Settings) -> list[dict[str, Any]]:
    if settings.fastapi:
        return _fastapi_parameters(operation, schemas)
    parameters: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for source in operation.sources:
        for _, name, prop, required in _source_entries(source, schemas):
            location = source.location
            if (location, name) in seen:
                continue
            seen.add((location, name))
            parameter: dict[str, Any] = {
                "name": name,
                "in": location,
                "required": location == "path" or required,
            }
            for lifted in _LIFTED:
                if lifted in prop:
                    value = prop.pop(lifted)
                    if lifted == "examples" and isinstance(value, list):
                        parameter["examples"] = {f"example{i + 1}": {"value": v} for i, v in enumerate(value)}
                    else:
                        parameter[lifted] = value
            prop.pop("title", None)
            parameter["schema"] = prop
            parameters.append(parameter)
    return parameters


def _fastapi_parameters(operation: _Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    """FastAPI's parameters: grouped by location, titled schemas, descriptions copied out."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    required: dict[tuple[str, str], dict[str, Any]] = {}
    for location in _LOCATIONS:
        entries = [
            (sort_key, name, prop, is_required)
            for source in operation.sources
            if source.location == location
            for sort_key, name, prop, is_required in _source_entries(source, schemas)
        ]
        for _, name, prop, is_required in sorted(entries, key=lambda entry: entry[0]):
            parameter: dict[str, Any] = {
                "name": name,
                "in": location,
                "required": location == "path" or is_required,
                "schema": prop,
            }
            if prop.get("description"):
                parameter["description"] = prop["description"]
            if prop.get("deprecated"):
                parameter["deprecated"] = True
            # Like FastAPI: a later declaration of the same parameter replaces an earlier one, in
            # the earlier one's place, and a required declaration wins over optional ones.
            found[(location, name)] = parameter
            if parameter["required"]:
                required[(location, name)] = parameter
    found.update(required)
    return list(found.values())


def _fastapi_title_unless_ref(schema: dict[str, Any], title: str) -> dict[str, Any]:
    if "$ref" in schema:
        return schema
    return {**schema, "title": schema.get("title") or title}


def _binary_as_fastapi(schema: Any) -> Any:
    """Uploads as FastAPI documents them (binary content), not as lanner does (``format: binary``)."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("format") == "binary":
            rest = {k: v for k, v in schema.items() if k not in ("type", "format")}
            return {**_FASTAPI_BINARY, **{k: _binary_as_fastapi(v) for k, v in rest.items()}}
        return {k: _binary_as_fastapi(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_binary_as_fastapi(item) for item in schema]
    return schema


def _ordered_object(
    parts: Iterable[tuple[tuple[int, int], SourceValidator | None, _Signature, dict[str, Any]]],
) -> dict[str, Any]:
    """The properties of several parts in the order of the parameters that declare them."""
    entries = []
    for (step, position), validator, signature, schema in parts:
        specs = {spec.key: spec for spec in validator.fields} if validator is not None else {}
        required = set(schema.get("required", ()))
        for index, (name, prop) in enumerate(schema.get("properties", {}).items()):
            spec = specs.get(name)
            if spec is not None and spec.name in signature.hidden:
                continue
            where = signature.positions.get(spec.name, 0) if spec is not None else position
            entries.append(((step, where, index), name, prop, name in required))
    properties: dict[str, Any] = {}
    required_names: list[str] = []
    for _, name, prop, is_required in sorted(entries, key=lambda entry: entry[0]):
        properties.setdefault(name, prop)
        if is_required and name not in required_names:
            required_names.append(name)
    merged: dict[str, Any] = {"properties": properties, "type": "object"}
    if required_names:
        merged["required"] = required_names
    return merged


def _request_body(operation: _Operation, schemas: _Schemas, settings: _Settings) -> dict[str, Any] | None:
    if settings.fastapi:
        return _fastapi_request_body(operation, schemas)
    if operation.body_keys:
        json_parts = [part for part in operation.bodies if part.plan.form is None]
        whole = _whole_body(operation)
        if whole is not None:
            schema = schemas.results[whole[1]]
        else:
            # Several functions read their own keys of one object.
            schema = _merged_object(schemas.results[key] for key in operation.body_keys)
        return {
            "required": any(part.plan.required for part in json_parts),
            "content": {json_parts[0].plan.media_type: {"schema": schema}},
        }
    if operation.form_parts:
        schema = _merged_object(schemas.results[key] for _, _, key in operation.form_parts)
        return {
            "required": any(part.plan.required for part in operation.bodies),
            "content": {operation.form_media_type: {"schema": schema}},
        }
    return None


def _whole_body(operation: _Operation) -> tuple[_BodyPart, SchemaKey] | None:
    """The first function reading the whole JSON body, if one does.

    Functions of one route read the whole body only when they all read it under the same name
    (otherwise each reads its own key), so the first one describes it.
    """
    parts = [part for part in operation.bodies if part.plan.form is None]
    for part, key in zip(parts, operation.body_keys, strict=True):
        if part.plan.whole is not None:
            return part, key
    return None


def _fastapi_request_body(operation: _Operation, schemas: _Schemas) -> dict[str, Any] | None:
    """FastAPI's request body: one value as it is, several keys (or a form) as ``Body_<id>``."""
    name = "Body_" + operation.slot.unique_id
    if operation.body_keys:
        parts = [part for part in operation.bodies if part.plan.form is None]
        media_types = {part.plan.media_type for part in parts}
        media_type = media_types.pop() if len(media_types) == 1 else "application/json"
        whole = _whole_body(operation)
        if whole is not None:
            plan = whole[0].plan
            title = fastapi_title(plan.whole_key or plan.whole_name)
            schema = _fastapi_title_unless_ref(schemas.results[whole[1]], title)
        else:
            inline = _ordered_object(
                ((part.step, 0), part.plan.embedded, part.signature, schemas.results[key])
                for part, key in zip(parts, operation.body_keys, strict=True)
            )
            schema = _named_definition(schemas, name, inline)
        required = any(part.plan.required for part in parts)
    elif operation.form_parts:
        media_type = operation.form_media_type
        if operation.form_model is not None:
            # One model read from the form: FastAPI documents the model itself.
            schema = schemas.results[operation.form_model]
        else:
            # The fields (and files) are properties; each model read from the form is one of the
            # schemas the body must also match (``allOf``), in the order of the parameters.
            fields = []
            models = []
            for part, kind, key in operation.form_parts:
                form = part.plan.form
                assert form is not None
                if kind == "fields":
                    fields.append(((part.step, 0), form.fields, part.signature, schemas.results[key]))
                elif kind == "files":
                    fields.append(((part.step, 0), form.files, part.signature, schemas.results[key]))
                else:
                    position = part.signature.positions.get(kind.removeprefix("model:"), 0)
                    models.append(((part.step, position), schemas.results[key]))
            merged = _binary_as_fastapi(_ordered_object(fields))
            if not merged["properties"]:
                del merged["properties"]
            if models:
                merged["allOf"] = [schema for _, schema in sorted(models, key=lambda model: model[0])]
            schema = _named_definition(schemas, name, merged)
        required = any(part.plan.required for part in operation.bodies)
    else:
        return None
    body: dict[str, Any] = {"content": {media_type: {"schema": schema}}}
    if required:
        body["required"] = True
    return body


def _named_definition(schemas: _Schemas, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Store `schema` as the component `name` (FastAPI's generated body models) and refer to it."""
    schemas.definitions[name] = {**schema, "title": name}
    return {"$ref": REF_PREFIX + name}


def _json_content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _problem() -> dict[str, Any]:
    return _json_content({"$ref": REF_PREFIX + "Problem"}, PROBLEM_MEDIA_TYPE)


def _lanner_responses(operation: _Operation, settings: _Settings) -> dict[str, Any]:
    """The statuses lanner itself answers before the handler runs, so clients and fuzzers expect them.

    Webhooks and callbacks are requests lanner sends, not serves: lanner's mode documents none of
    these for them; FastAPI's documents the 422, as FastAPI does.
    """
    responses: dict[str, Any] = {}
    served = operation.slot.served
    if not (served or settings.fastapi):
        return responses
    has_body = bool(operation.body_keys or operation.form_parts)
    if operation.sources or has_body:
        responses["422"] = {
            "description": "Validation Error",
            "content": _json_content({"$ref": REF_PREFIX + "ValidationProblem"}, PROBLEM_MEDIA_TYPE),
        }
    if not served:
        return responses
    if operation.slot.route.compiled.param_names:
        responses["404"] = {"description": "No resource at this path", "content": _problem()}
    if has_body:
        responses["400"] = {"description": "Malformed body", "content": _problem()}
        responses["413"] = {"description": "Body larger than the limit", "content": _problem()}
        responses["415"] = {"description": "Unsupported body media type", "content": _problem()}
    return responses


def _success(operation: _Operation, schemas: _Schemas, settings: _Settings) -> dict[str, Any]:
    slot = operation.slot
    endpoint = slot.endpoint
    code = endpoint.status_code
    description = slot.route.options.response_description
    if operation.streams and code not in _NO_BODY_STATUSES:
        return {
            "description": description
            or ("Successful Response" if settings.fastapi else status.phrase(code)),
            "content": {JSON_LINES: _stream_content(operation, schemas, settings)},
        }
    if settings.fastapi:
        success: dict[str, Any] = {"description": description or "Successful Response"}
        media = getattr(endpoint.response_class, "media_type", None)
        if code >= 200 and code not in _NO_BODY_STATUSES and media:
            schema: dict[str, Any] = {"type": "string"}
            if issubclass(endpoint.response_class, JSONResponse):
                schema = {}
                if operation.response_key is not None:
                    title = fastapi_title("Response_" + slot.unique_id)
                    schema = _fastapi_title_unless_ref(schemas.results[operation.response_key], title)
            success["content"] = {media: {"schema": schema}}
        return success
    success = {"description": description or status.phrase(code) or "Successful Response"}
    if code not in _NO_BODY_STATUSES:
        response_class = endpoint.response_class
        if response_class is JSONResponse or response_class is None:
            schema = schemas.results[operation.response_key] if operation.response_key else {}
            success["content"] = _json_content(schema)
        else:
            media = getattr(response_class, "media_type", None) or "application/octet-stream"
            success["content"] = {media: {"schema": {"type": "string"}}}
    return success


def _stream_content(operation: _Operation, schemas: _Schemas, settings: _Settings) -> dict[str, Any]:
    """The media type object of a JSON Lines stream: the schema of each line.

    FastAPI writes it as ``itemSchema`` (OpenAPI 3.2's field, which 3.1 validators refuse);
    lanner's own conventions keep the document valid 3.1: the body is text, and the schema of its
    lines is an extension, ``x-itemSchema``.
    """
    item: dict[str, Any] = {}
    if operation.response_key is not None:
        item = schemas.results[operation.response_key]
        if settings.fastapi:
            item = _fastapi_title_unless_ref(item, fastapi_title("StreamItem_" + operation.slot.unique_id))
    if settings.fastapi:
        return {"itemSchema": item}
    return {"schema": {"type": "string"}, "x-itemSchema": item}


def _responses(operation: _Operation, schemas: _Schemas, settings: _Settings) -> dict[str, Any]:
    slot = operation.slot
    responses: dict[str, Any] = {str(slot.endpoint.status_code): _success(operation, schemas, settings)}
    own = _lanner_responses(operation, settings)
    if settings.fastapi:
        # As FastAPI: the declared responses merge into the success one; lanner's own answers
        # (FastAPI's 422) come only for the statuses left undeclared.
        _fastapi_declared_responses(operation, schemas, responses)
        declared = {str(code).upper() for code in slot.route.options.responses}
        for code, response in own.items():
            if code == "422" and declared & {"4XX", "DEFAULT"}:
                continue
            responses.setdefault(code, response)
        return responses
    responses.update(own)
    for key, spec in slot.route.options.responses.items():
        entry: dict[str, Any] = dict(responses.get(str(key), {}))
        for name, value in spec.items():
            if name not in ("model", "description", "content"):
                entry[name] = copy.deepcopy(value)
        entry["description"] = (
            spec.get("description")
            or entry.get("description")
            or (status.phrase(int(key)) if str(key).isdigit() else "Response")
        )
        extra = operation.extra_responses.get(str(key))
        if extra is not None:
            entry["content"] = _json_content(schemas.results[extra])
        elif "content" in spec:
            entry["content"] = copy.deepcopy(spec["content"])
        elif "content" not in entry and str(key).isdigit() and int(key) >= 400:
            entry["content"] = _problem()
        responses[str(key)] = entry
    return responses


def _fastapi_declared_responses(operation: _Operation, schemas: _Schemas, responses: dict[str, Any]) -> None:
    """FastAPI's merge of ``responses=``, with lanner's problem content for undescribed errors."""
    slot = operation.slot
    media = getattr(slot.endpoint.response_class, "media_type", None) or "application/json"
    for code, spec in slot.route.options.responses.items():
        declared = copy.deepcopy(dict(spec))
        declared.pop("model", None)
        key = str(code).upper()
        if key == "DEFAULT":
            key = "default"
        entry = responses.setdefault(key, {})
        extra = operation.extra_responses.get(str(code))
        if extra is not None:
            title = fastapi_title(f"Response_{code}_{slot.unique_id}")
            model_schema = _fastapi_title_unless_ref(schemas.results[extra], title)
            target = declared.setdefault("content", {}).setdefault(media, {}).setdefault("schema", {})
            deep_update(target, model_schema)
        phrase = status.phrase(int(code)) if str(code).isdigit() else ""
        description = (
            declared.get("description")
            or entry.get("description")
            or _RANGE_DESCRIPTIONS.get(str(code).upper())
            or phrase
            or "Additional Response"
        )
        deep_update(entry, declared)
        entry["description"] = description
        if "content" not in entry and key.isdigit() and int(key) >= 400:
            entry["content"] = _problem()


def _security(
    operation: _Operation, steps: Iterable[Step], schemes: dict[str, Any]
) -> list[dict[str, list[str]]]:
    """The operation's security requirement: every scheme its dependencies use, with their scopes.

    The scopes of a scheme are those of every `Security` on the way from the handler to it, then
    the scheme's own (``with_scopes``); a scheme used twice lists the scopes of both uses.
    """
    required: dict[str, list[str]] = {}
    for step in steps:
        call = step.plan.call
        scheme = getattr(call, "security_scheme", None)
        name = getattr(call, "security_scheme_name", None)
        if not (isinstance(scheme, Mapping) and isinstance(name, str)):
            continue
        if schemes.get(name, scheme) != scheme:
            raise ValueError(
                f"two different security schemes are both named {name!r}; give one a scheme_name"
            )
        schemes[name] = dict(scheme)
        scopes = required.setdefault(name, [])
        for scope in (*step.scopes, *(getattr(call, "security_scopes", ()) or ())):
            if scope not in scopes:
                scopes.append(scope)
    return [{name: scopes} for name, scopes in required.items()]


def _summary(route: Route, settings: _Settings) -> str:
    if route.options.summary:
        return route.options.summary
    if settings.fastapi:
        return fastapi_summary(route.name)
    return route.name.replace("_", " ").strip().capitalize()


def _description(route: Route, settings: _Settings) -> str | None:
    text = route.options.description
    if not text:
        doc = route.handler.__doc__ if settings.fastapi else inspect.getdoc(route.handler)
        text = inspect.cleandoc(doc) if doc else ""
    if settings.fastapi:
        return text.split("\f")[0].strip() or None
    # Like FastAPI: a form feed ends what the document shows (the rest is for code readers).
    if "\f" in text:
        text = text.split("\f")[0].rstrip()
    return text or None


def _operation_ids(slots: list[_Slot], settings: _Settings) -> None:
    """Name every operation; lanner keeps ids unique, FastAPI warns about duplicates."""
    used: set[str] = set()
    for slot in slots:
        options = slot.route.options
        custom = options.generate_unique_id_function
        explicit = options.operation_id or (custom(RouteView.of(slot.route)) if custom else None)
        if settings.fastapi:
            slot.operation_id = explicit or generate_unique_id(slot.route, slot.method)
            slot.unique_id = slot.operation_id
            if slot.operation_id in used:
                name = getattr(slot.route.handler, "__name__", "<unnamed_endpoint>")
                warnings.warn(f"Duplicate Operation ID {slot.operation_id} for function {name}", stacklevel=3)
            used.add(slot.operation_id)
            continue
        base = explicit or f"{slot.route.name}_{slot.method.lower()}"
        candidate = base
        if candidate in used and not explicit:
            slug = re.sub(r"[^A-Za-z0-9]+", "_", slot.path).strip("_")
            candidate = f"{slot.route.name}_{slug}_{slot.method.lower()}"
        counter = 2
        while candidate in used:
            candidate = f"{base}_{counter}"
            counter += 1
        used.add(candidate)
        slot.operation_id = slot.unique_id = candidate


def _refs_in(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref.rsplit("/", 1)[1])
        for item in value.values():
            _refs_in(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs_in(item, found)


def _referenced(documents: Iterable[Any], definitions: dict[str, Any]) -> set[str]:
    """The definitions the operations reach, directly or through other definitions."""
    found: set[str] = set()
    for document in documents:
        _refs_in(document, found)
    pending = list(found)
    while pending:
        nested: set[str] = set()
        _refs_in(definitions.get(pending.pop(), {}), nested)
        for name in nested - found:
            found.add(name)
            pending.append(name)
    return found & set(definitions)


def _slots(
    routes: Iterable[tuple[Route, Endpoint]],
    webhooks: Iterable[tuple[Route, Endpoint]],
    compile_route: Callable[[Route], Endpoint] | None,
) -> tuple[list[_Slot], list[_Slot], list[_Slot]]:
    """The operations of the paths, of the webhooks, and of their callbacks (children last)."""
    paths = [
        _Slot(route, endpoint, method, openapi_path(route.path), True)
        for route, endpoint in routes
        if route.options.include_in_schema
        for method in sorted(route.methods)
    ]
    hooks = [
        _Slot(route, endpoint, method, openapi_path(route.path), False)
        for route, endpoint in webhooks
        if route.options.include_in_schema
        for method in sorted(route.methods)
    ]
    compiled: dict[int, Endpoint] = {}
    all_slots = [*paths, *hooks]
    index = 0
    while index < len(all_slots):  # breadth first: a callback's own callbacks come after it
        for callback in all_slots[index].route.options.callbacks:
            if not isinstance(callback, Route) or not callback.options.include_in_schema:
                continue  # FastAPI documents only its API routes among the callbacks
            if id(callback) not in compiled:
                if compile_route is None:
                    from .utils import compile_route as compile_for_docs

                    compile_route = compile_for_docs
                compiled[id(callback)] = compile_route(callback)
            for method in sorted(callback.methods):
                path = openapi_path(callback.path)
                all_slots.append(_Slot(callback, compiled[id(callback)], method, path, False, index))
        if len(all_slots) > 100_000:
            raise ValueError("callbacks nest without end (a callback route lists itself)")
        index += 1
    return paths, hooks, all_slots[len(paths) + len(hooks) :]


def build_openapi(
    info: OpenAPIInfo,
    routes: Iterable[tuple[Route, Endpoint]],
    *,
    webhooks: Iterable[tuple[Route, Endpoint]] = (),
    compat: str = "lanner",
    compile_route: Callable[[Route], Endpoint] | None = None,
    separate_input_output_schemas: bool = True,
) -> dict[str, Any]:
    """Return the OpenAPI document for `routes` (those with ``include_in_schema``).

    Args:
        info: the document-level fields.
        routes: each served route with its compiled endpoint.
        webhooks: the routes describing the webhooks the API sends (``app.webhooks``), documented
            under ``webhooks`` keyed by their path.
        compat: ``"lanner"`` or ``"fastapi"`` naming conventions (see the module docstring).
        compile_route: compiles the callback routes a route lists (``callbacks=``); lanner's
            own compilation without the app's overrides when None.
        separate_input_output_schemas: document ``Model-Input``/``Model-Output`` where a model's
            input and output schemas differ; False documents every model as it is read (unless it
            has computed fields).

    Raises:
        TypeError: an entry of a route's ``responses`` is not a mapping.
        ValueError: two different security schemes have the same name, or `compat` is unknown.
    """
    if compat not in ("lanner", "fastapi"):
        raise ValueError(f"compat must be 'lanner' or 'fastapi', not {compat!r}")
    settings = _Settings(compat == "fastapi", separate_input_output_schemas)
    paths_slots, hook_slots, callback_slots = _slots(routes, webhooks, compile_route)
    slots = [*paths_slots, *hook_slots, *callback_slots]
    _operation_ids(slots, settings)
    schemas = _Schemas(_FastAPISchemaGenerator if settings.fastapi else _SchemaGenerator)
    operations = [_collect(slot, schemas, settings) for slot in slots]
    inline = {source.key for op in operations for source in op.sources}
    inline.update(key for op in operations for key in op.body_keys if isinstance(key[0], SourceValidator))
    inline.update(
        key
        for op in operations
        for _, kind, key in op.form_parts
        # FastAPI refers to the models a form is read into; lanner merges their fields.
        if not (settings.fastapi and kind.startswith("model:"))
    )
    schemas.build(inline)
    if settings.fastapi:
        for definition in schemas.definitions.values():
            if isinstance(definition.get("description"), str):
                definition["description"] = definition["description"].split("\f")[0]
    security_schemes: dict[str, Any] = {}
    documents = [_operation(op, schemas, settings, security_schemes) for op in operations]
    children: dict[int, list[int]] = {}
    for index, slot in enumerate(slots):
        if slot.parent is not None:
            children.setdefault(slot.parent, []).append(index)

    def finish(index: int) -> dict[str, Any]:
        document = documents[index]
        if index in children:
            callbacks: dict[str, Any] = {}
            for child in children[index]:
                slot = slots[child]
                entry = callbacks.setdefault(slot.route.name, {}).setdefault(slot.path, {})
                entry[slot.method.lower()] = finish(child)
            document["callbacks"] = callbacks
        extra = slots[index].route.options.openapi_extra
        if extra:
            deep_update(document, dict(extra))
        return document

    paths: dict[str, dict[str, Any]] = {}
    hooks: dict[str, dict[str, Any]] = {}
    used_tags: list[str] = []
    for index, slot in enumerate(slots):
        if slot.parent is not None:
            continue
        target = paths if slot.served else hooks
        target.setdefault(slot.path, {})[slot.method.lower()] = finish(index)
        used_tags.extend(_tag(t) for t in slot.route.options.tags if _tag(t) not in used_tags)
    return _assemble(info, paths, hooks, schemas, security_schemes, used_tags, bool(operations), settings)


def _operation(
    operation: _Operation, schemas: _Schemas, settings: _Settings, security_schemes: dict[str, Any]
) -> dict[str, Any]:
    slot = operation.slot
    route = slot.route
    document: dict[str, Any] = {}
    if route.options.tags:
        document["tags"] = [_tag(tag) for tag in route.options.tags]
    document["summary"] = _summary(route, settings)
    description = _description(route, settings)
    if description:
        document["description"] = description
    document["operationId"] = slot.operation_id
    parameters = _parameters(operation, schemas, settings)
    if parameters:
        document["parameters"] = parameters
    body = _request_body(operation, schemas, settings)
    if body is not None:
        document["requestBody"] = body
    document["responses"] = _responses(operation, schemas, settings)
    steps = operation.steps if settings.fastapi else slot.endpoint.plan.steps
    if settings.fastapi:
        # FastAPI walks the app-scoped steps too (lanner creates them at startup).
        steps = (*steps, *(s for s in slot.endpoint.plan.app_steps))
    security = _security(operation, steps, security_schemes)
    if security:
        document["security"] = security
    if route.options.deprecated:
        document["deprecated"] = True
    return document


def _assemble(
    info: OpenAPIInfo,
    paths: dict[str, Any],
    webhooks: dict[str, Any],
    schemas: _Schemas,
    security: dict[str, Any],
    used_tags: list[str],
    needs_problem: bool,
    settings: _Settings,
) -> dict[str, Any]:
    info_doc: dict[str, Any] = {"title": info.title, "version": info.version}
    if info.summary:
        info_doc["summary"] = info.summary
    if info.description:
        info_doc["description"] = info.description
    if info.terms_of_service:
        info_doc["termsOfService"] = info.terms_of_service
    if info.contact:
        info_doc["contact"] = dict(info.contact)
    if info.license_info:
        info_doc["license"] = dict(info.license_info)
    document: dict[str, Any] = {"openapi": info.openapi_version, "info": info_doc}
    if info.servers:
        document["servers"] = [dict(s) for s in info.servers]
    document["paths"] = paths
    if webhooks:
        document["webhooks"] = webhooks
    components: dict[str, Any] = {}
    definitions = dict(schemas.definitions)
    if needs_problem:
        definitions["Problem"] = PROBLEM_SCHEMA
        definitions["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    used = _referenced((paths, webhooks), definitions)
    if used:
        components["schemas"] = {name: definitions[name] for name in sorted(used)}
    if security:
        components["securitySchemes"] = security
    if components:
        document["components"] = components
    declared = [dict(t) for t in info.tags]
    if settings.fastapi:
        # FastAPI lists only the tags it is given (openapi_tags).
        tags = declared
    else:
        names = {t.get("name") for t in declared}
        tags = declared + [{"name": t} for t in used_tags if t not in names]
    if tags:
        document["tags"] = tags
    if info.external_docs:
        document["externalDocs"] = dict(info.external_docs)
    if settings.fastapi:
        # FastAPI serialises its document without None values (``exclude_none``): a schema's
        # ``"default": null`` is left out, and so is any None in a mapping, lists keep theirs.
        # And as FastAPI's encoder does, any value JSON cannot hold (an enum, a date) becomes one.
        return typing.cast(dict[str, Any], _without_none(to_jsonable_python(document, fallback=str)))
    return document


def _tag(tag: Any) -> str:
    """A tag's name: an enum member (``tags=[Tags.items]``, as FastAPI allows) gives its value."""
    return str(tag.value) if isinstance(tag, enum.Enum) else str(tag)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
