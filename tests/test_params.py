"""Parameter markers (lanner.params) and where each handler argument is read from, end to end.

Every end-to-end test runs twice: once on the direct path lanner takes for a plain handler, and once
with an app-level dependency, which sends the request through the full dependency machinery.
"""

# Markers as parameter defaults (``x: int = Query(1)``) are the API under test.
# ruff: noqa: B008

import threading
from collections.abc import Iterator
from typing import Annotated, Any, Optional
from uuid import UUID

import pytest
from pydantic import BaseModel, Field

from lanner import (
    BackgroundTasks,
    Body,
    Cookie,
    Depends,
    Header,
    Lanner,
    Path,
    Query,
    Request,
    Response,
)
from lanner.params import MISSING, Param
from lanner.responses import JSONResponse
from lanner.testing import TestClient


def _noop() -> None:
    return None


@pytest.fixture(params=["direct", "full"])
def app(request: pytest.FixtureRequest) -> Lanner:
    return Lanner(dependencies=[Depends(_noop)] if request.param == "full" else None)


@pytest.fixture
def client(app: Lanner) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def errors_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


def locs(response: Any) -> list[list[Any]]:
    return [error["loc"] for error in errors_of(response)]


class Filters(BaseModel):
    q: str | None = None
    tags: list[str] = []
    limit: int = Field(10, ge=1, le=100)


class AliasedFilters(BaseModel):
    sort_by: str = Field("name", alias="sort-by")


# -- the marker objects --------------------------------------------------------------------------


def test_no_default_and_ellipsis_both_mean_required() -> None:
    assert Query().default is MISSING
    assert Query(...).default is MISSING
    assert Query(None).default is None
    assert Query(0).default == 0


def test_constraints_returns_only_what_was_set() -> None:
    marker = Query(5, ge=1, le=10, description="page size", include_in_schema=False)
    assert marker.constraints() == {"ge": 1, "le": 10, "description": "page size"}
    assert Query().constraints() == {}
    every = Param(
        gt=0, lt=9, min_length=1, max_length=3, pattern="^a", title="T", examples=[1], deprecated=True
    )
    assert every.constraints() == {
        "gt": 0,
        "lt": 9,
        "min_length": 1,
        "max_length": 3,
        "pattern": "^a",
        "title": "T",
        "examples": [1],
        "deprecated": True,
    }
    assert "alias" not in Query(alias="x").constraints()
    assert Query(alias="x").alias == "x"


def test_each_marker_names_its_source() -> None:
    assert [cls.source for cls in (Path, Query, Header, Cookie, Body)] == [
        "path",
        "query",
        "header",
        "cookie",
        "body",
    ]


def test_header_and_body_options() -> None:
    assert Header().convert_underscores is True
    assert Header(convert_underscores=False, alias="X-A").convert_underscores is False
    body = Body()
    assert (body.embed, body.media_type) == (False, "application/json")
    assert Body(1, embed=True, media_type="application/merge-patch+json", ge=0).constraints() == {"ge": 0}


def test_marker_repr() -> None:
    assert repr(Query(3)) == "Query(3)"
    assert repr(Header()) == "Header(MISSING)"


def test_depends_defaults_and_repr() -> None:
    def get_db() -> None:
        return None

    marker = Depends(get_db)
    assert (marker.dependency, marker.use_cache, marker.scope) == (get_db, True, "request")
    assert "get_db" in repr(marker)
    assert Depends().dependency is None
    assert Depends(get_db, use_cache=False, scope="app").scope == "app"


def test_depends_rejects_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        Depends(_noop, scope="session")  # type: ignore[arg-type]


# -- path ----------------------------------------------------------------------------------------


def test_path_parameters_are_typed_by_the_annotation(app: Lanner, client: TestClient) -> None:
    @app.get("/items/{item_id}/{name}")
    async def item(item_id: int, name: str) -> dict[str, Any]:
        return {"item_id": item_id, "name": name}

    assert client.get("/items/42/bolt").json() == {"item_id": 42, "name": "bolt"}
    assert locs(client.get("/items/forty/bolt")) == [["path", "item_id"]]


