"""The OAuth2 password grant's form, read as a class dependency."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lanner.params import Form

# A secret form field: shown as a password input by the docs page (FastAPI marks it the same way).
_SECRET = Field(json_schema_extra={"format": "password"})


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
