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

`JWTAuth` verifies JSON Web Tokens (PyJWT, ``lanner[jwt]``) and returns their claims;
`hash_password`/`verify_password` hash with Argon2 (pwdlib, ``lanner[passwords]``);
`compare_secret` compares an API key or a password in constant time, and
``HTTPBasicCredentials.matches`` uses it for both parts of Basic credentials.

Instances compare by identity: ``app.dependency_overrides`` needs the very instance a route uses.
"""

from lanner.params import SecurityScopes
from lanner.security._base import HTTPAuthorizationCredentials, HTTPBasicCredentials
from lanner.security._compare import compare_secret
from lanner.security.api_key import APIKeyCookie, APIKeyHeader, APIKeyQuery
from lanner.security.forms import OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict
from lanner.security.http import HTTPBase, HTTPBasic, HTTPBearer, HTTPDigest
from lanner.security.jwt import InvalidToken, JWTAuth, token_scopes
from lanner.security.oauth2 import (
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OpenIdConnect,
)
from lanner.security.passwords import PasswordHasher, hash_password, verify_and_update, verify_password

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
    "InvalidToken",
    "JWTAuth",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect",
    "PasswordHasher",
    "SecurityScopes",
    "compare_secret",
    "hash_password",
    "token_scopes",
    "verify_and_update",
    "verify_password",
]
