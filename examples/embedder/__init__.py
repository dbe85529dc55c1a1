"""The embedder example: all-MiniLM-L6-v2 embeddings over HTTP, micro-batched (see app.py)."""
