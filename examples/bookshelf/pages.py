"""The HTML pages: browse the shelf, log in, and add, edit or delete books with their covers.

Every form posts a ``csrf_token`` field (the app runs with ``csrf=True``) and every successful
POST redirects with 303 (post/redirect/get) after flashing a message. Form fields arrive as plain
strings and are validated here with `BookIn`, so a mistake re-renders the form, with status 422
and a message next to each field, instead of an API error document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from lanner import File, Form, FormLimits, Request, Router, Session, UploadFile
from lanner.responses import FileResponse, RedirectResponse, Response
from lanner.sessions import flash, verify_csrf_token
from lanner.templating import Templates

from .auth import User, check_password, log_in, safe_next
from .books import get_book, list_books
from .covers import ACCEPTED_TYPES, MAX_COVER_BYTES, CoverError, delete_cover, image_suffix, save_cover
from .db import DB
from .models import Book
from .models import User as UserRow
from .schemas import BookIn, field_errors
from .settings import Config

router = Router()
templates = Templates(Path(__file__).resolve().parent / "templates", trim_blocks=True, lstrip_blocks=True)

# A cover and the text fields, with room to spare; larger bodies are refused with 413.
UPLOAD_LIMITS = FormLimits(max_size=MAX_COVER_BYTES + 256 * 1024, max_files=1)


class BookFields(BaseModel):
    """The book form's fields as typed: always accepted, then checked by `BookIn`."""

    title: str = ""
    author: str = ""
    year: str = ""
    description: str = ""
    remove_cover: str = ""


BookForm = Annotated[BookFields, Form()]
Cover = Annotated[UploadFile | None, File()]


@router.get("/", include_in_schema=False)
async def book_list(request: Request, db: DB, q: str = "") -> Response:
    """The shelf: every book, or those matching the search box."""
    books = await list_books(db, q)
    return templates.render(request, "books/list.html", {"books": books, "q": q.strip()})


@router.get("/books/{book_id:int}", include_in_schema=False)
async def book_detail(request: Request, book_id: int, db: DB) -> Response:
    """One book, with its cover."""
    book = await get_book(db, book_id)
    if book is None:
        return not_found(request)
    return templates.render(request, "books/detail.html", {"book": book})


@router.get("/books/new", include_in_schema=False)
async def book_new(request: Request, user: User) -> Response:
    """The empty form (logged-in users only)."""
    return render_form(request, None, {})


@router.post("/books/new", include_in_schema=False, form_limits=UPLOAD_LIMITS)
async def book_create(
    request: Request,
    db: DB,
    session: Session,
    settings: Config,
    user: User,
    fields: BookForm,
    cover: Cover = None,
) -> Response:
    """Add a book; a mistake re-renders the form with 422."""
    data, errors = parse_book(fields)
    image = await read_cover(cover, errors)
    if data is None or errors:
        return render_form(request, None, fields.model_dump(), errors)
    book = Book(**data.model_dump())
    if image is not None:
        book.cover = await save_cover(settings.covers_dir, image)
    db.add(book)
    try:
        await db.commit()  # before answering: the page we redirect to must see the book
    except Exception:
        await delete_cover(settings.covers_dir, book.cover)
        raise
    flash(session, f"“{book.title}” was added to the shelf.", category="success")
    return RedirectResponse(request.url_for("book_detail", book_id=book.id), 303)


@router.get("/books/{book_id:int}/edit", include_in_schema=False)
async def book_edit(request: Request, book_id: int, db: DB, user: User) -> Response:
    """The form, filled in with the book."""
    book = await get_book(db, book_id)
    if book is None:
        return not_found(request)
    values = {
        "title": book.title,
        "author": book.author,
        "year": "" if book.year is None else str(book.year),
        "description": book.description,
    }
    return render_form(request, book, values)


@router.post("/books/{book_id:int}/edit", include_in_schema=False, form_limits=UPLOAD_LIMITS)
async def book_update(
    request: Request,
    book_id: int,
    db: DB,
    session: Session,
    settings: Config,
    user: User,
    fields: BookForm,
    cover: Cover = None,
) -> Response:
    """Save changes (a new cover replaces the old one); a mistake re-renders the form with 422."""
    book = await get_book(db, book_id)
    if book is None:
        return not_found(request)
    data, errors = parse_book(fields)
    image = await read_cover(cover, errors)
    if data is None or errors:
        return render_form(request, book, fields.model_dump(), errors)
    for name, value in data.model_dump().items():
        setattr(book, name, value)
    old_cover = book.cover
    if image is not None:
        book.cover = await save_cover(settings.covers_dir, image)
    elif fields.remove_cover:
        book.cover = None
    try:
        await db.commit()
    except Exception:
        if book.cover != old_cover:
            await delete_cover(settings.covers_dir, book.cover)
        raise
    if book.cover != old_cover:
        await delete_cover(settings.covers_dir, old_cover)
    flash(session, f"Changes to “{book.title}” were saved.", category="success")
    return RedirectResponse(request.url_for("book_detail", book_id=book.id), 303)


