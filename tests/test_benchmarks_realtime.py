"""The real-time benchmark (python -m benchmarks.realtime): arguments, statistics, the load's wire code.

The one real run serves lanner's echo app on uvicorn and loads it for half a second; it is marked
slow. It needs only lanner's own dependencies (uvicorn with uvloop, httptools and websockets), so
it runs with the ``[test]`` extras; the peers' apps are never imported here. Nothing asserts on
timing beyond "some messages were echoed".
"""

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import realtime, ws_load  # noqa: E402
from benchmarks.apps.ws_common import JSON_MESSAGE, JSON_PAYLOAD, TEXT_PAYLOAD, ChatMessage  # noqa: E402
from benchmarks.realtime import Results, Sample  # noqa: E402
from benchmarks.servers import ServerProcess  # noqa: E402


def _sample(framework: str, scenario: str, round_index: int, rate: float, cpu_us: float = 20.0) -> Sample:
    return Sample(framework, scenario, round_index, rate, 1.0, 5.0, 0.9, cpu_us, 0.2)


def _results(samples: list[Sample]) -> Results:
    settings: dict[str, Any] = {
        "rounds": 2,
        "duration": 1.0,
        "warmup": 0.5,
        "clients": 64,
        "sse_clients": 1000,
    }
    settings.update(sse_rounds=1, sse_duration=10.0, pinning="none", ws="websockets-sansio")
    machine = {"cpu": "test CPU", "cpus": "2", "os": "Linux", "python": "3.11", "load_before": "0.1"}
    return Results("python -m benchmarks.realtime", "2026-12-05 10:00", settings, machine, {}, samples)


# -- command lines ------------------------------------------------------------------------------


def test_defaults_cover_every_scenario_and_framework() -> None:
    args = realtime.parse_args([])
    assert args.scenario == ("ws-echo", "ws-json-untyped", "ws-json", "sse-fanout")
    assert args.frameworks == ("raw", "lanner", "starlette", "litestar", "blacksheep")
    assert (args.rounds, args.duration, args.warmup, args.clients) == (5, 1.5, 0.5, 64)
    assert (args.sse_clients, args.sse_rounds, args.json) == (1000, 2, False)


