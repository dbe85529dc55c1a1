"""The CLI tells a developer what is wrong with TARGET and where, in a line, without a traceback.

Each test shows the exact message printed: a module without ``app`` (the `Lanner` apps it has are
suggested), a folder, a module that does not exist, a missing dependency or an exception inside the
user's module (its file and line), a syntax error (file, line, source and caret, as Python prints
it). Also: ``lanner dev`` keeps watching an app that fails to import (a real server), ``--version``,
plain YAML from ``lanner openapi --yaml``, and a help line per command.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

import lanner
from lanner import cli
from lanner.cli import load_target, main
from lanner.cli.documents import to_yaml
from lanner.cli.parser import COMMANDS, build_parser
from lanner.cli.reloading import RELOAD_TARGET, load_app

from .conftest import LANNER, ROOT, Server, free_port

HELLO = "from lanner import Lanner\napp = Lanner()\n\n@app.get('/')\ndef home() -> str:\n    return 'fixed'\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory; the modules the test imports from it are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target adds the folder: undone afterwards
    monkeypatch.delenv("LANNER_APP", raising=False)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("helpcli_"):
            del sys.modules[name]


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict]]]:
    """What `lanner run`/`lanner dev` would hand to uvicorn; no server starts."""
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, **options: calls.append((app, options)))
    monkeypatch.setenv("LANNER_DEBUG", "0")  # recorded, so that the `1` lanner dev sets is undone
    yield calls


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``lanner argv`` in this process: its exit status and what it wrote on standard error."""
    status = main(argv)
    return status, capsys.readouterr().err


# -- a module without `app` --------------------------------------------------------------------

NAMED = "from lanner import Lanner\n\napi = Lanner()\n"


@pytest.mark.parametrize("command", ["routes", "openapi", "run", "asyncapi"])
def test_a_module_without_app_suggests_the_lanner_app_it_has(command, folder, uvicorn_calls, capsys):
    (folder / "helpcli_named.py").write_text(NAMED)
    assert run([command, "helpcli_named.py"], capsys) == (
        2,
        "lanner: error: module 'helpcli_named' has no attribute 'app'; did you mean helpcli_named.py:api?\n",
    )
    # As a module, the suggestion is a module too; --app gets the same answer.
    assert run(["--app", "helpcli_named", command], capsys) == (
        2,
        "lanner: error: module 'helpcli_named' has no attribute 'app'; did you mean helpcli_named:api?\n",
    )
    assert uvicorn_calls == []


def test_every_lanner_app_of_the_module_is_suggested(folder, capsys):
    (folder / "helpcli_two.py").write_text("from lanner import Lanner\n\napi = Lanner()\nadmin = Lanner()\n")
    (folder / "helpcli_three.py").write_text(
        "from lanner import Lanner\n\napi = Lanner()\nadmin = Lanner()\n_hidden = Lanner()\nweb = Lanner()\n"
    )
    assert run(["routes", "helpcli_two.py:apii"], capsys) == (
        2,
        "lanner: error: module 'helpcli_two' has no attribute 'apii'; "
        "did you mean helpcli_two.py:api or helpcli_two.py:admin?\n",
    )
    assert run(["routes", "helpcli_three"], capsys) == (
        2,
        "lanner: error: module 'helpcli_three' has no attribute 'app'; "
        "did you mean one of helpcli_three:api, helpcli_three:admin or helpcli_three:web?\n",
    )


def test_a_module_without_any_app_says_how_to_make_one(folder, capsys):
    (folder / "helpcli_empty.py").write_text("x = 1\n")
    assert run(["routes", "helpcli_empty.py"], capsys) == (
        2,
        "lanner: error: module 'helpcli_empty' has no attribute 'app' and no Lanner app "
        "(create one: app = Lanner())\n",
    )


def test_a_suggested_target_works(folder, capsys):
    (folder / "helpcli_suggested.py").write_text(
        NAMED + "\n@api.get('/ping')\ndef ping() -> str:\n    return 'pong'\n"
    )
    assert main(["routes", "helpcli_suggested.py:api"]) == 0
    assert "/ping" in capsys.readouterr().out


def test_application_is_found_as_app_is(folder, capsys):
    (folder / "helpcli_application.py").write_text(
        "from lanner import Lanner\n\napplication = Lanner()\n\n"
        "@application.get('/wsgi-style')\ndef f() -> str:\n    return ''\n"
    )
    assert main(["routes", "helpcli_application.py"]) == 0
    assert "/wsgi-style" in capsys.readouterr().out


