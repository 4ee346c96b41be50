"""The persistent lexical index: BM25 postings and term statistics in SQLite FTS5, beside the store.

Chroma's own sparse search is not available in a local client, so the lexical side is ours.
It lives in one SQLite file per collection (``<store>/lexical/<collection>.sqlite``), written
by sync in step with the vectors and opened by readers without rebuilding anything:

- ``bm25``: a contentless FTS5 table of each chunk's index terms (``qa.lang.tokens``: the
  chunk's own language's stopwords dropped, stemmed), each term prefixed with the language so
  that a question is matched only against chunks of its language;
- ``terms``: a contentless FTS5 table (``detail=none``) of each chunk's evidence terms
  (``qa.text.terms_of``), whose document frequencies are the IDF of the evidence scores;
- ``chunks``: row → chunk id, source, language and term count (the BM25 document length);
  ``contents`` keeps each row's indexed terms, which a contentless table needs to delete it;
- ``files``: the state of the store each file's rows mirror (file hash, chunk count), so a
  reader or a sync finds what differs from the store and catches up from Chroma;
- ``verified``: the store's change token (``qa.store.generation``) at which the index was
  last known to mirror the store in full; cleared before any write to the store, so that
  while it matches, catching up costs one row read instead of comparing every file;
- ``sentence_vectors``, ``sentence_uses``: the evidence sentences' vectors kept by sync
  (``qa.store.sentences``).

FTS5 stores the postings (compressed, incrementally merged, transactional); the ranking is
computed here from its ``fts5vocab`` instance table, with bm25s's Lucene formula and constants
(k1 = 1.5, b = 0.75), so that rankings are exactly those of the in-memory bm25s index this
replaces. FTS5's built-in ``bm25()`` uses k1 = 1.2 and another IDF, and ranked differently
(``bench/lexical.py``). Terms are stored as FTS5 tokens under a reversible encoding: words of
``[a-z0-9]`` as they are, any other as ``_`` and its UTF-8 in hex, so that FTS5's tokenizer
never splits, folds or merges a term.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import lang as languages
from qa.schema import Chunk
from qa.store import sentences as sentence_store
from qa.text import TermStats, terms_of

K1 = 1.5  # bm25s's defaults (method "lucene")
B = 0.75
_PLAIN = re.compile(r"[a-z0-9]+\Z")
_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, lang TEXT NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_lang ON chunks(lang, row, length);
CREATE TABLE IF NOT EXISTS contents (row INTEGER PRIMARY KEY, bm25 BLOB, terms BLOB);
CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, file_hash TEXT, chunks INTEGER);
CREATE TABLE IF NOT EXISTS stamp (id INTEGER PRIMARY KEY CHECK (id = 0), collection TEXT);
CREATE TABLE IF NOT EXISTS verified (id INTEGER PRIMARY KEY CHECK (id = 0), token TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS bm25 USING fts5(
    tokens, content='', tokenize="ascii tokenchars ':_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(
    words, content='', detail=none, tokenize="ascii tokenchars '_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS bm25_instances USING fts5vocab(bm25, instance);
CREATE VIRTUAL TABLE IF NOT EXISTS terms_rows USING fts5vocab(terms, row);
"""


def encode(term: str) -> str:
    """``term`` as one FTS5 token that FTS5's ASCII tokenizer keeps whole and unchanged."""
    if _PLAIN.match(term):
        return term
    return "_" + term.encode("utf-8", "surrogatepass").hex()


def bm25_terms(chunk: Chunk) -> list[str]:
    """The BM25 terms of a chunk, in its language (``qa.lang.tokens``)."""
    return languages.tokens(chunk.indexed_text, chunk.lang or languages.DEFAULT)


@dataclass(frozen=True)
class Mirrored:
    """The store's state of one file that the index's rows of it mirror."""

    file_hash: str
    chunks: int


