"""Compile one route into its `Endpoint`: the dependency plan, response model, status and options.

The app compiles its routes here, and so does the OpenAPI generator for routes outside an app
(callbacks, ``get_openapi(routes=...)``), so the two can never disagree.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, cast

from lanner._plan_checks import check_serializable
from lanner._validation import ResponseSerializer, wants_response_model
from lanner.checks import route_label
from lanner.di import DependencyPlan, build_dependency_plan
from lanner.endpoint import Endpoint, Runtime
from lanner.errors import ExceptionHandlers
from lanner.params import MISSING
from lanner.responses import RedirectResponse, Response
from lanner.routing import Route
from lanner.signature import CallKind

#: ``instrument(role, call, kind) -> call``: wraps each per-request call of a route (role is
#: ``"handler"`` or ``"dependency"``; kind is the `CallPlan` kind, which the wrapper must keep).
Instrument = Callable[[str, Callable[..., Any], CallKind], Callable[..., Any]]

# A tuple, not a set: `annotation in _STREAMS` must not need a hashable annotation.
_STREAMS = (
    collections.abc.AsyncIterable,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.Iterable,
    collections.abc.Iterator,
    collections.abc.Generator,
)


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedRoute:
    """The costly part of compiling a route (its plan and serializer), made once at registration.

    Attributes:
        plan: the dependency plan.
        serializer: the response serializer.
        overrides: the ``dependency_overrides`` the plan was built with; a plan made with other
            overrides is made again.
    """

    plan: DependencyPlan
    serializer: ResponseSerializer
    overrides: tuple[tuple[Any, Any], ...]


def prepare_route(route: Route, overrides: Mapping[Any, Any] | None = None) -> PreparedRoute:
    """Plan `route`'s handler and dependencies and build its response serializer.

    Raises:
        TypeError: the handler or a dependency cannot be planned (`PlanError` names the parameter).
    """
    options = route.options
    plan = build_dependency_plan(route.handler, route.compiled.param_names, options.dependencies, overrides)
    for step in plan.steps:
        if step.plan.websocket_args:
            owner = getattr(step.plan.call, "__qualname__", repr(step.plan.call))
            raise TypeError(f"{owner}: a WebSocket parameter needs a WebSocket route (@app.websocket)")
    model = options.response_model
    if model is MISSING:
        annotation = plan.handler.plan.return_annotation
        if plan.handler.plan.kind in ("generator", "async_generator"):
            # A handler that yields streams items: they are what the annotation validates.
            annotation = stream_item_type(annotation)
        model = annotation if is_model_annotation(annotation) else None
    if model is not None:
        check_serializable(route.handler, model)
    serializer = ResponseSerializer(
        model,
        options.response_model_exclude_none,
        include=options.response_model_include,
        exclude=options.response_model_exclude,
        exclude_unset=options.response_model_exclude_unset,
        exclude_defaults=options.response_model_exclude_defaults,
        by_alias=options.response_model_by_alias,
    )
    return PreparedRoute(plan, serializer, _snapshot(overrides))


def _snapshot(overrides: Mapping[Any, Any] | None) -> tuple[tuple[Any, Any], ...]:
    return tuple(overrides.items()) if overrides else ()


def compile_route(
    route: Route,
    runtime: Runtime | None = None,
    overrides: Mapping[Any, Any] | None = None,
    *,
    strict_content_type: bool = True,
    instrument: Instrument | None = None,
    prepared: PreparedRoute | None = None,
) -> Endpoint:
    """Compile `route` into its `Endpoint`.

    Args:
        route: the route (its options hold what the routers around it added).
        runtime: what the endpoints of an app share; a fresh one without hooks when None (enough
            to document the route, not to serve it inside an app).
        overrides: replacements for dependency callables (``app.dependency_overrides``).
        strict_content_type: the app's setting, for routes that do not set their own.
        instrument: wraps the handler and each per-request dependency (tracing's child spans);
            routes compiled without it pay nothing.
        prepared: what `prepare_route` made at registration; reused when the overrides are the
            same, else made again.

    Raises:
        TypeError: the handler or a dependency cannot be planned.
    """
    options = route.options
    if prepared is None or prepared.overrides != _snapshot(overrides):
        prepared = prepare_route(route, overrides)
    plan = prepared.plan
    if instrument is not None:
        plan = _instrumented(plan, instrument)
    return Endpoint(
        plan,
        runtime or Runtime(ExceptionHandlers()),
        options.status_code or _default_status(options.response_class),
        options.response_class,
        prepared.serializer,
        options.max_body_size,
        methods=route.methods,
        csrf_exempt=options.csrf_exempt,
        template_folders=options.template_folders,
        form_limits=options.form_limits,
        strict_content_type=strict_content_type
        if options.strict_content_type is None
        else options.strict_content_type,
        route_handler=None if options.route_class is None else _route_handler(route),
        route=route_label(route),
    )


def _instrumented(plan: DependencyPlan, instrument: Instrument) -> DependencyPlan:
    """`plan` with its handler and per-request dependencies wrapped by `instrument`."""
    last = len(plan.steps) - 1
    steps = []
    for index, step in enumerate(plan.steps):
        if not step.app_scoped:
            role = "handler" if index == last else "dependency"
            call = instrument(role, step.plan.call, step.plan.kind)
            step = dataclasses.replace(step, plan=dataclasses.replace(step.plan, call=call))
        steps.append(step)
    return DependencyPlan(tuple(steps))


def stream_item_type(annotation: Any) -> Any:
    """The item type of ``AsyncIterable[Item]`` (and the like); `inspect.Signature.empty` if none."""
    if typing.get_origin(annotation) in _STREAMS and typing.get_args(annotation):
        return typing.get_args(annotation)[0]
    return inspect.Signature.empty


def is_stream_annotation(annotation: Any) -> bool:
    """Whether `annotation` describes a stream (``AsyncIterable[Item]``, bare ``Iterator``...)."""
    return typing.get_origin(annotation) in _STREAMS or annotation in _STREAMS


def is_model_annotation(annotation: Any) -> bool:
    """Whether a return annotation is a response model (not a response class, not plain data).

    A stream's annotation (``AsyncIterable[str]``) is not one: its items may be.
    """
    if annotation is inspect.Signature.empty or annotation is type(None):
        return False
    if is_stream_annotation(annotation):
        return False
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return False
    if any(isinstance(arg, type) and issubclass(arg, Response) for arg in typing.get_args(annotation)):
        return False  # `-> HTMLResponse | RedirectResponse` returns responses, not data
    return wants_response_model(annotation)


def _default_status(response_class: type | None) -> int:
    """A route's status when none is given: 307 for a redirect class (a returned URL redirects)."""
    if isinstance(response_class, type) and issubclass(response_class, RedirectResponse):
        return 307
    return 200


def _route_handler(route: Route) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Build the route's custom handler from the function that runs it (see `APIRoute`)."""
    route_class = route.options.route_class
    assert route_class is not None

    def build(handle: Callable[..., Any]) -> Callable[..., Any]:
        custom = route_class(route.path, route.handler, methods=route.methods, handle=handle)
        return cast(Callable[..., Any], custom.get_route_handler())

    return build
