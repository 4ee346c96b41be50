"""Incremental sync of a corpus into the store: skip unchanged, re-embed edited, drop deleted."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from qa.embed import Embedder
from qa.ingest import (
    Chunker,
    CorpusFile,
    Progress,
    Skipped,
    UnreadableFile,
    read_document,
    reader_for,
    scan_corpus,
)
from qa.ingest.background import ReadAhead
from qa.ingest.progress import EmbedProgress
from qa.lang import detect
from qa.schema import Chunk
from qa.store import ChunkStore, FileState
from qa.store.bulk import BULK_MIN_CHUNKS, bulk_writes, settle
from qa.text import evidence_of, printable, sentence_spans

EMBED_BATCH = 64  # texts per embedding call, unless the embedder says (``texts_per_call``)
READ_AHEAD = 16  # files read and chunked ahead of the embedding
PAGE_BAR_FROM = 50  # documents with this many pages show a reading progress bar
CHARS_PER_TOKEN = 4  # a rough mean, for estimating chunks before reading
DOCUMENT_SAMPLE = 20_000  # characters a document's language is found from


def expected_chunks(total_bytes: int, chunker: Chunker) -> int:
    """A rough count of the chunks ``total_bytes`` of text will make (before reading them)."""
    step = max(chunker.chunk_size - chunker.chunk_overlap, 1) * CHARS_PER_TOKEN
    return total_bytes // step


@dataclass
class SyncReport:
    """What one sync did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0  # chunks of edited files whose text, so vector, was already stored
    read: dict[str, DocumentInfo] = field(default_factory=dict)  # files read, by source

    @property
    def changed(self) -> bool:
        """True when the store's content changed."""
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line of counts."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"{self.chunks_embedded} chunks embedded"
            + (f", {self.chunks_reused} unchanged chunks kept" if self.chunks_reused else "")
        )

    def lines(self) -> list[str]:
        """A human-readable report: the summary, then one line per non-trivial file (control
        characters in names and reasons escaped)."""
        name = partial(printable, one_line=True)  # a newline in a name never splits a line
        out = [self.summary()]
        out += [f"  added     {name(s)}{self._about(s)}" for s in self.added]
        out += [f"  updated   {name(s)}{self._about(s)}" for s in self.updated]
        out += [f"  removed   {name(s)}" for s in self.removed]
        out += [f"  skipped   {name(s.source)}: {name(s.reason)}" for s in self.skipped]
        return out

    def _about(self, source: str) -> str:
        info = self.read.get(source)
        return f" ({info})" if info else ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "documents": {source: vars(info) for source, info in self.read.items()},
        }


@dataclass(frozen=True)
class DocumentInfo:
    """What was read from one file: its format, pages (0 when unpaged) and characters."""

    format: str
    pages: int
    chars: int

    def __str__(self) -> str:
        pages = f"{self.pages} page{'s' * (self.pages != 1)}, " if self.pages else ""
        return f"{pages}{self.chars:,} characters"


def sync_corpus(
    root: Path,
    store: ChunkStore,
    embedder: Embedder,
    chunker: Chunker,
    *,
    progress: bool = False,
    sentence_vectors: bool = False,
) -> SyncReport:
    """Bring ``store`` in line with the files under ``root``; returns what changed.

    A pipeline: a background thread reads and chunks the changed files while the main thread
    embeds the chunks read so far, and each file is stored once all its chunks are embedded
    (with ``sentence_vectors``, also its evidence sentences: ``evidence_vectors``)."""
    settle(store)  # a bulk write killed midway left Chroma saving its index too seldom
    files, skipped = scan_corpus(root)
    report = SyncReport(skipped=list(skipped))
    indexed = store.files()
    candidates: list[tuple[CorpusFile, str]] = []
    for f in files:
        known = indexed.get(f.source)
        fingerprint = read_fingerprint(chunker, f.source)
        if known and (known.size, known.mtime_ns, known.chunker) == (
            f.size,
            f.mtime_ns,
            fingerprint,
        ):
            report.unchanged.append(f.source)
        else:
            candidates.append((f, fingerprint))
    touched: list[FileState] = []
    total_bytes = sum(f.size for f, _ in candidates)
    bulk = expected_chunks(total_bytes, chunker) >= BULK_MIN_CHUNKS
    reading = _read_and_chunk(candidates, indexed, store, chunker, report, touched, progress)
    with (
        bulk_writes(store) if bulk else nullcontext(),
        ReadAhead(reading, depth=READ_AHEAD) as pending,
        EmbedProgress(total_bytes, enabled=progress) as bar,
    ):
        _embed_and_store(pending, store, embedder, report, bar, sentence_vectors)
    store.touch_files(touched)
    if sentence_vectors:
        keep_sentences(store, embedder, report.unchanged, progress)

    on_disk = {f.source for f in files} - {s.source for s in report.skipped}
    report.removed = sorted(set(indexed) - on_disk)
    store.delete_files(report.removed)
    store.prune_documents()
    return report


