"""Hybrid retrieval (dense + BM25, reciprocal rank fusion) over a small synthetic corpus."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qa  # noqa: F401  - offline environment first
from qa.embed import HashingEmbedder
from qa.ingest import Chunker
from qa.retrieve import HybridRetriever, reciprocal_rank_fusion
from qa.schema import Passage
from qa.store import ChunkStore
from qa.sync import sync_corpus
from tests.conftest import MakeStore

TOPICS = [
    "apple orchards and the autumn harvest",
    "volcanoes, lava flows and eruptions",
    "trains, railways and old stations",
    "whales and their ocean migration",
    "chess openings and risky gambits",
    "bread, yeast and slow baking",
    "glaciers and the melting of ice",
    "bees, hives and wild honey",
    "rivers, floods and concrete dams",
    "satellites, orbits and rocket launches",
    "cheese, milk and cellar ageing",
    "violins, strings and chamber music",
    "deserts, sand and moving dunes",
    "forests, trees and winter logging",
    "printing presses and early books",
    "bridges, steel and suspension cables",
    "coffee beans and careful roasting",
    "tides, the moon and gravity",
    "penguins and their antarctic colonies",
    "silk worms and the craft of weaving",
]
RARE = "zanzibarite"
RARE_DOC = "doc07.txt"  # the only document with the rare word
DENSE_DOC = "doc03.txt"


@cache
def chunker() -> Chunker:
    return Chunker(200, 40)


def doc_text(i: int, topic: str) -> str:
    text = f"This note is about {topic}. It describes {topic} in some detail.\n"
    if f"doc{i:02d}.txt" == RARE_DOC:
        text += f"A curious mineral called {RARE} glows faintly in the dark.\n"
    return text


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for i, topic in enumerate(TOPICS):
        (root / f"doc{i:02d}.txt").write_text(doc_text(i, topic), encoding="utf-8")
    return root


@pytest.fixture
def store(corpus: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore) -> ChunkStore:
    store = make_store(corpus, hashing_embedder)
    sync_corpus(corpus, store, hashing_embedder, chunker())
    assert store.count() == len(TOPICS)  # one chunk per document
    return store


@pytest.fixture
def retriever(store: ChunkStore, hashing_embedder: HashingEmbedder) -> HybridRetriever:
    return HybridRetriever(store, hashing_embedder, top_k=5)  # 10 candidates per side


def sources(passages: list[Passage]) -> list[str]:
    return [p.chunk.source for p in passages]


def test_rare_word_query_returns_its_document_first(retriever: HybridRetriever) -> None:
    passages = retriever.retrieve(f"Which mineral is called {RARE}?")
    assert passages
    assert passages[0].chunk.source == RARE_DOC
    assert RARE in passages[0].chunk.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("volcanoes lava eruptions", "doc01.txt"),
        ("penguins antarctic colonies", "doc18.txt"),
        ("roasting coffee beans", "doc16.txt"),
    ],
)
def test_topical_queries_find_their_document_first(
    retriever: HybridRetriever, query: str, expected: str
) -> None:
    assert retriever.retrieve(query)[0].chunk.source == expected


def test_passages_carry_chunk_offsets_and_descending_positive_fused_scores(
    retriever: HybridRetriever, store: ChunkStore, corpus: Path
) -> None:
    passages = retriever.retrieve("honey bees and their hives", top_k=5)
    assert len(passages) == 5
    by_id = {c.id: c for c in store.chunks()}
    for rank, p in enumerate(passages):
        assert p.rank == rank
        assert p.fused > 0 and p.score == 0.0, "rated later, by Evidence.rate"
        assert p.chunk == by_id[p.chunk.id]
        text = (corpus / p.chunk.source).read_text(encoding="utf-8")
        assert text[p.chunk.start : p.chunk.end] == p.chunk.text
        assert p.chunk.end > p.chunk.start
    scores = [p.fused for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.chunk.id for p in passages}) == len(passages)  # fusion merged both sides
    assert passages[0].chunk.source == "doc07.txt"


@pytest.mark.parametrize("top_k", [1, 2, 4, 10])
def test_top_k_is_respected(retriever: HybridRetriever, top_k: int) -> None:
    passages = retriever.retrieve("rivers and bridges", top_k=top_k)
    assert len(passages) == top_k
    assert [p.rank for p in passages] == list(range(top_k))


def test_default_top_k_comes_from_the_constructor(
    store: ChunkStore, hashing_embedder: HashingEmbedder
) -> None:
    assert len(HybridRetriever(store, hashing_embedder, top_k=3).retrieve("trains")) == 3
    assert len(HybridRetriever(store, hashing_embedder, top_k=7).retrieve("trains")) == 7


def test_top_k_larger_than_the_corpus_returns_every_chunk_once(
    tmp_corpus: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    store = make_store(tmp_corpus, hashing_embedder)
    sync_corpus(tmp_corpus, store, hashing_embedder, chunker())
    passages = HybridRetriever(store, hashing_embedder, top_k=50).retrieve("harbour cranes")
    assert sorted(p.chunk.id for p in passages) == sorted(c.id for c in store.chunks())
    assert passages[0].chunk.source == "alpha.txt"


def test_empty_store_returns_nothing(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    store = make_store(empty, hashing_embedder)
    assert store.count() == 0
    assert HybridRetriever(store, hashing_embedder, top_k=5).retrieve("anything at all") == []


def test_blank_query_returns_nothing(retriever: HybridRetriever) -> None:
    assert retriever.retrieve("") == []
    assert retriever.retrieve("   \n\t") == []


def test_query_vector_is_used_instead_of_embedding_the_query(
    retriever: HybridRetriever,
    hashing_embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    original = hashing_embedder.embed

    def spy(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return original(texts)

    vector = hashing_embedder.embed(["violins strings chamber music"])[0]
    monkeypatch.setattr(hashing_embedder, "embed", spy)
    passages = retriever.retrieve("violins strings chamber music", query_vector=vector)
    assert calls == []
    assert passages[0].chunk.source == "doc11.txt"
    retriever.retrieve("violins")
    assert calls == [["violins"]]


# --- both sides of the fusion contribute ------------------------------------------------------


def away_from(embedder: HashingEmbedder, corpus: Path, source: str) -> np.ndarray:
    """A query vector pointing away from one document: dense retrieval ranks it last."""
    return np.asarray(-embedder.embed([(corpus / source).read_text(encoding="utf-8")])[0])


def towards(embedder: HashingEmbedder, corpus: Path, source: str) -> np.ndarray:
    return np.asarray(embedder.embed([(corpus / source).read_text(encoding="utf-8")])[0])


def test_lexical_match_comes_back_when_dense_misses_it(
    retriever: HybridRetriever, hashing_embedder: HashingEmbedder, corpus: Path
) -> None:
    vector = away_from(hashing_embedder, corpus, RARE_DOC)
    dense_only = retriever.retrieve("qwertyuiop", query_vector=vector, top_k=10)
    assert RARE_DOC not in sources(dense_only)  # the dense side alone never finds it
    passages = retriever.retrieve(RARE, query_vector=vector, top_k=10)
    assert RARE_DOC in sources(passages)  # BM25 brings it back


def test_dense_match_comes_back_without_any_lexical_overlap(
    retriever: HybridRetriever, hashing_embedder: HashingEmbedder, corpus: Path
) -> None:
    query = "qwertyuiop asdfghjkl"  # no document shares a word with it
    lexical_only = retriever.retrieve(
        query, query_vector=away_from(hashing_embedder, corpus, DENSE_DOC), top_k=10
    )
    assert DENSE_DOC not in sources(lexical_only)
    passages = retriever.retrieve(
        query, query_vector=towards(hashing_embedder, corpus, DENSE_DOC), top_k=10
    )
    assert DENSE_DOC in sources(passages)  # the dense side brings it back


def test_only_lexical_match_ranks_in_top_3_when_dense_misses_it(
    store: ChunkStore, hashing_embedder: HashingEmbedder, corpus: Path
) -> None:
    retriever = HybridRetriever(store, hashing_embedder, top_k=3)
    passages = retriever.retrieve(RARE, query_vector=away_from(hashing_embedder, corpus, RARE_DOC))
    assert RARE_DOC in sources(passages), sources(passages)


def test_query_without_lexical_match_ranks_like_dense_retrieval(
    retriever: HybridRetriever, hashing_embedder: HashingEmbedder, corpus: Path
) -> None:
    vector = towards(hashing_embedder, corpus, DENSE_DOC)  # cosine 1.0 with doc03
    passages = retriever.retrieve("qwertyuiop asdfghjkl", query_vector=vector)
    assert passages[0].chunk.source == DENSE_DOC, [(p.chunk.source, p.score) for p in passages]


_IDS = st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10)


@settings(max_examples=60, deadline=None)
@given(dense=_IDS, sparse=_IDS)
def test_fusion_ranks_exactly_as_llama_index_query_fusion_retriever(
    dense: list[str], sparse: list[str]
) -> None:
    """The hand-written RRF (kept off the ask path for import time) matches the library's."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
    from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    nodes = {i: TextNode(id_=i, text=f"text {i}") for i in "abcdefghij"}

    class Fixed(BaseRetriever):
        def __init__(self, ids: list[str]) -> None:
            super().__init__()
            self.ids = ids

        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            n = len(self.ids)
            return [
                NodeWithScore(node=nodes[i], score=float(n - r)) for r, i in enumerate(self.ids)
            ]

    library = QueryFusionRetriever(
        [Fixed(dense), Fixed(sparse)],
        llm=MockLLM(),
        mode=FUSION_MODES.RECIPROCAL_RANK,
        num_queries=1,
        use_async=False,
        similarity_top_k=20,
    ).retrieve("q")
    ours = reciprocal_rank_fusion([dense, sparse])
    assert [h.node.node_id for h in library] == [i for i, _ in ours]
    assert [h.score for h in library] == pytest.approx([s for _, s in ours])


