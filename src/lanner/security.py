"""Dependencies that extract credentials from a request and declare their OpenAPI security scheme.

Use an instance as a dependency: ``Depends(HTTPBearer())`` or
``Annotated[str, Depends(APIKeyHeader("x-api-key"))]``. Each one only finds the credentials where
its scheme says they travel and answers 401 "Not authenticated" when they are missing or malformed;
checking them (a constant-time comparison, a token lookup) is the application's job, usually in a
dependency that depends on one of these. The classes, their constructor parameters, status codes,
``detail`` texts and ``WWW-Authenticate`` challenges follow FastAPI's ``fastapi.security``.

Every rejection is built by the instance's `make_not_authenticated_error` (whose challenge comes
from `make_authenticate_headers`); a subclass overrides it to answer differently, e.g. 403.

`OAuth2PasswordRequestForm` and `OAuth2PasswordRequestFormStrict` are class dependencies
(``Annotated[OAuth2PasswordRequestForm, Depends()]``) that read the OAuth2 password grant's form.

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
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field

from lanner.exceptions import HTTPException
from lanner.params import Form, SecurityScopes
from lanner.requests import Request

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBase",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect",
    "SecurityScopes",
]

_NOT_AUTHENTICATED = "Not authenticated"

# An HTTP authentication scheme name is a token (RFC 9110 sections 5.6.2 and 11.1).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# The URLs each OAuth2 flow of an OpenAPI OAuth Flows Object must give.
_FLOW_URLS: dict[str, tuple[str, ...]] = {
    "implicit": ("authorizationUrl",),
    "password": ("tokenUrl",),
    "clientCredentials": ("tokenUrl",),
    "authorizationCode": ("authorizationUrl", "tokenUrl"),
}

# A secret form field: shown as a password input by the docs page (FastAPI marks it the same way).
_SECRET = Field(json_schema_extra={"format": "password"})


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


def _split_authorization(request: Request) -> tuple[str, str] | None:
    """The scheme and credentials of the ``Authorization`` header; None when it is missing or empty.

    The credentials are what follows the first space, surrounding spaces removed; either part may
    be empty.
    """
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    return scheme, credentials.strip()


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

    def make_authenticate_headers(self) -> dict[str, str]:
        """The headers of the not-authenticated error: the ``WWW-Authenticate`` challenge.

        Override it to send another challenge (for instance with error parameters).
        """
        return {"WWW-Authenticate": self._challenge}

    def make_not_authenticated_error(self) -> HTTPException:
        """The error raised whenever the credentials are missing or unusable.

        By default a 401 "Not authenticated" carrying `make_authenticate_headers`. Override it to
        answer differently, e.g. with a 403 as some clients expect.
        """
        return HTTPException(401, _NOT_AUTHENTICATED, headers=self.make_authenticate_headers())

    def _reject(self) -> None:
        """Raise the not-authenticated error when `auto_error` is on; otherwise return.

        The caller then returns None.
        """
        if self.auto_error:
            raise self.make_not_authenticated_error()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme_name={self.security_scheme_name!r})"


def _need(owner: str, what: str, value: str) -> str:
    """Return `value`, a URL or name a scheme cannot do without.

    Raises:
        ValueError: `value` is empty.
    """
    if not value:
        raise ValueError(f"{owner} needs {what}")
    return value


# --- API keys ---------------------------------------------------------------------------------


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


# --- HTTP authentication schemes --------------------------------------------------------------


class HTTPBase(_SecurityBase):
    """Read ``Authorization: <scheme> <credentials>`` for the HTTP authentication scheme `scheme`.

    The base of `HTTPBearer` and `HTTPDigest`; use it directly for other schemes. The challenge is
    the scheme's name capitalised (``WWW-Authenticate: Negotiate``).

    Args:
        scheme: the scheme's name as registered (e.g. ``"negotiate"``); compared case-insensitively.
        scheme_name: the scheme's name in the OpenAPI document; defaults to the class name.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there are no credentials of this scheme; when False, the
            dependency gives None.

    Raises:
        ValueError: `scheme` is not a valid scheme name (empty, or with spaces or separators).
    """

    __slots__ = ("scheme",)

    def __init__(
        self,
        *,
        scheme: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        if not _TOKEN.fullmatch(scheme):
            raise ValueError(f"{type(self).__name__}: {scheme!r} is not an HTTP authentication scheme name")
        super().__init__(scheme_name, description, auto_error, scheme.title())
        self.scheme = scheme

    def _scheme(self) -> dict[str, Any]:
        return {"type": "http", "scheme": self.scheme}

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        """Return the scheme and credentials, or None when they are missing and `auto_error` is off.

        Raises:
            HTTPException: the not-authenticated error (401 with the scheme's challenge) when the
                header is missing, uses another scheme or carries nothing after the scheme.
        """
        parts = _split_authorization(request)
        if parts is None or parts[0].lower() != self.scheme.lower() or not parts[1]:
            self._reject()
            return None
        return HTTPAuthorizationCredentials(*parts)


class HTTPBearer(HTTPBase):
    """Read a bearer token from ``Authorization: Bearer <token>``.

    Args:
        bearerFormat: a hint for the docs about the token's format (e.g. ``"JWT"``); FastAPI's
            spelling.
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"HTTPBearer"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no bearer token; when False, the dependency gives None.
        bearer_format: the same as `bearerFormat`.

    Raises:
        TypeError: both `bearerFormat` and `bearer_format` are given.
    """

    __slots__ = ("bearer_format",)

    def __init__(
        self,
        *,
        bearerFormat: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
        bearer_format: str | None = None,
    ) -> None:
        if bearerFormat is not None and bearer_format is not None:
            raise TypeError("HTTPBearer takes bearerFormat or bearer_format, not both")
        super().__init__(
            scheme="bearer", scheme_name=scheme_name, description=description, auto_error=auto_error
        )
        self.bearer_format = bearerFormat if bearerFormat is not None else bearer_format

    def _scheme(self) -> dict[str, Any]:
        scheme = super()._scheme()
        if self.bearer_format:
            scheme["bearerFormat"] = self.bearer_format
        return scheme


class HTTPDigest(HTTPBase):
    """Read the credentials of ``Authorization: Digest ...`` (RFC 7616), unchecked.

    Like FastAPI's, this only finds the header and declares the scheme; verifying the digest is up
    to the application (or to a subclass overriding ``__call__``).

    Args:
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"HTTPDigest"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 (``WWW-Authenticate: Digest``) when there are no Digest credentials;
            when False, the dependency gives None.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="digest", scheme_name=scheme_name, description=description, auto_error=auto_error
        )


