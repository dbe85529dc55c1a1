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

import copy
import dataclasses
import enum
import inspect
import re
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import to_jsonable_python

from lanner import status
from lanner._validation import SourceValidator
from lanner.di import Step
from lanner.endpoint import Endpoint
from lanner.responses import JSONResponse
from lanner.routing import Route
from lanner.socket_endpoint import WebSocketEndpoint

from ._collect import collect
from ._fastapi import (
    FastAPISchemaGenerator,
    fastapi_declared_responses,
    fastapi_parameters,
    fastapi_request_body,
    fastapi_title_unless_ref,
)
from ._model import (
    PROBLEM_MEDIA_TYPE,
    REF_PREFIX,
    Operation,
    ParamSource,
    Schemas,
    Settings,
    Slot,
    json_content,
    problem_content,
    source_entries,
    whole_body,
)
from ._websockets import SocketRoute, collect_sockets, inline_keys
from .naming import (
    RouteView,
    deep_update,
    fastapi_summary,
    fastapi_title,
    generate_unique_id,
    openapi_path,
)

__all__ = ["OpenAPIInfo", "build_openapi", "openapi_path"]

_LIFTED = ("description", "examples", "deprecated")
_NO_BODY_STATUSES = (204, 205, 304)
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
                    "input": {"description": "The value that failed (null for a missing one)."},
                    "ctx": {"type": "object", "description": "pydantic's context of the error."},
                },
                "required": ["loc", "msg", "type", "input"],
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


class SchemaGenerator(GenerateJsonSchema):
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


# -- what each operation reads -------------------------------------------------------------------


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


def _parameters(operation: Operation, schemas: Schemas, settings: Settings) -> list[dict[str, Any]]:
    if settings.fastapi:
        return fastapi_parameters(operation, schemas)
    return parameter_objects(operation.sources, schemas)


def parameter_objects(sources: Iterable[ParamSource], schemas: Schemas) -> list[dict[str, Any]]:
    """The Parameter Objects (lanner's conventions) of `sources`, the first of a name and place wins.

    Shared by HTTP operations, the ``x-websockets`` routes and the AsyncAPI document.
    """
    parameters: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        for _, name, prop, required in source_entries(source, schemas):
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


def _request_body(operation: Operation, schemas: Schemas, settings: Settings) -> dict[str, Any] | None:
    if settings.fastapi:
        return fastapi_request_body(operation, schemas)
    if operation.body_keys:
        json_parts = [part for part in operation.bodies if part.plan.form is None]
        whole = whole_body(operation)
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


def _lanner_responses(operation: Operation, settings: Settings) -> dict[str, Any]:
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
            "content": json_content({"$ref": REF_PREFIX + "ValidationProblem"}, PROBLEM_MEDIA_TYPE),
        }
    if not served:
        return responses
    if operation.slot.route.compiled.param_names:
        responses["404"] = {"description": "No resource at this path", "content": problem_content()}
    if has_body:
        responses["400"] = {"description": "Malformed body", "content": problem_content()}
        responses["413"] = {"description": "Body larger than the limit", "content": problem_content()}
        responses["415"] = {"description": "Unsupported body media type", "content": problem_content()}
    # A dependency may say what it answers (a RateLimit's 429) in an ``openapi_responses`` mapping.
    for step in operation.steps:
        for code, spec in (getattr(inspect.unwrap(step.plan.call), "openapi_responses", None) or {}).items():
            responses.setdefault(str(code), {"content": problem_content(), **copy.deepcopy(spec)})
    return responses


def _success(operation: Operation, schemas: Schemas, settings: Settings) -> dict[str, Any]:
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
                    schema = fastapi_title_unless_ref(schemas.results[operation.response_key], title)
            success["content"] = {media: {"schema": schema}}
        return success
    success = {"description": description or status.phrase(code) or "Successful Response"}
    if code not in _NO_BODY_STATUSES:
        response_class = endpoint.response_class
        if response_class is JSONResponse or response_class is None:
            schema = schemas.results[operation.response_key] if operation.response_key else {}
            success["content"] = json_content(schema)
        else:
            media = getattr(response_class, "media_type", None) or "application/octet-stream"
            success["content"] = {media: {"schema": {"type": "string"}}}
    return success


