"""API keys sent in a header, a query parameter or a cookie."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from lanner.requests import Request
from lanner.security._base import _need, _SecurityBase


class _APIKeyBase(_SecurityBase):
    """An API key sent as a header, query parameter or cookie, named `name`."""

    __slots__ = ("name",)

    _location: ClassVar[Literal["header", "query", "cookie"]]

    def __init__(
        self,
        name: str,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.name = _need(type(self).__name__, "the name the key is sent under", name)
        # HTTP defines no challenge for API keys, but a 401 must carry one (RFC 9110 section 15.5.2).
        super().__init__(scheme_name, description, auto_error, "APIKey")

    def _scheme(self) -> dict[str, Any]:
        return {"type": "apiKey", "name": self.name, "in": self._location}

    def _check(self, key: str | None) -> str | None:
        # An empty value is as good as none: no real key is the empty string.
        if key:
            return key
        self._reject()
        return None


class APIKeyHeader(_APIKeyBase):
    """Read an API key from the request header `name`.

    Args:
        name: the header carrying the key (e.g. ``"x-api-key"``); case does not matter.
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"APIKeyHeader"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when the key is missing; when False, the dependency gives None.

    Raises:
        ValueError: `name` is empty.
    """

    __slots__ = ()

    _location = "header"

    async def __call__(self, request: Request) -> str | None:
        """Return the key, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: APIKey`` when the header is missing or empty.
        """
        return self._check(request.headers.get(self.name))


class APIKeyQuery(_APIKeyBase):
    """Read an API key from the query parameter `name`.

    Args:
        name: the query parameter carrying the key (e.g. ``"api_key"``).
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"APIKeyQuery"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when the key is missing; when False, the dependency gives None.

    Raises:
        ValueError: `name` is empty.
    """

    __slots__ = ()

    _location = "query"

    async def __call__(self, request: Request) -> str | None:
        """Return the key, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: APIKey`` when the parameter is missing or
                empty.
        """
        return self._check(request.query_params.get(self.name))


class APIKeyCookie(_APIKeyBase):
    """Read an API key from the cookie `name`.

    Args:
        name: the cookie carrying the key.
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"APIKeyCookie"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when the key is missing; when False, the dependency gives None.

    Raises:
        ValueError: `name` is empty.
    """

    __slots__ = ()

    _location = "cookie"

    async def __call__(self, request: Request) -> str | None:
        """Return the key, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: APIKey`` when the cookie is missing or empty.
        """
        return self._check(request.cookies.get(self.name))
