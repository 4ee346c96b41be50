"""The persistent lexical index (qa.store.lexical) against its oracles.

After any sequence of file replacements and deletions, the index ranks exactly as a bm25s
index built from scratch over the chunks then present, its term statistics equal
``qa.text.TermStats`` counted over them, and it mirrors exactly the files written.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import lang as languages
from qa.schema import Chunk
from qa.store.lexical import LexicalIndex, Mirrored, encode
from qa.text import TermStats, terms_of
from tests.conftest import MakeStore

# Words that stem, stop and fold differently: stopwords, plurals, accents, non-Latin scripts,
# digits, underscores and a ligature (NFKD turns it into two letters).
WORDS = [
    "the", "harbour", "harbours", "cranes", "crane", "storm", "ferry", "ferries", "leave",
    "état", "etat", "Zürich", "naïve", "2019", "x_y", "ﬁre", "fire", "Москва", "東京", "and",
    "rebuilt", "rebuild", "Alep", "alep", "a1", "İstanbul",
]  # fmt: skip
LANGS = ["en", "fr"]

texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)
files = st.sampled_from(["a.txt", "b.txt", "c/d.txt", "e.txt"])
parts = st.lists(st.tuples(texts, st.sampled_from(LANGS)), min_size=1, max_size=4)
ops = st.lists(st.tuples(files, st.one_of(st.none(), parts)), min_size=1, max_size=8)


def chunks_of(source: str, version: int, parts: list[tuple[str, str]]) -> list[Chunk]:
    return [
        Chunk(f"{source}#{version}#{i}", source, text, 0, len(text), i, f"h{version}", lang=code)
        for i, (text, code) in enumerate(parts)
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops, query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))
def test_index_equals_a_fresh_bm25s_index_after_any_changes(
    tmp_path_factory: pytest.TempPathFactory, ops: list, query: list[str]
) -> None:
    index = LexicalIndex(tmp_path_factory.mktemp("lex") / "lexical.sqlite", key="k")
    present: dict[str, list[Chunk]] = {}
    for version, (source, parts) in enumerate(ops):
        if parts is None:
            index.delete_files([source])
            present.pop(source, None)
        else:
            chunks = chunks_of(source, version, parts)
            index.replace_files([(source, Mirrored(f"h{version}", len(chunks)), chunks)])
            present[source] = chunks
    alive = [c for source in sorted(present) for c in present[source]]
    assert index.files() == {s: Mirrored(cs[0].file_hash, len(cs)) for s, cs in present.items()}
    reader = index.reader()
    try:
        assert reader.count == len(alive)
        assert reader.languages == frozenset(c.lang for c in alive)
        # Term statistics: what TermStats counts over the chunks present.
        oracle = TermStats((c.text, c.lang) for c in alive)
        for term in {t for c in alive for t in terms_of([c.text], c.lang)[0]} | {"absent"}:
            assert reader.document_frequency(term) == oracle.df.get(term, 0), term
        # BM25: the scores a fresh bm25s index of each language gives.
        for code in LANGS:
            group = [c for c in alive if c.lang == code]
            tokens = languages.tokens(" ".join(query), code)
            ours = dict(reader.scored(tokens, code, depth=len(alive) + 1))
            if not any(languages.tokens(c.text, code) for c in group):
                assert ours == {}  # (bm25s cannot index a language with no terms at all)
                continue
            bm25 = bm25s.BM25()
            bm25.index([languages.tokens(c.text, code) for c in group], show_progress=False)
            known = [t for t in tokens if t in bm25.vocab_dict]
            scores = bm25.get_scores(known) if known else np.zeros(len(group))
            theirs = {c.id: float(s) for c, s in zip(group, scores, strict=True) if s > 0}
            assert set(ours) == set(theirs)
            for cid, score in ours.items():
                assert score == pytest.approx(theirs[cid], rel=1e-5)
    finally:
        reader.close()


def test_ranking_breaks_ties_by_age_and_keeps_depth(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical.sqlite", key="k")
    same = [("storm over the harbour", "en")] * 3 + [("nothing alike", "en")]
    index.replace_files([("a.txt", Mirrored("h", 4), chunks_of("a.txt", 0, same))])
    reader = index.reader()
    assert reader.search(["storm"], "en", 2) == ["a.txt#0#0", "a.txt#0#1"]
    assert reader.search(["storm"], "fr", 2) == []
    assert reader.search(["absent"], "en", 2) == []
    reader.close()


def test_a_reader_keeps_its_state_while_a_writer_commits(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical.sqlite", key="k")
    index.replace_files([("a.txt", Mirrored("h", 1), chunks_of("a.txt", 0, [("storm", "en")]))])
    reader = index.reader()
    index.replace_files([("b.txt", Mirrored("h", 1), chunks_of("b.txt", 1, [("storm", "en")]))])
    index.delete_files(["a.txt"])
    assert reader.search(["storm"], "en", 5) == ["a.txt#0#0"]
    assert reader.count == 1
    reader.close()
    fresh = index.reader()
    assert fresh.search(["storm"], "en", 5) == ["b.txt#1#0"]
    fresh.close()


def test_a_remade_collection_starts_an_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite"
    LexicalIndex(path, key="old").replace_files(
        [("a.txt", Mirrored("h", 1), chunks_of("a.txt", 0, [("storm", "en")]))]
    )
    index = LexicalIndex(path, key="new")
    assert index.files() == {}
    reader = index.reader()
    assert reader.count == 0 and reader.search(["storm"], "en", 5) == []
    reader.close()


@given(st.text(min_size=1, max_size=20))
def test_encoding_is_one_fts5_token_and_reversible(term: str) -> None:
    token = encode(term)
    assert token.isascii() and " " not in token
    assert all(ch.isalnum() or ch == "_" for ch in token)
    if token.startswith("_"):
        assert bytes.fromhex(token[1:]).decode("utf-8", "surrogatepass") == term
    else:
        assert token == term


def test_a_damaged_index_is_moved_aside_and_rebuilt_from_chroma(
    tmp_path: Path, make_store: MakeStore
) -> None:
    """The lexical index is derived from Chroma: a damaged file costs a rebuild, not an error."""
    from qa.embed import HashingEmbedder
    from qa.ingest import Chunker
    from qa.retrieve import HybridRetriever
    from qa.store.mirror import catch_up
    from qa.sync import sync_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The harbour cranes were rebuilt after the storm.\n", "utf-8")
    embedder = HashingEmbedder()
    lexical = tmp_path / "lexical" / "index.sqlite"
    store = make_store(corpus, embedder, lexical=lexical)
    sync_corpus(corpus, store, embedder, Chunker(200, 40))
    lexical.write_bytes(b"not a database at all" * 100)
    again = make_store(corpus, embedder, lexical=lexical)
    assert catch_up(again) == 1
    hits = HybridRetriever(again, embedder, top_k=3).sparse("harbour cranes", 5, "en")
    assert len(hits) == 1
    assert list(lexical.parent.glob("index.sqlite.damaged-*"))


def test_a_verified_index_is_not_compared_and_any_write_clears_the_mark(
    tmp_path: Path, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catching up costs one row read while the index is marked verified at the store's
    token; a write killed between Chroma and the lexical index leaves no mark behind."""
    from qa.embed import HashingEmbedder
    from qa.ingest import Chunker
    from qa.store.mirror import catch_up
    from qa.sync import sync_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The harbour cranes were rebuilt after the storm.\n", "utf-8")
    embedder, chunker = HashingEmbedder(), Chunker(200, 40)
    store = make_store(corpus, embedder, lexical=tmp_path / "lexical" / "index.sqlite")
    sync_corpus(corpus, store, embedder, chunker)
    store.lexical.mark_verified("t1")

    with monkeypatch.context() as patch:
        patch.setattr(store, "files", lambda: pytest.fail("compared although verified"))
        assert catch_up(store, "t1") == 0
    assert catch_up(store, "t2") == 0  # another token: compared, and nothing to do

    (corpus / "b.txt").write_text("Ferries leave the harbour at dawn.\n", "utf-8")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # the sync dies after Chroma's write, before the index's

    with monkeypatch.context() as patch:
        patch.setattr(store.lexical, "replace_files", killed)
        with pytest.raises(KeyboardInterrupt):
            sync_corpus(corpus, store, embedder, chunker)
    assert "b.txt" in store.files() and "b.txt" not in store.lexical.files()
    assert store.lexical.verified() is None
    assert catch_up(store, "t1") == 1
    assert set(store.lexical.files()) == {"a.txt", "b.txt"}


