r"""The wire format of a channel message: one tag byte saying the type, then the payload.

``\x00`` text (UTF-8), ``\x01`` bytes, ``\x02`` JSON. Tags below the printable range keep a
message published by a foreign Redis client (``redis-cli PUBLISH room:1 hello``) from being
mistaken for one of ours; such a message, or a tagged one that does not decode, is delivered as
the raw bytes it arrived as.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

__all__ = ["decode_message", "encode_message"]

_TEXT = 0
_BYTES = 1
_JSON = 2


def encode_message(message: Any) -> bytes:
    """Encode `message` for publishing: str and bytes as they are, anything else as JSON.

    Raises:
        UnicodeEncodeError: a str holds lone surrogates, which UTF-8 cannot encode.
        pydantic_core.PydanticSerializationError: a value cannot be serialised to JSON.
    """
    if isinstance(message, str):
        return b"\x00" + message.encode("utf-8")
    if isinstance(message, bytes | bytearray | memoryview):
        return b"\x01" + bytes(message)
    return b"\x02" + pydantic_core.to_json(message)


def decode_message(payload: bytes) -> Any:
    """Return the value `encode_message` encoded: a str, bytes, or parsed JSON (a new copy each call).

    A payload that is not in this format is returned unchanged, as bytes.
    """
    tag = payload[0] if payload else None
    try:
        if tag == _TEXT:
            return payload[1:].decode("utf-8")
        if tag == _JSON:
            return pydantic_core.from_json(payload[1:])
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return payload
    if tag == _BYTES:
        return payload[1:]
    return payload
