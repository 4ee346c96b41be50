"""The manifest (a local cache of which files are indexed) never disagrees with Chroma."""

from __future__ import annotations

from pathlib import Path

import qa  # noqa: F401  - offline environment first
from qa.embed import HashingEmbedder
from qa.ingest import Chunker
from qa.store import ChunkStore
from qa.sync import sync_corpus
from tests.conftest import MakeStore


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text, encoding="utf-8")


def agree(store: ChunkStore) -> dict[str, object]:
    cached = store.files()
    assert cached == store._files_in_chroma()
    return dict(cached)


def test_manifest_follows_add_edit_touch_delete(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    root = tmp_path / "docs"
    for i in range(6):
        write(root, f"d{i}.txt", f"Document {i} talks about harbour number {i}. " * 30)
    store = make_store(root, hashing_embedder)
    chunker = Chunker(60, 10)
    sync_corpus(root, store, hashing_embedder, chunker)
    assert set(agree(store)) == {f"d{i}.txt" for i in range(6)}
    assert store.manifest is not None and store.manifest.path.exists()

    write(root, "d0.txt", "Edited entirely. " * 40)
    (root / "d1.txt").unlink()
    (root / "d2.txt").touch()
    report = sync_corpus(root, store, hashing_embedder, chunker)
    assert (report.updated, report.removed) == (["d0.txt"], ["d1.txt"])
    states = agree(store)
    assert "d1.txt" not in states
    assert len(store.ids_of("d0.txt")) == store.files()["d0.txt"].chunks


def test_a_stale_manifest_is_rebuilt_from_chroma(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    root = tmp_path / "docs"
    for i in range(3):
        write(root, f"d{i}.txt", f"Text number {i} about cranes and ships. " * 20)
    store = make_store(root, hashing_embedder)
    chunker = Chunker(60, 10)
    sync_corpus(root, store, hashing_embedder, chunker)
    # Chroma changes behind the manifest's back (a killed sync, another writer).
    store.collection.delete(ids=store.ids_of("d2.txt"))
    assert "d2.txt" not in agree(store)
    report = sync_corpus(root, store, hashing_embedder, chunker)
    assert report.added == ["d2.txt"] and "d2.txt" in agree(store)


def test_a_writer_without_the_manifest_invalidates_it(
    tmp_path: Path, hashing_embedder: HashingEmbedder, make_store: MakeStore
) -> None:
    root = tmp_path / "docs"
    write(root, "a.txt", "Alpha text about trains. " * 20)
    store = make_store(root, hashing_embedder)
    chunker = Chunker(60, 10)
    sync_corpus(root, store, hashing_embedder, chunker)
    manifest = store.manifest
    store.manifest = None  # e.g. an older qa writing to the same store
    write(root, "b.txt", "Beta text about boats. " * 20)
    sync_corpus(root, store, hashing_embedder, chunker)
    store.manifest = manifest
    assert set(agree(store)) == {"a.txt", "b.txt"}