class LexicalIndex:
    """The lexical index of one collection (``key``: its Chroma id), in ``path``."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError:
            # Damaged (not a database, malformed): it is derived from Chroma, so it is moved
            # aside and rebuilt by the next catch-up.
            for suffix in ("", "-wal", "-shm"):
                part = path.with_name(path.name + suffix)
                if part.exists():
                    part.rename(part.with_name(f"{part.name}.damaged-{time.time_ns()}"))
            self._open()

    def _open(self) -> None:
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA + sentence_store.SCHEMA)
            row = db.execute("SELECT collection FROM stamp WHERE id = 0").fetchone()
            if row is not None and row[0] != self.key:  # a collection of this name, remade
                self._clear(db)
            db.execute("INSERT OR REPLACE INTO stamp VALUES (0, ?)", (self.key,))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @staticmethod
    def _clear(db: sqlite3.Connection) -> None:
        for table in ("chunks", "contents", "files", "verified", *sentence_store.TABLES):
            db.execute(f"DELETE FROM {table}")
        db.execute("INSERT INTO bm25(bm25) VALUES ('delete-all')")
        db.execute("INSERT INTO terms(terms) VALUES ('delete-all')")

    # --- writes (the sync, under the writer lock; or a reader catching up)

    def replace_files(
        self,
        items: Sequence[tuple[str, Mirrored, Sequence[Chunk]]],
        sentences: sentence_store.Vectors | None = None,
    ) -> None:
        """Make each file's rows exactly ``chunks`` (its state in the store: ``Mirrored``),
        and the sentence vectors of each file in ``sentences`` exactly those given (text →
        vector), in one transaction."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM verified")
            self._delete(db, [source for source, _, _ in items])
            for source, state, chunks in items:
                self._insert(db, chunks)
                db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                    (source, state.file_hash, state.chunks),
                )
            sentence_store.replace(db, sentences or {})

    def delete_files(self, sources: Sequence[str]) -> None:
        """Forget every row of ``sources``, and their sentence vectors."""
        if sources:
            with closing(self._connect()) as db, db:
                db.execute("DELETE FROM verified")
                self._delete(db, sources)
                sentence_store.delete(db, sources)

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by text (``qa.store.sentences.lookup``)."""
        with closing(self._connect()) as db:
            return sentence_store.lookup(db, texts)

    def put_sentences(self, sentences: sentence_store.Vectors) -> None:
        """Make each file's sentence vectors exactly those given (its rows unchanged)."""
        with closing(self._connect()) as db, db:
            sentence_store.replace(db, sentences)

    def sentence_sources(self) -> set[str]:
        """The files that have sentence vectors."""
        with closing(self._connect()) as db:
            return sentence_store.sources(db)

    def sentence_count(self) -> int:
        """How many sentence vectors are stored."""
        with closing(self._connect()) as db:
            return sentence_store.count(db)

    def verified(self) -> str | None:
        """The store's change token at which the index was last verified to mirror it."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT token FROM verified WHERE id = 0").fetchone()
        return None if row is None else str(row[0])

    def mark_verified(self, token: str) -> None:
        """The index mirrors the store in full at change token ``token`` (the writer, under
        the writer lock, after a sync that kept it in step)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO verified VALUES (0, ?)", (token,))

    def unverify(self) -> None:
        """The store is about to change: whether the index mirrors it must be checked again."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM verified")

    def files(self) -> dict[str, Mirrored]:
        """The store state mirrored, by source."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT source, file_hash, chunks FROM files").fetchall()
        return {source: Mirrored(file_hash, chunks) for source, file_hash, chunks in rows}

    def _insert(self, db: sqlite3.Connection, chunks: Sequence[Chunk]) -> None:
        by_lang: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            code = chunk.lang or languages.detect(chunk.text)
            by_lang.setdefault(code, []).append(chunk)
        for code, group in by_lang.items():
            evidence = terms_of([c.indexed_text for c in group], code)
            for chunk, words in zip(group, evidence, strict=True):
                tokens = languages.tokens(chunk.indexed_text, code)
                bm25 = " ".join(f"{code}:{encode(t)}" for t in tokens)
                terms = " ".join(encode(t) for t in dict.fromkeys(words))
                row = db.execute(
                    "INSERT INTO chunks(id, source, lang, length) VALUES (?, ?, ?, ?)",
                    (chunk.id, chunk.source, code, len(tokens)),
                ).lastrowid
                db.execute(
                    "INSERT INTO contents VALUES (?, ?, ?)",
                    (row, zlib.compress(bm25.encode()), zlib.compress(terms.encode())),
                )
                db.execute("INSERT INTO bm25(rowid, tokens) VALUES (?, ?)", (row, bm25))
                db.execute("INSERT INTO terms(rowid, words) VALUES (?, ?)", (row, terms))

    @staticmethod
    def _delete(db: sqlite3.Connection, sources: Sequence[str]) -> None:
        for at in range(0, len(sources), _BATCH):
            batch = list(sources[at : at + _BATCH])
            marks = ",".join("?" * len(batch))
            rows = db.execute(
                "SELECT chunks.row, bm25, terms FROM chunks JOIN contents USING (row) "
                f"WHERE source IN ({marks})",
                batch,
            ).fetchall()
            for row, bm25, terms in rows:
                # A contentless FTS5 table forgets a row given the very terms it indexed.
                db.execute(
                    "INSERT INTO bm25(bm25, rowid, tokens) VALUES ('delete', ?, ?)",
                    (row, zlib.decompress(bm25).decode()),
                )
                db.execute(
                    "INSERT INTO terms(terms, rowid, words) VALUES ('delete', ?, ?)",
                    (row, zlib.decompress(terms).decode()),
                )
            db.executemany("DELETE FROM contents WHERE row = ?", [(r[0],) for r in rows])
            db.execute(f"DELETE FROM chunks WHERE source IN ({marks})", batch)
            db.execute(f"DELETE FROM files WHERE source IN ({marks})", batch)

    # --- reads

    def reader(self) -> LexicalReader:
        """A reader pinned to the index as it is now (one SQLite read snapshot)."""
        return LexicalReader(self._connect())


