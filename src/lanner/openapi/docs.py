"""The Swagger UI and ReDoc pages, with every asset served by the application itself.

The pages are small HTML documents rendered here; the JavaScript, CSS and images they load come from
the `openapi-ui-bundles` package (Swagger UI and ReDoc builds) and are served by the app under
``assets_url``, so the pages work on a network with no access to the internet. The package is imported
only when a page or an asset is asked for: an app that disables its docs pages does not need it.

Two things in the vendored builds would reach out to other hosts, and the pages turn both off:
Swagger UI's online validator badge (``validatorUrl: null``) and the Redocly logo that ReDoc's sidebar
loads from a CDN (its URL is rewritten to the copy of that logo the package ships). ReDoc's own bundle
loads no web fonts; the page gives it the system font stacks instead of the Google Fonts it names.

Swagger UI's OAuth2 redirect page (`oauth2_redirect_html`) is lanner's own: the package does not
ship swagger-ui's, and the page needs no asset.

FastAPI's functions are here too (`get_swagger_ui_html`, `get_redoc_html`,
`get_swagger_ui_oauth2_redirect_html`), for apps that serve their own docs pages: they load the
assets from the URLs they are given (a CDN unless told otherwise, as in FastAPI).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from string import Template
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from lanner.responses import HTMLResponse

#: Asset name served under ``assets_url`` -> (tool folder in the package, file name).
#: The fixed list is the only way a name becomes a path, so no request can reach another file.
_ASSETS: Final[dict[str, tuple[str, str]]] = {
    "swagger-ui-bundle.js": ("swagger_ui", "swagger-ui-bundle.js"),
    "swagger-ui.css": ("swagger_ui", "swagger-ui.css"),
    "favicon-32x32.png": ("swagger_ui", "favicon-32x32.png"),
    "favicon-16x16.png": ("swagger_ui", "favicon-16x16.png"),
    "redoc.standalone.js": ("redoc", "redoc.standalone.js"),
    "redoc-logo.svg": ("redoc", "logo-mini.svg"),
}
#: Loaded only by a Swagger UI page whose layout is ``StandaloneLayout``.
_OPTIONAL_ASSETS: Final[dict[str, tuple[str, str]]] = {
    "swagger-ui-standalone-preset.js": ("swagger_ui", "swagger-ui-standalone-preset.js"),
}

#: The Swagger UI settings every page starts from; ``swagger_ui_parameters`` are merged over them.
#: FastAPI's defaults, plus the online validator turned off (it would contact another host).
SWAGGER_UI_DEFAULT_PARAMETERS: Final[Mapping[str, Any]] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
    "validatorUrl": None,
}
#: FastAPI's name for `SWAGGER_UI_DEFAULT_PARAMETERS`.
swagger_ui_default_parameters = SWAGGER_UI_DEFAULT_PARAMETERS

_CDN_SWAGGER_JS: Final = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
_CDN_SWAGGER_CSS: Final = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
_CDN_REDOC_JS: Final = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
_FASTAPI_FAVICON: Final = "https://fastapi.tiangolo.com/img/favicon.png"
_GOOGLE_FONTS: Final = "https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700"

_PACKAGE: Final = "openapi-ui-bundles"
_REDOC_CDN_LOGO: Final = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_SANS: Final = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
)
_MONO: Final = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace'

_SWAGGER_PAGE: Final = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
$icons
<link rel="stylesheet" href="$css">
<style>html { overflow-y: scroll; } body { margin: 0; background: #fafafa; }</style>
</head>
<body>
<div id="$dom_id"></div>
<script src="$bundle"></script>
$preset<script>
const config = {
$config
presets: [
  SwaggerUIBundle.presets.apis,
  SwaggerUIBundle.SwaggerUIStandalonePreset || window.SwaggerUIStandalonePreset
].filter(Boolean),
};
const redirect = $oauth2_redirect_url;
if (redirect !== null) {
  config.oauth2RedirectUrl = new URL(redirect, window.location.href).href;
}
window.ui = SwaggerUIBundle(config);
const initOAuth = $init_oauth;
if (initOAuth !== null) {
  window.ui.initOAuth(initOAuth);
}
</script>
</body>
</html>
""")

