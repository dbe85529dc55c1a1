import textwrap
from pathlib import Path

import pytest

from lanner.cli import main

BROKEN = '''
from typing import Annotated, Any

from lanner import Depends, Lanner


class Widget:
    pass


def get_db():
    yield "db"


app = Lanner()


@app.post("/widgets")
def create_widget(widget: Widget) -> dict[str, Any]:
    return {}


@app.get("/db")
def read(db: Any = Depends(get_db())) -> None: ...


@app.get("/tag")
def tag(name: Annotated[str, Depends]) -> None: ...


@app.get("/w")
def show() -> Widget:
    return Widget()


@app.get("/fine")
def fine() -> dict[str, str]:
    return {}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_lanner_check_lists_every_problem_with_its_file_line_and_fix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "broken_check_app.py").write_text(BROKEN)
    assert main(["check", "broken_check_app.py"]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("broken_check_app.py:18: POST /widgets: create_widget(), parameter 'widget': ")
    assert lines[1] == (
        "    fix: make Widget a pydantic BaseModel or a dataclass, or build it in a dependency: "
        "widget: Annotated[Widget, Depends(get_widget)]"
    )
    assert lines[2].startswith("broken_check_app.py:23: GET /db: read(), parameter 'db': Depends() needs")
    assert lines[3] == "    fix: pass the function itself: Depends(get_db)"
    assert lines[4].startswith("broken_check_app.py:27: GET /tag: tag(), parameter 'name': Annotated[...,")
    assert lines[6].startswith("broken_check_app.py:31: GET /w: show(), return annotation: pydantic cannot")
    assert lines[-1] == "lanner check: 4 problem(s) in broken_check_app.py"
    assert "Traceback" not in err


def test_lanner_check_passes_a_sound_app(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "sound_check_app.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from lanner import Lanner

            class Item(BaseModel):
                name: str

            app = Lanner()

            @app.get("/items/{id:int}")
            def item(id: int) -> Item:
                return Item(name=str(id))
            """
        )
    )
    assert main(["check", "sound_check_app.py"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lanner check: ok: ") and "OpenAPI document builds" in out


def test_other_commands_stop_at_the_first_problem_in_one_message(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "broken_routes_app.py").write_text(BROKEN)
    assert main(["routes", "broken_routes_app.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "lanner: error: cannot import 'broken_routes_app': broken_routes_app.py:18: POST /widgets: "
    )
    assert "fix: make Widget a pydantic BaseModel" in err and "Traceback" not in err
