from pydantic import BaseModel

from lanner import Lanner
from lanner.batching import batched

app = Lanner()


class Model:
    """Stands for a real model: one call encodes a whole list of texts."""

    def encode(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(text)), float(text.count(" "))] for text in texts]


model = Model()


@batched(max_batch_size=32, max_wait_ms=5, max_queue=1024)
async def embed(texts: list[str]) -> list[list[float]]:
    return model.encode(texts)  # one call for the whole batch


class Text(BaseModel):
    text: str


@app.post("/embed")
async def embed_one(body: Text) -> list[float]:
    return await embed(body.text)  # one item in, one result out


@app.get("/embed/stats")
async def stats() -> dict[str, object]:
    return embed.stats.snapshot()
