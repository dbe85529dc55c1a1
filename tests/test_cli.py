import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lanner import cli
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
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
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
    calls: list[tuple[str, dict]] = []
    # `_run_uvicorn` is uvicorn.run, with lanner's supervisor when there are several workers.
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, **options: calls.append((app, options)))
    # `lanner dev` sets LANNER_DEBUG in this process: put back what was there before.
    saved = os.environ.pop("LANNER_DEBUG", None)
    yield calls
    os.environ.pop("LANNER_DEBUG", None)
    if saved is not None:
        os.environ["LANNER_DEBUG"] = saved


def test_run_hands_the_target_and_options_to_uvicorn(uvicorn_calls):
    assert (
        main(
            [
                "run",
                "tests.apps.debug_probe:app",
                "--host",
                "0.0.0.0",
                "--port",
                "9000",
                "--workers",
                "3",
                "--log-level",
                "warning",
            ]
        )
        == 0
    )
    [(app, options)] = uvicorn_calls
    assert app == "tests.apps.debug_probe:app"
    assert options == {
        "host": "0.0.0.0",
        "port": 9000,
        "workers": 3,
        "reload": False,
        "reload_dirs": None,
        "app_dir": os.getcwd(),
        "log_level": "warning",
        "ws_max_size": 1024 * 1024,
    }
    assert "LANNER_DEBUG" not in os.environ


def test_dev_reloads_the_target_folder_with_debug_on(uvicorn_calls):
    assert main(["dev", "tests/apps/debug_probe.py"]) == 0
    [(app, options)] = uvicorn_calls
    folder = str(ROOT)  # tests/ and tests/apps/ are packages: imported from the folder above
    # Each reloaded process imports TARGET through lanner's loader, which reports a failing import
    # and lets the reloader keep watching (tests/test_cli_help.py runs it).
    assert (app, options["factory"]) == ("lanner.cli.reloading:load_app", True)
    assert "LANNER_RELOAD_TARGET" not in os.environ  # set for uvicorn's processes only
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


# -- lanner run: production options and servers ------------------------------------------------


def test_run_passes_the_proxy_and_shutdown_options_to_uvicorn(uvicorn_calls):
    assert (
        main(
            [
                "run",
                "tests.apps.debug_probe:app",
                "--root-path",
                "/api",
                "--proxy-headers",
                "--forwarded-allow-ips",
                "10.0.0.1,10.1.0.0/16",
                "--timeout-graceful-shutdown",
                "5",
            ]
        )
        == 0
    )
    assert main(["run", "tests.apps.debug_probe:app", "--no-proxy-headers"]) == 0
    [(_, given), (_, off)] = uvicorn_calls
    assert given["root_path"] == "/api"
    assert given["proxy_headers"] is True
    assert given["forwarded_allow_ips"] == "10.0.0.1,10.1.0.0/16"
    assert given["timeout_graceful_shutdown"] == 5
    assert off["proxy_headers"] is False
    assert "root_path" not in off and "timeout_graceful_shutdown" not in off  # uvicorn's defaults