@pytest.mark.parametrize("factory", ["create_app", "make_app"])
def test_a_flask_style_factory_is_still_found(factory, folder, capsys):
    (folder / f"helpcli_{factory}.py").write_text(
        f"from lanner import Lanner\n\ndef {factory}():\n    app = Lanner()\n\n"
        "    @app.get('/made')\n    def made() -> str:\n        return 'made'\n\n    return app\n"
    )
    assert main(["routes", f"helpcli_{factory}.py"]) == 0
    assert "/made" in capsys.readouterr().out


def test_a_failing_factory_points_at_its_line(folder, capsys):
    (folder / "helpcli_badfactory.py").write_text(
        "def create_app():\n    raise RuntimeError('DATABASE_URL is not set')\n"
    )
    assert run(["routes", "helpcli_badfactory.py"], capsys) == (
        2,
        "lanner: error: create_app() of 'helpcli_badfactory' failed: RuntimeError: DATABASE_URL is not set "
        "(helpcli_badfactory.py, line 2: raise RuntimeError('DATABASE_URL is not set'))\n",
    )


# -- targets that are not modules --------------------------------------------------------------


def test_a_folder_is_one_line_naming_the_file_that_creates_the_app(folder, capsys):
    (folder / "helpcli_shop").mkdir()
    (folder / "helpcli_shop" / "models.py").write_text("x = 1\n")
    (folder / "helpcli_shop" / "main.py").write_text("from lanner import Lanner\napp = Lanner()\n")
    assert run(["routes", "helpcli_shop/"], capsys) == (
        2,
        "lanner: error: helpcli_shop/ is a folder, not a Python file: did you mean helpcli_shop/main.py?\n",
    )
    # Without a slash it is a module name: a folder without __init__.py is not one.
    assert run(["routes", "helpcli_shop"], capsys) == (
        2,
        "lanner: error: 'helpcli_shop' is a folder without __init__.py, not a module: "
        "did you mean helpcli_shop/main.py?\n",
    )
    (folder / "helpcli_shop" / "dangling.py").symlink_to(folder / "nowhere.py")  # unreadable: skipped
    assert run(["routes", "helpcli_shop/"], capsys)[1].endswith("did you mean helpcli_shop/main.py?\n")
    (folder / "empty").mkdir()
    assert run(["dev", "empty/"], capsys) == (
        2,
        "lanner: error: empty/ is a folder, not a Python file: "
        "name the Python file that creates the app, such as empty/app.py\n",
    )


def test_a_missing_module_or_file_is_one_line(folder, capsys):
    assert run(["routes", "helpcli_nowhere"], capsys) == (
        2,
        f"lanner: error: cannot import 'helpcli_nowhere': no module named 'helpcli_nowhere' in {folder} "
        "(give a file path such as app.py, or run lanner from the project's folder)\n",
    )
    (folder / "helpcli_service.py").write_text(NAMED)
    assert run(["routes", "helpcli_servce.py"], capsys) == (
        2,
        "lanner: error: no such file: helpcli_servce.py (did you mean helpcli_service.py?)\n",
    )
    assert run(["routes", "nowhere/app.py"], capsys) == (2, "lanner: error: no such file: nowhere/app.py\n")


# -- errors inside the user's module -------------------------------------------------------------


def test_a_missing_dependency_names_it_and_the_user_s_line(folder, uvicorn_calls, capsys):
    (folder / "helpcli_needs.py").write_text(
        "from lanner import Lanner\n\nimport helpcli_not_installed_anywhere\n\napp = Lanner()\n"
    )
    expected = (
        "lanner: error: cannot import 'helpcli_needs': No module named 'helpcli_not_installed_anywhere' "
        "(helpcli_needs.py, line 3: import helpcli_not_installed_anywhere); "
        f"is it installed for {sys.executable}?\n"
    )
    assert run(["routes", "helpcli_needs.py"], capsys) == (2, expected)
    assert run(["run", "helpcli_needs.py"], capsys) == (2, expected)
    assert uvicorn_calls == []


def test_the_line_is_the_user_s_even_when_the_import_fails_in_a_library(folder, capsys):
    # The failing import is two modules down: the user's helper, which imports a library module
    # whose own import fails. The line shown is the user's last one.
    (folder / "helpcli_layer.py").write_text("import json\n\nfrom helpcli_helper import thing\n")
    (folder / "helpcli_helper.py").write_text("import json.helpcli_missing\n\nthing = 1\n")
    status, err = run(["routes", "helpcli_layer.py"], capsys)
    assert status == 2
    assert err.startswith(
        "lanner: error: cannot import 'helpcli_layer': No module named 'json.helpcli_missing' "
        "(helpcli_helper.py, line 1: import json.helpcli_missing)"
    )
    assert len(err.splitlines()) == 1


