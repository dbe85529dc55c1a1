from dataclasses import dataclass
from datetime import date

from lanner import jsonable_encoder


@dataclass
class Loan:
    title: str
    due: date


def test_jsonable_encoder() -> None:
    assert jsonable_encoder(Loan("Dune", date(2030, 1, 31))) == {
        "title": "Dune",
        "due": "2030-01-31",
    }