# Swagger UI opens the authorization server in a popup after storing, in its own window,
# ``swaggerUIRedirectOauth2 = {auth, state, redirectUrl, callback, errCb}``; the server sends the
# popup back here with the result in the query (code flows) or the fragment (implicit flow). This
# page hands it to the opener the way swagger-ui's own oauth2-redirect.html does, then closes.
_OAUTH2_REDIRECT_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<noscript>This page completes a sign-in from the API docs; it needs JavaScript.</noscript>
<script>
"use strict";
(function () {
  var CODE_FLOWS = ["accessCode", "authorizationCode", "authorization_code"];

  function received() {
    var hash = window.location.hash.substring(1);
    var text = /code|token|error/.test(hash) ? hash.replace("?", "&") : window.location.search.substring(1);
    var values = {};
    new URLSearchParams(text).forEach(function (value, key) { values[key] = value; });
    return values;
  }

  function run() {
    var oauth2 = null;
    try {
      oauth2 = window.opener && window.opener.swaggerUIRedirectOauth2;
    } catch (error) {
      // An opener on another origin: nothing this page may hand the result to.
    }
    if (!oauth2) {
      document.body.textContent = "Nothing to complete: open this page from the API docs' Authorize dialog.";
      return;
    }
    var qp = received();
    var isValid = qp.state === oauth2.state;
    var redirectUrl = oauth2.redirectUrl;
    var flow = oauth2.auth.schema.get("flow");
    if (CODE_FLOWS.indexOf(flow) !== -1 && !oauth2.auth.code) {
      if (!isValid) {
        oauth2.errCb({
          authId: oauth2.auth.name,
          source: "auth",
          level: "warning",
          message: "Authorization may be unsafe, passed state was changed in server. " +
            "The passed state wasn't returned from auth server."
        });
      }
      if (qp.code) {
        delete oauth2.state;
        oauth2.auth.code = qp.code;
        oauth2.callback({auth: oauth2.auth, redirectUrl: redirectUrl});
      } else {
        var message = "[Authorization failed]: no accessCode received from the server.";
        if (qp.error) {
          message = "[" + qp.error + "]: " +
            (qp.error_description ? qp.error_description + ". "
              : "no accessCode received from the server. ") +
            (qp.error_uri ? "More info: " + qp.error_uri : "");
        }
        oauth2.errCb({authId: oauth2.auth.name, source: "auth", level: "error", message: message});
      }
    } else {
      oauth2.callback({auth: oauth2.auth, token: qp, isValid: isValid, redirectUrl: redirectUrl});
    }
    window.close();
  }

  if (document.readyState !== "loading") {
    run();
  } else {
    document.addEventListener("DOMContentLoaded", run);
  }
})();
</script>
</body>
</html>
"""

_REDOC_PAGE: Final = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
$head
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<noscript>ReDoc needs JavaScript to show the API documentation.</noscript>
<div id="redoc"></div>
$logo<script src="$bundle"></script>
<script>
Redoc.init($openapi_url, $options, document.getElementById("redoc"));
</script>
</body>
</html>
""")

_REDOC_LOGO_SCRIPT: Final = Template("""<script>
(() => {
  // ReDoc's sidebar footer loads its logo from a CDN; point it at the copy served with the page.
  const remote = $remote_logo;
  const local = $local_logo;
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    return setAttribute.call(this, name, value === remote ? local : value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) { src.set.call(this, value === remote ? local : value); },
  });
})();
</script>
""")

_SYSTEM_FONTS: Final[dict[str, Any]] = {
    "theme": {
        "typography": {
            "fontFamily": _SANS,
            "headings": {"fontFamily": _SANS},
            "code": {"fontFamily": _MONO},
        }
    }
}


def _script_json(value: object) -> str:
    """Encode ``value`` as a JavaScript literal that cannot close or confuse its ``<script>`` element.

    Values JSON cannot hold (a date, a set) are converted as pydantic converts them.
    """
    try:
        text = json.dumps(value, ensure_ascii=True)
    except TypeError:
        from pydantic_core import to_jsonable_python

        text = json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _base(assets_url: str) -> str:
    return assets_url.rstrip("/")


