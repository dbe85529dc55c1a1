"""Inspect a handler or dependency once and compile a frozen plan of where each argument comes from.

The plan answers, before any request arrives: which request sources are read, which validator checks
each, how the body is read, which arguments are lanner objects (Request, Response, BackgroundTasks)
and which are dependencies.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection, Iterable
from typing import Annotated, Any, get_args, get_origin

from lanner._plan_checks import check_dependency, check_marker_classes, check_readable
from lanner._validation import (
    FieldSpec,
    SourceValidator,
    ValueValidator,
    is_model_type,
    is_sequence_type,
    model_field_keys,
    model_requires_fields,
    no_default,
)
from lanner.background import BackgroundTasks
from lanner.forms import MULTIPART, URLENCODED, UploadFile, require_multipart
from lanner.params import MISSING, Body, Depends, File, Header, Param, Path, Query, SecurityScopes
from lanner.requests import HTTPConnection, Request
from lanner.responses import Response
from lanner.sessions.mapping import Session
from lanner.websockets import WebSocket

CallKind = typing.Literal["async", "sync", "async_generator", "generator"]
#: How an error names where a parameter is read from.
_SOURCE_WORDS = {"query": "query string", "path": "path", "header": "headers", "cookie": "cookies"}
BodyKind = typing.Literal["json", "form"]


@dataclasses.dataclass(frozen=True, slots=True)
class ParamModel:
    """A pydantic model whose fields are read one key each from the query, headers, cookies or a form.

    Attributes:
        name: the parameter's name.
        validator: validates the bare model (a dict keyed by field alias or name).
        keys: each field's request key (a header name for headers) and whether it repeats.
        fields: (model key, request key) pairs.
        extras: the model allows or forbids extra keys: every other key is passed on too.
        taken: the request keys of its fields (and their unconverted header names), which are
            never extras.
        optional: the annotation is ``Model | None``: with none of its keys sent, the parameter
            gets `default` instead of a validation error.
        default: the parameter's default when `optional`.
        renames: model keys whose request key differs (errors name the request key).
    """

    name: str
    validator: ValueValidator
    keys: tuple[tuple[str, bool], ...]
    fields: tuple[tuple[str, str], ...] = ()
    extras: bool = False
    taken: frozenset[str] = frozenset()
    optional: bool = False
    default: Any = None
    renames: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class FormPlan:
    """How a form body is bound: which fields and files are read and what validates them.

    Attributes:
        fields: the ``Form()`` parameters (errors located at ``["form", key]``).
        files: the ``File()`` and ``UploadFile`` parameters (errors at ``["file", key]``).
        models: the models read field by field from the form.
        keys: every form key read, and whether it collects repeated values.
        byte_keys: the file keys whose parameters want the content as bytes, not an `UploadFile`.
        required: whether some field must be present.
    """

    fields: SourceValidator | None
    files: SourceValidator | None
    models: tuple[ParamModel, ...]
    keys: tuple[tuple[str, bool], ...]
    byte_keys: tuple[str, ...]
    required: bool


@dataclasses.dataclass(frozen=True, slots=True)
class BodyPlan:
    """How the body is read: JSON (one whole value, or several embedded by key) or a form."""

    whole: ValueValidator | None
    whole_name: str
    whole_default: Any
    embedded: SourceValidator | None
    media_type: str
    whole_key: str = ""
    kind: BodyKind = "json"
    form: FormPlan | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The body keys this plan reads (the whole body's would-be key when it is not embedded)."""
        if self.form is not None:
            return tuple(key for key, _ in self.form.keys)
        if self.embedded is not None:
            return tuple(spec.key for spec in self.embedded.fields)
        return (self.whole_key,)

    @property
    def required(self) -> bool:
        """Whether a request without a body is invalid."""
        if self.form is not None:
            return self.form.required
        if self.embedded is not None:
            return any(spec.required for spec in self.embedded.fields)
        return self.whole_default is MISSING


@dataclasses.dataclass(frozen=True, slots=True)
class CallPlan:
    """Everything lanner needs to call one function with a request's values."""

    call: Callable[..., Any]
    kind: CallKind
    path: SourceValidator | None
    query: SourceValidator | None
    query_keys: tuple[tuple[str, bool], ...]
    query_models: tuple[ParamModel, ...]
    header: SourceValidator | None
    header_keys: tuple[tuple[str, bool], ...]
    cookie: SourceValidator | None
    header_models: tuple[ParamModel, ...]
    cookie_models: tuple[ParamModel, ...]
    body: BodyPlan | None
    request_args: tuple[str, ...]
    response_args: tuple[str, ...]
    background_args: tuple[str, ...]
    session_args: tuple[str, ...]
    dependencies: tuple[tuple[str, Depends], ...]
    security_scopes_args: tuple[str, ...]
    return_annotation: Any
    #: Parameters that receive the `WebSocket` (WebSocket routes only).
    websocket_args: tuple[str, ...] = ()

    @property
    def reads_request(self) -> bool:
        """Whether calling this function needs anything from the request itself."""
        return bool(
            self.path
            or self.query
            or self.query_models
            or self.header
            or self.cookie
            or self.header_models
            or self.cookie_models
            or self.body
            or self.request_args
            or self.response_args
            or self.background_args
            or self.session_args
            or self.websocket_args
        )


