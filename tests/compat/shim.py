"""The "FastAPI conventions" shim: lanner's documented choices, translated to FastAPI's at the client.

RULE: a failing test counts as a deliberate difference when it passes once lanner's documented
conventions (problem+json errors, 308 slash redirects, problem schemas in OpenAPI) are translated
to FastAPI's at the test client; nothing else is translated.

The translations, applied by `FastAPIConventionsTransport` to every response that
`lanner.testing.TestClient` receives, and nowhere else (lanner's server code is untouched):

- An ``application/problem+json`` body becomes FastAPI's ``application/json`` body: a validation
  problem (one with ``errors``) becomes ``{"detail": [{"type", "loc", "msg", "input", "ctx"?}]}``
  with lanner's items shaped as FastAPI shapes pydantic's (lanner's form and file locations
  ``["form", name]`` and ``["file", name]`` become FastAPI's ``["body", name]``; the exception in a
  ``value_error``'s ``ctx``, which lanner sends as its message, becomes ``{}`` as FastAPI's
  ``jsonable_encoder`` makes it); any other problem becomes ``{"detail": <its detail>}``. Every
  header but the content type and length is kept (``WWW-Authenticate``, ``Allow``...).
- A 308 that only adds or removes a trailing slash (lanner's ``redirect_slashes``) becomes a 307.
- In an OpenAPI document, the response objects lanner adds to describe its problem documents are
  replaced by FastAPI's: the 422 ``ValidationProblem`` becomes FastAPI's 422 ``HTTPValidationError``
  response, the 400/404/413/415 responses lanner documents on its own are dropped, the ``Problem``
  content lanner adds to declared error responses is removed, and the ``Problem`` /
  ``ValidationProblem`` component schemas give way to FastAPI's ``ValidationError`` /
  ``HTTPValidationError``.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

RULE = (
    "a failing test counts as a deliberate difference when it passes once lanner's documented "
    "conventions (problem+json errors, 308 slash redirects, problem schemas in OpenAPI) are "
    "translated to FastAPI's at the test client; nothing else is translated"
)

PROBLEM_JSON = "application/problem+json"
REF_PREFIX = "#/components/schemas/"

# FastAPI 0.165's fastapi/openapi/utils.py, verbatim.
FASTAPI_VALIDATION_ERROR: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}
FASTAPI_HTTP_VALIDATION_ERROR: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {"$ref": REF_PREFIX + "ValidationError"},
        }
    },
}
FASTAPI_422_RESPONSE: dict[str, Any] = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}},
}

# lanner's problem schemas (src/lanner/openapi/generator.py) and the responses it documents on its
# own, for statuses it answers before any handler runs: (status, description).
LANNER_PROBLEM_SCHEMAS = ("Problem", "ValidationProblem")
LANNER_OWN_RESPONSES = frozenset(
    {
        ("404", "No resource at this path"),
        ("400", "Malformed body"),
        ("413", "Body larger than the limit"),
        ("415", "Unsupported body media type"),
    }
)

# lanner's own request-body locations; FastAPI reports every body field under "body".
_LANNER_BODY_SOURCES = {"form": "body", "file": "body"}
# The error types whose ``ctx["error"]`` is the exception a validator raised: lanner sends its
# message, FastAPI's jsonable_encoder turns the exception object into {}.
_EXCEPTION_CONTEXTS = frozenset({"value_error", "assertion_error"})
_ERROR_KEYS = ("type", "loc", "msg", "input", "ctx")


# -- problem documents -----------------------------------------------------------------------------


def fastapi_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One item of a lanner validation problem's ``errors``, as FastAPI's ``detail`` shows it."""
    result = {key: copy.deepcopy(error[key]) for key in _ERROR_KEYS if key in error}
    loc = result.get("loc")
    if isinstance(loc, list) and loc and loc[0] in _LANNER_BODY_SOURCES:
        loc[0] = _LANNER_BODY_SOURCES[loc[0]]
    ctx = result.get("ctx")
    if (
        result.get("type") in _EXCEPTION_CONTEXTS
        and isinstance(ctx, dict)
        and isinstance(ctx.get("error"), str)
    ):
        ctx["error"] = {}
    return result


def fastapi_error_body(problem: Mapping[str, Any]) -> dict[str, Any]:
    """The body FastAPI sends for the error lanner answered with the problem document `problem`."""
    errors = problem.get("errors")
    if isinstance(errors, list):
        return {"detail": [fastapi_error(e) for e in errors if isinstance(e, Mapping)]}
    return {"detail": problem.get("detail")}


# -- redirects -------------------------------------------------------------------------------------


def is_slash_redirect(status_code: int, request_path: str, location: str | None) -> bool:
    """Whether a response is lanner's ``redirect_slashes`` 308 (only a trailing slash differs)."""
    if status_code != 308 or not location:
        return False
    target = urllib.parse.urlsplit(location).path
    return target != request_path and target.rstrip("/") == request_path.rstrip("/")


