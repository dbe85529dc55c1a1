"""The per-function plan compiled once at registration (lanner.signature)."""

# Markers as parameter defaults (``x: int = Query(1)``) are the API under test.
# ruff: noqa: B008

import dataclasses
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from lanner import BackgroundTasks, Body, Cookie, Depends, Header, Path, Query, Request, Response
from lanner.params import MISSING
from lanner.signature import BodyPlan, CallPlan, build_plan, call_kind


class Item(BaseModel):
    name: str


class Filters(BaseModel):
    q: str = ""
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int


class MyRequest(Request):
    __slots__ = ()


def validate(plan: CallPlan, source: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    getattr(plan, source).validate(data, out, errors)
    return out, [(e["loc"], e["type"]) for e in errors]


# -- call_kind -----------------------------------------------------------------------------------


async def _async() -> int:
    return 1


def _sync() -> int:
    return 1


def _gen() -> Iterator[int]:
    yield 1


async def _agen() -> AsyncIterator[int]:
    yield 1


class _SyncCallable:
    def __call__(self, q: int = 0) -> int:
        return q


class _AsyncCallable:
    async def __call__(self, q: int = 0) -> int:
        return q


class _GenCallable:
    def __call__(self) -> Iterator[int]:
        yield 1


class _Service:
    async def fetch(self, q: int) -> int:
        return q


def test_call_kind_of_functions() -> None:
    assert call_kind(_async) == "async"
    assert call_kind(_sync) == "sync"
    assert call_kind(_gen) == "generator"
    assert call_kind(_agen) == "async_generator"
    assert call_kind(lambda: 1) == "sync"


def test_call_kind_of_classes_instances_methods_and_partials() -> None:
    assert call_kind(_Service) == "sync"
    assert call_kind(_SyncCallable()) == "sync"
    assert call_kind(_AsyncCallable()) == "async"
    assert call_kind(_GenCallable()) == "generator"
    assert call_kind(_Service().fetch) == "async"
    assert call_kind(functools.partial(_async)) == "async"
    assert call_kind(functools.partial(_agen)) == "async_generator"
    assert call_kind(functools.partial(_sync)) == "sync"


# -- where each parameter comes from -------------------------------------------------------------


def test_sources_are_decided_from_the_signature() -> None:
    def handler(
        item_id: int,
        item: Item,
        q: str = "",
        tags: list[str] = Query([]),
        user_agent: str = Header(""),
        session: str = Cookie(""),
        request: Request = None,
        response: Response = None,  # type: ignore[assignment]
        tasks: BackgroundTasks = None,
        custom: MyRequest = None,  # type: ignore[assignment]
    ) -> Item:
        return item

    plan = build_plan(handler, path_names=("item_id",))
    assert plan.call is handler
    assert plan.kind == "sync"
    assert plan.path is not None and [f.name for f in plan.path.fields] == ["item_id"]
    assert plan.query is not None and [f.name for f in plan.query.fields] == ["q", "tags"]
    assert plan.query_keys == (("q", False), ("tags", True))
    assert plan.header_keys == (("user-agent", False),)
    assert plan.cookie is not None and [f.key for f in plan.cookie.fields] == ["session"]
    assert plan.body is not None and plan.body.whole is not None
    assert plan.body.whole_name == "item"
    assert plan.request_args == ("request", "custom")
    assert plan.response_args == ("response",)
    assert plan.background_args == ("tasks",)
    assert plan.dependencies == ()
    assert plan.return_annotation is Item
    assert plan.reads_request


def test_plan_is_frozen() -> None:
    plan = build_plan(_sync)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.kind = "async"  # type: ignore[misc]


def test_a_function_without_parameters_reads_nothing() -> None:
    plan = build_plan(_sync)
    assert (plan.path, plan.query, plan.header, plan.cookie, plan.body) == (None,) * 5
    assert plan.query_models == ()
    assert not plan.reads_request
    assert plan.return_annotation is int


def test_unannotated_parameters_are_query_strings() -> None:
    def handler(a, b=3):  # type: ignore[no-untyped-def]
        return a

    plan = build_plan(handler)
    assert validate(plan, "query", {"a": "x"}) == ({"a": "x", "b": 3}, [])
    assert plan.return_annotation is not None


def test_structured_types_are_body_without_a_marker() -> None:
    for annotation in (
        Item,
        Point,
        list[Item],
        Item | None,
        list[Item] | None,
        dict[str, int],
        dict,
        Annotated[Item, "doc"],
    ):

        def handler(value: annotation) -> None:  # type: ignore[valid-type]
            return None

        plan = build_plan(handler)
        assert plan.body is not None, annotation
        assert plan.query is None, annotation


def test_scalars_and_scalar_lists_are_query_without_a_marker() -> None:
    for annotation in (int, str, float | None, list[int], tuple[str, ...], bool):

        def handler(value: annotation) -> None:  # type: ignore[valid-type]
            return None

        plan = build_plan(handler)
        assert plan.query is not None and plan.body is None, annotation


def test_a_path_name_wins_over_the_type() -> None:
    def handler(name: str, q: str = "") -> None:
        return None

    plan = build_plan(handler, ("name",))
    assert plan.path is not None and [f.name for f in plan.path.fields] == ["name"]
    assert plan.query is not None and [f.name for f in plan.query.fields] == ["q"]


def test_both_marker_styles_give_the_same_plan() -> None:
    def default_style(limit: int = Query(10, ge=1, le=100)) -> None:
        return None

    def annotated_style(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> None:
        return None

    def annotated_default(limit: Annotated[int, Query(10, ge=1, le=100)]) -> None:
        return None

    for handler in (default_style, annotated_style, annotated_default):
        plan = build_plan(handler)
        assert plan.query is not None
        (spec,) = plan.query.fields
        assert (spec.name, spec.key, spec.annotation, spec.default) == ("limit", "limit", int, 10)
        assert dict(spec.constraints) == {"ge": 1, "le": 100}
        assert validate(plan, "query", {}) == ({"limit": 10}, [])
        assert validate(plan, "query", {"limit": "0"})[1] == [(["query", "limit"], "greater_than_equal")]


def test_python_default_wins_over_the_annotated_marker_default() -> None:
    def handler(limit: Annotated[int, Query(5)] = 7) -> None:
        return None

    assert validate(build_plan(handler), "query", {}) == ({"limit": 7}, [])


def test_other_annotated_metadata_is_kept() -> None:
    def handler(n: Annotated[int, Field(gt=0), Query(lt=10)]) -> None:
        return None

    plan = build_plan(handler)
    assert validate(plan, "query", {"n": "0"})[1] == [(["query", "n"], "greater_than")]
    assert validate(plan, "query", {"n": "10"})[1] == [(["query", "n"], "less_than")]
    assert validate(plan, "query", {"n": "5"}) == ({"n": 5}, [])


def test_keys_aliases_and_header_conversion() -> None:
    def handler(
        item_id: int = Path(alias="id"),
        page_size: int = Query(1, alias="page-size"),
        x_token: str = Header(),
        raw_name: str = Header(convert_underscores=False),
        api: str = Header(alias="X-API-Key"),
        sid: str = Cookie(alias="SID"),
    ) -> None:
        return None

    plan = build_plan(handler, ("id",))
    assert plan.path is not None and plan.path.fields[0].key == "id"
    assert plan.query_keys == (("page-size", False),)
    assert plan.header_keys == (("x-token", False), ("raw_name", False), ("x-api-key", False))
    assert plan.cookie is not None and plan.cookie.fields[0].key == "SID"


def test_header_list_keys_are_marked_repeated() -> None:
    def handler(
        x_tag: Annotated[list[str], Header()] = [],  # noqa: B006
        accept: str = Header(""),
    ) -> None:
        return None

    assert build_plan(handler).header_keys == (("x-tag", True), ("accept", False))


def test_path_parameters_are_always_required() -> None:
    def handler(item_id: int = Path(3)) -> None:
        return None

    plan = build_plan(handler, ("item_id",))
    assert plan.path is not None and plan.path.fields[0].required


def test_query_model() -> None:
    def handler(filters: Annotated[Filters, Query()], page: int = 1) -> None:
        return None

    plan = build_plan(handler)
    (model,) = plan.query_models
    assert model.name == "filters"
    assert model.keys == (("q", False), ("tags", True))
    errors: list[Any] = []
    assert model.validator.validate_python({"tags": ["a"]}, errors) == Filters(tags=["a"])
    assert plan.query is not None and [f.name for f in plan.query.fields] == ["page"]
    assert plan.reads_request


# -- the body plan -------------------------------------------------------------------------------


def test_single_body_parameter_is_the_whole_body() -> None:
    def required(item: Item) -> None:
        return None

    def optional(item: Item | None = None) -> None:
        return None

    def patch(item: Item = Body(media_type="application/merge-patch+json")) -> None:
        return None

    body = build_plan(required).body
    assert isinstance(body, BodyPlan)
    assert body.whole is not None and body.embedded is None
    assert (body.whole_name, body.whole_default, body.required) == ("item", MISSING, True)
    assert body.keys == ("item",)
    assert body.media_type == "application/json"
    optional_body = build_plan(optional).body
    assert optional_body is not None
    assert (optional_body.required, optional_body.whole_default) == (False, None)
    patch_body = build_plan(patch).body
    assert patch_body is not None and patch_body.media_type == "application/merge-patch+json"


def test_several_or_embedded_body_parameters_are_read_by_key() -> None:
    def several(item: Item, point: Point, note: str = Body("", alias="comment")) -> None:
        return None

    def embedded(item: Item = Body(embed=True)) -> None:
        return None

    def optional(item: Item = Body(None, embed=True)) -> None:
        return None

    body = build_plan(several).body
    assert body is not None and body.whole is None and body.embedded is not None
    assert body.keys == ("item", "point", "comment")
    assert body.required
    single = build_plan(embedded).body
    assert single is not None and single.embedded is not None and single.keys == ("item",)
    assert single.required
    none_required = build_plan(optional).body
    assert none_required is not None and not none_required.required


def test_embed_body_flag_embeds_a_single_parameter() -> None:
    def handler(item: Item) -> None:
        return None

    body = build_plan(handler, embed_body=True).body
    assert body is not None and body.embedded is not None and body.keys == ("item",)


# -- dependencies and special types --------------------------------------------------------------


def test_dependencies_in_both_styles() -> None:
    def get_db() -> str:
        return "db"

    class Settings:
        def __init__(self, debug: bool = False) -> None:
            self.debug = debug

    def handler(
        db: str = Depends(get_db),
        settings: Annotated[Settings, Depends()] = None,  # type: ignore[assignment]
        fresh: Annotated[str, Depends(get_db, use_cache=False)] = "",
        pool: str = Depends(get_db, scope="app"),
    ) -> None:
        return None

    plan = build_plan(handler)
    deps = dict(plan.dependencies)
    assert list(deps) == ["db", "settings", "fresh", "pool"]
    assert deps["db"].dependency is get_db and deps["db"].use_cache
    assert deps["settings"].dependency is Settings
    assert deps["fresh"].use_cache is False
    assert deps["pool"].scope == "app"
    assert not plan.reads_request
    assert plan.query is None


def test_plans_of_classes_instances_and_partials() -> None:
    class Pager:
        def __init__(self, page: int = 1, size: Annotated[int, Query(le=50)] = 10) -> None:
            self.page, self.size = page, size

    def add(a: int, b: int) -> int:
        return a + b

    pager = build_plan(Pager)
    assert pager.kind == "sync"
    assert pager.query is not None and [f.name for f in pager.query.fields] == ["page", "size"]
    instance = build_plan(_AsyncCallable())
    assert instance.kind == "async"
    assert validate(instance, "query", {"q": "3"}) == ({"q": 3}, [])
    partial = build_plan(functools.partial(add, 1))
    assert partial.query is not None and [f.name for f in partial.query.fields] == ["b"]
    method = build_plan(_Service().fetch)
    assert method.kind == "async"
    assert method.query is not None and [f.name for f in method.query.fields] == ["q"]


def test_pydantic_model_as_a_dependency_reads_its_fields_from_the_query() -> None:
    plan = build_plan(Filters)
    assert plan.query is not None and [f.name for f in plan.query.fields] == ["q", "tags"]
    assert plan.query_keys == (("q", False), ("tags", True))


def test_variadic_parameters_are_ignored() -> None:
    def handler(q: int, *args: Any, **kwargs: Any) -> None:
        return None

    plan = build_plan(handler)
    assert plan.query is not None and [f.name for f in plan.query.fields] == ["q"]


# -- what cannot be planned ----------------------------------------------------------------------


def test_positional_only_parameters_are_rejected() -> None:
    def handler(a: int, /, b: int) -> None:
        return None

    with pytest.raises(TypeError, match="positional-only parameter 'a'"):
        build_plan(handler)


def test_two_markers_on_one_parameter_are_rejected() -> None:
    def default_and_annotated(a: Annotated[int, Query()] = Query(1)) -> None:
        return None

    def two_annotated(a: Annotated[int, Query(), Header()]) -> None:
        return None

    def depends_and_query(a: Annotated[int, Depends(_sync)] = Query(1)) -> None:
        return None

    def query_and_depends(a: Annotated[int, Query()] = Depends(_sync)) -> None:
        return None

    for handler in (default_and_annotated, two_annotated, depends_and_query, query_and_depends):
        with pytest.raises(TypeError, match="parameter 'a' has two markers"):
            build_plan(handler)


def test_path_marker_outside_the_template_is_rejected() -> None:
    def handler(item_id: int = Path()) -> None:
        return None

    with pytest.raises(TypeError, match="not in the route path"):
        build_plan(handler, ("other",))


def test_depends_needs_something_to_call() -> None:
    def handler(thing=Depends()) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(TypeError, match="needs a callable"):
        build_plan(handler)


def test_unresolvable_annotations_are_reported() -> None:
    def handler(item: "Undefined") -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    with pytest.raises(TypeError, match="cannot resolve type hints"):
        build_plan(handler)


# -- form bodies -------------------------------------------------------------------------------------


def test_form_fields_files_and_models_make_one_form_body() -> None:
    from lanner.forms import UploadFile
    from lanner.params import File, Form

    class Login(BaseModel):
        user: str
        tags: list[str] = []

    async def handler(
        login: Annotated[Login, Form()],
        note: Annotated[str, Form(alias="the-note")],
        avatar: UploadFile,
        photos: list[UploadFile],
        raw: Annotated[bytes | None, File()] = None,
        maybe: UploadFile | None = None,
    ) -> None: ...

    plan = build_plan(handler)
    body = plan.body
    assert body is not None and body.form is not None
    assert (body.kind, body.media_type) == ("form", "multipart/form-data")
    assert (body.whole, body.embedded) == (None, None)
    form = body.form
    assert form.fields is not None and [s.name for s in form.fields.fields] == ["note"]
    assert form.files is not None
    assert [s.name for s in form.files.fields] == ["avatar", "photos", "raw", "maybe"]
    assert [(m.name, m.keys) for m in form.models] == [("login", (("user", False), ("tags", True)))]
    assert form.keys == (
        ("the-note", False),
        ("avatar", False),
        ("photos", True),
        ("raw", False),
        ("maybe", False),
        ("user", False),
        ("tags", True),
    )
    assert form.byte_keys == ("raw",)
    assert body.required and form.required
    assert body.keys == ("the-note", "avatar", "photos", "raw", "maybe", "user", "tags")
    assert plan.query is None and plan.reads_request


def test_a_form_of_text_fields_is_urlencoded_and_may_be_optional() -> None:
    from lanner.params import Form

    async def handler(a: Annotated[str, Form()] = "", b: list[int] = Form([])) -> None: ...

    body = build_plan(handler).body
    assert body is not None and body.form is not None
    assert body.media_type == "application/x-www-form-urlencoded"
    assert not body.required and body.form.files is None


def test_json_and_form_parameters_cannot_share_a_function_or_a_route() -> None:
    from lanner.forms import UploadFile
    from lanner.params import File, Form
    from lanner.signature import body_kind

    async def mixed(item: Item, name: Annotated[str, Form()]) -> None: ...

    with pytest.raises(TypeError, match="mixed: JSON body parameters and Form"):
        build_plan(mixed)

    async def model_file(item: Annotated[Item, File()]) -> None: ...

    with pytest.raises(TypeError, match="cannot be a model"):
        build_plan(model_file)

    async def json_body(item: Item) -> None: ...

    async def upload(file: UploadFile) -> None: ...

    assert body_kind([build_plan(json_body), build_plan(upload)] * 0) is None
    assert body_kind([build_plan(json_body)]) == "json"
    assert body_kind([build_plan(upload), build_plan(upload)]) == "form"
    with pytest.raises(TypeError, match="both a JSON body and Form"):
        body_kind([build_plan(json_body), build_plan(upload)])