def test_a_sync_marks_the_index_verified_at_the_store_token(tmp_path: Path) -> None:
    """The assistant's sync leaves the mark at the token it leaves; a reader then skips the
    comparison, and the next change moves the token past the mark."""
    import qa
    from qa.embed import HashingEmbedder
    from qa.store import generation

    corpus, store = tmp_path / "corpus", tmp_path / "store"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The harbour cranes were rebuilt after the storm.\n", "utf-8")
    settings = qa.Settings(corpus=corpus, store=store, answerer="extractive")
    assistant = qa.Assistant(settings, embedder=HashingEmbedder())
    assistant.sync()
    first = generation.read(store)
    assert assistant.store.lexical.verified() == first != generation.MISSING
    (corpus / "b.txt").write_text("Ferries leave the harbour at dawn.\n", "utf-8")
    assistant.sync()
    assert assistant.store.lexical.verified() == generation.read(store) != first
    assert assistant.ask("When do ferries leave the harbour?").citations


def test_a_long_catch_up_shows_its_progress(
    tmp_path: Path,
    make_store: MakeStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qa.embed import HashingEmbedder
    from qa.ingest import Chunker
    from qa.store import mirror
    from qa.sync import sync_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"f{i}.txt").write_text(f"Harbour report number {i} on the cranes.\n", "utf-8")
    embedder = HashingEmbedder()
    lexical = tmp_path / "lexical" / "index.sqlite"
    sync_corpus(corpus, make_store(corpus, embedder, lexical=lexical), embedder, Chunker(200, 40))
    lexical.unlink()  # a store written by a version without the index
    monkeypatch.setattr(mirror, "BATCH_FILES", 1)
    again = make_store(corpus, embedder, lexical=lexical)
    assert mirror.catch_up(again, progress=True) == 3
    assert "lexical index: catching up" in capsys.readouterr().err
    assert set(again.lexical.files()) == {"f0.txt", "f1.txt", "f2.txt"}
