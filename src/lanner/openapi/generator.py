"""Build the OpenAPI 3.1 document from the compiled route plans.

The document is generated from the same validators the requests use (the per-source models, the body
adapters, the response serializers), never by inspecting handlers again, so the docs and the runtime
cannot disagree.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from lanner import status
from lanner.endpoint import Endpoint
from lanner.responses import JSONResponse
from lanner.routing import Route
from lanner.signature import CallPlan, FormPlan

REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_PARAM_IN_TEMPLATE = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")
_LIFTED = ("description", "examples", "deprecated")
_MULTIPART = "multipart/form-data"

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


class _Schemas:
    """Collect every type the document needs, then ask pydantic for all schemas at once."""

    def __init__(self) -> None:
        self._inputs: list[tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = []
        self._keys: set[tuple[Any, JsonSchemaMode]] = set()
        self.results: dict[tuple[Any, JsonSchemaMode], dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}

    def want(self, key: Any, mode: JsonSchemaMode, adapter: TypeAdapter[Any]) -> tuple[Any, JsonSchemaMode]:
        if (key, mode) not in self._keys:
            self._keys.add((key, mode))
            self._inputs.append((key, mode, adapter))
        return key, mode

    def build(self, inline: set[tuple[Any, JsonSchemaMode]]) -> None:
        """Generate every schema; those keyed in `inline` are taken out of the definitions."""
        if not self._inputs:
            return
        results, definitions = TypeAdapter.json_schemas(
            self._inputs, ref_template=REF_TEMPLATE, schema_generator=_SchemaGenerator
        )
        self.results = dict(results)
        self.definitions = dict(definitions.get("$defs", {}))
        prefix = REF_TEMPLATE.format(model="")
        for key in inline:
            # Only models are inlined (the generated per-source models, query models), and pydantic
            # always answers a model with a reference to its definition.
            schema = dict(self.definitions[self.results[key]["$ref"].removeprefix(prefix)])
            schema.pop("title", None)
            self.results[key] = schema


def openapi_path(template: str) -> str:
    """Turn a lanner template (``/items/{id:int}``) into an OpenAPI path (``/items/{id}``)."""
    return _PARAM_IN_TEMPLATE.sub(lambda m: "{" + m.group(1) + "}", template)


def _summary(route: Route) -> str:
    if route.options.summary:
        return route.options.summary
    return route.name.replace("_", " ").strip().capitalize()


def _description(route: Route) -> str | None:
    if route.options.description:
        return route.options.description
    doc = inspect.getdoc(route.handler)
    return doc or None


@dataclasses.dataclass
class _Operation:
    route: Route
    endpoint: Endpoint
    method: str
    path: str
    sources: list[tuple[str, Any]]
    body_key: Any = None
    body_required: bool = False
    body_media_type: str = "application/json"
    body_inline: bool = False
    form_parts: list[Any] = dataclasses.field(default_factory=list)
    form_required: bool = False
    form_media_type: str = ""
    response_key: Any = None
    extra_responses: dict[str, tuple[str, Any]] = dataclasses.field(default_factory=dict)


def _request_plans(endpoint: Endpoint) -> list[CallPlan]:
    return [step.plan for step in endpoint.plan.request_steps]


def _collect(route: Route, endpoint: Endpoint, method: str, schemas: _Schemas) -> _Operation:
    operation = _Operation(route, endpoint, method, openapi_path(route.path), [])
    for plan in _request_plans(endpoint):
        for location, validator in (
            ("path", plan.path),
            ("query", plan.query),
            ("header", plan.header),
            ("cookie", plan.cookie),
        ):
            if validator is not None:
                key = schemas.want(validator, "validation", TypeAdapter(validator.model))
                operation.sources.append((location, key))
        for model in plan.query_models:
            key = schemas.want(model.validator, "validation", model.validator.adapter)
            operation.sources.append(("query", key))
        body = plan.body
        if body is not None and body.form is not None:
            _collect_form(operation, body.form, body.media_type, schemas)
        elif body is not None and operation.body_key is None:
            if body.whole is not None:
                operation.body_key = schemas.want(body.whole, "validation", body.whole.adapter)
            else:
                assert body.embedded is not None  # a body plan reads a whole value or embedded ones
                operation.body_key = schemas.want(
                    body.embedded, "validation", TypeAdapter(body.embedded.model)
                )
                operation.body_inline = True
            operation.body_required = body.required
            operation.body_media_type = body.media_type
    adapter = endpoint.serializer.adapter
    if adapter is not None:
        # With exclude_none, fields may be missing from the output: describe it like an input.
        mode: JsonSchemaMode = "validation" if endpoint.serializer.exclude_none else "serialization"
        operation.response_key = schemas.want(endpoint.serializer, mode, adapter)
    for code, spec in route.options.responses.items():
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"{method} {route.path}: responses[{code!r}] must be a mapping such as "
                f"{{'model': ..., 'description': ...}}, got {spec!r}"
            )
        response_model = spec.get("model")
        if response_model is not None:
            operation.extra_responses[str(code)] = (
                "model",
                schemas.want(response_model, "serialization", TypeAdapter(response_model)),
            )
    return operation


def _collect_form(operation: _Operation, form: FormPlan, media_type: str, schemas: _Schemas) -> None:
    """Every function of a route reads the same form: their fields make one request body."""
    for validator in (form.fields, form.files):
        if validator is not None:
            operation.form_parts.append(schemas.want(validator, "validation", TypeAdapter(validator.model)))
    for model in form.models:
        operation.form_parts.append(schemas.want(model.validator, "validation", model.validator.adapter))
    operation.form_required = operation.form_required or form.required
    # One file anywhere makes the whole body multipart.
    if operation.form_media_type != _MULTIPART:
        operation.form_media_type = media_type


def _form_schema(operation: _Operation, schemas: _Schemas) -> dict[str, Any]:
    """One object schema holding the properties of every form part (the first one of a name wins)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key in operation.form_parts:
        schema = schemas.results[key]
        for name, prop in schema.get("properties", {}).items():
            properties.setdefault(name, prop)
        required.extend(name for name in schema.get("required", ()) if name not in required)
    merged: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        merged["required"] = required
    return merged