class HTTPBasic(_SecurityBase):
    """Read a user name and password from ``Authorization: Basic <base64(user:password)>``.

    The decoded credentials must be UTF-8 (ASCII included). The 401 challenge is ``Basic``, with
    ``realm="..."`` when a realm is given and ``charset="UTF-8"`` when `charset` asks browsers to
    encode non-ASCII credentials that way (RFC 7617 section 2.1).

    Args:
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"HTTPBasic"``.
        realm: the protection space named in the ``WWW-Authenticate`` challenge.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there are no Basic credentials; when False, the dependency
            gives None. Malformed Basic credentials are always a 401, as in FastAPI.
        charset: add ``charset="<charset>"`` to the challenge; RFC 7617 allows only ``"UTF-8"``.

    Raises:
        ValueError: `realm` contains a control character (it would break the header), or `charset`
            is not UTF-8.
    """

    __slots__ = ("charset", "realm")

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        realm: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
        charset: str | None = None,
    ) -> None:
        if realm is not None and any(ord(c) < 32 or ord(c) == 127 for c in realm):
            raise ValueError("HTTPBasic realm must not contain control characters")
        if charset is not None and charset.lower() != "utf-8":
            raise ValueError(f'HTTPBasic charset must be "UTF-8" (RFC 7617), not {charset!r}')
        params = []
        if realm:
            quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
            params.append(f'realm="{quoted}"')
        if charset is not None:
            params.append(f'charset="{charset}"')
        challenge = "Basic " + ", ".join(params) if params else "Basic"
        super().__init__(scheme_name, description, auto_error, challenge)
        self.realm = realm
        self.charset = charset

    def _scheme(self) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic"}

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:
        """Return the decoded credentials, or None when there are none and `auto_error` is off.

        Raises:
            HTTPException: the not-authenticated error (401 with ``WWW-Authenticate: Basic ...``)
                when the header is missing or uses another scheme and `auto_error` is on; even
                with `auto_error` off when the Basic credentials are not valid base64, do not
                decode as UTF-8 or have no colon.
        """
        parts = _split_authorization(request)
        if parts is None or parts[0].lower() != "basic":
            self._reject()
            return None
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            # ValueError also covers non-ASCII input to b64decode and UnicodeDecodeError.
            raise self.make_not_authenticated_error() from exc
        username, colon, password = decoded.partition(":")
        if not colon:
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username, password)


# --- OAuth2 and OpenID Connect ----------------------------------------------------------------


