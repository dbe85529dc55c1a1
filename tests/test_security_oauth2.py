"""lanner.security's FastAPI-compatible surface: OAuth2, OpenID Connect, Digest, the password form
and the not-authenticated hook, checked against FastAPI 0.165's behaviour and scheme objects."""

import base64
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate

import lanner.params
import lanner.security
from lanner import Depends, Lanner
from lanner.exceptions import HTTPException
from lanner.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBase,
    HTTPBasic,
    HTTPBearer,
    HTTPDigest,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
    OpenIdConnect,
    SecurityScopes,
)
from lanner.testing import TestClient
from tests.security_support import client_for


def assert_not_authenticated(response: Any, challenge: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["detail"] == "Not authenticated"


# --- FastAPI's messages: every unusable credential is "Not authenticated" ----------------------


@pytest.mark.parametrize(
    ("dependency", "header", "challenge"),
    [
        (OAuth2PasswordBearer(tokenUrl="token"), "Notexistent testtoken", "Bearer"),
        (OAuth2PasswordBearer("token"), "Basic dXNlcjpwdw==", "Bearer"),
        (OAuth2PasswordBearer("token"), "Bearer", "Bearer"),
        (OAuth2AuthorizationCodeBearer("authorize", "token"), "Non-existent testtoken", "Bearer"),
        (HTTPBearer(), "Basic notreally", "Bearer"),
        (HTTPDigest(), "Other invalidauthorization", "Digest"),
        (HTTPBase(scheme="Other"), "Bearer x", "Other"),
        (HTTPBasic(), "Basic notabase64token", "Basic"),
        (
            HTTPBasic(realm="simple"),
            "Basic " + base64.b64encode(b"johnsecret").decode(),
            'Basic realm="simple"',
        ),
    ],
)
def test_wrong_scheme_or_malformed_credentials_are_not_authenticated(dependency, header, challenge):
    response = client_for(dependency).get("/", headers={"authorization": header})
    assert_not_authenticated(response, challenge)


@pytest.mark.parametrize(
    ("dependency", "challenge"),
    [
        (OAuth2(flows={}), "Bearer"),
        (OAuth2PasswordBearer("token"), "Bearer"),
        (OAuth2AuthorizationCodeBearer("authorize", "token"), "Bearer"),
        (OpenIdConnect(openIdConnectUrl="/openid"), "Bearer"),
        (HTTPDigest(), "Digest"),
        (HTTPBase(scheme="negotiate"), "Negotiate"),
        (HTTPBasic(), "Basic"),
        (HTTPBasic(realm="simple"), 'Basic realm="simple"'),
        (APIKeyHeader(name="x-key"), "APIKey"),
    ],
)
def test_missing_credentials_are_not_authenticated(dependency, challenge):
    assert_not_authenticated(client_for(dependency).get("/"), challenge)


# --- make_not_authenticated_error and make_authenticate_headers --------------------------------


class HTTPBearer403(HTTPBearer):
    def make_not_authenticated_error(self) -> HTTPException:
        return HTTPException(status_code=403, detail="Not authenticated")


def test_overridden_not_authenticated_error_answers_403():
    # FastAPI's docs_src/authentication_error_status_code/tutorial001.py.
    app = Lanner()

    @app.get("/me")
    def read_me(credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer403())]):
        return {"message": "You are authenticated", "token": credentials.credentials}

    client = TestClient(app)
    for headers in ({}, {"authorization": "Basic notreally"}, {"authorization": "Bearer"}):
        response = client.get("/me", headers=headers)
        assert response.status_code == 403
        assert response.json()["detail"] == "Not authenticated"
        assert "www-authenticate" not in response.headers
    ok = client.get("/me", headers={"authorization": "Bearer t0k"})
    assert ok.json() == {"message": "You are authenticated", "token": "t0k"}


@pytest.mark.parametrize(
    ("cls", "args", "header"),
    [
        (APIKeyHeader, ("x-key",), None),
        (APIKeyQuery, ("key",), None),
        (APIKeyCookie, ("key",), None),
        (HTTPDigest, (), "Other x"),
        (OAuth2PasswordBearer, ("token",), "Basic x"),
        (OAuth2AuthorizationCodeBearer, ("authorize", "token"), "Basic x"),
        (OAuth2, (), None),
        (OpenIdConnect, ("/openid",), None),
        (HTTPBasic, (), "Basic ***"),  # malformed: refused through the hook too
    ],
)
def test_every_class_rejects_through_the_hook(cls, args, header):
    class Forbidding(cls):
        def make_not_authenticated_error(self) -> HTTPException:
            return HTTPException(403, "Forbidden here", headers={"x-why": "hook"})

    response = client_for(Forbidding(*args)).get("/", headers={"authorization": header} if header else {})
    assert response.status_code == 403
    assert response.json()["detail"] == "Forbidden here"
    assert response.headers["x-why"] == "hook"