def test_sentence_offsets_are_stored_with_each_chunk(store: ChunkStore) -> None:
    """Sync records every chunk's sentence spans, so answering needs no sentence splitter."""
    from qa.text import sentence_spans

    chunks = store.chunks()
    assert chunks
    for c in chunks:
        assert c.lang
        assert c.sentences == tuple(sentence_spans(c.text, offset=c.start, lang=c.lang))
        assert all(c.start <= s < e <= c.end for s, e in c.sentences)


@pytest.mark.parametrize(
    "query", ["harbour cranes", "trains timetable", "the quick ferry", "zebra nothing"]
)
def test_sparse_side_scores_as_bm25s_retrieve(
    retriever: HybridRetriever, store: ChunkStore, query: str
) -> None:
    """The persistent lexical index finds what bm25s's ``retrieve`` finds over the same chunks,
    in the same order (bm25s's in-memory index is what it replaced)."""
    import bm25s

    from qa.lang import tokens

    chunks = [c for c in store.chunks() if c.lang == "en"]
    bm25 = bm25s.BM25()
    bm25.index([tokens(c.text, "en") for c in chunks], show_progress=False)
    depth = retriever.depth
    ours = retriever.sparse(query, depth, "en")
    known = [t for t in tokens(query, "en") if t in bm25.vocab_dict]
    if not known:
        assert ours == []
        return
    docs, scores = bm25.retrieve([known], k=depth, show_progress=False)
    theirs = {chunks[int(d)].id: float(s) for d, s in zip(docs[0], scores[0], strict=True) if s > 0}
    assert set(ours) == set(theirs)
    values = [theirs[i] for i in ours]
    assert values == sorted(values, reverse=True)


