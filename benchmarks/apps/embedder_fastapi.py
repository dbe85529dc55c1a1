"""examples/embedder in FastAPI, the way its documentation teaches: the model per request.

The model loads once in the lifespan (FastAPI's "Lifespan events" page loads an ML model the same
way) and the handlers are plain ``def``, which FastAPI runs in its thread pool: every request is
one model call. Same routes, same pydantic models, same model code as the lanner example.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import numpy as np
from examples.embedder.app import Embedding, Embeddings, EmbedRequest, Similarity, SimilarityRequest
from examples.embedder.model import Embedder
from fastapi import Depends, FastAPI, Request


def get_model(request: Request) -> Embedder:
    """The model the lifespan loaded."""
    model: Embedder = request.app.state.model
    return model


Model = Annotated[Embedder, Depends(get_model)]


def create_app() -> FastAPI:
    """Build the FastAPI app; the model loads at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model = Embedder()
        yield

    app = FastAPI(title="Embedder", lifespan=lifespan)

    @app.post("/embed")
    def embed(body: EmbedRequest, model: Model) -> Embedding | Embeddings:
        if body.text is not None:
            return Embedding(embedding=model.embed([body.text])[0].tolist())
        return Embeddings(embeddings=model.embed(body.texts or []).tolist())

    @app.post("/similarity")
    def similarity(body: SimilarityRequest, model: Model) -> Similarity:
        a, b = model.embed([body.a, body.b]).astype(np.float64)
        return Similarity(similarity=float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))

    return app
