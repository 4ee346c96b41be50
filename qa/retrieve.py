"""Hybrid retrieval: dense (Chroma, our embedder) + BM25 (bm25s), fused by reciprocal rank.

The engines are libraries: Chroma's HNSW index answers the dense side (ids and distances
only: the chunks are already in memory), bm25s the lexical side, built once per snapshot of
the store and kept. The fusion is reciprocal rank fusion with llama-index's constant
(k = 60); it is written here rather than taken from ``QueryFusionRetriever`` because importing
``llama_index.core`` costs ~1.5 s of CPU, most of the cold-start budget of ``qa ask``.
``tests/test_retrieve.py`` checks that it ranks exactly as ``QueryFusionRetriever`` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.embed import Embedder
from qa.schema import Chunk, Passage
from qa.store import ChunkStore
from qa.text import TermStats, stemmer

_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern (lower-cased text)
RRF_K = 60.0  # reciprocal rank fusion constant (Cormack et al. 2009; llama-index's value)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: float = RRF_K
) -> list[tuple[str, float]]:
    """Ids by fused score ``Σ 1 / (k + rank)`` over the rankings (rank from 0), best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


class HybridRetriever:
    """Retrieves passages for a query from a snapshot of the store's chunks."""

    def __init__(self, store: ChunkStore, embedder: Embedder, top_k: int) -> None:
        self.top_k = top_k
        self.embedder = embedder
        self.store = store
        chunks, self._vectors = store.snapshot()
        self.chunks: dict[str, Chunk] = {c.id: c for c in chunks}
        self._ids = [c.id for c in chunks]
        self._rows = {cid: row for row, cid in enumerate(self._ids)}
        self.term_stats = TermStats(c.text for c in chunks)
        self.depth = min(len(chunks), max(top_k * 2, 10))
        self._bm25: Any = None
        if chunks:
            import bm25s

            tokens = bm25s.tokenize(
                [c.text for c in chunks], stopwords="en", stemmer=stemmer(), show_progress=False
            )
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)

    @property
    def empty(self) -> bool:
        """True when the snapshot holds no chunks (every query finds nothing)."""
        return not self._ids

    def dense(self, query_vector: np.ndarray, depth: int) -> list[str]:
        """Ids of the ``depth`` nearest chunks by cosine, nearest first (Chroma's HNSW)."""
        got = self.store.collection.query(
            query_embeddings=[[float(x) for x in query_vector]],
            n_results=depth,
            include=["distances"],
        )
        return [cid for cid in got["ids"][0] if cid in self.chunks]

    def sparse(self, query: str, depth: int) -> list[str]:
        """Ids of the best ``depth`` chunks by BM25 that share at least one term with the query.

        Zero-score documents are dropped: they would still earn reciprocal-rank credit.
        """
        stems = stemmer().stemWords(_BM25_TOKEN.findall(query.lower()))
        known = [t for t in stems if t in self._bm25.vocab_dict]
        if not known:
            return []
        # bm25s's own scoring of the index built above, without ``retrieve``'s per-call set-up.
        scores = self._bm25.get_scores(known)
        k = min(depth, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self._ids[int(i)] for i in top if scores[i] > 0]

    def chunk_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks by id: from the snapshot in memory, else from the store."""
        found = {i: self._vectors[self._rows[i]].astype(np.float32) for i in ids if i in self._rows}
        missing = [i for i in ids if i not in found]
        return found | (self.store.embeddings(missing) if missing else {})

    def retrieve(
        self, query: str, *, query_vector: np.ndarray | None = None, top_k: int | None = None
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, best first."""
        if self.empty or not query.strip():
            return []
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        depth = min(max(self.depth, top_k or 0), len(self._ids))
        fused = reciprocal_rank_fusion([self.dense(query_vector, depth), self.sparse(query, depth)])
        return [
            Passage(chunk=self.chunks[cid], score=score, rank=rank)
            for rank, (cid, score) in enumerate(fused[: top_k or self.top_k])
        ]
