import inspect
import logging
import sqlite3
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from lanner import Depends, Lanner, Router
from lanner.checks import RouteDefinitionError, check_app, collecting, source_location
from lanner.responses import HTMLResponse, PlainTextResponse
from lanner.testing import TestClient

HERE = __file__


class Widget:
    """A plain class: lanner cannot read one from a request, pydantic cannot serialise one."""


class Item(BaseModel):
    name: str
    price: float


@dataclass
class Point:
    x: int
    y: int


def get_db() -> Any:
    yield "connection"


def line_of(function: Any) -> int:
    return inspect.unwrap(function).__code__.co_firstlineno


def registration_error(register: Any) -> RouteDefinitionError:
    with pytest.raises(RouteDefinitionError) as caught:
        register()
    return caught.value


def test_a_plain_class_parameter_is_refused_where_it_is_registered() -> None:
    app = Lanner()

    def handler(widget: Widget) -> None: ...

    error = registration_error(lambda: app.post("/widgets")(handler))
    assert str(error) == (
        f"{HERE}:{line_of(handler)}: POST /widgets: "
        "test_a_plain_class_parameter_is_refused_where_it_is_registered.<locals>.handler(), "
        "parameter 'widget': lanner cannot read a Widget from the request query string: Widget is a "
        "plain class, not a pydantic model, dataclass or TypedDict\n"
        "    fix: make Widget a pydantic BaseModel or a dataclass, or build it in a dependency: "
        "widget: Annotated[Widget, Depends(get_widget)]"
    )
    assert (error.file, error.line, error.parameter) == (HERE, line_of(handler), "widget")
    # Not registered: no 422 for every request, no 500 from /openapi.json.
    assert all(route.path != "/widgets" for route in app.routes)


@pytest.mark.parametrize(
    "annotation",
    [list[Widget], Widget | None, dict[str, Widget], Annotated[Widget, "meta"]],
)
def test_a_plain_class_inside_another_type_is_found(annotation: Any) -> None:
    def handler(value: Any) -> None: ...

    handler.__annotations__["value"] = annotation
    error = registration_error(lambda: Lanner().post("/x")(handler))
    assert "cannot read a Widget" in str(error)


def test_types_lanner_reads_are_accepted() -> None:
    app = Lanner()

    @app.post("/fine/{n:int}")
    def fine(n: int, item: Item, point: Point | None = None, tags: list[str] | None = None) -> Item:
        return item

    assert TestClient(app).post("/fine/1", json={"item": {"name": "a", "price": 1}}).status_code == 200


def test_depends_on_a_call_s_result_names_the_function_to_pass() -> None:
    def handler(db: Any = Depends(get_db())) -> None: ...  # noqa: B008 - the mistake under test

    error = registration_error(lambda: Lanner().get("/db")(handler))
    assert error.parameter == "db" and error.line == line_of(handler)
    expected = "Depends() needs a callable, but it received a generator object: the result of calling"
    assert f"{expected} get_db()" in str(error)
    assert str(error).endswith("fix: pass the function itself: Depends(get_db)")

    def other(db: Any = Depends(42)) -> None: ...  # type: ignore[arg-type]  # noqa: B008

    assert "received int 42" in str(registration_error(lambda: Lanner().get("/x")(other)))


def test_the_depends_class_instead_of_a_marker_is_refused() -> None:
    def annotated(db: Annotated[str, Depends]) -> None: ...

    def defaulted(db: str = Depends) -> None:  # type: ignore[assignment]
        ...

    first = registration_error(lambda: Lanner().get("/a")(annotated))
    assert "Annotated[..., Depends] names the class Depends, not a marker" in str(first)
    assert "fix: call it: Annotated[..., Depends(get_db)]" in str(first)
    second = registration_error(lambda: Lanner().get("/b")(defaulted))
    assert "its default is the class Depends, not a Depends(...) marker" in str(second)
    assert f"{HERE}:{line_of(defaulted)}: GET /b:" in str(second)


def test_a_return_annotation_pydantic_cannot_serialise_is_refused() -> None:
    def handler() -> Widget:
        return Widget()

    error = registration_error(lambda: Lanner().get("/w")(handler))
    assert error.parameter is None
    assert ", return annotation: pydantic cannot serialise a Widget to JSON" in str(error)
    assert "response_model=None" in error.fix
    app = Lanner()
    # Declaring response_model=None (or returning a Response) is the way out.
    app.get("/w", response_model=None)(handler)


def test_a_dependency_s_mistake_points_at_the_dependency() -> None:
    def needs_widget(widget: Widget) -> str:
        return "x"

    def handler(value: str = Depends(needs_widget)) -> None: ...

    error = registration_error(lambda: Lanner().get("/dep")(handler))
    assert error.function is needs_widget and error.line == line_of(needs_widget)


