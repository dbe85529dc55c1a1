"""Build the AsyncAPI 3.0 document of the WebSocket routes, served at ``/asyncapi.json``.

Each documented WebSocket route is a channel whose ``address`` is its path (``/rooms/{room}``),
with its path parameters, the query parameters and headers of its handshake (the channel's ``ws``
binding) and its messages. The application *receives* what the client sends (the route option
``receives=``) and *sends* what the route declares with ``sends=``: each declared direction is an
operation. A route whose ``on_invalid="reply"`` answers an invalid message with an error message
sends that message too. Message payloads refer to ``#/components/schemas``, named as in the
OpenAPI document.

The parameters and schemas come from the same compiled plans the handshakes run, through the
OpenAPI generator's collection (`lanner.openapi._websockets`), so the documents and the runtime
cannot disagree.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from lanner.routing import Route
from lanner.socket_endpoint import WebSocketEndpoint

from ._model import REF_PREFIX, Schemas, Settings
from ._websockets import SocketRoute, collect_sockets, inline_keys
from .generator import (
    OpenAPIInfo,
    SchemaGenerator,
    parameter_objects,
    referenced_definitions,
    route_description,
    route_summary,
)

__all__ = ["ASYNCAPI_VERSION", "INVALID_MESSAGE_SCHEMA", "build_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"
_BINDING_VERSION = "0.1.0"  # of the AsyncAPI WebSockets bindings
_NOT_A_KEY = re.compile(r"[^A-Za-z0-9._-]+")

#: What a route with ``on_invalid="reply"`` sends for a message that is not valid JSON or fails
#: validation (`lanner.websockets.WebSocket.receive_json`); the socket stays open.
INVALID_MESSAGE_SCHEMA: dict[str, Any] = {
    "title": "InvalidMessage",
    "description": "The answer to a message that is not valid JSON or fails validation.",
    "type": "object",
    "properties": {
        "type": {"const": "error"},
        "detail": {"type": "string", "description": "The first error, as one line."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                },
                "required": ["type", "loc", "msg"],
            },
        },
    },
    "required": ["type", "detail", "errors"],
}


def build_asyncapi(
    info: OpenAPIInfo,
    routes: Iterable[tuple[Route, WebSocketEndpoint]],
    *,
    separate_input_output_schemas: bool = True,
) -> dict[str, Any]:
    """Return the AsyncAPI 3.0.0 document of the WebSocket `routes` (those with ``include_in_schema``).

    Args:
        info: the application's document-level fields (title, version, description, contact,
            license, terms of service, servers and tag descriptions are used). Only servers with
            an absolute ``http(s)://`` or ``ws(s)://`` URL can be AsyncAPI servers (which need a
            host); the others are left out.
        routes: each WebSocket route with its compiled endpoint (``app.iter_websocket_routes()``).
        separate_input_output_schemas: as for the OpenAPI document: a model whose schema as sent
            differs from its schema as read is documented twice (``Model-Input``/``Model-Output``).

    Raises:
        pydantic.errors.PydanticUserError: a declared message type has no JSON schema.
    """
    settings = Settings(False, separate_input_output_schemas)
    schemas = Schemas(SchemaGenerator)
    sockets = collect_sockets(routes, schemas, settings)
    schemas.build(inline_keys(sockets))
    builder = _Builder(schemas, settings, {str(tag.get("name")): tag for tag in info.tags})
    for socket in sockets:
        builder.add(socket)
    document: dict[str, Any] = {"asyncapi": ASYNCAPI_VERSION, "info": _info(info)}
    servers = _servers(info.servers)
    if servers:
        document["servers"] = servers
    document["defaultContentType"] = "application/json"
    document["channels"] = builder.channels
    document["operations"] = builder.operations
    components: dict[str, Any] = {}
    used = referenced_definitions((builder.channels, builder.messages), builder.definitions)
    if used:
        components["schemas"] = {name: _schema(builder.definitions[name]) for name in sorted(used)}
    if builder.messages:
        components["messages"] = builder.messages
    if components:
        document["components"] = components
    return document


class _Builder:
    """Lays out channels, operations and messages, one WebSocket route at a time."""

    def __init__(self, schemas: Schemas, settings: Settings, tags: Mapping[str, Mapping[str, Any]]) -> None:
        self.schemas = schemas
        self.settings = settings
        self.tags = tags
        self.definitions: dict[str, Any] = dict(schemas.definitions)
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self._invalid: str | None = None

    def add(self, socket: SocketRoute) -> None:
        route, name = socket.route, socket.name
        parameters = parameter_objects(socket.sources, self.schemas)
        channel: dict[str, Any] = {"address": socket.path}
        channel["summary"] = route_summary(route, self.settings)
        description = route_description(route, self.settings)
        if description:
            channel["description"] = description
        path_parameters = self._path_parameters(route, parameters)
        if path_parameters:
            channel["parameters"] = path_parameters
        messages: dict[str, Any] = {}
        directions: list[tuple[str, list[str]]] = []
        if socket.receives is not None:
            received = self._message(self.schemas.results[socket.receives], f"{name}_receives")
            directions.append(("receive", [received]))
        sent = []
        if socket.sends is not None:
            sent.append(self._message(self.schemas.results[socket.sends], f"{name}_sends"))
        if socket.receives is not None and socket.endpoint.limits.on_invalid == "reply":
            sent.append(self._invalid_message())
        if sent:
            directions.append(("send", sent))
        for _, ids in directions:
            messages.update({message: {"$ref": f"#/components/messages/{message}"} for message in ids})
        if messages:
            channel["messages"] = messages
        channel["bindings"] = {"ws": _binding(parameters)}
        if route.options.deprecated:
            channel["x-deprecated"] = True
        self.channels[name] = channel
        for action, ids in directions:
            operation: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{name}"},
                "summary": channel["summary"],
            }
            if route.options.tags:
                operation["tags"] = [self._tag(str(getattr(tag, "value", tag))) for tag in route.options.tags]
            operation["messages"] = [{"$ref": f"#/channels/{name}/messages/{message}"} for message in ids]
            self.operations[f"{name}_{action}"] = operation

    def _message(self, payload: dict[str, Any], fallback: str) -> str:
        """The id of the component message carrying `payload`: its model's name when it has one."""
        ref = payload.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX) and len(payload) == 1:
            base = _NOT_A_KEY.sub("_", ref.removeprefix(REF_PREFIX)) or fallback
        else:
            base = fallback
        payload = _schema(payload)
        candidate, counter = base, 2
        while candidate in self.messages and self.messages[candidate]["payload"] != payload:
            candidate = f"{base}_{counter}"
            counter += 1
        self.messages[candidate] = {"name": candidate, "payload": payload}
        return candidate

    def _invalid_message(self) -> str:
        if self._invalid is None:
            name = "InvalidMessage"
            while name in self.definitions:  # an application model of that name keeps it
                name += "_"
            self.definitions[name] = INVALID_MESSAGE_SCHEMA
            self._invalid = self._message({"$ref": REF_PREFIX + name}, name)
        return self._invalid

    def _path_parameters(self, route: Route, parameters: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """AsyncAPI Parameter Objects for every ``{name}`` of the address (they carry no schema)."""
        declared = {p["name"]: p for p in parameters if p["in"] == "path"}
        found: dict[str, Any] = {}
        for name in route.compiled.param_names:
            parameter = declared.get(name, {})
            schema = dict(parameter.get("schema", {}))
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):  # an enum's values
                schema = {**self.definitions.get(ref.removeprefix(REF_PREFIX), {}), **schema}
            entry: dict[str, Any] = {}
            description = parameter.get("description") or schema.get("description")
            if description:
                entry["description"] = str(description)
            if isinstance(schema.get("enum"), list):
                entry["enum"] = [_text(value) for value in schema["enum"]]
            if "default" in schema and schema["default"] is not None:
                entry["default"] = _text(schema["default"])
            examples = _examples(parameter, schema)
            if examples:
                entry["examples"] = [_text(value) for value in examples]
            found[name] = entry
        return found

    def _tag(self, name: str) -> dict[str, Any]:
        declared = self.tags.get(name, {})
        tag = {key: copy.deepcopy(value) for key, value in declared.items() if key in _TAG_FIELDS}
        return {**tag, "name": name}