@router.post("/books/{book_id:int}/delete", include_in_schema=False)
async def book_delete(
    request: Request, book_id: int, db: DB, session: Session, settings: Config, user: User
) -> Response:
    """Remove a book and its cover."""
    book = await get_book(db, book_id)
    if book is None:
        return not_found(request)
    await db.delete(book)
    await db.commit()
    await delete_cover(settings.covers_dir, book.cover)
    flash(session, f"“{book.title}” was removed from the shelf.", category="success")
    return RedirectResponse(request.url_for("book_list"), 303)


@router.get("/covers/{name:path}", include_in_schema=False)
async def cover(name: str, settings: Config) -> FileResponse:
    """A stored cover image. ``root=`` turns any path that leaves the covers folder into a 404."""
    # Stored names are random and never reused, so browsers may keep them for ever.
    headers = {"cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff"}
    return FileResponse(name, root=settings.covers_dir, headers=headers, content_disposition_type="inline")


@router.get("/login", include_in_schema=False)
async def login_form(request: Request, next: str = "") -> Response:
    """The login form; ``next`` is where to go afterwards."""
    return templates.render(request, "login.html", {"next": safe_next(next, ""), "username": ""})


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    db: DB,
    session: Session,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the password; on success start a fresh session and go to ``next``."""
    context = {"next": safe_next(next, ""), "username": username}
    # The app checks CSRF tokens on requests that carry a session cookie. A login form posted
    # without one (from another site, to log the visitor into the attacker's account) is refused
    # here: the token must come from this session's own login page.
    if not verify_csrf_token(session, csrf_token):
        flash(session, "Your session expired. Please try again.", category="error")
        return templates.render(request, "login.html", context, status_code=400)
    row = await db.scalar(select(UserRow).where(UserRow.username == username.strip()))
    # An unknown name is checked against a dummy hash: it takes as long as a wrong password.
    matches = await check_password(password, None if row is None else row.password_hash)
    if row is None or not matches:
        flash(session, "Wrong user name or password.", category="error")
        return templates.render(request, "login.html", context)
    log_in(session, row.id, row.username)
    flash(session, f"Welcome back, {row.username}!", category="success")
    return RedirectResponse(safe_next(next, request.url_for("book_list")), 303)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: Session) -> Response:
    """Forget the user (and everything else in the session)."""
    session.clear()
    flash(session, "You have been logged out.", category="info")
    return RedirectResponse(request.url_for("book_list"), 303)


def parse_book(fields: BookFields) -> tuple[BookIn | None, dict[str, str]]:
    """Validate the form's strings with `BookIn`: the data, or the message for each bad field."""
    raw: dict[str, Any] = fields.model_dump(exclude={"remove_cover"})
    raw["year"] = raw["year"].strip() or None
    try:
        return BookIn.model_validate(raw), {}
    except ValidationError as exc:
        return None, field_errors(exc)


async def read_cover(upload: UploadFile | None, errors: dict[str, str]) -> bytes | None:
    """The uploaded image's bytes, None when no file was chosen, or a message in `errors`."""
    if upload is None or not upload.filename:
        return None  # a browser sends an empty, nameless part when no file was chosen
    data = await upload.read(MAX_COVER_BYTES + 1)
    try:
        image_suffix(data)
    except CoverError as exc:
        errors["cover"] = str(exc)
        return None
    return data


def render_form(
    request: Request, book: Book | None, values: dict[str, Any], errors: dict[str, str] | None = None
) -> Response:
    """The add/edit form; with `errors`, status 422 and a message by each field."""
    context = {"book": book, "values": values, "errors": errors or {}, "accept": ACCEPTED_TYPES}
    return templates.render(request, "books/form.html", context, status_code=422 if errors else 200)


def not_found(request: Request) -> Response:
    """The friendly 404 page."""
    return templates.render(request, "404.html", status_code=404)
