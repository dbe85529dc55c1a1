"""examples/bookshelf: the pages, the login, the forms and uploads, the JSON API, through TestClient.

Every test gets its own data folder (SQLite file and covers) under tmp_path, set through the
environment before the app is created, as a deployment would.

To run them against PostgreSQL instead (``pip install -e '.[test,postgres]'``), name an empty
database the tests may wipe: ``BOOKSHELF_TEST_DATABASE_URL=postgresql+asyncpg://user@host/db``.
"""

import asyncio
import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanner.testing import TestClient

API_KEY = "test-api-key"
# Set to run against another database than a fresh SQLite file per test (its tables are dropped).
TEST_DATABASE_URL = os.environ.get("BOOKSHELF_TEST_DATABASE_URL")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_png(width: int = 2, height: int = 3, rgb: tuple[int, int, int] = (47, 93, 80)) -> bytes:
    """A valid PNG of one colour, built with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("BOOKSHELF_DATA", str(folder))
    if TEST_DATABASE_URL:
        monkeypatch.setenv("DATABASE_URL", TEST_DATABASE_URL)
        asyncio.run(drop_tables(TEST_DATABASE_URL))
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)  # the default: a SQLite file in BOOKSHELF_DATA
    monkeypatch.setenv("LANNER_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("BOOKSHELF_API_KEY", API_KEY)
    return folder


async def drop_tables(url: str) -> None:
    from examples.bookshelf.models import Base
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
    finally:
        await engine.dispose()


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    from examples.bookshelf.app import create_app

    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


def token_from(page: str) -> str:
    match = TOKEN.search(page)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def log_in(client: TestClient, username: str = "demo", password: str = "demo", next: str = ""):
    token = token_from(client.get("/login").text)
    form = {"username": username, "password": password, "next": next, "csrf_token": token}
    return client.post("/login", data=form)


def book_form(client: TestClient, path: str, **fields: str) -> dict[str, str]:
    """The fields to post to the form at `path`, with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200
    return {"csrf_token": token_from(page.text), **fields}


