"""The pieces the OpenAPI generator assembles an operation from, and the schema collector."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from lanner._validation import SourceValidator
from lanner.di import Step
from lanner.endpoint import Endpoint
from lanner.params import Param
from lanner.routing import Route
from lanner.signature import BodyPlan

from .naming import fastapi_title

PROBLEM_MEDIA_TYPE = "application/problem+json"


def json_content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


REF_TEMPLATE = "#/components/schemas/{model}"


REF_PREFIX = REF_TEMPLATE.format(model="")


LOCATIONS = ("path", "query", "header", "cookie")


def source_entries(
    source: ParamSource, schemas: Schemas
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


def whole_body(operation: Operation) -> tuple[BodyPart, SchemaKey] | None:
    """The first function reading the whole JSON body, if one does.

    Functions of one route read the whole body only when they all read it under the same name
    (otherwise each reads its own key), so the first one describes it.
    """
    parts = [part for part in operation.bodies if part.plan.form is None]
    for part, key in zip(parts, operation.body_keys, strict=True):
        if part.plan.whole is not None:
            return part, key
    return None


def named_definition(schemas: Schemas, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Store `schema` as the component `name` (FastAPI's generated body models) and refer to it."""
    schemas.definitions[name] = {**schema, "title": name}
    return {"$ref": REF_PREFIX + name}


def problem_content() -> dict[str, Any]:
    return json_content({"$ref": REF_PREFIX + "Problem"}, PROBLEM_MEDIA_TYPE)


@dataclasses.dataclass(frozen=True)
class Settings:
    fastapi: bool
    separate: bool


SchemaKey = tuple[Any, JsonSchemaMode]


class Schemas:
    """Collect every type the document needs, then ask pydantic for all schemas at once."""

    def __init__(self, generator: type[GenerateJsonSchema]) -> None:
        self._generator = generator
        self._inputs: list[tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = []
        self._keys: set[SchemaKey] = set()
        self.results: dict[SchemaKey, dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}
        # Each function's signature, read once per document (a dependency serves many routes).
        self.signatures: dict[int, tuple[Callable[..., Any], Signature]] = {}

    def signature(self, call: Callable[..., Any]) -> Signature:
        """`call`'s `Signature`, read once."""
        found = self.signatures.get(id(call))
        if found is None or found[0] is not call:
            found = self.signatures[id(call)] = (call, read_signature(call))
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


@dataclasses.dataclass(frozen=True)
class Signature:
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


def read_signature(call: Callable[..., Any]) -> Signature:
    try:
        parameters = list(inspect.signature(call).parameters.values())
    except (TypeError, ValueError):
        return Signature({}, frozenset())
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
    return Signature({p.name: i for i, p in enumerate(parameters)}, frozenset(hidden))


@dataclasses.dataclass(frozen=True)
class ParamSource:
    """One source of parameters of one function: a per-source model or a parameter model."""

    location: str
    key: SchemaKey
    step: int  # the function's place in the documentation order
    position: int  # the parameter's place in the function's signature (a parameter model's)
    validator: SourceValidator | None  # None for a parameter model
    signature: Signature
    model: Any = None  # a parameter model (`lanner.signature.ParamModel`)


@dataclasses.dataclass(frozen=True)
class BodyPart:
    """A body (or the body's share) one function reads."""

    step: int
    plan: BodyPlan
    signature: Signature


@dataclasses.dataclass
class Slot:
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
class Operation:
    slot: Slot
    steps: tuple[Step, ...]
    sources: list[ParamSource] = dataclasses.field(default_factory=list)
    bodies: list[BodyPart] = dataclasses.field(default_factory=list)
    body_keys: list[SchemaKey] = dataclasses.field(default_factory=list)  # JSON bodies, in order
    form_parts: list[tuple[BodyPart, str, SchemaKey]] = dataclasses.field(default_factory=list)
    form_media_type: str = ""
    form_model: SchemaKey | None = None  # FastAPI: the one model a form is read into, by reference
    streams: bool = False  # the handler yields JSON values, sent as JSON Lines
    response_key: SchemaKey | None = None  # for a stream, the schema of one item
    extra_responses: dict[str, SchemaKey] = dataclasses.field(default_factory=dict)
