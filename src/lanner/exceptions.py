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
    """A handler returned a value that does not match its declared response model (a server bug)."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = [dict(e) for e in errors]

    def errors(self) -> list[dict[str, Any]]:
        """Return the list of error dicts."""
        return self._errors


class RouteConflictError(ValueError):
    """Two routes can never be told apart (same methods, same path shape)."""


class MalformedQueryError(HTTPException):
    """The query string could not be decoded (invalid UTF-8, raw or percent-encoded); answered 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)