@pytest.mark.parametrize(
    ("hidden", "options", "package", "extra"),
    [
        ("granian", ["--server", "granian"], "granian", "granian"),
        ("gunicorn", ["--server", "gunicorn"], "gunicorn", "gunicorn"),
        ("uvicorn_worker", ["--server", "gunicorn"], "uvicorn-worker", "gunicorn"),
        ("a2wsgi", ["--server", "gunicorn", "--wsgi"], "a2wsgi", "gunicorn"),
    ],
)
def test_a_missing_server_is_one_line_naming_its_extra(hidden, options, package, extra, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, hidden, None)  # as if it were not installed
    assert main(["run", "tests/apps/debug_probe.py", *options]) == 2
    assert capsys.readouterr().err == (
        f"lanner: error: --server {extra} needs {package}, which is not installed: "
        f"pip install 'lanner[{extra}]'\n"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--wsgi"], "--wsgi works with --server gunicorn only"),
        (["--server", "granian", "--wsgi"], "--wsgi works with --server gunicorn only"),
        (["--server", "granian", "--reload"], "--reload works with --server uvicorn only"),
        (["--server", "granian", "--forwarded-allow-ips", "10.0.0.300"], "--forwarded-allow-ips: invalid"),
        (
            ["--server", "gunicorn", "--wsgi", "--forwarded-allow-ips", "::zz"],
            "--forwarded-allow-ips: invalid",
        ),
    ],
)
def test_options_a_server_cannot_honour_are_refused(options, message, uvicorn_calls, capsys):
    assert main(["run", "tests/apps/debug_probe.py", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lanner: error: {message}")
    assert len(err.splitlines()) == 1
    assert uvicorn_calls == []


def test_one_uvicorn_worker_is_uvicorn_run_in_this_process(monkeypatch):
    import uvicorn

    calls = []
    # Recorded (setenv records its absence), so the LANNER_DEBUG=1 `lanner dev` sets goes away.
    monkeypatch.setenv("LANNER_DEBUG", "0")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    assert main(["run", "tests.apps.debug_probe:app", "--root-path", "/api"]) == 0
    assert main(["dev", "tests.apps.debug_probe:app"]) == 0  # with its reloader
    [(app, options), (_, dev)] = calls
    assert app == "tests.apps.debug_probe:app"
    assert (options["workers"], options["root_path"], dev["reload"]) == (1, "/api", True)


def test_granian_serves_asgi_with_the_run_options():
    from granian.constants import Interfaces
    from granian.log import LogLevels

    args = cli.build_parser().parse_args(
        [
            "run",
            "x.py",
            "--server",
            "granian",
            "--workers",
            "3",
            "--root-path",
            "/api",
            "--timeout-graceful-shutdown",
            "7",
            "--log-level",
            "trace",
            "--host",
            "0.0.0.0",
            "--port",
            "9002",
        ]
    )
    assert cli._granian_options(args) == {
        "address": "0.0.0.0",
        "port": 9002,
        "interface": Interfaces.ASGI,
        "workers": 3,
        "log_level": LogLevels.debug,
        "url_path_prefix": "/api",
        "workers_kill_timeout": 7,
    }
    defaults = cli._granian_options(cli.build_parser().parse_args(["run", "x.py"]))
    assert (defaults["url_path_prefix"], defaults["workers_kill_timeout"]) == (None, None)


def test_gunicorn_runs_asgi_through_uvicorn_worker_with_the_run_options():
    from uvicorn_worker import UvicornWorker

    from tests.apps.debug_probe import app

    args = cli.build_parser().parse_args(
        [
            "run",
            "x.py",
            "--server",
            "gunicorn",
            "--host",
            "::1",
            "--workers",
            "4",
            "--root-path",
            "/api",
            "--timeout-graceful-shutdown",
            "9",
            "--log-level",
            "warning",
        ]
    )
    settings, load = cli._gunicorn_settings(args, "tests.apps.debug_probe:app", app, "10.0.0.1")
    worker = settings.pop("worker_class")
    assert settings == {
        "bind": "[::1]:8000",
        "workers": 4,
        "loglevel": "warning",
        "graceful_timeout": 9,
        "forwarded_allow_ips": "10.0.0.1",
        "proc_name": "lanner tests.apps.debug_probe:app",
    }
    assert issubclass(worker, UvicornWorker)
    assert worker.CONFIG_KWARGS == {
        **UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": True,
        "root_path": "/api",
        "timeout_graceful_shutdown": 9,
        "ws_max_size": 1024 * 1024,
    }
    assert load() is app
    args = cli.build_parser().parse_args(["run", "x.py", "--server", "gunicorn", "--no-proxy-headers"])
    settings, _ = cli._gunicorn_settings(args, "tests.apps.debug_probe:app", object(), None)
    assert settings["worker_class"].CONFIG_KWARGS["proxy_headers"] is False
    assert "ws_max_size" not in settings["worker_class"].CONFIG_KWARGS  # not a lanner app
    assert "forwarded_allow_ips" not in settings and "graceful_timeout" not in settings


WSGI_PROJECT = """
from lanner import Depends, Lanner, Request

events = []


def pool():
    events.append("created")
    yield "pool"
    events.append("cleaned up")


app = Lanner()


@app.get("/whoami")
def whoami(request: Request, pool: str = Depends(pool, scope="app")):
    return {"client": request.client.host, "scheme": request.url.scheme, "url": request.url_for("whoami")}
"""


def test_gunicorn_sync_workers_serve_to_wsgi_and_shut_down_at_worker_exit(tmp_path, monkeypatch):
    from wsgiref.util import setup_testing_defaults

    pytest.importorskip("a2wsgi")
    (tmp_path / "wsgi_cli_project.py").write_text(WSGI_PROJECT)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "wsgi_cli_project", raising=False)
    args = cli.build_parser().parse_args(
        ["run", "x.py", "--server", "gunicorn", "--wsgi", "--root-path", "/api"]
    )
    target = str(tmp_path / "wsgi_cli_project.py")
    try:
        settings, load = cli._gunicorn_settings(args, target, None, "127.0.0.1")
        assert settings["worker_class"] == "sync"
        events = load_target(target + ":events")
        application = load()  # in a worker, as it boots
        assert events == ["created"]  # started at boot, not at the first request
        environ = {
            "PATH_INFO": "/whoami",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "50000",
            "HTTP_X_FORWARDED_FOR": "203.0.113.7",
            "HTTP_X_FORWARDED_PROTO": "https",
        }
        setup_testing_defaults(environ)
        statuses = []
        body = b"".join(application(environ, lambda status, headers, *_: statuses.append(status)))
        assert statuses == ["200 OK"]
        assert json.loads(body) == {"client": "203.0.113.7", "scheme": "https", "url": "/api/whoami"}
        settings["worker_exit"](None, None)  # gunicorn calls it in the worker as it exits
        assert events == ["created", "cleaned up"]
        # --no-proxy-headers, no --root-path: the app's own adapter (app.wsgi), headers ignored.
        worker_exit, load = cli._wsgi_lifespan(target, None, None)
        application = load()
        assert application is load_target(target).wsgi
        body = b"".join(application(dict(environ, SCRIPT_NAME=""), lambda *_: None))
        assert json.loads(body) == {"client": "127.0.0.1", "scheme": "http", "url": "/whoami"}
        worker_exit(None, None)
        assert events == ["created", "cleaned up"] * 2
    finally:
        sys.modules.pop("wsgi_cli_project", None)


def test_run_refuses_a_server_it_does_not_know(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", "tests/apps/debug_probe.py", "--server", "hypercorn"])
    assert exited.value.code == 2
    assert "invalid choice: 'hypercorn'" in capsys.readouterr().err


def test_workers_load_the_target_behind_the_proxy_headers_middleware_only_when_asked():
    from lanner.middleware import ProxyHeadersMiddleware
    from tests.apps.debug_probe import app

    assert cli._worker_app("tests.apps.debug_probe:app", None) is app
    wrapped = cli._worker_app("tests.apps.debug_probe:app", "10.0.0.1")
    assert isinstance(wrapped, ProxyHeadersMiddleware) and wrapped.app is app
    assert "10.0.0.1" in wrapped.trusted_proxies and "127.0.0.1" not in wrapped.trusted_proxies


def test_the_trusted_proxies_default_to_the_environment_then_loopback(monkeypatch):
    args = cli.build_parser().parse_args(["run", "x.py"])
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert cli._trusted_proxies(args) == "127.0.0.1"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    assert cli._trusted_proxies(args) == "10.0.0.0/8"
    args = cli.build_parser().parse_args(["run", "x.py", "--forwarded-allow-ips", "*"])
    assert cli._trusted_proxies(args) == "*"
    args = cli.build_parser().parse_args(["run", "x.py", "--no-proxy-headers", "--forwarded-allow-ips", "*"])
    assert cli._trusted_proxies(args) is None


def test_run_help_groups_the_production_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for heading in ("server:", "behind a reverse proxy:", "shutdown:"):
        assert heading in out
    for option in (
        "--server {uvicorn,granian,gunicorn}",
        "--workers N",
        "--wsgi",
        "--root-path PATH",
        "--proxy-headers, --no-proxy-headers",
        "--forwarded-allow-ips IPS",
        "--timeout-graceful-shutdown SECONDS",
    ):
        assert option in out


# -- the app named once: --app and LANNER_APP ---------------------------------------------------


def test_lanner_s_commands_take_their_target_from_app_or_lanner_app(uvicorn_calls, monkeypatch, capsys):
    monkeypatch.delenv("LANNER_APP", raising=False)
    assert main(["--app", "tests.apps.debug_probe:app", "run", "--port", "9001"]) == 0
    assert uvicorn_calls[-1][0] == "tests.apps.debug_probe:app"
    monkeypatch.setenv("LANNER_APP", "examples/demo.py")
    assert main(["run"]) == 0
    assert uvicorn_calls[-1][0] == "demo:app"
    capsys.readouterr()
    assert main(["routes"]) == 0
    assert "/books" in capsys.readouterr().out
    # A TARGET given to the command wins over both.
    assert main(["--app", "examples/demo.py", "run", "tests.apps.debug_probe:app"]) == 0
    assert uvicorn_calls[-1][0] == "tests.apps.debug_probe:app"


def test_no_target_at_all_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("LANNER_APP", raising=False)
    assert main(["routes"]) == 2
    assert capsys.readouterr().err.startswith("lanner: error: no TARGET given")


# -- the app's own commands: @app.cli.command -----------------------------------------------------

PROJECT = '''
import sys
from pathlib import Path

import click

from lanner import Lanner

app = Lanner(title="Shop")


@app.cli.command("init-db")
@click.option("--path", required=True, help="where the database goes")
def init_db(path):
    """Create the database tables."""
    Path(path).write_text("tables\\n")
    click.echo(f"Initialized the database in {path}")


@app.cli.command()
def locked():
    """Fail as a click command does."""
    raise click.ClickException("the database is locked")


@app.cli.command()
@click.pass_context
def status(ctx):
    """Exit with status 3."""
    ctx.exit(3)


@app.cli.command()
def answer():
    """Return a value (not an exit status)."""
    return 5


@app.cli.command(hidden=True)
def secret():
    pass


@app.cli.command(hidden=True)
def bail():
    sys.exit("no database here")
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project file whose app declares commands; imported afresh for each test."""
    (tmp_path / "shop_cli_project.py").write_text(PROJECT)
    monkeypatch.chdir(tmp_path)  # a short TARGET, so that click's usage line is not wrapped
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target adds tmp_path: undone afterwards
    monkeypatch.delitem(sys.modules, "shop_cli_project", raising=False)
    monkeypatch.delenv("LANNER_APP", raising=False)
    yield Path("shop_cli_project.py")
    sys.modules.pop("shop_cli_project", None)


def test_app_runs_the_app_s_own_command(project, tmp_path, capsys):
    database = tmp_path / "shop.db"
    assert main(["--app", str(project), "init-db", "--path", str(database)]) == 0
    assert database.read_text() == "tables\n"
    assert capsys.readouterr().out == f"Initialized the database in {database}\n"


def test_lanner_app_names_the_app_as_flask_app_does(project, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANNER_APP", f"{project}:app")
    database = tmp_path / "env.db"
    assert main(["init-db", f"--path={database}"]) == 0
    assert database.exists()
    # --app wins over LANNER_APP.
    monkeypatch.setenv("LANNER_APP", "tests.apps.debug_probe:app")
    assert main([f"--app={project}", "init-db", "--path", str(tmp_path / "flag.db")]) == 0
    assert (tmp_path / "flag.db").exists()


def test_app_commands_exit_as_click_makes_them(project, capsys):
    target = str(project)
    assert main(["--app", target, "locked"]) == 1
    assert capsys.readouterr().err == "Error: the database is locked\n"
    assert main(["--app", target, "status"]) == 3
    assert main(["--app", target, "answer"]) == 0  # a return value is not an exit status, as in Flask
    assert main(["--app", target, "init-db"]) == 2  # missing --path: click's usage error
    err = capsys.readouterr().err
    assert f"Usage: lanner --app {target} init-db [OPTIONS]" in err
    assert "Missing option '--path'" in err
    assert main(["--app", target, "nothing-like-it"]) == 2
    assert "No such command 'nothing-like-it'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # Python prints the message and exits with 1
        main(["--app", target, "bail"])
    assert exited.value.code == "no database here"


def test_an_app_command_s_help(project, capsys):
    assert main(["--app", str(project), "init-db", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: lanner --app {project} init-db [OPTIONS]")
    assert "where the database goes" in out


def test_app_help_lists_lanner_s_commands_then_the_app_s(project, capsys):
    assert main(["--app", str(project), "--help"]) == 0
    out = capsys.readouterr().out
    own, _, apps = out.partition(f"commands of {project}:")
    assert "run " in own and "migrate " in own and "--app TARGET" in own
    rows = [line.split(None, 1) for line in apps.strip().splitlines()]
    assert rows == [
        ["answer", "Return a value (not an exit status)."],
        ["init-db", "Create the database tables."],
        ["locked", "Fail as a click command does."],
        ["status", "Exit with status 3."],
    ]  # the hidden one is left out


def test_help_without_an_app_is_lanner_s_own(monkeypatch, capsys):
    monkeypatch.delenv("LANNER_APP", raising=False)
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lanner") and "commands of" not in out
    with pytest.raises(SystemExit) as exited:
        main(["--no-such-option", "run"])
    assert exited.value.code == 2


def test_help_with_lanner_app_set_lists_the_app_s_commands_too(project, monkeypatch, capsys):
    monkeypatch.setenv("LANNER_APP", str(project))
    assert main(["-h"]) == 0
    assert "init-db" in capsys.readouterr().out


def test_help_names_an_app_that_cannot_be_loaded(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LANNER_APP", raising=False)
    missing = str(tmp_path / "gone.py")
    assert main(["--app", missing, "--help"]) == 2
    captured = capsys.readouterr()
    assert "usage: lanner" in captured.out
    assert captured.err == f"\nlanner: error: no such file: {missing}\n"
    # A stale LANNER_APP does not break lanner --help.
    monkeypatch.setenv("LANNER_APP", missing)
    assert main(["--help"]) == 0


def test_an_app_without_commands_of_its_own(tmp_path, monkeypatch, capsys):
    (tmp_path / "bare_asgi_project.py").write_text("async def app(scope, receive, send): ...\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("LANNER_APP", raising=False)
    try:
        assert main(["--app", str(tmp_path / "bare_asgi_project.py"), "init-db"]) == 2
    finally:
        sys.modules.pop("bare_asgi_project", None)
    assert "has no commands of its own (declare them with @app.cli.command())" in capsys.readouterr().err
    # A lanner app without any: its (empty) group answers.
    assert main(["--app", "examples/demo.py", "init-db"]) == 2
    assert "No such command 'init-db'" in capsys.readouterr().err


def test_an_unknown_command_without_an_app_says_how_to_name_one(monkeypatch, capsys):
    monkeypatch.delenv("LANNER_APP", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["init-db"])
    assert exited.value.code == 2
    assert "unknown command 'init-db'; an app's own commands need --app TARGET or LANNER_APP" in (
        capsys.readouterr().err
    )


def test_lanner_s_own_commands_win_over_the_app_s(tmp_path, monkeypatch, capsys):
    (tmp_path / "clashing_cli_project.py").write_text(
        "import click\nfrom lanner import Lanner\napp = Lanner()\n\n"
        "@app.cli.command()\ndef routes():\n    click.echo('the app s routes command')\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert main(["--app", str(tmp_path / "clashing_cli_project.py"), "routes"]) == 0
    finally:
        sys.modules.pop("clashing_cli_project", None)
    assert capsys.readouterr().out.startswith("METHODS")


def test_the_console_script_runs_an_app_command(project, tmp_path):
    database = tmp_path / "script.db"
    script = os.path.join(os.path.dirname(sys.executable), "lanner")
    env = {**os.environ, "LANNER_APP": str(project)}
    result = subprocess.run(
        [script, "init-db", "--path", str(database)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stdout) == (0, f"Initialized the database in {database}\n")
    failed = subprocess.run(
        [script, "locked"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert (failed.returncode, failed.stderr) == (1, "Error: the database is locked\n")


FACTORY_PROJECT = '''
import click

from lanner import AppContext, Lanner, pass_app_context

built = []


def create_app(test_config=None):
    app = Lanner()
    app.config.update(test_config or {"NAME": "factory"})
    built.append(app)

    @app.get("/")
    def home() -> str:
        return app.config["NAME"]

    @app.cli.command("whoami")
    @pass_app_context
    def whoami(context: AppContext) -> None:
        click.echo(context.app.config["NAME"])

    return app
'''


@pytest.fixture
def factory_project(tmp_path, monkeypatch):
    """A package whose app comes from a Flask-style factory, create_app()."""
    package = tmp_path / "factory_cli_project"
    package.mkdir()
    (package / "__init__.py").write_text(FACTORY_PROJECT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "factory_cli_project", raising=False)
    yield "factory_cli_project"
    sys.modules.pop("factory_cli_project", None)


def test_a_target_without_an_app_finds_the_factory_as_flask_does(factory_project, capsys):
    assert main(["--app", factory_project, "whoami"]) == 0
    assert capsys.readouterr().out == "factory\n"
    app = load_target(factory_project)
    assert app.config["NAME"] == "factory"
    assert load_target(factory_project + ":create_app()").config["NAME"] == "factory"
    with pytest.raises(TargetError, match="has no attribute 'app'"):
        load_target(factory_project + ":app")  # an explicit name is not second-guessed
    with pytest.raises(TargetError, match="has no function 'make_app'"):
        load_target(factory_project + ":make_app()")


def test_run_tells_uvicorn_the_target_is_a_factory(factory_project, uvicorn_calls):
    assert main(["run", factory_project]) == 0
    [(app, options)] = uvicorn_calls
    assert app == "factory_cli_project:create_app" and options["factory"] is True