def _oauth_flows(owner: str, flows: Mapping[str, Mapping[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """The OpenAPI OAuth Flows Object for `flows`, as FastAPI writes it.

    Each flow keeps its fields but those set to None and gets ``scopes`` (``{}`` by default);
    specification extensions (``x-...``) are kept as given and flows set to None are left out.

    Raises:
        ValueError: a flow is not one of OpenAPI's four, or lacks one of its URLs.
    """
    result: dict[str, dict[str, Any]] = {}
    for kind, flow in flows.items():
        if flow is None:
            continue
        if kind.startswith("x-"):
            result[kind] = copy.deepcopy(dict(flow))
            continue
        urls = _FLOW_URLS.get(kind)
        if urls is None:
            raise ValueError(f"{owner}: unknown OAuth2 flow {kind!r}; the flows are {', '.join(_FLOW_URLS)}")
        missing = [url for url in urls if not flow.get(url)]
        if missing:
            raise ValueError(f"{owner}: the {kind} flow needs {' and '.join(missing)}")
        entry = {key: copy.deepcopy(value) for key, value in flow.items() if value is not None}
        entry["scopes"] = dict(flow.get("scopes") or {})
        result[kind] = entry
    return result


class OAuth2(_SecurityBase):
    """Any OAuth2 scheme, declared by its `flows`; the dependency gives the raw ``Authorization``.

    Like FastAPI's, it only checks that an ``Authorization`` header is there; subclasses
    (`OAuth2PasswordBearer`, `OAuth2AuthorizationCodeBearer`) read a bearer token. Routes needing
    particular scopes depend on a copy made by `with_scopes`; the OpenAPI document then lists those
    scopes for the route. Checking that the token grants them is up to the application.

    Args:
        flows: the OpenAPI OAuth Flows Object, e.g.
            ``{"password": {"tokenUrl": "token", "scopes": {"read": "Read things"}}}``; each of
            ``implicit``, ``password``, ``clientCredentials`` and ``authorizationCode`` maps its
            ``authorizationUrl``/``tokenUrl``, optional ``refreshUrl`` and ``scopes``.
        scheme_name: the scheme's name in the OpenAPI document; defaults to the class name.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 (``WWW-Authenticate: Bearer``) when there is no ``Authorization``
            header; when False, the dependency gives None.

    Raises:
        ValueError: a flow is not one of OpenAPI's four, or lacks one of its URLs.

    Attributes:
        scopes: every scope the flows declare, mapped to its description.
        security_scopes: the scopes routes depending on this instance require (see `with_scopes`).
    """

    __slots__ = ("_flows", "scopes", "security_scopes")

    def __init__(
        self,
        *,
        flows: Mapping[str, Mapping[str, Any] | None] | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error, "Bearer")
        self._flows = _oauth_flows(type(self).__name__, flows or {})
        self.scopes: dict[str, str] = {}
        for kind, flow in self._flows.items():
            if kind in _FLOW_URLS:
                self.scopes.update(flow["scopes"])
        self.security_scopes: tuple[str, ...] = ()

    @property
    def flows(self) -> dict[str, dict[str, Any]]:
        """The OpenAPI OAuth Flows Object this scheme declares (a fresh dict)."""
        return copy.deepcopy(self._flows)

    def _scheme(self) -> dict[str, Any]:
        return {"type": "oauth2", "flows": self.flows}

    def with_scopes(self, *scopes: str) -> Self:
        """Return a copy whose routes require `scopes` (in the OpenAPI document).

        Raises:
            ValueError: a scope is not among those the flows declare.
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
        """Return the ``Authorization`` header as sent, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: the not-authenticated error (401 with ``WWW-Authenticate: Bearer``) when
                the header is missing or empty.
        """
        value = request.headers.get("authorization")
        if not value:
            self._reject()
            return None
        return value


class _OAuth2Bearer(OAuth2):
    """An OAuth2 scheme whose clients send the token they got as ``Authorization: Bearer <token>``."""

    __slots__ = ()

    async def __call__(self, request: Request) -> str | None:
        """Return the token, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: the not-authenticated error (401 with ``WWW-Authenticate: Bearer``) when
                the header is missing, uses another scheme or carries no token.
        """
        parts = _split_authorization(request)
        if parts is None or parts[0].lower() != "bearer" or not parts[1]:
            self._reject()
            return None
        return parts[1]


class OAuth2PasswordBearer(_OAuth2Bearer):
    """Read the bearer token a client got from the OAuth2 password flow at `tokenUrl`.

    Routes needing particular scopes depend on a copy made by `with_scopes`; the OpenAPI document
    then lists those scopes for the route. Checking that the token grants them is up to the
    application.

    Args:
        tokenUrl: where clients post the user name and password to get a token (may be relative);
            given positionally or by FastAPI's keyword.
        scheme_name: the scheme's name in the OpenAPI document; defaults to
            ``"OAuth2PasswordBearer"``.
        scopes: every scope the API knows, mapped to its description.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no bearer token; when False, the dependency gives None.
        refreshUrl: where clients refresh a token, if anywhere.

    Raises:
        ValueError: `tokenUrl` is empty.
    """

    __slots__ = ("refresh_url", "token_url")

    def __init__(
        self,
        tokenUrl: str,
        *,
        scheme_name: str | None = None,
        scopes: Mapping[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
        refreshUrl: str | None = None,
    ) -> None:
        flow = {"tokenUrl": tokenUrl, "refreshUrl": refreshUrl, "scopes": dict(scopes or {})}
        super().__init__(
            flows={"password": flow}, scheme_name=scheme_name, description=description, auto_error=auto_error
        )
        self.token_url = tokenUrl
        self.refresh_url = refreshUrl


class OAuth2AuthorizationCodeBearer(_OAuth2Bearer):
    """Read the bearer token a client got from the OAuth2 authorization code flow.

    Routes needing particular scopes depend on a copy made by `with_scopes`.

    Args:
        authorizationUrl: where users are sent to authorize the client.
        tokenUrl: where the client exchanges the authorization code for a token.
        refreshUrl: where clients refresh a token, if anywhere.
        scheme_name: the scheme's name in the OpenAPI document; defaults to
            ``"OAuth2AuthorizationCodeBearer"``.
        scopes: every scope the API knows, mapped to its description.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no bearer token; when False, the dependency gives None.

    Raises:
        ValueError: `authorizationUrl` or `tokenUrl` is empty.
    """

    __slots__ = ("authorization_url", "refresh_url", "token_url")

    def __init__(
        self,
        authorizationUrl: str,
        tokenUrl: str,
        refreshUrl: str | None = None,
        *,
        scheme_name: str | None = None,
        scopes: Mapping[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        flow = {
            "authorizationUrl": authorizationUrl,
            "tokenUrl": tokenUrl,
            "refreshUrl": refreshUrl,
            "scopes": dict(scopes or {}),
        }
        super().__init__(
            flows={"authorizationCode": flow},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        self.authorization_url = authorizationUrl
        self.token_url = tokenUrl
        self.refresh_url = refreshUrl


class OpenIdConnect(_SecurityBase):
    """Declare OpenID Connect discovery at `openIdConnectUrl`; the dependency gives the raw ``Authorization``.

    Like FastAPI's, it only checks that an ``Authorization`` header is there; validating the token
    against the provider is up to the application (or to a subclass overriding ``__call__``).

    Args:
        openIdConnectUrl: the provider's discovery document
            (``.../.well-known/openid-configuration``).
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"OpenIdConnect"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 (``WWW-Authenticate: Bearer``) when there is no ``Authorization``
            header; when False, the dependency gives None.

    Raises:
        ValueError: `openIdConnectUrl` is empty.
    """

    __slots__ = ("open_id_connect_url",)

    def __init__(
        self,
        openIdConnectUrl: str,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.open_id_connect_url = _need(type(self).__name__, "openIdConnectUrl", openIdConnectUrl)
        super().__init__(scheme_name, description, auto_error, "Bearer")

    def _scheme(self) -> dict[str, Any]:
        return {"type": "openIdConnect", "openIdConnectUrl": self.open_id_connect_url}

    async def __call__(self, request: Request) -> str | None:
        """Return the ``Authorization`` header as sent, or None when it is missing and `auto_error` is off.

        Raises:
            HTTPException: the not-authenticated error (401 with ``WWW-Authenticate: Bearer``) when
                the header is missing or empty.
        """
        value = request.headers.get("authorization")
        if not value:
            self._reject()
            return None
        return value


# --- The OAuth2 password grant's form ---------------------------------------------------------


class OAuth2PasswordRequestForm:
    """The form of an OAuth2 password grant (RFC 6749 section 4.3.2), as a class dependency.

    ``form_data: Annotated[OAuth2PasswordRequestForm, Depends()]`` reads the fields below from an
    ``application/x-www-form-urlencoded`` body; a missing `username` or `password` is a 422.
    `grant_type` is optional here, though the specification requires it; use
    `OAuth2PasswordRequestFormStrict` to require it.

    Args:
        grant_type: ``"password"`` if given.
        username: the user's name.
        password: the user's password.
        scope: the scopes asked for, separated by spaces.
        client_id: the client's id, when the client sends its credentials in the form.
        client_secret: the client's secret, likewise.

    Attributes:
        scopes: `scope` split on whitespace.
    """

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(), _SECRET],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(), _SECRET] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes: list[str] = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r}, scopes={self.scopes!r})"


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """`OAuth2PasswordRequestForm` requiring ``grant_type=password``, as the specification does.

    Args:
        grant_type: must be ``"password"``; missing or anything else is a 422.
        username: the user's name.
        password: the user's password.
        scope: the scopes asked for, separated by spaces.
        client_id: the client's id, when the client sends its credentials in the form.
        client_secret: the client's secret, likewise.
    """

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