def test_list_shows_the_seeded_books(client, data_dir):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    for title in ("Middlemarch", "Things Fall Apart", "The Left Hand of Darkness"):
        assert title in page.text
    assert "New book" not in page.text  # visitors cannot add books
    assert 'href="/login"' in page.text
    assert "set-cookie" not in page.headers  # a visitor's page view costs no session
    stylesheet = re.search(r'href="(/static/style\.css\?v=[0-9a-f]{12})"', page.text)
    assert stylesheet, "the layout links the stylesheet with a content hash"
    css = client.get(stylesheet.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    # Created on first start, in BOOKSHELF_DATA.
    assert (data_dir / "bookshelf.db").is_file() or TEST_DATABASE_URL
    assert (data_dir / "covers").is_dir()


def test_search_filters_by_title_or_author(client):
    assert "Middlemarch" in client.get("/", params={"q": "eliot"}).text
    page = client.get("/", params={"q": "eliot"}).text
    assert "Things Fall Apart" not in page
    assert "No book matches" in client.get("/", params={"q": "100%_"}).text  # wildcards are literal


def test_wrong_password_shows_a_flash_message(client):
    page = log_in(client, password="nope")
    assert page.status_code == 200
    assert "Wrong user name or password." in page.text
    assert "Signed in as" not in page.text
    assert 'value="demo"' in page.text  # the name typed is kept
    unknown = log_in(client, username="nobody")
    assert "Wrong user name or password." in unknown.text
    # Shown once: the next page no longer has it.
    assert "Wrong user name or password." not in client.get("/").text


def test_pages_that_change_books_need_a_login(client):
    for path in ("/books/new", "/books/1/edit"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    # The redirects above set a session cookie (for the flash): a POST carrying it needs its token.
    assert client.post("/books/new", data={"title": "x"}).status_code == 403
    client.cookies.clear()
    assert client.post("/books/new", data={"title": "x"}).headers["location"] == "/login?next=/books/new"
    page = client.get("/login", params={"next": "/books/new"})
    assert "Please log in first." in page.text
    assert 'name="next" value="/books/new"' in page.text
    done = log_in(client, next="/books/new")
    assert done.status_code == 303
    assert done.headers["location"] == "/books/new"


def test_login_never_redirects_off_site(client):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        client.cookies.clear()
        response = log_in(client, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/"


def test_login_form_needs_its_own_token(data_dir):
    from examples.bookshelf.app import create_app

    # No session cookie, so the app-wide CSRF check has nothing to compare with: the login form
    # itself refuses a post that did not come from this session's login page (login CSRF).
    with TestClient(create_app(), follow_redirects=False) as client:
        forged = client.post("/login", data={"username": "demo", "password": "demo", "csrf_token": "x"})
        assert forged.status_code == 400
        assert "session expired" in forged.text
        assert "Signed in as" not in client.get("/").text


def test_login_create_with_cover_then_flash_and_cover(client, data_dir):
    welcome = log_in(client)
    assert welcome.status_code == 303
    assert welcome.headers["location"] == "/"
    home = client.get("/")
    assert "Welcome back, demo!" in home.text
    assert "Signed in as <strong>demo</strong>" in home.text
    assert 'href="/books/new"' in home.text

    png = make_png()
    form = book_form(client, "/books/new", title=" Kindred ", author="Octavia E. Butler", year="1979")
    created = client.post("/books/new", data=form, files={"cover": ("../../evil name.png", png, "image/png")})
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/books/\d+", location)

    detail = client.get(location)
    assert detail.status_code == 200
    assert "“Kindred” was added to the shelf." in detail.text  # the flash, on the next page
    assert "<h1>Kindred</h1>" in detail.text  # stripped
    cover_url = re.search(r'<img class="cover" src="(/covers/[0-9a-f]{32}\.png)"', detail.text)
    assert cover_url, "the detail page shows the cover"
    image = client.get(cover_url.group(1))
    assert image.status_code == 200
    assert image.content == png
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    # The flash is shown once.
    assert "was added" not in client.get(location).text
    # The client's file name was not used: the cover is where the server put it, named by it.
    assert [p.name for p in (data_dir / "covers").iterdir()] == [cover_url.group(1).rsplit("/", 1)[1]]
    assert not list(data_dir.parent.rglob("evil name.png"))


def test_create_without_a_cover_and_the_list_shows_it(client):
    log_in(client)
    form = book_form(client, "/books/new", title="Beloved", author="Toni Morrison", year="")
    # A browser sends an empty, nameless file part when no file was chosen.
    created = client.post("/books/new", data=form, files={"cover": ("", b"", "application/octet-stream")})
    assert created.status_code == 303
    assert "Beloved" in client.get("/").text


def test_invalid_edit_rerenders_the_form_with_messages(client):
    log_in(client)
    form = book_form(client, "/books/2/edit", title="  ", author="George Eliot", year="eighteen")
    response = client.post("/books/2/edit", data=form)
    # 422 (Unprocessable Content): the page is the form again, with a message by each bad field.
    assert response.status_code == 422
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "This field is required." in response.text
    assert "Enter a whole number, like 1965." in response.text
    assert 'value="eighteen"' in response.text  # what was typed is kept
    assert 'aria-invalid="true"' in response.text
    assert "Middlemarch" in client.get("/books/2").text  # nothing was saved

    form = book_form(client, "/books/2/edit", title="Middlemarch", author="George Eliot", year="1871")
    not_an_image = client.post(
        "/books/2/edit", data=form, files={"cover": ("cover.png", b"<svg onload=alert(1)>", "image/png")}
    )
    assert not_an_image.status_code == 422
    assert "Upload a PNG, JPEG, GIF or WebP image." in not_an_image.text

    form = book_form(
        client, "/books/2/edit", title="Middlemarch, a study", author="George Eliot", year="1872"
    )
    saved = client.post("/books/2/edit", data=form)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/books/2"
    page = client.get("/books/2").text
    assert "Changes to “Middlemarch, a study” were saved." in page
    assert "1872" in page


def test_cover_size_limits(client, data_dir):
    log_in(client)
    just_fits = make_png() + b"\0" * (2 * 1024 * 1024 - len(make_png()))
    form = book_form(client, "/books/new", title="Big", author="A")
    assert client.post("/books/new", data=form, files={"cover": ("a.png", just_fits)}).status_code == 303
    too_big = just_fits + b"\0"
    form = book_form(client, "/books/new", title="Bigger", author="A")
    refused = client.post("/books/new", data=form, files={"cover": ("a.png", too_big)})
    assert refused.status_code == 422
    assert "The image is larger than 2 MB." in refused.text
    # Far past the limit, the form parser stops reading (the route's FormLimits): 413.
    form = book_form(client, "/books/new", title="Huge", author="A")
    huge = client.post("/books/new", data=form, files={"cover": ("a.png", b"\0" * 3 * 1024 * 1024)})
    assert huge.status_code == 413
    assert len(list((data_dir / "covers").iterdir())) == 1


def test_edit_replaces_and_removes_the_cover(client, data_dir):
    log_in(client)
    covers = data_dir / "covers"
    form = book_form(client, "/books/3/edit", title="Things Fall Apart", author="Chinua Achebe")
    client.post("/books/3/edit", data=form, files={"cover": ("a.png", make_png(rgb=(1, 2, 3)), "image/png")})
    first = [p.name for p in covers.iterdir()]
    assert len(first) == 1
    form = book_form(client, "/books/3/edit", title="Things Fall Apart", author="Chinua Achebe")
    client.post("/books/3/edit", data=form, files={"cover": ("b.png", make_png(rgb=(4, 5, 6)), "image/png")})
    second = [p.name for p in covers.iterdir()]
    assert len(second) == 1
    assert second != first  # the old file is gone
    form = book_form(
        client, "/books/3/edit", title="Things Fall Apart", author="Chinua Achebe", remove_cover="1"
    )
    client.post("/books/3/edit", data=form)
    assert list(covers.iterdir()) == []
    assert client.get(f"/covers/{second[0]}").status_code == 404


def test_delete_removes_the_book_and_its_cover(client, data_dir):
    log_in(client)
    form = book_form(client, "/books/new", title="Ephemeral", author="Nobody")
    created = client.post("/books/new", data=form, files={"cover": ("c.png", make_png(), "image/png")})
    book_path = created.headers["location"]
    assert len(list((data_dir / "covers").iterdir())) == 1
    token = token_from(client.get(book_path).text)
    deleted = client.post(f"{book_path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/"
    assert "“Ephemeral” was removed from the shelf." in client.get("/").text
    missing = client.get(book_path)
    assert missing.status_code == 404
    assert "Not on the shelf" in missing.text
    assert list((data_dir / "covers").iterdir()) == []


def test_logout_clears_the_session(client):
    log_in(client)
    page = client.get("/")
    assert "Signed in as" in page.text
    out = client.post("/logout", data={"csrf_token": token_from(page.text)})
    assert out.status_code == 303
    home = client.get("/")
    assert "You have been logged out." in home.text
    assert "Signed in as" not in home.text
    assert client.get("/books/new").status_code == 303


def test_posts_without_the_csrf_token_are_refused(client):
    log_in(client)
    assert client.post("/books/new", data={"title": "Sneaky", "author": "Mallory"}).status_code == 403
    assert client.post("/books/1/delete").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert "Signed in as" in client.get("/").text  # still logged in
    assert client.get("/books/1").status_code == 200  # not deleted


def test_unknown_book_is_a_404_page(client):
    page = client.get("/books/999")
    assert page.status_code == 404
    assert "Not on the shelf" in page.text
    assert client.get("/books/abc").status_code == 404


def test_cover_route_refuses_paths_outside_the_covers_folder(client, data_dir):
    if not TEST_DATABASE_URL:
        assert (data_dir / "bookshelf.db").is_file()  # the traversals below aim at it
    for path in (
        "/covers/../bookshelf.db",
        "/covers/..%2fbookshelf.db",
        "/covers/%2e%2e/bookshelf.db",
        "/covers/%2e%2e%2fbookshelf.db",
        "/covers/..%5cbookshelf.db",
        "/covers/....//bookshelf.db",
        f"/covers/{data_dir / 'bookshelf.db'}",
        "/covers//etc/passwd",
        "/covers/missing.png",
        "/covers/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"SQLite" not in response.content


def test_api_reads_are_public(client):
    books = client.get("/api/books")
    assert books.status_code == 200
    assert [b["title"] for b in books.json()] == [
        "Middlemarch",
        "The Left Hand of Darkness",
        "The Master and Margarita",
        "Things Fall Apart",
    ]
    assert client.get("/api/books", params={"q": "achebe"}).json()[0]["author"] == "Chinua Achebe"
    assert len(client.get("/api/books", params={"limit": 2, "offset": 1}).json()) == 2
    assert client.get("/api/books", params={"limit": 0}).status_code == 422
    one = client.get("/api/books/2")
    assert one.json() == {
        "id": 2,
        "title": "Middlemarch",
        "author": "George Eliot",
        "year": 1871,
        "description": "Provincial life, ambition and marriage in an English town.",
        "cover_url": None,
    }
    missing = client.get("/api/books/999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_api_writes_need_the_key(client):
    book = {"title": "Kindred", "author": "Octavia E. Butler", "year": 1979}
    assert client.post("/api/books", json=book).status_code == 401
    wrong = client.post("/api/books", json=book, headers={"x-api-key": "guess"})
    assert wrong.status_code == 401
    # A logged-in browser's cookie is not enough either.
    log_in(client)
    assert client.post("/api/books", json=book).status_code == 401
    key = {"x-api-key": API_KEY}
    created = client.post("/api/books", json=book, headers=key)
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "Kindred"
    assert body["description"] == ""
    assert client.get(f"/api/books/{body['id']}").json() == body
    assert "Kindred" in client.get("/").text  # the pages see it
    script = {"title": "<script>alert(1)</script>", "author": "Mallory"}
    sneaky = client.post("/api/books", json=script, headers=key).json()
    page = client.get(f"/books/{sneaky['id']}").text
    assert "<script>alert" not in page  # templates escape what users wrote
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    invalid = client.post("/api/books", json={**book, "year": 3000, "isbn": "x"}, headers=key)
    assert invalid.status_code == 422
    assert {tuple(e["loc"]) for e in invalid.json()["errors"]} == {("body", "year"), ("body", "isbn")}

    changed = client.put(f"/api/books/{body['id']}", json={**book, "year": 1980}, headers=key)
    assert changed.status_code == 200
    assert changed.json()["year"] == 1980
    assert client.put("/api/books/999", json=book, headers=key).status_code == 404
    assert client.delete(f"/api/books/{body['id']}").status_code == 401
    assert client.delete(f"/api/books/{body['id']}", headers=key).status_code == 204
    assert client.get(f"/api/books/{body['id']}").status_code == 404


def test_api_shows_covers_uploaded_through_the_pages(client):
    log_in(client)
    form = book_form(client, "/books/1/edit", title="The Left Hand of Darkness", author="Ursula K. Le Guin")
    client.post("/books/1/edit", data=form, files={"cover": ("c.png", make_png(), "image/png")})
    cover_url = client.get("/api/books/1").json()["cover_url"]
    assert re.fullmatch(r"/covers/[0-9a-f]{32}\.png", cover_url)
    assert client.get(cover_url).content == make_png()


def test_openapi_documents_the_api_only(client):
    from openapi_spec_validator import validate

    doc = client.get("/openapi.json").json()
    validate(doc)
    assert set(doc["paths"]) == {"/api/books", "/api/books/{book_id}"}
    assert set(doc["paths"]["/api/books"]) == {"get", "post"}
    assert set(doc["paths"]["/api/books/{book_id}"]) == {"get", "put", "delete"}
    assert doc["paths"]["/api/books"]["post"]["security"] == [{"BookshelfKey": []}]
    assert "security" not in doc["paths"]["/api/books"]["get"]
    assert doc["components"]["securitySchemes"]["BookshelfKey"]["in"] == "header"
    listed = doc["paths"]["/api/books"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["items"]["$ref"].startswith("#/components/schemas/BookOut")
    assert {p["name"] for p in doc["paths"]["/api/books"]["get"]["parameters"]} == {"q", "limit", "offset"}


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="about the SQLite default")
def test_database_url_is_honoured(tmp_path, monkeypatch):
    from examples.bookshelf.app import create_app

    monkeypatch.setenv("BOOKSHELF_DATA", str(tmp_path / "files"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")
    with TestClient(create_app()) as client:
        assert client.get("/api/books").status_code == 200
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "files" / "bookshelf.db").exists()


def test_passwords_are_salted_scrypt_hashes():
    from examples.bookshelf.auth import hash_password, verify_password

    first, second = hash_password("demo"), hash_password("demo")
    assert first != second  # a salt per hash
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("demo", first)
    assert not verify_password("Demo", first)
    assert not verify_password("demo", "garbage")
    assert not verify_password("demo", "md5$1$1$1$AA$AA")


def test_the_probes_report_the_database(data_dir: Path) -> None:
    from examples.bookshelf.app import create_app

    app = create_app()
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
    # After the shutdown it is not ready again.
    assert TestClient(app).get("/readyz").json()["reason"] == "stopping"
    # Served without its lifespan there is no database: not ready, and the reason says why.
    unready = TestClient(create_app()).get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["checks"]["database"].startswith("KeyError")
