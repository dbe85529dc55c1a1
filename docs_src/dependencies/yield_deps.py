from collections.abc import Iterator
from typing import Annotated

from lanner import Depends, HTTPException, Lanner

app = Lanner()
EVENTS: list[str] = []


class Transaction:
    def __init__(self) -> None:
        self.rows: list[str] = []


def transaction() -> Iterator[Transaction]:
    tx = Transaction()
    EVENTS.append("begin")
    try:
        yield tx  # the handler runs here
    except ValueError as exc:
        EVENTS.append("rollback")
        raise HTTPException(409, str(exc)) from exc  # what the client gets
    else:
        EVENTS.append("commit")  # after the response was sent


@app.post("/rows/{value}")
async def add_row(value: str, tx: Annotated[Transaction, Depends(transaction)]) -> list[str]:
    if value == "bad":
        raise ValueError("bad is not a good value")
    tx.rows.append(value)
    return tx.rows
