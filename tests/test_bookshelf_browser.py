"""examples/bookshelf in a real browser: headless Chromium, the app under uvicorn, no network.

As in tests/test_docs_browser.py: Debian's Chromium driven by Python Playwright, every request
recorded, and any request not for the test server refused before it leaves the browser.
"""

import os
import sys
from pathlib import Path

import pytest

from tests.test_bookshelf import make_png
from tests.test_docs_browser import is_local

pytestmark = pytest.mark.slow


@pytest.fixture
def bookshelf(start_server, tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(BOOKSHELF_DATA=str(tmp_path / "data"), LANNER_SECRET_KEY="browser-test-secret-key")
    server = start_server([sys.executable, "-m", "lanner.cli", "run", "examples.bookshelf.app"], env)
    server.wait_ready("/")
    return server


def test_log_in_add_a_book_with_a_cover_and_log_out(browser, bookshelf, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 860})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(
        "**/*",
        lambda route: route.continue_() if is_local(route.request.url) else route.abort("blockedbyclient"),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    page.goto(f"{bookshelf.url}/")
    expect(page.get_by_role("heading", name="The shelf")).to_be_visible()
    expect(page.get_by_role("link", name="Middlemarch")).to_be_visible()
    # The stylesheet applied: the page background is the sheet's paper colour.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(247, 245, 240)"
    expect(page.get_by_role("link", name="New book")).to_have_count(0)

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("User name").fill("demo")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status")).to_have_text("Welcome back, demo!")
    expect(page.locator(".nav-user")).to_have_text("Signed in as demo")

    page.get_by_role("link", name="New book").click()
    page.get_by_label("Title").fill("Kindred")
    page.get_by_label("Author").fill("Octavia E. Butler")
    page.get_by_label("Year").fill("3000")
    page.get_by_role("button", name="Add book").click()
    # A mistake first: the form comes back (422) with a message and what was typed.
    expect(page.locator("#year-error")).to_have_text("Enter a number no larger than 2100.")
    expect(page.get_by_label("Title")).to_have_value("Kindred")
    page.get_by_label("Year").fill("1979")
    page.get_by_label("Cover image").set_input_files(
        files=[{"name": "kindred.png", "mimeType": "image/png", "buffer": make_png(120, 180, (122, 78, 140))}]
    )
    page.get_by_role("button", name="Add book").click()

    expect(page.get_by_role("status")).to_have_text("“Kindred” was added to the shelf.")
    expect(page.get_by_role("heading", name="Kindred")).to_be_visible()
    cover = page.get_by_role("img", name="Cover of Kindred")
    expect(cover).to_be_visible()
    # The image was served and decoded: 120 x 180 pixels, as uploaded.
    assert cover.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 120, 180]
    page.screenshot(path=tmp_path / "bookshelf-detail.png", full_page=True)

    page.get_by_role("link", name="← All books").click()
    expect(page.get_by_role("link", name="Kindred")).to_be_visible()
    page.screenshot(path=tmp_path / "bookshelf-list.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You have been logged out.")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="New book")).to_have_count(0)

    assert [url for url in requests if not is_local(url)] == []
    assert any("/covers/" in url for url in requests)
    assert any("/static/style.css?v=" in url for url in requests)
    assert errors == []
    assert failed == [f"{bookshelf.url}/books/new"]  # the 422 of the mistake above
    context.close()
    for name in ("bookshelf-detail.png", "bookshelf-list.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