def test_overridden_authenticate_headers_feed_the_default_error():
    class InvalidToken(OAuth2PasswordBearer):
        def make_authenticate_headers(self) -> dict[str, str]:
            return {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    scheme = InvalidToken("token")
    assert scheme.make_not_authenticated_error().headers == {
        "WWW-Authenticate": 'Bearer error="invalid_token"'
    }
    assert_not_authenticated(client_for(scheme).get("/"), 'Bearer error="invalid_token"')


def test_default_hooks():
    error = HTTPBasic(realm="r").make_not_authenticated_error()
    assert (error.status_code, error.detail, error.headers) == (
        401,
        "Not authenticated",
        {"WWW-Authenticate": 'Basic realm="r"'},
    )
    assert HTTPDigest().make_authenticate_headers() == {"WWW-Authenticate": "Digest"}
    assert OpenIdConnect("/o").make_authenticate_headers() == {"WWW-Authenticate": "Bearer"}
    assert APIKeyQuery("k").make_authenticate_headers() == {"WWW-Authenticate": "APIKey"}


def test_auto_error_off_gives_none_without_calling_the_hook():
    class Exploding(HTTPBearer):
        def make_not_authenticated_error(self) -> HTTPException:
            raise AssertionError("not called when auto_error is off")

    client = client_for(Exploding(auto_error=False))
    assert client.get("/").json() == {"value": None}
    assert client.get("/", headers={"authorization": "Basic x"}).json() == {"value": None}


# --- OAuth2 bearers -------------------------------------------------------------------------


def test_password_bearer_takes_token_url_by_fastapis_keyword_or_positionally():
    by_keyword = OAuth2PasswordBearer(tokenUrl="token", refreshUrl="refresh", scopes={"me": "Me"})
    assert by_keyword.token_url == "token"
    assert by_keyword.refresh_url == "refresh"
    assert by_keyword.security_scheme == {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "token", "refreshUrl": "refresh", "scopes": {"me": "Me"}}},
    }
    assert OAuth2PasswordBearer("/t").token_url == "/t"
    with pytest.raises(ValueError, match="password flow needs tokenUrl"):
        OAuth2PasswordBearer("")


def test_authorization_code_bearer_reads_the_token():
    scheme = OAuth2AuthorizationCodeBearer(authorizationUrl="authorize", tokenUrl="token", auto_error=True)
    client = client_for(scheme)
    assert client.get("/", headers={"authorization": "Bearer testtoken"}).json() == {"value": "testtoken"}
    assert client.get("/", headers={"authorization": "Bearer  testtoken "}).json() == {"value": "testtoken"}
    optional = client_for(OAuth2AuthorizationCodeBearer("a", "t", auto_error=False))
    assert optional.get("/").json() == {"value": None}
    assert optional.get("/", headers={"authorization": "Other x"}).json() == {"value": None}


def test_authorization_code_bearer_attributes_and_scopes():
    scheme = OAuth2AuthorizationCodeBearer("authorize", "token", "refresh", scopes={"a": "A", "b": "B"})
    assert (scheme.authorization_url, scheme.token_url, scheme.refresh_url) == (
        "authorize",
        "token",
        "refresh",
    )
    scoped = scheme.with_scopes("b")
    assert type(scoped) is OAuth2AuthorizationCodeBearer
    assert scoped.security_scopes == ("b",)
    assert scheme.security_scopes == ()
    with pytest.raises(ValueError, match="authorizationCode flow needs authorizationUrl"):
        OAuth2AuthorizationCodeBearer("", "token")


# --- Generic OAuth2 and OpenID Connect ------------------------------------------------------


def test_generic_oauth2_gives_the_whole_authorization_header():
    client = client_for(
        OAuth2(flows={"password": {"tokenUrl": "token", "scopes": {"read:users": "Read the users"}}})
    )
    assert client.get("/", headers={"authorization": "Bearer footokenbar"}).json() == {
        "value": "Bearer footokenbar"
    }
    assert client.get("/", headers={"authorization": "Other footokenbar"}).json() == {
        "value": "Other footokenbar"
    }
    assert client_for(OAuth2(auto_error=False)).get("/").json() == {"value": None}


