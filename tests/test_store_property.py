"""Stateful property test: whatever happens to the corpus folder, a sync makes the store match it.

Rules add, edit, delete and rename files, sync, and reopen the store (a new Chroma client on
the same folder). After every sync the stored chunks must be exactly the chunks the files on
disk produce, with no duplicate ids and with offsets that slice the files, and the report must
say what changed. A sync may also crash after any number of Chroma writes (the process dies:
the store is reopened): a reader then sees every file whole, its old chunks, its new ones or
both, and the next sync repairs everything.

Every write gets a fresh, strictly increasing mtime: sync detects changes by (size, mtime) and
two writes of the same size within one file-system timestamp tick are out of scope here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

import qa  # noqa: F401  - offline environment first
from qa.embed import HashingEmbedder
from qa.ingest import Chunker, UnreadableFile, read_document, scan_corpus
from qa.schema import Chunk
from qa.store import ChunkStore, collection_name, open_client
from qa.store.sentences import sentence_key
from qa.sync import evidence_texts, read_fingerprint, sync_corpus


@cache
def chunker() -> Chunker:
    return Chunker(48, 8)  # small, so most files have several chunks


@cache
def embedder() -> HashingEmbedder:
    return HashingEmbedder(64)


class CountingEmbedder:
    def __init__(self) -> None:
        self.name, self.dim, self.max_tokens = embedder().name, embedder().dim, 100_000
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return embedder().embed(texts)


NAMES = [
    "a.txt",
    "b.md",
    "c.markdown",
    "sub/d.txt",
    "sub/deeper/e.md",
    "sub/f.text",
    "odd name é.txt",
    "-dash.md",
]
SENTENCES = [
    "The river rose two metres overnight.",
    "Ferries stopped at noon.",
    "A convoy of 14 trucks crossed the bridge at Nyala.",
    "L’été fut long, « très » long.",
    "Naïve estimates put the damage at 3.5 million dollars.",
    "Nobody expected the storm 🌧️.",
    "Section 2\n\n",
    "Line with Windows ending.\r\n",
]
texts = st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=14).map(" ".join)
# Mostly text; sometimes a file that cannot be indexed (binary, blank).
contents = st.one_of(
    texts.map(lambda t: t.encode("utf-8")),
    texts.map(lambda t: t.encode("utf-8")),
    texts.map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"\x00\x01binary\x02", b"  \n\r\n\t"]),
)


class Crash(Exception):
    """The sync's process died."""


