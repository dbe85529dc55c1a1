"""The server-rendered benchmark suite: its apps' answers, its scenarios, report and command line.

Every pages app (lanner, Starlette, FastAPI in process; Flask through its test client) must give
every page scenario the same answer the harness checks before timing. Nothing here asserts on
timing; the few tests that start real servers or wrk are marked slow.
"""

import dataclasses
import hashlib
import http.server
import importlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is a top-level package beside src/, not installed: make it importable from tests.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import harness, pages_core, pages_report, upload_memory  # noqa: E402
from benchmarks.apps import Receive, Scope, Send, pages  # noqa: E402
from benchmarks.core import BenchmarkError  # noqa: E402
from benchmarks.load import WRK_MISSING, Sample, find_wrk  # noqa: E402
from benchmarks.pages_core import PageClient  # noqa: E402
from benchmarks.report import Cell, Results, cell_key  # noqa: E402
from benchmarks.scenarios import PAGE_SCENARIO_NAMES, HttpScenario, page_scenarios, wrk_script  # noqa: E402
from benchmarks.servers import missing_packages  # noqa: E402
from benchmarks.suites import PAGE_FRAMEWORK_SPECS, get_suite  # noqa: E402

needs_wrk = pytest.mark.skipif(find_wrk() is None, reason=WRK_MISSING)
SCENARIOS = page_scenarios()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- drive one app: ASGI in process, or Flask's test client --------------------------------------


class _Client:
    """Sends a scenario's request to one pages app and returns status, headers and body.

    ASGI apps go through `benchmarks.pages_core.PageClient` (what the in-process benchmark
    times); Flask through its test client.
    """

    def __init__(self, framework: str) -> None:
        spec = PAGE_FRAMEWORK_SPECS[framework]
        if missing_packages(spec.packages):
            pytest.skip(f"{framework} is not installed")
        self.asgi = PageClient(framework) if spec.interface == "asgi" else None
        self.flask: Any = None if self.asgi else importlib.import_module(spec.module).create_app()

    async def __aenter__(self) -> "_Client":
        if self.asgi is not None:
            await self.asgi.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.asgi is not None:
            await self.asgi.stop()

    async def send(self, scenario: HttpScenario) -> tuple[int, dict[str, str], bytes]:
        if self.asgi is not None:
            return await self.asgi.send(scenario)
        response = self.flask.test_client().open(
            scenario.target, method=scenario.method, data=scenario.body, headers=scenario.request_headers()
        )
        with response:  # a static file's answer holds the file open until closed
            return response.status_code, {k.lower(): v for k, v in response.headers}, response.get_data()

    async def revalidated(self, scenario: HttpScenario) -> HttpScenario:
        """The conditional request with this app's own ETag (what `benchmarks.load.revalidated` does)."""
        if not scenario.revalidate:
            return scenario
        plain = dataclasses.replace(scenario, revalidate=False, expected_status=200)
        status, headers, _ = await self.send(plain)
        assert status == 200 and headers.get("etag"), (status, headers)
        return dataclasses.replace(
            scenario, headers=(*scenario.headers, ("If-None-Match", headers["etag"])), revalidate=False
        )


# -- every app answers every scenario the same way -----------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("framework", list(PAGE_FRAMEWORK_SPECS))
async def test_every_pages_app_answers_every_scenario(framework: str) -> None:
    async with _Client(framework) as client:
        for name in PAGE_SCENARIO_NAMES:
            scenario = await client.revalidated(SCENARIOS[name])
            status, headers, body = await client.send(scenario)
            problem = scenario.check(status, headers.get("content-type", ""), body)
            assert problem is None, (framework, name, problem)


