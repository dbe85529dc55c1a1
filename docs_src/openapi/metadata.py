from pydantic import BaseModel

from lanner import HTTPException, Lanner

app = Lanner(
    title="Bookshelf",
    version="2.1.0",
    description="Books and the people who read them.",
    servers=[{"url": "https://api.example.com", "description": "Production"}],
    openapi_tags=[{"name": "books", "description": "Everything about books"}],
    contact={"name": "Shelf team", "email": "shelf@example.com"},
    license_info={"name": "MIT"},
    docs_url="/api-docs",  # Swagger UI; redoc_url=None turns ReDoc off
    redoc_url=None,
)


class Book(BaseModel):
    title: str
    year: int


@app.get("/books/{book_id:int}", tags=["books"], responses={404: {"description": "No such book"}})
async def get_book(book_id: int) -> Book:
    """Fetch one book.

    The docstring's first line is the summary; the rest is the description.
    """
    if book_id != 1:
        raise HTTPException(404, f"No book {book_id}")
    return Book(title="Dune", year=1965)


@app.get("/books/{book_id:int}/legacy", tags=["books"], deprecated=True)
async def get_book_legacy(book_id: int) -> Book:
    return await get_book(book_id)


@app.get("/internal/stats", include_in_schema=False)
async def stats() -> dict[str, int]:
    return {"books": 1}
