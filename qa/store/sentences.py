"""Sentence vectors kept by sync (``QA_SENTENCE_VECTORS``), in the lexical index's SQLite file.

The embedder's vector of each evidence sentence (``qa.text.evidence_spans``) of a file, by the
first 16 bytes of the SHA-256 of the sentence's text, so that answering reads the vectors of
its best candidate sentences instead of embedding them per question. They live beside the
lexical rows and are written in the same transaction (the same writer lock, the same crash
order). They are not derived from Chroma: a catch-up drops those of the files it indexes
again, and a sentence without one is embedded when asked about (the same vector either way:
the collection, and so this file, is per embedder).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS sentence_vectors (
    key BLOB NOT NULL, source TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (key, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_vectors_source ON sentence_vectors(source);
"""
_BATCH = 500

Vectors = Mapping[str, Mapping[str, np.ndarray]]  # source → sentence text → vector


def sentence_key(text: str) -> bytes:
    """The key of a sentence's stored vector: the first 16 bytes of its text's SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def replace(db: sqlite3.Connection, sentences: Vectors) -> None:
    """Make each file's sentence vectors exactly those given."""
    for source, vectors in sentences.items():
        db.execute("DELETE FROM sentence_vectors WHERE source = ?", (source,))
        db.executemany(
            "INSERT OR REPLACE INTO sentence_vectors VALUES (?, ?, ?)",
            [
                (sentence_key(text), source, np.asarray(v, dtype=np.float32).tobytes())
                for text, v in vectors.items()
            ],
        )


def delete(db: sqlite3.Connection, sources: Sequence[str]) -> None:
    """Forget the sentence vectors of ``sources``."""
    db.executemany("DELETE FROM sentence_vectors WHERE source = ?", [(s,) for s in sources])


def lookup(db: sqlite3.Connection, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of those of ``texts`` that have one (any file's: a text's vector is
    the embedder's, whichever file it is in)."""
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


def count(db: sqlite3.Connection) -> int:
    """How many sentence vectors are stored (one per text and file)."""
    return int(db.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0])
