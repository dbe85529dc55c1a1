"""The Swagger UI and ReDoc pages, with every asset served by the application itself.

The pages are small HTML documents rendered here; the JavaScript, CSS and images they load come from
the `openapi-ui-bundles` package (Swagger UI and ReDoc builds) and are served by the app under
``assets_url``, so the pages work on a network with no access to the internet. The package is imported
only when a page or an asset is asked for: an app that disables its docs pages does not need it.

Two things in the vendored builds would reach out to other hosts, and the pages turn both off:
Swagger UI's online validator badge (``validatorUrl: null``) and the Redocly logo that ReDoc's sidebar
loads from a CDN (its URL is rewritten to the copy of that logo the package ships). ReDoc's own bundle
loads no web fonts; the page gives it the system font stacks instead of the Google Fonts it names.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template
from types import ModuleType
from typing import Final

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
<link rel="icon" type="image/png" sizes="32x32" href="$assets/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="$assets/favicon-16x16.png">
<link rel="stylesheet" href="$assets/swagger-ui.css">
<style>html { overflow-y: scroll; } body { margin: 0; background: #fafafa; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="$assets/swagger-ui-bundle.js"></script>
<script>
const config = $config;
const redirect = $oauth2_redirect_url;
if (redirect !== null) {
  config.oauth2RedirectUrl = new URL(redirect, window.location.href).href;
}
config.dom_id = "#swagger-ui";
config.presets = [SwaggerUIBundle.presets.apis];
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
""")

_REDOC_PAGE: Final = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="icon" type="image/svg+xml" href="$assets/redoc-logo.svg">
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<div id="redoc"></div>
<script>
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
<script src="$assets/redoc.standalone.js"></script>
<script>
Redoc.init($openapi_url, $options, document.getElementById("redoc"));
</script>
</body>
</html>
""")


def _script_json(value: object) -> str:
    """Encode ``value`` as a JavaScript literal that cannot close or confuse its ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _base(assets_url: str) -> str:
    return assets_url.rstrip("/")


def swagger_ui_html(
    *, title: str, openapi_url: str, assets_url: str, oauth2_redirect_url: str | None = None
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

    Returns:
        The HTML document.
    """
    config = {"url": openapi_url, "deepLinking": True, "layout": "BaseLayout", "validatorUrl": None}
    return _SWAGGER_PAGE.substitute(
        title=html.escape(title),
        assets=_attr(_base(assets_url)),
        config=_script_json(config),
        oauth2_redirect_url=_script_json(oauth2_redirect_url),
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
    options = {
        "theme": {
            "typography": {
                "fontFamily": _SANS,
                "headings": {"fontFamily": _SANS},
                "code": {"fontFamily": _MONO},
            }
        }
    }
    return _REDOC_PAGE.substitute(
        title=html.escape(title),
        assets=_attr(base),
        remote_logo=_script_json(_REDOC_CDN_LOGO),
        local_logo=_script_json(f"{base}/redoc-logo.svg"),
        openapi_url=_script_json(openapi_url),
        options=_script_json(options),
    )


def _bundles() -> ModuleType | None:
    try:
        import openapi_ui_bundles  # optional: only the docs pages need it
    except ImportError:
        return None
    return openapi_ui_bundles


def _locate(bundles: ModuleType, name: str) -> Path | None:
    tool, filename = _ASSETS[name]  # callers pass known names only
    path = Path(getattr(bundles, tool).static_path) / filename
    return path if path.is_file() else None


def asset_path(name: str) -> Path | None:
    """Return the installed file served as ``{assets_url}/{name}``.

    Only the names the pages load are known (``swagger-ui-bundle.js``, ``swagger-ui.css``,
    ``favicon-32x32.png``, ``favicon-16x16.png``, ``redoc.standalone.js``, ``redoc-logo.svg``); a
    name is looked up in that fixed list, never joined to a directory, so ``..`` or an absolute path
    cannot reach another file.

    Args:
        name: The last segment of the requested asset URL.

    Returns:
        The file's path, or None for an unknown name or when the asset package is not installed.
    """
    if name not in _ASSETS:
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
