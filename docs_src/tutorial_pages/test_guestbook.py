import re

from guestbook import ENTRIES, app

from lanner.testing import TestClient


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form has no CSRF token"
    return found[1]


def test_sign_the_guestbook() -> None:
    ENTRIES.clear()
    with TestClient(app) as client:
        page = client.get("/")
        assert "Nobody has signed yet." in page.text
        form = {
            "name": "Ada",
            "message": "<script>alert(1)</script>",
            "csrf_token": csrf_token(page.text),
        }
        signed = client.post("/sign", data=form, follow_redirects=False)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"

        page = client.get("/")
        assert '<p class="flash success">Thank you, Ada!</p>' in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # escaped, never run
        assert 'value="Ada"' in page.text  # the session remembered the name
        assert client.get("/").text.count("Thank you") == 0  # a flash message shows once


def test_a_form_without_its_token_is_refused() -> None:
    with TestClient(app) as client:
        client.get("/")
        refused = client.post("/sign", data={"name": "Eve", "message": "hi"})
        assert refused.status_code == 403


def test_static_files_are_served() -> None:
    client = TestClient(app)
    page = client.get("/")
    stylesheet = re.search(r'href="([^"]+)"', page.text)
    assert stylesheet and stylesheet[1].startswith("/static/style.css")
    assert "font-family" in client.get(stylesheet[1]).text