def test_typed_templates(app: Lanner, client: TestClient) -> None:
    @app.get("/u/{uid:uuid}/{ratio:float}/{rest:path}")
    def typed(uid: UUID, ratio: float, rest: str) -> list[Any]:
        return [str(uid), ratio, rest]

    uid = "12345678-1234-5678-1234-567812345678"
    assert client.get(f"/u/{uid}/0.5/a/b/c").json() == [uid, 0.5, "a/b/c"]


def test_path_marker_with_constraint_and_alias(app: Lanner, client: TestClient) -> None:
    @app.get("/pages/{page}")
    async def page(number: Annotated[int, Path(alias="page", ge=1)]) -> int:
        return number

    assert client.get("/pages/3").json() == 3
    errors = errors_of(client.get("/pages/0"))
    assert errors == [
        {
            "loc": ["path", "page"],
            "msg": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
            "input": "0",
            "ctx": {"ge": 1},
        }
    ]


# -- query ---------------------------------------------------------------------------------------


def test_query_scalars_defaults_and_required(app: Lanner, client: TestClient) -> None:
    @app.get("/search")
    async def search(q: str, page: int = 1, exact: bool = False) -> list[Any]:
        return [q, page, exact]

    assert client.get("/search?q=bolt").json() == ["bolt", 1, False]
    assert client.get("/search?q=bolt&page=3&exact=true").json() == ["bolt", 3, True]
    assert client.get("/search?q=&exact=1").json() == ["", 1, True]
    errors = errors_of(client.get("/search"))
    assert errors == [{"loc": ["query", "q"], "msg": "Field required", "type": "missing", "input": None}]
    assert locs(client.get("/search?q=x&page=two&exact=maybe")) == [["query", "page"], ["query", "exact"]]


def test_optional_query_parameters(app: Lanner, client: TestClient) -> None:
    @app.get("/opt")
    async def opt(a: int | None = None, b: Optional[str] = None) -> list[Any]:  # noqa: UP045
        return [a, b]

    assert client.get("/opt").json() == [None, None]
    assert client.get("/opt?a=4&b=x").json() == [4, "x"]
    assert locs(client.get("/opt?a=x")) == [["query", "a"]]


def test_list_query_parameters_collect_repeated_keys(app: Lanner, client: TestClient) -> None:
    @app.get("/ids")
    async def ids(id: list[int] = Query([]), tag: list[str] | None = None) -> list[Any]:
        return [id, tag]

    assert client.get("/ids").json() == [[], None]
    assert client.get("/ids?id=3&id=1&id=2").json() == [[3, 1, 2], None]
    assert client.get("/ids?id=7&tag=a").json() == [[7], ["a"]]
    assert locs(client.get("/ids?id=1&id=x")) == [["query", "id", 1]]


def test_required_list_query_parameter(app: Lanner, client: TestClient) -> None:
    @app.get("/need")
    async def need(n: Annotated[list[int], Query(min_length=2)]) -> int:
        return sum(n)

    assert client.get("/need?n=1&n=2").json() == 3
    assert errors_of(client.get("/need"))[0]["type"] == "missing"
    assert errors_of(client.get("/need?n=1"))[0]["type"] == "too_short"


def test_query_alias(app: Lanner, client: TestClient) -> None:
    @app.get("/alias")
    async def alias(
        item_name: str = Query("none", alias="item-name"), ids: list[int] = Query([], alias="id")
    ) -> list[Any]:
        return [item_name, ids]

    assert client.get("/alias?item-name=bolt&id=1&id=2").json() == ["bolt", [1, 2]]
    assert client.get("/alias?item_name=bolt&ids=1").json() == ["none", []]


def test_both_marker_styles(app: Lanner, client: TestClient) -> None:
    @app.get("/styles")
    async def styles(
        a: int = Query(10, ge=1, le=100), b: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> list[int]:
        return [a, b]

    assert client.get("/styles").json() == [10, 10]
    assert client.get("/styles?a=5&b=6").json() == [5, 6]
    errors = errors_of(client.get("/styles?a=0&b=101"))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "a"], "greater_than_equal"),
        (["query", "b"], "less_than_equal"),
    ]


