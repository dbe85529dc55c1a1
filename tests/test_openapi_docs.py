"""The offline docs pages: their HTML, what they load, and the asset allow-list."""

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

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
    """The JSON literal assigned to ``const name = ...;`` in the page's scripts."""
    for script in Page(page).scripts:
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
    assert config == {
        "url": "/openapi.json",
        "deepLinking": True,
        "layout": "BaseLayout",
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
        "swagger-ui-standalone-preset.js",
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
