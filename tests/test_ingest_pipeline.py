"""The sync's pipeline: files are read and chunked in a thread while chunks are embedded, with
a progress estimate; failures on either side surface as before and lose nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed import HashingEmbedder
from qa.ingest import Chunker
from qa.ingest.background import ReadAhead
from qa.ingest.progress import EmbedProgress
from qa.sync import sync_corpus
from tests.conftest import MakeStore


def test_read_ahead_yields_everything_in_order() -> None:
    with ReadAhead(iter(range(100)), depth=3) as items:
        assert list(items) == list(range(100))


def test_read_ahead_raises_the_producers_error_after_what_it_made() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("unreadable")

    got = []
    with pytest.raises(ValueError, match="unreadable"), ReadAhead(failing()) as items:
        for item in items:
            got.append(item)
    assert got == [1]


def test_read_ahead_stops_its_thread_when_the_consumer_leaves() -> None:
    made = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    with ReadAhead(endless(), depth=2) as items:
        assert next(items) == 0
    count = len(made)
    time.sleep(0.5)
    assert len(made) == count <= 4  # stopped: at most the queue's worth made ahead
    assert not [t for t in threading.enumerate() if t.name == "qa-read-ahead"]


def test_progress_estimate_is_exact_once_everything_is_read() -> None:
    bar = EmbedProgress(1000, enabled=False)
    bar.read(250, 5)
    assert bar.estimate() == 20  # 5 chunks per 250 bytes, 1000 bytes
    bar.read(750, 10)
    assert bar.estimate() == 15


class SlowEmbedder(HashingEmbedder):
    """Hashing vectors, slowly, recording when each call starts and ends."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[float, float, int]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        started = time.monotonic()
        time.sleep(0.2)
        out = super().embed_documents(texts)
        self.calls.append((started, time.monotonic(), len(texts)))
        return out


def test_files_are_read_while_chunks_are_embedded(
    tmp_path: Path, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"f{i}.txt").write_text(f"Document {i} says the number is {i}. " * 40, "utf-8")
    reads: list[float] = []
    from qa import sync

    real = sync.read_document

    def timed_read(*args: object, **kwargs: object) -> object:
        reads.append(time.monotonic())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sync, "read_document", timed_read)
    monkeypatch.setattr(sync, "EMBED_BATCH", 8)
    embedder = SlowEmbedder()
    store = make_store(corpus, embedder)
    report = sync_corpus(corpus, store, embedder, Chunker(60, 10), progress=True)
    assert sorted(report.added) == [f"f{i}.txt" for i in range(6)]
    assert store.count() == report.chunks_embedded == sum(n for _, _, n in embedder.calls)
    first_call_started = embedder.calls[0][0]
    # Files were still being read once embedding had begun (a sync that reads every file
    # first, then embeds, reads none after its first embedding call).
    assert any(t > first_call_started for t in reads)
