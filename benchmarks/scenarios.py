"""The seven workloads of the server benchmark: the request, the expected answer, the load levels.

The JSON GET, parameters, POST and 1,000-route requests are the in-process benchmark's
(``benchmarks.core.SCENARIOS``), so both benchmarks measure the same work; plaintext, I/O-bound and
model-bound requests are served only here. Every app serves every scenario from the same app,
which carries the 1,000 numbered routes.
"""

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from benchmarks.apps import CPU_BODY, IO_BODY, PLAINTEXT_BODY
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
        body: Request body; sent with ``Content-Type: application/json`` when not empty.
        quick_levels: Concurrent connections measured by ``--quick``.
        full_levels: Concurrent connections measured by a full run.
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
        got: Any = body.decode("utf-8", "replace")
        if self.media_type == "application/json":
            with contextlib.suppress(ValueError):
                got = json.loads(body)
        if status == 200 and media_type == self.media_type and got == self.expected_body:
            return None
        shown = repr(got)
        shown = shown if len(shown) <= 160 else shown[:157] + "..."
        return (
            f"{self.method} {self.target} answered {status} {media_type or '(no content-type)'} "
            f"{shown}; expected 200 {self.media_type} {self.expected_body!r}"
        )


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
"""The server benchmark's scenarios, in report order."""


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
        # A Lua long bracket holds the JSON verbatim; the payload contains no "]==]".
        lines.append(f"wrk.body = [==[{scenario.body.decode()}]==]")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    lines.append(_DONE_HOOK)
    return "\n".join(lines) + "\n"


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