def _parameters(operation: _Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for location, key in operation.sources:
        schema = schemas.results[key]
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            if (location, name) in seen:
                continue
            seen.add((location, name))
            prop = dict(prop)
            parameter: dict[str, Any] = {
                "name": name,
                "in": location,
                "required": location == "path" or name in required,
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


def _json_content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _responses(operation: _Operation, schemas: _Schemas) -> dict[str, Any]:
    endpoint = operation.endpoint
    code = endpoint.status_code
    success: dict[str, Any] = {"description": status.phrase(code) or "Successful Response"}
    if code not in (204, 205, 304):
        response_class = endpoint.response_class
        if response_class is JSONResponse or response_class is None:
            schema = schemas.results[operation.response_key] if operation.response_key else {}
            success["content"] = _json_content(schema)
        else:
            media = getattr(response_class, "media_type", None) or "application/octet-stream"
            success["content"] = {media: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(code): success}
    has_body = operation.body_key is not None or bool(operation.form_parts)
    if operation.sources or has_body:
        responses["422"] = {
            "description": "Validation Error",
            "content": _json_content(
                {"$ref": REF_TEMPLATE.format(model="ValidationProblem")}, PROBLEM_MEDIA_TYPE
            ),
        }
    problem = _json_content({"$ref": REF_TEMPLATE.format(model="Problem")}, PROBLEM_MEDIA_TYPE)
    # Statuses lanner itself answers before the handler runs, so clients and fuzzers expect them.
    if operation.route.compiled.param_names:
        responses["404"] = {"description": "No resource at this path", "content": problem}
    if has_body:
        responses["400"] = {"description": "Malformed body", "content": problem}
        responses["413"] = {"description": "Body larger than the limit", "content": problem}
        responses["415"] = {"description": "Unsupported body media type", "content": problem}
    for key, spec in operation.route.options.responses.items():
        entry: dict[str, Any] = dict(responses.get(str(key), {}))
        entry["description"] = (
            spec.get("description")
            or entry.get("description")
            or (status.phrase(int(key)) if str(key).isdigit() else "Response")
        )
        extra = operation.extra_responses.get(str(key))
        if extra is not None:
            entry["content"] = _json_content(schemas.results[extra[1]])
        elif "content" in spec:
            entry["content"] = spec["content"]
        elif "content" not in entry and str(key).isdigit() and int(key) >= 400:
            entry["content"] = _json_content(
                {"$ref": REF_TEMPLATE.format(model="Problem")}, PROBLEM_MEDIA_TYPE
            )
        responses[str(key)] = entry
    return responses


def _security(operation: _Operation, schemes: dict[str, Any]) -> list[dict[str, list[str]]]:
    requirements: list[dict[str, list[str]]] = []
    for step in operation.endpoint.plan.steps:
        scheme = getattr(step.plan.call, "security_scheme", None)
        name = getattr(step.plan.call, "security_scheme_name", None)
        if isinstance(scheme, Mapping) and isinstance(name, str):
            if schemes.get(name, scheme) != scheme:
                raise ValueError(
                    f"two different security schemes are both named {name!r}; give one a scheme_name"
                )
            schemes[name] = dict(scheme)
            scopes = list(getattr(step.plan.call, "security_scopes", ()) or ())
            requirement = {name: scopes}
            if requirement not in requirements:
                requirements.append(requirement)
    return requirements


def _operation_ids(operations: list[_Operation]) -> dict[int, str]:
    ids: dict[int, str] = {}
    used: set[str] = set()
    for index, operation in enumerate(operations):
        explicit = operation.route.options.operation_id
        base = explicit or f"{operation.route.name}_{operation.method.lower()}"
        candidate = base
        if candidate in used and not explicit:
            slug = re.sub(r"[^A-Za-z0-9]+", "_", operation.path).strip("_")
            candidate = f"{operation.route.name}_{slug}_{operation.method.lower()}"
        counter = 2
        while candidate in used:
            candidate = f"{base}_{counter}"
            counter += 1
        used.add(candidate)
        ids[index] = candidate
    return ids


def _refs_in(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for item in value.values():
            _refs_in(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs_in(item, found)


def _referenced(paths: dict[str, Any], definitions: dict[str, Any]) -> set[str]:
    """The definitions the operations reach, directly or through other definitions."""
    found: set[str] = set()
    _refs_in(paths, found)
    pending = list(found)
    while pending:
        nested: set[str] = set()
        _refs_in(definitions.get(pending.pop(), {}), nested)
        for name in nested - found:
            found.add(name)
            pending.append(name)
    return found & set(definitions)


def build_openapi(
    info: OpenAPIInfo,
    routes: Iterable[tuple[Route, Endpoint]],
    *,
    webhooks: Iterable[tuple[Route, Endpoint]] = (),
    compat: str = "lanner",
    compile_route: Callable[[Route], Endpoint] | None = None,
    separate_input_output_schemas: bool = True,
) -> dict[str, Any]:
    """Return the OpenAPI 3.1.0 document for `routes` (those with ``include_in_schema``).

    Raises:
        TypeError: an entry of a route's ``responses`` is not a mapping.
        ValueError: two different security schemes have the same name.
    """
    schemas = _Schemas()
    operations: list[_Operation] = []
    for route, endpoint in routes:
        if not route.options.include_in_schema:
            continue
        for method in sorted(route.methods):
            operations.append(_collect(route, endpoint, method, schemas))
    inline = {key for operation in operations for _, key in operation.sources}
    inline.update(op.body_key for op in operations if op.body_inline)
    inline.update(key for op in operations for key in op.form_parts)
    schemas.build(inline)
    ids = _operation_ids(operations)
    paths: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, Any] = {}
    used_tags: list[str] = []
    for index, operation in enumerate(operations):
        route = operation.route
        document: dict[str, Any] = {}
        if route.options.tags:
            document["tags"] = list(route.options.tags)
            used_tags.extend(t for t in route.options.tags if t not in used_tags)
        document["summary"] = _summary(route)
        description = _description(route)
        if description:
            document["description"] = description
        document["operationId"] = ids[index]
        parameters = _parameters(operation, schemas)
        if parameters:
            document["parameters"] = parameters
        if operation.body_key is not None:
            document["requestBody"] = {
                "required": operation.body_required,
                "content": _json_content(schemas.results[operation.body_key], operation.body_media_type),
            }
        elif operation.form_parts:
            document["requestBody"] = {
                "required": operation.form_required,
                "content": {operation.form_media_type: {"schema": _form_schema(operation, schemas)}},
            }
        document["responses"] = _responses(operation, schemas)
        security = _security(operation, security_schemes)
        if security:
            document["security"] = security
        if route.options.deprecated:
            document["deprecated"] = True
        paths.setdefault(operation.path, {})[operation.method.lower()] = document
    return _assemble(info, paths, schemas, security_schemes, used_tags, bool(operations))


def _assemble(
    info: OpenAPIInfo,
    paths: dict[str, Any],
    schemas: _Schemas,
    security: dict[str, Any],
    used_tags: list[str],
    needs_problem: bool,
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
    document: dict[str, Any] = {"openapi": "3.1.0", "info": info_doc}
    if info.servers:
        document["servers"] = [dict(s) for s in info.servers]
    document["paths"] = paths
    components: dict[str, Any] = {}
    definitions = dict(schemas.definitions)
    if needs_problem:
        definitions["Problem"] = PROBLEM_SCHEMA
        definitions["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    used = _referenced(paths, definitions)
    if used:
        components["schemas"] = {name: definitions[name] for name in sorted(used)}
    if security:
        components["securitySchemes"] = security
    if components:
        document["components"] = components
    declared = [dict(t) for t in info.tags]
    names = {t.get("name") for t in declared}
    tags = declared + [{"name": t} for t in used_tags if t not in names]
    if tags:
        document["tags"] = tags
    return document
