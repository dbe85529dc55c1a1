"""How operations are named: lanner's operation ids and FastAPI's, and the route seen by id functions.

FastAPI derives an operation id from the handler's name, the path and the method
(``read_item_items__item_id__get``), a summary from the handler's name (``Read Item``) and the
titles of generated schemas from that id (``Body_create_item_items__post``,
``Response Read Items Items  Get``). ``Lanner(openapi_compat="fastapi")`` names them the same way,
so a migrated API keeps its generated clients' method names.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

from lanner.routing import Route

_NON_WORD = re.compile(r"\W")
_PARAM_IN_TEMPLATE = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")


def openapi_path(template: str) -> str:
    """Turn a lanner template (``/items/{id:int}``) into an OpenAPI path (``/items/{id}``)."""
    return _PARAM_IN_TEMPLATE.sub(lambda m: "{" + m.group(1) + "}", template)


@dataclasses.dataclass(frozen=True, eq=False)
class RouteView(Route):
    """A `Route` that also answers the attributes of a FastAPI ``APIRoute``.

    ``generate_unique_id_function`` receives one, so functions written for FastAPI
    (``f"{route.tags[0]}-{route.name}"``) work unchanged: ``tags``, ``path_format``, ``endpoint``
    and every field of the route's `RouteOptions` (``summary``, ``operation_id``...) are attributes.
    """

    @classmethod
    def of(cls, route: Route) -> RouteView:
        """Wrap `route` (returned as is when it already is a view)."""
        if isinstance(route, RouteView):
            return route
        return cls(route.path, route.handler, route.methods, route.options, route.compiled)

    @property
    def tags(self) -> list[str]:
        """The route's OpenAPI tags, as a list (FastAPI's type)."""
        return list(self.options.tags)

    @property
    def path_format(self) -> str:
        """The path without convertors (``/items/{id}``)."""
        return openapi_path(self.path)

    @property
    def endpoint(self) -> Any:
        """The handler (FastAPI's name for it)."""
        return self.handler

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the dataclass and the properties above do not define.
        options = object.__getattribute__(self, "options")
        try:
            return getattr(options, name)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None


def generate_unique_id(route: Route, method: str | None = None) -> str:
    """FastAPI's default operation id: ``{name}{path}_{method}`` with non-word characters as ``_``.

    FastAPI takes the first of the route's methods, so a route serving several methods gives every
    operation the same id; pass `method` to name one operation of such a route.
    """
    if method is None:
        method = sorted(route.methods)[0]
    return f"{_NON_WORD.sub('_', route.name + openapi_path(route.path))}_{method.lower()}"


def fastapi_title(name: str) -> str:
    """The title FastAPI gives a field schema named `name` (``item_id`` -> ``Item Id``)."""
    return name.title().replace("_", " ")


def fastapi_summary(name: str) -> str:
    """The summary FastAPI derives from a handler's name (``read_items`` -> ``Read Items``)."""
    return name.replace("_", " ").title()


def deep_update(target: dict[Any, Any], update: dict[Any, Any]) -> None:
    """Merge `update` into `target` as FastAPI merges ``openapi_extra`` and declared responses.

    Nested mappings merge key by key, lists are concatenated, anything else is replaced (by a copy,
    so the document never shares objects with the settings it was built from).
    """
    for key, value in update.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            deep_update(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            target[key] = current + copy.deepcopy(value)
        else:
            target[key] = copy.deepcopy(value)