def test_routers_are_checked_when_included() -> None:
    router = Router(prefix="/api")

    @router.get("/w")
    def handler(widget: Widget) -> None: ...

    error = registration_error(lambda: Lanner().include_router(router))
    assert "GET /api/w" in str(error)


def test_a_forward_reference_is_resolved_later_not_refused() -> None:
    app = Lanner()

    def handler(item: "LaterItem") -> None: ...  # noqa: F821 - defined below, as modules do

    app.post("/later")(handler)  # no error yet: the name does not exist at registration
    globals()["LaterItem"] = Item
    try:
        response = TestClient(app).post("/later", json={"name": "a", "price": 2})
        assert response.status_code == 200
    finally:
        del globals()["LaterItem"]


def test_check_app_lists_every_problem_at_once() -> None:
    with collecting() as found:
        app = Lanner()

        @app.get("/ok")
        def ok() -> Item:
            return Item(name="a", price=1)

        @app.post("/widgets")
        def create(widget: Widget) -> None: ...

        @app.get("/db")
        def db(conn: Any = Depends(get_db())) -> None: ...  # noqa: B008

        @app.get("/w")
        def read() -> Widget:
            return Widget()

    problems = check_app(app, found)
    assert [problem.split(": ")[1] for problem in problems] == ["POST /widgets", "GET /db", "GET /w"]
    assert all(problem.startswith(f"{HERE}:") for problem in problems)
    assert [route.path for route in app.routes if route.path == "/ok"] == ["/ok"]
    assert check_app(Lanner()) == []


def test_check_app_reports_an_unresolved_forward_reference_and_the_openapi_document() -> None:
    app = Lanner()

    def handler(item: "NeverDefined") -> None: ...  # noqa: F821

    app.post("/never")(handler)
    [problem] = check_app(app)
    assert problem.startswith(f"{HERE}:{line_of(handler)}: POST /never:")
    assert "name 'NeverDefined' is not defined" in problem


def test_source_location_unwraps_partials_and_decorators() -> None:
    import functools

    def base(a: int) -> int:
        return a

    @functools.wraps(base)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        return base(*args, **kwargs)

    assert source_location(functools.partial(base, 1)) == (HERE, line_of(base))
    assert source_location(wrapper) == (HERE, line_of(base))
    assert source_location(Point) == (HERE, inspect.getsourcelines(Point)[1])
    assert source_location(len) == ("?", 0)


# -- errors at run time ----------------------------------------------------------------------------


def test_a_value_that_fails_the_response_model_is_logged_with_where_it_came_from(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Lanner()

    @app.get("/items/{id:int}")
    def read_item(id: int) -> Item:
        db = sqlite3.connect(":memory:")
        db.row_factory = sqlite3.Row
        return db.execute("select 'pen' as name").fetchone()  # type: ignore[no-any-return]

    @app.get("/forgot")
    def forgot() -> Item:
        Item(name="a", price=1)  # the return was forgotten
        return None  # type: ignore[return-value]

    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        assert client.get("/items/3").status_code == 500
    assert "GET /items/{id:int}: test_a_value_that_fails" in caplog.text
    assert "read_item() returned a value that does not match its response model Item" in caplog.text
    assert f"handler: {HERE}:{line_of(read_item)}" in caplog.text
    assert "returned: sqlite3.Row <sqlite3.Row object at" in caplog.text
    assert "response.price: Field required" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        assert client.get("/forgot").status_code == 500
    assert "returned: NoneType None" in caplog.text


def test_the_debug_page_shows_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Lanner(debug=True)

    @app.get("/forgot")
    def forgot() -> Item:
        return None  # type: ignore[return-value]

    page = TestClient(app, raise_server_exceptions=False).get("/forgot", headers={"accept": "text/html"})
    assert page.status_code == 500
    assert "forgot() returned a value that does not match its response model Item" in page.text
    assert "returned: NoneType None" in page.text


@pytest.mark.parametrize("response_class", [HTMLResponse, PlainTextResponse])
def test_a_page_route_returning_a_dict_names_the_route_and_the_type(response_class: Any) -> None:
    app = Lanner()

    @app.get("/page", response_class=response_class)
    def page() -> Any:
        return {"title": "Home"}

    with pytest.raises(TypeError) as caught:
        TestClient(app).get("/page")
    message = str(caught.value)
    assert message.startswith("GET /page: test_a_page_route_returning_a_dict_names_the_route_and_the_type")
    assert f"({HERE}:{line_of(page)}) returned a dict" in message
    assert f"response_class={response_class.__name__} sends str or bytes" in message
