"""Incremental sync of a corpus folder into an embedded Chroma store (qa.sync)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import qa  # noqa: F401  - offline environment first
from qa.embed import Embedder, HashingEmbedder
from qa.ingest import Chunker, read_document, scan_corpus
from qa.store import ChunkStore, collection_name
from qa.sync import EMBED_BATCH, read_fingerprint, sync_corpus
from tests.conftest import TMP_CORPUS, MakeStore


@cache
def chunker(size: int = 200, overlap: int = 40) -> Chunker:
    return Chunker(size, overlap)


class CountingEmbedder:
    """Wraps an embedder and records every call."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed_query(texts)

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def counting(hashing_embedder: HashingEmbedder) -> CountingEmbedder:
    return CountingEmbedder(hashing_embedder)


@pytest.fixture
def store(tmp_corpus: Path, counting: CountingEmbedder, make_store: MakeStore) -> ChunkStore:
    return make_store(tmp_corpus, counting)


def expected_ids(root: Path, chunker_: Chunker) -> set[str]:
    """The chunk ids the files on disk should have in the store."""
    ids: set[str] = set()
    files, _ = scan_corpus(root)
    for f in files:
        doc = read_document(f.path)
        text, file_hash = doc.text, doc.file_hash
        ids |= {c.id for c in chunker_.chunk(f.source, text, file_hash)}
    return ids


def stored_ids(store: ChunkStore) -> set[str]:
    return {c.id for c in store.chunks()}


def set_mtime(path: Path, seconds: int) -> None:
    """An explicit mtime, so a rewrite is never mistaken for the same stat fingerprint."""
    ns = seconds * 1_000_000_000
    os.utime(path, ns=(ns, ns))


def rewrite(path: Path, text: str, seconds: int = 2_000_000_000) -> None:
    path.write_text(text, encoding="utf-8")
    set_mtime(path, seconds)


