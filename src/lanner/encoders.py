"""`jsonable_encoder`: turn any Python value into one made of JSON types, as FastAPI's does.

The result holds only ``dict`` (with ``str``, ``int``, ``float``, ``bool`` or ``None`` keys),
``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``: ready for `json.dumps`, a JSON column
or a document database. Code written for ``fastapi.encoders.jsonable_encoder`` gets the same
results: pydantic models through ``model_dump(mode="json")``, ISO 8601 dates and times, a
``timedelta`` as its seconds, a ``Decimal`` as an ``int`` when it has no fractional digits (else a
``float``), sets, tuples and generators as lists.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import PurePath
from re import Pattern
from types import GeneratorType
from typing import Any, cast
from uuid import UUID

import pydantic_core
from pydantic import BaseModel, NameEmail, SecretBytes, SecretStr

__all__ = ["ENCODERS_BY_TYPE", "IncEx", "decimal_encoder", "jsonable_encoder"]

#: What `include` and `exclude` accept: field names, or pydantic's nested ``{name: ...}`` form.
IncEx = set[int] | set[str] | Mapping[int, Any] | Mapping[str, Any]


def decimal_encoder(value: Decimal) -> int | float:
    """A `Decimal` as an ``int`` when it has no fractional digits, else as a ``float``.

    ``Decimal("3")`` becomes ``3`` and ``Decimal("3.0")`` becomes ``3.0``, so an integral column
    (``Numeric(10, 0)``) round-trips as an integer. NaN and infinities become floats.
    """
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def _isoformat(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


#: Encoders for values that are not JSON types, by class; subclasses match too. A class not here
#: that pydantic-core knows how to serialise (its URL types, ``bytearray``...) is serialised by it.
ENCODERS_BY_TYPE: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda value: value.decode(),
    datetime.date: _isoformat,
    datetime.datetime: _isoformat,
    datetime.time: _isoformat,
    datetime.timedelta: lambda value: value.total_seconds(),
    Decimal: decimal_encoder,
    frozenset: list,
    deque: list,
    GeneratorType: list,
    IPv4Address: str,
    IPv4Interface: str,
    IPv4Network: str,
    IPv6Address: str,
    IPv6Interface: str,
    IPv6Network: str,
    NameEmail: str,
    PurePath: str,
    Pattern: lambda value: value.pattern,
    SecretBytes: str,
    SecretStr: str,
    set: list,
    UUID: str,
}

# pydantic's deprecated ``pydantic.color.Color`` and ``pydantic_extra_types.color.Color`` become
# their names or hex codes (``str``), as in FastAPI; they are recognised by name, because
# importing the first one warns and the second is an optional package.
_STR_BY_NAME = frozenset(("pydantic.color.Color", "pydantic_extra_types.color.Color"))
_PLAIN = (str, int, float, type(None))
_SEQUENCES = (list, set, frozenset, GeneratorType, tuple, deque)


def jsonable_encoder(
    obj: Any,
    include: IncEx | None = None,
    exclude: IncEx | None = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: Mapping[Any, Callable[[Any], Any]] | None = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    """Convert `obj` into a value made only of JSON types (dicts, lists, strings, numbers...).

    Pydantic models are dumped with ``model_dump(mode="json")``, dataclasses with
    `dataclasses.asdict`, enums become their values, dates and times ISO 8601 strings, a
    ``timedelta`` its total seconds (a float), UUIDs, paths and IP addresses strings, a ``Decimal``
    an ``int`` or ``float`` (`decimal_encoder`), ``bytes`` a UTF-8 string; lists, tuples, sets,
    generators and other iterators become lists and dict keys are encoded too. Other values are
    tried with pydantic-core's ``to_jsonable_python``, then as ``dict(obj)``, then as
    ``vars(obj)`` (an ORM object's attributes).

    Args:
        obj: the value to convert.
        include: the fields (model) or keys (dict) to keep; for a list, applied to each item.
        exclude: the fields (model) or keys (dict) to leave out; for a list, applied to each item.
        by_alias: use field aliases as keys for pydantic models.
        exclude_unset: leave out model fields that were never set.
        exclude_defaults: leave out model fields equal to their default.
        exclude_none: leave out model fields and dict entries whose value is ``None``.
        custom_encoder: ``{class: function}`` to encode values of a class (or a subclass) your own
            way; checked before everything else.
        sqlalchemy_safe: leave out dict keys (and object attributes) starting with ``_sa``,
            where SQLAlchemy keeps its internal state.

    Raises:
        ValueError: `obj` (or a value inside it) cannot be converted; the error lists why
            ``dict(obj)`` and ``vars(obj)`` failed.
        pydantic_core.PydanticSerializationError: a pydantic model holds a value pydantic cannot
            serialise.
    """
    if custom_encoder:
        encoder = custom_encoder.get(type(obj))
        if encoder is not None:
            return encoder(obj)
        for cls, encoder in custom_encoder.items():
            if isinstance(obj, cls):
                return encoder(obj)
    # A list or tuple of names is accepted too, as by FastAPI.
    if include is not None and not isinstance(include, set | dict):
        include = cast(IncEx, set(include))
    if exclude is not None and not isinstance(exclude, set | dict):
        exclude = cast(IncEx, set(exclude))

    def encode(value: Any, include: IncEx | None = None, exclude: IncEx | None = None) -> Any:
        return jsonable_encoder(
            value,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
            custom_encoder=custom_encoder,
            sqlalchemy_safe=sqlalchemy_safe,
        )

    if isinstance(obj, BaseModel):
        dumped = obj.model_dump(
            mode="json",
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
        )
        # The dump is JSON already; this pass only drops `_sa` keys, as FastAPI's does.
        return jsonable_encoder(
            dumped,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
            sqlalchemy_safe=sqlalchemy_safe,
        )
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return encode(dataclasses.asdict(obj), include, exclude)
    if isinstance(obj, Enum):
        return encode(obj.value)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, pydantic_core.PydanticUndefinedType):
        return None
    if isinstance(obj, dict):
        return _encode_dict(obj, include, exclude, exclude_none, sqlalchemy_safe, encode)
    if isinstance(obj, _SEQUENCES):
        return [encode(item, include, exclude) for item in obj]
    encoded = _encode_known(obj)
    if encoded is not _UNKNOWN:
        return encoded
    if isinstance(obj, Iterator):
        return [encode(item, include, exclude) for item in obj]
    return encode(_as_dict(obj), include, exclude)


def _encode_dict(
    obj: dict[Any, Any],
    include: IncEx | None,
    exclude: IncEx | None,
    exclude_none: bool,
    sqlalchemy_safe: bool,
    encode: Callable[..., Any],
) -> dict[Any, Any]:
    allowed = None if include is None else set(include)
    excluded = set() if exclude is None else set(exclude)
    encoded: dict[Any, Any] = {}
    for key, value in obj.items():
        if sqlalchemy_safe and isinstance(key, str) and key.startswith("_sa"):
            continue
        if (value is None and exclude_none) or key in excluded:
            continue
        if allowed is not None and key not in allowed:
            continue
        encoded[encode(key)] = encode(value)
    return encoded


_UNKNOWN = object()


def _encode_known(obj: Any) -> Any:
    """`obj` through the first encoder for its class, or pydantic-core's; `_UNKNOWN` if none."""
    encoder = ENCODERS_BY_TYPE.get(type(obj))
    if encoder is not None:
        return encoder(obj)
    for cls, encoder in ENCODERS_BY_TYPE.items():
        if isinstance(obj, cls):
            return encoder(obj)
    cls = type(obj)
    if f"{cls.__module__}.{cls.__qualname__}" in _STR_BY_NAME:
        return str(obj)
    if isinstance(obj, Iterator):
        return _UNKNOWN  # pydantic-core would iterate it, encoding the items its own way
    try:
        return pydantic_core.to_jsonable_python(obj)
    except pydantic_core.PydanticSerializationError:
        return _UNKNOWN


def _as_dict(obj: Any) -> dict[Any, Any]:
    """``dict(obj)``, else ``vars(obj)``.

    Raises:
        ValueError: neither works; it holds both errors.
    """
    try:
        return dict(obj)
    except Exception as dict_error:
        try:
            return dict(vars(obj))
        except Exception as vars_error:
            raise ValueError([dict_error, vars_error]) from vars_error
