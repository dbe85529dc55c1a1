"""Collect what each operation reads (parameters, bodies, forms) and returns, from its compiled plan."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from lanner._compile import is_stream_annotation, stream_item_type
from lanner.di import DependencyPlan, Step
from lanner.params import MISSING
from lanner.responses import Response
from lanner.signature import FormPlan

from ._model import LOCATIONS, BodyPart, Operation, ParamSource, Schemas, Settings, Slot

MULTIPART = "multipart/form-data"


def has_computed_fields(annotation: Any, seen: set[Any] | None = None) -> bool:
    """Whether `annotation` holds a model with computed fields (its output differs from its input)."""
    seen = set() if seen is None else seen
    if isinstance(annotation, type) and annotation not in seen:
        seen.add(annotation)
        decorators = getattr(annotation, "__pydantic_decorators__", None)
        if decorators is not None and decorators.computed_fields:
            return True
        if issubclass(annotation, BaseModel):
            return any(has_computed_fields(f.annotation, seen) for f in annotation.model_fields.values())
        fields = getattr(annotation, "__dataclass_fields__", None)
        if fields:
            return any(has_computed_fields(f.type, seen) for f in fields.values())
        return False
    return any(has_computed_fields(arg, seen) for arg in get_args(annotation))


def output_mode(annotation: Any, settings: Settings, exclude_none: bool = False) -> JsonSchemaMode:
    if not settings.separate and not has_computed_fields(annotation):
        return "validation"
    # lanner: with exclude_none, fields may be missing from the output: describe it like an input.
    return "validation" if exclude_none and not settings.fastapi else "serialization"


def documentation_steps(plan: DependencyPlan, fastapi: bool) -> tuple[Step, ...]:
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


def return_annotation(slot: Slot) -> Any:
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
    if is_stream_annotation(annotation):
        return None
    return annotation


def streamed_item(slot: Slot) -> tuple[bool, Any]:
    """Whether the handler streams JSON Lines (it yields, its responses are JSON), and the item type.

    The item type is what the return annotation says the generator yields
    (``AsyncIterator[Item]`` -> ``Item``); None when it does not say.
    """
    endpoint = slot.endpoint
    plan = endpoint.plan.handler.plan
    if plan.kind not in ("generator", "async_generator") or slot.route.options.response_class is not None:
        return False, None
    annotation = plan.return_annotation
    item = stream_item_type(annotation)
    return True, None if item is inspect.Signature.empty else item


def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    """An adapter that can document `annotation`, or None (no schema rather than no document)."""
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        adapter.json_schema()
    except Exception:
        return None
    return adapter


def collect_sources(steps: Iterable[Step], schemas: Schemas) -> list[ParamSource]:
    """The parameter sources of `steps` (per-source models and parameter models), in order.

    An HTTP operation's (`collect`) and a WebSocket handshake's, which has no body.
    """
    sources: list[ParamSource] = []
    for index, step in enumerate(steps):
        plan = step.plan
        signature = schemas.signature(plan.call)
        for location in LOCATIONS:
            validator = getattr(plan, location)
            if validator is not None:
                key = schemas.want(validator, "validation", TypeAdapter(validator.model))
                sources.append(ParamSource(location, key, index, 0, validator, signature))
        for location in ("query", "header", "cookie"):
            for model in getattr(plan, f"{location}_models", ()):
                if model.name in signature.hidden:
                    continue
                key = schemas.want(model.validator, "validation", model.validator.adapter)
                position = signature.positions.get(model.name, 0)
                sources.append(ParamSource(location, key, index, position, None, signature, model))
    return sources


def collect(slot: Slot, schemas: Schemas, settings: Settings) -> Operation:
    route, endpoint, method = slot.route, slot.endpoint, slot.method
    operation = Operation(slot, documentation_steps(endpoint.plan, settings.fastapi))
    operation.sources.extend(collect_sources(operation.steps, schemas))
    for index, step in enumerate(operation.steps):
        plan = step.plan
        if plan.body is not None:
            operation.bodies.append(BodyPart(index, plan.body, schemas.signature(plan.call)))
    for part in operation.bodies:
        if part.plan.form is not None:
            collect_form(operation, part, part.plan.form, part.plan.media_type, schemas)
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
    operation.streams, item = streamed_item(slot)
    if operation.streams and adapter is None:
        # The items' type when lanner does not validate them (``AsyncIterator[dict[str, Any]]``).
        streamed = _adapter(item) if item is not None else None
        if streamed is not None:
            operation.response_key = schemas.want(
                ("item", id(endpoint)), output_mode(item, settings), streamed
            )
    elif adapter is not None:
        # The response model, or for a stream the model of each item.
        mode = output_mode(endpoint.serializer.annotation, settings, endpoint.serializer.exclude_none)
        operation.response_key = schemas.want(endpoint.serializer, mode, adapter)
    elif settings.fastapi and route.options.response_model is MISSING:
        # FastAPI documents the return annotation even where lanner does not validate with it
        # (``-> dict[str, Any]``, ``-> Any``).
        annotation = return_annotation(slot)
        returned = _adapter(annotation) if annotation is not None else None
        if returned is not None:
            mode = output_mode(annotation, settings)
            operation.response_key = schemas.want(("returns", id(endpoint)), mode, returned)
    for code, spec in route.options.responses.items():
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"{method} {route.path}: responses[{code!r}] must be a mapping such as "
                f"{{'model': ..., 'description': ...}}, got {spec!r}"
            )
        response_model = spec.get("model")
        if response_model is not None:
            mode = output_mode(response_model, settings)
            operation.extra_responses[str(code)] = schemas.want(
                response_model, mode, TypeAdapter(response_model)
            )
    return operation


def collect_form(
    operation: Operation, part: BodyPart, form: FormPlan, media_type: str, schemas: Schemas
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
    if operation.form_media_type != MULTIPART:
        operation.form_media_type = media_type
