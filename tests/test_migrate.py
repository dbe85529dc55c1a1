import importlib.util
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lanner.cli import main
from lanner.migrate import (
    MISSING_LIBCST,
    FileResult,
    MigrationReport,
    MissingDependencyError,
    iter_python_files,
    migrate_paths,
    migrate_source,
    names_table,
)
from lanner.migrate._fastapi import TABLE
from lanner.migrate._table import markdown_rows

from .conftest import ROOT

pytest.importorskip("libcst")


def migrate(code: str, **options: bool) -> tuple[str, list[str]]:
    """The migrated source and the report lines (``line: what: why``) of `code`."""
    result = migrate_source(textwrap.dedent(code), **options)
    assert result.error is None
    return result.text, [f"{f.line}: {'note: ' if f.note else ''}{f.what}: {f.why}" for f in result.findings]


def test_imports_keep_aliases_and_rename_only_what_needs_it():
    text, report = migrate(
        """\
        from fastapi import FastAPI as F, Depends as D, Query
        from fastapi.responses import HTMLResponse as Page
        app = F()
        """
    )
    assert text == (
        "from lanner import Lanner as F, Depends as D, Query\n"
        "from lanner.responses import HTMLResponse as Page\n"
        'app = F(title="FastAPI", openapi_compat="fastapi")\n'
    )
    assert report == []


NO_ROUTE_CLASS = "lanner's WebSocket routes have no custom route class"


def test_an_import_whose_names_go_to_several_modules_is_split():
    text, report = migrate(
        """\
        # the app
        from fastapi.routing import APIRouter, APIWebSocketRoute, APIRoute  # web
        from fastapi.security import (
            OAuth2PasswordBearer,
            HTTPBasic,
        )
        from fastapi.exceptions import HTTPException, WebSocketRequestValidationError, RequestValidationError
        """
    )
    assert text == (
        "# the app\n"
        "from lanner import Router  # web\n"
        "from fastapi.routing import APIWebSocketRoute\n"
        "from lanner.routing import APIRoute\n"
        "from lanner.security import (\n"
        "    OAuth2PasswordBearer,\n"
        "    HTTPBasic,\n"
        ")\n"
        "from lanner.exceptions import HTTPException, RequestValidationError\n"
        "from fastapi.exceptions import WebSocketRequestValidationError\n"
    )
    assert report[0] == f"2: fastapi.routing.APIWebSocketRoute: {NO_ROUTE_CLASS}"
    assert report[1].startswith("7: fastapi.exceptions.WebSocketRequestValidationError: lanner refuses")
    assert len(report) == 2


def test_renamed_names_follow_their_references_and_nothing_else():
    text, _ = migrate(
        """\
        from fastapi import APIRouter, FastAPI
        from fastapi.templating import Jinja2Templates

        class App(FastAPI):
            pass

        def build(title: str) -> FastAPI:
            app: FastAPI = FastAPI(title=title)
            app.include_router(APIRouter())
            return app

        def later() -> "FastAPI | None":
            return None

        def shadowed(FastAPI):
            return FastAPI.title, "FastAPI"

        templates = Jinja2Templates(directory="templates")
        kind = isinstance(templates, Jinja2Templates)
        other = settings.FastAPI
        """
    )
    assert text == textwrap.dedent(
        """\
        from lanner import Router, Lanner
        from lanner.templating import Templates

        class App(Lanner):
            pass

        def build(title: str) -> Lanner:
            app: Lanner = Lanner(title=title, openapi_compat="fastapi")
            app.include_router(Router())
            return app

        def later() -> "Lanner | None":
            return None

        def shadowed(FastAPI):
            return FastAPI.title, "FastAPI"

        templates = Templates(directory="templates")
        kind = isinstance(templates, Templates)
        other = settings.FastAPI
        """
    )


