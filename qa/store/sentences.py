"""Sentence vectors kept by sync (``QA_SENTENCE_VECTORS``), in the lexical index's SQLite file.

The embedder's vector of each evidence sentence (``qa.text.evidence_spans``), by the first 16
bytes of the SHA-256 of the sentence's text, so that answering reads the vectors of its best
candidate sentences instead of embedding them per question. A text's vector is stored once
(``sentence_vectors``; a row of about 1.6 KB fits a 4 KB page, where a row keyed by text and
file overflowed to a page of its own), and ``sentence_uses`` says which files hold it, so a
vector goes when its last file does. They live beside the lexical rows and are written in
the same transaction (the same writer lock, the same crash order). They are not derived from
Chroma: a catch-up drops those of the files it indexes again (the next sync with the setting
gives every file without them its own), and a sentence without one is embedded when asked
about (the same vector either way: the collection, and so this file, is per embedder).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS sentence_vectors (
    row INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sentence_uses (
    source TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY (source, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_uses_key ON sentence_uses(key);
"""
TABLES = ("sentence_vectors", "sentence_uses")
_BATCH = 500

Vectors = Mapping[str, Mapping[str, np.ndarray]]  # source → sentence text → vector


def sentence_key(text: str) -> bytes:
    """The key of a sentence's stored vector: the first 16 bytes of its text's SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def replace(db: sqlite3.Connection, sentences: Vectors) -> None:
    """Make each file's sentence vectors exactly those given."""
    for source, vectors in sentences.items():
        dropped = _forget(db, [source])
        kept = {sentence_key(text): v for text, v in vectors.items()}
        db.executemany(
            "INSERT OR IGNORE INTO sentence_vectors(key, vector) VALUES (?, ?)",
            [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in kept.items()],
        )
        db.executemany("INSERT INTO sentence_uses VALUES (?, ?)", [(source, key) for key in kept])
        _drop_unused(db, dropped - kept.keys())


def delete(db: sqlite3.Connection, sources: Sequence[str]) -> None:
    """Forget the sentence vectors of ``sources`` (those no other file holds)."""
    _drop_unused(db, _forget(db, sources))


def _forget(db: sqlite3.Connection, sources: Sequence[str]) -> set[bytes]:
    """Drop the uses of ``sources``; the keys they used."""
    keys: set[bytes] = set()
    for source in sources:
        rows = db.execute("SELECT key FROM sentence_uses WHERE source = ?", (source,))
        keys.update(key for (key,) in rows)
        db.execute("DELETE FROM sentence_uses WHERE source = ?", (source,))
    return keys


def _drop_unused(db: sqlite3.Connection, keys: set[bytes]) -> None:
    db.executemany(
        "DELETE FROM sentence_vectors WHERE key = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM sentence_uses WHERE key = ?1)",
        [(key,) for key in keys],
    )


def lookup(db: sqlite3.Connection, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of those of ``texts`` that have one."""
    keys = {sentence_key(t): t for t in dict.fromkeys(texts)}
    found = list(keys)
    out: dict[str, np.ndarray] = {}
    for at in range(0, len(found), _BATCH):
        batch = found[at : at + _BATCH]
        marks = ",".join("?" * len(batch))
        query = f"SELECT key, vector FROM sentence_vectors WHERE key IN ({marks})"
        for key, blob in db.execute(query, batch):
            out[keys[key]] = np.frombuffer(blob, dtype=np.float32).copy()
    return out


def sources(db: sqlite3.Connection) -> set[str]:
    """The files that have sentence vectors."""
    return {source for (source,) in db.execute("SELECT DISTINCT source FROM sentence_uses")}


def count(db: sqlite3.Connection) -> int:
    """How many sentence vectors are stored (one per text)."""
    return int(db.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0])
