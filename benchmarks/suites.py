"""The server benchmark's two suites: which apps serve which scenarios, and what they are compared with.

- ``api``: the seven API workloads (`benchmarks.scenarios.SCENARIOS`) on every framework's main
  app (``benchmarks/apps/*_app.py``), every ratio divided by the raw ASGI floor.
- ``pages``: the five server-rendered workloads (`benchmarks.scenarios.page_scenarios`) on the
  pages apps (``benchmarks/apps/pages_*.py``) of lanner, Starlette, FastAPI and Flask. There is no
  floor: lanner is divided by each peer (`benchmarks.pages_report`).

The pages apps are separate so that the API apps stay as they were: lanner's ``app.static`` adds a
mount, which takes lanner off its direct dispatch path for every route, and Jinja2 would weigh on
every framework's cold start.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.scenarios import PAGE_SCENARIO_NAMES, SCENARIOS, HttpScenario, page_scenarios
from benchmarks.servers import FLOOR, FRAMEWORK_SPECS, SERVER_SPECS, FrameworkSpec

_FORMS = ("jinja2", "python_multipart")


@dataclass(frozen=True, slots=True)
class Suite:
    """A set of scenarios, the apps serving them and the defaults of a run.

    Attributes:
        name: ``api`` or ``pages``.
        scenarios: The scenarios by name, in report order.
        frameworks: The frameworks whose app serves every one of them.
        floor: The framework every ratio divides by, or None (the pages suite compares peers).
        servers: The servers of a full run.
        quick_servers: The servers of ``--quick``.
        coldstart: Whether cold start is measured (the API apps only; it builds 100 routes).
    """

    name: str
    scenarios: Mapping[str, HttpScenario]
    frameworks: Mapping[str, FrameworkSpec]
    floor: str | None
    servers: tuple[str, ...]
    quick_servers: tuple[str, ...]
    coldstart: bool


PAGE_FRAMEWORK_SPECS: dict[str, FrameworkSpec] = {
    spec.name: spec
    for spec in (
        FrameworkSpec("lanner", "benchmarks.apps.pages_lanner", "asgi", ("lanner", *_FORMS)),
        FrameworkSpec("starlette", "benchmarks.apps.pages_starlette", "asgi", ("starlette", *_FORMS)),
        FrameworkSpec("fastapi", "benchmarks.apps.pages_fastapi", "asgi", ("fastapi", *_FORMS)),
        FrameworkSpec("flask", "benchmarks.apps.pages_flask", "wsgi", ("flask",)),
    )
}
"""The frameworks of the pages suite; Flask runs under gunicorn, sync and gthread workers."""

QUICK_SERVERS = ("uvicorn", "gunicorn-gthread")
"""Servers of the API suite's ``--quick``: the reference ASGI server, and Flask's threaded one."""

PAGE_QUICK_SERVERS = ("uvicorn", "gunicorn-sync", "gunicorn-gthread")
"""Servers of the pages suite's ``--quick``: uvicorn, and Flask on both of gunicorn's worker kinds."""

SUITE_NAMES = ("api", "pages")
"""Every suite, the default first."""

SCENARIO_SUITES: dict[str, str] = {
    **{name: "api" for name in SCENARIOS},
    **{name: "pages" for name in PAGE_SCENARIO_NAMES},
}
"""The suite of every scenario name (known without building the pages scenarios)."""


@functools.cache
def get_suite(name: str) -> Suite:
    """Return the suite called ``name``.

    Raises:
        KeyError: If there is no such suite.
        ImportError: For ``pages``, if Jinja2 (which renders the expected page) is not installed.
    """
    if name == "api":
        return Suite("api", SCENARIOS, FRAMEWORK_SPECS, FLOOR, tuple(SERVER_SPECS), QUICK_SERVERS, True)
    if name == "pages":
        servers, quick = tuple(SERVER_SPECS), PAGE_QUICK_SERVERS
        return Suite("pages", page_scenarios(), PAGE_FRAMEWORK_SPECS, None, servers, quick, False)
    raise KeyError(name)
