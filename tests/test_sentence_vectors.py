"""Sentence vectors kept by sync (``QA_SENTENCE_VECTORS``): the same answers, no embedding of
sentences at question time, and vectors that follow the files (real e5, real Chroma, seeds)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa
from qa.evals.cases import load_cases
from qa.store.sentences import sentence_key
from qa.sync import evidence_texts
from tests.helpers import SEEDS, assistant, default_embedder, seeds_copy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


class Counted:
    """The default embedder, counting the documents it embeds."""

    def __init__(self) -> None:
        self.inner = default_embedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.documents = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_query(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)


def questions() -> list[str]:
    cases = load_cases(ROOT / "evals" / "cases.yaml")
    return [turn.question for case in cases for turn in case.turns[:1]]


def stored_keys(a: qa.Assistant) -> dict[str, set[bytes]]:
    with sqlite3.connect(a.store.lexical.path) as db:
        rows = db.execute("SELECT source, key FROM sentence_uses").fetchall()
    out: dict[str, set[bytes]] = {}
    for source, key in rows:
        out.setdefault(source, set()).add(key)
    return out


def expected_keys(a: qa.Assistant) -> dict[str, set[bytes]]:
    out: dict[str, set[bytes]] = {}
    for chunk in a.store.chunks():
        out.setdefault(chunk.source, set()).update(sentence_key(t) for t in evidence_texts(chunk))
    return out


def test_same_answers_without_embedding_sentences(tmp_path: Path) -> None:
    plain = assistant(SEEDS, tmp_path / "plain", sentence_vectors=False)
    counted = Counted()
    kept = assistant(SEEDS, tmp_path / "kept", embedder=counted, sentence_vectors=True)  # type: ignore[arg-type]
    assert stored_keys(plain) == {}
    assert stored_keys(kept) == expected_keys(kept)
    every = [t for c in kept.store.chunks() for t in evidence_texts(c)]
    vectors = kept.store.sentence_vectors(every)
    assert set(vectors) == set(every)
    sample = sorted(set(every))[:40]
    assert np.array_equal(
        np.stack([vectors[t] for t in sample]), plain.embedder.embed_documents(sample)
    )

    counted.documents = 0
    asked = questions()
    assert len(asked) >= 40
    for question in asked:
        assert kept.ask(question).to_dict() == plain.ask(question).to_dict(), question
    assert counted.documents == 0, "sentences were embedded at question time"


def test_vectors_follow_edits_and_deletes(tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    a = assistant(corpus, tmp_path / "store", sentence_vectors=True)
    first = sorted(p.name for p in corpus.glob("*.txt"))
    edited, deleted = corpus / first[0], corpus / first[1]
    edited.write_text(
        edited.read_text(encoding="utf-8")
        + "\nThe convoy reached the bakery at dawn on Tuesday.\n",
        encoding="utf-8",
    )
    deleted.unlink()
    a.sync()
    assert stored_keys(a) == expected_keys(a)
    assert deleted.name not in stored_keys(a)
    assert (
        sentence_key("The convoy reached the bakery at dawn on Tuesday.")
        in stored_keys(a)[edited.name]
    )

    # Synced without the setting, an edited file keeps no sentence vectors; the others stay.
    b = assistant(corpus, tmp_path / "store", sentence_vectors=False)
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\nOne more line of news here.\n", encoding="utf-8"
    )
    b.sync()
    keys = stored_keys(b)
    assert edited.name not in keys
    assert keys == {s: k for s, k in expected_keys(b).items() if s != edited.name}

    # Turned on again, the next sync gives the file its sentence vectors, changed or not.
    c = assistant(corpus, tmp_path / "store", sentence_vectors=True)
    assert not c.sync().changed
    assert stored_keys(c) == expected_keys(c)
