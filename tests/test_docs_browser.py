"""The docs pages in a real browser: headless Chromium, the demo app under uvicorn, no network.

Chromium is Debian's (``apt-get install chromium``), driven by Python Playwright (``pip install
playwright``; its own browser download is never used). Every request the pages make is recorded,
and any that is not for the test server is refused before it leaves the browser and fails the test.
"""

import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SCHEMES = {"data", "blob", "about"}

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(start_server):
    server = start_server([sys.executable, "-m", "lanner.cli", "run", "examples/demo.py"])
    server.wait_ready("/openapi.json")
    return server


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == "127.0.0.1"


def guard(route) -> None:
    """Let requests for the test server through; refuse any other before it leaves the browser."""
    if is_local(route.request.url):
        route.continue_()
    else:
        route.abort("blockedbyclient")


def test_docs_pages_work_offline(browser, demo, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(
        "**/*",
        lambda route: route.continue_() if is_local(route.request.url) else route.abort("blockedbyclient"),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{demo.url}/docs")
    summaries = page.locator(".opblock-summary")
    expect(summaries).to_have_count(3)
    rendered = {" ".join(text.split()[:2]) for text in summaries.all_inner_texts()}
    assert rendered == {"GET /books", "POST /books", "GET /books/{book_id}"}
    page.screenshot(path=tmp_path / "swagger-overview.png")

    operation = page.locator("#operations-books-list_books_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    expect(live.locator(".response-col_description")).to_contain_text('"title": "Dune"')
    assert f"{demo.url}/books?limit=10" in requests
    # The README's picture: the page down to the response the browser just received.
    box = live.bounding_box()
    assert box is not None
    page.screenshot(
        path=tmp_path / "swagger-try-it-out.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"] + 16},
    )
    if os.environ.get("LANNER_UPDATE_SCREENSHOTS") == "1":  # refresh the README's picture on request
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / "swagger-try-it-out.png", ROOT / "docs" / "swagger.png")

    page.goto(f"{demo.url}/redoc")
    get_book = page.locator('[data-section-id="tag/books/operation/get_book_get"]')
    expect(get_book.get_by_role("heading", name="Get book")).to_be_visible()
    add_book = page.locator('[data-section-id="tag/books/operation/add_book_post"]')
    # BookIn, the request body of "Add book", rendered field by field.
    expect(add_book.locator(".property-name")).to_have_text(["x-api-key", "title", "author", "year", "tags"])
    # Book, the response of "Get book": expanding it shows the fields BookIn lacks.
    get_book.get_by_role("button", name=re.compile(r"^200")).click()
    expect(get_book.locator(".property-name")).to_contain_text(
        ["book_id", "title", "author", "year", "tags", "id"]
    )
    expect(page.get_by_text("API docs by Redocly")).to_be_visible()
    page.screenshot(path=tmp_path / "redoc.png")

    assert f"{demo.url}/redoc/assets/redoc.standalone.js" in requests
    assert f"{demo.url}/redoc/assets/redoc-logo.svg" in requests
    assert [url for url in requests if not is_local(url)] == []
    assert errors == []
    context.close()
    for name in ("swagger-overview.png", "swagger-try-it-out.png", "redoc.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
