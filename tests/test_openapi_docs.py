"""The offline docs pages: their HTML, what they load, and the asset allow-list."""

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from lanner.openapi import docs

openapi_ui_bundles = pytest.importorskip("openapi_ui_bundles", reason="openapi-ui-bundles is not installed")

PACKAGE_DIR = Path(openapi_ui_bundles.__file__).resolve().parent
KNOWN = [
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "favicon-16x16.png",
    "redoc.standalone.js",
    "redoc-logo.svg",
]


class Page(HTMLParser):
    """Collects what a page loads: tag attributes, script bodies and the title."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.title = ""
        self._in: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "title":
            self.title += data

    def script_count(self) -> int:
        return sum(tag == "script" for tag, _ in self.elements)

    def urls(self) -> list[str]:
        return [
            value
            for _, attrs in self.elements
            for name, value in attrs.items()
            if name in {"src", "href"} and value is not None
        ]


def swagger(**overrides: str | None) -> str:
    args: dict[str, str | None] = {
        "title": "Shop",
        "openapi_url": "/openapi.json",
        "assets_url": "/docs/assets",
    }
    args.update(overrides)
    return docs.swagger_ui_html(**args)  # type: ignore[arg-type]


def redoc(**overrides: str) -> str:
    args = {"title": "Shop", "openapi_url": "/openapi.json", "assets_url": "/redoc/assets"}
    args.update(overrides)
    return docs.redoc_html(**args)


def script_value(page: str, name: str) -> object:
    """The JSON literal assigned to ``const name = ...;`` in the page's scripts.

    ``config`` is an object literal of one ``"key": value,`` line each (as FastAPI writes it),
    followed by the presets; its JSON lines are read.
    """
    for script in Page(page).scripts:
        if name == "config":
            match = re.search(r"const config = \{\n(.*?)\npresets: \[", script, re.DOTALL)
            if match:
                return {
                    k: v
                    for line in match.group(1).splitlines()
                    for k, v in json.loads(f"{{{line[:-1]}}}").items()
                }
            continue
        match = re.search(rf"const {name} = (.*);\n", script)
        if match:
            return json.loads(match.group(1))
    raise AssertionError(f"no const {name} in the page")


def test_swagger_page_loads_its_assets_from_assets_url():
    page = Page(swagger())
    assert page.title == "Shop"
    assert sorted(page.urls()) == [
        "/docs/assets/favicon-16x16.png",
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    icons = [attrs["href"] for tag, attrs in page.elements if tag == "link" and attrs.get("rel") == "icon"]
    assert icons == ["/docs/assets/favicon-32x32.png", "/docs/assets/favicon-16x16.png"]


def test_swagger_config():
    config = script_value(swagger(), "config")
    # FastAPI's defaults, with the online validator (another host) turned off.
    assert config == {
        "url": "/openapi.json",
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "layout": "BaseLayout",
        "showExtensions": True,
        "showCommonExtensions": True,
        "validatorUrl": None,
    }
    assert script_value(swagger(), "redirect") is None
    assert script_value(swagger(oauth2_redirect_url="/docs/oauth2-redirect"), "redirect") == (
        "/docs/oauth2-redirect"
    )


def test_pages_name_no_other_host_and_no_web_font():
    for page in (swagger(), redoc()):
        assert "fonts.googleapis" not in page
        assert "fonts.gstatic" not in page
        assert "@import" not in page
    assert re.findall(r"https?://[^\"']*", swagger()) == []
    # The only absolute URL in the ReDoc page is the CDN logo it rewrites to the local copy.
    assert re.findall(r"https?://[^\"']*", redoc()) == ["https://cdn.redoc.ly/redoc/logo-mini.svg"]


def test_redoc_page_loads_its_assets_from_assets_url():
    text = redoc()
    page = Page(text)
    assert page.title == "Shop"
    assert sorted(page.urls()) == ["/redoc/assets/redoc-logo.svg", "/redoc/assets/redoc.standalone.js"]
    assert [attrs["href"] for tag, attrs in page.elements if tag == "link" and attrs["rel"] == "icon"] == [
        "/redoc/assets/redoc-logo.svg"
    ]
    assert script_value(text, "local") == "/redoc/assets/redoc-logo.svg"
    assert script_value(text, "remote") == "https://cdn.redoc.ly/redoc/logo-mini.svg"
    init = Page(text).scripts[-1]
    assert init.strip().startswith('Redoc.init("/openapi.json", {"theme"')


def test_redoc_uses_system_fonts():
    init = Page(redoc()).scripts[-1]
    options = json.loads(re.search(r"Redoc\.init\(\"/openapi.json\", (.*), document", init).group(1))
    typography = options["theme"]["typography"]
    fonts = [typography["fontFamily"], typography["headings"]["fontFamily"], typography["code"]["fontFamily"]]
    assert all(font.endswith(("sans-serif", "monospace")) for font in fonts)
    assert not any("Montserrat" in font for font in fonts)


def test_trailing_slash_on_assets_url_is_ignored():
    assert swagger(assets_url="/docs/assets/") == swagger()
    assert redoc(assets_url="/redoc/assets/") == redoc()


HOSTILE = '</script><script>alert("x")</script><!-- & \u2028'


@pytest.mark.parametrize("render", [swagger, redoc])
def test_title_is_escaped(render):
    text = render(title=HOSTILE)
    page = Page(text)
    assert page.title == HOSTILE
    assert "<script>alert" not in text
    assert text.count("</script>") == page.script_count()


def test_urls_in_scripts_are_json_encoded_and_cannot_close_the_script():
    text = swagger(openapi_url=HOSTILE, oauth2_redirect_url=HOSTILE)
    assert text.count("</script>") == Page(text).script_count() == 2
    assert "<!--" not in text
    assert script_value(text, "config")["url"] == HOSTILE
    assert script_value(text, "redirect") == HOSTILE
    text = redoc(openapi_url=HOSTILE)
    assert text.count("</script>") == Page(text).script_count() == 3
    assert "<!--" not in text
    init = Page(text).scripts[-1]
    literal = re.search(r"Redoc\.init\((\"(?:[^\"\\]|\\.)*\"),", init).group(1)
    assert json.loads(literal) == HOSTILE


@pytest.mark.parametrize("render", [swagger, redoc])
def test_assets_url_is_escaped_in_attributes_and_scripts(render):
    base = '/a"b<c>&d'
    text = render(assets_url=base)
    assert '"b<c>' not in text
    urls = Page(text).urls()
    assert urls
    assert all(url.startswith(base + "/") for url in urls)


def test_redoc_logo_url_follows_assets_url():
    text = redoc(assets_url='/x"</script>')
    assert script_value(text, "local") == '/x"</script>/redoc-logo.svg'


@pytest.mark.parametrize("name", KNOWN)
def test_asset_path_finds_every_known_asset_inside_the_package(name):
    path = docs.asset_path(name)
    assert path is not None
    assert path.is_file()
    assert path.stat().st_size > 0
    assert path.resolve().is_relative_to(PACKAGE_DIR)


def test_asset_files():
    assert docs.asset_path("swagger-ui.css").name == "swagger-ui.css"
    assert docs.asset_path("redoc-logo.svg").name == "logo-mini.svg"
    assert docs.asset_path("favicon-32x32.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in docs.asset_path("redoc-logo.svg").read_bytes()


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../__init__.py",
        "../../__init__.py",
        "..%2F__init__.py",
        "%2e%2e",
        "/etc/passwd",
        "\\etc\\passwd",
        "swagger-ui.css/../swagger-ui.css",
        "./swagger-ui.css",
        "vendor/swagger-ui.css",
        "swagger_ui/vendor/swagger-ui.css",
        "index.html",
        "logo-mini.svg",
        "SWAGGER-UI.CSS",
        "swagger-ui.css\x00",
        "swagger-ui.css ",
        str(PACKAGE_DIR / "swagger_ui" / "vendor" / "swagger-ui.css"),
    ],
)
def test_asset_path_refuses_unknown_names_and_traversal(name):
    assert docs.asset_path(name) is None


def referenced_assets(text: str, assets_url: str) -> set[str]:
    return set(re.findall(re.escape(assets_url) + r"/([^\"'\s)<>]+)", text))


def test_every_asset_the_pages_reference_resolves():
    names = referenced_assets(swagger(), "/docs/assets") | referenced_assets(redoc(), "/redoc/assets")
    assert names == set(KNOWN)
    for name in names:
        assert docs.asset_path(name) is not None, name


def test_every_url_in_the_css_is_inline_or_a_served_asset():
    css = docs.asset_path("swagger-ui.css").read_text(encoding="utf-8")
    assert "@import" not in css
    urls = [url.strip("'\"") for url in re.findall(r"url\(\s*([^)]*?)\s*\)", css)]
    assert urls
    for url in urls:
        if not url.startswith("data:"):
            assert docs.asset_path(url.removeprefix("./")) is not None, url


def test_bundles_fetch_no_web_fonts_and_only_the_rewritten_cdn_logo():
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        text = docs.asset_path(name).read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text, name
        assert "fonts.gstatic" not in text, name
    redoc_js = docs.asset_path("redoc.standalone.js").read_text(encoding="utf-8")
    assert set(re.findall(r"https://cdn\.[^\"'`]*", redoc_js)) == {"https://cdn.redoc.ly/redoc/logo-mini.svg"}


def test_no_message_when_the_assets_are_installed():
    assert docs.missing_assets_message() is None


def test_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "openapi_ui_bundles", None)
    message = docs.missing_assets_message()
    assert message is not None
    assert "openapi-ui-bundles" in message
    assert "pip install openapi-ui-bundles" in message
    assert all(docs.asset_path(name) is None for name in KNOWN)
    assert "/docs/assets/swagger-ui.css" in swagger()


def test_package_without_some_assets(monkeypatch, tmp_path):
    monkeypatch.setattr(openapi_ui_bundles.redoc, "static_path", tmp_path)
    assert docs.missing_assets_message() == (
        "The installed 'openapi-ui-bundles' package lacks docs assets: redoc-logo.svg, redoc.standalone.js"
    )
    assert docs.asset_path("redoc.standalone.js") is None
    assert docs.asset_path("swagger-ui.css") is not None


# -- the pages as the app serves them ------------------------------------------------------------


def test_the_app_serves_both_pages_under_its_root_path():
    from lanner import Lanner
    from lanner.testing import TestClient

    client = TestClient(Lanner(title="Shop"), root_path="/api")
    swagger_page = client.get("/api/docs")
    assert swagger_page.status_code == 200
    assert swagger_page.headers["content-type"] == "text/html; charset=utf-8"
    assert Page(swagger_page.text).title == "Shop - Swagger UI"
    assert script_value(swagger_page.text, "config")["url"] == "/api/openapi.json"
    assert "/api/docs/assets/swagger-ui-bundle.js" in Page(swagger_page.text).urls()
    redoc_page = client.get("/api/redoc")
    assert redoc_page.status_code == 200
    assert Page(redoc_page.text).title == "Shop - ReDoc"
    assert script_value(redoc_page.text, "local") == "/api/redoc/assets/redoc-logo.svg"
    assert Page(redoc_page.text).scripts[-1].strip().startswith('Redoc.init("/api/openapi.json"')
    # Every asset a served page names is served too.
    for url in [*Page(swagger_page.text).urls(), *Page(redoc_page.text).urls()]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(("docs_url", "redoc_url"), [(None, "/redoc"), ("/docs", None)])
def test_each_page_can_be_turned_off_alone(docs_url, redoc_url):
    from lanner import Lanner
    from lanner.testing import TestClient

    client = TestClient(Lanner(docs_url=docs_url, redoc_url=redoc_url))
    for url in ("/docs", "/redoc"):
        served = url in (docs_url, redoc_url)
        assert client.get(url).status_code == (200 if served else 404), url
        asset = "swagger-ui.css" if url == "/docs" else "redoc.standalone.js"
        assert client.get(f"{url}/assets/{asset}").status_code == (200 if served else 404), url
    assert client.get("/openapi.json").status_code == 200


# -- Swagger UI settings, OAuth2 ------------------------------------------------------------------


def test_swagger_parameters_merge_over_the_defaults():
    page = swagger(parameters={"syntaxHighlight": {"theme": "obsidian"}, "deepLinking": False})
    config = script_value(page, "config")
    assert config["syntaxHighlight"] == {"theme": "obsidian"}
    assert config["deepLinking"] is False
    assert config["dom_id"] == "#swagger-ui"
    # FastAPI's page writes one "key": value line each; tools and tests look for them.
    assert '"syntaxHighlight": {"theme": "obsidian"},' in page
    assert '"layout": "BaseLayout",' in page
    assert "SwaggerUIBundle.presets.apis," in page
    assert script_value(page, "initOAuth") is None


def test_swagger_init_oauth_and_hostile_parameters():
    page = swagger(init_oauth={"clientId": "docs", "scopes": "read write"}, parameters={"x": HOSTILE})
    assert script_value(page, "initOAuth") == {"clientId": "docs", "scopes": "read write"}
    assert "window.ui.initOAuth(initOAuth)" in page
    assert script_value(page, "config")["x"] == HOSTILE
    assert page.count("</script>") == Page(page).script_count()


def test_swagger_standalone_layout_loads_its_preset():
    page = swagger(parameters={"layout": "StandaloneLayout", "dom_id": "#api"})
    assert "/docs/assets/swagger-ui-standalone-preset.js" in Page(page).urls()
    assert ("div", {"id": "api"}) in Page(page).elements
    path = docs.asset_path("swagger-ui-standalone-preset.js")
    assert path is not None and b"StandaloneLayout" in path.read_bytes()


def test_oauth2_redirect_page():
    page = docs.oauth2_redirect_html()
    assert Page(page).title == "Swagger UI: OAuth2 Redirect"
    assert Page(page).urls() == []
    script = Page(page).scripts[0]
    # The protocol of swagger-ui's own oauth2-redirect.html.
    for part in (
        "window.opener.swaggerUIRedirectOauth2",
        "oauth2.callback(",
        "oauth2.errCb(",
        "window.close()",
    ):
        assert part in script


def test_the_app_serves_the_oauth2_redirect_page_with_swagger_ui():
    from lanner import Lanner
    from lanner.testing import TestClient

    app = Lanner(
        title="Shop",
        swagger_ui_parameters={"tryItOutEnabled": True},
        swagger_ui_init_oauth={"clientId": "shop-docs", "usePkceWithAuthorizationCodeGrant": True},
    )
    client = TestClient(app, root_path="/api")
    page = client.get("/api/docs").text
    config = script_value(page, "config")
    assert config["tryItOutEnabled"] is True
    assert script_value(page, "redirect") == "/api/docs/oauth2-redirect"
    assert script_value(page, "initOAuth") == {
        "clientId": "shop-docs",
        "usePkceWithAuthorizationCodeGrant": True,
    }
    redirect = client.get("/api/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert redirect.headers["content-type"] == "text/html; charset=utf-8"
    assert redirect.headers["cache-control"] == "no-store"
    assert redirect.text == docs.oauth2_redirect_html()
    assert "/docs/oauth2-redirect" not in app.openapi()["paths"]


@pytest.mark.parametrize(
    ("options", "redirect_path", "served"),
    [
        ({"swagger_ui_oauth2_redirect_url": "/auth/done"}, "/auth/done", True),
        ({"swagger_ui_oauth2_redirect_url": None}, "/docs/oauth2-redirect", False),
        ({"docs_url": None}, "/docs/oauth2-redirect", False),
    ],
)
def test_the_oauth2_redirect_page_follows_its_setting(options, redirect_path, served):
    from lanner import Lanner
    from lanner.testing import TestClient

    client = TestClient(Lanner(**options))
    assert client.get(redirect_path).status_code == (200 if served else 404)
    if options.get("docs_url", "/docs") is not None:
        expected = redirect_path if served else None
        assert script_value(client.get("/docs").text, "redirect") == expected


def test_docs_routes_skip_the_apps_dependencies_and_empty_urls_turn_them_off():
    from lanner import Depends, Header, Lanner
    from lanner.testing import TestClient

    def token(x_token: str = Header()) -> str:
        return x_token

    client = TestClient(Lanner(dependencies=[Depends(token)]))
    for url in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-ui.css"):
        assert client.get(url).status_code == 200, url
    off = TestClient(Lanner(openapi_url=""))
    for url in ("/openapi.json", "/docs", "/redoc"):
        assert off.get(url).status_code == 404, url
    no_pages = TestClient(Lanner(docs_url="", redoc_url=""))
    assert [no_pages.get(url).status_code for url in ("/openapi.json", "/docs", "/redoc")] == [200, 404, 404]


@pytest.mark.parametrize(("compat", "expected"), [("lanner", ["/prod"]), ("fastapi", ["/api", "/prod"])])
def test_root_path_and_declared_servers(compat, expected):
    from lanner import Lanner
    from lanner.testing import TestClient

    app = Lanner(servers=[{"url": "/prod"}], openapi_compat=compat)
    doc = TestClient(app, root_path="/api").get("/api/openapi.json").json()
    # FastAPI puts the proxy's prefix first; lanner serves the servers the app declares.
    assert [server["url"] for server in doc["servers"]] == expected


# -- FastAPI's functions --------------------------------------------------------------------------


def test_get_swagger_ui_html():
    from lanner.openapi import get_swagger_ui_html
    from lanner.responses import HTMLResponse

    response = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Shop - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url="/static/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui.css",
        init_oauth={"clientId": "x"},
        swagger_ui_parameters={"layout": "StandaloneLayout"},
    )
    assert isinstance(response, HTMLResponse)
    text = response.body.decode()
    page = Page(text)
    assert page.title == "Shop - Swagger UI"
    assert sorted(page.urls()) == [
        "/static/swagger-ui-bundle.js",
        "/static/swagger-ui-standalone-preset.js",
        "/static/swagger-ui.css",
        "https://fastapi.tiangolo.com/img/favicon.png",
    ]
    assert script_value(text, "redirect") == "/docs/oauth2-redirect"
    assert script_value(text, "initOAuth") == {"clientId": "x"}
    # FastAPI's defaults load Swagger UI from a CDN, as FastAPI's function does.
    default = get_swagger_ui_html(openapi_url="/openapi.json", title="Docs").body.decode()
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" in Page(default).urls()


def test_get_redoc_html():
    from lanner.openapi import get_redoc_html

    text = get_redoc_html(openapi_url="/openapi.json", title="Shop - ReDoc").body.decode()
    assert Page(text).title == "Shop - ReDoc"
    assert "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js" in Page(text).urls()
    assert "fonts.googleapis.com" in text
    assert (
        Page(text).scripts[-1].strip() == 'Redoc.init("/openapi.json", {}, document.getElementById("redoc"));'
    )
    offline = get_redoc_html(
        openapi_url="/openapi.json",
        title="Shop",
        redoc_js_url="/static/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.png",
        with_google_fonts=False,
    ).body.decode()
    assert sorted(Page(offline).urls()) == ["/static/favicon.png", "/static/redoc.standalone.js"]
    assert "Montserrat" not in offline


def test_get_swagger_ui_oauth2_redirect_html():
    from lanner.openapi import get_swagger_ui_oauth2_redirect_html

    response = get_swagger_ui_oauth2_redirect_html()
    assert response.body.decode() == docs.oauth2_redirect_html()
    assert response.media_type == "text/html"


def test_fastapis_custom_docs_ui_recipe():
    """docs_src/custom_docs_ui/tutorial002: docs_url=None, then the app's own pages."""
    from lanner import Lanner
    from lanner.openapi import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from lanner.testing import TestClient

    app = Lanner(docs_url=None, redoc_url=None)
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def custom_swagger_ui_html():
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="API - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect():
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc_html():
        return get_redoc_html(
            openapi_url="/openapi.json", title="API - ReDoc", redoc_js_url="/static/redoc.js"
        )

    client = TestClient(app)
    assert "/static/swagger-ui-bundle.js" in client.get("/docs").text
    assert "window.opener.swaggerUIRedirectOauth2" in client.get(redirect_url).text
    assert "/static/redoc.js" in client.get("/redoc").text
    assert set(app.openapi()["paths"]) == set()


