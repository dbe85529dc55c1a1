import asyncio

import httpx
from embed import app, embed


def test_concurrent_requests_share_a_batch() -> None:
    async def main() -> list[list[float]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            texts = ["a", "b c", "d e f"]
            answers = await asyncio.gather(
                *(client.post("/embed", json={"text": t}) for t in texts)
            )
        return [answer.json() for answer in answers]

    assert asyncio.run(main()) == [[1.0, 0.0], [3.0, 1.0], [5.0, 2.0]]
    snapshot = embed.stats.snapshot()
    assert snapshot["items"] == 3
    assert snapshot["largest_batch"] == 3  # three requests, one call of the model
