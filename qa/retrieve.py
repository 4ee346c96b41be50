"""Hybrid retrieval: dense (Chroma, our embedder) + BM25, fused by reciprocal rank fusion.

All three parts are llama-index's: ``VectorIndexRetriever`` over ``ChromaVectorStore``,
``BM25Retriever`` (bm25s) and ``QueryFusionRetriever`` in ``reciprocal_rerank`` mode with a
single query, so no LLM is ever called (``MockLLM`` is passed to keep ``Settings`` out).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.embed import Embedder, LlamaIndexEmbedding
from qa.schema import Chunk, Passage
from qa.store import ChunkStore
from qa.text import TermStats


class MatchesOnly(BaseRetriever):
    """Keeps only BM25 hits that share a term with the query: llama-index's ``BM25Retriever``
    also returns zero-score documents, which would still earn reciprocal-rank credit."""

    def __init__(self, inner: BaseRetriever) -> None:
        super().__init__()
        self._inner = inner

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [h for h in self._inner.retrieve(query_bundle) if (h.score or 0.0) > 0.0]


class HybridRetriever:
    """Retrieves passages for a query from a snapshot of the store's chunks."""

    def __init__(self, store: ChunkStore, embedder: Embedder, top_k: int) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
        from llama_index.retrievers.bm25 import BM25Retriever

        self.top_k = top_k
        self.embedder = embedder
        chunks = store.chunks()
        self.chunks: dict[str, Chunk] = {c.id: c for c in chunks}
        self.term_stats = TermStats(c.text for c in chunks)
        self._fusion: Any = None
        if not chunks:
            return
        index = VectorStoreIndex.from_vector_store(
            store.vector_store, embed_model=LlamaIndexEmbedding(embedder)
        )
        depth = min(len(chunks), max(top_k * 2, 10))
        dense = index.as_retriever(similarity_top_k=depth)
        # Same node objects as the dense side returns, so fusion matches them by hash.
        nodes = store.vector_store.get_nodes(None)
        sparse = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=depth)
        self._fusion = QueryFusionRetriever(
            [dense, MatchesOnly(sparse)],
            llm=MockLLM(),
            mode=FUSION_MODES.RECIPROCAL_RANK,
            num_queries=1,
            use_async=False,
            similarity_top_k=depth,
        )

    def retrieve(
        self, query: str, *, query_vector: np.ndarray | None = None, top_k: int | None = None
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, best first."""
        if self._fusion is None or not query.strip():
            return []
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        bundle = QueryBundle(query_str=query, embedding=[float(x) for x in query_vector])
        passages: list[Passage] = []
        for hit in self._fusion.retrieve(bundle):
            chunk = self.chunks.get(hit.node.node_id)
            if chunk is None:  # stored after this snapshot was taken
                continue
            passages.append(Passage(chunk=chunk, score=float(hit.score or 0.0), rank=len(passages)))
            if len(passages) == (top_k or self.top_k):
                break
        return passages