Pending = tuple[CorpusFile, FileState, list[Chunk], bool]  # file, state, chunks, was indexed


def _read_and_chunk(
    candidates: list[tuple[CorpusFile, str]],
    indexed: dict[str, FileState],
    store: ChunkStore,
    chunker: Chunker,
    report: SyncReport,
    touched: list[FileState],
    progress: bool,
) -> Iterator[Pending]:
    """Read each candidate file; yield the ones whose content changed, chunked. Unchanged
    content (only touched) and unreadable files are recorded on the way."""
    for f, fingerprint in candidates:
        known = indexed.get(f.source)
        try:
            with _page_bar(f.source, progress) as on_page:
                doc = read_document(f.path, on_page)
        except UnreadableFile as exc:
            report.skipped.append(Skipped(f.source, str(exc)))
            continue
        state = FileState(f.source, doc.file_hash, f.size, f.mtime_ns, fingerprint, 0)
        if known and (known.file_hash, known.chunker) == (doc.file_hash, fingerprint):
            touched.append(replace(state, chunks=known.chunks))
            report.unchanged.append(f.source)
            if not store.has_document(f.source, doc.file_hash):
                store.put_document(f.source, doc)
            continue
        lang = detect(doc.text[:DOCUMENT_SAMPLE])
        chunks = [
            with_sentences(c, lang)
            for c in chunker.chunk(f.source, doc.text, doc.file_hash, doc.pages, doc.headings)
            if c.text.strip()
        ]
        if not chunks:
            report.skipped.append(Skipped(f.source, "no text to index"))
            continue
        store.put_document(f.source, doc)  # before its chunks: every chunk has its text
        report.read[f.source] = DocumentInfo(doc.format, doc.page_count, len(doc.text))
        yield f, state, chunks, known is not None


@contextmanager
def _page_bar(source: str, progress: bool) -> Iterator[Progress | None]:
    """A page progress bar for a long paged document (shown once it passes ``PAGE_BAR_FROM``
    pages), else nothing."""
    if not progress:
        yield None
        return
    from tqdm import tqdm

    bars: list[Any] = []

    def on_page(done: int, total: int) -> None:
        if not bars and total >= PAGE_BAR_FROM:
            bars.append(
                tqdm(
                    total=total,
                    unit="page",
                    desc=f"reading {printable(source, one_line=True)}",
                    file=sys.stderr,
                    leave=False,
                )
            )
        if bars:
            bars[0].update(done - bars[0].n)

    try:
        yield on_page
    finally:
        for bar in bars:
            bar.close()


def read_fingerprint(chunker: Chunker, source: str) -> str:
    """What decides a file's chunks besides its bytes: the chunker, and the version of the
    reader of its format (a reader that now reads differently re-indexes its files)."""
    version = reader_for(source).version
    return f"{chunker.fingerprint}/{version}" if version else chunker.fingerprint


def with_sentences(chunk: Chunk, document_lang: str = "") -> Chunk:
    """``chunk`` with its language and sentence offsets (split by that language's rules), so
    answering never needs the language identifier or the sentence splitter for it. A chunk
    whose language is unsure (a code listing, a table of names) takes its document's."""
    lang = detect(chunk.text, (document_lang,) if document_lang else ())
    spans = sentence_spans(chunk.text, offset=chunk.start, lang=lang)
    return replace(chunk, sentences=tuple(spans), lang=lang)


