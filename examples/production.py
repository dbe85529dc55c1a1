"""An API ready for the internet: lanner's production built-ins, all switched on.

Needs ``pip install 'lanner[production,forms]'``. Run it behind your proxy with::

    REDIS_URL=redis://localhost:6379/0 JWT_SECRET=$(openssl rand -hex 32) \\
        lanner run examples/production.py --workers 4

What it turns on, outermost first (lanner fixes this order, whatever the order of the calls):
errors as problem documents, the real client address from the proxy's ``X-Forwarded-For``,
timeouts on slow bodies and slow handlers, a request id on every response and log record, one
JSON access line per request, Prometheus metrics at /metrics, an OpenTelemetry span per request,
trusted hosts, security headers, CORS for one front end, and compression. Then a rate-limited
login that issues JWTs, scoped routes, and the probes an orchestrator polls.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated, Any

from lanner import Depends, HTTPException, Lanner, Request, Security
from lanner.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    ProxyHeadersMiddleware,
    SecurityHeadersMiddleware,
    Timeout,
    TimeoutMiddleware,
    TrustedHostMiddleware,
)
from lanner.ratelimit import RateLimit, RedisStore, client_ip, user
from lanner.responses import PlainTextResponse, Response
from lanner.security import JWTAuth, OAuth2PasswordRequestForm, PasswordHasher

# Several workers share their limits through Redis; one process can keep them in memory.
REDIS_URL = os.environ.get("REDIS_URL")
store = RedisStore(REDIS_URL) if REDIS_URL else None
# Tokens signed with a random secret die with the process: set JWT_SECRET in production.
SECRET = os.environ.get("JWT_SECRET") or secrets.token_hex(32)

app = Lanner(title="Production example", access_log="json", metrics_url="/metrics", tracing=True)
app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
app.add_middleware(TimeoutMiddleware, request_timeout=10, body_timeout=5)
app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com", "*.example.com", "testserver"])
app.add_middleware(SecurityHeadersMiddleware, content_security_policy="default-src 'none'")
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example.com"],
    allow_credentials=True,
    allow_methods=["GET", "POST"],
    allow_headers=["Authorization", "Content-Type"],
)
app.add_middleware(GZipMiddleware)
app.health("/healthz")
app.ready("/readyz", checks=[])  # add your database and cache checks here

auth = JWTAuth(
    SECRET,
    issuer="https://api.example.com",
    token_url="token",
    scopes={"reports:read": "Read reports"},
)
hasher = PasswordHasher()
USERS = {"ann": (hasher.hash("wonderland"), ["reports:read"])}


@app.post("/token", rate_limit=RateLimit("5/minute", key=client_ip, store=store))
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    """Trade a user name and password for a token; five tries a minute per client address."""
    stored, scopes = USERS.get(form.username, (None, []))
    if not hasher.verify(form.password, stored):  # an unknown user costs a hash check too
        raise HTTPException(400, "Incorrect username or password")
    return {"access_token": auth.issue(form.username, scopes=scopes), "token_type": "bearer"}


@app.get(
    "/reports",
    dependencies=[Security(auth, scopes=["reports:read"])],
    # Run after the token check, so `user` counts per signed-in user.
    rate_limit=RateLimit("10/second", "1000/hour", key=user, store=store),
)
async def reports(request: Request) -> list[dict[str, Any]]:
    """The caller's reports: needs the ``reports:read`` scope."""
    return [{"owner": request.state.user, "title": "Q3"}] * 20


@app.get("/reports/export", skip_middleware=[GZipMiddleware], timeout=Timeout(request=120))
async def export(claims: Annotated[dict[str, Any], Security(auth, scopes=["reports:read"])]) -> Response:
    """A large export: two minutes to build it, and sent as is (the client stores it compressed)."""
    return PlainTextResponse("owner,title\n" + f"{claims['sub']},Q3\n" * 1000, media_type="text/csv")