def _callee(call: Callable[..., Any]) -> Callable[..., Any]:
    """The function that actually runs when `call` is called (a callable instance's ``__call__``)."""
    if inspect.isfunction(call) or inspect.ismethod(call) or isinstance(call, functools.partial):
        return call
    return getattr(call, "__call__", call)  # noqa: B004 - we want the method, not a bool


def _hint_source(call: Callable[..., Any]) -> Any:
    """The object whose annotations describe `call`'s parameters."""
    if inspect.isclass(call):
        return call.__init__
    while isinstance(call, functools.partial):
        call = call.func
    return call if inspect.isroutine(call) else _callee(call)


def call_kind(call: Callable[..., Any]) -> CallKind:
    """Classify a callable by how lanner must invoke it."""
    if inspect.isclass(call):
        return "sync"
    # inspect's predicates see through functools.partial themselves.
    target = _callee(call)
    if inspect.isasyncgenfunction(target):
        return "async_generator"
    if inspect.isgeneratorfunction(target):
        return "generator"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


def _split_annotated(annotation: Any) -> tuple[Any, Param | Depends | None]:
    """Separate lanner's marker from an ``Annotated`` type, keeping any other metadata."""
    if get_origin(annotation) is not Annotated:
        return annotation, None
    base, *extras = get_args(annotation)
    markers = [m for m in extras if isinstance(m, (Param, Depends))]
    if len(markers) > 1:
        raise TypeError(f"two markers: {markers[0]!r} and {markers[1]!r}")
    marker = markers[0] if markers else None
    rest = [m for m in extras if m is not marker]
    if rest:
        return Annotated[(base, *rest)], marker
    return base, marker


def _is_special(annotation: Any, cls: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, cls)


class _Collector:
    """Accumulates the fields of each source while the parameters are read."""

    def __init__(self, owner: str, call: Callable[..., Any]) -> None:
        self.owner = owner
        self.call = call
        self.fields: dict[str, list[FieldSpec]] = {
            "path": [],
            "query": [],
            "header": [],
            "cookie": [],
            "body": [],
            "form": [],
            "file": [],
        }
        self.markers: dict[str, Param] = {}
        self.param_models: dict[str, list[ParamModel]] = {"query": [], "header": [], "cookie": []}
        self.form_models: list[ParamModel] = []
        self.request_args: list[str] = []
        self.response_args: list[str] = []
        self.background_args: list[str] = []
        self.session_args: list[str] = []
        self.security_scopes_args: list[str] = []
        self.websocket_args: list[str] = []
        self.dependencies: list[tuple[str, Depends]] = []

    def add(self, name: str, annotation: Any, default: Any, path_names: Collection[str]) -> None:
        check_marker_classes(self.call, name, annotation, default)
        try:
            annotation, marker = _split_annotated(annotation)
        except TypeError as exc:
            raise TypeError(f"{self.owner}: parameter {name!r} has {exc}") from None
        if isinstance(default, (Param, Depends)):
            if marker is not None:
                raise TypeError(f"{self.owner}: parameter {name!r} has two markers")
            marker, default = default, (default.default if isinstance(default, Param) else MISSING)
        if default is inspect.Parameter.empty:
            default = MISSING
        if isinstance(marker, Depends):
            call = marker.dependency or (None if annotation is inspect.Parameter.empty else annotation)
            check_dependency(self.call, name, call)
            assert call is not None
            self.dependencies.append((name, _with_call(marker, call)))
            return
        if marker is None:
            for cls, target in (
                (Request, self.request_args),
                (Response, self.response_args),
                (BackgroundTasks, self.background_args),
                (Session, self.session_args),
                (SecurityScopes, self.security_scopes_args),
                (WebSocket, self.websocket_args),
                # Either kind of connection: the request, or on a WebSocket route the socket.
                (HTTPConnection, self.request_args),
            ):
                if _is_special(annotation, cls):
                    target.append(name)
                    return
            if name in path_names:
                marker = Path()
            elif _is_upload_type(annotation):
                marker = File()
            elif _is_body_type(annotation):
                marker = Body()
            else:
                marker = Query()
        self._add_param(name, annotation, default, marker, path_names)

    def _add_param(
        self, name: str, annotation: Any, default: Any, marker: Param, path_names: Collection[str]
    ) -> None:
        source = marker.source
        if marker.default is not MISSING and default is MISSING:
            default = marker.default
        if source == "path":
            if name not in path_names and marker.alias not in path_names:
                raise TypeError(f"{self.owner}: Path parameter {name!r} is not in the route path")
            default = MISSING
        if annotation is inspect.Parameter.empty:
            annotation = Any
        key = marker.alias or name
        if isinstance(marker, Header) and marker.alias is None and marker.convert_underscores:
            key = name.replace("_", "-")
        if source == "header":
            key = key.lower()
        if source in self.param_models:
            model = _optional_model(annotation)
            if model is not None:
                self.param_models[source].append(_param_model(name, annotation, model, default, marker))
                return
        if source == "file":
            if is_model_type(annotation):
                raise TypeError(f"{self.owner}: File() parameter {name!r} cannot be a model; use Form()")
            require_multipart()  # fail at registration, not on the first upload
        if source == "form" and is_model_type(annotation):
            keys = tuple(model_field_keys(annotation))
            self.form_models.append(ParamModel(name, ValueValidator("form", annotation), keys))
            return
        if source != "file":
            check_readable(self.call, name, annotation, _SOURCE_WORDS.get(source, source))
        spec = FieldSpec(
            name, key, annotation, no_default() if default is MISSING else default, marker.constraints()
        )
        self.fields[source].append(spec)
        self.markers[name] = marker


