"""Bulk writes (qa.store.bulk): Chroma saves its vector index less often while a large sync
adds chunks, and leaves nothing in its log for readers to replay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import qa
from qa.embed import HashingEmbedder
from qa.store import ChunkStore, bulk
from qa.store.bulk import sync_threshold

SENTENCE = "Report {i}: the harbour crane number {i} was rebuilt after storm {j}.\n"


def write_corpus(corpus: Path, files: int, lines: int = 40) -> None:
    for f in range(files):
        path = corpus / f"f{f:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(SENTENCE.format(i=f * lines + j, j=j) for j in range(lines)))


def unsaved(store_dir: Path) -> int:
    """Additions in Chroma's log past the vector index's last save: what each reader replays."""
    db = sqlite3.connect(f"file:{store_dir / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True)
    try:
        (segment,) = db.execute("SELECT id FROM segments WHERE scope = 'VECTOR'").fetchone()
        saved = db.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,))
        row = saved.fetchone()
        (top,) = db.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()
        return int(top or 0) - int(row[0] if row else 0)
    finally:
        db.close()


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thresholds a few files cross: saves every 50 additions normally, every 5,000 in bulk."""
    monkeypatch.setattr(bulk, "NORMAL_SYNC_THRESHOLD", 50)
    monkeypatch.setattr(bulk, "BULK_SYNC_THRESHOLD", 5000)


def assistant_on(tmp_path: Path) -> qa.Assistant:
    settings = qa.Settings(corpus=tmp_path / "corpus", store=tmp_path / "store")
    return qa.Assistant(settings, embedder=HashingEmbedder())


def test_a_bulk_write_saves_seldom_and_leaves_nothing_to_replay(
    tmp_path: Path, small_thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the block the raised threshold holds, also for an index this process loaded
    before (additions wait in the log); on the way out the threshold is back and the log is
    saved, so a reader replays nothing."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    assistant = assistant_on(tmp_path)
    bulk._set_sync_threshold(assistant.store, 50)  # the normal threshold, before any load
    assistant.sync()
    assert assistant.retrieve("harbour crane")  # the vector index is now loaded here
    write_corpus(corpus, 30)
    inside: list[tuple[int, int]] = []
    after: list[int] = []
    real = bulk.bulk_writes

    @contextmanager
    def watched(store: ChunkStore) -> Iterator[None]:
        with real(store):
            yield
            inside.append((sync_threshold(store), unsaved(tmp_path / "store")))
        after.append(unsaved(tmp_path / "store"))

    monkeypatch.setattr("qa.sync.BULK_MIN_CHUNKS", 1)
    monkeypatch.setattr("qa.sync.bulk_writes", watched)
    report = assistant.sync()
    assert report.chunks_embedded > 50
    assert inside == [(5000, inside[0][1])] and inside[0][1] > 50  # not saved every 50
    assert after == [0] and sync_threshold(assistant.store) == 50
    top = assistant.retrieve("Report 1101: the harbour crane number 1101", top_k=1)[0]
    assert "crane number 1101 " in top.chunk.text


def test_a_small_sync_does_not_write_in_bulk(tmp_path: Path, small_thresholds: None) -> None:
    write_corpus(tmp_path / "corpus", 3, lines=5)
    assistant = assistant_on(tmp_path)
    assistant.sync()
    assert sync_threshold(assistant.store) == 1000  # Chroma's default, never changed


def test_a_bulk_write_killed_midway_is_settled_by_the_next_sync(
    tmp_path: Path, small_thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync dead inside the block leaves the raised threshold and unsaved additions; the
    next sync lowers it and saves them (readers stop replaying), and the data is all there."""

    @contextmanager
    def dies_inside(store: ChunkStore) -> Iterator[None]:
        bulk.begin(store)  # never ended: as if the process were killed in the block
        yield

    write_corpus(tmp_path / "corpus", 30)
    monkeypatch.setattr("qa.sync.BULK_MIN_CHUNKS", 1)
    monkeypatch.setattr("qa.sync.bulk_writes", dies_inside)
    writer = assistant_on(tmp_path)
    writer.sync()
    assert sync_threshold(writer.store) == 5000 and unsaved(tmp_path / "store") > 50
    stored = writer.store.count()
    monkeypatch.setattr("qa.sync.bulk_writes", bulk.bulk_writes)
    monkeypatch.setattr("qa.sync.BULK_MIN_CHUNKS", 10**9)
    (tmp_path / "corpus" / "new.txt").write_text("The lighthouse was painted red in 1921.\n")
    later = assistant_on(tmp_path)  # another process: a fresh Chroma system
    later.sync()
    assert sync_threshold(later.store) == 50
    assert unsaved(tmp_path / "store") < 50  # the new file's own additions at most
    assert later.store.count() == stored + 1
    assert "1921" in later.ask("When was the lighthouse painted red?").text


def test_a_store_that_cannot_be_reopened_is_left_alone(tmp_path: Path) -> None:
    """On a Chroma server (no reopen), the server keeps its own index: nothing is changed."""
    write_corpus(tmp_path / "corpus", 1, lines=3)
    assistant = assistant_on(tmp_path)
    store = assistant.store
    store._reopen = None
    with bulk.bulk_writes(store):
        assert sync_threshold(store) == 1000
    assert not bulk.settle(store)
