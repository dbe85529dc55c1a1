"""The database: an async SQLAlchemy engine for the app's lifetime, and a session per request.

`open_database` runs inside the app's lifespan: it creates the engine, the tables and the seed
data, and disposes of the engine at shutdown. `get_db` is the per-request dependency.

The code after a ``yield`` dependency's ``yield`` runs after the response is sent, so a handler
that writes calls ``await db.commit()`` itself before answering: the page it redirects to then
sees the change, and a failed commit is an error response rather than a lost write. `get_db`
still commits whatever is left on success and rolls back on error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from lanner import Depends, Request

from .auth import hash_password_async
from .models import Base, Book, User

SEED_BOOKS = [
    {
        "title": "The Left Hand of Darkness",
        "author": "Ursula K. Le Guin",
        "year": 1969,
        "description": "An envoy visits Gethen, a winter world whose people have no fixed sex.",
    },
    {
        "title": "Middlemarch",
        "author": "George Eliot",
        "year": 1871,
        "description": "Provincial life, ambition and marriage in an English town.",
    },
    {
        "title": "Things Fall Apart",
        "author": "Chinua Achebe",
        "year": 1958,
        "description": "Okonkwo's rise and fall in an Igbo village as colonial rule arrives.",
    },
    {
        "title": "The Master and Margarita",
        "author": "Mikhail Bulgakov",
        "year": 1967,
        "description": "The Devil pays a visit to Soviet Moscow.",
    },
]
DEMO_USER = ("demo", "demo")


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Connect to `url`, create missing tables and seed an empty database; dispose at the end."""
    engine = create_async_engine(url, pool_pre_ping=True)
    try:
        await create_schema(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as db:
            await seed(db)
        yield sessions
    finally:
        # Closes every pooled connection: no "unclosed connection" warning at exit.
        await engine.dispose()


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables that do not exist yet (a real app would run migrations instead)."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


async def seed(db: AsyncSession) -> None:
    """Add the demo user and a few books to an empty database."""
    if not await db.scalar(select(func.count()).select_from(User)):
        username, password = DEMO_USER
        db.add(User(username=username, password_hash=await hash_password_async(password)))
    if not await db.scalar(select(func.count()).select_from(Book)):
        db.add_all(Book(**book) for book in SEED_BOOKS)
    await db.commit()


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request: committed on success, rolled back on error."""
    sessions: async_sessionmaker[AsyncSession] = request.state.db
    async with sessions() as db:
        try:
            yield db
        except Exception:
            await db.rollback()
            raise
        else:
            await db.commit()


DB = Annotated[AsyncSession, Depends(get_db)]
