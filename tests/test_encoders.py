"""jsonable_encoder (lanner.encoders): FastAPI's results, value by value."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from decimal import Decimal
from enum import Enum, IntEnum
from ipaddress import IPv4Address, IPv6Network
from pathlib import Path, PurePosixPath
from typing import Any
from uuid import UUID

import pydantic_core
import pytest
from fastapi.encoders import jsonable_encoder as fastapi_encoder
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, NameEmail, SecretStr

from lanner import Lanner
from lanner.encoders import decimal_encoder, jsonable_encoder
from lanner.testing import TestClient


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Level(IntEnum):
    LOW = 1


class Item(BaseModel):
    title: str
    timestamp: datetime.datetime
    description: str | None = None


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    item_id: int = Field(alias="itemId")
    note: str | None = None
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int
    label: str | None = None
    when: datetime.date = datetime.date(2024, 1, 2)


class Record:
    """An ORM-like object: plain attributes plus SQLAlchemy's internal state."""

    def __init__(self) -> None:
        self.id = 7
        self.name = "seven"
        self._sa_instance_state = object()


class Pairs:
    """Iterable of (key, value) pairs: dict(obj) works."""

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter([("a", 1), ("b", 2)])


class Opaque:
    __slots__ = ()


MOMENT = datetime.datetime(2023, 1, 1, 12, 0, 0)
AWARE = datetime.datetime(2023, 1, 1, 12, 0, 0, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))

# Values for which lanner's result must equal FastAPI's.
SAME_AS_FASTAPI: list[Any] = [
    None,
    True,
    3,
    2.5,
    "text",
    MOMENT,
    AWARE,
    datetime.date(2024, 2, 29),
    datetime.time(8, 30, 15, 250),
    datetime.timedelta(days=1, seconds=3, microseconds=500),
    datetime.timedelta(0),
    Decimal("3"),
    Decimal("3.10"),
    Decimal("1E+2"),
    UUID("12345678-1234-5678-1234-567812345678"),
    Color.RED,
    Level.LOW,
    b"bytes",
    Path("/tmp/x.txt"),
    PurePosixPath("a/b"),
    IPv4Address("10.0.0.1"),
    IPv6Network("2001:db8::/32"),
    {1, 2, 3},
    frozenset({"a"}),
    (1, "two", None),
    deque([1, 2]),
    [MOMENT, [Color.BLUE, {"k": Decimal("1.5")}]],
    {"when": MOMENT, "id": UUID(int=1), "nested": {"set": {5}}},
    {1: "int key", Color.RED: "enum key", MOMENT: "datetime key"},
    OrderedDict(b=1, a=2),
    Item(title="Foo", timestamp=MOMENT),
    Item(title="Foo", timestamp=MOMENT, description="An optional description"),
    Aliased(itemId=1, note=None),
    [Aliased(itemId=1), Aliased(itemId=2, tags=["x"])],
    {"items": [Item(title="a", timestamp=MOMENT)]},
    Point(1, 2),
    Record(),
    Pairs(),
    NameEmail("Ann", "ann@example.com"),
    SecretStr("hunter2"),
    AnyUrl("https://example.com/a?b=1"),
    re.compile(r"^\d+$"),
]


@pytest.mark.parametrize("value", SAME_AS_FASTAPI, ids=lambda v: type(v).__name__)
def test_same_result_as_fastapi(value: Any) -> None:
    assert jsonable_encoder(value) == fastapi_encoder(value)


@pytest.mark.parametrize("value", SAME_AS_FASTAPI, ids=lambda v: type(v).__name__)
def test_result_is_json(value: Any) -> None:
    encoded = jsonable_encoder(value)
    # Only JSON types: the standard library's strict encoder takes it as is.
    text = json.dumps(encoded, allow_nan=False)
    assert text == json.dumps(fastapi_encoder(value), allow_nan=False)


def test_generators_become_lists() -> None:
    assert jsonable_encoder(x * 2 for x in range(3)) == [0, 2, 4]
    assert jsonable_encoder(map(str, [1, 2])) == ["1", "2"]
    assert jsonable_encoder(iter([MOMENT])) == ["2023-01-01T12:00:00"]


def test_the_fastapi_encoder_tutorial() -> None:
    """docs_src/encoder/tutorial001 with lanner: the stored item is JSON-compatible."""
    fake_db: dict[str, Any] = {}
    app = Lanner(freeze_gc=False)

    @app.put("/items/{id}")
    def update_item(id: str, item: Item) -> None:
        fake_db[id] = jsonable_encoder(item)

    client = TestClient(app)
    item = {"title": "Foo", "timestamp": "2023-01-01T12:00:00", "description": "An optional description"}
    assert client.put("/items/123", json=item).status_code == 200
    assert fake_db["123"] == item
    assert client.put("/items/345", json={"title": "Foo", "timestamp": "not a date"}).status_code == 422
    assert "345" not in fake_db


