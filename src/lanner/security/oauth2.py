"""OAuth2 flows and OpenID Connect: bearer tokens and the scopes they grant."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

from lanner.requests import Request
from lanner.security._base import _need, _SecurityBase, _split_authorization

# The URLs each OAuth2 flow of an OpenAPI OAuth Flows Object must give.
_FLOW_URLS: dict[str, tuple[str, ...]] = {
    "implicit": ("authorizationUrl",),
    "password": ("tokenUrl",),
    "clientCredentials": ("tokenUrl",),
    "authorizationCode": ("authorizationUrl", "tokenUrl"),
}


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
        return self._authorization_header(request)


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
        return self._authorization_header(request)