def test_first_sync_adds_every_file(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert sorted(report.added) == sorted(TMP_CORPUS)
    assert report.updated == report.removed == report.unchanged == []
    assert report.skipped == []
    assert report.changed
    ids = expected_ids(tmp_corpus, chunker())
    assert stored_ids(store) == ids
    assert report.chunks_embedded == len(ids) == store.count()
    assert counting.texts_embedded == len(ids)
    assert set(store.files()) == set(TMP_CORPUS)


def test_stored_chunks_keep_offsets_metadata_and_vectors(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    chunks = store.chunks()
    for c in chunks:
        text = (tmp_corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.text
    vectors = store.embeddings([c.id for c in chunks])
    for c in chunks:
        np.testing.assert_allclose(
            vectors[c.id], counting.inner.embed_documents([c.text])[0], atol=1e-6
        )
    states = store.files()
    for source in TMP_CORPUS:
        path = tmp_corpus / source
        st = path.stat()
        state = states[source]
        assert (state.size, state.mtime_ns) == (st.st_size, st.st_mtime_ns)
        assert state.file_hash == read_document(path).file_hash
        assert state.chunker == read_fingerprint(chunker(), source)  # chunker, reader version
        assert state.chunks == len(store.ids_of(source)) >= 1


def test_second_sync_of_unchanged_corpus_embeds_nothing(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    before = stored_ids(store)
    counting.calls.clear()
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert report.chunks_embedded == 0
    assert counting.calls == []
    assert sorted(report.unchanged) == sorted(TMP_CORPUS)
    assert report.added == report.updated == report.removed == []
    assert not report.changed
    assert stored_ids(store) == before


def test_unchanged_files_are_not_even_read(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())

    def fail(path: Path) -> tuple[str, str]:
        raise AssertionError(f"unchanged file was read: {path}")

    monkeypatch.setattr("qa.sync.read_document", fail)
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert sorted(report.unchanged) == sorted(TMP_CORPUS)


def test_edited_file_is_updated_and_old_chunks_replaced(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    old_ids = set(store.ids_of("alpha.txt"))
    others = {s: set(store.ids_of(s)) for s in TMP_CORPUS if s != "alpha.txt"}
    assert old_ids
    counting.calls.clear()

    rewrite(tmp_corpus / "alpha.txt", "The harbour was rebuilt in 1907 after the great fire.\n")
    report = sync_corpus(tmp_corpus, store, counting, chunker())

    assert report.updated == ["alpha.txt"]
    assert sorted(report.unchanged) == sorted(others)
    assert report.added == report.removed == []
    new_ids = set(store.ids_of("alpha.txt"))
    assert new_ids and new_ids.isdisjoint(old_ids)
    assert new_ids == expected_ids(tmp_corpus, chunker()) - set().union(*others.values())
    assert report.chunks_embedded == len(new_ids) == counting.texts_embedded
    assert {s: set(store.ids_of(s)) for s in others} == others
    assert stored_ids(store) == expected_ids(tmp_corpus, chunker())
    assert any("1907" in c.text for c in store.chunks())
    assert not any("1906" in c.text for c in store.chunks())


def test_an_edit_re_embeds_only_the_chunks_whose_text_changed(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sentences = [f"Sentence {i} says the tide turned at {i} past the hour." for i in range(80)]
    rewrite(tmp_corpus / "long.txt", " ".join(sentences))
    sync_corpus(tmp_corpus, store, counting, chunker())
    before = {c.text for c in store.chunks() if c.source == "long.txt"}
    assert len(before) > 4
    counting.calls.clear()

    sentences[-1] = "The last sentence now says the harbour closed at dusk."
    rewrite(tmp_corpus / "long.txt", " ".join(sentences), seconds=2_000_000_100)
    report = sync_corpus(tmp_corpus, store, counting, chunker())

    after = [c for c in store.chunks() if c.source == "long.txt"]
    changed = [c.text for c in after if c.text not in before]
    assert report.updated == ["long.txt"]
    assert 1 <= len(changed) < len(after)
    assert counting.calls == [changed]  # only the changed chunks went to the embedder
    assert report.chunks_embedded == len(changed)
    assert report.chunks_reused == len(after) - len(changed)
    assert f"{report.chunks_reused} unchanged chunks kept" in report.summary()
    # Every stored vector, kept or new, is the one the embedder gives its text now.
    stored = store.embeddings([c.id for c in after])
    fresh = counting.inner.embed_documents([c.text for c in after])
    np.testing.assert_allclose(np.stack([stored[c.id] for c in after]), fresh, atol=1e-6)
    assert stored_ids(store) == expected_ids(tmp_corpus, chunker())


def test_edit_that_keeps_the_size_is_detected_by_mtime(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    path = tmp_corpus / "alpha.txt"
    set_mtime(path, 1_000_000_000)
    sync_corpus(tmp_corpus, store, counting, chunker())
    text = path.read_text(encoding="utf-8")
    same_size = text.replace("1906", "1907")
    assert len(same_size.encode()) == len(text.encode())
    rewrite(path, same_size, seconds=1_000_000_001)
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert report.updated == ["alpha.txt"]
    assert stored_ids(store) == expected_ids(tmp_corpus, chunker())


def test_touched_file_is_unchanged_and_nothing_is_embedded(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    before = stored_ids(store)
    path = tmp_corpus / "beta.md"
    set_mtime(path, 2_100_000_000)
    counting.calls.clear()

    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert report.chunks_embedded == 0
    assert counting.calls == []
    assert sorted(report.unchanged) == sorted(TMP_CORPUS)
    assert not report.changed
    assert stored_ids(store) == before
    # The new mtime is recorded, so the next sync takes the fast path (no read at all).
    assert store.files()["beta.md"].mtime_ns == path.stat().st_mtime_ns


def test_deleted_file_is_removed_with_its_chunks(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    gone = set(store.ids_of("notes/gamma.txt"))
    assert gone
    (tmp_corpus / "notes" / "gamma.txt").unlink()
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert report.removed == ["notes/gamma.txt"]
    assert report.changed
    assert store.ids_of("notes/gamma.txt") == []
    assert stored_ids(store).isdisjoint(gone)
    assert "notes/gamma.txt" not in store.files()
    assert stored_ids(store) == expected_ids(tmp_corpus, chunker())


def test_file_that_becomes_binary_is_skipped_and_its_chunks_removed(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    assert store.ids_of("beta.md")
    path = tmp_corpus / "beta.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    set_mtime(path, 2_200_000_000)
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("beta.md", "binary file (NUL bytes)")
    ]
    assert report.removed == ["beta.md"]
    assert store.ids_of("beta.md") == []
    assert "beta.md" not in store.files()
    assert {c.source for c in store.chunks()} == set(TMP_CORPUS) - {"beta.md"}


def test_file_that_becomes_empty_is_skipped_and_its_chunks_removed(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    sync_corpus(tmp_corpus, store, counting, chunker())
    rewrite(tmp_corpus / "alpha.txt", "   \n\n")
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert [(s.source, s.reason) for s in report.skipped] == [("alpha.txt", "empty file")]
    assert report.removed == ["alpha.txt"]
    assert store.ids_of("alpha.txt") == []


def test_new_chunker_rechunks_every_file(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    rewrite(tmp_corpus / "long.txt", " ".join(f"Sentence {i} about tides." for i in range(60)))
    sync_corpus(tmp_corpus, store, counting, chunker())
    old = stored_ids(store)
    small = chunker(32, 4)
    counting.calls.clear()
    report = sync_corpus(tmp_corpus, store, counting, small)
    assert sorted(report.updated) == sorted([*TMP_CORPUS, "long.txt"])
    assert report.unchanged == report.added == report.removed == []
    new = expected_ids(tmp_corpus, small)
    assert stored_ids(store) == new
    assert new != old
    kept = report.chunks_reused  # a file too short to split differently keeps its chunk
    assert report.chunks_embedded + kept == sum(store.files()[s].chunks for s in report.updated)
    assert report.chunks_embedded == counting.texts_embedded
    assert {s: f.chunker for s, f in store.files().items()} == {
        s: read_fingerprint(small, s) for s in store.files()
    }
    # And back again: the old chunking is restored exactly.
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert len(report.updated) == len(TMP_CORPUS) + 1
    assert stored_ids(store) == old


def test_files_in_subfolders_are_indexed_with_posix_sources(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder
) -> None:
    deep = tmp_corpus / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "deep.md").write_text("Deep inside the folder tree lives a lonely axolotl.\n")
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    assert "a/b/c/deep.md" in report.added
    assert "notes/gamma.txt" in report.added
    assert "a/b/c/deep.md" in store.files()
    (chunk,) = [c for c in store.chunks() if c.source == "a/b/c/deep.md"]
    assert "axolotl" in chunk.text


def test_report_lines_mention_each_skipped_file_with_its_reason(
    tmp_corpus: Path, store: ChunkStore, counting: CountingEmbedder, tmp_path: Path
) -> None:
    (tmp_corpus / "image.png").write_bytes(b"\x89PNG")
    (tmp_corpus / "blob.txt").write_bytes(b"abc\x00def")
    (tmp_corpus / "empty.md").write_bytes(b"")
    (tmp_path / "outside.txt").write_text("secret")
    (tmp_corpus / "leak.txt").symlink_to(tmp_path / "outside.txt")
    report = sync_corpus(tmp_corpus, store, counting, chunker())
    expected = {
        "image.png": "unsupported file type '.png'",
        "blob.txt": "binary file (NUL bytes)",
        "empty.md": "empty file",
        "leak.txt": "symlink points outside the corpus",
    }
    assert {s.source: s.reason for s in report.skipped} == expected
    lines = report.lines()
    assert lines[0] == report.summary()
    assert "4 skipped" in lines[0]
    for source, reason in expected.items():
        assert f"  skipped   {source}: {reason}" in lines
    for source in TMP_CORPUS:
        chars = len((tmp_corpus / source).read_text())
        assert f"  added     {source} ({chars:,} characters)" in lines
    assert not any(s.source in expected for s in store.chunks())
    assert report.to_dict()["skipped"] == [
        {"source": s.source, "reason": s.reason} for s in report.skipped
    ]


def test_many_chunks_are_embedded_in_batches(
    tmp_path: Path, counting: CountingEmbedder, make_store: MakeStore
) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for n in range(3):
        text = "\n\n".join(
            f"File {n} paragraph {i}: the lighthouse keeper logged ship number {n * 1000 + i}."
            for i in range(120)
        )
        (root / f"f{n}.txt").write_text(text)
    store = make_store(root, counting)
    small = chunker(32, 4)
    report = sync_corpus(root, store, counting, small)
    ids = expected_ids(root, small)
    assert len(ids) > 2 * EMBED_BATCH
    assert stored_ids(store) == ids
    assert report.chunks_embedded == len(ids) == counting.texts_embedded
    assert all(len(call) <= EMBED_BATCH for call in counting.calls)
    assert sorted(report.added) == ["f0.txt", "f1.txt", "f2.txt"]
    for source, state in store.files().items():
        assert state.chunks == len(store.ids_of(source))


# --- collections: vectors of different corpora or embedders never mix --------------------------


def test_collection_names_differ_per_corpus_and_embedder(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert collection_name(a, "hashing-256") != collection_name(b, "hashing-256")
    assert collection_name(a, "hashing-256") != collection_name(a, "hashing-64")
    assert collection_name(a, "hashing-256") != collection_name(a, "all-MiniLM-L6-v2")
    # The same folder, however it is spelled, is the same collection.
    link = tmp_path / "link"
    link.symlink_to(a, target_is_directory=True)
    assert collection_name(link, "x") == collection_name(a, "x")
    assert collection_name(a / ".." / "a", "x") == collection_name(a, "x")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
            "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
        ),
        ("org/model", "org-model"),
    ],
)
def test_distinct_embedder_names_get_distinct_collections(
    tmp_path: Path, first: str, second: str
) -> None:
    assert collection_name(tmp_path, first) != collection_name(tmp_path, second)


class NamedHashing(HashingEmbedder):
    def __init__(self, name: str) -> None:
        super().__init__(64)
        self.name = name


def test_embedders_with_similar_names_do_not_share_vectors(
    tmp_corpus: Path, make_store: MakeStore
) -> None:
    first, second = NamedHashing("org/model"), NamedHashing("org-model")
    sync_corpus(tmp_corpus, make_store(tmp_corpus, first), first, chunker())
    counting = CountingEmbedder(second)
    report = sync_corpus(tmp_corpus, make_store(tmp_corpus, counting), counting, chunker())
    # The second model has embedded nothing yet: every file must be embedded with it.
    assert sorted(report.added) == sorted(TMP_CORPUS)
    assert counting.texts_embedded > 0


def test_collection_names_are_valid_chroma_names(tmp_path: Path) -> None:
    import re

    for name in ("hashing-256", "sentence-transformers/all-MiniLM-L6-v2", "模型", "x" * 200):
        got = collection_name(tmp_path, name)
        assert 3 <= len(got) <= 63, got
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]", got), got


def test_two_embedders_on_one_corpus_keep_separate_collections(
    tmp_corpus: Path, make_store: MakeStore
) -> None:
    wide, narrow = HashingEmbedder(256), HashingEmbedder(64)
    store_wide = make_store(tmp_corpus, wide)
    store_narrow = make_store(tmp_corpus, narrow)
    assert store_wide.name != store_narrow.name
    sync_corpus(tmp_corpus, store_wide, wide, chunker())
    assert store_narrow.count() == 0
    sync_corpus(tmp_corpus, store_narrow, narrow, chunker())
    assert store_wide.count() == store_narrow.count() > 0
    ids = [c.id for c in store_wide.chunks()]
    assert {v.shape for v in store_wide.embeddings(ids).values()} == {(256,)}
    assert {v.shape for v in store_narrow.embeddings(ids).values()} == {(64,)}


def test_two_corpora_in_one_store_folder_do_not_mix(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "same.txt").write_text("Only the first corpus mentions the quokka.\n")
    (two / "same.txt").write_text("Only the second corpus mentions the pangolin.\n")
    store_one = make_store(one, hashing_embedder)
    store_two = make_store(two, hashing_embedder)
    sync_corpus(one, store_one, hashing_embedder, chunker())
    report = sync_corpus(two, store_two, hashing_embedder, chunker())
    assert report.added == ["same.txt"]  # not "unchanged" because of the other corpus
    assert [c.text for c in store_one.chunks()] == ["Only the first corpus mentions the quokka."]
    assert [c.text for c in store_two.chunks()] == ["Only the second corpus mentions the pangolin."]
