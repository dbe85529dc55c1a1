"""Flatten a handler's dependency tree into an ordered list of calls, once per route.

Each call gets a slot in a per-request results list. A dependency shared by several parts of the tree
(with ``use_cache``, the default) has a single slot, so it runs once per request. Overrides are applied
while flattening; changing them recompiles the plans, so requests never consult them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from lanner.params import Depends, Security, SecurityScopes
from lanner.signature import CallPlan, build_plan


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One call in a route's plan.

    Attributes:
        plan: the callable's own parameter plan.
        slot: where its result is stored for later steps.
        inputs: (parameter name, slot) pairs: results of earlier steps this call receives.
        app_scoped: created once for the application instead of once per request.
        scopes: the OAuth2 scopes of every `Security` on the way from the handler to this call.
        constants: arguments fixed at registration (the `SecurityScopes` it asks for).
    """

    plan: CallPlan
    slot: int
    inputs: tuple[tuple[str, int], ...]
    app_scoped: bool = False
    scopes: tuple[str, ...] = ()
    constants: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DependencyPlan:
    """A route's calls in order; the handler is the last step."""

    steps: tuple[Step, ...]

    @property
    def handler(self) -> Step:
        """The route handler's own step."""
        return self.steps[-1]

    @property
    def request_steps(self) -> tuple[Step, ...]:
        """Steps that run on every request (app-scoped ones are created at startup)."""
        return tuple(step for step in self.steps if not step.app_scoped)

    @property
    def app_steps(self) -> tuple[Step, ...]:
        """Steps created once for the application."""
        return tuple(step for step in self.steps if step.app_scoped)


class DependencyCycleError(TypeError):
    """A dependency (indirectly) depends on itself."""


def build_dependency_plan(
    handler: Callable[..., Any],
    path_names: Collection[str] = (),
    dependencies: Sequence[Depends] = (),
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
) -> DependencyPlan:
    """Compile the ordered steps for `handler`.

    Args:
        handler: the route handler.
        path_names: names the route's path template defines.
        dependencies: extra dependencies whose results are discarded (route, router and app level),
            run before the handler's own, in order.
        overrides: replacements for dependency callables (``app.dependency_overrides``).

    Raises:
        DependencyCycleError: a dependency depends on itself.
        TypeError: an app-scoped dependency reads the request or depends on a request-scoped one.
    """
    overrides = overrides or {}
    steps: list[Step] = []
    cached: dict[tuple[Callable[..., Any], bool, tuple[str, ...]], int] = {}
    plans: dict[Callable[..., Any], CallPlan] = {}

    def plan_for(call: Callable[..., Any]) -> CallPlan:
        if call not in plans:
            plans[call] = build_plan(call, path_names)
        return plans[call]

    def visit(marker: Depends, chain: tuple[Callable[..., Any], ...], scopes: tuple[str, ...]) -> int:
        assert marker.dependency is not None
        call = overrides.get(marker.dependency, marker.dependency)
        app_scoped = marker.scope == "app"
        if isinstance(marker, Security):
            scopes = tuple(dict.fromkeys((*scopes, *marker.scopes)))
        # Like FastAPI: the same dependency asked for with other scopes is another call.
        key = (call, app_scoped, scopes)
        if (marker.use_cache or app_scoped) and key in cached:
            return cached[key]
        if call in chain:
            names = " -> ".join(getattr(c, "__qualname__", repr(c)) for c in (*chain, call))
            raise DependencyCycleError(f"dependency cycle: {names}")
        plan = plan_for(call)
        inputs = tuple((name, visit(sub, (*chain, call), scopes)) for name, sub in plan.dependencies)
        if app_scoped:
            _check_app_scoped(plan, [steps[slot] for _, slot in inputs])
        step = Step(plan, len(steps), inputs, app_scoped, scopes, _constants(plan, scopes))
        steps.append(step)
        if marker.use_cache or app_scoped:
            cached[key] = step.slot
        return step.slot

    for marker in dependencies:
        visit(marker, (), ())
    handler_plan = build_plan(handler, path_names)
    inputs = tuple((name, visit(sub, (handler,), ())) for name, sub in handler_plan.dependencies)
    steps.append(Step(handler_plan, len(steps), inputs, constants=_constants(handler_plan, ())))
    return DependencyPlan(_embed_shared_body(steps, path_names))


def _constants(plan: CallPlan, scopes: tuple[str, ...]) -> dict[str, Any] | None:
    if not plan.security_scopes_args:
        return None
    return {name: SecurityScopes(scopes) for name in plan.security_scopes_args}


def _embed_shared_body(steps: list[Step], path_names: Collection[str]) -> tuple[Step, ...]:
    """When several functions of a route read the body, each reads its own key of one object."""
    keys = {key for step in steps if step.plan.body is not None for key in step.plan.body.keys}
    if len(keys) < 2:
        return tuple(steps)
    return tuple(
        dataclasses.replace(step, plan=build_plan(step.plan.call, path_names, embed_body=True))
        if step.plan.body is not None and step.plan.body.whole is not None
        else step
        for step in steps
    )


def _check_app_scoped(plan: CallPlan, inputs: list[Step]) -> None:
    owner = getattr(plan.call, "__qualname__", repr(plan.call))
    if plan.reads_request:
        raise TypeError(f"app-scoped dependency {owner} cannot read the request")
    for step in inputs:
        if not step.app_scoped:
            sub = getattr(step.plan.call, "__qualname__", repr(step.plan.call))
            raise TypeError(
                f"app-scoped dependency {owner} depends on request-scoped {sub}; "
                "declare it with Depends(..., scope='app') too"
            )
