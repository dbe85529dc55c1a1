"""The JSON API under ``/api``, typed with pydantic and documented at ``/docs``.

Reading is open to everyone. Writing (POST, PUT, DELETE) needs the ``X-API-Key`` header holding
``BOOKSHELF_API_KEY`` (``dev-only-bookshelf-api-key`` unless set)::

    curl -X POST http://127.0.0.1:8000/api/books -H 'X-API-Key: dev-only-bookshelf-api-key' \\
         -H 'Content-Type: application/json' -d '{"title": "Kindred", "author": "Octavia E. Butler"}'

The session cookie of a logged-in browser never authorises a write here: the key must be in a
header, which another site cannot make a browser send. That is why these routes may skip the
app's CSRF check (``csrf_exempt=True``). Covers are uploaded through the pages.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from lanner import Depends, HTTPException, Query, Request, Router
from lanner.responses import Response
from lanner.security import APIKeyHeader

from . import books as queries
from .covers import delete_cover
from .db import DB
from .models import Book
from .schemas import BookIn, BookOut
from .settings import Config

api_key_header = APIKeyHeader(
    "x-api-key", scheme_name="BookshelfKey", description="Needed to add, change or delete books."
)


def require_api_key(key: Annotated[str, Depends(api_key_header)], settings: Config) -> None:
    """Let only callers holding the API key through.

    Raises:
        HTTPException: 401 for a wrong key (a missing one is refused by `api_key_header`).
    """
    if not hmac.compare_digest(key.encode(), settings.api_key.encode()):
        raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "APIKey"})


router = Router(prefix="/api", tags=["books"], name="api")
# Writes: the key in a header, so the cookie-bound CSRF check does not apply (see above).
KEY_NEEDED = [Depends(require_api_key)]
UNAUTHORIZED = {401: {"description": "Missing or wrong API key"}}
NOT_FOUND = {404: {"description": "No book with this id"}}


def to_out(request: Request, book: Book) -> BookOut:
    """The API's view of a stored book, with the URL of its cover."""
    cover_url = request.url_for("cover", name=book.cover) if book.cover else None
    return BookOut(
        id=book.id,
        title=book.title,
        author=book.author,
        year=book.year,
        description=book.description,
        cover_url=cover_url,
    )


async def find(db: DB, book_id: int) -> Book:
    """The book, or a 404.

    Raises:
        HTTPException: 404 when there is no such book.
    """
    book = await queries.get_book(db, book_id)
    if book is None:
        raise HTTPException(404, f"No book {book_id}")
    return book


@router.get("/books")
async def list_books(
    request: Request,
    db: DB,
    q: Annotated[str, Query(max_length=100, description="Only titles or authors containing this")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BookOut]:
    """List books by title."""
    return [to_out(request, book) for book in await queries.list_books(db, q, limit, offset)]


@router.get("/books/{book_id:int}", responses=NOT_FOUND)
async def get_book(request: Request, book_id: int, db: DB) -> BookOut:
    """Fetch one book."""
    return to_out(request, await find(db, book_id))


@router.post("/books", status_code=201, dependencies=KEY_NEEDED, csrf_exempt=True, responses=UNAUTHORIZED)
async def create_book(request: Request, data: BookIn, db: DB) -> BookOut:
    """Add a book."""
    book = Book(**data.model_dump())
    db.add(book)
    await db.commit()
    return to_out(request, book)


@router.put(
    "/books/{book_id:int}",
    dependencies=KEY_NEEDED,
    csrf_exempt=True,
    responses={**UNAUTHORIZED, **NOT_FOUND},
)
async def update_book(request: Request, book_id: int, data: BookIn, db: DB) -> BookOut:
    """Replace a book's details (its cover stays)."""
    book = await find(db, book_id)
    for name, value in data.model_dump().items():
        setattr(book, name, value)
    await db.commit()
    return to_out(request, book)


@router.delete(
    "/books/{book_id:int}",
    status_code=204,
    dependencies=KEY_NEEDED,
    csrf_exempt=True,
    responses={**UNAUTHORIZED, **NOT_FOUND},
)
async def delete_book(book_id: int, db: DB, settings: Config) -> Response:
    """Delete a book and its cover."""
    book = await find(db, book_id)
    await db.delete(book)
    await db.commit()
    await delete_cover(settings.covers_dir, book.cover)
    return Response(status_code=204)