def _stream_content(operation: Operation, schemas: Schemas, settings: Settings) -> dict[str, Any]:
    """The media type object of a JSON Lines stream: the schema of each line.

    FastAPI writes it as ``itemSchema`` (OpenAPI 3.2's field, which 3.1 validators refuse);
    lanner's own conventions keep the document valid 3.1: the body is text, and the schema of its
    lines is an extension, ``x-itemSchema``.
    """
    item: dict[str, Any] = {}
    if operation.response_key is not None:
        item = schemas.results[operation.response_key]
        if settings.fastapi:
            item = fastapi_title_unless_ref(item, fastapi_title("StreamItem_" + operation.slot.unique_id))
    if settings.fastapi:
        return {"itemSchema": item}
    return {"schema": {"type": "string"}, "x-itemSchema": item}


def _responses(operation: Operation, schemas: Schemas, settings: Settings) -> dict[str, Any]:
    slot = operation.slot
    responses: dict[str, Any] = {str(slot.endpoint.status_code): _success(operation, schemas, settings)}
    own = _lanner_responses(operation, settings)
    if settings.fastapi:
        # As FastAPI: the declared responses merge into the success one; lanner's own answers
        # (FastAPI's 422) come only for the statuses left undeclared.
        fastapi_declared_responses(operation, schemas, responses)
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
            entry["content"] = json_content(schemas.results[extra])
        elif "content" in spec:
            entry["content"] = copy.deepcopy(spec["content"])
        elif "content" not in entry and str(key).isdigit() and int(key) >= 400:
            entry["content"] = problem_content()
        responses[str(key)] = entry
    return responses


def security_requirements(steps: Iterable[Step], schemes: dict[str, Any]) -> list[dict[str, list[str]]]:
    """The operation's security requirement: every scheme its dependencies use, with their scopes.

    The scopes of a scheme are those of every `Security` on the way from the handler to it, then
    the scheme's own (``with_scopes``); a scheme used twice lists the scopes of both uses.
    """
    required: dict[str, list[str]] = {}
    for step in steps:
        call = inspect.unwrap(step.plan.call)  # under trace_calls, the traced wrapper's original
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


def route_summary(route: Route, settings: Settings) -> str:
    """The summary of `route`: its own, or one made from its name."""
    if route.options.summary:
        return route.options.summary
    if settings.fastapi:
        return fastapi_summary(route.name)
    return route.name.replace("_", " ").strip().capitalize()


def route_description(route: Route, settings: Settings) -> str | None:
    """The description of `route`: its own, or its handler's docstring up to a form feed."""
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


def _operation_ids(slots: list[Slot], settings: Settings) -> None:
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


