"""The FastAPI tutorial compatibility check (`tests.compat`): its parts, and one whole run.

The whole run downloads FastAPI's sdist (or finds it in ``~/.cache/lanner-compat``), migrates its
tutorial with ``lanner migrate --from fastapi`` and runs the tutorial tests against lanner: about
a minute on 2 cores. ``python -m tests.compat`` prints the same report.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from lanner import HTTPException, Lanner, Query
from lanner.testing import TestClient
from tests.compat import plugin, report, run, shim

# The lowest score (in percent, (pass + deliberate) / (pass + deliberate + fail)) the whole run may
# reach: the score measured when the check landed (68.4% on 2026-12-04), minus 2 points, rounded
# down. Raise it as lanner improves.
MIN_SCORE = 86


# -- the shim ----------------------------------------------------------------------------------------


def test_validation_problem_becomes_fastapi_detail() -> None:
    problem = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "1 field failed validation",
        "errors": [
            {
                "type": "string_too_long",
                "loc": ["query", "q"],
                "msg": "String should have at most 50 characters",
                "input": "x" * 51,
                "ctx": {"max_length": 50},
                "url": "https://errors.pydantic.dev/2/v/string_too_long",
            }
        ],
    }
    assert shim.fastapi_error_body(problem) == {
        "detail": [
            {
                "type": "string_too_long",
                "loc": ["query", "q"],
                "msg": "String should have at most 50 characters",
                "input": "x" * 51,
                "ctx": {"max_length": 50},
            }
        ]
    }
    assert problem["errors"][0]["url"]  # the problem document itself is left alone


def test_form_and_file_locations_become_body() -> None:
    errors = [
        {"type": "missing", "loc": ["form", "username"], "msg": "Field required", "input": None},
        {"type": "missing", "loc": ["file", "upload"], "msg": "Field required", "input": None},
        {"type": "missing", "loc": ["body", "form"], "msg": "Field required", "input": None},
    ]
    detail = shim.fastapi_error_body({"status": 422, "errors": errors})["detail"]
    assert [e["loc"] for e in detail] == [["body", "username"], ["body", "upload"], ["body", "form"]]


def test_a_validator_exception_in_ctx_becomes_an_empty_object() -> None:
    error = {
        "type": "value_error",
        "loc": ["query", "id"],
        "msg": "Value error, bad id",
        "input": "x",
        "ctx": {"error": "bad id"},
    }
    assert shim.fastapi_error(error)["ctx"] == {"error": {}}
    # Another type's string context is data, not an exception.
    url_error = {**error, "type": "url_parsing", "ctx": {"error": "relative URL without a base"}}
    assert shim.fastapi_error(url_error)["ctx"] == {"error": "relative URL without a base"}


def test_an_item_without_input_stays_without_input() -> None:
    # The shim reshapes lanner's items; it never makes up what lanner left out.
    error = {"type": "missing", "loc": ["query", "q"], "msg": "Field required"}
    assert shim.fastapi_error(error) == error


def test_other_problems_keep_their_detail() -> None:
    assert shim.fastapi_error_body({"status": 404, "title": "Not Found", "detail": "Item not found"}) == {
        "detail": "Item not found"
    }
    assert shim.fastapi_error_body({"status": 418, "detail": {"code": 7}}) == {"detail": {"code": 7}}


@pytest.mark.parametrize(
    ("status", "path", "location", "expected"),
    [
        (308, "/items/", "http://testserver/items", True),
        (308, "/items", "/items/", True),
        (308, "/items", "/things", False),
        (307, "/items/", "/items", False),
        (308, "/items/", None, False),
        (308, "/", "/", False),
    ],
)
def test_only_a_slash_redirect_is_lanners(
    status: int, path: str, location: str | None, expected: bool
) -> None:
    assert shim.is_slash_redirect(status, path, location) is expected


def _problem(name: str = "Problem") -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def test_openapi_problem_responses_become_fastapis() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "FastAPI", "version": "0.1.0"},
        "paths": {
            "/items/{item_id}": {
                "put": {
                    "responses": {
                        "200": {"description": "Successful Response"},
                        "422": {"description": "Validation Error", "content": _problem("ValidationProblem")},
                        "404": {"description": "Item not found", "content": _problem()},
                        "400": {"description": "Malformed body", "content": _problem()},
                        "413": {"description": "Body larger than the limit", "content": _problem()},
                        "415": {"description": "Unsupported body media type", "content": _problem()},
                    }
                }
            },
            "/": {"get": {"responses": {"200": {"description": "Successful Response"}}}},
        },
        "components": {
            "schemas": {
                "Item": {"type": "object"},
                "Problem": {"title": "Problem"},
                "ValidationProblem": {"title": "ValidationProblem"},
            }
        },
    }
    translated = shim.openapi_to_fastapi(document)
    assert translated["paths"]["/items/{item_id}"]["put"]["responses"] == {
        "200": {"description": "Successful Response"},
        "422": {
            "description": "Validation Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
        },
        # A declared response keeps its description; only lanner's problem content goes.
        "404": {"description": "Item not found"},
    }
    assert translated["components"]["schemas"] == {
        "HTTPValidationError": shim.FASTAPI_HTTP_VALIDATION_ERROR,
        "Item": {"type": "object"},
        "ValidationError": shim.FASTAPI_VALIDATION_ERROR,
    }
    assert document["components"]["schemas"]["Problem"]  # a copy was changed, not the original


def test_openapi_without_validation_loses_its_empty_components() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "FastAPI", "version": "0.1.0"},
        "paths": {"/": {"get": {"responses": {"404": {"description": "Gone", "content": _problem()}}}}},
        "components": {"schemas": {"Problem": {}}},
    }
    assert shim.openapi_to_fastapi(document) == {
        "openapi": "3.1.0",
        "info": {"title": "FastAPI", "version": "0.1.0"},
        "paths": {"/": {"get": {"responses": {"404": {"description": "Gone"}}}}},
    }
    assert not shim.is_openapi_document({"openapi": 3})
    assert not shim.is_openapi_document([])


def _response(status: int, headers: dict[str, str], body: bytes, path: str = "/x") -> httpx.Response:
    request = httpx.Request("GET", f"http://testserver{path}")
    return httpx.Response(status, headers=headers, content=body, request=request)


def test_translate_response_rewrites_problems_and_keeps_other_headers() -> None:
    body = json.dumps({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "Nope"})
    response = _response(
        401,
        {"content-type": "application/problem+json", "www-authenticate": "Bearer"},
        body.encode(),
    )
    before = shim.translations
    translated = shim.translate_response(response)
    assert shim.translations == before + 1  # run B counts a test as deliberate only when this moved
    assert translated.status_code == 401
    assert translated.json() == {"detail": "Nope"}
    assert translated.headers["content-type"] == "application/json"
    assert translated.headers["www-authenticate"] == "Bearer"
    assert translated.headers["content-length"] == str(len(translated.content))


def test_translate_response_leaves_everything_else_alone() -> None:
    before = shim.translations
    response = _response(200, {"content-type": "application/json"}, b'{"openapi": "no"}')
    assert shim.translate_response(response) is response
    assert shim.translations == before
    redirect = _response(308, {"location": "/x/"}, b"", path="/x")
    assert shim.translate_response(redirect).status_code == 307


def test_the_shim_at_a_lanner_test_client() -> None:
    app = Lanner(title="FastAPI")

    @app.get("/items")
    async def read_items(limit: int = Query(10, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/private")
    async def private() -> None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    plain = TestClient(app, follow_redirects=False)
    client = TestClient(app, follow_redirects=False)
    client._transport = shim.FastAPIConventionsTransport(client._transport)

    assert plain.get("/items?limit=1000").headers["content-type"].startswith("application/problem+json")
    invalid = client.get("/items?limit=1000")
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/json"
    [error] = invalid.json()["detail"]
    assert error["loc"] == ["query", "limit"]
    assert error["type"] == "less_than_equal"

    denied = client.get("/private")
    assert denied.json() == {"detail": "Not authenticated"}
    assert denied.headers["www-authenticate"] == "Bearer"

    assert plain.get("/items/").status_code == 308
    redirect = client.get("/items/")
    assert (redirect.status_code, redirect.headers["location"].endswith("/items")) == (307, True)

    document = client.get("/openapi.json").json()
    assert document["paths"]["/items"]["get"]["responses"]["422"] == shim.FASTAPI_422_RESPONSE
    assert not {"Problem", "ValidationProblem"} & set(document["components"]["schemas"])


def test_install_patches_every_new_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from lanner import testing

    monkeypatch.setattr(testing.TestClient, "__init__", testing.TestClient.__init__)
    monkeypatch.setattr(shim, "_installed", [])
    shim.install()
    shim.install()  # a second call changes nothing
    client = TestClient(Lanner())
    assert isinstance(client._transport, shim.FastAPIConventionsTransport)
    assert not isinstance(client._transport.inner, shim.FastAPIConventionsTransport)


# -- the plugin --------------------------------------------------------------------------------------


def test_first_difference_names_where_json_differs() -> None:
    assert plugin.first_difference({"a": 1}, {"a": 1}) is None
    assert plugin.first_difference({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}) == "$.a.b[1]: 2 != 3"
    assert plugin.first_difference({"a": 1, "x": 2}, {"a": 1, "y": 2}) == "$: missing 'y', unexpected 'x'"
    assert plugin.first_difference([1], [1, 2]) == "$: 1 items, expected 2"
    # OpenAPI path and schema names are generalised, so the same difference groups across tests.
    assert (
        plugin.first_difference(
            {"paths": {"/a/{id}": {"get": {"summary": "x"}}}},
            {"paths": {"/a/{id}": {"get": {"summary": "y"}}}},
        )
        == "$.paths[*].get.summary: 'x' != 'y'"
    )
    assert plugin.first_difference({"detail": "no"}, {"detail": "yes"}) == "$.detail: 'no' != 'yes'"


def test_assertrepr_compare_only_for_json_equality() -> None:
    config: Any = None
    assert plugin.pytest_assertrepr_compare(config, "==", {"a": 1}, {"a": 2}) == [
        "JSON differs at $.a: 1 != 2"
    ]
    assert plugin.pytest_assertrepr_compare(config, "==", "a", "b") is None
    assert plugin.pytest_assertrepr_compare(config, "!=", {"a": 1}, {"a": 2}) is None


def test_failure_messages_are_one_line() -> None:
    class Crash:
        message = "AssertionError: assert 1 == 2\n  + where 1 = f()"

    class Longrepr:
        reprcrash = Crash()

    assert plugin.failure_message(Longrepr()) == "AssertionError: assert 1 == 2"
    collect_error = (
        "ImportError while importing test module 'x.py'.\nTraceback:\n"
        "E   ModuleNotFoundError: No module named 'y'"
    )
    assert plugin.failure_message(collect_error) == "ModuleNotFoundError: No module named 'y'"
    assert plugin.skip_reason(("x.py", 3, "Skipped: requires python3.14+")) == "requires python3.14+"
    assert len(plugin.first_line("x" * 1000)) == 300


def test_the_import_blocker_refuses_fastapi_only() -> None:
    blocker = plugin.ImportBlocker(["fastapi"])
    with pytest.raises(ModuleNotFoundError, match="blocked"):
        blocker.find_spec("fastapi.testclient", None)
    assert blocker.find_spec("fastapi_users", None) is None
    assert blocker.find_spec("json", None) is None


# -- the classification and the report ---------------------------------------------------------------

M = "tests/test_tutorial/test_body/test_tutorial001.py"
N = "tests/test_tutorial/test_wsgi/test_tutorial001.py"
OTEL = "tests/test_tutorial/test_opentelemetry"


def _o(outcome: str, message: str = "") -> dict[str, Any]:
    return {"outcome": outcome, "message": message}


def test_classify_follows_the_rule() -> None:
    baseline = {
        f"{M}::test_pass": _o("passed"),
        f"{M}::test_deliberate": _o("passed"),
        f"{M}::test_fail": _o("failed"),  # fails against FastAPI too
        f"{M}::test_py314": _o("skipped", "requires python3.14+"),
        f"{M}::test_real_fail": _o("passed"),
        f"{M}::test_lanner_skips": _o("passed"),
        f"{M}::test_xfail": _o("xfailed", "known bug"),
        N: _o("collect-error", "ModuleNotFoundError: No module named 'a2wsgi'"),
        OTEL: _o("collect-error", "ModuleNotFoundError: No module named 'opentelemetry.sdk'"),
    }
    run_a = {
        f"{M}::test_pass": _o("passed"),
        f"{M}::test_deliberate": _o("failed", "assert 308 == 307"),
        f"{M}::test_fail": _o("failed", "boom"),
        f"{M}::test_py314": _o("skipped", "requires python3.14+"),
        f"{M}::test_real_fail": _o("error", "error at setup: ImportError: x"),
        f"{M}::test_lanner_skips": _o("skipped", "needs y"),
        N: _o("collect-error", "ModuleNotFoundError: No module named 'a2wsgi'"),
        OTEL: _o("collect-error", "ModuleNotFoundError: No module named 'opentelemetry.sdk'"),
    }
    run_b = {
        f"{M}::test_deliberate": _o("passed"),
        f"{M}::test_real_fail": _o("error", "error at setup: ImportError: x"),
    }
    assert report.to_rerun(baseline, run_a) == [f"{M}::test_deliberate", f"{M}::test_real_fail"]
    results = {r.id: (r.section, r.category, r.message) for r in report.classify(baseline, run_a, run_b)}
    assert results == {
        f"{M}::test_pass": ("test_body", "pass", ""),
        f"{M}::test_deliberate": ("test_body", "deliberate", ""),
        f"{M}::test_fail": ("test_body", "skipped", "FastAPI: failed"),
        f"{M}::test_py314": ("test_body", "skipped", "FastAPI: requires python3.14+"),
        f"{M}::test_real_fail": ("test_body", "fail", "error at setup: ImportError: x"),
        f"{M}::test_lanner_skips": ("test_body", "fail", "skipped against lanner: needs y"),
        f"{M}::test_xfail": ("test_body", "skipped", "FastAPI: xfail: known bug"),
        N: ("test_wsgi", "skipped", "FastAPI: ModuleNotFoundError: No module named 'a2wsgi'"),
        OTEL: (
            "test_opentelemetry",
            "skipped",
            "FastAPI: ModuleNotFoundError: No module named 'opentelemetry.sdk'",
        ),
    }


def test_a_module_only_lanner_cannot_import_fails_each_of_its_tests() -> None:
    baseline = {f"{M}::test_{i}": _o("passed") for i in range(3)}
    run_a = {M: _o("collect-error", "ImportError: cannot import name 'APIRoute'")}
    results = report.classify(baseline, run_a, {})
    assert [(r.category, r.message) for r in results] == [
        ("fail", "collection error: ImportError: cannot import name 'APIRoute'")
    ] * 3
    # A test lanner's run never reports is a failure too.
    assert (
        report.classify({f"{M}::test_x": _o("passed")}, {}, {})[0].message == "not collected against lanner"
    )


def test_passing_with_the_shim_counts_only_when_the_shim_translated_something() -> None:
    baseline = {f"{M}::test_x": _o("passed")}
    run_a = {f"{M}::test_x": _o("failed", "assert 5 == 100")}
    untranslated = {f"{M}::test_x": {**_o("passed"), "translations": 0}}
    [result] = report.classify(baseline, run_a, untranslated)
    assert (result.category, result.message) == ("fail", "assert 5 == 100")
    translated = {f"{M}::test_x": {**_o("passed"), "translations": 2}}
    assert report.classify(baseline, run_a, translated)[0].category == "deliberate"


def test_a_failure_reports_what_is_left_after_the_shim() -> None:
    baseline = {f"{M}::test_x": _o("passed")}
    run_a = {f"{M}::test_x": _o("failed", "problem+json")}
    [result] = report.classify(baseline, run_a, {f"{M}::test_x": _o("failed", "the real difference")})
    assert (result.category, result.message) == ("fail", "the real difference")


def test_summary_counts_add_up_and_failures_group() -> None:
    results = [
        report.TestResult("a::1", "test_a", "pass"),
        report.TestResult("a::2", "test_a", "deliberate"),
        report.TestResult("a::3", "test_a", "fail", "KeyError: <object at 0x7f00aa>"),
        report.TestResult("b::1", "test_b", "fail", "KeyError: <object at 0x7f00bb>"),
        report.TestResult("b::2", "test_b", "fail", "assert 1 == 2"),
        report.TestResult("b::3", "test_b", "skipped", "FastAPI: requires orjson"),
    ]
    summary = report.summarize(results)
    assert summary["totals"] == {"tests": 6, "pass": 1, "deliberate": 1, "fail": 3, "skipped": 1}
    assert summary["sections"]["test_b"] == {"tests": 3, "pass": 0, "deliberate": 0, "fail": 2, "skipped": 1}
    assert summary["score"] == pytest.approx(2 / 5)
    assert [(g["message"], g["count"]) for g in summary["failure_groups"]] == [
        ("KeyError: <object>", 2),
        ("assert 1 == 2", 1),
    ]
    assert summary["failure_groups"][0]["sections"] == ["test_a", "test_b"]
    assert summary["rule"] == shim.RULE
    markdown = report.render_markdown(summary, {"fastapi_version": "0.165.0", "lanner_version": "0.1.0"})
    assert "**Score: 40.0%**" in markdown
    assert "| test_b | 3 | 0 | 0 | 2 | 1 |" in markdown
    assert "| 2 | `KeyError: <object>` | test_a, test_b |" in markdown
    assert "| 1 | FastAPI: requires orjson |" in markdown


def test_section_of() -> None:
    assert report.section_of(f"{M}::test_x[tutorial001]") == "test_body"
    assert report.section_of("tests/test_tutorial/test_top.py::test_x") == "test_top"


# -- preparing the work folder -----------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_prepare_copies_the_tutorial_and_what_it_imports(tmp_path: Path) -> None:
    source = tmp_path / "fastapi-9.9.9"
    _write(
        source,
        {
            "docs_src/body/tutorial001.py": "app = None\n",
            "docs/en/docs/img/favicon.png": "png",
            "tests/__init__.py": "",
            "tests/utils.py": "",
            "tests/test_other.py": "not needed\n",
            "tests/test_tutorial/__init__.py": "",
            "tests/test_tutorial/test_body/__init__.py": "",
            "tests/test_tutorial/test_body/test_tutorial001.py": "from ...utils import needs_py310\n",
            "tests/test_tutorial/test_otel/conftest.py": "from tests.test_telemetry.conftest import clean\n",
            "tests/test_telemetry/__init__.py": "",
            "tests/test_telemetry/conftest.py": "from ._helpers import x\nimport tests.shared\n",
            "tests/test_telemetry/_helpers.py": "x = 1\n",
            "tests/test_telemetry/test_http.py": "not needed\n",
            "tests/shared.py": "",
        },
    )
    dest = tmp_path / "work"
    run.prepare(source, dest)
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == [
        "docs/en/docs/img/favicon.png",
        "docs_src/body/tutorial001.py",
        "pytest.ini",
        "tests/__init__.py",
        "tests/shared.py",
        "tests/test_telemetry/__init__.py",
        "tests/test_telemetry/_helpers.py",
        "tests/test_telemetry/conftest.py",
        "tests/test_tutorial/__init__.py",
        "tests/test_tutorial/test_body/__init__.py",
        "tests/test_tutorial/test_body/test_tutorial001.py",
        "tests/test_tutorial/test_otel/conftest.py",
        "tests/utils.py",
    ]


def test_unpack_and_the_sdist_cache(tmp_path: Path) -> None:
    archive = tmp_path / "cache" / "fastapi-9.9.9.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        data = b"app = None\n"
        info = tarfile.TarInfo("fastapi-9.9.9/docs_src/main.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    # A cached sdist is used as is: no download.
    assert run.fetch_sdist("9.9.9", archive.parent) == archive
    top = run.unpack(archive, tmp_path / "out")
    assert (top / "docs_src/main.py").read_bytes() == b"app = None\n"


def test_targets_leave_out_sections_whose_conftest_fails_and_shards_balance(tmp_path: Path) -> None:
    root = tmp_path / "tests/test_tutorial"
    for section, count in (("test_a", 5), ("test_b", 3), ("test_c", 2), ("test_d", 1), ("test_e", 4)):
        for i in range(count):
            _write(root, {f"{section}/test_{i}.py": ""})
    _write(root, {"__init__.py": "", "test_top.py": "", "test_c/test_0.py": "@workdir_lock\n"})
    _write(root, {"test_e/test_3.py": "from tests.utils import workdir_lock\n"})
    targets = run.pytest_targets(tmp_path, {"tests/test_tutorial/test_d": "ModuleNotFoundError"})
    assert targets == [
        "tests/test_tutorial/test_a",
        "tests/test_tutorial/test_b",
        "tests/test_tutorial/test_c",
        "tests/test_tutorial/test_e",
        "tests/test_tutorial/test_top.py",
    ]
    shards = run.shard(tmp_path, targets, 2)
    assert sorted(t for group in shards for t in group) == targets
    # The sections that write into the shared working folder stay together (2 + 4 files); the
    # others balance around them: 5 + 3 files in the other group, the last file with the first.
    assert shards == [
        ["tests/test_tutorial/test_c", "tests/test_tutorial/test_e", "tests/test_tutorial/test_top.py"],
        ["tests/test_tutorial/test_a", "tests/test_tutorial/test_b"],
    ]
    assert run.shard(tmp_path, targets, 1) == [targets]


def test_the_test_runs_see_no_outer_pytest_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "--cov")
    monkeypatch.setenv("LANNER_COMPAT_SHIM", "1")
    env = run.subprocess_env(tmp_path, LANNER_COMPAT_BLOCK="fastapi")
    assert "PYTEST_ADDOPTS" not in env
    assert "LANNER_COMPAT_SHIM" not in env
    assert env["LANNER_COMPAT_BLOCK"] == "fastapi"
    assert env["PYTHONPATH"].split(":")[0] == str(tmp_path)


# -- the whole check -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compat_report() -> dict[str, Any]:
    if importlib.util.find_spec("libcst") is None:
        pytest.skip("lanner migrate needs libcst (pip install -e '.[test]')")
    try:
        sdist = run.fetch_sdist(run.DEFAULT_FASTAPI_VERSION)
    except (run.CheckError, OSError) as exc:
        pytest.skip(
            f"FastAPI {run.DEFAULT_FASTAPI_VERSION}'s sdist is not cached and cannot be downloaded: {exc}"
        )
    return run.run_check(sdist=sdist, quiet=True)


def _sections_in_sdist() -> set[str]:
    sdist = run.fetch_sdist(run.DEFAULT_FASTAPI_VERSION)
    prefix = f"fastapi-{run.DEFAULT_FASTAPI_VERSION}/tests/test_tutorial/"
    with tarfile.open(sdist) as archive:
        names = [m.name.removeprefix(prefix) for m in archive.getmembers() if m.name.startswith(prefix)]
    return {
        name.split("/", 1)[0].removesuffix(".py")
        for name in names
        if name.split("/")[-1].startswith("test") and name.endswith(".py")
    }


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_report_is_consistent(compat_report: dict[str, Any]) -> None:
    totals, sections, tests = compat_report["totals"], compat_report["sections"], compat_report["tests"]
    assert set(sections) == _sections_in_sdist()
    assert totals["tests"] == len(tests) == sum(s["tests"] for s in sections.values())
    for name in ("tests", *report.CATEGORIES):
        assert totals[name] == sum(s[name] for s in sections.values())
    for counts in sections.values():
        assert counts["tests"] == sum(counts[c] for c in report.CATEGORIES)
    for test in tests:
        assert test["category"] in report.CATEGORIES
        assert test["section"] == report.section_of(test["id"])
        assert (test["category"] in ("fail", "skipped")) == bool(test["message"])
    assert sum(g["count"] for g in compat_report["failure_groups"]) == totals["fail"]
    scored = totals["pass"] + totals["deliberate"] + totals["fail"]
    assert compat_report["score"] == pytest.approx((totals["pass"] + totals["deliberate"]) / scored)
    # Most of FastAPI's tutorial runs here: the skips are optional packages and Python versions.
    assert totals["skipped"] < totals["tests"] / 4
    assert compat_report["rule"] == shim.RULE


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_score_stays_above_its_floor(compat_report: dict[str, Any]) -> None:
    score = compat_report["score"] * 100
    top = "\n".join(f"{g['count']:5d}  {g['message']}" for g in compat_report["failure_groups"][:10])
    assert score >= MIN_SCORE, f"score {score:.1f}% < {MIN_SCORE}%; the most common failures:\n{top}"