def test_datetimes_and_durations() -> None:
    assert jsonable_encoder(AWARE) == "2023-01-01T12:00:00.123456+02:00"
    assert jsonable_encoder(datetime.time(8, 30)) == "08:30:00"
    assert jsonable_encoder(datetime.timedelta(minutes=1, milliseconds=500)) == 60.5


def test_decimal_encoder() -> None:
    assert decimal_encoder(Decimal("3")) == 3
    assert isinstance(decimal_encoder(Decimal("3")), int)
    assert decimal_encoder(Decimal("3.0")) == 3.0
    assert isinstance(decimal_encoder(Decimal("3.0")), float)
    nan = decimal_encoder(Decimal("NaN"))
    assert nan != nan


def test_model_options() -> None:
    model = Aliased(itemId=1)
    assert jsonable_encoder(model) == {"itemId": 1, "note": None, "tags": []}
    assert jsonable_encoder(model, by_alias=False) == {"item_id": 1, "note": None, "tags": []}
    assert jsonable_encoder(model, exclude_unset=True) == {"itemId": 1}
    assert jsonable_encoder(model, exclude_none=True) == {"itemId": 1, "tags": []}
    assert jsonable_encoder(Aliased(itemId=1, tags=[]), exclude_defaults=True) == {"itemId": 1}
    assert jsonable_encoder(model, include={"item_id"}) == {"itemId": 1}
    assert jsonable_encoder(model, exclude={"note", "tags"}) == {"itemId": 1}
    # A list of names works like a set, as in FastAPI.
    assert jsonable_encoder(model, include=["note"]) == {"note": None}  # type: ignore[arg-type]


def test_include_and_exclude_on_dicts_and_lists() -> None:
    data = {"a": 1, "b": 2, "c": None}
    assert jsonable_encoder(data, include={"a", "c"}) == {"a": 1, "c": None}
    assert jsonable_encoder(data, exclude={"a"}) == {"b": 2, "c": None}
    assert jsonable_encoder(data, exclude_none=True) == {"a": 1, "b": 2}
    assert jsonable_encoder([data, data], include={"b"}) == [{"b": 2}, {"b": 2}]
    assert jsonable_encoder(Point(1, 2), exclude={"label", "when"}) == {"x": 1, "y": 2}


def test_sqlalchemy_safe() -> None:
    assert jsonable_encoder(Record()) == {"id": 7, "name": "seven"}
    assert jsonable_encoder({"_sa_x": 1, "_sb": 2}) == {"_sb": 2}
    unsafe = jsonable_encoder({"_sa_x": 1}, sqlalchemy_safe=False)
    assert unsafe == {"_sa_x": 1}


def test_custom_encoder() -> None:
    encoders = {datetime.datetime: lambda d: d.strftime("%d/%m/%Y"), Decimal: str}
    assert jsonable_encoder({"when": MOMENT, "price": Decimal("1.50")}, custom_encoder=encoders) == {
        "when": "01/01/2023",
        "price": "1.50",
    }
    # Subclasses match too (a bool is an int).
    assert jsonable_encoder([True, 2], custom_encoder={int: lambda n: n * 10}) == [10, 20]


def test_enum_values_are_encoded_too() -> None:
    class When(Enum):
        EPOCH = datetime.date(1970, 1, 1)

    assert jsonable_encoder(When.EPOCH) == "1970-01-01"


def test_pydantic_core_fallback() -> None:
    """Values FastAPI has no encoder for, but pydantic-core can serialise."""
    assert jsonable_encoder(bytearray(b"ab")) == "ab"
    assert jsonable_encoder(pydantic_core.Url("https://example.com")) == "https://example.com/"
    assert jsonable_encoder(pydantic_core.PydanticUndefined) is None


def test_mappings_and_objects() -> None:
    class Frozen(Mapping[str, int]):
        def __getitem__(self, key: str) -> int:
            return {"a": 1}[key]

        def __iter__(self) -> Iterator[str]:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    assert jsonable_encoder(Frozen()) == {"a": 1}
    assert jsonable_encoder(Pairs()) == {"a": 1, "b": 2}


def test_unencodable_value() -> None:
    with pytest.raises(ValueError) as caught:
        jsonable_encoder(Opaque())
    errors = caught.value.args[0]
    assert [type(error) for error in errors] == [TypeError, TypeError]


def test_models_with_arbitrary_types_fail_like_fastapi() -> None:
    class Holder(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        thing: Opaque

    with pytest.raises(pydantic_core.PydanticSerializationError):
        jsonable_encoder(Holder(thing=Opaque()))