def referenced_definitions(documents: Iterable[Any], definitions: dict[str, Any]) -> set[str]:
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
) -> tuple[list[Slot], list[Slot], list[Slot]]:
    """The operations of the paths, of the webhooks, and of their callbacks (children last)."""
    paths = [
        Slot(route, endpoint, method, openapi_path(route.path), True)
        for route, endpoint in routes
        if route.options.include_in_schema
        for method in sorted(route.methods)
    ]
    hooks = [
        Slot(route, endpoint, method, openapi_path(route.path), False)
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
                all_slots.append(Slot(callback, compiled[id(callback)], method, path, False, index))
        if len(all_slots) > 100_000:
            raise ValueError("callbacks nest without end (a callback route lists itself)")
        index += 1
    return paths, hooks, all_slots[len(paths) + len(hooks) :]


def build_openapi(
    info: OpenAPIInfo,
    routes: Iterable[tuple[Route, Endpoint]],
    *,
    webhooks: Iterable[tuple[Route, Endpoint]] = (),
    websockets: Iterable[tuple[Route, WebSocketEndpoint]] = (),
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
        websockets: the WebSocket routes with their compiled endpoints
            (``app.iter_websocket_routes()``), documented under the ``x-websockets`` extension
            keyed by their path: each with its summary, description, tags, handshake parameters
            (Parameter Objects, as an operation's), security, and the schemas of the messages it
            ``receives`` and ``sends``. Left out with FastAPI's conventions (FastAPI documents no
            WebSocket route) and when no route is documented.
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
    settings = Settings(compat == "fastapi", separate_input_output_schemas)
    paths_slots, hook_slots, callback_slots = _slots(routes, webhooks, compile_route)
    slots = [*paths_slots, *hook_slots, *callback_slots]
    _operation_ids(slots, settings)
    schemas = Schemas(FastAPISchemaGenerator if settings.fastapi else SchemaGenerator)
    operations = [collect(slot, schemas, settings) for slot in slots]
    sockets = [] if settings.fastapi else collect_sockets(websockets, schemas, settings)
    inline = {source.key for op in operations for source in op.sources}
    inline.update(key for op in operations for key in op.body_keys if isinstance(key[0], SourceValidator))
    inline.update(
        key
        for op in operations
        for _, kind, key in op.form_parts
        # FastAPI refers to the models a form is read into; lanner merges their fields.
        if not (settings.fastapi and kind.startswith("model:"))
    )
    inline.update(inline_keys(sockets))
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
    websocket_docs = {
        socket.path: _websocket(socket, schemas, settings, security_schemes) for socket in sockets
    }
    return _assemble(
        info, paths, hooks, websocket_docs, schemas, security_schemes, used_tags, bool(operations), settings
    )


def _heading(route: Route, operation_id: str, settings: Settings) -> dict[str, Any]:
    """What an operation and an ``x-websockets`` entry both start with: tags, summary, id."""
    document: dict[str, Any] = {}
    if route.options.tags:
        document["tags"] = [_tag(tag) for tag in route.options.tags]
    document["summary"] = route_summary(route, settings)
    description = route_description(route, settings)
    if description:
        document["description"] = description
    document["operationId"] = operation_id
    return document


def _operation(
    operation: Operation, schemas: Schemas, settings: Settings, security_schemes: dict[str, Any]
) -> dict[str, Any]:
    slot = operation.slot
    route = slot.route
    document = _heading(route, slot.operation_id, settings)
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
    security = security_requirements(steps, security_schemes)
    if security:
        document["security"] = security
    if route.options.deprecated:
        document["deprecated"] = True
    return document


def _websocket(
    socket: SocketRoute, schemas: Schemas, settings: Settings, security_schemes: dict[str, Any]
) -> dict[str, Any]:
    """A WebSocket route's ``x-websockets`` entry, laid out as an operation."""
    route = socket.route
    document = _heading(route, socket.operation_id, settings)
    parameters = parameter_objects(socket.sources, schemas)
    if parameters:
        document["parameters"] = parameters
    for name, key in (("receives", socket.receives), ("sends", socket.sends)):
        if key is not None:
            document[name] = copy.deepcopy(schemas.results[key])
    security = security_requirements(socket.endpoint.plan.steps, security_schemes)
    if security:
        document["security"] = security
    if route.options.deprecated:
        document["deprecated"] = True
    return document


def _assemble(
    info: OpenAPIInfo,
    paths: dict[str, Any],
    webhooks: dict[str, Any],
    websockets: dict[str, Any],
    schemas: Schemas,
    security: dict[str, Any],
    used_tags: list[str],
    needs_problem: bool,
    settings: Settings,
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
    if websockets:
        document["x-websockets"] = websockets
    components: dict[str, Any] = {}
    definitions = dict(schemas.definitions)
    if needs_problem:
        definitions["Problem"] = PROBLEM_SCHEMA
        definitions["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    used = referenced_definitions((paths, webhooks, websockets), definitions)
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