def test_generic_oauth2_flows_are_completed_and_checked():
    scheme = OAuth2(
        flows={
            "implicit": {"authorizationUrl": "auth", "scopes": {"a": "A"}},
            "clientCredentials": {"tokenUrl": "token", "refreshUrl": None},
            "password": None,
            "x-vendor": {"anything": 1},
        },
        description="Several flows",
    )
    assert scheme.security_scheme == {
        "type": "oauth2",
        "description": "Several flows",
        "flows": {
            "implicit": {"authorizationUrl": "auth", "scopes": {"a": "A"}},
            "clientCredentials": {"tokenUrl": "token", "scopes": {}},
            "x-vendor": {"anything": 1},
        },
    }
    assert scheme.scopes == {"a": "A"}
    scheme.flows["implicit"]["scopes"]["b"] = "B"  # a copy: the scheme is unchanged
    assert scheme.security_scheme["flows"]["implicit"]["scopes"] == {"a": "A"}
    assert OAuth2().security_scheme == {"type": "oauth2", "flows": {}}
    with pytest.raises(ValueError, match="unknown OAuth2 flow 'authorization_code'"):
        OAuth2(flows={"authorization_code": {"tokenUrl": "t"}})
    with pytest.raises(ValueError, match="authorizationCode flow needs authorizationUrl and tokenUrl"):
        OAuth2(flows={"authorizationCode": {}})


def test_openid_connect_gives_the_whole_authorization_header():
    client = client_for(OpenIdConnect(openIdConnectUrl="/openid"))
    assert client.get("/", headers={"authorization": "Bearer footokenbar"}).json() == {
        "value": "Bearer footokenbar"
    }
    assert client.get("/", headers={"authorization": "Other footokenbar"}).json() == {
        "value": "Other footokenbar"
    }
    assert client_for(OpenIdConnect("/openid", auto_error=False)).get("/").json() == {"value": None}
    with pytest.raises(ValueError, match="needs openIdConnectUrl"):
        OpenIdConnect("")


# --- HTTP Digest and the generic HTTPBase ---------------------------------------------------


def test_http_digest_returns_scheme_and_credentials():
    client = client_for(HTTPDigest())
    assert client.get("/", headers={"authorization": "Digest foobar"}).json() == {
        "scheme": "Digest",
        "credentials": "foobar",
    }
    optional = client_for(HTTPDigest(auto_error=False))
    assert optional.get("/").json() == {"value": None}
    assert optional.get("/", headers={"authorization": "Other x"}).json() == {"value": None}


def test_http_base_reads_its_own_scheme():
    client = client_for(HTTPBase(scheme="Other"))
    assert client.get("/", headers={"authorization": "Other  foobar "}).json() == {
        "scheme": "Other",
        "credentials": "foobar",
    }
    with pytest.raises(ValueError, match="not an HTTP authentication scheme name"):
        HTTPBase(scheme="two words")
    with pytest.raises(ValueError, match="not an HTTP authentication scheme name"):
        HTTPBase(scheme="")


def test_http_bearer_takes_both_spellings_of_the_bearer_format():
    assert HTTPBearer(bearerFormat="JWT").bearer_format == "JWT"
    assert HTTPBearer(bearer_format="JWT").security_scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    with pytest.raises(TypeError, match="not both"):
        HTTPBearer(bearerFormat="JWT", bearer_format="JWT")


# --- The password grant's form --------------------------------------------------------------