@dataclass
class _Language:
    """The BM25 statistics of the chunks of one language: lengths by row, N, mean length."""

    lengths: np.ndarray
    count: int
    mean: float


class LexicalReader:
    """BM25 search and term statistics over one consistent state of the index.

    It holds a read transaction open, so that everything it answers comes from the state it
    was opened at, whatever a writer commits meanwhile; ``close`` lets go."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        db.execute("BEGIN")
        rows = db.execute("SELECT lang, count(*) FROM chunks GROUP BY lang").fetchall()
        self.counts = {str(code): int(n) for code, n in rows}
        self.count = sum(self.counts.values())
        self._languages: dict[str, _Language] = {}
        self._df: dict[str, int] = {}

    @property
    def languages(self) -> frozenset[str]:
        """The languages of the indexed chunks."""
        return frozenset(self.counts)

    def close(self) -> None:
        """End the read transaction and close the connection."""
        with self._lock:
            self._db.close()

    def _language(self, code: str) -> _Language:
        found = self._languages.get(code)
        if found is None:
            rows = np.array(
                self._db.execute(
                    "SELECT row, length FROM chunks WHERE lang = ? ORDER BY row", (code,)
                ).fetchall(),
                dtype=np.int64,
            ).reshape(-1, 2)
            lengths = np.zeros(int(rows[:, 0].max()) + 1 if len(rows) else 0, dtype=np.float64)
            lengths[rows[:, 0]] = rows[:, 1]
            count = len(rows)
            mean = float(rows[:, 1].sum()) / count if count else 0.0
            found = self._languages[code] = _Language(lengths, count, mean)
        return found

    def search(self, tokens: Sequence[str], lang: str, depth: int) -> list[str]:
        """Ids of the best ``depth`` chunks of language ``lang`` by BM25 for the query
        ``tokens`` (each counted as often as it occurs), best first (ties: older row first);
        only chunks that share a term with the query."""
        return [cid for cid, _ in self.scored(tokens, lang, depth)]

    def scored(self, tokens: Sequence[str], lang: str, depth: int) -> list[tuple[str, float]]:
        """``search`` with each chunk's BM25 score."""
        if depth <= 0 or lang not in self.counts:
            return []
        with self._lock:
            stats = self._language(lang)
            if stats.mean <= 0:
                return []
            scores = np.zeros(len(stats.lengths), dtype=np.float64)
            hits: list[np.ndarray] = []
            for token, times in Counter(tokens).items():
                found = self._db.execute(
                    "SELECT group_concat(doc) FROM bm25_instances WHERE term = ?",
                    (f"{lang}:{encode(token)}",),
                ).fetchone()[0]
                if not found:
                    continue
                rows, tf = np.unique(np.array(found.split(","), dtype=np.int64), return_counts=True)
                df = len(rows)
                idf = math.log(1.0 + (stats.count - df + 0.5) / (df + 0.5))
                norm = K1 * (1.0 - B + B * stats.lengths[rows] / stats.mean)
                scores[rows] += times * idf * tf / (tf + norm)
                hits.append(rows)
            if not hits:
                return []
            candidates = np.unique(np.concatenate(hits))
            k = min(depth, len(candidates))
            ranked = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
            ids = dict(
                self._db.execute(
                    f"SELECT row, id FROM chunks WHERE row IN ({','.join('?' * k)})",
                    [int(r) for r in ranked],
                ).fetchall()
            )
        return [(ids[int(r)], float(scores[r])) for r in ranked]

    def document_frequency(self, term: str) -> int:
        """How many chunks have the evidence term ``term`` (``qa.text.terms_of``)."""
        df = self._df.get(term)
        if df is None:
            with self._lock:
                row = self._db.execute(
                    "SELECT doc FROM terms_rows WHERE term = ?", (encode(term),)
                ).fetchone()
            df = self._df[term] = int(row[0]) if row else 0
        return df


class IndexTermStats(TermStats):
    """``TermStats`` of the stored chunks read from the lexical index (nothing counted)."""

    def __init__(self, reader: LexicalReader) -> None:
        super().__init__(())
        self.reader = reader
        self.n = reader.count

    def document_frequency(self, term: str) -> int:
        """Looked up in the index when first asked (the reader keeps it)."""
        return self.reader.document_frequency(term)
