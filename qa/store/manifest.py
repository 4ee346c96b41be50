"""A local index of the indexed files (source → size, mtime, hash) and of the text each was
read as, beside the store.

Reading the state of 10,000 files from Chroma metadata takes 1–2 s; from this SQLite file it
takes milliseconds, so a no-op sync is a directory walk. The manifest is a cache of Chroma's
own per-file markers, never ahead of them: it is written after the Chroma writes succeed, and
stamped with the collection's chunk count. A count that differs (a sync killed midway, another
writer on a shared server) makes the store rebuild it from Chroma.

The extracted texts are kept by (source, content hash), written before their chunks and pruned
after a sync. They are not in Chroma: a store without them (built before they were kept, or
a Chroma server shared with another machine) reads the file again (``Assistant.document``).
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from qa.store.records import decode_triples, encode_triples

if TYPE_CHECKING:
    from qa.ingest.document import Document
    from qa.store import FileState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, file_hash TEXT, size INTEGER, mtime_ns INTEGER,
    chunker TEXT, chunks INTEGER
);
CREATE TABLE IF NOT EXISTS stamp (
    id INTEGER PRIMARY KEY CHECK (id = 0), collection TEXT, chunks INTEGER
);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT, file_hash TEXT, format TEXT, pages TEXT, text BLOB,
    PRIMARY KEY (source, file_hash)
);
"""
# Columns added since the first layout, with their default: added to an older manifest on open.
_ADDED = {"documents": [("headings", "TEXT DEFAULT ''")]}


class Manifest:
    """The file states of one collection (``key``: its Chroma id), in ``path`` (SQLite)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)
            for table, columns in _ADDED.items():
                have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def load(self, chunk_count: int) -> dict[str, FileState] | None:
        """The file states, or ``None`` when the stamp does not match ``chunk_count``."""
        from qa.store import FileState

        with closing(self._connect()) as db:
            if self._stamped(db) != chunk_count:
                return None
            rows = db.execute("SELECT * FROM files").fetchall()
        return {row[0]: FileState(*row) for row in rows}

    def replace(self, states: Iterable[FileState], chunk_count: int) -> None:
        """Forget everything and record ``states`` (after reading them from Chroma)."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM files")
            self._upsert(db, states)
            self._stamp(db, chunk_count)

    def update(
        self, states: Sequence[FileState], removed: Sequence[str], *, before: int, after: int
    ) -> None:
        """Record written and removed files, after the Chroma writes succeeded that took the
        collection from ``before`` to ``after`` chunks. A manifest that was not current at
        ``before`` is invalidated instead (the next read rebuilds it from Chroma)."""
        with closing(self._connect()) as db, db:
            if self._stamped(db) != before:
                db.execute("DELETE FROM stamp")
                return
            self._upsert(db, states)
            db.executemany("DELETE FROM files WHERE source = ?", [(s,) for s in removed])
            self._stamp(db, after)

    @staticmethod
    def _upsert(db: sqlite3.Connection, states: Iterable[FileState]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
            [(s.source, s.file_hash, s.size, s.mtime_ns, s.chunker, s.chunks) for s in states],
        )

    # --- extracted texts: what each indexed file was read as (quotes and pages point into it)

    def put_document(self, source: str, doc: Document) -> None:
        """Keep ``doc``'s text (zlib-compressed) under ``(source, doc.file_hash)``; written
        before its chunks, so every stored chunk has its text."""
        pages = " ".join(map(str, doc.pages))
        headings = encode_triples(doc.headings)
        blob = zlib.compress(doc.text.encode("utf-8", "surrogatepass"), 6)
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO documents (source, file_hash, format, pages, text, "
                "headings) VALUES (?, ?, ?, ?, ?, ?)",
                (source, doc.file_hash, doc.format, pages, blob, headings),
            )

    def document(self, source: str, file_hash: str) -> Document | None:
        """The text kept for ``source`` at ``file_hash``, if any."""
        from qa.ingest.document import Document

        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT format, pages, text, headings FROM documents "
                "WHERE source = ? AND file_hash = ?",
                (source, file_hash),
            ).fetchone()
        if row is None:
            return None
        text = zlib.decompress(row[2]).decode("utf-8", "surrogatepass")
        pages = tuple(int(p) for p in row[1].split())
        return Document(text, file_hash, row[0], pages, decode_triples(row[3] or ""))

    def has_document(self, source: str, file_hash: str) -> bool:
        """Whether a text is kept for ``source`` at ``file_hash`` (nothing is decompressed)."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT 1 FROM documents WHERE source = ? AND file_hash = ?", (source, file_hash)
            ).fetchone()
        return row is not None

    def prune_documents(self, keep: Iterable[tuple[str, str]]) -> None:
        """Drop the texts of every ``(source, file_hash)`` not in ``keep``."""
        wanted = set(keep)
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT source, file_hash FROM documents").fetchall()
            gone = [tuple(row) for row in rows if tuple(row) not in wanted]
            db.executemany("DELETE FROM documents WHERE source = ? AND file_hash = ?", gone)

    def invalidate(self) -> None:
        """Forget the stamp: the next read rebuilds the file states from Chroma (another
        client of a Chroma server changed the collection)."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM stamp")

    def _stamped(self, db: sqlite3.Connection) -> int | None:
        """The chunk count recorded for this collection, if any."""
        row = db.execute("SELECT collection, chunks FROM stamp WHERE id = 0").fetchone()
        return int(row[1]) if row is not None and row[0] == self.key else None

    def _stamp(self, db: sqlite3.Connection, chunk_count: int) -> None:
        db.execute("INSERT OR REPLACE INTO stamp VALUES (0, ?, ?)", (self.key, chunk_count))
