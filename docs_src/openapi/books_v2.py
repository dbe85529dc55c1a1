from pydantic import BaseModel, Field

from lanner import Lanner

app = Lanner(title="Books", version="2.0.0")


class Book(BaseModel):
    title: str
    year: int = Field(ge=5)  # tightened: a year below 5 is now refused
    isbn: str | None = None  # added, optional: clients may ignore it


@app.post("/books", status_code=201)
async def add_book(book: Book) -> Book:
    return book


@app.get("/books")
async def list_books() -> list[Book]:
    return []
