"""What the soak apps share: the body limit, and the probe behind their hidden ``GET /__soak__``.

The probe is installed in ``gc.callbacks`` when an app is built. It times every collection (the
time between the ``start`` and ``stop`` phases) and keeps the longest pause since the start and
since the last snapshot, so ``python -m benchmarks.soak`` can read from inside the server what
``/proc`` cannot show. Everything it reports is O(1) to read: ``gc.get_count()``,
``gc.get_stats()``, ``gc.get_freeze_count()``, ``sys.getallocatedblocks()`` and the number of
asyncio tasks; walking ``gc.get_objects()`` would cost a full pause of its own.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from typing import Any

SOAK_PATH = "/__soak__"
"""The probe's route in both soak apps, left out of their OpenAPI documents."""

MAX_BODY_SIZE = 4096
"""The largest request body the soak apps accept, in bytes; larger ones are answered with 413."""


class GcProbe:
    """Times the garbage collector's pauses through ``gc.callbacks``.

    Pauses are measured with ``time.perf_counter``; a collection that starts while another is
    being timed (it cannot happen in CPython, which holds the GIL across one) would be ignored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: float | None = None
        self._generation = 0
        self.collections = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.max_generation = -1
        self.window_max_s = 0.0
        self.window_max_generation = -1
        self.max_by_generation = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        """The ``gc.callbacks`` hook: note the start, or record the pause at the stop."""
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            self._generation = int(info.get("generation", 0))
            return
        started, self._started = self._started, None
        if started is None:
            return
        pause = now - started
        generation = min(max(self._generation, 0), 2)
        with self._lock:
            self.collections += 1
            self.total_s += pause
            if pause > self.max_s:
                self.max_s, self.max_generation = pause, generation
            if pause > self.window_max_s:
                self.window_max_s, self.window_max_generation = pause, generation
            self.max_by_generation[generation] = max(self.max_by_generation[generation], pause)

    def snapshot(self) -> dict[str, Any]:
        """Return the collector's counters and pauses, and start a new "since last" window."""
        with self._lock:
            window, self.window_max_s = self.window_max_s, 0.0
            window_generation, self.window_max_generation = self.window_max_generation, -1
            pauses = {
                "collections": self.collections,
                "total_ms": self.total_s * 1000,
                "max_ms": self.max_s * 1000,
                "max_generation": self.max_generation,
                "max_since_last_ms": window * 1000,
                "max_since_last_generation": window_generation,
                "max_by_generation_ms": [p * 1000 for p in self.max_by_generation],
            }
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:  # no running loop: called outside the server
            tasks = -1
        return {
            "gc_count": list(gc.get_count()),
            "gc_stats": gc.get_stats(),
            "gc_freeze_count": gc.get_freeze_count(),
            "gc_pauses": pauses,
            "allocated_blocks": sys.getallocatedblocks(),
            "asyncio_tasks": tasks,
            "threads": threading.active_count(),
        }


PROBE = GcProbe()
"""The process's one probe; both soak apps report it."""


def install_probe() -> GcProbe:
    """Add ``PROBE`` to ``gc.callbacks`` (once per process) and return it."""
    if PROBE not in gc.callbacks:
        gc.callbacks.append(PROBE)
    return PROBE