def swagger_ui_config(openapi_url: str, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration object given to ``SwaggerUIBundle``: the defaults, then `parameters`."""
    return {"url": openapi_url, **SWAGGER_UI_DEFAULT_PARAMETERS, **(parameters or {})}


def _render_swagger(
    *,
    title: str,
    config: dict[str, Any],
    icons: list[tuple[str, str | None]],
    css_url: str,
    js_url: str,
    preset_url: str | None,
    oauth2_redirect_url: str | None,
    init_oauth: Mapping[str, Any] | None,
) -> str:
    links = []
    for href, size in icons:
        sized = f' type="image/png" sizes="{size}"' if size else ""
        links.append(f'<link rel="icon"{sized} href="{_attr(href)}">')
    # Only the standalone layout needs the preset; the page loads it only then.
    needs_preset = config.get("layout") == "StandaloneLayout" and preset_url is not None
    preset = f'<script src="{_attr(preset_url)}"></script>\n' if needs_preset and preset_url else ""
    dom_id = str(config.get("dom_id") or "#swagger-ui")
    return _SWAGGER_PAGE.substitute(
        title=html.escape(title),
        icons="\n".join(links),
        css=_attr(css_url),
        bundle=_attr(js_url),
        preset=preset,
        dom_id=_attr(dom_id.removeprefix("#")),
        # One ``"key": value,`` line each, as FastAPI writes them (tests and tools look for them).
        config="\n".join(f"{_script_json(key)}: {_script_json(value)}," for key, value in config.items()),
        oauth2_redirect_url=_script_json(oauth2_redirect_url),
        init_oauth=_script_json(dict(init_oauth) if init_oauth else None),
    )


def swagger_ui_html(
    *,
    title: str,
    openapi_url: str,
    assets_url: str,
    oauth2_redirect_url: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    init_oauth: Mapping[str, Any] | None = None,
) -> str:
    """Render the Swagger UI page for the document at ``openapi_url``.

    The page loads its script, style sheet and favicons from ``assets_url`` only (see `asset_path`),
    with deep links on and the online validator off.

    Args:
        title: The page title; HTML-escaped.
        openapi_url: The URL of the OpenAPI document, usually a path on the same origin.
        assets_url: The URL under which the app serves `asset_path`'s files, e.g. ``/docs/assets``.
        oauth2_redirect_url: The URL of an OAuth2 redirect page for Swagger UI's Authorize dialog;
            resolved against the page's own URL, so a path is enough. None leaves it unset.
        parameters: Swagger UI configuration merged over `SWAGGER_UI_DEFAULT_PARAMETERS`
            (JSON values only: functions cannot be passed).
        init_oauth: The settings given to Swagger UI's ``initOAuth`` (``clientId``, ``scopes``,
            ``usePkceWithAuthorizationCodeGrant``...); None does not call it.

    Returns:
        The HTML document.
    """
    base = _base(assets_url)
    return _render_swagger(
        title=title,
        config=swagger_ui_config(openapi_url, parameters),
        icons=[(f"{base}/favicon-32x32.png", "32x32"), (f"{base}/favicon-16x16.png", "16x16")],
        css_url=f"{base}/swagger-ui.css",
        js_url=f"{base}/swagger-ui-bundle.js",
        preset_url=f"{base}/swagger-ui-standalone-preset.js",
        oauth2_redirect_url=oauth2_redirect_url,
        init_oauth=init_oauth,
    )


def redoc_html(*, title: str, openapi_url: str, assets_url: str) -> str:
    """Render the ReDoc page for the document at ``openapi_url``.

    The page loads its script, favicon and sidebar logo from ``assets_url`` only and uses system
    fonts, so it makes no request to another host.

    Args:
        title: The page title; HTML-escaped.
        openapi_url: The URL of the OpenAPI document, usually a path on the same origin.
        assets_url: The URL under which the app serves `asset_path`'s files, e.g. ``/redoc/assets``.

    Returns:
        The HTML document.
    """
    base = _base(assets_url)
    logo = _REDOC_LOGO_SCRIPT.substitute(
        remote_logo=_script_json(_REDOC_CDN_LOGO),
        local_logo=_script_json(f"{base}/redoc-logo.svg"),
    )
    return _REDOC_PAGE.substitute(
        title=html.escape(title),
        head=f'<link rel="icon" type="image/svg+xml" href="{_attr(base)}/redoc-logo.svg">',
        logo=logo,
        bundle=f"{_attr(base)}/redoc.standalone.js",
        openapi_url=_script_json(openapi_url),
        options=_script_json(_SYSTEM_FONTS),
    )


def oauth2_redirect_html() -> str:
    """Render the page Swagger UI's OAuth2 popup returns to (``oauth2RedirectUrl``).

    It reads what the authorization server sent (a code, a token or an error, in the query or the
    fragment), hands it to the docs page that opened the popup, as swagger-ui's own
    ``oauth2-redirect.html`` does, and closes. It loads nothing.
    """
    return _OAUTH2_REDIRECT_PAGE


# -- FastAPI's functions ---------------------------------------------------------------------------


def _html_response(text: str) -> HTMLResponse:
    from lanner.responses import HTMLResponse

    return HTMLResponse(text)


def get_swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    swagger_js_url: str = _CDN_SWAGGER_JS,
    swagger_css_url: str = _CDN_SWAGGER_CSS,
    swagger_favicon_url: str = _FASTAPI_FAVICON,
    oauth2_redirect_url: str | None = None,
    init_oauth: Mapping[str, Any] | None = None,
    swagger_ui_parameters: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """A Swagger UI page loading its assets from the URLs given (FastAPI's function).

    The defaults are FastAPI's CDN URLs; pass the URLs of files the app serves itself (for example
    a `StaticFiles` mount) for docs that work offline. lanner's own ``/docs`` page needs none of
    this: it serves its assets from the `openapi-ui-bundles` package.

    Args:
        openapi_url: the URL of the OpenAPI document.
        title: the page title; HTML-escaped.
        swagger_js_url: where the page loads Swagger UI's script from.
        swagger_css_url: where the page loads Swagger UI's style sheet from.
        swagger_favicon_url: the page's favicon.
        oauth2_redirect_url: the OAuth2 redirect page (`get_swagger_ui_oauth2_redirect_html`);
            a path is resolved against the page's URL.
        init_oauth: the settings given to Swagger UI's ``initOAuth``.
        swagger_ui_parameters: Swagger UI configuration merged over
            `SWAGGER_UI_DEFAULT_PARAMETERS`.
    """
    preset = None
    if swagger_js_url.endswith("swagger-ui-bundle.js"):
        preset = swagger_js_url.removesuffix("swagger-ui-bundle.js") + "swagger-ui-standalone-preset.js"
    text = _render_swagger(
        title=title,
        config=swagger_ui_config(openapi_url, swagger_ui_parameters),
        icons=[(swagger_favicon_url, None)],
        css_url=swagger_css_url,
        js_url=swagger_js_url,
        preset_url=preset,
        oauth2_redirect_url=oauth2_redirect_url,
        init_oauth=init_oauth,
    )
    return _html_response(text)


def get_redoc_html(
    *,
    openapi_url: str,
    title: str,
    redoc_js_url: str = _CDN_REDOC_JS,
    redoc_favicon_url: str = _FASTAPI_FAVICON,
    with_google_fonts: bool = True,
) -> HTMLResponse:
    """A ReDoc page loading its script from `redoc_js_url` (FastAPI's function).

    Args:
        openapi_url: the URL of the OpenAPI document.
        title: the page title; HTML-escaped.
        redoc_js_url: where the page loads ReDoc's script from (FastAPI's CDN URL by default).
        redoc_favicon_url: the page's favicon.
        with_google_fonts: load ReDoc's fonts from Google Fonts; False uses the system's fonts
            (and makes no request for fonts).
    """
    head = [f'<link rel="icon" href="{_attr(redoc_favicon_url)}">']
    if with_google_fonts:
        head.insert(0, f'<link rel="stylesheet" href="{_attr(_GOOGLE_FONTS)}">')
    text = _REDOC_PAGE.substitute(
        title=html.escape(title),
        head="\n".join(head),
        logo="",
        bundle=_attr(redoc_js_url),
        openapi_url=_script_json(openapi_url),
        options=_script_json({} if with_google_fonts else _SYSTEM_FONTS),
    )
    return _html_response(text)


def get_swagger_ui_oauth2_redirect_html() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (FastAPI's function); see `oauth2_redirect_html`."""
    return _html_response(oauth2_redirect_html())