def test_rated_passages_score_their_best_sentence_on_the_citation_scale(
    retriever: HybridRetriever, hashing_embedder: HashingEmbedder
) -> None:
    """``Evidence.rate`` keeps the retrieval order and gives each passage the best evidence
    score of its sentences: the number a citation of that sentence would show."""
    from qa.evidence import Evidence

    question = "honey bees and their hives"
    passages = retriever.retrieve(question, top_k=5)
    evidence = Evidence(hashing_embedder, retriever.term_stats)
    rated = evidence.rate(question, passages)
    assert [p.chunk.id for p in rated] == [p.chunk.id for p in passages]
    for p in rated:
        spans = evidence.spans([p])
        assert p.score == pytest.approx(float(evidence.score(question, spans).max()), abs=1e-6)
        assert 0.0 <= p.score <= 1.0


def test_every_other_language_of_the_corpus_gets_its_nearest_passages(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    """A question's own language fills the fused list; each other language of the corpus is
    searched on its own (Chroma's filtered query), so its nearest passages are kept after
    the fused list even when every one of the question language's nearest chunks comes first
    (a multilingual model ranks its own language far higher)."""
    root = tmp_path / "corpus"
    root.mkdir()
    for i, topic in enumerate(TOPICS):
        (root / f"doc{i:02d}.txt").write_text(doc_text(i, topic), encoding="utf-8")
    (root / "brot.txt").write_text(
        "Dieser Text handelt vom Brotbacken mit Hefe. Der Teig ruht eine ganze Nacht lang, "
        "bevor er im heißen Ofen gebacken wird.\n",
        encoding="utf-8",
    )
    store = make_store(root, hashing_embedder)
    sync_corpus(root, store, hashing_embedder, chunker())
    retriever = HybridRetriever(store, hashing_embedder, top_k=5)
    assert retriever.other_languages == {"en": len(TOPICS), "de": 1}
    searched: list[object] = []
    query = store.collection.query
    store.collection.query = lambda **kw: (searched.append(kw.get("where")), query(**kw))[1]  # type: ignore[method-assign]
    found = retriever.retrieve("How long does bread dough rest before baking?", lang="en")
    assert searched == [None, {"lang": "de"}]  # everything, then German alone
    assert "brot.txt" in sources(found)
    fused = [p for p in found if p.fused > 0]
    assert len(fused) == 5 and found[: len(fused)] == fused  # extra passages come after
