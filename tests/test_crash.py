"""A sync killed with SIGKILL at random points: the store reopens, queries work, nothing is lost
or duplicated, and no reader ever sees a file half replaced.

Every run edits, adds, deletes and renames files, starts a slow sync in a child process (a
hashing embedder that sleeps per batch, so the kill lands between or inside the store writes
that follow each batch), kills it after a seeded random delay, then in a fresh process reopens
the store, checks what a reader would see, queries, and syncs to the end.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

import qa
import qa.store.chunks
from qa.embed import HashingEmbedder
from qa.ingest import Chunker, read_document, scan_corpus
from qa.store import ChunkStore
from qa.sync import sync_corpus
from tests import documents as docs
from tests import store_worker as worker
from tests.conftest import MakeStore

SEED = 20240607
KILLS = 5  # runs whose sync was killed mid-way, at least
MAX_RUNS = 9
FILES = 40


@cache
def chunker() -> Chunker:
    return Chunker(worker.CHUNK_SIZE, worker.CHUNK_OVERLAP)


def expected(corpus: Path) -> dict[str, set[str]]:
    """Chunk ids of every file on disk, by source."""
    out: dict[str, set[str]] = {}
    for f in scan_corpus(corpus)[0]:
        doc = read_document(f.path)
        text, file_hash = doc.text, doc.file_hash
        out[f.source] = {c.id for c in chunker().chunk(f.source, text, file_hash)}
    return out


def by_source(listing: dict[str, list[str]]) -> dict[str, set[str]]:
    return {source: set(ids) for source, ids in listing.items()}


def mutate(corpus: Path, rng: random.Random, run: int) -> None:
    """Edit a third of the files, delete two, add three, rename one; replace the PDF."""
    (corpus / "report.pdf").write_bytes(docs.pages_pdf(2 + run % 3, lines=4 + run))
    present = sorted(p for p in corpus.iterdir() if p.suffix == ".txt")
    for path in rng.sample(present, len(present) // 3):
        with path.open("a", encoding="utf-8") as f:
            f.write(f" Run {run} adds that the {rng.choice(worker.WORDS)} was late again.")
    for path in rng.sample(present, 2):
        path.unlink()
    worker.write_corpus(corpus, files=3, sentences=30, seed=rng.randrange(10**6), prefix=f"r{run}-")
    left = sorted(p for p in corpus.iterdir() if p.suffix == ".txt")
    rng.choice(left).rename(corpus / f"renamed-{run}.txt")


def classify(old: set[str], new: set[str], seen: set[str]) -> str:
    """Which whole version of a file a reader sees; 'half' when it is none of them."""
    if seen == new:
        return "new"
    if seen == old:
        return "old"
    if seen == old | new:
        return "both"
    return "half"


def test_kill_9_at_random_points_then_recover(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    worker.write_corpus(corpus, files=FILES, sentences=30)
    docs.write_mixed(corpus)  # a PDF, a DOCX and an HTML page too
    (corpus / "report.pdf").write_bytes(docs.pages_pdf(3))
    worker.run("sync", corpus, store)
    old = new = expected(corpus)
    kills, runs, delay = 0, 0, 0.0
    seen_states: Counter[str] = Counter()
    slow = ("--delay", "0.2", "--slow-writes", "0.15")
    child = worker.spawn("session", corpus, store, *slow)
    while True:
        # A fresh process reopens the store, shows what a reader finds, queries, syncs.
        got = json.loads(child.expect("{"))
        if runs:
            seen = by_source(got["before"]["by_source"])
            states = {
                s: classify(old.get(s, set()), new.get(s, set()), seen.get(s, set()))
                for s in set(old) | set(new) | set(seen)
            }
            half = sorted(s for s, state in states.items() if state == "half")
            assert not half, f"run {runs} (kill at {delay:.2f} s): half-replaced files {half}"
            seen_states.update(st for s, st in states.items() if old.get(s) != new.get(s))
            assert len(got["before"]["ids"]) == len(set(got["before"]["ids"])), "duplicate ids"
            assert not got["before"]["texts_unmatched"], got["before"]["texts_unmatched"]
            assert got["passages"], "a query on the reopened store found nothing"
            old = new
        # The sync reaches exactly the chunks of the files on disk.
        after = got["after"]
        assert len(after["ids"]) == len(set(after["ids"])) == after["count"]
        assert by_source(after["by_source"]) == old
        assert not after["texts_unmatched"]
        if kills >= KILLS:
            child.send("stop")
            assert child.finish(60) == 0, child.stderr[-3000:]
            break
        assert runs < MAX_RUNS, f"only {kills} of {runs} kills landed during a sync"

        mutate(corpus, rng, runs)
        new = expected(corpus)
        child.send("go")
        child.expect("READY")
        delay = rng.uniform(0.0, 3.0)
        time.sleep(delay)
        kills += child.alive()
        child.kill()
        child.finish(30)
        runs += 1
        child = worker.spawn("session", corpus, store, *slow)

    print(f"\n{runs} runs, {kills} killed mid-sync; changed files seen after kills: {seen_states}")
    assert seen_states["new"] and seen_states["old"], seen_states
    # The same ids as a clean sync of the final corpus into a separate store.
    clean = worker.run("recover", corpus, tmp_path / "clean")
    assert clean["report"]["chunks_embedded"] == sum(len(v) for v in old.values())
    assert sorted(clean["after"]["ids"]) == sorted(after["ids"])


def test_reader_never_sees_a_half_replaced_file(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    worker.write_corpus(corpus, files=18, sentences=36)
    worker.run("sync", corpus, store)
    old = expected(corpus)
    mutate(corpus, rng, 0)
    new = expected(corpus)
    changed = sorted(s for s in set(old) | set(new) if old.get(s) != new.get(s))
    stop = tmp_path / "stop"
    watcher = worker.spawn(
        "watch", corpus, store, "--seconds", "60", "--stop-file", str(stop), "--sources", *changed
    )
    try:
        watcher.expect("WATCHING")
        worker.run("sync", corpus, store, "--delay", "0.2", "--slow-writes", "0.1")
    finally:
        stop.touch()
    result = watcher.result()
    transitions = 0
    for source, versions in result["seen"].items():
        o, n = old.get(source, set()), new.get(source, set())
        states = [classify(o, n, set(v)) for v in versions]
        assert "half" not in states, f"{source}: a reader saw {states}"
        assert states[0] == "old" and states[-1] == "new", f"{source}: {states}"
        transitions += len(states) - 1
    print(f"\n{result['polls']} polls of {len(changed)} changing files, {transitions} transitions")
    assert result["polls"] > 50


def test_crash_between_delete_batches_leaves_no_orphans(
    tmp_corpus: Path, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: a removed file's chunks go in several delete batches; the sync dies after
    the first. The file's first chunk goes last, so the next sync still knows the file."""
    embedder = HashingEmbedder()
    long_text = " ".join(f"Sentence {i} about the ferry and the harbour cranes." for i in range(60))
    (tmp_corpus / "long.txt").write_text(long_text, encoding="utf-8")
    store: ChunkStore = make_store(tmp_corpus, embedder)
    sync_corpus(tmp_corpus, store, embedder, chunker())
    first = next(c.id for c in store.chunks() if c.source == "long.txt" and c.index == 0)
    assert len(store.ids_of("long.txt")) > 3
    (tmp_corpus / "long.txt").unlink()

    class Killed(Exception):
        pass

    real_delete = store.collection.delete

    def delete(ids: list[str] | None = None, **kwargs: object) -> None:
        real_delete(ids=ids)  # the first batch made it to disk ...
        assert ids is not None and first not in ids
        raise Killed  # ... and the process died before the next one

    monkeypatch.setattr(qa.store.chunks, "_BATCH", 2)
    monkeypatch.setattr(store.collection, "delete", delete)
    with pytest.raises(Killed):
        sync_corpus(tmp_corpus, store, embedder, chunker())
    monkeypatch.undo()
    sync_corpus(tmp_corpus, store, embedder, chunker())
    assert store.ids_of("long.txt") == []
