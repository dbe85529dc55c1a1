"""The workloads of the server benchmark: the request, the expected answer, the load levels.

Two suites. The API suite (`SCENARIOS`, seven workloads): the JSON GET, parameters, POST and
1,000-route requests are the in-process benchmark's (``benchmarks.core.SCENARIOS``), so both
benchmarks measure the same work; plaintext, I/O-bound and model-bound requests are served only
here. Every app serves every scenario from the same app, which carries the 1,000 numbered routes.

The pages suite (`page_scenarios`, five workloads): a rendered Jinja2 page, a login form, a 1 MiB
upload and a 64 KiB static file with and without a conditional GET, served by the pages apps
(``benchmarks/apps/pages*.py``).
"""

import contextlib
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from benchmarks.apps import CPU_BODY, IO_BODY, PLAINTEXT_BODY
from benchmarks.apps import pages as page_data
from benchmarks.core import SCENARIOS as CORE_SCENARIOS


@dataclass(frozen=True, slots=True)
class HttpScenario:
    """One timed request, the answer every framework must give, and its concurrency levels.

    Attributes:
        name: Short name used on the command line.
        label: Human name used in reports.
        method: HTTP method.
        target: Path and query string, as sent on the request line.
        expected_body: The parsed JSON answer, or the exact text when ``media_type`` is text.
        media_type: Expected ``Content-Type`` (before any ``;`` parameter).
        body: Request body; sent with ``Content-Type: content_type`` when not empty.
        quick_levels: Concurrent connections measured by ``--quick``.
        full_levels: Concurrent connections measured by a full run.
        content_type: The ``Content-Type`` of ``body``.
        headers: Other request headers, ``(name, value)`` pairs.
        expected_status: The status every framework must answer with; a 304 must have no body,
            and its media type is not checked.
        revalidate: Send ``If-None-Match`` with the ``ETag`` the server itself gives the same
            request without it (frameworks make different validators); the harness asks each
            server for its own before the check (`benchmarks.load.revalidated`).
    """

    name: str
    label: str
    method: str
    target: str
    expected_body: Any
    media_type: str = "application/json"
    body: bytes = b""
    quick_levels: tuple[int, ...] = (64,)
    full_levels: tuple[int, ...] = (64,)
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    expected_status: int = 200
    revalidate: bool = False

    def request_headers(self) -> dict[str, str]:
        """The headers the request is sent with: its own, plus ``Content-Type`` when it has a body."""
        headers = {"Content-Type": self.content_type} if self.body else {}
        headers.update(self.headers)
        return headers

    def check(self, status: int, content_type: str, body: bytes) -> str | None:
        """Compare a response with the expected one.

        Args:
            status: The response status code.
            content_type: The ``Content-Type`` header ("" when absent).
            body: The response body.

        Returns:
            None when the response is right, otherwise a one-line description of the difference.
        """
        media_type = content_type.split(";")[0].strip().lower()
        if self.expected_status == 304 and status == 304 and not body:
            return None
        got: Any = body.decode("utf-8", "replace")
        if self.media_type == "application/json":
            with contextlib.suppress(ValueError):
                got = json.loads(body)
        if status == self.expected_status and media_type == self.media_type and got == self.expected_body:
            return None
        shown, wanted = _shorten(repr(got)), _shorten(repr(self.expected_body))
        if isinstance(got, str) and isinstance(self.expected_body, str) and status == self.expected_status:
            shown += _first_difference(got, self.expected_body)
        return (
            f"{self.method} {self.target} answered {status} {media_type or '(no content-type)'} "
            f"{shown}; expected {self.expected_status} {self.media_type} {wanted}"
        )


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_difference(got: str, expected: str) -> str:
    """Where two long texts part, for a readable message about a page that differs."""
    index = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    if index is None:
        return f" ({len(got)} characters, expected {len(expected)})"
    return f" (differs at character {index}: {got[index : index + 40]!r} vs {expected[index : index + 40]!r})"


def _from_core(name: str, full_levels: tuple[int, ...] = (64,)) -> HttpScenario:
    core = CORE_SCENARIOS[name]
    query = core.query.decode("ascii")
    target = f"{core.path}?{query}" if query else core.path
    return HttpScenario(
        name, core.label, core.method, target, core.expected_body, body=core.body, full_levels=full_levels
    )


