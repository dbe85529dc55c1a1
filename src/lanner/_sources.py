"""Read what a route's plan names from the request: query, headers, cookies and the body.

`Endpoint` calls these for the sources its plan reads, and nothing else: a route without a body
never touches `receive_body`, one without a form never parses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lanner.cookies import parse_cookies
from lanner.datastructures import parse_query_string
from lanner.exceptions import HTTPException
from lanner.forms import FORM_SCOPE_KEY, FormData, UploadFile
from lanner.requests import ClientDisconnect
from lanner.signature import BodyPlan, CallPlan, FormPlan, ParamModel
from lanner.types import Receive, Scope

__all__ = [
    "SourceReader",
    "bind_body",
    "bind_form",
    "close_form",
    "cookie_header",
    "file_content",
    "form_values",
    "header_data",
    "is_form_type",
    "is_json_type",
    "query_data",
    "read_model",
    "receive_body",
    "validate_sources",
]


def is_form_type(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def is_json_type(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def query_data(scope: Scope, keys: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    pairs = parse_query_string(scope["query_string"])
    data: dict[str, Any] = dict(pairs)
    for key, repeated in keys:
        if repeated and key in data:
            data[key] = [value for name, value in pairs if name == key]
    return data


def header_data(scope: Scope, keys: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    raw = scope["headers"]
    data: dict[str, Any] = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(raw)}
    for key, repeated in keys:
        if repeated and key in data:
            target = key.encode("latin-1")
            data[key] = [v.decode("latin-1") for k, v in raw if k == target]
    return data


def cookie_header(scope: Scope) -> str:
    """The request's cookies as one header: HTTP/2 clients may send one ``cookie`` line each."""
    values: list[bytes] = [value for name, value in scope["headers"] if name == b"cookie"]
    return b"; ".join(values).decode("latin-1")


class SourceReader:
    """Which of the query, headers and cookies a route's functions read: decided once, per route.

    `read` then parses, once per request, only those (both endpoints, HTTP and WebSocket, use it).
    """

    __slots__ = ("header_keys", "query_keys", "reads_cookies", "reads_headers", "reads_query")

    def __init__(self, plans: Sequence[CallPlan]) -> None:
        self.query_keys = tuple(k for p in plans for k in p.query_keys) + tuple(
            k for p in plans for m in p.query_models for k in m.keys
        )
        self.reads_query = any(p.query or p.query_models for p in plans)
        self.header_keys = tuple(k for p in plans for k in p.header_keys) + tuple(
            k for p in plans for m in p.header_models for k in m.keys
        )
        self.reads_headers = any(p.header or p.header_models for p in plans)
        self.reads_cookies = any(p.cookie or p.cookie_models for p in plans)

    def read(
        self, scope: Scope
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, str] | None]:
        """Parse the query, headers and cookies the route reads (None for the others)."""
        query = query_data(scope, self.query_keys) if self.reads_query else None
        headers = header_data(scope, self.header_keys) if self.reads_headers else None
        cookies = parse_cookies(cookie_header(scope)) if self.reads_cookies else None
        return query, headers, cookies


