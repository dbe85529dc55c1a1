"""Mistakes in a handler's signature that Python accepts and lanner can name before any request.

`signature.build_plan` calls these while it reads each parameter. Each raises `PlanError`: a
`TypeError` that knows the function, the parameter, what is wrong and how to fix it, which
`lanner.checks` turns into an error naming the file and line.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from pydantic import PydanticSchemaGenerationError, TypeAdapter

from lanner.params import Depends, Param


class PlanError(TypeError):
    """A parameter (or return annotation) lanner cannot plan, with the fix.

    Attributes:
        call: the handler or dependency whose signature is wrong.
        parameter: the parameter's name (None for the return annotation).
        problem: what is wrong, in a sentence.
        fix: what to write instead.
    """

    def __init__(self, call: Callable[..., Any], parameter: str | None, problem: str, fix: str) -> None:
        owner = getattr(call, "__qualname__", repr(call))
        where = f"parameter {parameter!r}" if parameter is not None else "return annotation"
        super().__init__(f"{owner}: {where}: {problem} (fix: {fix})")
        self.call = call
        self.parameter = parameter
        self.problem = problem
        self.fix = fix


def _marker_class(value: Any) -> type | None:
    """`value` when it is the class of a marker (``Depends``, ``Query``...) rather than an instance."""
    if isinstance(value, type) and issubclass(value, (Param, Depends)):
        return value
    return None


def check_marker_classes(call: Callable[..., Any], name: str, annotation: Any, default: Any) -> None:
    """Refuse ``Annotated[str, Depends]`` and ``db: str = Depends``: the class, not a marker.

    Raises:
        PlanError: a marker class stands where a marker belongs.
    """
    metadata = get_args(annotation)[1:] if get_origin(annotation) is Annotated else ()
    for value in (*metadata, default):
        cls = _marker_class(value)
        if cls is None:
            continue
        spelled = f"{cls.__name__}(get_{name})" if issubclass(cls, Depends) else f"{cls.__name__}()"
        if value is default:
            problem = f"its default is the class {cls.__name__}, not a {cls.__name__}(...) marker"
            fix = f"call it: {name}: ... = {spelled}"
        else:
            problem = f"Annotated[..., {cls.__name__}] names the class {cls.__name__}, not a marker"
            fix = f"call it: Annotated[..., {spelled}]"
        raise PlanError(call, name, problem, fix)


def check_dependency(call: Callable[..., Any], name: str, dependency: Any) -> None:
    """Refuse a ``Depends(x)`` whose `x` cannot be called, saying what it is.

    Raises:
        PlanError: `dependency` is not callable (``Depends(get_db())`` passes the generator).
    """
    if callable(dependency):
        return
    if dependency is None:
        raise PlanError(
            call,
            name,
            "Depends() needs a callable and the parameter has no annotation to call",
            f"name the function: Depends(get_{name}), or annotate the parameter with a class",
        )
    made_by = _maker_name(dependency)
    if made_by is not None:
        kind = type(dependency).__name__.replace("_", " ")
        raise PlanError(
            call,
            name,
            f"Depends() needs a callable, but it received a {kind} object: the result of calling {made_by}()",
            f"pass the function itself: Depends({made_by})",
        )
    shown = repr(dependency)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise PlanError(
        call,
        name,
        f"Depends() needs a callable, but it received {type(dependency).__name__} {shown}",
        "pass the function (or class) lanner should call: Depends(get_thing)",
    )


def _maker_name(value: Any) -> str | None:
    """The function that made a generator, coroutine or async generator object."""
    for attribute in ("gi_code", "cr_code", "ag_code"):
        code = getattr(value, attribute, None)
        if code is not None:
            return str(code.co_name)
    return None


def check_readable(call: Callable[..., Any], name: str, annotation: Any, source: str) -> None:
    """Refuse a parameter whose type lanner cannot build from a request (a plain class).

    Raises:
        PlanError: a class in `annotation` is neither a type pydantic reads nor a model.
    """
    bad = _unreadable(annotation)
    if bad is None:
        return
    raise PlanError(
        call,
        name,
        f"lanner cannot read a {bad.__name__} from the request {source}: {bad.__name__} is a plain class, "
        "not a pydantic model, dataclass or TypedDict",
        f"make {bad.__name__} a pydantic BaseModel or a dataclass, or build it in a dependency: "
        f"{name}: Annotated[{bad.__name__}, Depends(get_{name})]",
    )


def check_serializable(call: Callable[..., Any], annotation: Any) -> None:
    """Refuse a response model pydantic cannot turn into JSON (a plain class).

    Raises:
        PlanError: a class in `annotation` has no pydantic schema.
    """
    bad = _unreadable(annotation)
    if bad is None:
        return
    raise PlanError(
        call,
        None,
        f"pydantic cannot serialise a {bad.__name__} to JSON: it is a plain class, not a pydantic model, "
        "dataclass or TypedDict",
        f"make {bad.__name__} a pydantic BaseModel or a dataclass, return a dict, or pass "
        "response_model=None to the route decorator",
    )


def _unreadable(annotation: Any) -> type | None:
    """The first class inside `annotation` that pydantic has no schema for, if any."""
    if isinstance(annotation, type):
        if get_args(annotation):  # list[int] and the like are not classes of their own
            return None
        return None if _has_schema(annotation) else annotation
    origin = get_origin(annotation)
    if origin is None:
        return None
    args = get_args(annotation)
    if origin is Annotated:
        args = args[:1]
    elif origin is typing.Literal:
        return None
    for arg in args:
        if arg is Ellipsis or arg is type(None):
            continue
        bad = _unreadable(arg)
        if bad is not None:
            return bad
    return None


@functools.lru_cache(maxsize=512)
def _has_schema(cls: type) -> bool:
    """Whether pydantic can validate and serialise `cls` without ``arbitrary_types_allowed``."""
    if cls.__module__ == "builtins" or isinstance(cls, types.GenericAlias):
        return True
    try:
        TypeAdapter(cls)
    except PydanticSchemaGenerationError:
        return False
    except Exception:
        return True
    return True


__all__ = ["PlanError", "check_dependency", "check_marker_classes", "check_readable", "check_serializable"]
