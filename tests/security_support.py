"""A one-route app for the security dependency tests (tests/test_security_*.py)."""

from typing import Annotated, Any

from lanner import Depends, Lanner
from lanner.security import HTTPAuthorizationCredentials, HTTPBasicCredentials
from lanner.testing import TestClient


def client_for(dependency: Any) -> TestClient:
    """An app whose only route returns what `dependency` produced (or None) as JSON."""
    app = Lanner()

    @app.get("/")
    async def show(value: Annotated[Any, Depends(dependency)]) -> dict[str, Any]:
        if isinstance(value, HTTPAuthorizationCredentials):
            return {"scheme": value.scheme, "credentials": value.credentials}
        if isinstance(value, HTTPBasicCredentials):
            return {"username": value.username, "password": value.password}
        return {"value": value}

    return TestClient(app)
