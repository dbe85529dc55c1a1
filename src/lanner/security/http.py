"""HTTP authentication schemes read from the ``Authorization`` header: Bearer, Digest, Basic."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from lanner.requests import Request
from lanner.security._base import (
    HTTPAuthorizationCredentials,
    HTTPBasicCredentials,
    _SecurityBase,
    _split_authorization,
)

# An HTTP authentication scheme name is a token (RFC 9110 sections 5.6.2 and 11.1).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


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