def _optional_model(annotation: Any) -> Any:
    """The model of a ``Model`` or ``Model | None`` annotation, else None."""
    if is_model_type(annotation) and hasattr(annotation, "model_fields"):
        return annotation
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2 and is_model_type(args[0]):
            return args[0] if hasattr(args[0], "model_fields") else None
    return None


def _param_model(name: str, annotation: Any, model: Any, default: Any, marker: Param) -> ParamModel:
    """Plan a model read field by field from the query, headers or cookies (as FastAPI does)."""
    source = marker.source
    convert = source == "header" and getattr(marker, "convert_underscores", True)
    fields: list[tuple[str, str]] = []
    keys: list[tuple[str, bool]] = []
    renames: dict[str, str] = {}
    for field_name, info in model.model_fields.items():
        model_key = info.alias or field_name
        request_key = model_key
        if source == "header":
            if convert and info.alias is None:
                request_key = field_name.replace("_", "-")
            request_key = request_key.lower()
            if request_key != model_key:
                renames[model_key] = request_key
        fields.append((model_key, request_key))
        keys.append((request_key, is_sequence_type(info.annotation)))
    extra = model.model_config.get("extra")
    return ParamModel(
        name,
        ValueValidator(source, model),
        tuple(keys),
        tuple(fields),
        extras=extra in ("allow", "forbid"),
        taken=frozenset(request_key for _, request_key in fields) | renames.keys(),
        optional=model is not annotation,
        default=None if default is MISSING else default,
        renames=renames,
    )


def _with_call(marker: Depends, call: Callable[..., Any]) -> Depends:
    """`marker` with its callable filled in (the annotation's, for a bare ``Depends()``)."""
    if marker.dependency is call:
        return marker
    filled = copy.copy(marker)  # keeps a `Security`'s scopes
    filled.dependency = call
    return filled


def _is_body_type(annotation: Any) -> bool:
    """Whether an unmarked parameter of this type is read from the body.

    Models, dataclasses and TypedDicts, sequences and mappings of them, and any of those made
    optional (``Item | None``): none of them can come from a query string.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_body_type(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_body_type(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        return True
    return is_model_type(annotation) or (
        is_sequence_type(annotation) and any(is_model_type(a) for a in get_args(annotation))
    )


def _is_upload_type(annotation: Any) -> bool:
    """Whether an unmarked parameter is a file: `UploadFile`, optional or in a sequence."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_upload_type(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_upload_type(arg) for arg in get_args(annotation) if arg is not type(None))
    if is_sequence_type(annotation):
        return any(_is_upload_type(arg) for arg in get_args(annotation))
    return _is_special(annotation, UploadFile)


def _reads_bytes(annotation: Any) -> bool:
    """Whether a file parameter wants the content (``bytes``, optional or in a list)."""
    origin = get_origin(annotation)
    if origin is Annotated or origin in (typing.Union, types.UnionType) or is_sequence_type(annotation):
        return any(_reads_bytes(arg) for arg in get_args(annotation) if arg is not type(None))
    return annotation is bytes