@pytest.mark.anyio
@pytest.mark.parametrize("framework", list(PAGE_FRAMEWORK_SPECS))
async def test_pages_apps_reject_bad_forms_and_stale_validators(framework: str) -> None:
    login = SCENARIOS["login"]
    async with _Client(framework) as client:
        wrong = dataclasses.replace(login, body=b"username=ada&password=guess")
        assert (await client.send(wrong))[0] == 401
        missing = dataclasses.replace(login, body=b"username=ada")
        assert (await client.send(missing))[0] in (400, 422)
        text_only = (
            f'--{pages.BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            f"--{pages.BOUNDARY}--\r\n"
        )
        no_file = dataclasses.replace(SCENARIOS["upload"], body=text_only.encode())
        assert (await client.send(no_file))[0] in (400, 422)
        stale = dataclasses.replace(
            SCENARIOS["static304"], headers=(("If-None-Match", '"not-the-etag"'),), revalidate=False
        )
        status, _, body = await client.send(stale)
        assert status == 200 and body.decode() == pages.static_text()
        absent = dataclasses.replace(SCENARIOS["static"], target="/static/nothing-here.css")
        assert (await client.send(absent))[0] == 404


@pytest.mark.anyio
@pytest.mark.parametrize("framework", ["lanner", "starlette", "fastapi"])
async def test_upload_handlers_read_the_whole_file(framework: str) -> None:
    odd = 3 * 64 * 1024 + 17  # not a whole number of read chunks
    upload = dataclasses.replace(SCENARIOS["upload"], body=pages.upload_body(odd))
    async with _Client(framework) as client:
        status, _, body = await client.send(upload)
    assert status == 200 and json.loads(body) == pages.upload_answer(odd)


@pytest.mark.anyio
async def test_in_process_benchmark_checks_and_collects_every_cell() -> None:
    report = await pages_core.run_benchmark(
        list(pages_core.FRAMEWORKS), list(PAGE_SCENARIO_NAMES), scale=0.001, rounds=2, warmup=1
    )
    for name in PAGE_SCENARIO_NAMES:
        for framework in pages_core.FRAMEWORKS:
            assert len(report.samples[name][framework]) == 2
        assert report.lead(name, "starlette") is not None and report.lead(name, "lanner") is None
    table = pages_core.format_markdown(report)
    assert (
        "| scenario | lanner µs | starlette µs | fastapi µs | lanner vs starlette | lanner vs fastapi |"
        in table
    )
    json.dumps(pages_core.report_to_json(report))


