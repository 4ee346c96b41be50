"""``hashing``: deterministic bag-of-words feature hashing — fast, offline, for unit tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from qa.embed import embedders

_WORD = re.compile(r"\w+", re.UNICODE)


@embedders.register("hashing")
class HashingEmbedder:
    """Signed feature hashing of lower-cased words, L2-normalised; symmetric."""

    max_tokens = 100_000

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` (queries and documents alike)."""
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

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)
