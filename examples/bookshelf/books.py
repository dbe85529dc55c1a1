"""Book queries shared by the pages and the JSON API (portable SQL: SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Book


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the wildcards in `text` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_books(db: AsyncSession, search: str = "", limit: int = 100, offset: int = 0) -> Sequence[Book]:
    """Books by title, optionally only those whose title or author contains `search`."""
    query = select(Book).order_by(Book.title, Book.id).limit(limit).offset(offset)
    search = search.strip()
    if search:
        pattern = _like_pattern(search)
        # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite.
        query = query.where(
            or_(Book.title.ilike(pattern, escape="\\"), Book.author.ilike(pattern, escape="\\"))
        )
    return (await db.scalars(query)).all()


async def get_book(db: AsyncSession, book_id: int) -> Book | None:
    """The book with this id, or None."""
    return await db.get(Book, book_id)
