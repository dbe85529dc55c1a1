"""Dependencies that extract credentials from a request and declare their OpenAPI security scheme.

Use an instance as a dependency: ``Depends(HTTPBearer())`` or
``Annotated[str, Depends(APIKeyHeader("x-api-key"))]``. Each one only finds the credentials where
its scheme says they travel and answers 401 when they are missing or malformed; checking them (a
constant-time comparison, a token lookup) is the application's job, usually in a dependency that
depends on one of these.

The OpenAPI generator reads three attributes from any dependency: ``security_scheme_name``,
``security_scheme`` (an OpenAPI Security Scheme Object) and, optionally, ``security_scopes``. Every
operation that depends on an instance lists it under ``security`` and the document declares it in
``components/securitySchemes``; the docs page's Authorize button then works.

Instances compare by identity: ``app.dependency_overrides`` needs the very instance a route uses.
"""

from __future__ import annotations

import abc
import base64
import binascii
import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from lanner.exceptions import HTTPException
from lanner.requests import Request

_NOT_AUTHENTICATED = "Not authenticated"
_INVALID = "Invalid authentication credentials"


@dataclasses.dataclass(frozen=True, slots=True)
class HTTPAuthorizationCredentials:
    """The two parts of an ``Authorization`` header.

    Attributes:
        scheme: the authentication scheme as the client spelled it (e.g. ``"Bearer"``).
        credentials: what followed the scheme (the token), surrounding spaces removed.
    """

    scheme: str
    credentials: str


@dataclasses.dataclass(frozen=True, slots=True)
class HTTPBasicCredentials:
    """A user name and password decoded from HTTP Basic authentication.

    Attributes:
        username: the part before the first colon.
        password: the rest; it may itself contain colons.
    """

    username: str
    password: str = dataclasses.field(repr=False)


class _SecurityBase(abc.ABC):
    """What every security dependency shares: its scheme's name and description, and `auto_error`."""

    __slots__ = ("_challenge", "auto_error", "description", "security_scheme_name")

    def __init__(
        self, scheme_name: str | None, description: str | None, auto_error: bool, challenge: str
    ) -> None:
        self.security_scheme_name: str = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error
        self._challenge = challenge

    @property
    def security_scheme(self) -> dict[str, Any]:
        """The OpenAPI Security Scheme Object this dependency declares (a fresh dict)."""
        scheme = self._scheme()
        if self.description:
            scheme["description"] = self.description
        return scheme

    @abc.abstractmethod
    def _scheme(self) -> dict[str, Any]:
        """The fields of the Security Scheme Object that this kind of credentials defines."""

    def _reject(self, detail: str) -> None:
        """Raise the 401 when `auto_error` is on; otherwise return, so the caller returns None."""
        if self.auto_error:
            raise HTTPException(401, detail, headers={"WWW-Authenticate": self._challenge})

    def _authorization(self, request: Request, scheme: str) -> tuple[str, str] | None:
        """The scheme as sent and the credentials of an ``Authorization: <scheme> ...`` header.

        Returns None after `_reject` when the header is missing, names another scheme (compared
        case-insensitively, RFC 9110 section 11.1) or carries nothing after the scheme.
        """
        value = request.headers.get("authorization")
        if value is None:
            self._reject(_NOT_AUTHENTICATED)
            return None
        sent, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        if sent.lower() != scheme or not credentials:
            self._reject(_INVALID)
            return None
        return sent, credentials

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme_name={self.security_scheme_name!r})"


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
        if not name:
            raise ValueError(f"{type(self).__name__} needs the name the key is sent under")
        super().__init__(scheme_name, description, auto_error, "APIKey")
        self.name = name

    def _scheme(self) -> dict[str, Any]:
        return {"type": "apiKey", "name": self.name, "in": self._location}

    def _check(self, key: str | None) -> str | None:
        # An empty value is as good as none: no real key is the empty string.
        if key:
            return key
        self._reject(_NOT_AUTHENTICATED)
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