# -- in a browser -----------------------------------------------------------------------------------

OAUTH_APP = """
from typing import Annotated

from lanner import Depends, Lanner
from lanner.requests import Request
from lanner.responses import RedirectResponse

SCOPES = {"read": "Read things"}


class Scheme:
    def __init__(self, name, flows):
        self.security_scheme_name = name
        self.security_scheme = {"type": "oauth2", "flows": flows}

    async def __call__(self, request: Request) -> str:
        return request.headers.get("authorization", "")


implicit = Scheme("implicit", {"implicit": {"authorizationUrl": "/authorize", "scopes": SCOPES}})
code = Scheme(
    "code", {"authorizationCode": {"authorizationUrl": "/authorize", "tokenUrl": "/token", "scopes": SCOPES}}
)
denied = Scheme(
    "denied", {"authorizationCode": {"authorizationUrl": "/deny", "tokenUrl": "/token", "scopes": SCOPES}}
)
app = Lanner(title="OAuth", swagger_ui_init_oauth={"clientId": "docs-client"})


@app.get("/authorize", include_in_schema=False)
def authorize(response_type: str, redirect_uri: str, state: str = "") -> RedirectResponse:
    if response_type == "token":
        return RedirectResponse(f"{redirect_uri}#access_token=implicit-token&token_type=bearer&state={state}")
    return RedirectResponse(f"{redirect_uri}?code=the-code&state={state}")


@app.get("/deny", include_in_schema=False)
def deny(redirect_uri: str, state: str = "") -> RedirectResponse:
    return RedirectResponse(f"{redirect_uri}?error=access_denied&error_description=Nope&state={state}")


@app.post("/token", include_in_schema=False)
async def token(request: Request) -> dict[str, str]:
    form = await request.form()
    if form.get("code") != "the-code" or form.get("client_id") != "docs-client":
        return {"error": "invalid_grant"}
    return {"access_token": "code-token", "token_type": "bearer"}


@app.get("/implicit-user")
def implicit_user(authorization: Annotated[str, Depends(implicit)]) -> dict[str, str]:
    return {"authorization": authorization}


@app.get("/code-user")
def code_user(authorization: Annotated[str, Depends(code)]) -> dict[str, str]:
    return {"authorization": authorization}


@app.get("/denied-user")
def denied_user(authorization: Annotated[str, Depends(denied)]) -> dict[str, str]:
    return {"authorization": authorization}
"""