SCENARIOS: dict[str, HttpScenario] = {
    s.name: s
    for s in (
        HttpScenario(
            "plaintext", "plaintext GET", "GET", "/plaintext", PLAINTEXT_BODY, media_type="text/plain"
        ),
        _from_core("json", full_levels=(10, 64, 200)),
        _from_core("params"),
        _from_core("post"),
        _from_core("routes"),
        HttpScenario(
            "io",
            "I/O-bound (awaits 50 ms)",
            "GET",
            "/io",
            IO_BODY,
            quick_levels=(200,),
            full_levels=(200, 1000),
        ),
        HttpScenario("cpu", "model-bound (5 ms CPU)", "GET", "/cpu", CPU_BODY),
    )
}
"""The server benchmark's scenarios (the API suite), in report order."""

PAGE_SCENARIO_NAMES = ("page", "login", "upload", "static", "static304")
"""The pages suite's scenarios, in report order (names only: building them needs Jinja2)."""


@functools.cache
def page_scenarios() -> dict[str, HttpScenario]:
    """Return the pages suite's scenarios, built on first use.

    Raises:
        ImportError: If Jinja2 (which renders the expected page) is not installed.
    """
    static = f"/static/{page_data.STATIC_FILE}"
    media = "application/json"
    scenarios = (
        HttpScenario(
            "page",
            "rendered page (extends + 20-row table)",
            "GET",
            "/page",
            page_data.expected_page(),
            media_type="text/html",
        ),
        HttpScenario(
            "login",
            "urlencoded login form POST",
            "POST",
            "/login",
            page_data.LOGIN_ANSWER,
            media_type=media,
            body=page_data.LOGIN_BODY,
            content_type="application/x-www-form-urlencoded",
        ),
        HttpScenario(
            "upload",
            "1 MiB multipart upload",
            "POST",
            "/upload",
            page_data.upload_answer(),
            media_type=media,
            body=page_data.upload_body(),
            content_type=page_data.UPLOAD_CONTENT_TYPE,
            quick_levels=(16,),
            full_levels=(16,),
        ),
        HttpScenario(
            "static", "64 KiB static file", "GET", static, page_data.static_text(), media_type="text/css"
        ),
        HttpScenario(
            "static304",
            "64 KiB static file, If-None-Match → 304",
            "GET",
            static,
            "",
            media_type="text/css",
            expected_status=304,
            revalidate=True,
        ),
    )
    return {s.name: s for s in scenarios}


def wrk_script(scenario: HttpScenario) -> str:
    """Return the wrk Lua script that sends ``scenario``'s request and prints the results as JSON.

    wrk's own ``--latency`` output has no p95, so the script's ``done`` hook prints one line,
    ``WRK_RESULT {...}``, with the request count, duration, percentiles (µs) and error counts.

    Args:
        scenario: The request to send.

    Returns:
        The script's source.
    """
    lines = [f'wrk.method = "{scenario.method}"', f"wrk.path = {json.dumps(scenario.target)}"]
    if scenario.body:
        lines.append(f"wrk.body = {_lua_bytes(scenario.body)}")
    for name, value in scenario.request_headers().items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    lines.append(_DONE_HOOK)
    return "\n".join(lines) + "\n"


_LONG_BRACKET_SAFE = re.compile(rb"[\x20-\x7e]*")
_LUA_PLAIN = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
_LUA_PIECE = 4096
_LUA_ESCAPES = [chr(b) if b in _LUA_PLAIN else f"\\{b:03d}" for b in range(256)]
"""How each byte is written in a Lua quoted string: itself, or a three-digit decimal escape."""


def _lua_bytes(data: bytes) -> str:
    """Return a Lua expression whose value is ``data``, byte for byte.

    Printable ASCII goes verbatim into a long bracket (the JSON payloads, readable in the script).
    Anything else (the CR/LF of a multipart body, binary content) is escaped: a long bracket would
    turn CR/LF into LF. Escaped bodies are joined with ``table.concat`` in 4 KiB pieces, which
    keeps Lua's expression nesting flat for a 1 MiB body.
    """
    if _LONG_BRACKET_SAFE.fullmatch(data) and b"]==]" not in data:
        return f"[==[{data.decode('ascii')}]==]"
    pieces = [data[i : i + _LUA_PIECE] for i in range(0, len(data), _LUA_PIECE)] or [b""]
    quoted = ['"' + "".join(_LUA_ESCAPES[b] for b in piece) + '"' for piece in pieces]
    return quoted[0] if len(quoted) == 1 else "table.concat({\n" + ",\n".join(quoted) + "\n})"


_DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %.0f, "p95_us": %.0f, ' ..
    '"p99_us": %.0f, "max_us": %.0f, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""
