"""What every security dependency shares: the credential types and the not-authenticated answer."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from lanner.exceptions import HTTPException
from lanner.requests import Request
from lanner.security._compare import compare_secret

_NOT_AUTHENTICATED = "Not authenticated"


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

    def matches(self, username: str, password: str) -> bool:
        """Whether these are `username` and `password`, both compared in constant time.

        Both parts are always compared, so the time taken does not tell which one was wrong.
        """
        user_ok = compare_secret(self.username, username)
        password_ok = compare_secret(self.password, password)
        return user_ok & password_ok


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

    def _authorization_header(self, request: Request) -> str | None:
        """The ``Authorization`` header as sent; when missing or empty, reject (see `_reject`)."""
        value = request.headers.get("authorization")
        if not value:
            self._reject()
            return None
        return value

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