def test_an_exception_while_importing_is_one_line_with_its_line(folder, capsys):
    (folder / "helpcli_raises.py").write_text(
        "from lanner import Lanner\n\napp = Lanner()\nTIMEOUT = int('ten')\n"
    )
    assert run(["routes", "helpcli_raises.py"], capsys) == (
        2,
        "lanner: error: cannot import 'helpcli_raises': ValueError: invalid literal for int() with base 10: "
        "'ten' (helpcli_raises.py, line 4: TIMEOUT = int('ten'))\n",
    )


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("raise RuntimeError", "RuntimeError"),
        ("raise SyntaxError('no tabs in settings')", "SyntaxError: no tabs in settings"),
        ("raise LookupError('first line\\nsecond line')", "LookupError: first line"),
    ],
)
def test_any_exception_while_importing_gets_the_user_s_line(statement, reason, folder, capsys):
    (folder / "helpcli_statement.py").write_text(f"import os\n\n{statement}\n")
    status, err = run(["routes", "helpcli_statement.py"], capsys)
    assert status == 2
    assert err.splitlines()[0] == (
        f"lanner: error: cannot import 'helpcli_statement': {reason} "
        f"(helpcli_statement.py, line 3: {statement})"
    )
    assert err.splitlines()[1:] == (["second line"] if "second" in statement else [])


def test_a_factory_that_needs_arguments(folder, capsys):
    (folder / "helpcli_needsargs.py").write_text("def create_app(config):\n    pass\n")
    assert run(["routes", "helpcli_needsargs.py"], capsys) == (
        2,
        "lanner: error: create_app() of 'helpcli_needsargs' failed: "
        "TypeError: create_app() missing 1 required positional argument: 'config'\n",
    )


SYNTAX_ERROR = "from lanner import Lanner\n\ndef home(:\n    return 'hi'\n"


def python_s_message(source: str, filename: str) -> str:
    """What Python itself says about the syntax error in `source`."""
    try:
        compile(source, filename, "exec")
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg}"
    raise AssertionError("no syntax error")


def test_a_syntax_error_shows_the_file_line_source_and_caret(folder, uvicorn_calls, capsys):
    (folder / "helpcli_broken.py").write_text(SYNTAX_ERROR)
    for command in ("routes", "run", "openapi"):
        status, err = run([command, "helpcli_broken.py"], capsys)
        assert status == 2
        lines = err.splitlines()
        assert lines[:3] == [
            "lanner: error: cannot import 'helpcli_broken': syntax error",
            '  File "helpcli_broken.py", line 3',
            "    def home(:",
        ]
        assert re.fullmatch(r" {4,}\^+", lines[3])  # the caret, where Python puts it
        assert lines[4:] == [python_s_message(SYNTAX_ERROR, "helpcli_broken.py")]
        assert "Traceback" not in err
    assert uvicorn_calls == []


def test_a_syntax_error_in_an_imported_module_points_at_that_module(folder, capsys):
    (folder / "helpcli_pkg").mkdir()
    (folder / "helpcli_pkg" / "__init__.py").write_text("")
    (folder / "helpcli_pkg" / "app.py").write_text("from lanner import Lanner\n\nfrom .views import x\n")
    (folder / "helpcli_pkg" / "views.py").write_text("x = [1, 2\ny = 3\n")
    status, err = run(["routes", "helpcli_pkg/app.py"], capsys)
    assert status == 2
    assert err.splitlines()[:3] == [
        "lanner: error: cannot import 'helpcli_pkg.app': syntax error",
        f'  File "{Path("helpcli_pkg", "views.py")}", line 1',
        "    x = [1, 2",
    ]


# -- lanner dev ------------------------------------------------------------------------------------


def test_dev_starts_watching_an_app_that_does_not_import(folder, uvicorn_calls, monkeypatch, capsys):
    (folder / "helpcli_devbroken.py").write_text(SYNTAX_ERROR)
    monkeypatch.setenv(RELOAD_TARGET, "left as it was")
    assert main(["dev", "helpcli_devbroken.py"]) == 0  # uvicorn's reloader would start
    assert os.environ[RELOAD_TARGET] == "left as it was"
    [(app, options)] = uvicorn_calls
    assert (app, options["factory"], options["reload_dirs"]) == (
        "lanner.cli.reloading:load_app",
        True,
        [str(folder)],
    )
    # No file at all: nothing to watch.
    assert run(["dev", "helpcli_gone.py"], capsys) == (2, "lanner: error: no such file: helpcli_gone.py\n")
    assert len(uvicorn_calls) == 1


