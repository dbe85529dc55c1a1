"""Exceptions raised by handlers, dependencies and lanner itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class LannerError(RuntimeError):
    """lanner was used in a way it cannot honour (the message says how to fix it)."""


#: FastAPI's name for the same kind of error, for code migrated from FastAPI.
FastAPIError = LannerError


class HTTPException(Exception):
    """Stop handling a request and answer with an HTTP error.

    Args:
        status_code: the HTTP status to answer with.
        detail: a human-readable explanation (any JSON value); defaults to the status phrase.
        headers: extra response headers (e.g. ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class RequestValidationError(Exception):
    """The request's parameters or body did not validate; answered with 422.

    Args:
        errors: one dict per failing field with ``loc`` (source first, e.g. ``["query", "limit"]``),
            ``msg`` and ``type``.
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = [dict(e) for e in errors]

    def errors(self) -> list[dict[str, Any]]:
        """Return the list of error dicts."""
        return self._errors


class MalformedBodyError(HTTPException):
    """The body could not be parsed at all (broken JSON, hostile numbers or nesting); answered 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


class ResponseValidationError(Exception):
    """A handler returned a value that does not match its declared response model (a server bug).

    Raised while serving a route, it says where to look: the route, the handler's file and line,
    the type and a short repr of what was returned, and the first validation errors (a forgotten
    ``return`` gives ``NoneType None``; an ORM object or ``sqlite3.Row``, its class).
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = [dict(e) for e in errors]
        self.route = ""
        self.location = ""
        self.function = ""
        self.value_type = ""
        self.value_repr = ""
        self.model = ""

    def errors(self) -> list[dict[str, Any]]:
        """Return the list of error dicts."""
        return self._errors

    def add_context(self, route: str, function: Any, location: str, value: Any, model: Any = None) -> None:
        """Record the route, the handler, what it returned and the model, for the message."""
        self.route = route
        self.model = "" if model is None else getattr(model, "__name__", None) or repr(model)
        self.function = getattr(function, "__qualname__", repr(function))
        self.location = location
        self.value_type = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
        shown = repr(value)
        self.value_repr = shown if len(shown) <= 120 else shown[:117] + "..."

    def __str__(self) -> str:
        if not self.route:
            return str(self._errors)
        lines = [
            f"{self.route}: {self.function}() returned a value that does not match its response model"
            + (f" {self.model}" if self.model else ""),
            f"  handler: {self.location}",
            f"  returned: {self.value_type} {self.value_repr}",
        ]
        for error in self._errors[:3]:
            where = ".".join(str(part) for part in error.get("loc", ()))
            lines.append(f"  {where}: {error.get('msg', '')}")
        if len(self._errors) > 3:
            lines.append(f"  ... and {len(self._errors) - 3} more")
        return "\n".join(lines)


class RouteConflictError(ValueError):
    """Two routes can never be told apart (same methods, same path shape)."""


class MalformedQueryError(HTTPException):
    """The query string could not be decoded (invalid UTF-8, raw or percent-encoded); answered 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)
