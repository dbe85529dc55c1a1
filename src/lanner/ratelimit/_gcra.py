"""GCRA, the generic cell rate algorithm: one stored timestamp per client and rate.

Each (client, rate) keeps its *theoretical arrival time* (TAT): when the client's bucket would be
empty if every request so far had arrived at the steady pace of one per `Rate.interval_us`. A
request at `now` is admitted when ``max(TAT, now) + interval - now <= capacity``, and then TAT
moves to ``max(TAT, now) + interval``. From an empty record exactly `Rate.limit` requests pass at
once, then one more per interval: the burst is bounded exactly, not roughly like a fixed window's
(which lets twice the limit through across a window boundary). It is a token bucket of `limit`
tokens refilled at `limit` per period, kept as one number. A refused request changes nothing.

Several rates are checked together: the request passes only when every rate admits it, and only
then is every TAT moved. The Redis store runs the same arithmetic in Lua (`redis_store`), and
`MemoryStore.hit_one` inlines it for a single rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from lanner.ratelimit.rates import Rate

__all__ = ["Decision", "gcra"]


class Decision(NamedTuple):
    """What a store answered for one request.

    Attributes:
        allowed: whether the request may proceed.
        retry_after_us: when refused, the microseconds until it would be admitted (0 when allowed).
        fills_us: per rate, ``TAT - now`` after the request: how far ahead of now the client runs.
            The remaining quota is ``(capacity - fill) // interval`` and the bucket is whole again
            after ``fill`` microseconds.
    """

    allowed: bool
    retry_after_us: int
    fills_us: tuple[int, ...]

    def remaining(self, index: int, rate: Rate) -> int:
        """How many more requests rate number `index` admits right now."""
        return max(0, (rate.capacity_us - self.fills_us[index]) // rate.interval_us)


def gcra(tats: Sequence[int], now: int, rates: Sequence[Rate]) -> tuple[Decision, list[int] | None]:
    """Decide one request against `rates`, given each rate's stored TAT (0 when none).

    Returns:
        The decision, and the TATs to store (None when refused: nothing changes).
    """
    wait = 0
    fills = []
    for tat, rate in zip(tats, rates, strict=True):
        fill = (tat if tat > now else now) + rate.interval_us - now
        if fill - rate.capacity_us > wait:
            wait = fill - rate.capacity_us
        fills.append(fill)
    if wait > 0:
        return Decision(False, wait, tuple(tat - now if tat > now else 0 for tat in tats)), None
    return Decision(True, 0, tuple(fills)), [now + fill for fill in fills]