def test_annotated_marker_default_is_used_when_there_is_no_python_default(
    app: Lanner, client: TestClient
) -> None:
    @app.get("/inner")
    async def inner(size: Annotated[int, Query(7)]) -> int:
        return size

    assert client.get("/inner").json() == 7


def test_query_model(app: Lanner, client: TestClient) -> None:
    @app.get("/filtered")
    async def filtered(filters: Annotated[Filters, Query()], page: int = 1) -> dict[str, Any]:
        return {"filters": filters.model_dump(), "page": page}

    assert client.get("/filtered").json() == {"filters": {"q": None, "tags": [], "limit": 10}, "page": 1}
    response = client.get("/filtered?q=bolt&tags=a&tags=b&limit=5&page=2")
    assert response.json() == {"filters": {"q": "bolt", "tags": ["a", "b"], "limit": 5}, "page": 2}
    assert client.get("/filtered?tags=only").json()["filters"]["tags"] == ["only"]
    errors = errors_of(client.get("/filtered?limit=0&page=x"))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "page"], "int_parsing"),
        (["query", "limit"], "greater_than_equal"),
    ]


def test_query_model_with_aliased_field(app: Lanner, client: TestClient) -> None:
    @app.get("/sorted")
    async def sorted_(order: Annotated[AliasedFilters, Query()]) -> str:
        return order.sort_by

    assert client.get("/sorted").json() == "name"
    assert client.get("/sorted?sort-by=price").json() == "price"


# -- headers and cookies -------------------------------------------------------------------------


def test_header_underscores_become_hyphens(app: Lanner, client: TestClient) -> None:
    @app.get("/h")
    async def h(
        user_agent: str = Header(),
        x_request_id: Annotated[int, Header()] = 0,
    ) -> list[Any]:
        return [user_agent, x_request_id]

    response = client.get("/h", headers={"User-Agent": "probe/1", "X-Request-ID": "17"})
    assert response.json() == ["probe/1", 17]
    assert client.get("/h", headers={"user-agent": "probe/2"}).json() == ["probe/2", 0]
    assert locs(client.get("/h", headers={"x-request-id": "x"})) == [["header", "x-request-id"]]


def test_header_required_missing(app: Lanner, client: TestClient) -> None:
    @app.get("/token")
    async def token(x_token: str = Header()) -> str:
        return x_token

    assert client.get("/token", headers={"X-Token": "s3cret"}).json() == "s3cret"
    errors = errors_of(client.get("/token"))
    assert errors == [
        {"loc": ["header", "x-token"], "msg": "Field required", "type": "missing", "input": None}
    ]


def test_header_without_underscore_conversion_and_alias(app: Lanner, client: TestClient) -> None:
    @app.get("/raw")
    async def raw(
        strange_name: str = Header("-", convert_underscores=False), key: str = Header("-", alias="X-API-Key")
    ) -> list[str]:
        return [strange_name, key]

    assert client.get("/raw", headers={"strange-name": "hyphen", "x-api-key": "k"}).json() == ["-", "k"]
    assert client.get("/raw", headers={"strange_name": "underscore"}).json() == ["underscore", "-"]


def test_repeated_headers_as_list(app: Lanner, client: TestClient) -> None:
    @app.get("/multi")
    async def multi(
        x_tag: Annotated[list[str], Header()] = [],  # noqa: B006
        x_one: str = Header("-"),
    ) -> list[Any]:
        return [x_tag, x_one]

    headers = [("X-Tag", "a"), ("X-Tag", "b"), ("x-one", "1"), ("x-one", "2")]
    assert client.get("/multi", headers=headers).json() == [["a", "b"], "1"]
    assert client.get("/multi").json() == [[], "-"]


def test_cookies(app: Lanner, client: TestClient) -> None:
    @app.get("/c")
    async def c(
        session: str = Cookie(),
        visits: int = Cookie(0),
        theme: Annotated[str, Cookie(alias="ui-theme")] = "light",
    ) -> list[Any]:
        return [session, visits, theme]

    client.cookies.set("session", "abc")
    client.cookies.set("visits", "3")
    client.cookies.set("ui-theme", "dark")
    assert client.get("/c").json() == ["abc", 3, "dark"]
    client.cookies.clear()
    errors = errors_of(client.get("/c", headers={"cookie": "visits=many"}))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["cookie", "session"], "missing"),
        (["cookie", "visits"], "int_parsing"),
    ]


