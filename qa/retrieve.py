"""Hybrid retrieval: dense (Chroma, our embedder) + BM25 (bm25s) per language, fused by rank.

The engines are libraries: Chroma's HNSW index answers the dense side (ids and distances
only: the chunks are already in memory), bm25s the lexical side. There is one BM25 index per
language of the corpus, each chunk stemmed and stopword-filtered in its own language
(``qa.lang``), and a question is matched lexically only against chunks of its own language:
stems of one language are noise in another, and on cross-lingual questions (XQuAD, Spanish
questions over English documents) an English lexical list fused with the multilingual dense
one cost 25 points of hit@1. The dense side is multilingual and searches everything.

The fusion is reciprocal rank fusion with llama-index's constant (k = 60); it is written here
rather than taken from ``QueryFusionRetriever`` because importing ``llama_index.core`` costs
~1.5 s of CPU, most of the cold-start budget of ``qa ask``. ``tests/test_retrieve.py`` checks
that it ranks exactly as ``QueryFusionRetriever`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa import lang as languages
from qa.embed import Embedder
from qa.schema import Chunk, Passage
from qa.store import ChunkStore
from qa.text import TermStats

RRF_K = 60.0  # reciprocal rank fusion constant (Cormack et al. 2009; llama-index's value)
FOREIGN_SLOTS = 3  # best dense hits kept per other language of the corpus
FOREIGN_DEPTH = 50  # how deep the dense list is searched for them


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: float = RRF_K
) -> list[tuple[str, float]]:
    """Ids by fused score ``Σ 1 / (k + rank)`` over the rankings (rank from 0), best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


@dataclass
class _Lexical:
    """The BM25 index of the chunks of one language."""

    ids: list[str]
    bm25: Any


class HybridRetriever:
    """Retrieves passages for a query from a snapshot of the store's chunks."""

    def __init__(self, store: ChunkStore, embedder: Embedder, top_k: int) -> None:
        self.top_k = top_k
        self.embedder = embedder
        self.store = store
        chunks, self._vectors = store.snapshot()
        # Stores written before languages were recorded: found now, once per snapshot.
        chunks = [c if c.lang else replace(c, lang=languages.detect(c.text)) for c in chunks]
        self.chunks: dict[str, Chunk] = {c.id: c for c in chunks}
        self._ids = [c.id for c in chunks]
        self._rows = {cid: row for row, cid in enumerate(self._ids)}
        self.term_stats = TermStats((c.text, c.lang) for c in chunks)
        self.depth = min(len(chunks), max(top_k * 2, 10))
        by_lang: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_lang.setdefault(c.lang, []).append(c)
        self._lexical = {code: _index(group) for code, group in by_lang.items()}

    @property
    def corpus_languages(self) -> frozenset[str]:
        """The languages of the indexed chunks."""
        return frozenset(self._lexical)

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

    def sparse(self, query: str, depth: int, lang: str = languages.DEFAULT) -> list[str]:
        """Ids of the best ``depth`` chunks in language ``lang`` by BM25 that share at least
        one term with the query (zero scores would still earn reciprocal-rank credit)."""
        index = self._lexical.get(lang)
        if index is None:
            return []
        known = [t for t in languages.tokens(query, lang) if t in index.bm25.vocab_dict]
        if not known:
            return []
        # bm25s's own scoring of the index built above, without ``retrieve``'s per-call set-up.
        scores = index.bm25.get_scores(known)
        k = min(depth, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [index.ids[int(i)] for i in top if scores[i] > 0]

    def chunk_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks by id: from the snapshot in memory, else from the store."""
        found = {i: self._vectors[self._rows[i]].astype(np.float32) for i in ids if i in self._rows}
        missing = [i for i in ids if i not in found]
        return found | (self.store.embeddings(missing) if missing else {})

    def retrieve(
        self,
        query: str,
        *,
        query_vector: np.ndarray | None = None,
        top_k: int | None = None,
        lang: str | None = None,
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``query`` (in language ``lang``), best first."""
        if self.empty or not query.strip():
            return []
        if query_vector is None:
            query_vector = self.embedder.embed_query([query])[0]
        lang = lang or languages.detect(query, self.corpus_languages)
        depth = min(max(self.depth, top_k or 0), len(self._ids))
        foreign = [code for code in self._lexical if code != lang]
        dense = self.dense(query_vector, max(depth, FOREIGN_DEPTH) if foreign else depth)
        fused = reciprocal_rank_fusion([dense[:depth], self.sparse(query, depth, lang)])
        kept = fused[: top_k or self.top_k]
        # A multilingual embedder still ranks passages in the question's language higher:
        # the best few of every other language are kept too, after the fused list.
        seen = {cid for cid, _ in kept}
        for code in foreign:
            extra = [cid for cid in dense if self.chunks[cid].lang == code and cid not in seen]
            kept += [(cid, 0.0) for cid in extra[:FOREIGN_SLOTS]]
            seen.update(extra[:FOREIGN_SLOTS])
        return [
            Passage(chunk=self.chunks[cid], score=0.0, rank=rank, fused=score)
            for rank, (cid, score) in enumerate(kept)
        ]


def _index(chunks: Sequence[Chunk]) -> _Lexical:
    """A bm25s index of chunks of one language, tokenised by ``qa.lang.tokens``."""
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([languages.tokens(c.text, c.lang) for c in chunks], show_progress=False)
    return _Lexical([c.id for c in chunks], bm25)