def _bundles() -> ModuleType | None:
    try:
        import openapi_ui_bundles  # optional: only the docs pages need it
    except ImportError:
        return None
    return openapi_ui_bundles


def _locate(bundles: ModuleType, name: str) -> Path | None:
    tool, filename = _ASSETS.get(name) or _OPTIONAL_ASSETS[name]  # callers pass known names only
    path = Path(getattr(bundles, tool).static_path) / filename
    return path if path.is_file() else None


def asset_path(name: str) -> Path | None:
    """Return the installed file served as ``{assets_url}/{name}``.

    Only the names the pages load are known (``swagger-ui-bundle.js``, ``swagger-ui.css``,
    ``favicon-32x32.png``, ``favicon-16x16.png``, ``redoc.standalone.js``, ``redoc-logo.svg``, and
    ``swagger-ui-standalone-preset.js`` for the standalone layout); a name is looked up in that
    fixed list, never joined to a directory, so ``..`` or an absolute path cannot reach another
    file.

    Args:
        name: The last segment of the requested asset URL.

    Returns:
        The file's path, or None for an unknown name or when the asset package is not installed.
    """
    if name not in _ASSETS and name not in _OPTIONAL_ASSETS:
        return None
    bundles = _bundles()
    return None if bundles is None else _locate(bundles, name)


def missing_assets_message() -> str | None:
    """Explain why the docs pages cannot be served, or return None when they can.

    Returns:
        None when the asset package is importable and holds every asset the pages load, else a
        message naming the package to install (or the files it lacks).
    """
    bundles = _bundles()
    if bundles is None:
        return f"The docs pages need the {_PACKAGE!r} package, which is not installed: pip install {_PACKAGE}"
    missing = sorted(name for name in _ASSETS if _locate(bundles, name) is None)
    if missing:
        return f"The installed {_PACKAGE!r} package lacks docs assets: {', '.join(missing)}"
    return None