# -- Request, Response, BackgroundTasks ----------------------------------------------------------


def test_request_parameter(app: Lanner, client: TestClient) -> None:
    @app.post("/echo/{name}")
    async def echo(req: Request, name: str) -> dict[str, Any]:
        return {
            "method": req.method,
            "path": req.url.path,
            "name": name,
            "params": req.path_params,
            "q": req.query_params.get("q"),
            "body": (await req.body()).decode(),
        }

    response = client.post("/echo/n1?q=v", content=b"hello")
    assert response.json() == {
        "method": "POST",
        "path": "/echo/n1",
        "name": "n1",
        "params": {"name": "n1"},
        "q": "v",
        "body": "hello",
    }


def test_response_parameter_sets_status_headers_and_cookies(app: Lanner, client: TestClient) -> None:
    @app.post("/made", status_code=202)
    async def made(response: Response) -> dict[str, bool]:
        response.status_code = 201
        response.headers["X-Trace"] = "t1"
        response.set_cookie("session", "new")
        response.set_cookie("seen", "1", max_age=60)
        return {"ok": True}

    @app.post("/untouched", status_code=202)
    async def untouched(response: Response) -> dict[str, bool]:
        response.headers["X-Trace"] = "t2"
        return {"ok": True}

    response = client.post("/made")
    assert response.status_code == 201
    assert response.json() == {"ok": True}
    assert response.headers["x-trace"] == "t1"
    assert response.headers["content-type"] == "application/json"
    assert sorted(response.headers.get_list("set-cookie"))[0].startswith("seen=1")
    assert response.cookies["session"] == "new"
    assert response.cookies["seen"] == "1"
    second = client.post("/untouched")
    assert (second.status_code, second.headers["x-trace"]) == (202, "t2")


def test_response_parameter_merges_into_a_returned_response(app: Lanner, client: TestClient) -> None:
    @app.get("/returned")
    def returned(response: Response) -> Response:
        response.headers["X-Extra"] = "yes"
        response.set_cookie("a", "1")
        return JSONResponse({"x": 1}, status_code=203, headers={"X-Own": "own"})

    response = client.get("/returned")
    assert response.status_code == 203
    assert response.json() == {"x": 1}
    assert (response.headers["x-extra"], response.headers["x-own"]) == ("yes", "own")
    assert response.cookies["a"] == "1"


def test_response_parameter_is_shared_with_dependencies(app: Lanner, client: TestClient) -> None:
    def stamp(response: Response) -> None:
        response.headers["X-Stamp"] = "dep"

    @app.get("/stamped", dependencies=[Depends(stamp)])
    async def stamped(response: Response) -> int:
        response.headers["X-Handler"] = "h"
        return 1

    response = client.get("/stamped")
    assert (response.headers["x-stamp"], response.headers["x-handler"]) == ("dep", "h")


def test_background_tasks_run_after_the_handler(app: Lanner, client: TestClient) -> None:
    done: list[str] = []
    loop_thread: list[int] = []

    async def note_async(word: str) -> None:
        done.append(word)

    def note_sync(word: str) -> None:
        loop_thread.append(threading.get_ident())
        done.append(word)

    def schedule(tasks: BackgroundTasks) -> None:
        tasks.add_task(note_async, "from-dependency")

    @app.post("/work")
    async def work(tasks: BackgroundTasks, d: None = Depends(schedule)) -> int:
        tasks.add_task(note_sync, "sync")
        tasks.add_task(note_async, word="async")
        loop_thread.append(threading.get_ident())
        assert done == []
        return len(tasks)

    response = client.post("/work")
    assert response.json() == 3
    assert done == ["from-dependency", "sync", "async"]
    # The plain function ran in a worker thread, not on the handler's (event loop) thread.
    assert loop_thread[0] != loop_thread[1]


# -- form fields and files -----------------------------------------------------------------------


