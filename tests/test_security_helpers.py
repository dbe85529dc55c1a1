"""The credential-extracting dependencies of lanner.security, end to end through an app."""

import base64
import copy
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate

from lanner import Depends, Lanner
from lanner.requests import Request
from lanner.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from lanner.testing import TestClient
from tests.security_support import client_for


@pytest.fixture
def anyio_backend():
    return "asyncio"


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


def assert_401(response: Any, challenge: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


# --- API keys ---------------------------------------------------------------------------------


def test_api_key_header_reads_the_key_case_insensitively():
    client = client_for(APIKeyHeader("X-API-Key"))
    assert client.get("/", headers={"x-api-key": "k1"}).json() == {"value": "k1"}


def test_api_key_query_and_cookie_read_the_key():
    assert client_for(APIKeyQuery("api_key")).get("/", params={"api_key": "q1"}).json() == {"value": "q1"}
    cookie_client = client_for(APIKeyCookie("session"))
    response = cookie_client.get("/", headers={"cookie": "other=1; session=c1"})
    assert response.json() == {"value": "c1"}


@pytest.mark.parametrize(
    ("dependency", "wrong"),
    [
        (APIKeyHeader("x-api-key"), {"headers": {"x-other": "k"}}),
        (APIKeyHeader("x-api-key"), {"headers": {"x-api-key": ""}}),
        (APIKeyQuery("api_key"), {"params": {"key": "k"}}),
        (APIKeyQuery("api_key"), {"params": {"api_key": ""}}),
        (APIKeyCookie("session"), {"headers": {"cookie": "other=k"}}),
        (APIKeyCookie("session"), {"headers": {"cookie": "session="}}),
    ],
)
def test_api_key_missing_or_empty_is_401(dependency, wrong):
    response = client_for(dependency).get("/", **wrong)
    assert_401(response, "APIKey")
    assert response.json()["detail"] == "Not authenticated"


def test_api_key_key_in_the_wrong_place_is_not_accepted():
    header = client_for(APIKeyHeader("api_key"))
    assert header.get("/", params={"api_key": "k"}).status_code == 401
    query = client_for(APIKeyQuery("api_key"))
    assert query.get("/", headers={"api_key": "k"}).status_code == 401


@pytest.mark.parametrize("cls", [APIKeyHeader, APIKeyQuery, APIKeyCookie])
def test_api_key_without_auto_error_gives_none(cls):
    client = client_for(cls("key", auto_error=False))
    assert client.get("/").json() == {"value": None}


def test_api_key_needs_a_name():
    with pytest.raises(ValueError, match="needs the name"):
        APIKeyHeader("")


# --- HTTP bearer ------------------------------------------------------------------------------


def test_bearer_returns_scheme_and_token():
    client = client_for(HTTPBearer())
    response = client.get("/", headers={"authorization": "Bearer abc.def"})
    assert response.json() == {"scheme": "Bearer", "credentials": "abc.def"}
    # Scheme names are case-insensitive; the client's spelling is kept.
    lower = client.get("/", headers={"authorization": "  bearer   tok  "})
    assert lower.json() == {"scheme": "bearer", "credentials": "tok"}


def test_bearer_missing_is_401():
    response = client_for(HTTPBearer()).get("/")
    assert_401(response, "Bearer")
    assert response.json()["detail"] == "Not authenticated"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer    ", "tokenonly", "", "Bearerx t"]
)
def test_bearer_wrong_scheme_or_empty_token_is_401(header):
    # FastAPI answers every unusable header as it answers a missing one.
    response = client_for(HTTPBearer()).get("/", headers={"authorization": header})
    assert_401(response, "Bearer")
    assert response.json()["detail"] == "Not authenticated"


def test_bearer_without_auto_error_gives_none():
    client = client_for(HTTPBearer(auto_error=False))
    assert client.get("/").json() == {"value": None}
    assert client.get("/", headers={"authorization": "Basic x"}).json() == {"value": None}


def test_bearer_survives_non_latin_header_bytes():
    response = client_for(HTTPBearer()).get("/", headers={"authorization": b"Bearer \xff\xfe"})
    assert response.status_code == 200
    assert response.json()["credentials"] == "\xff\xfe"


# --- HTTP basic -------------------------------------------------------------------------------


def test_basic_returns_username_and_password():
    client = client_for(HTTPBasic())
    response = client.get("/", headers={"authorization": basic(b"ann:s3:cr:et")})
    assert response.json() == {"username": "ann", "password": "s3:cr:et"}
    unicode = client.get("/", headers={"authorization": basic("zoë:pässwörd".encode())})
    assert unicode.json() == {"username": "zoë", "password": "pässwörd"}
    empty_password = client.get("/", headers={"authorization": basic(b"ann:")})
    assert empty_password.json() == {"username": "ann", "password": ""}


def test_basic_works_through_httpx_auth():
    response = client_for(HTTPBasic()).get("/", auth=("ann", "pw"))
    assert response.json() == {"username": "ann", "password": "pw"}