def _embed_and_store(
    pending: Iterator[Pending],
    store: ChunkStore,
    embedder: Embedder,
    report: SyncReport,
    bar: EmbedProgress,
    sentence_vectors: bool = False,
) -> None:
    """Embed the chunks of the files as they come, in batches across files (as many texts
    per call as the embedder takes: ``texts_per_call``); store each file once complete.

    A chunk of an edited file whose text the store already holds for that file keeps its
    stored vector: an edit re-embeds the chunks it changed, not the whole file."""
    import numpy as np

    per_call = texts_per_call(embedder)
    # Files not stored yet, in order: (file, a vector slot per chunk, chunks reused).
    waiting: list[tuple[Pending, list[np.ndarray | None], int]] = []
    batch: list[tuple[int, int, Chunk]] = []  # (position in ``waiting``, slot, chunk)
    base = 0  # files stored so far (positions in ``batch`` are offset by it)

    def embed_batch() -> None:
        nonlocal batch
        if batch:
            texts = [c.indexed_text for _, _, c in batch]
            for (n, slot, _), vector in zip(batch, embedder.embed_documents(texts), strict=True):
                waiting[n - base][1][slot] = vector
            bar.embedded(len(batch))
            batch = []

    def store_ready() -> None:
        nonlocal base
        ready = []
        while waiting and all(v is not None for v in waiting[0][1]):
            item, slots, reused = waiting.pop(0)
            ready.append((item, np.stack([v for v in slots if v is not None]), reused))
            base += 1
        if ready:
            # A file written without sentence vectors keeps none (no stale ones either).
            files = [(state.source, chunks) for (_, state, chunks, _), _, _ in ready]
            sentences: dict[str, dict[str, Any]] = {source: {} for source, _ in files}
            if sentence_vectors:
                sentences = evidence_vectors(files, store, embedder)
            store.put_files(
                [(state, chunks, vectors) for (_, state, chunks, _), vectors, _ in ready],
                sentences,
            )
        for (f, _, chunks, existed), _, reused in ready:
            report.chunks_embedded += len(chunks) - reused
            report.chunks_reused += reused
            (report.updated if existed else report.added).append(f.source)

    for item in pending:
        f, _, chunks, existed = item
        bar.read(f.size, len(chunks))
        stored = store.vectors_by_text(f.source) if existed else {}
        slots = [stored.get(c.indexed_text) for c in chunks]
        reused = sum(v is not None for v in slots)
        bar.embedded(reused)
        waiting.append((item, slots, reused))
        n = base + len(waiting) - 1
        for slot, chunk in enumerate(chunks):
            if slots[slot] is None:
                batch.append((n, slot, chunk))
                if len(batch) >= per_call:
                    embed_batch()
                    store_ready()
        store_ready()
    embed_batch()
    store_ready()


def texts_per_call(embedder: Embedder) -> int:
    """How many texts one embedding call takes (the embedder's ``texts_per_call``, else
    ``EMBED_BATCH``)."""
    return int(getattr(embedder, "texts_per_call", EMBED_BATCH))


def evidence_vectors(
    files: list[tuple[str, list[Chunk]]], store: ChunkStore, embedder: Embedder
) -> dict[str, dict[str, Any]]:
    """For each file (source, chunks): the vector of each evidence sentence of its chunks
    (``qa.text.evidence_spans``, the sentences an answer scores), by text; those the store
    already holds are reused, the rest embedded as documents."""
    by_source: dict[str, list[str]] = {}
    for source, chunks in files:
        by_source.setdefault(source, []).extend(t for c in chunks for t in evidence_texts(c))
    wanted = list(dict.fromkeys(t for texts in by_source.values() for t in texts))
    found: dict[str, Any] = store.sentence_vectors(wanted)
    missing = [t for t in wanted if t not in found]
    per_call = texts_per_call(embedder)
    for at in range(0, len(missing), per_call):
        batch = missing[at : at + per_call]
        found.update(zip(batch, embedder.embed_documents(batch), strict=True))
    return {source: {t: found[t] for t in texts} for source, texts in by_source.items()}


def keep_sentences(
    store: ChunkStore, embedder: Embedder, sources: list[str], progress: bool
) -> int:
    """Give those of ``sources`` (unchanged files) that have no sentence vectors theirs: a
    store synced before ``sentence_vectors`` was turned on, or files a catch-up indexed again.
    How many files were looked at."""
    have = store.lexical.sentence_sources()
    missing = [source for source in sources if source not in have]
    if missing and progress:
        print(f"qa: embedding the sentences of {len(missing)} files", file=sys.stderr)
    for at in range(0, len(missing), 200):
        found = store.chunks_of_files(missing[at : at + 200])
        store.lexical.put_sentences(evidence_vectors(list(found.items()), store, embedder))
    return len(missing)


def evidence_texts(chunk: Chunk) -> list[str]:
    """What a chunk's evidence sentences (``qa.text.evidence_of``) are embedded as
    (``Chunk.sentence_text``)."""
    return [chunk.sentence_text(s, e) for s, e in evidence_of(chunk)]