def test_form_and_file_markers() -> None:
    from lanner.params import File, Form

    assert (Form.source, File.source) == ("form", "file")
    assert issubclass(File, Form) and issubclass(Form, Param) and not issubclass(Form, Body)
    assert Form().media_type == "application/x-www-form-urlencoded"
    assert File().media_type == "multipart/form-data"
    assert Form("x", min_length=2, alias="a-b").constraints() == {"min_length": 2}
    assert (Form("x").default, File(...).default) == ("x", MISSING)
    assert repr(File()) == "File(MISSING)"


def test_form_and_file_parameters(app: Lanner, client: TestClient) -> None:
    from lanner.forms import UploadFile
    from lanner.params import File, Form

    @app.post("/form")
    async def form(
        name: Annotated[str, Form(min_length=2)],
        upload: UploadFile,
        count: int = Form(1),
        blob: bytes = File(b""),
    ) -> list[Any]:
        return [name, upload.filename, count, blob.decode()]

    files = {"upload": ("u.txt", b"u"), "blob": ("b.bin", b"blob")}
    assert client.post("/form", data={"name": "ada", "count": "3"}, files=files).json() == [
        "ada",
        "u.txt",
        3,
        "blob",
    ]
    assert client.post("/form", data={"name": "ada"}, files={"upload": ("u", b"")}).json() == [
        "ada",
        "u",
        1,
        "",
    ]
    assert locs(client.post("/form", data={"name": "a"})) == [["form", "name"], ["file", "upload"]]


# -- models read one key each from headers, cookies and the query (FastAPI's param models) ---------


class _CommonHeaders(BaseModel):
    model_config = {"extra": "forbid"}

    host: str
    save_data: bool
    if_modified_since: str | None = None
    x_tag: list[str] = []


class _Cookies(BaseModel):
    session_id: str
    tracker: str | None = None


class _DateRange(BaseModel):
    start: str
    end: str


def test_a_header_model_reads_one_header_per_field(app: Lanner, client: TestClient) -> None:
    @app.get("/headers")
    async def headers(h: Annotated[_CommonHeaders, Header()]) -> _CommonHeaders:
        return h

    client.headers.clear()
    sent = [("save-data", "true"), ("x-tag", "a"), ("x-tag", "b")]
    assert client.get("/headers", headers=sent).json() == {
        "host": "testserver",
        "save_data": True,
        "if_modified_since": None,
        "x_tag": ["a", "b"],
    }
    assert errors_of(client.get("/headers")) == [
        {
            "type": "missing",
            "loc": ["header", "save-data"],
            "msg": "Field required",
            "input": {"host": "testserver"},
        }
    ]
    # extra="forbid" is honoured: an unknown header is refused by name.
    extra = errors_of(client.get("/headers", headers=[("save-data", "1"), ("tool", "plumbus")]))
    assert extra == [
        {
            "type": "extra_forbidden",
            "loc": ["header", "tool"],
            "msg": "Extra inputs are not permitted",
            "input": "plumbus",
        }
    ]


def test_a_header_model_without_underscore_conversion(app: Lanner, client: TestClient) -> None:
    class Raw(BaseModel):
        save_data: str

    @app.get("/raw")
    async def raw(h: Annotated[Raw, Header(convert_underscores=False)]) -> str:
        return h.save_data

    assert client.get("/raw", headers={"save_data": "x"}).json() == "x"
    assert locs(client.get("/raw", headers={"save-data": "x"})) == [["header", "save_data"]]


def test_a_cookie_model_reads_one_cookie_per_field(app: Lanner, client: TestClient) -> None:
    @app.get("/cookies")
    async def cookies(c: Annotated[_Cookies, Cookie()]) -> _Cookies:
        return c

    assert client.get("/cookies", headers={"cookie": "session_id=1; tracker=t"}).json() == {
        "session_id": "1",
        "tracker": "t",
    }
    assert locs(client.get("/cookies")) == [["cookie", "session_id"]]


def test_an_optional_query_model_is_none_only_when_none_of_its_keys_are_sent(
    app: Lanner, client: TestClient
) -> None:
    @app.get("/range")
    async def date_range(r: Annotated[_DateRange | None, Query()] = None) -> _DateRange | None:
        return r

    assert client.get("/range").json() is None
    assert client.get("/range?start=a&end=b").json() == {"start": "a", "end": "b"}
    assert locs(client.get("/range?start=a")) == [["query", "end"]]