def validate_sources(
    plan: CallPlan,
    path_params: dict[str, Any],
    query: dict[str, Any] | None,
    headers: dict[str, Any] | None,
    cookies: dict[str, str] | None,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    """Validate the path, query, header and cookie values `plan` reads into `kwargs`."""
    if plan.path is not None:
        plan.path.validate(path_params, kwargs, errors)
    if query is not None:
        if plan.query is not None:
            plan.query.validate(query, kwargs, errors)
        for model in plan.query_models:
            kwargs[model.name] = read_model(model, query, errors)
    if headers is not None:
        if plan.header is not None:
            plan.header.validate(headers, kwargs, errors)
        for model in plan.header_models:
            kwargs[model.name] = read_model(model, headers, errors)
    if cookies is not None:
        if plan.cookie is not None:
            plan.cookie.validate(cookies, kwargs, errors)
        for model in plan.cookie_models:
            kwargs[model.name] = read_model(model, cookies, errors)


def read_model(model: ParamModel, data: dict[str, Any], errors: list[dict[str, Any]]) -> Any:
    """Validate a model read one field per query key, header or cookie."""
    values: dict[str, Any] = {}
    for model_key, request_key in model.fields:
        if request_key in data:
            values[model_key] = data[request_key]
    if model.extras:
        values.update((key, value) for key, value in data.items() if key not in model.taken)
    if model.optional and not values:
        return model.default
    if not model.renames:
        return model.validator.validate_python(values, errors)
    found: list[dict[str, Any]] = []
    result = model.validator.validate_python(values, found)
    for error in found:
        loc = error["loc"]
        if len(loc) > 1 and loc[1] in model.renames:
            error["loc"] = [loc[0], model.renames[loc[1]], *loc[2:]]
    errors.extend(found)
    return result


async def receive_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, str | None]:
    """Read the whole body and the content type straight from the ASGI channel.

    Raises:
        HTTPException: 400 for a malformed Content-Length, 413 over `limit`.
        ClientDisconnect: the client left before the body was complete.
    """
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            if not value.isdigit():
                raise HTTPException(400, "Invalid Content-Length header")
            # Over 18 digits is over any limit, and int() refuses more than 4,300 digits.
            digits = value.lstrip(b"0")
            if len(digits) > 18 or int(digits or b"0") > limit:
                raise HTTPException(413, f"Request body exceeds {limit} bytes")
    message = await receive()
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"Request body exceeds {limit} bytes")
        if not message.get("more_body", False):
            if not chunks:
                return chunk, content_type
            chunks.append(chunk)
            return b"".join(chunks), content_type
        chunks.append(chunk)
        message = await receive()


def bind_body(
    body: BodyPlan,
    raw: bytes,
    content_type: str | None,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
    strict: bool = True,
) -> None:
    """Validate `raw` as the plan's body into `kwargs`, or record why it is missing.

    Several body parameters (an embedded body) that are missing, or sent in something other than
    a JSON object, are each reported missing at ``["body", key]``.

    Raises:
        HTTPException: 415 when the Content-Type is not JSON, or is absent and `strict`.
    """
    if not raw:
        if body.whole is None:
            assert body.embedded is not None
            body.embedded.validate({}, kwargs, errors)
        elif body.required:
            errors.append({"type": "missing", "loc": ["body"], "msg": "Field required", "input": None})
        else:
            kwargs[body.whole_name] = body.whole_default
        return
    if content_type is None:
        if strict:
            raise HTTPException(415, f"Expected a JSON body ({body.media_type}), got no Content-Type")
    elif not is_json_type(content_type):
        raise HTTPException(
            415, f"Expected a JSON body ({body.media_type}), got {content_type.partition(';')[0]!r}"
        )
    if body.whole is not None:
        kwargs[body.whole_name] = body.whole.validate_json(raw, errors)
        return
    assert body.embedded is not None
    found: list[dict[str, Any]] = []
    body.embedded.validate_json(raw, kwargs, found)
    if any(len(error["loc"]) == 1 for error in found):
        # Valid JSON but not an object: no key was sent, as FastAPI reports it.
        found.clear()
        body.embedded.validate({}, kwargs, found)
    errors.extend(found)


async def bind_form(
    plan: FormPlan, form: FormData, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    """Validate the form fields and files `plan` reads into `kwargs`."""
    data = form_values(form, plan.keys)
    for key in plan.byte_keys:
        value = data.get(key)
        if isinstance(value, list):
            data[key] = [await file_content(item) for item in value]
        elif value is not None:
            data[key] = await file_content(value)
    if plan.fields is not None:
        plan.fields.validate(data, kwargs, errors)
    if plan.files is not None:
        plan.files.validate(data, kwargs, errors)
    for model in plan.models:
        kwargs[model.name] = model.validator.validate_python(data, errors)


def form_values(form: FormData, keys: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    """The values of `keys` (a list for repeated keys, else the last one); empty values are absent.

    Browsers send every input, filled or not: an empty text field as "", an empty file input as a
    nameless, empty file.
    """
    grouped: dict[str, list[Any]] = {}
    for name, value in form.multi_items():
        if value == "" or (isinstance(value, UploadFile) and not value.filename and not value.size):
            continue
        grouped.setdefault(name, []).append(value)
    return {key: values if repeated else values[-1] for key, repeated in keys if (values := grouped.get(key))}


async def file_content(value: Any) -> Any:
    """The bytes of an upload, for a ``bytes`` file parameter (other values are validated as sent)."""
    if isinstance(value, UploadFile):
        await value.seek(0)
        return await value.read()
    return value


async def close_form(scope: Scope) -> None:
    form: FormData = scope.pop(FORM_SCOPE_KEY)
    await form.close()
