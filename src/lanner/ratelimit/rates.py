"""`Rate`: a limit such as ``"100/minute"`` or ``"10/5 seconds"``, parsed once when a limit is built."""

from __future__ import annotations

import dataclasses
import re

__all__ = ["Rate", "parse_rate"]

#: Microseconds per unit: the stores count time in whole microseconds, so GCRA's arithmetic is exact.
_UNITS = {"second": 1_000_000, "minute": 60_000_000, "hour": 3_600_000_000, "day": 86_400_000_000}
_RATE = re.compile(r"\s*(\d{1,12})\s*(?:/|per\s)\s*(?:(\d{1,9})\s*)?(second|minute|hour|day)(s?)\s*", re.I)


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """`limit` requests per `period_us` microseconds, with GCRA's two derived constants.

    Attributes:
        limit: how many requests one period allows (also the largest burst).
        period_us: the period in microseconds.
        name: the policy name sent in the ``RateLimit`` headers, e.g. ``"100-per-minute"``.
        interval_us: GCRA's emission interval: one request's share of the period (rounded down to a
            whole microsecond).
        capacity_us: ``limit * interval_us``: how far ahead of now a client's theoretical arrival
            time may run. Using it rather than the period keeps the burst bound exactly `limit`
            when the period does not divide evenly.
    """

    limit: int
    period_us: int
    name: str
    interval_us: int
    capacity_us: int

    @property
    def period_seconds(self) -> int:
        """The period in whole seconds, as the ``w`` parameter of ``RateLimit-Policy`` wants it."""
        return max(1, self.period_us // 1_000_000)


def parse_rate(text: str) -> Rate:
    """Parse ``"N/unit"`` or ``"N/M units"`` (``N per unit`` too); units are second, minute, hour, day.

    Singular and plural both work: ``"1/second"``, ``"100/minutes"``, ``"1000/5 minutes"``.

    Raises:
        ValueError: the text is not a rate, N or M is zero, or the rate is finer than one request
            per microsecond.
    """
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid rate {text!r}: expected 'N/second', 'N/minute', 'N/hour', 'N/day' or 'N/M minutes'"
        )
    limit = int(match[1])
    count = int(match[2]) if match[2] else 1
    unit = match[3].lower()
    if limit == 0 or count == 0:
        raise ValueError(f"invalid rate {text!r}: the count and the period must be positive")
    period_us = count * _UNITS[unit]
    interval_us = period_us // limit
    if interval_us == 0:
        raise ValueError(f"invalid rate {text!r}: more than one request per microsecond")
    per = unit if count == 1 else f"{count}-{unit}s"
    return Rate(limit, period_us, f"{limit}-per-{per}", interval_us, limit * interval_us)
