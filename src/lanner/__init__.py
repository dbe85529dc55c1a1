"""lanner: typed, validated, async APIs and friendly server-rendered apps in one fast framework."""

from lanner import status
from lanner.app import Lanner
from lanner.appcontext import AppContext, pass_app_context
from lanner.background import BackgroundTasks
from lanner.batching import batched
from lanner.checks import RouteDefinitionError
from lanner.encoders import jsonable_encoder
from lanner.exceptions import HTTPException, RequestValidationError
from lanner.forms import FormData, FormLimits, UploadFile
from lanner.params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security, SecurityScopes
from lanner.requests import Request
from lanner.responses import EventSourceResponse, Response, ServerSentEvent
from lanner.routing import APIRoute, Router
from lanner.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
    OpenIdConnect,
)
from lanner.sessions import Session, flash, get_flashed_messages
from lanner.websockets import WebSocket, WebSocketDisconnect, WebSocketException, WebSocketState

__version__ = "0.1.0"

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "APIRoute",
    "AppContext",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "Form",
    "FormData",
    "FormLimits",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "HTTPException",
    "Header",
    "Lanner",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect",
    "Path",
    "Query",
    "Request",
    "RequestValidationError",
    "Response",
    "RouteDefinitionError",
    "Router",
    "Security",
    "SecurityScopes",
    "ServerSentEvent",
    "Session",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketState",
    "__version__",
    "batched",
    "flash",
    "get_flashed_messages",
    "jsonable_encoder",
    "pass_app_context",
    "status",
]