# -- OpenAPI ---------------------------------------------------------------------------------------


def is_openapi_document(value: Any) -> bool:
    """Whether a JSON value is an OpenAPI document."""
    return isinstance(value, dict) and isinstance(value.get("openapi"), str) and "info" in value


def _is_problem_ref(media: Any, names: Sequence[str] = LANNER_PROBLEM_SCHEMAS) -> bool:
    schema = media.get("schema") if isinstance(media, Mapping) else None
    return isinstance(schema, Mapping) and schema.get("$ref") in {REF_PREFIX + n for n in names}


def _fastapi_responses(responses: dict[str, Any]) -> bool:
    """Rewrite one operation's responses in place; return whether a 422 refers to FastAPI's schemas."""
    uses_validation = False
    for code in list(responses):
        response = responses[code]
        if not isinstance(response, dict):
            continue
        content = response.get("content")
        if not isinstance(content, dict):
            continue
        problem = content.get(PROBLEM_JSON)
        if _is_problem_ref(problem, ("ValidationProblem",)):
            responses[code] = copy.deepcopy(FASTAPI_422_RESPONSE)
            if response.get("description"):
                responses[code]["description"] = response["description"]
            uses_validation = True
            continue
        if not _is_problem_ref(problem):
            continue
        if (code, response.get("description")) in LANNER_OWN_RESPONSES and len(content) == 1:
            del responses[code]
            continue
        del content[PROBLEM_JSON]
        if not content:
            del response["content"]
    return uses_validation


def openapi_to_fastapi(document: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with lanner's problem responses and schemas replaced by FastAPI's."""
    result = copy.deepcopy(dict(document))
    uses_validation = False

    def operations(paths: Any) -> list[dict[str, Any]]:
        found = []
        if isinstance(paths, dict):
            for item in paths.values():
                if isinstance(item, dict):
                    found.extend(op for op in item.values() if isinstance(op, dict) and "responses" in op)
        return found

    stack = [*operations(result.get("paths")), *operations(result.get("webhooks"))]
    while stack:
        operation = stack.pop()
        if isinstance(operation.get("responses"), dict):
            uses_validation |= _fastapi_responses(operation["responses"])
        for callback in (operation.get("callbacks") or {}).values():
            stack.extend(operations(callback))
    components = result.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    if isinstance(schemas, dict):
        for name in LANNER_PROBLEM_SCHEMAS:
            schemas.pop(name, None)
    if uses_validation:
        if not isinstance(components, dict):
            components = result["components"] = {}
        schemas = components.setdefault("schemas", {})
        schemas["ValidationError"] = copy.deepcopy(FASTAPI_VALIDATION_ERROR)
        schemas["HTTPValidationError"] = copy.deepcopy(FASTAPI_HTTP_VALIDATION_ERROR)
        components["schemas"] = dict(sorted(schemas.items()))
    if isinstance(components, dict):
        if "schemas" in components and not components["schemas"]:
            del components["schemas"]
        if not components:
            del result["components"]
    return result


# -- the client boundary ---------------------------------------------------------------------------

#: How many responses the shim has changed in this process; a test the shim made pass changed some.
translations = 0


def _json_bytes(value: Any) -> bytes:
    # What FastAPI's JSONResponse renders.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def translate_response(response: httpx.Response) -> httpx.Response:
    """`response` under FastAPI's conventions (the same object when nothing applies)."""
    request = response.request
    status = response.status_code
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    new_status, new_body = status, None
    if is_slash_redirect(status, request.url.path, response.headers.get("location")):
        new_status = 307
    if media == PROBLEM_JSON:
        try:
            problem = json.loads(response.content)
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            new_body = _json_bytes(fastapi_error_body(problem))
    elif media == "application/json" and b'"openapi"' in response.content:
        try:
            document = json.loads(response.content)
        except ValueError:
            document = None
        if is_openapi_document(document):
            new_body = _json_bytes(openapi_to_fastapi(document))
    if new_status == status and new_body is None:
        return response
    global translations
    translations += 1
    headers = httpx.Headers(response.headers)
    if new_body is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(new_body))
    return httpx.Response(
        new_status,
        headers=headers,
        content=response.content if new_body is None else new_body,
        request=request,
        extensions=response.extensions,
    )


class FastAPIConventionsTransport(httpx.BaseTransport):
    """Wraps a `TestClient`'s transport and translates every response with `translate_response`."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the wrapped transport, then translate the response."""
        response = self.inner.handle_request(request)
        response.read()
        return translate_response(response)

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


_installed: list[Callable[..., None]] = []


def install() -> None:
    """Make every `lanner.testing.TestClient` created from now on use the shim."""
    from lanner import testing

    if _installed:
        return
    original = testing.TestClient.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._transport = FastAPIConventionsTransport(self._transport)

    testing.TestClient.__init__ = __init__  # type: ignore[method-assign]
    _installed.append(original)