def test_basic_missing_is_401_with_realm_challenge():
    response = client_for(HTTPBasic(realm="staff")).get("/")
    assert_401(response, 'Basic realm="staff"')
    assert response.json()["detail"] == "Not authenticated"
    assert_401(client_for(HTTPBasic()).get("/"), "Basic")
    # An empty realm is no realm, as in FastAPI.
    assert_401(client_for(HTTPBasic(realm="")).get("/"), "Basic")


def test_basic_challenge_names_the_charset_only_when_asked():
    assert_401(client_for(HTTPBasic(charset="UTF-8")).get("/"), 'Basic charset="UTF-8"')
    staff = client_for(HTTPBasic(realm="staff", charset="utf-8"))
    assert_401(staff.get("/"), 'Basic realm="staff", charset="utf-8"')
    assert_401(staff.get("/", headers={"authorization": "Basic ***"}), 'Basic realm="staff", charset="utf-8"')
    with pytest.raises(ValueError, match="RFC 7617"):
        HTTPBasic(charset="latin-1")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",  # wrong scheme
        "Basic",  # nothing after the scheme
        "Basic !!!not-base64!!!",
        "Basic dXNlcg",  # bad padding
        basic(b"no-colon-here"),
        basic(b"\xff\xfe:\x80"),  # decodes, but not UTF-8
        "Basic " + "é" * 8,  # non-ASCII where base64 was expected
    ],
)
def test_basic_malformed_is_401_never_500(header):
    response = client_for(HTTPBasic(realm="x")).get("/", headers={"authorization": header.encode("utf-8")})
    assert_401(response, 'Basic realm="x"')
    assert response.json()["detail"] == "Not authenticated"


def test_basic_raw_non_utf8_header_bytes_are_401():
    response = client_for(HTTPBasic()).get("/", headers={"authorization": b"Basic \xff\xfe\xfd=="})
    assert response.status_code == 401


def test_basic_without_auto_error_gives_none_only_without_basic_credentials():
    client = client_for(HTTPBasic(auto_error=False))
    assert client.get("/").json() == {"value": None}
    assert client.get("/", headers={"authorization": "Bearer x"}).json() == {"value": None}
    # As in FastAPI, Basic credentials that are there but malformed are refused all the same.
    for header in (basic(b"no-colon"), "Basic ***", "Basic"):
        response = client.get("/", headers={"authorization": header})
        assert_401(response, "Basic")
        assert response.json()["detail"] == "Not authenticated"


def test_basic_realm_is_quoted_and_checked():
    assert_401(client_for(HTTPBasic(realm='a "b" \\c')).get("/"), r'Basic realm="a \"b\" \\c"')
    with pytest.raises(ValueError, match="control characters"):
        HTTPBasic(realm="evil\r\nSet-Cookie: x=1")


# --- OAuth2 password bearer -------------------------------------------------------------------


def test_oauth2_returns_the_token():
    client = client_for(OAuth2PasswordBearer("/token"))
    assert client.get("/", headers={"authorization": "Bearer t0k"}).json() == {"value": "t0k"}


def test_oauth2_missing_and_wrong_scheme_are_401():
    client = client_for(OAuth2PasswordBearer("/token"))
    missing = client.get("/")
    assert_401(missing, "Bearer")
    assert missing.json()["detail"] == "Not authenticated"
    wrong = client.get("/", headers={"authorization": basic(b"a:b")})
    assert_401(wrong, "Bearer")
    assert wrong.json()["detail"] == "Not authenticated"


def test_oauth2_without_auto_error_gives_none():
    client = client_for(OAuth2PasswordBearer("/token", auto_error=False))
    assert client.get("/").json() == {"value": None}
    assert client.get("/", headers={"authorization": "Token x"}).json() == {"value": None}


def test_with_scopes_returns_a_copy():
    scheme = OAuth2PasswordBearer("/token", scopes={"read": "Read", "write": "Write"})
    scoped = scheme.with_scopes("write", "read", "write")
    assert scoped is not scheme
    assert scoped.security_scopes == ("write", "read")
    assert scheme.security_scopes == ()
    assert scoped.security_scheme == scheme.security_scheme
    assert scoped.security_scheme_name == "OAuth2PasswordBearer"
    with pytest.raises(ValueError, match=r"undeclared scopes \['admin'\]"):
        scheme.with_scopes("read", "admin")


def test_security_scheme_is_a_fresh_dict_each_time():
    scheme = HTTPBearer()
    scheme.security_scheme["scheme"] = "basic"
    assert scheme.security_scheme == {"type": "http", "scheme": "bearer"}


def test_instances_compare_by_identity_and_copy_cleanly():
    first = APIKeyHeader("x-key")
    assert first != APIKeyHeader("x-key")
    twin = copy.copy(first)
    assert (twin.name, twin.security_scheme_name) == ("x-key", "APIKeyHeader")
    assert repr(first) == "APIKeyHeader(scheme_name='APIKeyHeader')"