def test_lists_are_parsed_and_deduplicated() -> None:
    args = realtime.parse_args(
        ["--scenario", "ws-json, ws-echo,ws-json", "--frameworks", "lanner", "--rounds", "3", "--json"]
    )
    assert args.scenario == ("ws-json", "ws-echo")
    assert args.frameworks == ("lanner",)
    assert args.rounds == 3
    assert args.json is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--scenario", "ws-echo,nope"],
        ["--scenario", ""],
        ["--frameworks", "django"],
        ["--rounds", "0"],
        ["--duration", "-1"],
        ["--warmup", "-0.5"],
    ],
)
def test_bad_arguments_exit_with_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        realtime.parse_args(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_load_generator_arguments() -> None:
    ws = ws_load.parse_args(["ws", "--port", "8000"])
    assert (ws.path, ws.payload, ws.clients) == ("/echo", "text", 64)
    sse = ws_load.parse_args(["sse", "--port", "8000", "--clients", "1000"])
    assert (sse.path, sse.clients) == ("/events", 1000)
    with pytest.raises(SystemExit):
        ws_load.parse_args(["ws", "--port", "8000", "--clients", "0"])


def test_uvicorn_runs_the_chosen_websocket_implementation() -> None:
    command = realtime.UVICORN.command("benchmarks.apps.ws_lanner", 8123)
    assert command[command.index("--ws") + 1] == realtime.WS_IMPLEMENTATION == "websockets-sansio"
    assert "benchmarks.apps.ws_lanner:create_app" in command
    assert "8123" in command


# -- statistics ---------------------------------------------------------------------------------


def test_ratios_are_paired_by_round() -> None:
    # lanner's slow round 0 meets the peer's slow round 0: per round lanner leads by 1.2 and 1.1.
    lanner = [_sample("lanner", "ws-echo", 0, 6_000), _sample("lanner", "ws-echo", 1, 22_000)]
    peer = [_sample("starlette", "ws-echo", 0, 5_000), _sample("starlette", "ws-echo", 1, 20_000)]
    assert realtime.paired_ratio(lanner, peer) == pytest.approx(1.15)
    assert realtime.spread(lanner) == (14_000, 6_000, 22_000)


def test_a_round_without_a_partner_is_left_out() -> None:
    lanner = [_sample("lanner", "ws-echo", 0, 10_000), _sample("lanner", "ws-echo", 1, 99_000)]
    peer = [_sample("litestar", "ws-echo", 0, 5_000)]
    assert realtime.paired_ratio(lanner, peer) == 2.0
    assert realtime.paired_ratio(lanner, []) is None
    assert realtime.paired_ratio(lanner, peer, "cpu_us") == 1.0
    assert realtime.spread([]) == (0.0, 0.0, 0.0)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert ws_load.percentile(values, 0.5) == 50.0
    assert ws_load.percentile(values, 0.99) == 99.0
    assert ws_load.percentile(values, 1.0) == 100.0
    assert ws_load.percentile([3.0], 0.99) == 3.0
    assert ws_load.percentile([], 0.5) == 0.0


# -- the load generator's wire code -------------------------------------------------------------


def test_client_frames_are_masked_and_server_frames_split() -> None:
    mask = b"\x01\x02\x03\x04"
    frame = ws_load.client_frame(0x1, TEXT_PAYLOAD.encode(), mask)
    assert frame[:2] == b"\x81\xfe" and int.from_bytes(frame[2:4], "big") == 1024 and frame[4:8] == mask
    unmasked = bytes(b ^ mask[i % 4] for i, b in enumerate(frame[8:]))
    assert unmasked == TEXT_PAYLOAD.encode()
    assert ws_load.client_frame(0x8, b"\x03\xe8", mask)[:2] == b"\x88\x82"
    # The server's frames are not masked: a short one, a 1 KiB one, and half of a third.
    short, long = b"\x81\x02hi", b"\x81\x7e\x04\x00" + b"x" * 1024
    frames, rest = ws_load.split_frames(short + long + long[:600])
    assert frames == [(0x1, True, b"hi"), (0x1, True, b"x" * 1024)]
    assert rest == long[:600]
    assert ws_load.split_frames(b"\x01")[1] == b"\x01"


def test_first_answers_are_checked() -> None:
    text = ws_load.echo_check(TEXT_PAYLOAD)
    assert text(TEXT_PAYLOAD.encode()) == ""
    assert text(b"something else") == "not the text sent"
    typed = ws_load.echo_check(JSON_PAYLOAD)
    # Another framework may serialise differently: the message must be equal, not the bytes.
    assert typed(JSON_MESSAGE.model_dump_json(indent=2).encode()) == ""
    changed = JSON_MESSAGE.model_copy(update={"edited": True}).model_dump_json().encode()
    assert typed(changed) == "a different ChatMessage"
    assert typed(b"{").startswith("not a ChatMessage")


def test_the_invalid_message_is_well_formed_but_not_a_chat_message() -> None:
    assert json.loads(ws_load.INVALID_PAYLOAD)["author"]["id"] == 0
    with pytest.raises(ValidationError):
        ChatMessage.model_validate_json(ws_load.INVALID_PAYLOAD)


@pytest.mark.skipif(importlib.util.find_spec("httptools") is None, reason="httptools not installed")
def test_event_streams_count_events_and_skipped_ids() -> None:
    async def feed() -> ws_load.EventWindow:
        window = ws_load.EventWindow()
        client = ws_load.EventClient("127.0.0.1:1", "/events", window)
        client.data_received(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
        client.data_received(b"transfer-encoding: chunked\r\n\r\n")
        assert client.open.done()
        window.recording = True
        events = [f'event: tick\nid: {n}\ndata: {{"n":{n},"t":1.0}}\n\n'.encode() for n in (7, 8, 11)]
        body = b": ping\n\n" + b"".join(events)
        # One event cut across two chunks, as a server may send it.
        for chunk in (body[:30], body[30:]):
            client.data_received(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        return window

    window = asyncio.run(feed())
    assert list(window.ids) == [7, 8, 11]
    assert window.gaps == 2
    assert window.latest == 11
    assert window.errors == []


# -- the report ---------------------------------------------------------------------------------


def test_targets_are_marked_ok_or_missed() -> None:
    samples = []
    for index in range(2):
        samples += [
            _sample("lanner", "ws-echo", index, 12_000, 25.0),
            _sample("starlette", "ws-echo", index, 10_000, 30.0),
            _sample("litestar", "ws-echo", index, 13_000, 24.0),
            _sample("lanner", "ws-json-untyped", index, 10_000, 35.0),
            _sample("lanner", "ws-json", index, 9_000, 40.0),
        ]
    detail: dict[str, Any] = {"connections": 1000, "events": 100_000, "expected": 100_000, "missing": 0}
    detail.update(gaps=0, ticks_per_s=10.0, max_ms=40.0)
    samples.append(Sample("lanner", "sse-fanout", 0, 10_000, 20.0, 35.0, 0.3, 30.0, 0.1, 0.05, dict(detail)))
    results = _results(samples)
    checks = realtime.target_checks(results)
    assert "ws-echo: lanner 1.20x starlette's messages/s (target: ahead, > 1) ok" in checks[0]
    assert checks[1].endswith("MISSED") and "0.92x litestar" in checks[1]
    assert "lanner typed 0.90x its untyped JSON echo" in checks[2] and checks[2].endswith("ok")
    assert "lanner typed 0.75x its 1 KiB text echo" in checks[3] and checks[3].endswith("MISSED")
    assert "1000 streams" in checks[4] and checks[4].endswith("ok")
    markdown = realtime.format_markdown(results)
    assert "| starlette | 10,000 |" in markdown
    assert "| lanner | 0.90 | 0.75 | 25.0 | 35.0 | 40.0 | 5.0 |" in markdown
    assert (
        "## SSE fan-out" in markdown and "| lanner | 1000 | 10,000 | 100,000 / 100,000 | 0 | 0 |" in markdown
    )


def test_dropped_events_miss_the_sse_target() -> None:
    detail: dict[str, Any] = {"connections": 1000, "events": 99_990, "expected": 100_000, "missing": 10}
    detail.update(gaps=10, ticks_per_s=10.0, max_ms=40.0)
    results = _results([Sample("lanner", "sse-fanout", 0, 9_999, 20.0, 35.0, 0.3, 30.0, 0.1, 0.0, detail)])
    (check,) = realtime.target_checks(results)
    assert "20 missing or skipped" in check and check.endswith("MISSED")


# -- one real run -------------------------------------------------------------------------------


@pytest.mark.slow
def test_lanner_echo_on_uvicorn(tmp_path: Path) -> None:
    # The typed scenario's check also sends an invalid message, which lanner must refuse.
    selection = ["--scenario", "ws-echo,ws-json", "--frameworks", "lanner", "--rounds", "1"]
    timing = ["--duration", "0.3", "--warmup", "0.1", "--clients", "8", "--output", str(tmp_path)]
    results = realtime.run(realtime.parse_args([*selection, *timing, "--no-progress"]), "test")
    assert results.problems == []
    assert [(s.framework, s.scenario, s.round) for s in results.samples] == [
        ("lanner", "ws-echo", 0),
        ("lanner", "ws-json", 0),
    ]
    for sample in results.samples:
        assert sample.rate > 0 and sample.detail["messages"] > 0 and sample.detail["connections"] == 8
        assert sample.cpu_us > 0 and sample.server_cpu > 0
    assert "| lanner |" in realtime.format_markdown(results)


@pytest.mark.slow
def test_an_endpoint_that_does_not_validate_is_caught(tmp_path: Path) -> None:
    log = (tmp_path / "server.log").open("w+b")
    server = ServerProcess(
        realtime.WS_FRAMEWORKS["lanner"], realtime.UVICORN, log, None, realtime.server_env()
    )
    try:
        server.wait_ready(realtime.tcp_probe, 60)
        assert asyncio.run(ws_load.check_validation(server.port, "/json")) == ""
        problem = asyncio.run(ws_load.check_validation(server.port, "/json-untyped"))
        assert "the invalid message was echoed: the endpoint does not validate" in problem
    finally:
        server.stop()
