"""Comparing secrets (API keys, passwords, tokens) without leaking how much of them matched."""

from __future__ import annotations

import hmac


def compare_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Whether `given` equals `expected`, in time that does not depend on where they differ.

    Use it wherever a secret sent by a client is checked against a stored one (an API key, the
    password of HTTP Basic credentials, a static bearer token): ``==`` stops at the first
    differing character, so its timing tells an attacker how much of a guess was right.

    Strings are compared as their UTF-8 bytes, so non-ASCII secrets work (``hmac.compare_digest``
    alone refuses non-ASCII ``str``), and a ``str`` equals the ``bytes`` of its UTF-8 encoding.
    Secrets of different lengths are simply unequal; the time taken may reveal the expected
    secret's length, never its content.

    Args:
        given: what the client sent.
        expected: the secret it must equal.

    Returns:
        True when both are the same bytes.

    Raises:
        TypeError: either argument is neither ``str`` nor ``bytes``.
    """
    return hmac.compare_digest(_as_bytes(given, "given"), _as_bytes(expected, "expected"))


def _as_bytes(value: str | bytes, name: str) -> bytes:
    if isinstance(value, str):
        # surrogatepass: a lone surrogate (e.g. from a decoded header) must not raise mid-check.
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"compare_secret: {name} must be str or bytes, not {type(value).__name__}")
