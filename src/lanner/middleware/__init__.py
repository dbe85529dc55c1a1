"""ASGI middleware that ships with lanner, each added with ``app.add_middleware(Class, **options)``.

Each one takes a fixed place in the stack whatever the order it is added in (its ``layer``,
smallest outermost): the app's error boundary, then `ProxyHeadersMiddleware`,
`TimeoutMiddleware`, `RequestIDMiddleware`, tracing, metrics and the access log
(`lanner.observability`), `TrustedHostMiddleware`, `HTTPSRedirectMiddleware`,
`SecurityHeadersMiddleware`, `CORSMiddleware`, your own middleware, and `GZipMiddleware`
innermost. A route bypasses one with ``skip_middleware=[GZipMiddleware]``.
"""

from lanner.middleware.compression import GZipMiddleware
from lanner.middleware.cors import CORSMiddleware
from lanner.middleware.functions import FunctionMiddleware
from lanner.middleware.https_redirect import HTTPSRedirectMiddleware
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.middleware.request_id import RequestIDFilter, RequestIDMiddleware, current_request_id
from lanner.middleware.security_headers import SecurityHeadersMiddleware
from lanner.middleware.timeout import Timeout, TimeoutMiddleware
from lanner.middleware.trusted_host import TrustedHostMiddleware

__all__ = [
    "CORSMiddleware",
    "FunctionMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "ProxyHeadersMiddleware",
    "RequestIDFilter",
    "RequestIDMiddleware",
    "SecurityHeadersMiddleware",
    "Timeout",
    "TimeoutMiddleware",
    "TrustedHostMiddleware",
    "current_request_id",
]