@pytest.mark.slow
def test_swagger_ui_signs_in_through_the_oauth2_redirect_page(browser, start_server, tmp_path):
    """Swagger UI's Authorize dialog, a popup to the authorization server, back through our page."""
    from urllib.parse import urlsplit

    from playwright.sync_api import expect

    app_file = tmp_path / "oauth_app.py"
    app_file.write_text(OAUTH_APP, encoding="utf-8")
    server = start_server([sys.executable, "-m", "lanner.cli", "run", str(app_file)])
    server.wait_ready("/openapi.json")
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1"
            else route.abort("blockedbyclient")
        ),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/docs")
    page.locator("button.authorize").first.click()
    containers = page.locator(".modal-ux .auth-container")

    def sign_in(name: str) -> Any:
        container = containers.filter(has_text=name)
        with page.expect_popup() as popup:
            container.get_by_role("button", name="Apply given OAuth2 credentials").click()
        return container, popup.value

    # The implicit flow: the token comes back in the redirect page's fragment.
    implicit, popup = sign_in("implicit (OAuth2, implicit)")
    expect(implicit.get_by_role("button", name="Remove authorization")).to_be_visible()
    # The authorization code flow: the page hands the code over, Swagger UI exchanges it.
    code, _ = sign_in("code (OAuth2, authorizationCode)")
    expect(code.get_by_role("button", name="Remove authorization")).to_be_visible()
    # An error from the authorization server is shown in the dialog.
    denied, _ = sign_in("denied (OAuth2, authorizationCode)")
    expect(denied).to_contain_text("[access_denied]: Nope.")
    assert popup.is_closed()
    # (A fragment never reaches the server, nor the browser's request log.)
    assert f"{server.url}/docs/oauth2-redirect" in requests
    assert any(url.startswith(f"{server.url}/docs/oauth2-redirect?code=the-code") for url in requests)
    assert any(url.startswith(f"{server.url}/docs/oauth2-redirect?error=access_denied") for url in requests)
    page.get_by_role("button", name="Close").first.click()
    for operation_id, expected in (
        ("implicit_user_get", "Bearer implicit-token"),
        ("code_user_get", "Bearer code-token"),
    ):
        operation = page.locator(f"#operations-default-{operation_id}")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        expect(
            operation.locator(".live-responses-table .response .response-col_description")
        ).to_contain_text(expected)
    assert errors == []
    context.close()


def test_root_path_can_stay_out_of_the_servers():
    from lanner import Lanner
    from lanner.openapi.pages import add_docs_routes
    from lanner.testing import TestClient

    app = Lanner(openapi_url=None)
    add_docs_routes(
        app,
        title="x",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        document=lambda: {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {}},
        root_path_in_servers=False,
    )
    assert "servers" not in TestClient(app, root_path="/api").get("/api/openapi.json").json()
