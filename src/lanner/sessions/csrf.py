"""CSRF tokens bound to the session: a secret kept in the session, handed out masked.

Each call to `csrf_token` returns a different string (the secret XOR a fresh random mask, with
the mask in front, as Django does), so a page compressed over TLS does not repeat the same secret
bytes for a BREACH attack to guess; every string it ever returned for a session verifies until
the session is cleared.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

from lanner.sessions.mapping import Session

__all__ = ["csrf_token", "verify_csrf_token"]

_KEY = "_csrf_token"
_SIZE = 32
# A masked token is 64 bytes: 86 base64url characters without padding.
_TOKEN_LENGTH = 86


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str, size: int) -> bytes | None:
    """Decode base64url `text` (no padding) holding exactly `size` bytes, else None."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left) ^ int.from_bytes(right)).to_bytes(len(left))


def _secret(session: Session) -> bytes | None:
    stored = session.get(_KEY)
    return _decode(stored, _SIZE) if isinstance(stored, str) else None


def csrf_token(session: Session) -> str:
    """Return a CSRF token for this session's forms and ``X-CSRF-Token`` headers.

    The first call stores a random 32-byte secret in the session (which then sets its cookie).
    Each call returns that secret masked anew: an 86-character URL-safe string.
    """
    secret = _secret(session)
    if secret is None:
        secret = secrets.token_bytes(_SIZE)
        session[_KEY] = _encode(secret)
    mask = secrets.token_bytes(_SIZE)
    return _encode(mask + _xor(mask, secret))


def verify_csrf_token(session: Session, token: str | None) -> bool:
    """Whether `token` is one `csrf_token` returned for this session.

    The comparison takes the same time wherever the token differs (``hmac.compare_digest``).
    False for a missing or malformed token, and for a session that never issued one; the
    session is never changed.
    """
    if not isinstance(token, str) or len(token) != _TOKEN_LENGTH:
        return False
    secret = _secret(session)
    raw = _decode(token, 2 * _SIZE)
    if secret is None or raw is None:
        return False
    return hmac.compare_digest(_xor(raw[:_SIZE], raw[_SIZE:]), secret)
