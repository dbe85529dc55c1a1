"""What the OpenAPI and AsyncAPI documents share about a WebSocket route: parameters and messages.

A WebSocket route's handshake reads path, query, header and cookie parameters through a compiled
plan (`lanner.socket_endpoint.WebSocketEndpoint.plan`), the same kind of plan an HTTP route has, so
its parameters are collected from that plan the way an operation's are, dependencies included.
Its messages are the types given by the route options ``receives=`` (what the client sends) and
``sends=`` (what the server sends); both documents refer to their schemas in
``#/components/schemas``, named as the HTTP models are, so a model shared with an HTTP route is
one schema.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from lanner.routing import Route
from lanner.socket_endpoint import WebSocketEndpoint

from ._collect import collect_sources, documentation_steps, output_mode
from ._model import ParamSource, SchemaKey, Schemas, Settings
from .naming import openapi_path

_NOT_A_KEY = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass(frozen=True)
class SocketRoute:
    """One documented WebSocket route.

    Attributes:
        route: the route.
        endpoint: its compiled endpoint (its plan says what the handshake reads).
        path: the path with ``{name}`` templates (``/rooms/{room}``).
        name: unique among the documented WebSocket routes, made of the characters AsyncAPI
            allows in a key (``[A-Za-z0-9._-]``): the AsyncAPI channel id.
        sources: the parameters the handshake reads, in the order the document lists them.
        receives: the schema key of the messages the client sends, if declared.
        sends: the schema key of the messages the server sends, if declared.
    """

    route: Route
    endpoint: WebSocketEndpoint
    path: str
    name: str
    sources: tuple[ParamSource, ...]
    receives: SchemaKey | None
    sends: SchemaKey | None

    @property
    def operation_id(self) -> str:
        """The route's id in ``x-websockets``, as an HTTP operation's (``{name}_{method}``)."""
        return f"{self.name}_websocket"


def collect_sockets(
    routes: Iterable[tuple[Route, WebSocketEndpoint]], schemas: Schemas, settings: Settings
) -> list[SocketRoute]:
    """Collect what the documents need from each WebSocket route with ``include_in_schema``.

    Every schema is asked of `schemas` (`Schemas.want`); build it before reading the results.
    """
    sockets: list[SocketRoute] = []
    used: set[str] = set()
    for route, endpoint in routes:
        options = route.options
        if not options.include_in_schema:
            continue
        steps = documentation_steps(endpoint.plan, settings.fastapi)
        receives = _message(options.receives, "validation", schemas)
        sends_mode = output_mode(options.sends, settings) if options.sends is not None else "validation"
        sends = _message(options.sends, sends_mode, schemas)
        sources = tuple(collect_sources(steps, schemas))
        name = _unique(route.name, used)
        sockets.append(SocketRoute(route, endpoint, openapi_path(route.path), name, sources, receives, sends))
    return sockets


def inline_keys(sockets: Iterable[SocketRoute]) -> set[SchemaKey]:
    """The schema keys `Schemas.build` inlines: the generated per-source models."""
    return {source.key for socket in sockets for source in socket.sources}


def _message(annotation: Any, mode: JsonSchemaMode, schemas: Schemas) -> SchemaKey | None:
    """Ask for the schema of a message type (None when the route declares none)."""
    if annotation is None:
        return None
    try:
        hash(annotation)
    except TypeError:  # ``Annotated[X, {...}]`` with unhashable metadata
        key: Any = ("message", id(annotation))
    else:
        # Keyed like a declared response model, so an HTTP route's use of it is the same entry.
        key = annotation
    return schemas.want(key, mode, TypeAdapter(annotation))


def _unique(name: str, used: set[str]) -> str:
    """`name` made a valid AsyncAPI key, with ``_2``, ``_3``... when another route has it."""
    base = _NOT_A_KEY.sub("_", name).strip("_") or "websocket"
    candidate = base
    counter = 2
    while candidate in used:
        candidate = f"{base}_{counter}"
        counter += 1
    used.add(candidate)
    return candidate