def test_a_new_name_already_taken_is_imported_under_the_old_one():
    text, report = migrate(
        """\
        from starlette.routing import Router
        from fastapi import APIRouter
        api = APIRouter()
        """
    )
    assert text == (
        "from starlette.routing import Router\nfrom lanner import Router as APIRouter\napi = APIRouter()\n"
    )
    assert report == ["1: starlette.routing.Router: no lanner equivalent yet"]


def test_a_name_rebound_in_the_module_is_imported_under_the_old_one():
    text, _ = migrate(
        """\
        try:
            from fastapi import FastAPI
        except ImportError:
            FastAPI = None
        """
    )
    assert "from lanner import Lanner as FastAPI\n" in text


def test_import_fastapi_uses_become_lanner_uses():
    text, report = migrate(
        """\
        import fastapi
        import fastapi.responses
        import starlette.status as codes

        app = fastapi.FastAPI(title="x")
        page = fastapi.responses.HTMLResponse
        created = codes.HTTP_201_CREATED
        """
    )
    assert text == textwrap.dedent(
        """\
        import lanner
        import lanner.responses
        import lanner.status as codes

        app = lanner.Lanner(title="x", openapi_compat="fastapi")
        page = lanner.responses.HTMLResponse
        created = codes.HTTP_201_CREATED
        """
    )
    assert report == []


def test_import_fastapi_as_alias_is_kept_while_something_still_needs_it():
    text, report = migrate(
        """\
        import fastapi as fa
        app = fa.FastAPI()
        middleware = fa.middleware
        """
    )
    assert text == (
        "import fastapi as fa\n"
        "import lanner\n"
        'app = lanner.Lanner(title="FastAPI", openapi_compat="fastapi")\n'
        "middleware = fa.middleware\n"
    )
    assert report == ["3: fastapi.middleware: no lanner equivalent yet"]
    text, _ = migrate("import fastapi as fa\napp = fa.FastAPI()\n")
    assert text == 'import lanner as fa\napp = fa.Lanner(title="FastAPI", openapi_compat="fastapi")\n'


def test_starlette_imports_map_to_their_lanner_homes():
    text, report = migrate(
        """\
        from starlette.exceptions import HTTPException as StarletteHTTPException
        from starlette.responses import JSONResponse, RedirectResponse
        from starlette.requests import Request
        from starlette.testclient import TestClient
        from starlette.staticfiles import StaticFiles
        from starlette.datastructures import URL, UploadFile
        from starlette.concurrency import run_in_threadpool
        from starlette import status
        from starlette.status import HTTP_404_NOT_FOUND
        from starlette.types import ASGIApp, Scope
        from starlette.background import BackgroundTasks, BackgroundTask
        """
    )
    assert text == textwrap.dedent(
        """\
        from lanner.exceptions import HTTPException as StarletteHTTPException
        from lanner.responses import JSONResponse, RedirectResponse
        from lanner.requests import Request
        from lanner.testing import TestClient
        from lanner.staticfiles import StaticFiles
        from lanner.datastructures import URL
        from lanner.forms import UploadFile
        from lanner.concurrency import run_in_threadpool
        from lanner import status
        from lanner.status import HTTP_404_NOT_FOUND
        from lanner.types import ASGIApp, Scope
        from lanner.background import BackgroundTasks
        from starlette.background import BackgroundTask
        """
    )
    assert report == [
        "11: starlette.background.BackgroundTask: lanner has no single BackgroundTask; "
        "use lanner.background.BackgroundTasks"
    ]


