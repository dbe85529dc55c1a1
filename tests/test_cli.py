import json
import os
import subprocess
import sys

import httpx
import pytest

from lanner.cli import TargetError, load_target, main, split_target

from .conftest import LANNER, ROOT

pytestmark = pytest.mark.slow


def test_split_target_forms(tmp_path):
    app_file = tmp_path / "service.py"
    app_file.write_text("app = 1\n")
    assert split_target("pkg.module:api") == ("pkg.module", "api", None)
    assert split_target("pkg.module") == ("pkg.module", "app", None)
    assert split_target(str(app_file)) == ("service", "app", str(tmp_path))
    assert split_target(f"{app_file}:other") == ("service", "other", str(tmp_path))
    with pytest.raises(TargetError, match="no such file"):
        split_target(str(tmp_path / "missing.py"))
    with pytest.raises(TargetError, match="invalid target"):
        split_target(":app")


def test_load_target_errors(tmp_path):
    app_file = tmp_path / "noapp_module_x.py"
    app_file.write_text("something = 1\n")
    with pytest.raises(TargetError, match="has no attribute 'app'"):
        load_target(str(app_file))
    with pytest.raises(TargetError, match="cannot import"):
        load_target("no_such_module_anywhere:app")


def test_routes_prints_a_table(capsys):
    assert main(["routes", "examples/demo.py"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    rows = [line.split() for line in lines[1:]]
    assert ["GET", "/books/{book_id:int}", "get_book", "demo.get_book"] in rows
    assert ["POST", "/books", "add_book", "demo.add_book"] in rows


def test_bad_target_exits_2(capsys):
    assert main(["routes", "examples/does_not_exist.py"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_run_serves_the_demo_with_uvicorn(start_server):
    server = start_server([*LANNER, "run", "examples/demo.py"])
    server.wait_ready("/books")
    response = httpx.get(server.url + "/books", params={"limit": 1})
    assert response.status_code == 200
    assert response.json() == [
        {"title": "Dune", "author": "Frank Herbert", "year": 1965, "tags": ["sf"], "id": 1}
    ]
    created = httpx.post(
        server.url + "/books",
        json={"title": "Kindred", "author": "Octavia Butler", "year": 1979},
        headers={"x-api-key": "secret"},
    )
    assert created.status_code == 201
    assert created.json()["id"] == 3
    bad = httpx.get(server.url + "/books", params={"limit": 0})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    head = httpx.head(server.url + "/books/1")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0


def test_run_module_target_with_workers(start_server):
    server = start_server([*LANNER, "run", "tests.apps.debug_probe:app", "--workers", "2"])
    server.wait_ready("/debug")
    assert httpx.get(server.url + "/debug").json() == {"debug": False}
    boom = httpx.get(server.url + "/boom")
    assert boom.status_code == 500
    assert "secret internals" not in boom.text


def test_dev_turns_debug_on(start_server):
    server = start_server([*LANNER, "dev", "tests/apps/debug_probe.py"])
    server.wait_ready("/debug")
    assert httpx.get(server.url + "/debug").json() == {"debug": True}
    boom = httpx.get(server.url + "/boom")
    assert boom.status_code == 500
    assert "secret internals" in boom.json()["traceback"]


def test_failing_startup_exits_non_zero_with_a_clear_message():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [*LANNER, "run", "tests/apps/failing_startup.py", "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Application startup failed" in output
    assert "database unreachable" in output


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "lanner")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "routes" in result.stdout


def test_openapi_writes_a_sorted_document(tmp_path, capsys):
    import json

    import yaml

    out = tmp_path / "openapi.json"
    assert main(["openapi", "examples/demo.py", "-o", str(out)]) == 0
    text = out.read_text()
    document = json.loads(text)
    assert document["info"]["title"] == "Bookshelf"
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert main(["openapi", "examples/demo.py", "--yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == document


def test_openapi_diff_through_the_command(tmp_path, capsys):
    import json

    old = tmp_path / "old.json"
    assert main(["openapi", "examples/demo.py", "-o", str(old)]) == 0
    document = json.loads(old.read_text())
    assert main(["openapi", "diff", str(old), str(old)]) == 0
    del document["paths"]["/books/{book_id}"]
    new = tmp_path / "new.json"
    new.write_text(json.dumps(document))
    capsys.readouterr()
    assert main(["openapi", "diff", str(old), str(new), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["breaking"] == 1
    assert report["changes"][0]["kind"] == "path-removed"
    assert main(["openapi", "diff", str(old), str(tmp_path / "missing.json")]) == 2


@pytest.fixture
def uvicorn_calls(monkeypatch):
    """Record what `lanner run` and `lanner dev` hand to uvicorn instead of starting a server."""
    import uvicorn

    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    # `lanner dev` sets LANNER_DEBUG in this process: put back what was there before.
    saved = os.environ.pop("LANNER_DEBUG", None)
    yield calls
    os.environ.pop("LANNER_DEBUG", None)
    if saved is not None:
        os.environ["LANNER_DEBUG"] = saved


def test_run_hands_the_target_and_options_to_uvicorn(uvicorn_calls):
    assert main(["run", "tests.apps.debug_probe:app", "--host", "0.0.0.0", "--port", "9000",
                 "--workers", "3", "--log-level", "warning"]) == 0
    [(app, options)] = uvicorn_calls
    assert app == "tests.apps.debug_probe:app"
    assert options == {
        "host": "0.0.0.0", "port": 9000, "workers": 3, "reload": False, "reload_dirs": None,
        "app_dir": os.getcwd(), "log_level": "warning", "ws_max_size": 1024 * 1024,
    }
    assert "LANNER_DEBUG" not in os.environ


def test_dev_reloads_the_target_folder_with_debug_on(uvicorn_calls):
    assert main(["dev", "tests/apps/debug_probe.py"]) == 0
    [(app, options)] = uvicorn_calls
    folder = str(ROOT)  # tests/ and tests/apps/ are packages: imported from the folder above
    assert app == "tests.apps.debug_probe:app"
    assert (options["reload"], options["workers"]) == (True, None)
    assert options["reload_dirs"] == [folder]
    assert options["app_dir"] == folder
    assert os.environ["LANNER_DEBUG"] == "1"


def test_run_checks_the_target_before_starting_uvicorn(uvicorn_calls, capsys):
    assert main(["run", "tests.apps.debug_probe:nothing_here"]) == 2
    assert "has no attribute 'nothing_here'" in capsys.readouterr().err
    assert uvicorn_calls == []


def test_a_module_target_is_found_in_the_working_directory(tmp_path, monkeypatch, capsys):
    # The console script's sys.path holds its own folder, not the directory it was started from.
    (tmp_path / "cwd_only_service.py").write_text(
        "from lanner import Lanner\napp = Lanner()\n\n@app.get('/ping')\ndef ping():\n    return 'pong'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwd_only_service", raising=False)
    try:
        assert main(["routes", "cwd_only_service"]) == 0
    finally:
        sys.modules.pop("cwd_only_service", None)
    assert sys.path[0] == str(tmp_path)
    assert ["GET", "/ping", "ping", "cwd_only_service.ping"] in [
        line.split() for line in capsys.readouterr().out.splitlines()
    ]


@pytest.mark.parametrize("command", ["routes", "openapi"])
def test_an_object_that_is_not_an_app_is_refused(command, tmp_path, capsys):
    target = tmp_path / "not_an_app_module.py"
    target.write_text("app = 42\n")
    try:
        assert main([command, str(target)]) == 2
    finally:
        sys.modules.pop("not_an_app_module", None)
    assert capsys.readouterr().err == f"lanner: error: {target} is not a lanner application\n"


def test_the_module_runs_as_a_script(monkeypatch, capsys):
    import runpy

    # A fresh copy runs as __main__; the imported module stays as it was.
    monkeypatch.delitem(sys.modules, "lanner.cli")
    monkeypatch.setattr(sys, "argv", ["lanner", "routes", "examples/demo.py"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("lanner.cli", run_name="__main__")
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("METHODS")


def test_routes_lists_mounted_apps(tmp_path, capsys):
    target = tmp_path / "mounting_service.py"
    target.write_text(
        "from lanner import Lanner\n"
        "app = Lanner()\n\n"
        "async def legacy(scope, receive, send):\n    pass\n\n"
        "app.mount('/legacy', legacy, name='old')\n"
        "app.mount('/raw', legacy)\n"
    )
    try:
        assert main(["routes", str(target)]) == 0
    finally:
        sys.modules.pop("mounting_service", None)
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["*", "/legacy/*", "old", "mount:", "function"] in rows
    assert ["*", "/raw/*", "mount:", "function"] in rows  # no name: an empty column


def test_a_file_inside_a_package_is_imported_as_part_of_it(tmp_path, monkeypatch):
    package = tmp_path / "shop" / "web"
    package.mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("GREETING = 'hi from a sibling module'\n")
    (package / "main.py").write_text(
        "from lanner import Lanner\n"
        "from .helpers import GREETING\n"
        "app = Lanner()\n"
        "app.state.greeting = GREETING\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # restored afterwards, whatever load_target adds
    assert split_target(str(package / "main.py")) == ("shop.web.main", "app", str(tmp_path))
    app = load_target(str(package / "main.py"))
    assert app.state.greeting == "hi from a sibling module"
    assert split_target(str(package / "__init__.py")) == ("shop.web", "app", str(tmp_path))


def test_run_caps_uvicorn_websocket_frames_at_the_largest_route_limit(uvicorn_calls, tmp_path, monkeypatch):
    (tmp_path / "sockets_app.py").write_text(
        "from lanner import Lanner, WebSocket\n"
        "app = Lanner(max_message_size=1000)\n"
        "@app.websocket('/big', max_message_size=5000)\n"
        "async def big(ws: WebSocket) -> None: ...\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "sockets_app.py"]) == 0
    [(_, options)] = uvicorn_calls
    assert options["ws_max_size"] == 5000


def test_run_leaves_uvicorn_s_frame_limit_for_other_asgi_apps(uvicorn_calls, tmp_path, monkeypatch):
    (tmp_path / "plain_app.py").write_text("async def app(scope, receive, send): ...\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "plain_app.py"]) == 0
    [(_, options)] = uvicorn_calls
    assert "ws_max_size" not in options


def test_routes_lists_websocket_routes(capsys):
    assert main(["routes", "tests.apps.websocket_server:app"]) == 0
    out = capsys.readouterr().out
    assert "WEBSOCKET  /echo" in out
    assert "tests.apps.websocket_server.moves" in out


def test_asyncapi_writes_the_websocket_document(tmp_path):
    out = tmp_path / "asyncapi.json"
    assert main(["asyncapi", "tests.apps.websocket_server:app", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert {channel["address"] for channel in document["channels"].values()} >= {"/echo", "/moves"}
    assert main(["asyncapi", "tests.apps.debug_probe:app", "-o", str(out)]) == 0


def test_run_counts_the_websocket_limits_of_mounted_lanner_apps(uvicorn_calls, tmp_path, monkeypatch):
    (tmp_path / "mounted_app.py").write_text(
        "from lanner import Lanner\n"
        "inner = Lanner(max_message_size=8_000_000)\n"
        "app = Lanner()\n"
        "app.mount('/inner', inner)\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mounted_app.py"]) == 0
    [(_, options)] = uvicorn_calls
    assert options["ws_max_size"] == 8_000_000
