import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port

parser = pytest.importorskip("prometheus_client.parser")

pytestmark = pytest.mark.slow

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]
ROUTE_LABELS = {"method": "GET", "route": "/items/{id}", "status": "2xx"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    directory = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.apps.metrics_app:app", "--workers", "2"]
    # Only the server process is in multiprocess mode: this test process never sees the variable.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    server = Server([*args, "--port", str(port)], port, env=env)
    try:
        server.wait_ready("/metrics")
        yield server, directory
    finally:
        output = server.stop()
    assert "Traceback" not in output, output


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values: Samples = {}
    for family in parser.text_string_to_metric_families(response.text):
        for sample in family.samples:
            values.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return values


def test_two_workers_sum_their_request_counts(served: tuple[Server, Path]) -> None:
    server, directory = served
    key = tuple(sorted(ROUTE_LABELS.items()))
    infinity = tuple(sorted({**ROUTE_LABELS, "le": "+Inf"}.items()))
    pids: set[int] = set()
    sent = 0
    # A fresh connection each time, so the kernel spreads the requests over both workers.
    with httpx.Client(base_url=server.url, headers={"connection": "close"}) as client:
        while sent < 40 or (len(pids) < 2 and sent < 400):
            answer = client.get(f"/items/{sent}")
            assert answer.status_code == 200
            pids.add(answer.json()["pid"])
            sent += 1
        assert len(pids) == 2, f"one worker answered every request: {pids}"
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
        files = [path.name for path in directory.iterdir()]
        for pid in pids:
            assert any(name.endswith(f"_{pid}.db") for name in files), files
        for _ in range(6):
            values = scrape(client)
            assert values["lanner_http_requests_total"][key] == sent
            assert values["lanner_http_request_duration_seconds_count"][key] == sent
            assert values["lanner_http_request_duration_seconds_bucket"][infinity] == sent
            # The scrape itself is the one request in flight, whichever worker answers it.
            assert values["lanner_http_requests_in_flight"][()] == 1
            routes = {dict(labels).get("route") for samples in values.values() for labels in samples}
            assert routes == {None, "/items/{id}", "/metrics"}