def _form_plan(collector: _Collector) -> BodyPlan | None:
    fields, files, models = collector.fields["form"], collector.fields["file"], collector.form_models
    if not (fields or files or models):
        return None
    if collector.fields["body"]:
        raise TypeError(
            f"{collector.owner}: JSON body parameters and Form()/File() parameters cannot share a function"
        )
    keys = tuple((spec.key, is_sequence_type(spec.annotation)) for spec in (*fields, *files))
    plan = FormPlan(
        fields=SourceValidator("form", fields) if fields else None,
        files=SourceValidator("file", files) if files else None,
        models=tuple(models),
        keys=keys + tuple(key for model in models for key in model.keys),
        byte_keys=tuple(spec.key for spec in files if _reads_bytes(spec.annotation)),
        required=any(spec.required for spec in (*fields, *files))
        or any(model_requires_fields(model.validator.annotation) for model in models),
    )
    return BodyPlan(None, "", MISSING, None, MULTIPART if files else URLENCODED, kind="form", form=plan)


def body_kind(plans: Iterable[CallPlan]) -> BodyKind | None:
    """The kind of body the functions of one route read together, if any.

    Raises:
        TypeError: one of them reads a JSON body and another a form.
    """
    kinds = {plan.body.kind for plan in plans if plan.body is not None}
    if len(kinds) > 1:
        raise TypeError("a route cannot read both a JSON body and Form()/File() parameters")
    return kinds.pop() if kinds else None


def _body_plan(specs: list[FieldSpec], markers: dict[str, Param], embed: bool) -> BodyPlan | None:
    if not specs:
        return None
    first = markers[specs[0].name]
    media_type = first.media_type if isinstance(first, Body) else "application/json"
    if len(specs) == 1 and not embed and not (isinstance(first, Body) and first.embed):
        spec = specs[0]
        default = MISSING if spec.required else spec.default
        validator = ValueValidator("body", spec.annotation, spec.constraints)
        return BodyPlan(validator, spec.name, default, None, media_type, spec.key)
    return BodyPlan(None, "", MISSING, SourceValidator("body", specs), media_type)


def build_plan(
    call: Callable[..., Any], path_names: Collection[str] = (), *, embed_body: bool = False
) -> CallPlan:
    """Inspect `call` and return its frozen `CallPlan`.

    Args:
        call: the handler or dependency.
        path_names: the parameter names the route's path template defines.
        embed_body: read even a single body parameter from its key in a JSON object (used when
            other functions of the same route read the body too).

    Raises:
        TypeError: a parameter cannot be planned (two markers in one parameter, a Path parameter
            missing from the template, a positional-only parameter, unresolvable annotations).
            ``*args`` and ``**kwargs`` are ignored.
    """
    owner = getattr(call, "__qualname__", repr(call))
    try:
        hints = typing.get_type_hints(_hint_source(call), include_extras=True)
    except (NameError, TypeError) as exc:
        raise TypeError(f"{owner}: cannot resolve type hints: {exc}") from exc
    collector = _Collector(owner, call)
    for param in inspect.signature(call).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(f"{owner}: positional-only parameter {param.name!r} is not supported")
        collector.add(param.name, hints.get(param.name, param.annotation), param.default, path_names)
    fields = collector.fields
    return CallPlan(
        call=call,
        kind=call_kind(call),
        path=SourceValidator("path", fields["path"]) if fields["path"] else None,
        query=SourceValidator("query", fields["query"]) if fields["query"] else None,
        query_keys=tuple((s.key, is_sequence_type(s.annotation)) for s in fields["query"]),
        query_models=tuple(collector.param_models["query"]),
        header=SourceValidator("header", fields["header"]) if fields["header"] else None,
        header_keys=tuple((s.key, is_sequence_type(s.annotation)) for s in fields["header"]),
        cookie=SourceValidator("cookie", fields["cookie"]) if fields["cookie"] else None,
        header_models=tuple(collector.param_models["header"]),
        cookie_models=tuple(collector.param_models["cookie"]),
        body=_form_plan(collector) or _body_plan(fields["body"], collector.markers, embed_body),
        request_args=tuple(collector.request_args),
        response_args=tuple(collector.response_args),
        background_args=tuple(collector.background_args),
        session_args=tuple(collector.session_args),
        dependencies=tuple(collector.dependencies),
        security_scopes_args=tuple(collector.security_scopes_args),
        websocket_args=tuple(collector.websocket_args),
        return_annotation=hints.get("return", inspect.Signature.empty),
    )
