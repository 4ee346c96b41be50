"""Text helpers shared by retrieval, answering and citation checks: sentences and terms."""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
_LINE = re.compile(r"[^\n]+")


@cache
def _punkt(language: str) -> Any:
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer(language)  # punkt_tab from llama-index's bundled NLTK cache


@cache
def stopwords() -> frozenset[str]:
    """English and French stopwords (accents folded) from the bundled NLTK corpus."""
    words: set[str] = set()
    root = Path(os.environ.get("NLTK_DATA", "")) / "corpora" / "stopwords"
    for lang in ("english", "french", "spanish", "german"):
        path = root / lang
        if path.exists():
            words.update(fold(w) for w in path.read_text(encoding="utf-8").split())
    return frozenset(words)


def fold(text: str) -> str:
    """Lower-case and strip accents: 'Alep' and 'alep', 'État' and 'etat' compare equal."""
    if text.isascii():  # nothing to strip (and the common case: 10× faster)
        return text.casefold()
    return _combining_marks().sub("", unicodedata.normalize("NFKD", text.casefold()))


@cache
def _combining_marks() -> re.Pattern[str]:
    """A character class of the Basic Multilingual Plane's combining marks (built once)."""
    marks = "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c)))
    return re.compile(f"[{re.escape(marks)}]")


@cache
def stemmer() -> Any:
    """PyStemmer's English stemmer (terms here, BM25 in ``qa.retrieve``)."""
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Content terms: folded, stopwords removed, stemmed (numbers kept as they are)."""
    return terms_of([text])[0]


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """``terms`` of each text, stemmed in one call (the per-call overhead dominates)."""
    stop = stopwords()
    words = [
        [w for w in _WORD.findall(fold(t)) if w not in stop and (len(w) > 1 or w.isdigit())]
        for t in texts
    ]
    stems = iter(stemmer().stemWords([w for ws in words for w in ws]))
    return [[next(stems) for _ in ws] for ws in words]


def guess_language(text: str) -> str:
    """'french' when French function words dominate, else 'english' (for sentence splitting)."""
    words = _WORD.findall(text[:2000].casefold())
    fr = sum(
        w in {"le", "la", "les", "des", "du", "une", "est", "et", "à", "qui", "que"} for w in words
    )
    en = sum(w in {"the", "of", "and", "to", "is", "in", "that", "was", "for", "on"} for w in words)
    return "french" if fr > en else "english"


def sentence_spans(
    text: str, offset: int = 0, language: str | None = None
) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, shifted by ``offset``; never crosses a newline."""
    lang = language or guess_language(text)
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for s, e in _punkt(lang).span_tokenize(line.group()):
            s, e = _trim(line.group(), s, e)
            if e > s:
                spans.append((offset + line.start() + s, offset + line.start() + e))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class TermStats:
    """Document frequencies over the stored chunks, for IDF-weighted lexical evidence."""

    def __init__(self, documents: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        batch: list[str] = []
        for doc in documents:
            batch.append(doc)
            if len(batch) == 1000:
                self._count(batch)
        self._count(batch)

    def _count(self, batch: list[str]) -> None:
        for found in terms_of(batch):
            self.n += 1
            self.df.update(set(found))
        batch.clear()

    def idf(self, term: str) -> float:
        """BM25-style inverse document frequency, always positive."""
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def coverage(self, query_terms: Iterable[str], text_terms: Iterable[str]) -> float:
        """IDF-weighted share of the query's distinct terms found in the text (0..1)."""
        q = set(query_terms)
        if not q:
            return 0.0
        found = q & set(text_terms)
        total = sum(self.idf(t) for t in q)
        return sum(self.idf(t) for t in found) / total if total else 0.0
