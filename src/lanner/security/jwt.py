"""JSON Web Tokens as a security dependency: verify bearer tokens, check their scopes, issue them.

`JWTAuth` runs on PyJWT (``pip install 'lanner[jwt]'``, imported when the first one is made)::

    auth = JWTAuth(settings.jwt_secret, algorithms=["HS256"], issuer="https://api.example.com")

    @app.get("/me")
    async def me(claims: Annotated[dict[str, Any], Depends(auth)]) -> dict[str, Any]:
        return {"user": claims["sub"]}

    @app.post("/items")
    async def add(claims: Annotated[dict[str, Any], Security(auth, scopes=["items:write"])]): ...

Its configuration is checked when it is made, so a mistake stops the app at startup rather than
opening a hole: an algorithm allow-list is required, ``none`` is never allowed, HMAC and
public-key algorithms never mix, and an HMAC secret that looks like a public key (the key
confusion attack) or is shorter than the hash is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lanner.exceptions import HTTPException
from lanner.params import SecurityScopes
from lanner.requests import Request
from lanner.security._base import HTTPAuthorizationCredentials, _SecurityBase
from lanner.security._jwt_keys import check_algorithms, prepare_keys
from lanner.security.http import HTTPBearer
from lanner.security.oauth2 import OAuth2PasswordBearer

_MISSING_PYJWT = "JWTAuth needs PyJWT: pip install 'lanner[jwt]'"
#: The longest token `JWTAuth` decodes by default; real access tokens are well under 2 KiB.
DEFAULT_MAX_TOKEN_LENGTH = 8192
_NUMERIC_DATES = ("exp", "nbf", "iat")


class InvalidToken(Exception):
    """A token `JWTAuth.verify` refused.

    Attributes:
        description: why, in words safe to send back (the ``error_description`` of the 401).
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def token_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes a token grants: its ``scope`` claim (space-separated) and ``scopes`` list.

    Raises:
        InvalidToken: ``scope`` is not a string or ``scopes`` is not a list of strings.
    """
    granted: set[str] = set()
    scope = claims.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise InvalidToken("The scope claim is not a string")
        granted.update(scope.split())
    listed = claims.get("scopes")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            raise InvalidToken("The scopes claim is not a list of strings")
        granted.update(listed)
    return granted


class JWTAuth(_SecurityBase):
    """Verify the JWT of ``Authorization: Bearer <token>`` and give its claims (a dict).

    Use the instance as a dependency (``Depends(auth)``), or with ``Security(auth, scopes=[...])``
    to require scopes: the token must grant every scope of every ``Security`` on the way from the
    handler down to it (its ``scope`` claim, space-separated, or ``scopes`` list), otherwise the
    answer is 403 with ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``.

    A missing token is a 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 section 3.1). A token
    that fails any check is a 401 with ``Bearer error="invalid_token", error_description="..."``,
    even with `auto_error` off. The checks: at most `max_token_length` characters; an ``alg`` from
    the allow-list and a valid signature; no ``crit`` header (no extension is supported); ``exp``,
    ``nbf`` and ``iat`` numbers with ``exp`` in the future and ``nbf``/``iat`` not (give or take
    `leeway`); ``aud`` among `audience` (a token with ``aud`` is refused when no `audience` is
    set); ``iss`` exactly one of `issuer`; every claim of `require` present.

    Once the token verifies, its claims are put on ``request.state.claims`` and its subject
    (``sub``, or None) on ``request.state.user`` (before the scope check, so a 403 knows who), and
    the dependency returns the claims.

    The OpenAPI document declares an HTTP bearer scheme (``bearerFormat: JWT``), or, with
    `token_url`, the OAuth2 password flow so the docs page's Authorize button can log in.

    Args:
        secret_or_public_key: for HMAC algorithms, the shared secret (``str`` or ``bytes``, at
            least as long as the hash: 32 bytes for HS256); for the others, the public key (PEM,
            SSH or X.509 certificate text, or a ``cryptography`` key object). A private key works
            too: its public half verifies and the private one signs in `issue`.
        algorithms: the allow-list, e.g. ``["HS256"]`` or ``["RS256", "PS256"]``; never decided
            by the token. The first one signs in `issue`.
        audience: the ``aud`` value(s) this API accepts; when set, tokens must carry one.
        issuer: the ``iss`` value(s) accepted, compared exactly; when set, tokens must carry one.
        leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.
        require: claims every token must carry; ``exp`` by default, so tokens expire.
        token_url: where clients get tokens with the OAuth2 password flow (documents the scheme
            as OAuth2 instead of HTTP bearer).
        scopes: every scope the API knows, mapped to its description (documented with
            `token_url`).
        signing_key: the private key `issue` signs with, for asymmetric algorithms.
        max_token_length: longer tokens are refused before any decoding.
        scheme_name: the scheme's name in the OpenAPI document; defaults to ``"JWTAuth"``.
        description: the scheme's description in the OpenAPI document.
        auto_error: answer 401 when there is no token; when False, the dependency gives None.

    Raises:
        ImportError: PyJWT is not installed.
        TypeError: `algorithms` is a single string instead of a list.
        ValueError: an empty allow-list, ``none``, an unknown algorithm, HMAC mixed with
            asymmetric algorithms, or a key that does not suit the algorithms (an HMAC secret that
            looks like a public key, certificate or JWK, or too short; a public key of another
            type, or too small).
    """

    __slots__ = (
        "_errors",
        "_extractor",
        "_issuers",
        "_jwt",
        "_options",
        "_required",
        "_signing_key",
        "_verify_key",
        "algorithms",
        "audience",
        "issuer",
        "leeway",
        "max_token_length",
        "require",
        "scopes",
        "token_url",
    )

    def __init__(
        self,
        secret_or_public_key: Any,
        algorithms: Sequence[str] = ("HS256",),
        *,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float | dt.timedelta = 0,
        require: Sequence[str] = ("exp",),
        token_url: str | None = None,
        scopes: Mapping[str, str] | None = None,
        signing_key: Any = None,
        max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error, "Bearer")
        try:
            import jwt
        except ImportError as exc:
            raise ImportError(_MISSING_PYJWT) from exc
        owner = type(self).__name__
        self._jwt: Any = jwt
        self.algorithms = check_algorithms(owner, algorithms, jwt)
        self._verify_key, self._signing_key = prepare_keys(
            owner, self.algorithms, secret_or_public_key, signing_key
        )
        self.audience = audience if audience is None or isinstance(audience, str) else list(audience)
        self.issuer = issuer
        self._issuers = None if issuer is None else frozenset([issuer] if isinstance(issuer, str) else issuer)
        self.leeway = leeway.total_seconds() if isinstance(leeway, dt.timedelta) else float(leeway)
        self.require = tuple(require)
        self._required = tuple(dict.fromkeys([*self.require, *(["iss"] if issuer is not None else [])]))
        self._options = {"require": list(self._required), "enforce_minimum_key_length": True}
        self.max_token_length = max_token_length
        self.token_url = token_url
        self.scopes = dict(scopes or {})
        self._extractor: OAuth2PasswordBearer | HTTPBearer = (
            HTTPBearer(bearerFormat="JWT", auto_error=False)
            if token_url is None
            else OAuth2PasswordBearer(token_url, scopes=self.scopes, auto_error=False)
        )
        # The most specific classes first: PyJWT's InvalidSignatureError is a DecodeError.
        self._errors: tuple[tuple[type[Exception], str], ...] = (
            (jwt.ExpiredSignatureError, "The token has expired"),
            (jwt.ImmatureSignatureError, "The token is not valid yet"),
            (jwt.InvalidAudienceError, "The token is meant for another audience"),
            (jwt.InvalidSignatureError, "The token's signature is invalid"),
            (jwt.InvalidAlgorithmError, "The token's algorithm is not allowed"),
            (jwt.DecodeError, "The token is malformed"),
        )

    def _scheme(self) -> dict[str, Any]:
        return self._extractor.security_scheme

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> dict[str, Any] | None:
        """Return the verified claims, or None when there is no token and `auto_error` is off.

        Raises:
            HTTPException: 401 when the token is missing (with `auto_error` on) or invalid; 403
                when it lacks a required scope.
        """
        found = await self._extractor(request)
        token = found.credentials if isinstance(found, HTTPAuthorizationCredentials) else found
        if token is None:
            self._reject()
            return None
        try:
            claims = self.verify(token)
            granted = token_scopes(claims) if security_scopes.scopes else set()
        except InvalidToken as exc:
            raise self.make_invalid_token_error(exc.description) from None
        request.state.user = claims.get("sub")
        request.state.claims = claims
        missing = [scope for scope in security_scopes.scopes if scope not in granted]
        if missing:
            raise self.make_insufficient_scope_error(security_scopes, missing)
        return claims

    def verify(self, token: str) -> dict[str, Any]:
        """Check `token` (signature, algorithm, dates, audience, issuer) and return its claims.

        Use it where no request is at hand (a WebSocket message, a background job).

        Raises:
            InvalidToken: any check failed; its `description` says which.
        """
        if len(token) > self.max_token_length:
            raise InvalidToken("The token is too long")
        if _has_critical_header(token):
            raise InvalidToken("The token has critical header extensions this server does not support")
        jwt = self._jwt
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._verify_key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                leeway=self.leeway,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(self._describe(exc)) from exc
        for name in _NUMERIC_DATES:
            # PyJWT takes int(value), so "9999999999" (a string) would pass; RFC 7519 wants numbers.
            value = claims.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InvalidToken(f"The {name} claim is not a number")
        # Checked here, exactly: PyJWT 2.10.0 let a substring of the issuer pass (CVE-2024-53861).
        if self._issuers is not None and not (
            isinstance(claims["iss"], str) and claims["iss"] in self._issuers
        ):
            raise InvalidToken("The token comes from another issuer")
        return claims

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, self._jwt.MissingRequiredClaimError):
            return f"The token has no {exc.claim} claim"
        return next((text for cls, text in self._errors if isinstance(exc, cls)), "The token is invalid")

    def issue(
        self,
        subject: str | None = None,
        *,
        scopes: Iterable[str] | None = None,
        expires_in: float | dt.timedelta | None = 900,
        not_before: float | dt.timedelta | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign a token that this `JWTAuth` accepts, with the first allowed algorithm.

        It carries ``iat`` (now), ``exp``, a random ``jti``, and, when this `JWTAuth` checks them,
        ``iss`` (the first issuer when several are accepted) and ``aud`` (as configured). `claims`
        are copied first (an ``iss`` or ``aud`` there wins); the keyword arguments then set their
        claims over them.

        Args:
            subject: the ``sub`` claim (who the token is for, e.g. a user id).
            scopes: the scopes granted, written as the space-separated ``scope`` claim.
            expires_in: seconds (or a timedelta) until ``exp``; 15 minutes by default; None to
                leave ``exp`` to `claims`.
            not_before: seconds (or a timedelta) from now until ``nbf``, if any.
            claims: further claims (``{"name": "Ann"}``).
            headers: further JOSE header fields (``{"kid": "2024-05"}``).

        Returns:
            The compact JWS (``xxx.yyy.zzz``).

        Raises:
            RuntimeError: the algorithm is asymmetric and no private key was given.
            ValueError: a scope is empty or contains whitespace, or the token would lack a claim
                of `require`.
        """
        if self._signing_key is None:
            raise RuntimeError(
                f"{type(self).__name__}.issue needs a private key to sign {self.algorithms[0]} tokens: "
                "pass it as signing_key= (or as the key itself)"
            )
        now = int(time.time())
        payload = {"iat": now, "jti": secrets.token_urlsafe(16), **(claims or {})}
        if self.issuer is not None and "iss" not in payload:
            payload["iss"] = self.issuer if isinstance(self.issuer, str) else next(iter(self.issuer))
        if self.audience is not None and "aud" not in payload:
            payload["aud"] = self.audience
        if subject is not None:
            payload["sub"] = subject
        if expires_in is not None:
            payload["exp"] = now + _seconds(expires_in)
        if not_before is not None:
            payload["nbf"] = now + _seconds(not_before)
        if scopes is not None:
            granted = list(scopes)
            if any(not scope or scope != "".join(scope.split()) for scope in granted):
                raise ValueError(f"scopes must be non-empty and without spaces: {granted!r}")
            payload["scope"] = " ".join(granted)
        missing = [name for name in self._required if payload.get(name) is None]
        if missing:
            raise ValueError(f"the token would lack {', '.join(missing)}, which verification requires")
        token: str = self._jwt.encode(
            payload,
            self._signing_key,
            algorithm=self.algorithms[0],
            headers={"typ": "JWT", **(headers or {})},
        )
        return token

    def make_invalid_token_error(self, description: str) -> HTTPException:
        """The 401 for a token that failed verification (RFC 6750 ``invalid_token``).

        Override it to answer differently.
        """
        challenge = _challenge(error="invalid_token", error_description=description)
        return HTTPException(401, description, headers={"WWW-Authenticate": challenge})

    def make_insufficient_scope_error(
        self, security_scopes: SecurityScopes, missing: list[str]
    ) -> HTTPException:
        """The 403 for a valid token that lacks scopes (RFC 6750 ``insufficient_scope``).

        The challenge's ``scope`` lists every scope the route requires. Override it to answer
        differently.
        """
        lacking = f"The token lacks the scope{'s' if len(missing) > 1 else ''} {' '.join(missing)}"
        challenge = _challenge(
            error="insufficient_scope",
            error_description=lacking,
            scope=security_scopes.scope_str,
        )
        return HTTPException(403, "Not enough permissions", headers={"WWW-Authenticate": challenge})

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(algorithms={list(self.algorithms)!r}, scheme_name={self.security_scheme_name!r})"


def _challenge(**params: str) -> str:
    """A ``Bearer`` challenge with quoted parameters (quotes, backslashes and controls made safe)."""
    parts = []
    for name, value in params.items():
        clean = "".join(c for c in value if 32 <= ord(c) != 127).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{name}="{clean}"')
    return "Bearer " + ", ".join(parts)


def _has_critical_header(token: str) -> bool:
    """Whether the token's header has ``crit``: it names extensions we must understand, and we know none.

    PyJWT would accept its own (``b64``); a header that does not parse is left for PyJWT to refuse.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return isinstance(header, dict) and "crit" in header


def _seconds(value: float | dt.timedelta) -> int:
    return int(value.total_seconds() if isinstance(value, dt.timedelta) else value)
