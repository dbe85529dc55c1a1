"""The database tables, as SQLAlchemy 2 declarative models (portable: SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The declarative base every table derives from."""


class User(Base):
    """Someone who may log in and edit the shelf."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    #: ``scrypt$n$r$p$salt$hash`` (see `auth.hash_password`), never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))


class Book(Base):
    """A book on the shelf."""

    __tablename__ = "books"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(120))
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The cover's file name inside the covers folder (random, chosen by the server), if any.
    cover: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
