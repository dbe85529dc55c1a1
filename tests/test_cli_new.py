"""``lanner new NAME``: a project whose tests pass as created, and one-line refusals.

The project's own tests run in a subprocess, as its developer would run them (``python -m pytest``
in its folder), with this checkout of lanner on PYTHONPATH.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanner import __version__
from lanner.cli import main

from .conftest import LANNER, ROOT

FILES = [
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "{package}/__init__.py",
    "{package}/app.py",
    "tests/test_app.py",
    "{package}/static/style.css",
    "{package}/templates/index.html",
]


BAD_CHARACTERS = (
    "use letters, digits, '-' and '_', starting with a letter (it names the folder and the Python package)"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def project_env(project: Path) -> dict[str, str]:
    """The environment of a command run in `project`: this lanner and the project importable."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    # Without this run's options (CI passes --cov through PYTEST_ADDOPTS): as its developer runs it.
    return {**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(project)])}


def test_new_prints_what_it_created_and_what_to_do_next(workdir, capsys):
    assert main(["new", "greenhouse"]) == 0
    out = capsys.readouterr().out
    files = [f"  greenhouse/{name.format(package='greenhouse')}" for name in FILES]
    assert out == "\n".join(
        [
            "created greenhouse/:",
            *files,
            "",
            "next:",
            "  cd greenhouse",
            "  python3 -m venv .venv && .venv/bin/pip install -e '.[test]'",
            "  .venv/bin/lanner dev greenhouse/app.py    # http://127.0.0.1:8000",
            "  .venv/bin/python -m pytest",
            "",
        ]
    )
    created = sorted(
        str(path.relative_to(workdir / "greenhouse")) for path in workdir.rglob("*") if path.is_file()
    )
    assert created == sorted(name.format(package="greenhouse") for name in FILES)


def test_the_project_depends_on_lanner_with_its_templates_extra(workdir):
    assert main(["new", "my-shop"]) == 0
    pyproject = (workdir / "my-shop" / "pyproject.toml").read_text()
    assert 'name = "my-shop"' in pyproject
    assert f'"lanner[templates]>={__version__}"' in pyproject
    assert 'packages = ["my_shop"]' in pyproject  # '-' cannot be in a package's name
    assert (workdir / "my-shop" / "my_shop" / "app.py").is_file()
    assert "from my_shop.app import app" in (workdir / "my-shop" / "tests" / "test_app.py").read_text()
    assert "@package@" not in "".join(p.read_text() for p in (workdir / "my-shop").rglob("*") if p.is_file())


def test_the_new_project_s_tests_pass_and_its_routes_are_listed(workdir):
    assert main(["new", "greenhouse"]) == 0
    project = workdir / "greenhouse"
    env = project_env(project)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    routes = subprocess.run(
        [*LANNER, "routes", "greenhouse/app.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert routes.returncode == 0, routes.stderr
    rows = [line.split() for line in routes.stdout.splitlines()]
    assert ["GET", "/api/hello", "hello", "greenhouse.app.hello"] in rows
    assert ["GET", "/", "home", "greenhouse.app.home"] in rows


def test_the_new_project_is_lint_clean(workdir):
    assert main(["new", "greenhouse"]) == 0
    project = workdir / "greenhouse"
    for command in (["check", "--isolated", "."], ["format", "--isolated", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_an_empty_folder_is_used(workdir):
    (workdir / "greenhouse").mkdir()
    assert main(["new", "greenhouse"]) == 0
    assert (workdir / "greenhouse" / "greenhouse" / "app.py").is_file()


def test_a_folder_in_use_is_refused_and_left_alone(workdir, capsys):
    (workdir / "greenhouse").mkdir()
    (workdir / "greenhouse" / "notes.txt").write_text("mine\n")
    assert main(["new", "greenhouse"]) == 2
    assert capsys.readouterr().err == (
        "lanner: error: ./greenhouse already exists and is a folder that is not empty: "
        "choose another name, or move it away\n"
    )
    assert [path.name for path in (workdir / "greenhouse").iterdir()] == ["notes.txt"]
    (workdir / "plans").write_text("a file\n")
    assert main(["new", "plans"]) == 2
    assert capsys.readouterr().err == (
        "lanner: error: ./plans already exists and is a file: choose another name, or move it away\n"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "my shop",
            BAD_CHARACTERS,
        ),
        (
            "2shop",
            BAD_CHARACTERS,
        ),
        (
            "../shop",
            BAD_CHARACTERS,
        ),
        ("class", "'class' is a Python keyword"),
        ("json", "a package called 'json' would hide the module of that name from the project's imports"),
        ("Lanner", "a package called 'lanner' would hide the module of that name from the project's imports"),
    ],
)
def test_an_invalid_name_is_one_line(name, reason, workdir, capsys):
    assert main(["new", name]) == 2
    assert capsys.readouterr().err == f"lanner: error: invalid project name {name!r}: {reason}\n"
    assert list(workdir.iterdir()) == []
