"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

Handlers read forms with ``Form()`` and ``File()`` parameters (`lanner.params`), or whole with
``await request.form()``, which returns a `FormData` of `str` values and `UploadFile` objects.
Parsing streams the body, spools uploads to temporary files past 1 MiB and enforces `FormLimits`
(on by default). Multipart bodies need python-multipart: ``pip install 'lanner[forms]'``.

Parsed forms are cached in the ASGI scope under `FORM_SCOPE_KEY`, so a CSRF check and the handler
share one parse; the endpoint closes the form (removing its temporary files) after the response.
A route whose app or options set limits puts them under `FORM_LIMITS_SCOPE_KEY`, where
``request.form()`` finds them.
"""

from lanner.forms.parsers import (
    DEFAULT_LIMITS,
    MULTIPART,
    URLENCODED,
    FormLimits,
    parse_form,
    parse_options_header,
    require_multipart,
)
from lanner.forms.uploads import SPOOL_MAX_SIZE, FormData, FormValue, UploadFile, close_uploads

#: The ASGI scope key under which `Request.form()` caches the parsed form.
FORM_SCOPE_KEY = "lanner.form"
#: The ASGI scope key holding the route's `FormLimits` when the app or the route sets them.
FORM_LIMITS_SCOPE_KEY = "lanner.form_limits"

__all__ = [
    "DEFAULT_LIMITS",
    "FORM_LIMITS_SCOPE_KEY",
    "FORM_SCOPE_KEY",
    "MULTIPART",
    "SPOOL_MAX_SIZE",
    "URLENCODED",
    "FormData",
    "FormLimits",
    "FormValue",
    "UploadFile",
    "close_uploads",
    "parse_form",
    "parse_options_header",
    "require_multipart",
]
