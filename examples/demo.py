"""The demo served by the README: a small bookshelf API.

Run it with ``lanner run examples/demo.py`` and open http://127.0.0.1:8000/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, Field

from lanner import BackgroundTasks, Depends, Header, HTTPException, Lanner, Query, Request, Router
from lanner.responses import HTMLResponse
from lanner.templating import Templates

app = Lanner(title="Bookshelf", version="1.0.0", description="The lanner demo app.")
books = Router(prefix="/books", tags=["books"])


class BookIn(BaseModel):
    """What a client sends to add a book."""

    title: str = Field(min_length=1, max_length=200)
    author: str = Field(min_length=1, max_length=100)
    year: int = Field(ge=0, le=2100)
    tags: list[str] = []


class Book(BookIn):
    """A stored book."""

    id: int


class Shelf:
    """An in-memory store; a real app would hold a database pool here."""

    def __init__(self) -> None:
        self.books: dict[int, Book] = {}
        self.log: list[str] = []

    def add(self, data: BookIn) -> Book:
        book = Book(id=len(self.books) + 1, **data.model_dump())
        self.books[book.id] = book
        return book


SHELF = Shelf()
SHELF.add(BookIn(title="Dune", author="Frank Herbert", year=1965, tags=["sf"]))
SHELF.add(BookIn(title="Emma", author="Jane Austen", year=1815, tags=["classic"]))


def get_shelf() -> Iterator[Shelf]:
    """Hand out the shelf for one request (a generator: code after yield is the cleanup)."""
    yield SHELF


def require_key(x_api_key: Annotated[str, Header()]) -> str:
    """Writes need the demo key ``secret``."""
    if x_api_key != "secret":
        raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "ApiKey"})
    return x_api_key


# Pages are Jinja2 templates, which escape what they show: a title is never markup.
templates = Templates("demo_templates")


@app.get("/", include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    """A server-rendered page, Flask style."""
    return templates.render(request, "home.html", {"books": list(SHELF.books.values())})


@books.get("")
async def list_books(
    shelf: Annotated[Shelf, Depends(get_shelf)],
    author: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[Book]:
    """List books, optionally by one author."""
    found = [b for b in shelf.books.values() if author is None or b.author == author]
    return found[:limit]


@books.get("/{book_id:int}")
async def get_book(book_id: int, shelf: Annotated[Shelf, Depends(get_shelf)]) -> Book:
    """Fetch one book."""
    if book_id not in shelf.books:
        raise HTTPException(404, f"No book {book_id}")
    return shelf.books[book_id]


@books.post("", status_code=201, dependencies=[Depends(require_key)],
            responses={401: {"description": "Missing or wrong API key"}})
async def add_book(data: BookIn, shelf: Annotated[Shelf, Depends(get_shelf)],
                   tasks: BackgroundTasks) -> Book:
    """Add a book (needs ``X-API-Key: secret``)."""
    book = shelf.add(data)
    tasks.add_task(shelf.log.append, f"added {book.id}")
    return book


app.include_router(books)