class HTTPBearer(_SecurityBase):
    """Read a bearer token from ``Authorization: Bearer <token>``.

    Args:
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"HTTPBearer"``.
        bearer_format: a hint for the docs about the token's format (e.g. ``"JWT"``).
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no bearer token; when False, the dependency gives None.
    """

    __slots__ = ("bearer_format",)

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        bearer_format: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error, "Bearer")
        self.bearer_format = bearer_format

    def _scheme(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if self.bearer_format:
            scheme["bearerFormat"] = self.bearer_format
        return scheme

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        """Return the scheme and token, or None when they are missing and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: Bearer`` when the header is missing, uses
                another scheme or carries no token.
        """
        parts = self._authorization(request, "bearer")
        return None if parts is None else HTTPAuthorizationCredentials(*parts)


class HTTPBasic(_SecurityBase):
    """Read a user name and password from ``Authorization: Basic <base64(user:password)>``.

    The decoded credentials must be UTF-8; the 401 challenge says so (``charset="UTF-8"``, RFC
    7617), so browsers encode them that way.

    Args:
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"HTTPBasic"``.
        realm: the protection space named in the ``WWW-Authenticate`` challenge.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when the credentials are missing or malformed; when False, the
            dependency gives None.

    Raises:
        ValueError: `realm` contains a control character (it would break the header).
    """

    __slots__ = ("realm",)

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        realm: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        if realm is not None and any(ord(c) < 32 or ord(c) == 127 for c in realm):
            raise ValueError("HTTPBasic realm must not contain control characters")
        params = ['charset="UTF-8"']
        if realm is not None:
            quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
            params.insert(0, f'realm="{quoted}"')
        super().__init__(scheme_name, description, auto_error, "Basic " + ", ".join(params))
        self.realm = realm

    def _scheme(self) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic"}

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:
        """Return the decoded credentials, or None when they are unusable and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: Basic ...`` when the header is missing,
                uses another scheme, is not valid base64, does not decode as UTF-8 or has no colon.
        """
        parts = self._authorization(request, "basic")
        if parts is None:
            return None
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            # ValueError also covers non-ASCII input to b64decode and UnicodeDecodeError.
            self._reject(_INVALID)
            return None
        username, colon, password = decoded.partition(":")
        if not colon:
            self._reject(_INVALID)
            return None
        return HTTPBasicCredentials(username, password)


class OAuth2PasswordBearer(_SecurityBase):
    """Read the bearer token a client got from the OAuth2 password flow at `token_url`.

    Routes needing particular scopes depend on a copy made by `with_scopes`; the OpenAPI document
    then lists those scopes for the route. Checking that the token grants them is up to the
    application.

    Args:
        token_url: where clients post the user name and password to get a token (may be relative).
        scheme_name: the scheme's name in the OpenAPI document; defaults to
            ``"OAuth2PasswordBearer"``.
        scopes: every scope the API knows, mapped to its description.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no bearer token; when False, the dependency gives None.
    """

    __slots__ = ("scopes", "security_scopes", "token_url")

    def __init__(
        self,
        token_url: str,
        *,
        scheme_name: str | None = None,
        scopes: Mapping[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error, "Bearer")
        self.token_url = token_url
        self.scopes: dict[str, str] = dict(scopes or {})
        self.security_scopes: tuple[str, ...] = ()

    def _scheme(self) -> dict[str, Any]:
        flow = {"tokenUrl": self.token_url, "scopes": dict(self.scopes)}
        return {"type": "oauth2", "flows": {"password": flow}}

    def with_scopes(self, *scopes: str) -> OAuth2PasswordBearer:
        """Return a copy whose routes require `scopes` (in the OpenAPI document).

        Raises:
            ValueError: a scope is not among those given to the constructor.
        """
        unknown = [s for s in scopes if s not in self.scopes]
        if unknown:
            raise ValueError(
                f"{self.security_scheme_name}: undeclared scopes {unknown}; "
                f"declare them in scopes={{...}} first"
            )
        scoped = copy.copy(self)
        scoped.security_scopes = tuple(dict.fromkeys(scopes))
        return scoped

    async def __call__(self, request: Request) -> str | None:
        """Return the token, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: 401 with ``WWW-Authenticate: Bearer`` when the header is missing, uses
                another scheme or carries no token.
        """
        parts = self._authorization(request, "bearer")
        return None if parts is None else parts[1]