def test_each_reloaded_process_says_what_is_wrong(folder, monkeypatch, capsys):
    (folder / "helpcli_reloaded.py").write_text(NAMED)
    monkeypatch.setenv(RELOAD_TARGET, "helpcli_reloaded.py")
    with pytest.raises(SystemExit) as exited:
        load_app()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "lanner: error: module 'helpcli_reloaded' has no attribute 'app'; "
        "did you mean helpcli_reloaded.py:api?\n"
        "lanner: waiting for a change to reload the app\n"
    )
    monkeypatch.setenv(RELOAD_TARGET, "helpcli_reloaded.py:api")
    assert load_app() is sys.modules["helpcli_reloaded"].api


def wait_for_output(server: Server, text: str, timeout: float = 20.0) -> str:
    """The server's output once `text` is in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in (output := server.output()):
            return output
        time.sleep(0.1)
    raise TimeoutError(f"{text!r} not printed within {timeout}s:\n{server.output()}")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """``lanner dev broken.py`` on a free port, the file holding a syntax error as it starts."""
    folder = tmp_path_factory.mktemp("dev")
    app_file = folder / "broken.py"
    app_file.write_text(SYNTAX_ERROR)
    port = free_port()
    server = Server([*LANNER, "dev", str(app_file), "--port", str(port)], port)
    yield server, app_file
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_dev_keeps_watching_until_the_app_imports(dev_server):
    server, app_file = dev_server
    output = wait_for_output(server, "waiting for a change")
    assert f"lanner: error: cannot import 'broken': syntax error\n  File \"{app_file}\", line 3\n" in output
    assert "Traceback" not in output
    time.sleep(0.5)
    assert server.process.poll() is None  # still watching
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/", timeout=1)  # nothing serves yet
    app_file.write_text(HELLO)  # the fix
    server.wait_ready("/", timeout=30)
    assert httpx.get(server.url + "/").json() == "fixed"
    # Broken again, then fixed again: reported in a line each time, and the reloader carries on.
    app_file.write_text("import helpcli_not_installed_anywhere\n" + HELLO)
    wait_for_output(server, "No module named 'helpcli_not_installed_anywhere'")
    assert f"({app_file}, line 1: import helpcli_not_installed_anywhere)" in server.output()
    app_file.write_text(HELLO.replace("fixed", "fixed again"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url + "/", timeout=1).json() == "fixed again":
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    assert httpx.get(server.url + "/", timeout=5).json() == "fixed again"
    assert "Traceback" not in server.output()


# -- --version, YAML, help -----------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"lanner {lanner.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", lanner.__version__)


def test_the_console_script_prints_the_version():
    result = subprocess.run([*LANNER, "--version"], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert (result.returncode, result.stdout) == (0, f"lanner {lanner.__version__}\n")


def test_yaml_has_no_anchors_when_the_document_repeats_a_dict():
    shared = {"type": "string", "maxLength": 10}
    document = {"b": shared, "a": [shared, {"nested": shared}]}
    assert "&id001" in yaml.safe_dump(document)  # what PyYAML does by default
    text = to_yaml(document)
    assert text == (
        "a:\n"
        "- maxLength: 10\n  type: string\n"
        "- nested:\n    maxLength: 10\n    type: string\n"
        "b:\n  maxLength: 10\n  type: string\n"
    )
    assert yaml.safe_load(text) == document


def test_yaml_without_pyyaml_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if it were not installed
    assert run(["openapi", "examples/demo.py", "--yaml"], capsys) == (
        2,
        "lanner: error: --yaml needs PyYAML, which is not installed: pip install pyyaml\n",
    )


def test_openapi_yaml_is_plain(tmp_path, capsys):
    assert "&id001" in yaml.safe_dump(load_target("examples/demo.py").openapi())  # it repeats dicts
    assert main(["openapi", "examples/demo.py"]) == 0
    document = json.loads(capsys.readouterr().out)
    out = tmp_path / "openapi.yaml"
    assert main(["openapi", "examples/demo.py", "--yaml", "-o", str(out)]) == 0
    text = out.read_text()
    assert not re.search(r"[&*]id\d+", text)
    assert yaml.safe_load(text) == document


def test_help_has_a_line_per_command(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("LANNER_APP", raising=False)
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    section = out.split("\ncommands:\n  COMMAND\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in section] == list(COMMANDS)  # none wraps onto a second line
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "--version" in out and "examples:" in out


def test_every_command_has_a_parser_a_handler_and_its_own_help(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    parser = build_parser()
    [subcommands] = [action for action in parser._actions if action.dest == "command"]
    assert tuple(subcommands.choices) == COMMANDS
    assert set(cli.HANDLERS) == set(COMMANDS)
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: lanner {command} ")
        assert "TARGET" in out or command in ("new", "migrate")