def test_unmapped_names_are_reported_at_their_import_and_each_use():
    _, report = migrate(
        """\
        from fastapi.routing import APIWebSocketRoute
        from fastapi.middleware.cors import CORSMiddleware
        from starlette.middleware.sessions import SessionMiddleware

        app = FastAPI()
        app.add_middleware(SessionMiddleware, secret_key="x")


        route = APIWebSocketRoute
        """
    )
    middleware = "lanner has no middleware of this kind (it has CORS, GZip, TrustedHost, HTTPSRedirect"
    assert [line.split(":")[0] for line in report] == ["1", "3", "6", "9"]
    assert report[0] == f"1: fastapi.routing.APIWebSocketRoute: {NO_ROUTE_CLASS}"
    assert report[1].startswith(f"3: starlette.middleware.sessions.SessionMiddleware: {middleware}")
    assert report[2].startswith("6: SessionMiddleware: ") and report[2].endswith("(imported at line 3)")
    assert report[3].startswith("9: APIWebSocketRoute: ") and report[3].endswith("(imported at line 1)")


def test_starlette_middleware_lanner_has_are_imported_from_lanner():
    text, report = migrate(
        """        from fastapi.middleware.cors import CORSMiddleware
        from fastapi.middleware.gzip import GZipMiddleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware
        from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
        from fastapi.middleware.wsgi import WSGIMiddleware
        """
    )
    assert text == (
        "from lanner.middleware import CORSMiddleware\n"
        "from lanner.middleware import GZipMiddleware\n"
        "from lanner.middleware import TrustedHostMiddleware\n"
        "from lanner.middleware import HTTPSRedirectMiddleware\n"
        "from lanner.wsgi import WSGIMount\n"
    )
    assert [line for line in report if ": note: " not in line] == []


def test_keywords_lanner_lacks_are_reported_and_kept():
    text, report = migrate(
        """\
        from fastapi import APIRouter, FastAPI

        app = FastAPI(
            title="Shop",
            middleware=[],
            root_path_in_servers=False,
            openapi_prefix="/api",
        )
        router = APIRouter(prefix="/items", redirect_slashes=False)


        @router.get("/", response_model=None, frobnicate=True)
        def index() -> None: ...


        app.include_router(router, prefix="/v1")
        """
    )
    assert "middleware=[]," in text and "root_path_in_servers=False," in text
    assert report == [
        "3: Lanner(middleware=...): Lanner() takes no middleware list; call app.add_middleware() for each",
        "3: Lanner(openapi_prefix=...): deprecated in FastAPI; use root_path=",
        "3: Lanner(root_path_in_servers=...): Lanner() has no root_path_in_servers= keyword in lanner; "
        "left in place",
        "9: Router(redirect_slashes=...): Router() has no redirect_slashes= keyword in lanner; left in place",
        "12: router.get(frobnicate=...): router.get() has no frobnicate= keyword in lanner; left in place",
    ]


def test_openapi_compat_follows_the_call_layout_and_is_added_once():
    text, _ = migrate(
        """\
        from fastapi import FastAPI
        one = FastAPI(
            title="x",
        )
        two = FastAPI(
            title="x",
            version="2"
        )
        three = FastAPI(openapi_compat="lanner")
        """
    )
    assert text == textwrap.dedent(
        """\
        from lanner import Lanner
        one = Lanner(
            title="x",
            openapi_compat="fastapi",
        )
        two = Lanner(
            title="x",
            version="2",
            openapi_compat="fastapi"
        )
        three = Lanner(openapi_compat="lanner", title="FastAPI")
        """
    )
    text, _ = migrate("from fastapi import FastAPI\napp = FastAPI()\n", openapi_compat=False)
    assert text == "from lanner import Lanner\napp = Lanner()\n"


