"""examples/auth_jwt.py in a real browser: Swagger UI's Authorize button logs in through the OAuth2
password flow JWTAuth documents, then "Try it out" calls the protected and scoped routes with the
token it got. Headless Chromium (Debian's) under Playwright, the app under uvicorn, no network."""

import re
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import Server, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    port = free_port()
    app = Server(
        [sys.executable, "-m", "lanner.cli", "run", "examples/auth_jwt.py", "--port", str(port)], port
    )
    try:
        app.wait_ready("/openapi.json")
        yield app
    finally:
        app.stop()


def test_authorize_then_try_it_out(browser, server, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[tuple[str, str]] = []
    context.on("request", lambda request: requests.append((request.method, request.url)))
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith("data:")
            else route.abort("blockedbyclient")
        ),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/docs")

    # Before logging in, the protected route answers 401 with the bare Bearer challenge.
    me = page.locator("#operations-default-me_get")
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    # "401 Undocumented": the document lists only the success response.
    expect(me.locator(".live-responses-table .response .response-col_status")).to_have_text(
        re.compile(r"^401")
    )
    me.get_by_role("button", name="Clear").click()

    # Authorize: the OAuth2 password flow dialog posts the form to /token.
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog.get_by_text("Flow: password")).to_be_visible()
    dialog.locator("#oauth_username").fill("ann")
    dialog.locator("#oauth_password").fill("wonderland")
    dialog.get_by_role("button", name="Apply given OAuth2 credentials").click()
    expect(dialog.get_by_text("Authorized", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "authorized.png")
    dialog.get_by_role("button", name="Close").click()
    assert ("POST", f"{server.url}/token") in requests

    # Now the token goes with every call: /me shows who it belongs to.
    me.get_by_role("button", name="Execute").click()
    response = me.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text("200")
    body = response.locator(".response-col_description")
    expect(body).to_contain_text('"username": "ann"')
    expect(body).to_contain_text('"notes:write"')

    # The scoped route (notes:read through Security) lets ann read her notes.
    notes = page.locator("#operations-default-list_notes_get")
    notes.locator(".opblock-summary").click()
    notes.get_by_role("button", name="Try it out").click()
    notes.get_by_role("button", name="Execute").click()
    listed = notes.locator(".live-responses-table .response")
    expect(listed.locator(".response-col_status")).to_have_text("200")
    expect(listed.locator(".response-col_description")).to_contain_text("buy milk")
    page.screenshot(path=tmp_path / "try-it-out.png", full_page=True)

    assert [url for _, url in requests if urlsplit(url).hostname not in {"127.0.0.1", None}] == []
    assert errors == []
    context.close()
    assert (tmp_path / "try-it-out.png").read_bytes().startswith(b"\x89PNG")