class CrashAfter:
    """Makes a store raise ``Crash`` instead of its (n+1)-th write: to Chroma or the manifest."""

    WRITES: ClassVar[dict[str, tuple[str, ...]]] = {
        "collection": ("add", "upsert", "update", "delete"),
        "manifest": ("update", "replace"),
    }

    def __init__(self, store: ChunkStore, writes: int) -> None:
        self.patched = [
            (target, name)
            for kind, names in self.WRITES.items()
            if (target := getattr(store, kind)) is not None
            for name in names
        ]
        self.left = writes
        for target, name in self.patched:
            setattr(target, name, self._wrap(getattr(target, name)))

    def _wrap(self, write: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.left <= 0:
                raise Crash
            self.left -= 1
            return write(*args, **kwargs)

        return call

    def restore(self) -> None:
        for target, name in self.patched:
            delattr(target, name)


class CorpusSync(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="qa-store-sm-"))
        self.root = self.tmp / "corpus"
        self.root.mkdir()
        self.clock = 1_600_000_000  # seconds; bumped on every write
        self.client: Any = None
        self.store: ChunkStore = self.open()
        self.indexed: dict[str, str] = {}  # source → file hash, as of the last sync
        self.crashed = False  # a sync crashed (or may have) since the last checked one
        self.ever_crashed = False  # since then, a file may keep its old sentence vectors

    # --- helpers ---------------------------------------------------------------------------

    def open(self) -> ChunkStore:
        if self.client is not None:
            self.client.close()
        self.client = open_client(self.tmp / "store", None)
        name = collection_name(self.root, embedder().name)
        self.store = ChunkStore(
            self.client,
            name,
            embedder_name=embedder().name,
            dim=embedder().dim,
            manifest=self.tmp / "store" / "manifests" / f"{name}.sqlite",  # as Assistant does
            lexical=self.tmp / "store" / "lexical" / f"{name}.sqlite",
        )
        return self.store

    def on_disk(self) -> list[str]:
        return sorted(f.source for f in scan_corpus(self.root)[0])

    def write(self, source: str, data: bytes) -> None:
        path = self.root / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.clock += 1
        os.utime(path, ns=(self.clock * 10**9, self.clock * 10**9))

    def readable(self) -> dict[str, tuple[str, str]]:
        """source → (text, hash) of every file that should be indexed."""
        out = {}
        for source in self.on_disk():
            try:
                doc = read_document(self.root / source)
                text, file_hash = doc.text, doc.file_hash
            except UnreadableFile:
                continue
            if text.strip():
                out[source] = (text, file_hash)
        return out

    # --- rules -----------------------------------------------------------------------------

    @initialize(
        files=st.dictionaries(st.sampled_from(NAMES), contents, min_size=1, max_size=4),
        sync_first=st.booleans(),
    )
    def seed_corpus(self, files: dict[str, bytes], sync_first: bool) -> None:
        for source, data in files.items():
            self.write(source, data)
        if sync_first:
            self.sync_and_check()

    @rule(source=st.sampled_from(NAMES), data=contents)
    def add_file(self, source: str, data: bytes) -> None:
        self.write(source, data)

    @rule(data=st.data(), content=contents)
    def edit_file(self, data: st.DataObject, content: bytes) -> None:
        present = self.on_disk()
        if present:
            self.write(data.draw(st.sampled_from(present), label="edit"), content)

    @rule(data=st.data())
    def touch_file(self, data: st.DataObject) -> None:
        """Same content, new mtime: sync must re-read it, find it unchanged and record the mtime."""
        present = self.on_disk()
        if present:
            path = self.root / data.draw(st.sampled_from(present), label="touch")
            self.clock += 1
            os.utime(path, ns=(self.clock * 10**9, self.clock * 10**9))

    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        present = self.on_disk()
        if present:
            (self.root / data.draw(st.sampled_from(present), label="delete")).unlink()

    @rule(data=st.data())
    def rename_file(self, data: st.DataObject) -> None:
        present = self.on_disk()
        if not present or len(present) == len(NAMES):
            return
        source = data.draw(st.sampled_from(present), label="from")
        target = data.draw(st.sampled_from([n for n in NAMES if n not in present]), label="to")
        (self.root / target).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.root / source, self.root / target)  # keeps the mtime

    @rule()
    def reopen(self) -> None:
        self.open()

    @rule(writes=st.integers(min_value=0, max_value=4))
    def sync_crashes(self, writes: int) -> None:
        """A sync dies after ``writes`` writes; the store is reopened as by a new process."""
        before = self.stored_by_source()
        new = {
            source: {c.id for c in chunker().chunk(source, text, file_hash)}
            for source, (text, file_hash) in self.readable().items()
        }
        crash = CrashAfter(self.store, writes)
        self.crashed = self.ever_crashed = True  # the model no longer knows what was stored
        try:
            sync_corpus(self.root, self.store, embedder(), chunker(), sentence_vectors=True)
            event("sync finished before the crash")
        except Crash:
            event("sync crashed")
        finally:
            crash.restore()
        self.open()
        seen = self.stored_by_source()
        ids = [i for found in seen.values() for i in found]
        assert self.store.count() == len(ids)
        for source in set(before) | set(new) | set(seen):
            old, fresh = before.get(source, set()), new.get(source, set())
            got = seen.get(source, set())
            assert got in (old, fresh, old | fresh), f"{source}: a reader sees part of a file"

    @rule(writes=st.integers(min_value=0, max_value=4))
    def sync_crashes_sooner_or_later(self, writes: int) -> None:
        """The same step again, so that crashes are about as frequent as clean syncs."""
        self.sync_crashes(writes)

    def stored_by_source(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for c in self.store.chunks():
            out.setdefault(c.source, set()).add(c.id)
        return out

    # Three rules for the same step, so that sync is picked about as often as any change.
    @rule()
    def sync(self) -> None:
        self.sync_and_check()

    @rule()
    def sync_after_more_changes(self) -> None:
        self.sync_and_check()

    @rule()
    def sync_once_more(self) -> None:
        self.sync_and_check()

    def sync_and_check(self) -> None:
        before = self.indexed
        wanted = self.readable()
        report = sync_corpus(self.root, self.store, embedder(), chunker(), sentence_vectors=True)
        event(f"sync: {len(wanted)} files, {'changes' if report.changed else 'no change'}")

        # The report says what changed relative to the previous sync (after a crash, relative
        # to whatever that sync managed to store).
        changed = {s for s in set(wanted) & set(before) if wanted[s][1] != before[s]}
        if not self.crashed:
            assert sorted(report.added) == sorted(set(wanted) - set(before))
            assert sorted(report.removed) == sorted(set(before) - set(wanted))
            assert sorted(report.updated) == sorted(changed)
            assert sorted(report.unchanged) == sorted(set(wanted) & set(before) - changed)
        unreadable = set(self.on_disk()) - set(wanted)
        assert {s.source for s in report.skipped} == unreadable

        # The store holds exactly the chunks of the files on disk.
        expected = {
            c.id: c
            for source, (text, file_hash) in wanted.items()
            for c in chunker().chunk(source, text, file_hash)
        }
        stored = self.store.chunks()
        ids = [c.id for c in stored]
        assert len(ids) == len(set(ids)), "duplicate chunk ids"
        assert set(ids) == set(expected)
        assert self.store.count() == len(expected)
        if not self.crashed:
            # An edited file's chunks whose text was stored keep their vectors.
            assert report.chunks_embedded + report.chunks_reused == sum(
                1 for c in expected.values() if c.source in set(report.added) | changed
            )
        self.crashed = False
        for c in stored:
            text = wanted[c.source][0]
            assert text[c.start : c.end] == c.text
            assert c == expected[c.id]
        # Every vector, kept or new, is the one the embedder gives the chunk's text.
        vectors = self.store.embeddings(ids)
        if ids:
            fresh = embedder().embed_documents([c.text for c in stored])
            assert np.allclose(np.stack([vectors[i] for i in ids]), fresh, atol=1e-6)

        self.check_sentence_vectors(stored)

        files = self.store.files()
        assert set(files) == set(wanted)
        for source, state in files.items():
            st_ = (self.root / source).stat()
            assert state.file_hash == wanted[source][1]
            assert state.file_hash == hashlib.sha256((self.root / source).read_bytes()).hexdigest()
            assert (state.size, state.mtime_ns) == (st_.st_size, st_.st_mtime_ns)
            assert state.chunks == len(self.store.ids_of(source))
            assert state.chunker == read_fingerprint(chunker(), source)
        self.indexed = {s: h for s, (_, h) in wanted.items()}

        # Syncing again right away changes nothing and embeds nothing.
        counting = CountingEmbedder()
        again = sync_corpus(self.root, self.store, counting, chunker(), sentence_vectors=True)
        assert not again.changed
        assert counting.texts == 0
        assert sorted(again.unchanged) == sorted(wanted)

    def check_sentence_vectors(self, stored: list[Chunk]) -> None:
        """Each evidence sentence of the stored chunks has the vector the embedder gives its
        text; with no crash so far, each file holds exactly its own sentences' vectors (a crash
        between the Chroma and the lexical write can leave a file's old ones, never a wrong
        one)."""
        texts: dict[str, set[str]] = {}
        for c in stored:
            texts.setdefault(c.source, set()).update(evidence_texts(c))
        every = sorted({t for found in texts.values() for t in found})
        vectors = self.store.sentence_vectors(every)
        if every:
            fresh = embedder().embed_documents(every)
            got = np.stack([vectors.get(t, np.zeros(embedder().dim)) for t in every])
            kept = np.array([t in vectors for t in every])
            assert np.allclose(got[kept], fresh[kept], atol=1e-6)
        with sqlite3.connect(self.store.lexical.path) as db:
            rows = db.execute("SELECT source, key FROM sentence_uses").fetchall()
            held = {key for (key,) in db.execute("SELECT key FROM sentence_vectors")}
        keys: dict[str, set[bytes]] = {}
        for source, key in rows:
            keys.setdefault(source, set()).add(key)
        # A vector is kept while a file uses it, and only then.
        assert held == {key for found in keys.values() for key in found}
        if not self.ever_crashed:
            assert set(vectors) == set(every), "a sentence without its vector"
            assert keys == {
                source: {sentence_key(t) for t in found} for source, found in texts.items() if found
            }
        event(f"sentence vectors: {len(vectors)} of {len(every)}")

    def teardown(self) -> None:
        try:
            if self.client is not None:
                self.client.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


CorpusSync.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestCorpusSync = CorpusSync.TestCase