def test_keyword_differences_are_rewritten():
    text, report = migrate(
        """\
        from typing import Annotated
        from fastapi import APIRouter, Body, Depends, Query
        from fastapi.templating import Jinja2Templates

        router = APIRouter()
        templates = Jinja2Templates(directory="templates")


        @router.api_route("/search", methods=["GET", "POST"])
        def search(
            q: Annotated[str, Query(regex="^[a-z]+$", example="abc")],
            body: dict = Body(None, openapi_examples={}),
            user: str = Depends(get_user, scope="function"),
        ):
            return templates.TemplateResponse(request=q, name="page.html", context={})


        router.add_api_route("/other", endpoint=search, methods=["GET"])
        router.mount
        """
    )
    assert 'Query(pattern="^[a-z]+$", examples=["abc"])' in text
    assert '@router.route("/search", methods=["GET", "POST"])' in text
    assert 'router.add_route("/other", handler=search, methods=["GET"])' in text
    assert 'templates.render(request=q, name="page.html", context={})' in text
    assert report == [
        "12: Body(openapi_examples=...): Body() has no openapi_examples= keyword in lanner; left in place",
        "13: Depends(scope=...): lanner's Depends(scope=) is 'request' (the default) or 'app' (built once "
        "at startup); FastAPI's 'function' scope has no equivalent",
        "19: router.mount: lanner's Router has no 'mount'",
    ]


def test_attributes_a_lanner_app_lacks_are_reported():
    _, report = migrate(
        """\
        from fastapi import FastAPI
        app = FastAPI()
        app.router.route_class = MyRoute
        if app.openapi_schema:
            pass
        app.no_such_thing()
        app.title, app.state, app.dependency_overrides
        """
    )
    assert [line.split(":")[0:2] for line in report] == [
        ["3", " app.router"],
        ["4", " app.openapi_schema"],
        ["6", " app.no_such_thing()"],
    ]
    assert report[2].endswith("lanner's Lanner has no 'no_such_thing'")


def test_orjson_response_becomes_json_response_with_a_note():
    text, report = migrate(
        "from fastapi.responses import JSONResponse, ORJSONResponse\nkinds = (ORJSONResponse,)\n"
    )
    assert text == "from lanner.responses import JSONResponse\nkinds = (JSONResponse,)\n"
    assert report == [
        "1: note: fastapi.responses.ORJSONResponse: became lanner.responses.JSONResponse: "
        "lanner's JSONResponse already serializes with pydantic's fast serializer"
    ]


def test_star_imports_are_reported():
    text, report = migrate("from fastapi import *\n")
    assert text == "from fastapi import *\n"
    assert report == [
        "1: from fastapi import *: a star import cannot be migrated; import the names you use instead"
    ]


SAMPLE = """\
from typing import Annotated
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.routing import APIWebSocketRoute
import fastapi.responses
from starlette.middleware.cors import CORSMiddleware

app = FastAPI(title="x", middleware=[])
router = APIRouter(prefix="/r")


@router.get("/{item_id}", bogus=1)
def read(item_id: int, q: Annotated[str, Query(regex="^a")] = "a") -> fastapi.responses.JSONResponse:
    return fastapi.responses.JSONResponse({"id": item_id})


app.include_router(router)
"""


def test_migrating_twice_changes_nothing_the_second_time():
    first = migrate_source(SAMPLE)
    assert first.changed
    second = migrate_source(first.migrated)
    assert not second.changed
    assert second.migrated == first.migrated


def test_files_without_fastapi_imports_are_untouched(tmp_path):
    untouched = {
        "plain.py": b"import os\n\nprint(os.sep)\n",
        "mentions.py": b"# we moved off fastapi\nNAME = 'starlette'\nimport fastapi_utils\n",
        "done.py": b"from lanner import Lanner\napp = Lanner()\n",
    }
    for name, data in untouched.items():
        (tmp_path / name).write_bytes(data)
    report = migrate_paths([tmp_path])
    assert report.changed == [] and report.unmapped == []
    for name, data in untouched.items():
        assert (tmp_path / name).read_bytes() == data


def test_encoding_and_line_endings_are_kept(tmp_path):
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\r\nfrom fastapi import FastAPI\r\nNAME = '\xe9'\r\n")
    migrate_paths([latin], openapi_compat=False)
    assert (
        latin.read_bytes() == b"# -*- coding: latin-1 -*-\r\nfrom lanner import Lanner\r\nNAME = '\xe9'\r\n"
    )


