"""`RateLimit`: a dependency that counts each request against one or more rates and answers 429.

The headers follow draft-ietf-httpapi-ratelimit-headers-11 (May 2026): ``RateLimit-Policy`` lists
each rate as ``"100-per-minute";q=100;w=60`` and ``RateLimit`` its current state as
``"100-per-minute";r=99;t=1``, where ``r`` is how many requests the client may still send now and
``t`` the seconds until the bucket is full again (or, when ``r`` is 0, until the next request is
admitted, which is also ``Retry-After``).
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from lanner.exceptions import HTTPException
from lanner.ratelimit._gcra import Decision
from lanner.ratelimit.keys import MAX_KEY_LENGTH, bounded_key, client_ip, network_key
from lanner.ratelimit.rates import Rate, parse_rate
from lanner.ratelimit.stores import MemoryStore, RateLimitStore, RateLimitStoreError
from lanner.requests import Request
from lanner.responses import Response

__all__ = ["KeyFunction", "RateLimit", "default_store"]

logger = logging.getLogger("lanner.ratelimit")

#: Takes the request, returns the client's key (None: this request is not limited); may be async.
KeyFunction = Callable[[Request], "str | Awaitable[str | None] | None"]

#: At most one warning per limit in this many seconds while its store fails.
WARNING_INTERVAL = 60.0

_default_store: MemoryStore | None = None
_ordinals: dict[str, itertools.count[int]] = {}
_ordinals_lock = threading.Lock()


def default_store() -> MemoryStore:
    """The process-wide `MemoryStore` used by every `RateLimit` not given a store."""
    global _default_store
    if _default_store is None:
        _default_store = MemoryStore()
    return _default_store


class RateLimit:
    """Limit how often a client may call a route: ``Depends(RateLimit("100/minute"))``.

    Use it like any dependency, on a route, a router or the app
    (``dependencies=[Depends(RateLimit("10/second"))]``). Several rates in one limit are checked
    together: ``RateLimit("10/second", "1000/hour")`` admits a request only when both do, and a
    refused request counts against neither. Several limits on one route each decide on their own
    (the first may count a request the second refuses).

    A refused request raises ``HTTPException(429)`` with ``Retry-After`` (whole seconds, rounded
    up) and the ``RateLimit``/``RateLimit-Policy`` headers, so the app's exception handlers
    answer (problem+json, or an HTML page for browsers). Admitted requests get the two headers
    too; with several limits on a route, each adds its items to the same two fields.

    Each limit has its own buckets unless two share a `scope`. The default scope is made of the
    rates, the key function's name and the order in which such limits were created, the same in
    every worker process of an app; name the scope yourself to keep the buckets when the code
    changes around it.

    Args:
        *rates: ``"N/second"``, ``"N/minute"``, ``"N/hour"``, ``"N/day"`` or ``"N/M minutes"``
            (see `parse_rate`).
        key: the request's key (`client_ip` by default, `lanner.ratelimit.user`, or your own
            callable, sync or async, taking the request); keys over 128 characters are hashed. A
            key of None lets the request through without counting it.
        store: where counts live: a `MemoryStore` (the default, shared by the process) or a
            `lanner.ratelimit.RedisStore`.
        scope: the name of this limit's buckets; limits with the same scope and store share them.
        on_store_error: when the store fails (Redis down): ``"allow"`` lets the request through
            and logs a warning (at most one a minute per limit), ``"deny"`` answers 503.
        headers: send ``RateLimit`` and ``RateLimit-Policy`` on admitted requests.

    Raises:
        ValueError: no rate, an invalid or repeated rate, or an unknown `on_store_error`.
        TypeError: `key` is not callable.
    """

    def __init__(
        self,
        *rates: str,
        key: KeyFunction = client_ip,
        store: RateLimitStore | None = None,
        scope: str | None = None,
        on_store_error: Literal["allow", "deny"] = "allow",
        headers: bool = True,
    ) -> None:
        if not rates:
            raise ValueError('RateLimit needs at least one rate, e.g. RateLimit("100/minute")')
        parsed = tuple(parse_rate(rate) for rate in rates)
        names = [rate.name for rate in parsed]
        if len(set(names)) != len(names):
            raise ValueError(f"RateLimit got the same rate twice: {rates!r}")
        if on_store_error not in ("allow", "deny"):
            raise ValueError(f"on_store_error must be 'allow' or 'deny', not {on_store_error!r}")
        if not callable(key):
            raise TypeError(f"RateLimit key must be a callable taking the request, not {key!r}")
        self.rates: tuple[Rate, ...] = parsed
        self.key = key
        self.store: RateLimitStore = store if store is not None else default_store()
        self.scope = scope if scope is not None else _default_scope(names, key)
        self.on_store_error = on_store_error
        self.headers = headers
        self._prefix = bounded_key(self.scope) + ":"
        self._async_key = inspect.iscoroutinefunction(key) or inspect.iscoroutinefunction(
            getattr(key, "__call__", None)  # noqa: B004 - the method of a callable instance
        )
        # PERF(ratelimit): the memory store answers without a coroutine (~0.3 us less a request).
        self._check = None
        self._hit_one = None
        memory = self.store
        if isinstance(memory, MemoryStore) and type(memory).hit is MemoryStore.hit:
            self._check = memory.check
            if len(parsed) == 1 and type(memory).check is MemoryStore.check:
                self._hit_one = memory.hit_one
        self._policy = ", ".join(f'"{r.name}";q={r.limit};w={r.period_seconds}' for r in parsed).encode()
        self._items = tuple((f'"{rate.name}";r='.encode(), rate) for rate in parsed)
        # PERF(production): what the one-rate memory path needs, built once: the policy line, the
        # record name's end, and the state of a client whose bucket was full (its usual first
        # request), so most admitted requests format nothing (~0.2 us less a request).
        self._policy_line = (b"ratelimit-policy", self._policy)
        self._rate = parsed[0]
        self._suffix = "|" + parsed[0].name
        self._full_state = _item(self._items[0][0], parsed[0], parsed[0].interval_us)
        self._by_address = key is client_ip
        self._next_warning = 0.0
        self._suppressed = 0

    def __repr__(self) -> str:
        rates = ", ".join(repr(rate.name) for rate in self.rates)
        return f"RateLimit({rates}, scope={self.scope!r})"

    async def __call__(self, request: Request, response: Response) -> None:
        """Count the request; raise 429 when a rate refuses it.

        Raises:
            HTTPException: 429 over the limit; 503 when the store fails and `on_store_error` is
                ``"deny"``.
        """
        if self._by_address:
            # PERF(production): `client_ip` inlined, the default key (~0.05 us less a request).
            client = request.scope.get("client")
            ident = client[0] if client else ""
            if ":" in ident:
                ident = network_key(ident)
        else:
            ident = self.key(request)
            if self._async_key:
                ident = await ident  # type: ignore[misc]
            if ident is None:
                return
        if type(ident) is not str:
            ident = str(ident)
        if len(ident) > MAX_KEY_LENGTH:
            ident = bounded_key(ident)
        hit_one = self._hit_one
        if hit_one is not None:
            rate = self._rate
            try:
                fill = hit_one(f"{self._prefix}{ident}{self._suffix}", rate)
            except RateLimitStoreError as exc:  # a subclass's own failure
                self._store_failed(exc)
                return
            if fill <= rate.capacity_us:
                if self.headers:
                    if fill == rate.interval_us:
                        state = self._full_state
                    else:
                        state = _item(self._items[0][0], rate, fill)
                    raw = response.raw_headers
                    if raw:
                        _add_item(raw, b"ratelimit-policy", self._policy)
                        _add_item(raw, b"ratelimit", state)
                    else:
                        raw.append(self._policy_line)
                        raw.append((b"ratelimit", state))
                return
            decision = Decision(False, fill - rate.capacity_us, (fill - rate.interval_us,))
        else:
            try:
                if self._check is not None:
                    decision = self._check(self._prefix + ident, self.rates)
                else:
                    decision = await self.store.hit(self._prefix + ident, self.rates)
            except RateLimitStoreError as exc:
                self._store_failed(exc)
                return
            if decision.allowed:
                if self.headers:
                    raw = response.raw_headers
                    _add_item(raw, b"ratelimit-policy", self._policy)
                    _add_item(raw, b"ratelimit", self._state(decision))
                return
        raise HTTPException(
            429,
            f"Rate limit exceeded ({', '.join(rate.name for rate in self.rates)})",
            headers={
                "Retry-After": str(_seconds(decision.retry_after_us)),
                "RateLimit-Policy": self._policy.decode(),
                "RateLimit": self._state(decision).decode(),
            },
        )

    def _state(self, decision: Decision) -> bytes:
        """The ``RateLimit`` field's items: each rate's remaining quota and effective window."""
        items = zip(decision.fills_us, self._items, strict=True)
        return b", ".join([_item(prefix, rate, fill) for fill, (prefix, rate) in items])

    def _store_failed(self, exc: RateLimitStoreError) -> None:
        now = time.monotonic()
        if now >= self._next_warning:
            action = "allowing" if self.on_store_error == "allow" else "refusing (503)"
            logger.warning(
                "%r: the rate limit store failed, %s requests (%d more failures since the last warning): %s",
                self,
                action,
                self._suppressed,
                exc,
            )
            self._next_warning = now + WARNING_INTERVAL
            self._suppressed = 0
        else:
            self._suppressed += 1
        if self.on_store_error == "deny":
            raise HTTPException(503, "Rate limiting is unavailable; try again later") from exc

    @property
    def openapi_responses(self) -> dict[int, dict[str, Any]]:
        """The 429 answer in the shape of a route's ``responses=`` option, for the OpenAPI document."""
        text = {"schema": {"type": "string"}}
        return {
            429: {
                "description": "Too Many Requests: a rate limit refused the request",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait before retrying",
                        "schema": {"type": "integer"},
                    },
                    "RateLimit-Policy": {"description": "The rate limit policies", **text},
                    "RateLimit": {"description": "The quota left under each policy", **text},
                },
            }
        }


