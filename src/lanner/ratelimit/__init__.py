"""Rate limits: ``Depends(RateLimit("100/minute"))`` answers 429 once a client sends too many requests.

The algorithm is GCRA (the generic cell rate algorithm, `lanner.ratelimit._gcra`): one timestamp
per client and rate, the client's *theoretical arrival time*. A request is admitted while that
time runs at most one period ahead of now, and admitting it moves the time one interval
(period / limit) further. So exactly N requests pass in a burst, then one per interval, with no
window boundary to exploit; refused requests are not counted, and a client that stops is whole
again one period later.

Each check is one store operation:

- `MemoryStore` (the default): a dict in the process, well under a microsecond per request; records
  whose bucket refilled are swept, and the number of records is capped.
- `RedisStore`: one round trip per request (``EVALSHA`` of a Lua script that reads, decides and
  writes atomically, with Redis's own clock), so the limit is exact across worker processes and
  machines. When Redis fails, `RateLimit` lets requests through with a logged warning (the
  default, ``on_store_error="allow"``) or answers 503 (``"deny"``).

Importing this package does not import redis: `RedisStore` imports it when built
(``pip install 'lanner[redis]'``).
"""

from lanner.ratelimit._gcra import Decision
from lanner.ratelimit.keys import client_ip, user
from lanner.ratelimit.limit import RateLimit
from lanner.ratelimit.rates import Rate, parse_rate
from lanner.ratelimit.redis_store import RedisStore
from lanner.ratelimit.stores import MemoryStore, RateLimitStore, RateLimitStoreError

__all__ = [
    "Decision",
    "MemoryStore",
    "Rate",
    "RateLimit",
    "RateLimitStore",
    "RateLimitStoreError",
    "RedisStore",
    "client_ip",
    "parse_rate",
    "user",
]