def form_app() -> TestClient:
    app = Lanner()

    @app.post("/token")
    async def token(form_data: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
        return {
            "grant_type": form_data.grant_type,
            "username": form_data.username,
            "password": form_data.password,
            "scopes": form_data.scopes,
            "client_id": form_data.client_id,
            "client_secret": form_data.client_secret,
        }

    @app.post("/strict")
    async def strict(form_data: Annotated[OAuth2PasswordRequestFormStrict, Depends()]) -> dict[str, Any]:
        return {"grant_type": form_data.grant_type, "username": form_data.username}

    return TestClient(app)


def test_password_form_reads_the_fields():
    client = form_app()
    response = client.post("/token", data={"username": "johndoe", "password": "secret"})
    assert response.json() == {
        "grant_type": None,
        "username": "johndoe",
        "password": "secret",
        "scopes": [],
        "client_id": None,
        "client_secret": None,
    }
    full = client.post(
        "/token",
        data={
            "grant_type": "password",
            "username": "ann",
            "password": "pw",
            "scope": "items:read  me ",
            "client_id": "app",
            "client_secret": "shh",
        },
    )
    assert full.json() == {
        "grant_type": "password",
        "username": "ann",
        "password": "pw",
        "scopes": ["items:read", "me"],
        "client_id": "app",
        "client_secret": "shh",
    }


def test_password_form_missing_username_or_bad_grant_type_is_422():
    client = form_app()
    missing = client.post("/token", data={"password": "secret"})
    assert missing.status_code == 422
    assert [(e["loc"], e["type"]) for e in missing.json()["errors"]] == [(["form", "username"], "missing")]
    wrong_grant = client.post("/token", data={"username": "a", "password": "b", "grant_type": "passwordblah"})
    assert wrong_grant.status_code == 422
    assert [(e["loc"], e["type"]) for e in wrong_grant.json()["errors"]] == [
        (["form", "grant_type"], "string_pattern_mismatch")
    ]


@pytest.mark.parametrize("grant_type", [None, "incorrect", "passwordblah", "blahpassword"])
def test_strict_password_form_requires_the_password_grant(grant_type):
    data = {"username": "johndoe", "password": "secret"}
    if grant_type is not None:
        data["grant_type"] = grant_type
    response = form_app().post("/strict", data=data)
    assert response.status_code == 422
    expected = "missing" if grant_type is None else "string_pattern_mismatch"
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [(["form", "grant_type"], expected)]


def test_strict_password_form_accepts_the_password_grant_and_reports_every_missing_field():
    client = form_app()
    ok = client.post("/strict", data={"grant_type": "password", "username": "johndoe", "password": "secret"})
    assert ok.json() == {"grant_type": "password", "username": "johndoe"}
    empty = client.post("/strict")
    assert empty.status_code == 422
    assert [e["loc"][1] for e in empty.json()["errors"]] == ["grant_type", "username", "password"]


def test_password_forms_are_documented_like_fastapis():
    doc = form_app().app.openapi()
    validate(doc)
    lenient = doc["paths"]["/token"]["post"]["requestBody"]
    assert lenient["required"] is True
    schema = lenient["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["required"] == ["username", "password"]
    props = schema["properties"]
    assert props["grant_type"]["anyOf"][0] == {"pattern": "^password$", "type": "string"}
    assert props["password"]["format"] == "password"
    assert props["client_secret"]["format"] == "password"
    assert props["scope"]["default"] == ""
    strict = doc["paths"]["/strict"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert strict["schema"]["required"] == ["grant_type", "username", "password"]
    assert strict["schema"]["properties"]["grant_type"]["pattern"] == "^password$"
    # FastAPI marks only the lenient form's secrets as passwords.
    assert "format" not in strict["schema"]["properties"]["password"]


def test_password_form_can_be_built_directly_and_hides_the_password():
    form = OAuth2PasswordRequestForm(username="ann", password="hunter2", scope="a b")
    assert form.scopes == ["a", "b"]
    assert "hunter2" not in repr(form)
    strict = OAuth2PasswordRequestFormStrict("password", "ann", "pw")
    assert (strict.grant_type, strict.username, strict.scopes) == ("password", "ann", [])


# --- Scheme objects equal FastAPI's --------------------------------------------------------


def fastapi_pairs() -> list[tuple[Any, Any]]:
    fa = pytest.importorskip("fastapi.security")
    return [
        (APIKeyHeader(name="x-key", description="d"), fa.APIKeyHeader(name="x-key", description="d")),
        (APIKeyQuery(name="k"), fa.APIKeyQuery(name="k")),
        (APIKeyCookie(name="c"), fa.APIKeyCookie(name="c")),
        (HTTPBasic(realm="r", description="d"), fa.HTTPBasic(realm="r", description="d")),
        (HTTPBearer(), fa.HTTPBearer()),
        (HTTPBearer(bearerFormat="JWT", description="d"), fa.HTTPBearer(bearerFormat="JWT", description="d")),
        (HTTPDigest(description="d"), fa.HTTPDigest(description="d")),
        (OAuth2PasswordBearer(tokenUrl="token"), fa.OAuth2PasswordBearer(tokenUrl="token")),
        (
            OAuth2PasswordBearer("token", scopes={"me": "Me"}, refreshUrl="r", description="d"),
            fa.OAuth2PasswordBearer("token", scopes={"me": "Me"}, refreshUrl="r", description="d"),
        ),
        (
            OAuth2AuthorizationCodeBearer(authorizationUrl="authorize", tokenUrl="token"),
            fa.OAuth2AuthorizationCodeBearer(authorizationUrl="authorize", tokenUrl="token"),
        ),
        (
            OAuth2AuthorizationCodeBearer("a", "t", "r", scopes={"x": "X"}),
            fa.OAuth2AuthorizationCodeBearer("a", "t", "r", scopes={"x": "X"}),
        ),
        (OAuth2(), fa.OAuth2()),
        (
            OAuth2(flows={"password": {"tokenUrl": "token", "scopes": {"read:users": "Read"}}}),
            fa.OAuth2(flows={"password": {"tokenUrl": "token", "scopes": {"read:users": "Read"}}}),
        ),
        (
            OAuth2(flows={"implicit": {"authorizationUrl": "a"}, "clientCredentials": {"tokenUrl": "t"}}),
            fa.OAuth2(flows={"implicit": {"authorizationUrl": "a"}, "clientCredentials": {"tokenUrl": "t"}}),
        ),
        (OpenIdConnect(openIdConnectUrl="/openid"), fa.OpenIdConnect(openIdConnectUrl="/openid")),
        (
            OpenIdConnect(openIdConnectUrl="/o", description="d"),
            fa.OpenIdConnect(openIdConnectUrl="/o", description="d"),
        ),
    ]


def test_security_schemes_equal_fastapis_models():
    from fastapi.encoders import jsonable_encoder

    for ours, theirs in fastapi_pairs():
        expected = jsonable_encoder(theirs.model, by_alias=True, exclude_none=True)
        assert ours.security_scheme == expected, type(ours).__name__
        assert ours.security_scheme_name == theirs.scheme_name


def test_new_schemes_make_a_valid_openapi_document():
    password = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read me"})
    code = OAuth2AuthorizationCodeBearer("authorize", "token", scopes={"items": "Items"})
    app = Lanner()

    @app.get("/password")
    async def by_password(token: Annotated[str, Depends(password.with_scopes("me"))]):
        return {}

    @app.get("/code")
    async def by_code(token: Annotated[str, Depends(code.with_scopes("items"))]):
        return {}

    @app.get(
        "/oidc", dependencies=[Depends(OpenIdConnect("https://example.com/.well-known/openid-configuration"))]
    )
    async def by_oidc():
        return {}

    @app.get("/digest", dependencies=[Depends(HTTPDigest())])
    async def by_digest():
        return {}

    @app.get("/generic", dependencies=[Depends(OAuth2(flows={"clientCredentials": {"tokenUrl": "t"}}))])
    async def by_generic():
        return {}

    doc = app.openapi()
    validate(doc)
    assert set(doc["components"]["securitySchemes"]) == {
        "OAuth2PasswordBearer",
        "OAuth2AuthorizationCodeBearer",
        "OpenIdConnect",
        "HTTPDigest",
        "OAuth2",
    }
    assert doc["paths"]["/password"]["get"]["security"] == [{"OAuth2PasswordBearer": ["me"]}]
    assert doc["paths"]["/code"]["get"]["security"] == [{"OAuth2AuthorizationCodeBearer": ["items"]}]
    assert doc["paths"]["/oidc"]["get"]["security"] == [{"OpenIdConnect": []}]


# --- Module surface -------------------------------------------------------------------------


def test_security_scopes_is_re_exported():
    assert SecurityScopes is lanner.params.SecurityScopes
    scopes = SecurityScopes(["a", "b"])
    assert scopes.scope_str == "a b"


def test_every_public_name_is_exported_and_documented():
    fastapi_security = pytest.importorskip("fastapi.security")
    exported = set(lanner.security.__all__)
    # Everything fastapi.security exports is here too (its HTTPBase lives in fastapi.security.http).
    assert set(fastapi_security.__all__ if hasattr(fastapi_security, "__all__") else ()) <= exported
    assert {name for name in dir(fastapi_security) if name[0].isupper()} <= exported
    for name in exported:
        obj = getattr(lanner.security, name)
        assert obj.__doc__, name