_TAG_FIELDS = ("name", "description", "externalDocs")


def _binding(parameters: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The channel's WebSockets binding: the handshake's method, query parameters and headers."""
    binding: dict[str, Any] = {"method": "GET"}
    for location, field in (("query", "query"), ("header", "headers")):
        properties: dict[str, Any] = {}
        required: list[str] = []
        for parameter in parameters:
            if parameter["in"] != location:
                continue
            schema = _schema(parameter["schema"])
            if "$ref" not in schema:  # draft 7 ignores what stands beside a reference
                # What the Parameter Object lifted out of the schema goes back in.
                if parameter.get("description"):
                    schema["description"] = parameter["description"]
                examples = _examples(parameter, {})
                if examples:
                    schema["examples"] = examples
                if parameter.get("deprecated"):
                    schema["deprecated"] = True
            properties[parameter["name"]] = schema
            if parameter.get("required"):
                required.append(parameter["name"])
        if properties:
            binding[field] = {"type": "object", "properties": properties}
            if required:
                binding[field]["required"] = required
    binding["bindingVersion"] = _BINDING_VERSION
    return binding


def _examples(parameter: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Any]:
    """A parameter's example values: its OpenAPI ``examples`` map, else its schema's list."""
    examples = parameter.get("examples")
    if isinstance(examples, Mapping):
        return [example["value"] for example in examples.values() if isinstance(example, Mapping)]
    found = schema.get("examples")
    return list(found) if isinstance(found, list) else []


def _text(value: Any) -> str:
    """A value as the strings AsyncAPI parameters hold (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _schema(value: Any) -> Any:
    """A copy of a JSON schema as an AsyncAPI Schema Object (JSON Schema draft 7 plus a few keys).

    pydantic writes OpenAPI's discriminator object (``{"propertyName": ..., "mapping": ...}``);
    AsyncAPI's ``discriminator`` is the property name alone.
    """
    if isinstance(value, dict):
        converted = {key: _schema(item) for key, item in value.items()}
        discriminator = value.get("discriminator")
        if isinstance(discriminator, Mapping) and isinstance(discriminator.get("propertyName"), str):
            converted["discriminator"] = discriminator["propertyName"]
        return converted
    if isinstance(value, list):
        return [_schema(item) for item in value]
    return value


def _info(info: OpenAPIInfo) -> dict[str, Any]:
    """AsyncAPI's info object (it has no ``summary``: one stands in for a missing description)."""
    document: dict[str, Any] = {"title": info.title, "version": info.version}
    description = info.description or info.summary
    if description:
        document["description"] = description
    if info.terms_of_service:
        document["termsOfService"] = info.terms_of_service
    if info.contact:
        document["contact"] = _fields(info.contact, ("name", "url", "email"))
    if info.license_info:
        document["license"] = _fields(info.license_info, ("name", "url"))
    if info.external_docs:
        document["externalDocs"] = _fields(info.external_docs, ("description", "url"))
    return document


def _fields(value: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The members of an OpenAPI object that its AsyncAPI counterpart has (and extensions)."""
    return {k: copy.deepcopy(v) for k, v in value.items() if k in names or str(k).startswith("x-")}


def _servers(servers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The OpenAPI servers that have a host, as AsyncAPI ``ws``/``wss`` servers keyed by host."""
    found: dict[str, Any] = {}
    for server in servers:
        parts = urlsplit(str(server.get("url", "")))
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            continue  # a relative URL ("/api"): AsyncAPI servers need a host
        entry: dict[str, Any] = {
            "host": parts.netloc,
            "protocol": "wss" if parts.scheme in ("https", "wss") else "ws",
        }
        if parts.path.strip("/"):
            entry["pathname"] = parts.path.rstrip("/")
        if server.get("description"):
            entry["description"] = str(server["description"])
        variables = server.get("variables")
        if isinstance(variables, Mapping) and variables:
            entry["variables"] = {
                name: _fields(variable, ("enum", "default", "description", "examples"))
                for name, variable in variables.items()
                if isinstance(variable, Mapping)
            }
        base = _NOT_A_KEY.sub("_", parts.netloc).strip("_") or "server"
        key, counter = base, 2
        while key in found:
            key = f"{base}_{counter}"
            counter += 1
        found[key] = entry
    return found
