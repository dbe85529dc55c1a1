from lanner import Depends, Lanner, Router
from lanner.ratelimit import RateLimit, client_ip

app = Lanner()
search_limit = RateLimit("3/minute", key=client_ip)  # in memory; RedisStore(url) for every worker


@app.get("/search", rate_limit=search_limit)
async def search(q: str) -> list[str]:
    return [q]


# The same limit as a dependency of a whole router; several rates are checked together.
api = Router(prefix="/api", dependencies=[Depends(RateLimit("10/second", "1000/hour"))])


@api.get("/items")
async def items() -> list[str]:
    return ["tea"]


app.include_router(api)
