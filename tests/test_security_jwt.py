"""lanner.security.jwt: JWTAuth's startup checks, every refusal (as a 401/403 with RFC 6750's
challenge), scopes through Security/SecurityScopes, the OpenAPI scheme, and issuing tokens."""

import base64
import hashlib
import hmac
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from lanner import Depends, Lanner, Request, Security, SecurityScopes
from lanner.security.jwt import InvalidToken, JWTAuth, token_scopes
from lanner.testing import TestClient

SECRET = "s3cret-" + "x" * 40
ISSUER = "https://issuer.example.com"
INVALID = 'Bearer error="invalid_token", error_description="{}"'

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC = RSA_KEY.public_key()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC = ec.generate_private_key(ec.SECP256R1())
OTHER_ED = ed25519.Ed25519PrivateKey.generate()


def pem(key: Any) -> bytes:
    if hasattr(key, "private_bytes"):
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


RSA_PUBLIC_PEM = pem(RSA_PUBLIC)


def certificate(key: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example.com")])
    now = time.time()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.fromtimestamp(now - 60, UTC))
        .not_valid_after(datetime.fromtimestamp(now + 3600, UTC))
        .sign(key, hashes.SHA256())
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """A token signed by hand, so headers PyJWT would not write can be sent."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "ann", "iat": now, "exp": now + 600, **extra}


def client_for(auth: JWTAuth, scopes: list[str] | None = None) -> TestClient:
    """An app whose `/` returns the claims `auth` gave, and what it put on request.state."""
    app = Lanner()
    marker = Security(auth, scopes=scopes) if scopes else Depends(auth)

    @app.get("/")
    async def show(request: Request, claims: Annotated[Any, marker]) -> dict[str, Any]:
        state = getattr(request.state, "user", "unset"), getattr(request.state, "claims", "unset")
        return {"claims": claims, "user": state[0], "state_claims": state[1]}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_invalid(response: Any, description: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == INVALID.format(description)
    assert response.json()["detail"] == description


# --- Startup checks: the allow-list -----------------------------------------------------------


@pytest.mark.parametrize("algorithms", [["none"], ["None"], ["NONE"], ["HS256", "none"]])
def test_none_is_refused_at_construction(algorithms):
    with pytest.raises(ValueError, match="never allowed: it accepts unsigned tokens"):
        JWTAuth(SECRET, algorithms=algorithms)


def test_empty_unknown_or_string_allow_lists_are_refused():
    with pytest.raises(ValueError, match="allow-list is empty"):
        JWTAuth(SECRET, algorithms=[])
    with pytest.raises(ValueError, match="unknown algorithm 'HS1024'"):
        JWTAuth(SECRET, algorithms=["HS1024"])
    with pytest.raises(ValueError, match="never allowed"):
        JWTAuth(SECRET, algorithms=[None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"algorithms must be a list, e\.g\. \['HS256'\]"):
        JWTAuth(SECRET, algorithms="HS256")


def test_mixing_hmac_and_public_key_algorithms_is_refused():
    with pytest.raises(ValueError, match=r"\['HS256'\] \(HMAC, a shared secret\) and \['RS256'\]"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["RS256", "HS256"])


# --- Startup checks: an HMAC secret that is really a public key (key confusion) ---------------


def ssh(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def der(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


LOOKALIKES = {
    "spki pem": (RSA_PUBLIC_PEM, "a PEM public key"),
    "spki pem str": (RSA_PUBLIC_PEM.decode(), "a PEM public key"),
    "pkcs1 pem": (
        RSA_PUBLIC.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "a PEM public key",
    ),
    "private pem": (pem(RSA_KEY), "a PEM public key, private key"),
    "certificate pem": (certificate(RSA_KEY).public_bytes(serialization.Encoding.PEM), "or certificate"),
    "ssh-rsa": (ssh(RSA_KEY), "an SSH public key"),
    "ecdsa-sha2": (ssh(EC_KEY), "an SSH public key"),
    "ssh-ed25519 str": (b"  " + ssh(ED_KEY) + b" comment\n", "an SSH public key"),
    "jwk": (json.dumps(pyjwt.algorithms.RSAAlgorithm.to_jwk(RSA_PUBLIC, as_dict=True)), "a JWK"),
    "jwks": (json.dumps({"keys": [{"kty": "oct", "k": "x" * 60}]}), "a JWK"),
    "der spki (long form)": (der(RSA_PUBLIC), "a DER-encoded key"),
    "der spki (short form)": (der(ED_KEY.public_key()), "a DER-encoded key"),
    "der certificate": (certificate(EC_KEY).public_bytes(serialization.Encoding.DER), "a DER-encoded key"),
    "der private key": (
        EC_KEY.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "a DER-encoded key",
    ),
}


@pytest.mark.parametrize(("key", "looks_like"), LOOKALIKES.values(), ids=LOOKALIKES.keys())
@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_hmac_with_a_key_that_looks_public_is_refused_at_startup(key, looks_like, algorithm):
    with pytest.raises(ValueError, match="the key looks like") as error:
        JWTAuth(key, algorithms=[algorithm])
    message = str(error.value)
    assert looks_like in message
    assert "anyone holding a public key could then forge tokens" in message
    assert "algorithms=['RS256']" in message


def test_hmac_with_a_key_object_is_refused():
    with pytest.raises(ValueError, match="HS256 needs a shared secret \\(str or bytes\\), not a"):
        JWTAuth(RSA_PUBLIC, algorithms=["HS256"])


def test_random_secrets_that_start_like_der_are_accepted():
    # An ASN.1 SEQUENCE header spanning the input, but not a key: a plausible random secret.
    secret = bytes([0x30, 30]) + bytes(range(1, 31))
    assert JWTAuth(secret).verify(JWTAuth(secret).issue("ann"))["sub"] == "ann"
    long_form = bytes([0x30, 0x81, 45]) + bytes(range(45))
    assert JWTAuth(long_form).algorithms == ("HS256",)
    assert JWTAuth(b"0" + b"x" * 40).algorithms == ("HS256",)  # starts with 0x30, wrong length
    assert JWTAuth(b'{"not": "a jwk", "k": "' + b"x" * 30 + b'"}').algorithms == ("HS256",)
    assert JWTAuth(b"{" + b"x" * 40).algorithms == ("HS256",)  # not JSON at all


def test_short_hmac_secrets_are_refused():
    with pytest.raises(ValueError, match=r"the secret has 31 bytes; HS256 needs at least 32 \(RFC 7518"):
        JWTAuth("x" * 31)
    with pytest.raises(ValueError, match="HS256/HS512 needs at least 64"):
        JWTAuth("x" * 63, algorithms=["HS256", "HS512"])
    assert JWTAuth("é" * 16).algorithms == ("HS256",)  # 32 bytes of UTF-8


def test_public_key_algorithms_check_their_key():
    with pytest.raises(ValueError, match="the key cannot be used with RS256"):
        JWTAuth(SECRET, algorithms=["RS256"])
    with pytest.raises(ValueError, match="the key cannot be used with ES256"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["ES256"])
    with pytest.raises(ValueError, match="the key cannot be used with ES256"):
        JWTAuth(pem(ec.generate_private_key(ec.SECP384R1())), algorithms=["ES256"])
    with pytest.raises(ValueError, match="the key cannot be used with ES256"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["RS256", "ES256"])
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="1024 bits long, which is below"):
        JWTAuth(pem(weak.public_key()), algorithms=["RS256"])
    with pytest.raises(ValueError, match="the certificate cannot be read"):
        JWTAuth(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", algorithms=["RS256"])


def test_signing_key_is_checked():
    with pytest.raises(ValueError, match="signing_key is for asymmetric algorithms"):
        JWTAuth(SECRET, signing_key=SECRET)
    with pytest.raises(ValueError, match="signing_key must be the private key of the verifying public key"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["RS256"], signing_key=OTHER_RSA)
    with pytest.raises(ValueError, match="signing_key must be the private key"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["RS256"], signing_key=RSA_PUBLIC_PEM)


def test_missing_pyjwt_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ImportError, match=r"JWTAuth needs PyJWT: pip install 'lanner\[jwt\]'"):
        JWTAuth(SECRET)


# --- A good token ---------------------------------------------------------------------------


def test_valid_token_gives_claims_and_sets_request_state():
    auth = JWTAuth(SECRET)
    token = auth.issue("ann", claims={"name": "Ann"})
    body = client_for(auth).get("/", headers=bearer(token)).json()
    assert body["claims"]["sub"] == "ann"
    assert body["claims"]["name"] == "Ann"
    assert body["user"] == "ann"
    assert body["state_claims"] == body["claims"]
    no_subject = auth.issue()
    assert client_for(auth).get("/", headers=bearer(no_subject)).json()["user"] is None


def test_missing_token_is_401_bearer_without_error():
    client = client_for(JWTAuth(SECRET))
    for headers in ({}, {"authorization": "Basic YTpi"}, {"authorization": "Bearer"}, {"authorization": ""}):
        response = client.get("/", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"] == "Not authenticated"


def test_auto_error_off_gives_none_for_no_token_but_still_refuses_a_bad_one():
    auth = JWTAuth(SECRET, auto_error=False)
    client = client_for(auth)
    assert client.get("/").json() == {"claims": None, "user": "unset", "state_claims": "unset"}
    assert_invalid(client.get("/", headers=bearer("nonsense")), "The token is malformed")
    assert client.get("/", headers=bearer(auth.issue("ann"))).json()["user"] == "ann"


# --- Hostile tokens: each a 401 with the invalid_token challenge -----------------------------


def test_alg_none_tokens_are_refused():
    client = client_for(JWTAuth(SECRET))
    for alg in ("none", "None", "NONE", "nOnE"):
        unsigned = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims())}."
        assert_invalid(client.get("/", headers=bearer(unsigned)), "The token's algorithm is not allowed")
    # With an HMAC signature attached, "none" still does not pass.
    signed = hs256({"alg": "none"}, claims(), SECRET.encode())
    assert_invalid(client.get("/", headers=bearer(signed)), "The token's algorithm is not allowed")
    no_alg = hs256({"typ": "JWT"}, claims(), SECRET.encode())
    assert_invalid(client.get("/", headers=bearer(no_alg)), "The token's algorithm is not allowed")


def test_key_confusion_hs256_signed_with_the_public_key_is_refused():
    auth = JWTAuth(RSA_PUBLIC_PEM, algorithms=["RS256"])
    client = client_for(auth)
    for key in (RSA_PUBLIC_PEM, RSA_PUBLIC_PEM.strip(), der(RSA_PUBLIC)):
        forged = hs256({"alg": "HS256", "typ": "JWT"}, claims(), key)
        assert_invalid(client.get("/", headers=bearer(forged)), "The token's algorithm is not allowed")
    # The constructor refuses the configuration that would have accepted it.
    with pytest.raises(ValueError, match="looks like a PEM public key"):
        JWTAuth(RSA_PUBLIC_PEM, algorithms=["HS256"])
    # A genuine RS256 token passes, so the refusals above are about the forgery.
    genuine = pyjwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert client.get("/", headers=bearer(genuine)).json()["user"] == "ann"


def test_other_algorithms_than_the_allowed_ones_are_refused():
    client = client_for(JWTAuth("k" * 64, ["HS512"]))
    token = pyjwt.encode(claims(), "k" * 64, algorithm="HS256")
    assert_invalid(client.get("/", headers=bearer(token)), "The token's algorithm is not allowed")


def test_expired_and_not_yet_valid_tokens_are_refused():
    auth = JWTAuth(SECRET)
    client = client_for(auth)
    assert_invalid(client.get("/", headers=bearer(auth.issue("ann", expires_in=-5))), "The token has expired")
    future = auth.issue("ann", not_before=timedelta(minutes=5))
    assert_invalid(client.get("/", headers=bearer(future)), "The token is not valid yet")
    issued_later = auth.issue("ann", claims={"iat": int(time.time()) + 300})
    assert_invalid(client.get("/", headers=bearer(issued_later)), "The token is not valid yet")


def test_leeway_allows_clock_skew():
    lenient = JWTAuth(SECRET, leeway=timedelta(seconds=60))
    assert lenient.leeway == 60.0
    client = client_for(lenient)
    assert client.get("/", headers=bearer(lenient.issue("ann", expires_in=-30))).status_code == 200
    assert client.get("/", headers=bearer(lenient.issue("ann", not_before=30))).status_code == 200
    assert_invalid(
        client.get("/", headers=bearer(lenient.issue("ann", expires_in=-90))), "The token has expired"
    )


def test_exp_is_required_by_default():
    auth = JWTAuth(SECRET)
    no_exp = pyjwt.encode({"sub": "ann"}, SECRET, algorithm="HS256")
    assert_invalid(client_for(auth).get("/", headers=bearer(no_exp)), "The token has no exp claim")
    optional = JWTAuth(SECRET, require=())
    assert client_for(optional).get("/", headers=bearer(no_exp)).json()["user"] == "ann"


@pytest.mark.parametrize(
    ("name", "value"), [("exp", "9999999999"), ("exp", True), ("nbf", "0"), ("iat", [1])]
)
def test_dates_must_be_numbers(name, value):
    token = pyjwt.encode(claims(**{name: value}), SECRET, algorithm="HS256")
    response = client_for(JWTAuth(SECRET)).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )


def test_string_dates_that_pyjwt_would_take_are_refused_by_name():
    token = pyjwt.encode(claims(exp="9999999999"), SECRET, algorithm="HS256")
    assert_invalid(
        client_for(JWTAuth(SECRET)).get("/", headers=bearer(token)), "The exp claim is not a number"
    )
    float_exp = pyjwt.encode(claims(exp=time.time() + 60.5), SECRET, algorithm="HS256")
    assert client_for(JWTAuth(SECRET)).get("/", headers=bearer(float_exp)).status_code == 200


def test_audience_is_checked():
    auth = JWTAuth(SECRET, audience="notes-api")
    client = client_for(auth)
    assert client.get("/", headers=bearer(auth.issue("ann"))).status_code == 200
    listed = pyjwt.encode(claims(aud=["other", "notes-api"]), SECRET, algorithm="HS256")
    assert client.get("/", headers=bearer(listed)).status_code == 200
    for aud in ("other-api", "notes-ap", "notes-api2", ["other"]):
        token = pyjwt.encode(claims(aud=aud), SECRET, algorithm="HS256")
        assert_invalid(client.get("/", headers=bearer(token)), "The token is meant for another audience")
    no_aud = pyjwt.encode(claims(), SECRET, algorithm="HS256")
    assert_invalid(client.get("/", headers=bearer(no_aud)), "The token has no aud claim")
    # A token for some audience is refused by an API that expects none.
    assert_invalid(
        client_for(JWTAuth(SECRET)).get("/", headers=bearer(listed)),
        "The token is meant for another audience",
    )
    several = JWTAuth(SECRET, audience=("a", "b"))
    assert several.audience == ["a", "b"]
    assert client_for(several).get("/", headers=bearer(several.issue("ann"))).status_code == 200


@pytest.mark.parametrize(
    "iss",
    [
        "https://issuer.example",  # a prefix (PyJWT 2.10.0 let substrings through)
        "issuer.example.com",  # a substring
        "https://issuer.example.com.evil",  # a superstring
        "https://ISSUER.example.com",
        "",
        ["https://issuer.example.com"],
        None,
        42,
    ],
)
def test_issuer_must_match_exactly(iss):
    auth = JWTAuth(SECRET, issuer=ISSUER)
    token = hs256({"alg": "HS256"}, claims(iss=iss), SECRET.encode())
    response = client_for(auth).get("/", headers=bearer(token))
    expected = "The token has no iss claim" if iss is None else "The token comes from another issuer"
    assert_invalid(response, expected)


def test_right_issuers_pass():
    auth = JWTAuth(SECRET, issuer=ISSUER)
    assert client_for(auth).get("/", headers=bearer(auth.issue("ann"))).status_code == 200
    several = JWTAuth(SECRET, issuer=["https://a.example", "https://b.example"])
    client = client_for(several)
    assert pyjwt.decode(several.issue("x"), options={"verify_signature": False})["iss"] == "https://a.example"
    for iss in ("https://a.example", "https://b.example"):
        token = pyjwt.encode(claims(iss=iss), SECRET, algorithm="HS256")
        assert client.get("/", headers=bearer(token)).status_code == 200
    for iss in ("https://a.exampl", "https://a.example https://b.example", "https://c.example"):
        token = pyjwt.encode(claims(iss=iss), SECRET, algorithm="HS256")
        assert_invalid(client.get("/", headers=bearer(token)), "The token comes from another issuer")


def test_tampered_tokens_are_refused():
    auth = JWTAuth(SECRET)
    client = client_for(auth)
    token = auth.issue("ann")
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert_invalid(
        client.get("/", headers=bearer(f"{header}.{payload}.{flipped}")), "The token's signature is invalid"
    )
    forged_payload = b64json({**pyjwt.decode(token, options={"verify_signature": False}), "sub": "admin"})
    assert_invalid(
        client.get("/", headers=bearer(f"{header}.{forged_payload}.{signature}")),
        "The token's signature is invalid",
    )
    other_secret = JWTAuth("y" * 40).issue("ann")
    assert_invalid(client.get("/", headers=bearer(other_secret)), "The token's signature is invalid")


@pytest.mark.parametrize(
    "garbage",
    [
        "abc",
        "a.b.c",
        "..",
        "a.b",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9..",
        f"{b64json([1, 2])}.{b64json({})}.sig",
        f"{b64json({'alg': 'HS256'})}.{b64(b'not json')}.sig",
        "%%%.%%%.%%%",
        "Zm9v.YmFy.YmF6",
    ],
)
def test_garbage_is_a_malformed_or_invalid_token(garbage):
    response = client_for(JWTAuth(SECRET)).get("/", headers=bearer(garbage))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )
    assert response.json()["detail"] in {"The token is malformed", "The token's signature is invalid"}


def test_payload_that_is_not_an_object_is_malformed():
    token = hs256({"alg": "HS256"}, [1, 2], SECRET.encode())  # type: ignore[arg-type]
    assert_invalid(client_for(JWTAuth(SECRET)).get("/", headers=bearer(token)), "The token is malformed")


def test_huge_tokens_are_refused_before_decoding():
    auth = JWTAuth(SECRET)
    padded = auth.issue("ann", claims={"pad": "x" * 9000})
    assert len(padded) > 8192
    assert_invalid(client_for(auth).get("/", headers=bearer(padded)), "The token is too long")
    roomy = JWTAuth(SECRET, max_token_length=20_000)
    assert client_for(roomy).get("/", headers=bearer(padded)).status_code == 200
    with pytest.raises(InvalidToken, match="too long"):
        auth.verify("a" * 8193)


def test_critical_header_extensions_are_refused():
    client = client_for(JWTAuth(SECRET))
    for header in (
        {"alg": "HS256", "crit": ["exp"], "exp": 1},
        {"alg": "HS256", "crit": ["b64"], "b64": True},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": "urn:x"},
    ):
        token = hs256(header, claims(), SECRET.encode())
        assert_invalid(
            client.get("/", headers=bearer(token)),
            "The token has critical header extensions this server does not support",
        )


def test_other_pyjwt_refusals_are_invalid_tokens():
    client = client_for(JWTAuth(SECRET))
    bad_sub = pyjwt.encode(claims(sub=123), SECRET, algorithm="HS256")
    assert_invalid(client.get("/", headers=bearer(bad_sub)), "The token is invalid")
    bad_kid = hs256({"alg": "HS256", "kid": 5}, claims(), SECRET.encode())
    assert_invalid(client.get("/", headers=bearer(bad_kid)), "The token is invalid")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b64(b) + "." + b64(b[::-1]) + "." + b64(b))
)
def test_any_string_is_refused_with_invalid_token(text):
    with pytest.raises(InvalidToken) as error:
        FUZZ_AUTH.verify(text)
    assert error.value.description.startswith("The ")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_one_byte_change_of_a_good_token_is_refused(position, value):
    token = FUZZ_TOKEN.encode()
    position %= len(token)
    mutated = token[:position] + bytes([value]) + token[position + 1 :]
    if mutated == token:
        return
    with pytest.raises(InvalidToken):
        FUZZ_AUTH.verify(mutated.decode("latin-1"))


FUZZ_AUTH = JWTAuth(SECRET)
FUZZ_TOKEN = FUZZ_AUTH.issue("ann", scopes=["a"])


# --- Scopes -----------------------------------------------------------------------------------


def test_scopes_are_checked_with_403_and_the_scope_challenge():
    auth = JWTAuth(SECRET)
    client = client_for(auth, scopes=["items:write", "items:read"])
    ok = client.get("/", headers=bearer(auth.issue("ann", scopes=["items:read", "items:write", "me"])))
    assert ok.status_code == 200
    partial = client.get("/", headers=bearer(auth.issue("ann", scopes=["items:read"])))
    assert partial.status_code == 403
    assert partial.json()["detail"] == "Not enough permissions"
    assert partial.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="The token lacks the scope items:write", '
        'scope="items:write items:read"'
    )
    none = client.get("/", headers=bearer(auth.issue("ann")))
    assert none.status_code == 403
    assert (
        'error_description="The token lacks the scopes items:write items:read"'
        in none.headers["www-authenticate"]
    )
    # The scope claim is split on whitespace: a scope is never matched as a substring.
    near = pyjwt.encode(claims(scope="items:writer items:read"), SECRET, algorithm="HS256")
    assert client.get("/", headers=bearer(near)).status_code == 403


def test_a_scopes_list_claim_counts_too():
    client = client_for(JWTAuth(SECRET), scopes=["a", "b"])
    listed = pyjwt.encode(claims(scopes=["a", "b"]), SECRET, algorithm="HS256")
    assert client.get("/", headers=bearer(listed)).status_code == 200
    both = pyjwt.encode(claims(scope="a", scopes=["b"]), SECRET, algorithm="HS256")
    assert client.get("/", headers=bearer(both)).status_code == 200


@pytest.mark.parametrize("bad", [{"scope": ["a"]}, {"scope": 1}, {"scopes": "a"}, {"scopes": ["a", 2]}])
def test_malformed_scope_claims_are_invalid_tokens(bad):
    token = pyjwt.encode(claims(**bad), SECRET, algorithm="HS256")
    response = client_for(JWTAuth(SECRET), scopes=["a"]).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    # Unscoped routes do not look at the scope claims.
    assert client_for(JWTAuth(SECRET)).get("/", headers=bearer(token)).status_code == 200


def test_scopes_collected_along_the_security_chain_reach_jwt_auth():
    auth = JWTAuth(SECRET, token_url="token", scopes={"read": "Read", "write": "Write", "admin": "Admin"})
    app = Lanner()
    seen: list[list[str]] = []

    def current_user(
        security_scopes: SecurityScopes, claims: Annotated[dict[str, Any], Security(auth, scopes=["read"])]
    ) -> str:
        seen.append(security_scopes.scopes)
        return claims["sub"]

    @app.get("/write")
    async def write(user: Annotated[str, Security(current_user, scopes=["write"])]) -> str:
        return user

    @app.get("/admin", dependencies=[Security(auth, scopes=["admin"])])
    async def admin() -> str:
        return "ok"

    client = TestClient(app)
    writer = auth.issue("ann", scopes=["read", "write"])
    assert client.get("/write", headers=bearer(writer)).json() == "ann"
    assert seen == [["write"]]
    reader = client.get("/write", headers=bearer(auth.issue("bob", scopes=["write"])))
    assert reader.status_code == 403
    assert reader.headers["www-authenticate"].endswith('scope="write read"')
    assert client.get("/admin", headers=bearer(writer)).status_code == 403
    assert client.get("/admin", headers=bearer(auth.issue("root", scopes=["admin"]))).json() == "ok"
    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/write"]["get"]["security"] == [{"JWTAuth": ["write", "read"]}]
    assert doc["paths"]["/admin"]["get"]["security"] == [{"JWTAuth": ["admin"]}]


def test_token_scopes():
    assert token_scopes({}) == set()
    assert token_scopes({"scope": " a  b\tc "}) == {"a", "b", "c"}
    assert token_scopes({"scopes": ["x"], "scope": "y"}) == {"x", "y"}
    with pytest.raises(InvalidToken, match="scope claim is not a string"):
        token_scopes({"scope": None} | {"scope": 3})


# --- OpenAPI ----------------------------------------------------------------------------------


def test_bearer_scheme_is_documented_as_jwt():
    auth = JWTAuth(SECRET, description="Tokens from /login")
    assert auth.security_scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Tokens from /login",
    }
    assert auth.security_scheme_name == "JWTAuth"
    app = Lanner()

    @app.get("/me")
    async def me(claims: Annotated[dict[str, Any], Security(auth, scopes=["me"])]) -> dict[str, Any]:
        return claims

    doc = app.openapi()
    validate(doc)
    assert doc["components"]["securitySchemes"] == {"JWTAuth": auth.security_scheme}
    # OpenAPI 3.1 lets non-OAuth2 schemes list required roles.
    assert doc["paths"]["/me"]["get"]["security"] == [{"JWTAuth": ["me"]}]


def test_token_url_documents_the_password_flow_with_scopes():
    auth = JWTAuth(SECRET, token_url="/token", scopes={"a": "Do A"}, scheme_name="Login")
    assert auth.security_scheme == {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/token", "scopes": {"a": "Do A"}}},
    }
    assert (auth.security_scheme_name, auth.token_url, auth.scopes) == ("Login", "/token", {"a": "Do A"})
    client = client_for(auth, scopes=["a"])
    assert client.get("/", headers=bearer(auth.issue("ann", scopes=["a"]))).status_code == 200
    assert client.get("/").headers["www-authenticate"] == "Bearer"
    doc = client.app.openapi()
    validate(doc)
    assert doc["paths"]["/"]["get"]["security"] == [{"Login": ["a"]}]


# --- Issuing and verifying without a request ---------------------------------------------------


def test_issue_writes_the_standard_claims():
    auth = JWTAuth(SECRET, issuer=ISSUER, audience="api")
    before = int(time.time())
    token = auth.issue("ann", scopes=["a", "b"], expires_in=timedelta(hours=1), headers={"kid": "k1"})
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    payload = auth.verify(token)
    assert payload["sub"] == "ann"
    assert payload["iss"] == ISSUER
    assert payload["aud"] == "api"
    assert payload["scope"] == "a b"
    assert before <= payload["iat"] <= before + 2
    assert payload["exp"] == payload["iat"] + 3600
    assert len(payload["jti"]) >= 20
    assert auth.verify(auth.issue("ann"))["jti"] != payload["jti"]
    assert auth.verify(auth.issue("ann"))["exp"] - before in range(899, 902)


def test_issue_lets_keywords_override_claims():
    auth = JWTAuth(SECRET, issuer=ISSUER)
    payload = auth.verify(auth.issue("kw", claims={"sub": "claims", "iss": ISSUER, "role": "x"}))
    assert (payload["sub"], payload["role"]) == ("kw", "x")
    own_exp = int(time.time()) + 42
    assert auth.verify(auth.issue(expires_in=None, claims={"exp": own_exp}))["exp"] == own_exp


def test_issue_refuses_what_verification_would_refuse():
    auth = JWTAuth(SECRET)
    with pytest.raises(ValueError, match="the token would lack exp"):
        auth.issue("ann", expires_in=None)
    for bad in (["a b"], [""], ["a\n"]):
        with pytest.raises(ValueError, match="non-empty and without spaces"):
            auth.issue("ann", scopes=bad)
    assert "exp" not in JWTAuth(SECRET, require=()).verify(
        JWTAuth(SECRET, require=()).issue("x", expires_in=None)
    )


def test_verify_raises_invalid_token_with_a_description():
    auth = JWTAuth(SECRET)
    with pytest.raises(InvalidToken) as error:
        auth.verify(auth.issue("ann", expires_in=-1))
    assert error.value.description == "The token has expired"
    assert str(error.value) == "The token has expired"


# --- Public-key algorithms ----------------------------------------------------------------------


def test_rs256_with_a_public_key_verifies_but_cannot_issue():
    auth = JWTAuth(RSA_PUBLIC_PEM.decode(), algorithms=["RS256", "PS256"])
    for algorithm in ("RS256", "PS256"):
        token = pyjwt.encode(claims(), RSA_KEY, algorithm=algorithm)
        assert auth.verify(token)["sub"] == "ann"
    with pytest.raises(RuntimeError, match="needs a private key to sign RS256 tokens"):
        auth.issue("ann")


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (RSA_KEY, "RS256"),
        (pem(RSA_KEY), "PS384"),
        (EC_KEY, "ES256"),
        (pem(EC_KEY).decode(), "ES256"),
        (ED_KEY, "EdDSA"),
    ],
)
def test_a_private_key_verifies_with_its_public_half_and_issues(key, algorithm):
    auth = JWTAuth(key, algorithms=[algorithm])
    token = auth.issue("ann", scopes=["x"])
    assert pyjwt.get_unverified_header(token)["alg"] == algorithm
    assert client_for(auth, scopes=["x"]).get("/", headers=bearer(token)).json()["user"] == "ann"
    # A token from another key of the same kind is refused.
    stranger = {"RS256": OTHER_RSA, "PS384": OTHER_RSA, "ES256": OTHER_EC, "EdDSA": OTHER_ED}[algorithm]
    with pytest.raises(InvalidToken, match="signature is invalid"):
        auth.verify(pyjwt.encode(claims(), stranger, algorithm=algorithm))


def test_signing_key_and_certificates():
    cert_pem = certificate(RSA_KEY).public_bytes(serialization.Encoding.PEM)
    auth = JWTAuth(cert_pem, algorithms=["RS256"], signing_key=pem(RSA_KEY))
    assert auth.verify(auth.issue("ann"))["sub"] == "ann"
    verifier = JWTAuth(RSA_PUBLIC, algorithms=["RS256"])
    assert verifier.verify(auth.issue("bob"))["sub"] == "bob"
    stranger = JWTAuth(OTHER_RSA, algorithms=["RS256"])
    with pytest.raises(InvalidToken, match="signature is invalid"):
        verifier.verify(stranger.issue("mallory"))


# --- Hooks and representation ---------------------------------------------------------------------


def test_error_hooks_can_be_overridden():
    class Custom(JWTAuth):
        def make_invalid_token_error(self, description: str):
            from lanner import HTTPException

            return HTTPException(498, f"custom: {description}")

        def make_insufficient_scope_error(self, security_scopes, missing):
            from lanner import HTTPException

            return HTTPException(404, f"hidden {missing}")

    auth = Custom(SECRET)
    client = client_for(auth, scopes=["a"])
    assert client.get("/", headers=bearer("x")).json()["detail"] == "custom: The token is malformed"
    hidden = client.get("/", headers=bearer(auth.issue("ann")))
    assert (hidden.status_code, hidden.json()["detail"]) == (404, "hidden ['a']")


def test_challenge_parameters_are_quoted_safely():
    auth = JWTAuth(SECRET)
    error = auth.make_insufficient_scope_error(SecurityScopes(['we"ird\\', "new\r\nline"]), ["x"])
    assert error.headers == {
        "WWW-Authenticate": 'Bearer error="insufficient_scope", '
        'error_description="The token lacks the scope x", scope="we\\"ird\\\\ newline"'
    }


def test_repr_shows_no_secret():
    auth = JWTAuth(SECRET * 2, algorithms=["HS256", "HS384"], scheme_name="Api")
    assert repr(auth) == "JWTAuth(algorithms=['HS256', 'HS384'], scheme_name='Api')"
    assert SECRET not in repr(auth)