@pytest.mark.anyio
async def test_in_process_benchmark_rejects_a_wrong_answer() -> None:
    async def wrong(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": b"<p>not the page</p>"})

    client = PageClient("wrong", wrong)
    await client.start()
    with pytest.raises(BenchmarkError, match=r"wrong page: GET /page answered 200 text/html"):
        await client.check(SCENARIOS["page"])
    with pytest.raises(BenchmarkError, match="without an ETag"):
        await client.revalidated(SCENARIOS["static304"])
    await client.stop()


def test_in_process_benchmark_runs_as_module(tmp_path: Path) -> None:
    out = tmp_path / "pages.json"
    argv = ["--only", "lanner,starlette", "--scenario", "login,static", "--scale", "0.001", "--rounds", "1"]
    assert pages_core.main([*argv, "--warmup", "0", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["results"]) == {"login", "static"}


# -- the shared data, scenarios and wrk scripts --------------------------------------------------


def test_the_shared_page_is_escaped_and_has_twenty_rows() -> None:
    html = pages.expected_page()
    assert html.count('<tr class="') == 20 and "<title>Orders | Bookshop admin</title>" in html
    assert "Smith &amp; Sons" in html and "&lt;Grace&gt; Hopper Ltd" in html and "<Grace>" not in html
    assert (pages.TEMPLATES_DIR / "base.html").is_file()
    assert '{% extends "base.html" %}' in (pages.TEMPLATES_DIR / "page.html").read_text()
    assert (pages.STATIC_DIR / pages.STATIC_FILE).stat().st_size == 64 * 1024


def test_upload_body_is_streamed_in_pieces_and_adds_up() -> None:
    pieces = list(pages.upload_chunks(5 * 64 * 1024 + 3))
    assert max(len(p) for p in pieces) == 64 * 1024
    body = b"".join(pieces)
    assert len(body) == pages.upload_length(5 * 64 * 1024 + 3)
    assert body.startswith(b"--" + pages.BOUNDARY.encode()) and body.endswith(pages.MULTIPART_TAIL)
    assert len(pages.upload_body()) == pages.upload_length(pages.UPLOAD_SIZE)


def test_page_scenarios_check_status_and_bodies() -> None:
    assert list(SCENARIOS) == ["page", "login", "upload", "static", "static304"]
    assert SCENARIOS["upload"].quick_levels == (16,)
    not_modified = SCENARIOS["static304"]
    assert not_modified.check(304, "", b"") is None
    assert "answered 200" in str(not_modified.check(200, "text/css", pages.static_text().encode()))
    assert not_modified.check(304, "", b"body") is not None
    page = SCENARIOS["page"]
    assert page.check(200, "text/html; charset=utf-8", pages.expected_page().encode()) is None
    changed = pages.expected_page().replace("Ada Lovelace", "Ada Byron").encode()
    assert "differs at character" in str(page.check(200, "text/html", changed))


def test_wrk_scripts_escape_binary_bodies_and_send_headers() -> None:
    upload = wrk_script(SCENARIOS["upload"])
    assert "table.concat({" in upload and "\\013\\010" in upload  # CR LF escaped, never raw
    assert f'wrk.headers["Content-Type"] = "{pages.UPLOAD_CONTENT_TYPE}"' in upload
    login = wrk_script(SCENARIOS["login"])
    assert f"wrk.body = [==[{pages.LOGIN_BODY.decode()}]==]" in login
    assert 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"' in login
    conditional = dataclasses.replace(SCENARIOS["static304"], headers=(("If-None-Match", '"abc"'),))
    assert 'wrk.headers["If-None-Match"] = "\\"abc\\""' in wrk_script(conditional)
    assert "wrk.body" not in wrk_script(SCENARIOS["static"])


@pytest.mark.slow
@needs_wrk
def test_wrk_sends_the_upload_body_byte_for_byte(tmp_path: Path) -> None:
    scenario = SCENARIOS["upload"]
    seen: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append((hashlib.sha256(body).hexdigest(), self.headers["content-type"]))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        script = tmp_path / "upload.lua"
        script.write_text(wrk_script(scenario))
        wrk = find_wrk()
        assert wrk is not None
        command = [wrk, "-t1", "-c1", "-d1s", "-s", str(script), f"http://127.0.0.1:{server.server_port}/"]
        subprocess.run(command, capture_output=True, timeout=30, check=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert seen and set(seen) == {(hashlib.sha256(scenario.body).hexdigest(), scenario.content_type)}


# -- the command line -----------------------------------------------------------------------------


def test_pages_options() -> None:
    quick = cli.options_from(cli.parse_args(["--pages", "--quick"]), ["--pages", "--quick"])
    assert quick.suite == "pages" and quick.stem == "pages" and quick.coldstart_runs == 0
    assert quick.frameworks == ("lanner", "starlette", "fastapi", "flask")
    assert quick.servers == ("uvicorn", "gunicorn-sync", "gunicorn-gthread") and quick.rounds == 3
    assert quick.scenarios == PAGE_SCENARIO_NAMES
    named = cli.options_from(cli.parse_args(["--scenarios", "page,static304"]), [])
    assert (
        named.suite == "pages" and named.scenarios == ("page", "static304") and named.stem == "pages-custom"
    )
    api = cli.options_from(cli.parse_args(["--quick"]), ["--quick"])
    assert api.suite == "api" and api.stem == "quick"


@pytest.mark.parametrize(
    "argv",
    [
        ["--scenarios", "page,json"],
        ["--pages", "--scenarios", "json"],
        ["--pages", "--frameworks", "raw"],
        ["--pages", "--coldstart-runs", "2"],
        ["--scenarios", "page,nope"],
    ],
)
def test_mixed_or_unknown_selections_exit_with_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        cli.parse_args(argv)
    assert exc_info.value.code == 2


def test_plan_has_no_floor_for_pages(tmp_path: Path) -> None:
    # Flask and gunicorn come with the bench extra, which the README's test command leaves out.
    pytest.importorskip("flask")
    pytest.importorskip("gunicorn")
    options = harness.Options(
        frameworks=("lanner", "flask"),
        servers=("uvicorn", "gunicorn-sync"),
        scenarios=("page", "upload"),
        levels=None,
        duration=1.0,
        warmup=0.0,
        rounds=1,
        coldstart_runs=0,
        quick=True,
        output=tmp_path,
        stem="t",
        suite="pages",
    )
    targets, loads, notes = harness.plan(options, get_suite("pages").frameworks)
    assert targets == [("lanner", "uvicorn"), ("flask", "gunicorn-sync")]
    assert loads == [("page", 64), ("upload", 16)]
    assert not any("always measured" in n for n in notes)


# -- the report -----------------------------------------------------------------------------------


def _fake_pages_results() -> Results:
    machine = {"cpu": "Test CPU", "cpus": "2", "os": "Linux", "python": "3.11"}
    settings = {"duration": 1, "warmup": 0.3, "rounds": 2, "coldstart_runs": 0, "pinning": "pinned."}
    targets = [
        ("lanner", "uvicorn"),
        ("starlette", "uvicorn"),
        ("fastapi", "uvicorn"),
        ("flask", "gunicorn-sync"),
        ("flask", "gunicorn-gthread"),
    ]
    loads = [("page", 64), ("static", 64)]
    results = Results(
        "quick", "python -m benchmarks --pages", "2025-01-01", settings, machine, {}, targets, loads
    )
    results.suite = "pages"
    rates = {
        "lanner@uvicorn": 6_000.0,
        "starlette@uvicorn": 5_000.0,
        "fastapi@uvicorn": 4_000.0,
        "flask@gunicorn-sync": 1_000.0,
        "flask@gunicorn-gthread": 2_500.0,
    }
    for framework, server in targets:
        for name, connections in loads:
            rps = rates[f"{framework}@{server}"] * (0.5 if name == "static" and framework == "lanner" else 1)
            samples = [
                dataclasses.replace(Sample(int(rps), 1.0, 1.0, 2.0, 3.0, 0, 0), round=r) for r in range(2)
            ]
            results.cells[cell_key(framework, server, name, connections)] = Cell(
                framework, server, name, connections, samples
            )
    return results


def test_pages_report_divides_lanner_by_each_peer_and_judges_targets() -> None:
    results = _fake_pages_results()
    assert pages_report.lead(results, "starlette", "uvicorn", "page", 64) == pytest.approx(1.2)
    assert pages_report.lead(results, "flask", "gunicorn-sync", "page", 64) == pytest.approx(6.0)
    rows = {(r["scenario"], r["peer"]): r for r in pages_report.target_rows(results)}
    # The best Flask server decides: 6,000 / 2,500 = 2.4, short of 3x.
    assert rows[("page", "flask")]["ratio"] == pytest.approx(2.4)
    assert rows[("page", "flask")]["against"] == "flask@gunicorn-gthread"
    assert rows[("page", "flask")]["passed"] is False
    assert rows[("page", "starlette")]["passed"] is True
    assert rows[("static", "starlette")]["ratio"] == pytest.approx(0.6)

    text = pages_report.format_pages_markdown(results)
    assert "| scenario | ÷ starlette@uvicorn | ÷ fastapi@uvicorn | ÷ flask@gunicorn-sync |" in text
    assert "| rendered page (extends + 20-row table) c64 | 1.20 | 1.50 | 6.00 | 2.40 |" in text
    assert "- page c64: lanner >= 3x flask: 2.40x against flask@gunicorn-gthread FAIL" in text
    assert "- static c64: lanner >= 1x starlette: 0.60x against starlette@uvicorn FAIL" in text
    assert "vs floor" not in text and "login" not in text.split("## lanner's targets")[1].split("##")[0]
    data = pages_report.pages_json(results)
    json.dumps(data)
    assert data["lanner_over_peer"]["page|c64"]["starlette@uvicorn"] == pytest.approx(1.2)


def _memory_data(growth_mib: float) -> dict[str, Any]:
    result = {
        "idle_kib": 40 * 1024,
        "peak_kib": int((40 + growth_mib) * 1024),
        "growth_kib": int(growth_mib * 1024),
        "after_kib": 41 * 1024,
        "sampled_peak_kib": 42 * 1024,
        "samples": 10,
        "seconds": 0.5,
        "mib_per_s": 200.0,
        "peak_reset": True,
        "problem": None,
    }
    return {
        "started": "2025-01-01 10:00",
        "size_mib": 100,
        "limit_mib": 20.0,
        "pinned_cpu": 0,
        "results": {"lanner": result, "starlette": dict(result)},
        "problems": [],
        "wall_seconds": 5.0,
    }


def test_upload_memory_verdict_and_report() -> None:
    assert upload_memory.passed(_memory_data(2.0)) is True
    assert upload_memory.passed(_memory_data(25.0)) is False
    wrong = _memory_data(2.0)
    wrong["results"]["lanner"]["problem"] = "answered 413"
    assert upload_memory.passed(wrong) is False
    assert upload_memory.passed({**_memory_data(1.0), "results": {}}) is None
    text = "\n".join(upload_memory.format_markdown(_memory_data(2.0)))
    assert "| lanner | 40.0 | 42.0 | 2.0 | 41.0 | 42.0 | 0.50 | 200 | PASS |" in text
    assert "(comparison: under 20 MiB)" in text
    results = _fake_pages_results()
    results.extra[pages_report.UPLOAD_MEMORY_KEY] = _memory_data(2.0)
    report_text = pages_report.format_pages_markdown(results)
    assert "- 100 MiB upload, lanner's peak above idle < 20 MiB: 2.0 MiB PASS" in report_text
    assert "## Peak memory of one 100 MiB upload" in report_text


@pytest.mark.parametrize("argv", [["--only", "flask"], ["--size-mib", "0"]])
def test_upload_memory_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        upload_memory.parse_args(argv)
    assert exc_info.value.code == 2


# -- real servers -------------------------------------------------------------------------------


@pytest.mark.slow
def test_upload_memory_measures_a_real_server() -> None:
    result = upload_memory.measure("lanner", size=4 * 1024 * 1024)
    assert result["problem"] is None
    assert result["idle_kib"] > 0 and result["peak_kib"] >= result["after_kib"] > 0


@pytest.mark.slow
@needs_wrk
def test_short_pages_run_checks_and_measures(tmp_path: Path) -> None:
    options = harness.Options(
        frameworks=("lanner", "starlette"),
        servers=("uvicorn",),
        scenarios=("login", "static304"),
        levels=(4,),
        duration=0.3,
        warmup=0.0,
        rounds=1,
        coldstart_runs=0,
        quick=True,
        output=tmp_path,
        stem="t",
        progress=False,
        suite="pages",
    )
    results = harness.run(options)
    assert results.problems == []
    for framework in ("lanner", "starlette"):
        for name in ("login", "static304"):
            cell = results.cell(framework, "uvicorn", name, 4)
            assert cell is not None and cell.rps()[0] > 0 and cell.faults() == 0
    assert pages_report.lead(results, "starlette", "uvicorn", "static304", 4) is not None