def test_basic_credentials_repr_hides_the_password():
    assert "hunter2" not in repr(HTTPBasicCredentials("ann", "hunter2"))


@pytest.mark.anyio
async def test_dependencies_can_be_called_directly():
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"k=q",
        "headers": [(b"authorization", b"Bearer abc"), (b"cookie", b"k=c")],
    }
    request = Request(scope)
    assert await HTTPBearer()(request) == HTTPAuthorizationCredentials("Bearer", "abc")
    assert await OAuth2PasswordBearer("/t")(request) == "abc"
    assert await APIKeyQuery("k")(request) == "q"
    assert await APIKeyCookie("k")(request) == "c"
    assert await HTTPBasic(auto_error=False)(request) is None


# --- working together: overrides, composition -----------------------------------------------


def test_overrides_and_composition_with_a_checking_dependency():
    bearer = HTTPBearer()
    app = Lanner()

    def current_user(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
        return {"t1": "ann"}.get(creds.credentials, "nobody")

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        return {"user": user}

    client = TestClient(app)
    assert client.get("/me", headers={"authorization": "Bearer t1"}).json() == {"user": "ann"}
    assert client.get("/me").status_code == 401
    app.dependency_overrides[bearer] = lambda: HTTPAuthorizationCredentials("Bearer", "t1")
    assert client.get("/me").json() == {"user": "ann"}


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_declares_every_scheme_and_each_operations_security():
    oauth2 = OAuth2PasswordBearer(
        "/token", scopes={"items:read": "Read items", "items:write": "Change items"}
    )
    app = Lanner()

    @app.get("/header")
    async def by_header(key: Annotated[str, Depends(APIKeyHeader("x-api-key", description="A key"))]):
        return {}

    @app.get("/query")
    async def by_query(key: Annotated[str, Depends(APIKeyQuery("api_key", scheme_name="queryKey"))]):
        return {}

    @app.get("/cookie")
    async def by_cookie(key: Annotated[str, Depends(APIKeyCookie("session"))]):
        return {}

    @app.get("/bearer", dependencies=[Depends(HTTPBearer(bearer_format="JWT"))])
    async def by_bearer():
        return {}

    @app.get("/basic")
    async def by_basic(creds: Annotated[HTTPBasicCredentials, Depends(HTTPBasic(realm="r"))]):
        return {}

    @app.get("/items")
    async def read_items(token: Annotated[str, Depends(oauth2.with_scopes("items:read"))]):
        return {}

    @app.post("/items")
    async def write_items(
        token: Annotated[str, Depends(oauth2.with_scopes("items:read", "items:write"))],
    ):
        return {}

    @app.get("/open")
    async def open_route():
        return {}

    doc = app.openapi()
    validate(doc)
    assert doc["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "name": "x-api-key", "in": "header", "description": "A key"},
        "queryKey": {"type": "apiKey", "name": "api_key", "in": "query"},
        "APIKeyCookie": {"type": "apiKey", "name": "session", "in": "cookie"},
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "HTTPBasic": {"type": "http", "scheme": "basic"},
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {
                "password": {
                    "tokenUrl": "/token",
                    "scopes": {"items:read": "Read items", "items:write": "Change items"},
                }
            },
        },
    }
    paths = doc["paths"]
    assert paths["/header"]["get"]["security"] == [{"APIKeyHeader": []}]
    assert paths["/query"]["get"]["security"] == [{"queryKey": []}]
    assert paths["/cookie"]["get"]["security"] == [{"APIKeyCookie": []}]
    assert paths["/bearer"]["get"]["security"] == [{"HTTPBearer": []}]
    assert paths["/basic"]["get"]["security"] == [{"HTTPBasic": []}]
    assert paths["/items"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items:read"]}]
    assert paths["/items"]["post"]["security"] == [{"OAuth2PasswordBearer": ["items:read", "items:write"]}]
    assert "security" not in paths["/open"]["get"]
    # The request parameter of the helpers is not a documented parameter.
    assert "parameters" not in paths["/bearer"]["get"]


def test_openapi_security_through_a_checking_dependency():
    key = APIKeyHeader("x-api-key")
    app = Lanner()

    def check(value: Annotated[str, Depends(key)]) -> str:
        return value

    @app.get("/a")
    async def a(user: Annotated[str, Depends(check)]):
        return {}

    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/a"]["get"]["security"] == [{"APIKeyHeader": []}]


def test_basic_credentials_match_in_constant_time_on_both_parts() -> None:
    from lanner.security import HTTPBasicCredentials

    credentials = HTTPBasicCredentials("ann", "pässword")
    assert credentials.matches("ann", "pässword")
    assert not credentials.matches("ann", "password")
    assert not credentials.matches("bob", "pässword")
    assert not credentials.matches("", "")
