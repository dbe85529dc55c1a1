"""lanner: typed, validated, async APIs and friendly server-rendered apps in one fast framework."""

from lanner import status
from lanner.app import Lanner
from lanner.background import BackgroundTasks
from lanner.exceptions import HTTPException, RequestValidationError
from lanner.forms import FormData, FormLimits, UploadFile
from lanner.params import Body, Cookie, Depends, File, Form, Header, Path, Query
from lanner.requests import Request
from lanner.responses import Response
from lanner.routing import Router
from lanner.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from lanner.sessions import Session, flash, get_flashed_messages

__version__ = "0.1.0"

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "File",
    "Form",
    "FormData",
    "FormLimits",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPException",
    "Header",
    "Lanner",
    "OAuth2PasswordBearer",
    "Path",
    "Query",
    "Request",
    "RequestValidationError",
    "Response",
    "Router",
    "Session",
    "UploadFile",
    "__version__",
    "flash",
    "get_flashed_messages",
    "status",
]
