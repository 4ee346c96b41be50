"""Hybrid retrieval: dense (Chroma's HNSW, our embedder) + BM25 per language, fused by rank.

Nothing is loaded in full: the dense side is a Chroma query, the lexical side a search of the
persistent lexical index (``qa.store.lexical``: one state of it, pinned for the retriever's
life), and the texts of the few chunks kept are fetched by id. A question is matched lexically
only against chunks of its own language: stems of one language are noise in another, and on
cross-lingual questions (XQuAD, Spanish questions over English documents) an English lexical
list fused with the multilingual dense one cost 25 points of hit@1. The dense side is
multilingual and searches everything.

The fusion is reciprocal rank fusion with llama-index's constant (k = 60); it is written here
rather than taken from ``QueryFusionRetriever`` because importing ``llama_index.core`` costs
~1.5 s of CPU, most of the cold-start budget of ``qa ask``. ``tests/test_retrieve.py`` checks
that it ranks exactly as ``QueryFusionRetriever`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np
from chromadb.errors import ChromaError

from qa import lang as languages
from qa.embed import Embedder
from qa.schema import Chunk, Passage
from qa.store import ChunkStore
from qa.store.lexical import IndexTermStats

RRF_K = 60.0  # reciprocal rank fusion constant (Cormack et al. 2009; llama-index's value)
FOREIGN_SLOTS = 3  # best dense hits kept per other language of the corpus
FOREIGN_SHARE = 0.02  # ... that holds this share of the chunks, or FOREIGN_MIN of them
FOREIGN_MIN = 20
CHUNKS_KEPT = 4096  # fetched chunks and vectors kept in memory, per retriever


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
    """Retrieves passages for a query from the store (Chroma) and its lexical index."""

    def __init__(self, store: ChunkStore, embedder: Embedder, top_k: int) -> None:
        self.top_k = top_k
        self.embedder = embedder
        self.store = store
        self.lexical = store.lexical.reader()
        self.term_stats = IndexTermStats(self.lexical)
        self.count = self.lexical.count
        self.depth = min(self.count, max(top_k * 2, 10))
        self._chunks: dict[str, Chunk] = {}  # chunks fetched so far, by id
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def corpus_languages(self) -> frozenset[str]:
        """The languages of the indexed chunks."""
        return self.lexical.languages

    @property
    def empty(self) -> bool:
        """True when the store holds no chunks (every query finds nothing)."""
        return self.count == 0

    @property
    def other_languages(self) -> dict[str, int]:
        """The corpus's languages with their chunk counts, those with enough chunks to be a
        language of the documents (not a few lines of code or names taken for one)."""
        least = max(1.0, min(FOREIGN_MIN, FOREIGN_SHARE * self.count))
        return {code: n for code, n in self.lexical.counts.items() if n >= least}

    def dense(self, query_vector: np.ndarray, depth: int, lang: str | None = None) -> list[str]:
        """Ids of the ``depth`` nearest chunks by cosine (of language ``lang`` only, when
        given), nearest first (Chroma's HNSW, or its filtered search)."""
        got = _read_again_once(
            lambda: self.store.collection.query(
                query_embeddings=[[float(x) for x in query_vector]],
                n_results=max(1, min(depth, self.count)),
                where={"lang": lang} if lang else None,
                include=[],
            )
        )
        return list(got["ids"][0])

    def sparse(self, query: str, depth: int, lang: str = languages.DEFAULT) -> list[str]:
        """Ids of the best ``depth`` chunks in language ``lang`` by BM25 that share at least
        one term with the query (zero scores would still earn reciprocal-rank credit)."""
        return self.lexical.search(languages.tokens(query, lang), lang, depth)

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id, fetched from the store once (with their language, found now for
        chunks stored before languages were recorded)."""
        missing = [i for i in ids if i not in self._chunks]
        for cid, chunk in _read_again_once(lambda: self.store.get_chunks(missing)).items():
            self._chunks[cid] = (
                chunk if chunk.lang else replace(chunk, lang=languages.detect(chunk.text))
            )
        if len(self._chunks) > CHUNKS_KEPT:
            for cid in list(self._chunks)[: len(self._chunks) - CHUNKS_KEPT]:
                del self._chunks[cid]
        return {i: self._chunks[i] for i in ids if i in self._chunks}

    def chunk_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks by id (fetched from the store once)."""
        missing = [i for i in ids if i not in self._vectors]
        if missing:
            self._vectors.update(_read_again_once(lambda: self.store.embeddings(missing)))
            while len(self._vectors) > CHUNKS_KEPT:
                del self._vectors[next(iter(self._vectors))]
        return {i: self._vectors[i] for i in ids if i in self._vectors}

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
        depth = min(max(self.depth, top_k or 0), self.count)
        ranked = self.dense(query_vector, depth)
        fused = reciprocal_rank_fusion([ranked, self.sparse(query, depth, lang)])
        kept = fused[: top_k or self.top_k]
        # A multilingual embedder still ranks passages in the question's language far higher
        # (the 50 nearest chunks of a German question in a corpus with German chapters are all
        # German): the nearest few of every other language of the corpus are kept too, after
        # the fused list, each from a search of that language's chunks alone.
        seen = {cid for cid, _ in kept}
        for code in sorted(self.other_languages):
            if code == lang:
                continue
            nearest = self.dense(query_vector, FOREIGN_SLOTS, code)
            extra = [cid for cid in nearest if cid not in seen]
            kept += [(cid, 0.0) for cid in extra]
            seen.update(extra)
        chunks = self.chunks([cid for cid, _ in kept])
        # A chunk deleted by a writer since this retriever was made is left out.
        kept = [(cid, score) for cid, score in kept if cid in chunks]
        return [
            Passage(chunk=chunks[cid], score=0.0, rank=rank, fused=score)
            for rank, (cid, score) in enumerate(kept)
        ]


READ_AGAIN_AFTER_S = 0.2
T = TypeVar("T")


def _read_again_once(read: Callable[[], T]) -> T:
    """``read()``, asked once more after a moment when embedded Chroma fails it: while another
    process rebuilds the store, SQLite can refuse a read under this view ("disk I/O error",
    measured in tests/test_shared_store.py) and succeed just after."""
    try:
        return read()
    except ChromaError:
        time.sleep(READ_AGAIN_AFTER_S)
        return read()
