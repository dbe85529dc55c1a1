"""Sessions and CSRF as the app wires them: loaded only for routes that declare them (or reach
them through the request), saved when changed, and checked on unsafe methods."""

from typing import Annotated, Any

import pytest

from lanner import Depends, Lanner, Request
from lanner.responses import PlainTextResponse
from lanner.sessions import MemorySessionStore, Session, csrf_token, flash, get_flashed_messages
from lanner.testing import TestClient


def make_app(**options: Any) -> Lanner:
    app = Lanner(freeze_gc=False, secret_key="test-secret", **options)

    @app.post("/login", csrf_exempt=True)
    async def login(session: Session, user: str) -> str:
        session["user"] = user
        session.regenerate()
        flash(session, f"Welcome {user}", category="info")
        return "ok"

    @app.get("/me")
    async def me(session: Session) -> dict[str, Any]:
        return {"user": session.get("user"), "flashes": get_flashed_messages(session, with_categories=True)}

    @app.get("/token")
    async def token(session: Session) -> str:
        return csrf_token(session)

    @app.post("/transfer")
    async def transfer(session: Session) -> str:
        return f"moved by {session.get('user')}"

    @app.post("/hook", csrf_exempt=True)
    async def hook() -> str:
        return "hooked"

    @app.get("/plain")
    async def plain() -> str:
        return "no session here"

    @app.get("/lazy")
    async def lazy(request: Request) -> str:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return str(request.session["visits"])

    def current_user(session: Session) -> str | None:
        return session.get("user")

    @app.get("/via-dependency")
    async def via_dependency(user: Annotated[str | None, Depends(current_user)]) -> str | None:
        return user

    @app.post("/logout")
    async def logout(session: Session) -> str:
        session.clear()
        return "bye"

    return app


def test_a_declared_session_is_loaded_changed_and_saved() -> None:
    client = TestClient(make_app())
    assert client.get("/me").json() == {"user": None, "flashes": []}
    response = client.post("/login?user=ada")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/me").json() == {"user": "ada", "flashes": [["info", "Welcome ada"]]}
    assert client.get("/me").json() == {"user": "ada", "flashes": []}  # flashes are read once
    assert client.get("/via-dependency").json() == "ada"


def test_routes_that_do_not_touch_the_session_never_set_a_cookie() -> None:
    client = TestClient(make_app())
    client.post("/login?user=ada")
    assert "set-cookie" in client.get("/me").headers  # reading the flash message changed it
    for path in ("/plain", "/me", "/via-dependency"):
        response = client.get(path)
        assert "set-cookie" not in response.headers, path


def test_a_route_holding_the_request_reaches_the_session_lazily() -> None:
    client = TestClient(make_app())
    assert client.get("/lazy").text == '"1"'
    assert client.get("/lazy").text == '"2"'


def test_a_tampered_cookie_is_an_empty_session_not_an_error() -> None:
    client = TestClient(make_app())
    client.post("/login?user=ada")
    value = client.cookies["session"]
    payload, _, rest = value.partition(".")
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + rest
    stranger = TestClient(make_app())
    for cookie in (forged, value[:-3], "garbage", "", "a.b.c"):
        response = stranger.get("/me", headers={"cookie": f"session={cookie}"})
        assert response.json() == {"user": None, "flashes": []}, cookie
    assert stranger.get("/me", headers={"cookie": f"session={value}"}).json()["user"] == "ada"


def test_server_side_sessions_through_the_app() -> None:
    client = TestClient(make_app(session_store=MemorySessionStore()))
    client.post("/login?user=grace")
    assert len(client.cookies["session"]) < 200  # an id, not the data
    assert client.get("/me").json()["user"] == "grace"
    client.post("/logout", headers={"x-csrf-token": "unused"})
    assert client.get("/me").json()["user"] is None


def test_csrf_blocks_unsafe_requests_that_carry_the_session_cookie() -> None:
    client = TestClient(make_app(csrf=True))
    # No session cookie yet: nothing to protect (API clients with bearer tokens are unaffected).
    assert client.post("/transfer").status_code == 200
    client.post("/login?user=ada")
    refused = client.post("/transfer")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post("/transfer", headers={"x-csrf-token": "wrong"}).status_code == 403
    token = client.get("/token").json()
    assert client.post("/transfer", headers={"x-csrf-token": token}).text == '"moved by ada"'
    assert client.post("/transfer", data={"csrf_token": token}).status_code == 200
    assert client.post("/transfer", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/hook").text == '"hooked"'  # csrf_exempt


def test_a_csrf_token_from_another_session_is_refused() -> None:
    first, second = TestClient(make_app(csrf=True)), TestClient(make_app(csrf=True))
    first.post("/login?user=a")
    second.post("/login?user=b")
    stolen = first.get("/token").json()
    assert second.post("/transfer", headers={"x-csrf-token": stolen}).status_code == 403


def test_sessions_and_csrf_need_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="secret_key"):
        Lanner(csrf=True)
    with pytest.raises(ValueError, match="secret_key"):
        Lanner(session_store=MemorySessionStore())
    assert Lanner().sessions is None
    monkeypatch.setenv("LANNER_SECRET_KEY", "from-the-environment")
    assert Lanner().sessions is not None


def test_without_sessions_a_declared_session_is_a_clear_error() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.session))

    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


def test_the_session_cookie_name_lifetime_and_domain_are_configurable() -> None:
    app = Lanner(
        freeze_gc=False,
        secret_key="k",
        session_cookie="sid",
        session_max_age=600,
        session_domain="example.org",
    )

    @app.post("/set")
    async def set_value(session: Session) -> str:
        session["x"] = 1
        return "ok"

    cookie = TestClient(app).post("/set").headers["set-cookie"]
    assert cookie.startswith("sid=")
    assert "Max-Age=600" in cookie and "Domain=example.org" in cookie and "Path=/" in cookie
    secure = TestClient(app, base_url="https://testserver").post("/set").headers["set-cookie"]
    assert "Secure" in secure and "Secure" not in cookie


def test_flash_is_importable_from_lanner() -> None:
    import lanner

    assert lanner.flash is flash and lanner.get_flashed_messages is get_flashed_messages


def test_the_secret_key_follows_app_config_as_in_flask() -> None:
    from lanner import Lanner, Session
    from lanner.testing import TestClient

    def build(key_source: str) -> Lanner:
        app = Lanner(secret_key="development-key-0123456789abcdef")
        if key_source == "config":
            app.config.from_mapping(SECRET_KEY="deployed-key-0123456789abcdef0123")
        elif key_source == "attribute":
            app.secret_key = "deployed-key-0123456789abcdef0123"

        @app.get("/login")
        def login(session: Session) -> str:
            session["user"] = "ada"
            return "in"

        @app.get("/me")
        def me(session: Session) -> str | None:
            return session.get("user")

        return app

    development = TestClient(build("none"))
    development.get("/login")
    cookies = dict(development.cookies)
    assert build("none").secret_key == "development-key-0123456789abcdef"
    for source in ("config", "attribute"):
        deployed = TestClient(build(source))
        deployed.cookies.update(cookies)
        assert deployed.get("/me").json() is None  # signed with the development key: refused
        fresh = TestClient(build(source))
        fresh.get("/login")
        assert fresh.get("/me").json() == "ada"
    # Sessions turn on from the config alone, as Flask's do.
    only_config = Lanner(config={"SECRET_KEY": "from-config-0123456789abcdef0123"})
    assert only_config.sessions is not None
