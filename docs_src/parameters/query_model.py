from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lanner import Lanner, Query

app = Lanner()


class Filters(BaseModel):
    author: str | None = None
    year_from: int = Field(0, ge=0)
    order: Literal["title", "year"] = "title"


@app.get("/books")
async def list_books(filters: Annotated[Filters, Query()]) -> Filters:
    return filters  # one field per query key: /books?author=Austen&order=year
