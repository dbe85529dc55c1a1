import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from pydantic import BaseModel

from lanner import Lanner
from lanner.responses import StreamingResponse

app = Lanner()


class Row(BaseModel):
    n: int
    square: int


@app.get("/squares")
async def squares(count: int = 3) -> AsyncIterable[Row]:
    # Each item goes out as one line of JSON (application/jsonl), validated as a Row.
    for n in range(count):
        yield Row(n=n, square=n * n)
        await asyncio.sleep(0)


@app.get("/report.csv")
async def report() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        yield "n,square\n"
        for n in range(3):
            yield f"{n},{n * n}\n"

    return StreamingResponse(lines(), media_type="text/csv")
