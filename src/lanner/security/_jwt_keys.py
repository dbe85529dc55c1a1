"""Which algorithms and keys `JWTAuth` accepts, checked once when it is made.

The allow-list: not empty, never ``none``, only known algorithms, and HMAC never mixed with
public-key algorithms. The keys, against key confusion: an HMAC secret must not look like a public
key, private key, certificate or JWK (PEM, SSH, JSON or DER), and must be at least as long as the
hash; an asymmetric key must suit every allowed algorithm and be large enough, and a signing key
must be the private half of the verifying key. PyJWT and ``cryptography`` come with the ``jwt``
extra, so they are imported inside the functions that use them (`JWTAuth` reports a missing PyJWT
before calling them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["check_algorithms", "prepare_keys"]

#: The shortest secret each HMAC algorithm accepts: its hash's size (RFC 7518 section 3.2).
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_SSH_PREFIXES = (
    b"ssh-rsa ",
    b"ssh-dss ",
    b"ssh-ed25519 ",
    b"ssh-ed448 ",
    b"ecdsa-sha2-",
    b"sk-ssh-",
    b"sk-ecdsa-",
)


def check_algorithms(owner: str, algorithms: Sequence[str], jwt: Any) -> tuple[str, ...]:
    """Check the allow-list: not empty, no ``none``, all known, HMAC and asymmetric not mixed.

    Args:
        owner: the class name that starts every error message.
        algorithms: the allow-list as given.
        jwt: the PyJWT module.

    Returns:
        The algorithm names, duplicates dropped, in their order.

    Raises:
        TypeError: `algorithms` is a single string instead of a list.
        ValueError: an empty list, ``none``, an unknown algorithm, or HMAC mixed with others.
    """
    if isinstance(algorithms, (str, bytes)):
        raise TypeError(f"{owner}: algorithms must be a list, e.g. [{algorithms!r}]")
    names = tuple(dict.fromkeys(algorithms))
    if not names:
        raise ValueError(f"{owner}: the algorithm allow-list is empty; name the algorithm, e.g. ['HS256']")
    known = jwt.algorithms.get_default_algorithms()
    for name in names:
        if not isinstance(name, str) or name.lower() == "none":
            raise ValueError(f"{owner}: {name!r} is never allowed: it accepts unsigned tokens")
        if name not in known:
            raise ValueError(
                f"{owner}: unknown algorithm {name!r} (public-key algorithms need the cryptography "
                "package: pip install 'lanner[jwt]')"
            )
    hmac = [name for name in names if name in _HMAC_MIN_BYTES]
    if hmac and len(hmac) != len(names):
        raise ValueError(
            f"{owner}: {hmac} (HMAC, a shared secret) and {[n for n in names if n not in hmac]} "
            "(public keys) cannot share one allow-list: a public key would then verify as an HMAC secret"
        )
    return names


def prepare_keys(owner: str, algorithms: tuple[str, ...], key: Any, signing_key: Any) -> tuple[Any, Any]:
    """The key that verifies and the key that signs (None when there is no private key).

    Args:
        owner: the class name that starts every error message.
        algorithms: the allow-list, checked by `check_algorithms`; the first one signs.
        key: the HMAC secret, or the public key (a private key gives its public half).
        signing_key: the private key for asymmetric algorithms, or None.

    Raises:
        ValueError: the key does not suit the algorithms (an HMAC secret that looks like a
            public key or is too short; a key of another type or too small; a signing key that
            is not the private half of the verifying key).
    """
    import jwt

    objects = jwt.algorithms.get_default_algorithms()
    if algorithms[0] in _HMAC_MIN_BYTES:
        if signing_key is not None:
            raise ValueError(f"{owner}: signing_key is for asymmetric algorithms; HMAC signs with the secret")
        secret = _hmac_secret(owner, algorithms, key)
        for name in algorithms:
            _prepare(owner, objects[name], name, secret)
        return secret, secret
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    private_types = (
        rsa.RSAPrivateKey,
        ec.EllipticCurvePrivateKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PrivateKey,
    )
    if isinstance(key, (str, bytes)) and b"-----BEGIN CERTIFICATE-----" in _as_bytes(key):
        try:
            key = x509.load_pem_x509_certificate(_as_bytes(key).strip()).public_key()
        except ValueError as exc:
            raise ValueError(f"{owner}: the certificate cannot be read: {exc}") from exc
    prepared = _prepare(owner, objects[algorithms[0]], algorithms[0], key)
    if isinstance(prepared, private_types):
        signing_key = signing_key if signing_key is not None else prepared
        prepared = prepared.public_key()
    for name in algorithms:
        _prepare(owner, objects[name], name, prepared)
    if signing_key is None:
        return prepared, None
    signing = _prepare(owner, objects[algorithms[0]], algorithms[0], signing_key)
    if not isinstance(signing, private_types) or signing.public_key() != prepared:
        raise ValueError(f"{owner}: signing_key must be the private key of the verifying public key")
    return prepared, signing


def _hmac_secret(owner: str, algorithms: tuple[str, ...], key: Any) -> bytes:
    """The HMAC secret as bytes, refused when it looks like a public key or is too short."""
    if not isinstance(key, (str, bytes)):
        raise ValueError(
            f"{owner}: {algorithms[0]} needs a shared secret (str or bytes), not a {type(key).__name__}; "
            "to verify with a public key, allow its algorithm (e.g. algorithms=['RS256'])"
        )
    secret = _as_bytes(key)
    looks_like = _asymmetric_look(secret)
    if looks_like:
        raise ValueError(
            f"{owner}: the key looks like {looks_like}, but {list(algorithms)} use a shared secret: anyone "
            "holding a public key could then forge tokens. Allow the key's own algorithm instead "
            "(e.g. algorithms=['RS256'])"
        )
    shortest = max(_HMAC_MIN_BYTES[name] for name in algorithms)
    if len(secret) < shortest:
        raise ValueError(
            f"{owner}: the secret has {len(secret)} bytes; {'/'.join(algorithms)} needs at least {shortest} "
            f"(RFC 7518 section 3.2); make one with secrets.token_urlsafe({shortest})"
        )
    return secret


def _prepare(owner: str, algorithm: Any, name: str, key: Any) -> Any:
    """`key` as PyJWT's `algorithm` uses it; ValueError when it does not suit or is too weak."""
    try:
        prepared = algorithm.prepare_key(key)
    except Exception as exc:  # PyJWT's InvalidKeyError, TypeError, cryptography's errors...
        raise ValueError(f"{owner}: the key cannot be used with {name}: {exc}") from exc
    weakness = algorithm.check_key_length(prepared)
    if weakness:
        raise ValueError(f"{owner}: {weakness}")
    return prepared


def _asymmetric_look(key: bytes) -> str | None:
    """What `key` looks like when it is not a shared secret, or None."""
    text = key.strip()
    if b"-----BEGIN " in text:
        return "a PEM public key, private key or certificate"
    if text.startswith(_SSH_PREFIXES):
        return "an SSH public key"
    if text.startswith(b"{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict) and ("kty" in document or "keys" in document):
            return "a JWK (give the raw secret, not its JSON)"
    if _looks_der(key):
        return "a DER-encoded key or certificate"
    return None


def _looks_der(key: bytes) -> bool:
    """Whether `key` is an ASN.1 SEQUENCE spanning all of it that cryptography reads as a key."""
    if len(key) < 2 or key[0] != 0x30:
        return False
    header, length = 2, key[1]
    if length & 0x80:
        count = length & 0x7F
        header, length = 2 + count, int.from_bytes(key[2 : 2 + count], "big")
    if header + length != len(key):
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    loaders = (
        serialization.load_der_public_key,
        lambda data: serialization.load_der_private_key(data, None),
        x509.load_der_x509_certificate,
    )
    for load in loaders:
        try:
            load(key)
        except Exception:  # ValueError, UnsupportedAlgorithm...: not this kind of DER
            continue
        return True
    return False


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
