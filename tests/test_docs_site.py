"""The documentation site (mkdocs.yml, docs/): it builds strictly, and it shows only code that runs.

``mkdocs build --strict`` fails on any warning: a broken link or anchor, a page left out of the
navigation, a snippet file that does not exist, a docstring mkdocstrings cannot render. Beyond the
build, every fenced code block on every page must come from a file under docs_src/ or examples/
(included with ``--8<--``, or copied verbatim), which tests/test_docs_src.py and
tests/test_examples.py run; shell blocks may only name lanner commands that exist. The README is
the site's front page on GitHub: its links must resolve and its set-up commands stay as CI runs
them.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lanner.cli import main as lanner_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = (ROOT / "docs_src", ROOT / "examples")
# Commands and their output are shown inline; everything else must come from a file.
INLINE_LANGUAGES = {"sh", "console", "text"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
SETUP_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[demo]' && .venv/bin/lanner run examples/bookshelf/app.py",  # noqa: E501
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def code_blocks(page: Path) -> list[tuple[str, str]]:
    """The (language, body) of each fenced block of `page`."""
    return [(m["lang"], m["body"]) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def snippet_path(line: str) -> str | None:
    found = SNIPPET.match(line)
    if found is None:
        return None
    # "file.py:3:20" includes lines 3 to 20 of file.py.
    return re.sub(r"(:\d*)+$", "", found["path"])


def source_texts() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for folder in SOURCES
        for path in folder.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix in {".py", ".json", ".html", ".js", ".css", ".txt"}
    }


def nav_pages(nav: object) -> list[str]:
    """The page files the navigation of mkdocs.yml lists, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    raise AssertionError(f"unexpected nav entry {nav!r}")


def config() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_every_page_is_in_the_navigation_once() -> None:
    listed = nav_pages(config()["nav"])
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert set(listed) == {p.relative_to(DOCS).as_posix() for p in pages()}


def test_the_issue_pages_are_there() -> None:
    # The topics the documentation promises, each a page of its own.
    for name in (
        "getting-started", "tutorial/api", "tutorial/pages", "routing", "parameters", "bodies-and-forms",
        "responses", "errors", "dependencies", "templates", "sessions", "static-files", "websockets",
        "sse", "channels", "asyncapi", "batching", "embedder", "production", "security", "testing",
        "openapi", "deployment", "migrating-from-flask", "migrating-from-fastapi", "reference/lanner",
    ):  # fmt: skip
        assert (DOCS / f"{name}.md").is_file(), name


def test_the_api_reference_covers_the_public_modules() -> None:
    documented = {
        line.removeprefix("::: ").strip()
        for page in (DOCS / "reference").glob("*.md")
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.startswith("::: ")
    }
    for module in (
        "lanner", "lanner.responses", "lanner.testing", "lanner.templating", "lanner.middleware",
        "lanner.sessions", "lanner.wsgi", "lanner.ratelimit", "lanner.security", "lanner.staticfiles",
        "lanner.channels", "lanner.batching", "lanner.sse", "lanner.websockets", "lanner.observability",
    ):  # fmt: skip
        assert module in documented, module
    for module in documented:
        assert importlib.util.find_spec(module) is not None, f"{module} does not exist"


def test_every_code_block_comes_from_a_file_that_runs() -> None:
    texts = source_texts()
    problems = []
    for page in [ROOT / "README.md", *pages()]:
        name = page.relative_to(ROOT).as_posix()
        for language, body in code_blocks(page):
            lines = [line for line in body.splitlines() if line.strip()]
            included = [snippet_path(line) for line in lines]
            if lines and all(included):
                for path in included:
                    assert path is not None
                    target = (ROOT / path).resolve()
                    if not any(target.is_relative_to(folder) for folder in SOURCES) or not target.is_file():
                        problems.append(
                            f"{name}: includes {path}, which is not a file under docs_src/ or examples/"
                        )
                continue
            if language in INLINE_LANGUAGES:
                continue
            if not language:
                problems.append(f"{name}: a code block without a language:\n{body}")
            elif not any(body in text for text in texts.values()):
                problems.append(
                    f"{name}: a {language} block that is in no file under docs_src/ or examples/:\n{body}"
                )
    assert not problems, "\n\n".join(problems)


def test_every_docs_src_python_file_is_shown_on_a_page() -> None:
    shown = {
        path
        for page in pages()
        for _, body in code_blocks(page)
        for path in map(snippet_path, body.splitlines())
        if path is not None
    }
    for file in (ROOT / "docs_src").rglob("*.py"):
        relative = file.relative_to(ROOT).as_posix()
        assert relative in shown, f"{relative} is on no page: include it, or delete it"


def lanner_commands(capsys: pytest.CaptureFixture[str]) -> set[str]:
    try:
        assert lanner_main(["--help"]) == 0
    except SystemExit as exit:  # argparse's way out of --help, whether main catches it or not
        assert exit.code in (0, None)
    usage = capsys.readouterr().out
    return set(re.findall(r"^ {4}([a-z][a-z-]*) {2,}", usage, flags=re.M))


def test_shell_blocks_name_real_lanner_commands(capsys: pytest.CaptureFixture[str]) -> None:
    commands = lanner_commands(capsys)
    assert {"run", "dev", "routes", "openapi"} <= commands
    shown = [ROOT / "README.md", *pages()]
    problems = []
    for page in shown:
        for language, body in code_blocks(page):
            if language not in ("sh", "console"):
                continue
            for line in body.splitlines():
                for call in re.findall(r"(?:^|&& |\$ )(?:\S*/)?lanner((?: \S+)*)", line.split("#")[0]):
                    words = call.split()
                    if words[:1] == ["--app"]:
                        continue  # one of the app's own commands
                    if not words or words[0] not in commands:
                        problems.append(f"{page.name}: `lanner{call}` is not a lanner command")
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_page_whose_links_work() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in SETUP_COMMANDS:
        assert f"```sh\n{command}\n```" in readme, f"README.md lost the set-up command CI runs:\n{command}"
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor and target.suffix == ".md":
            headings = {
                re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.*)$", target.read_text(encoding="utf-8"), re.M)
            }
            assert anchor in headings, f"README.md links to {link}: no such heading"
    assert len(readme.splitlines()) < 250, "the README is a front page: the details belong on the site"


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]' to build the site")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))], output
    # The snippets were inlined, and the reference was generated from the docstrings.
    tutorial = (site / "tutorial" / "api" / "index.html").read_text(encoding="utf-8")
    assert "create_task" in tutorial and "--8&lt;--" not in tutorial
    reference = (site / "reference" / "lanner" / "index.html").read_text(encoding="utf-8")
    assert 'id="lanner.Lanner.get"' in reference and 'id="lanner.TestClient"' not in reference
    assert (site / "reference" / "testing" / "index.html").read_text(encoding="utf-8").count(
        'id="lanner.testing.TestClient.stream"'
    ) == 1
