from pydantic import BaseModel, Field

from lanner import Lanner

app = Lanner(title="Books", version="1.0.0")


class Book(BaseModel):
    title: str
    year: int = Field(ge=0)


@app.post("/books", status_code=201)
async def add_book(book: Book) -> Book:
    return book