def test_invalid_files_are_reported_and_left_alone(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from fastapi import FastAPI\ndef (:\n")
    good = tmp_path / "good.py"
    good.write_text("from fastapi import Depends\n")
    report = migrate_paths([tmp_path])
    assert [result.path for result in report.errors] == [str(broken)]
    assert broken.read_text() == "from fastapi import FastAPI\ndef (:\n"
    assert good.read_text() == "from lanner import Depends\n"
    assert report.lines()[0] == f"{broken}: error: line 2: not valid Python"
    assert report.lines()[-1].endswith("1 file(s) not migrated")


def test_folders_are_searched_for_python_files(tmp_path):
    for relative in (
        "a.py",
        "pkg/b.py",
        "pkg/notes.txt",
        ".hidden/c.py",
        "venv/d.py",
        "pkg/__pycache__/e.py",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("")
    found = [path.relative_to(tmp_path).as_posix() for path in iter_python_files([tmp_path])]
    assert found == ["a.py", "pkg/b.py"]
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        list(iter_python_files([tmp_path / "missing"]))


def test_unknown_source_is_refused():
    with pytest.raises(ValueError, match="unknown source 'django'"):
        migrate_source("", source="django")


def test_cli_diff_prints_and_writes_nothing(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text(SAMPLE)
    assert main(["migrate", "--from", "fastapi", "--diff", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert app.read_text() == SAMPLE
    assert f"--- {app}\n+++ {app}\n" in out
    assert '-app = FastAPI(title="x", middleware=[])\n' in out
    assert '+app = Lanner(title="x", middleware=[], openapi_compat="fastapi")\n' in out
    assert f"{app}:3: fastapi.routing.APIWebSocketRoute: {NO_ROUTE_CLASS}\n" in out
    assert f"{app}:11: router.get(bogus=...): " in out
    assert out.endswith("would migrate 1 of 1 file(s); 3 use(s) without a lanner equivalent, 0 note(s)\n")


def test_cli_writes_in_place_and_reports(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(SAMPLE)
    done = subprocess.run(
        [sys.executable, "-m", "lanner.cli", "migrate", "--from", "fastapi", str(app)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{app}:3: fastapi.routing.APIWebSocketRoute: {NO_ROUTE_CLASS}\n")
    assert done.stdout.endswith("migrated 1 of 1 file(s); 3 use(s) without a lanner equivalent, 0 note(s)\n")
    assert app.read_text() == migrate_source(SAMPLE).text
    again = subprocess.run(
        [sys.executable, "-m", "lanner.cli", "migrate", "--from", "fastapi", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert again.returncode == 0
    assert "migrated 0 of 1 file(s)" in again.stdout


def test_cli_missing_path_exits_2(tmp_path, capsys):
    assert main(["migrate", "--from", "fastapi", str(tmp_path / "nope.py")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_missing_libcst_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "libcst", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'lanner\[migrate\]'"):
        migrate_source("from fastapi import FastAPI\n")
    (tmp_path / "app.py").write_text("from fastapi import FastAPI\n")
    assert main(["migrate", "--from", "fastapi", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"lanner: error: {MISSING_LIBCST}\n"
    assert (tmp_path / "app.py").read_text() == "from fastapi import FastAPI\n"


def test_importing_lanner_does_not_import_libcst():
    code = "import sys, lanner, lanner.cli, lanner.migrate; print('libcst' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout == "False\n"


def test_every_public_fastapi_name_has_a_row():
    fastapi = pytest.importorskip("fastapi")
    security = importlib.import_module("fastapi.security")
    for module in (fastapi, security):
        for name in dir(module):
            value = getattr(module, name)
            if name.startswith("_") or (inspect.ismodule(value) and name != "status"):
                continue
            home = TABLE.lookup(f"{module.__name__}.{name}")
            assert home is not None and home.note != "no lanner equivalent yet", f"{module.__name__}.{name}"


def test_the_docs_list_every_row_of_the_names_table():
    doc = (ROOT / "docs" / "migrating-from-fastapi.md").read_text()
    for row in markdown_rows(TABLE):
        assert row in doc, f"docs/migrating-from-fastapi.md lacks the row:\n{row}\n(paste names_table())"
    assert names_table() in doc


SHOP = """\
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float


ITEMS: dict[int, Item] = {}


def page_size(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> int:
    return limit


router = APIRouter(prefix="/items", tags=["items"])


@router.post("", status_code=201)
def create_item(item: Item) -> dict[str, int]:
    ITEMS[len(ITEMS) + 1] = item
    return {"id": len(ITEMS)}


@router.get("/{item_id}")
def read_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="Item not found")
    return ITEMS[item_id]


@router.get("")
def list_items(
    limit: Annotated[int, Depends(page_size)],
    name: Annotated[str | None, Query(regex="^[a-z]+$")] = None,
) -> list[Item]:
    found = [item for item in ITEMS.values() if name is None or item.name == name]
    return found[:limit]


app = FastAPI(title="Shop")
app.include_router(router)
"""


def test_a_migrated_fastapi_app_runs_on_lanner(tmp_path):
    from lanner import Lanner
    from lanner.testing import TestClient

    compat = "openapi_compat" in inspect.signature(Lanner).parameters
    result = migrate_source(SHOP, openapi_compat=compat)
    assert result.findings == []
    assert "from fastapi" not in result.text
    path = tmp_path / "shop_migrated.py"
    path.write_bytes(result.migrated)
    spec = importlib.util.spec_from_file_location("shop_migrated", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, Lanner)

    with TestClient(module.app) as client:
        created = client.post("/items", json={"name": "pen", "price": 1.5})
        assert (created.status_code, created.json()) == (201, {"id": 1})
        client.post("/items", json={"name": "ink", "price": 4})
        assert client.get("/items/1").json() == {"name": "pen", "price": 1.5}
        assert client.get("/items", params={"limit": 1}).json() == [{"name": "pen", "price": 1.5}]
        assert client.get("/items", params={"name": "ink"}).json() == [{"name": "ink", "price": 4.0}]

        missing = client.get("/items/9")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["detail"] == "Item not found"

        invalid = client.get("/items", params={"limit": 0, "name": "UPPER"})
        assert invalid.status_code == 422
        assert sorted(tuple(error["loc"]) for error in invalid.json()["errors"]) == [
            ("query", "limit"),
            ("query", "name"),
        ]
    if compat:
        assert module.app.openapi()["paths"]["/items/{item_id}"]["get"]["operationId"] == (
            "read_item_items__item_id__get"
        )


def test_migrating_a_path_object_list_reports_per_file(tmp_path):
    first = tmp_path / "one.py"
    first.write_text("from fastapi.routing import APIWebSocketRoute\n")
    second = tmp_path / "two.py"
    second.write_text("from fastapi.responses import UJSONResponse\n")
    report = migrate_paths([Path(first), str(second)], write=False)
    assert [str(finding) for finding in report.unmapped] == [
        f"{first}:1: fastapi.routing.APIWebSocketRoute: {NO_ROUTE_CLASS}"
    ]
    assert [finding.line for finding in report.notes] == [1]
    assert second.read_text() == "from fastapi.responses import UJSONResponse\n"
    assert [result.path for result in report.changed] == [str(second)]


def test_odd_module_imports():
    text, report = migrate(
        """\
        import os, fastapi
        import starlette.middleware.sessions
        import starlette.status as codes
        import fastapi.responses
        plain = fastapi.responses.ORJSONResponse
        k = starlette.middleware.sessions.SessionMiddleware, starlette.middleware.sessions.SessionMiddleware
        """
    )
    assert text == textwrap.dedent(
        """\
        import os
        import lanner
        import starlette.middleware.sessions
        import lanner.status as codes
        import lanner.responses
        plain = lanner.responses.JSONResponse
        k = starlette.middleware.sessions.SessionMiddleware, starlette.middleware.sessions.SessionMiddleware
        """
    )
    assert report == [
        "5: note: fastapi.responses.ORJSONResponse: became lanner.responses.JSONResponse: "
        "lanner's JSONResponse already serializes with pydantic's fast serializer",
        "6: starlette.middleware.sessions.SessionMiddleware: lanner has no middleware of this kind (it has "
        "CORS, GZip, TrustedHost, HTTPSRedirect and WSGI mounts); write it as pure ASGI middleware and "
        "add it with app.add_middleware()",
    ]


def test_names_bound_elsewhere_decide_between_renaming_and_aliasing():
    text, _ = migrate(
        """\
        from lanner import Lanner
        from .routing import Router
        from fastapi import APIRouter, FastAPI
        app, api = FastAPI(openapi_compat="fastapi"), APIRouter()
        """
    )
    assert text == (
        "from lanner import Lanner\n"
        "from .routing import Router\n"
        "from lanner import Router as APIRouter, Lanner\n"
        'app, api = Lanner(openapi_compat="fastapi", title="FastAPI"), APIRouter()\n'
    )


def test_rules_on_methods_and_texts():
    text, report = migrate(
        """\
        from fastapi import FastAPI, Query
        from fastapi.templating import Jinja2Templates
        app = FastAPI()
        templates = Jinja2Templates("templates")
        route = app.api_route
        app.mount(path="/static", app=other)
        q = Query(regex="a", pattern="b")
        page = templates.TemplateResponse("page.html", {"request": None})
        templates.env, templates.__class__, app.__dict__
        """
    )
    assert "route = app.route\n" in text
    assert 'app.mount(prefix="/static", app=other)' in text
    assert 'q = Query(regex="a", pattern="b")' in text
    assert report == [
        "7: Query(regex=...): both regex= and pattern= are given; keep pattern= only",
        '8: templates.render("page.html", ...): render() takes the request first: '
        "render(request, name, context)",
    ]


def test_call_rules_fall_back_to_lanner_signatures():
    from lanner.migrate._table import CallRule, Table

    assert CallRule("f()", accepted=frozenset({"a"})).accepts("a")
    assert not CallRule("f()", accepted=frozenset({"a"})).accepts("b")
    assert CallRule("f()", accepted=frozenset(), signature="lanner.params:Query").accepts("alias")
    assert not CallRule("f()", accepted=frozenset(), signature="lanner.no_such_module:X").accepts("b")
    assert CallRule("f()").accepts("anything")
    probe = Table("x", ("x",), (), probes={"Templates": "lanner.templating:Templates"})
    assert not probe.lacks("Templates", "no_such_attribute")  # no instance without arguments
    assert probe.module_home("x.anything") is None


def test_a_file_the_codemod_fails_on_is_reported_not_raised(tmp_path, monkeypatch):
    codemod = importlib.import_module("lanner.migrate._codemod")

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(codemod, "migrate_module", explode)
    app = tmp_path / "app.py"
    app.write_text("from fastapi import FastAPI\n")
    report = migrate_paths([tmp_path])
    assert [result.error for result in report.files] == ["migration failed: RuntimeError('boom')"]
    assert app.read_text() == "from fastapi import FastAPI\n"


def test_results_and_reports_render():
    unchanged = migrate_source("import os\n")
    assert unchanged.diff() == "" and not unchanged.changed
    no_newline = migrate_source("from fastapi import Depends")
    assert no_newline.diff().endswith("+from lanner import Depends\n\\ No newline at end of file\n")
    assert FileResult("x.py", b"# -*- coding: bogus -*-\n\xff", b"").text == ""
    assert FileResult("x.py", b"", b"# -*- coding: bogus -*-\n\xff").text == "# -*- coding: bogus -*-\n\ufffd"
    report = MigrationReport([no_newline], written=False)
    assert str(report) == "would migrate 1 of 1 file(s); 0 use(s) without a lanner equivalent, 0 note(s)"