def _seconds(microseconds: int) -> int:
    """Whole seconds, rounded up."""
    return -(-microseconds // 1_000_000)


def _item(prefix: bytes, rate: Rate, fill: int) -> bytes:
    """One rate's ``RateLimit`` item: the requests left now and the seconds its ``t`` names.

    `prefix` is the item up to ``r=``; `fill` is how far ahead of now the client runs (``TAT - now``).
    """
    remaining = (rate.capacity_us - fill) // rate.interval_us
    if remaining > 0:
        return b"%s%d;t=%d" % (prefix, remaining, -(-fill // 1_000_000))
    return b"%s0;t=%d" % (prefix, -(-(fill + rate.interval_us - rate.capacity_us) // 1_000_000))


def _add_item(raw: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """Add list items to the header line `name`, so several limits share one line of each field."""
    for index, (existing, items) in enumerate(raw):
        if existing == name:
            raw[index] = (name, items + b", " + value)
            return
    raw.append((name, value))


def _default_scope(names: list[str], key: Any) -> str:
    """``rates:key name#n``, n counting the limits created with the same rates and key."""
    signature = f"{'+'.join(names)}:{getattr(key, '__qualname__', type(key).__qualname__)}"
    with _ordinals_lock:
        ordinal = next(_ordinals.setdefault(signature, itertools.count()))
    return f"{signature}#{ordinal}"
