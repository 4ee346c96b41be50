"""How strongly a text span answers a question or supports a claim.

One score serves both directions: ``0.55 · cosine(embeddings) + 0.45 · IDF-weighted term
coverage``. Dense similarity catches paraphrase, term coverage catches the exact entities and
numbers that embeddings blur. The extractive answerer ranks sentences by it and abstains below
a calibrated threshold; the citation checker flags LLM sentences whose cited passage scores low.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.embed import Embedder
from qa.schema import Chunk, Passage
from qa.text import TermStats, sentence_spans, terms

DENSE_WEIGHT = 0.55
MIN_WORDS = 3


def combine(dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """The evidence score from its two parts."""
    combined: np.ndarray = DENSE_WEIGHT * dense + (1.0 - DENSE_WEIGHT) * lexical
    return combined


@dataclass(frozen=True)
class Span:
    """A sentence inside a retrieved chunk; ``start``/``end`` are offsets in the source file."""

    chunk: Chunk
    start: int
    end: int
    rank: int  # rank of the passage it came from

    @property
    def text(self) -> str:
        return self.chunk.text[self.start - self.chunk.start : self.end - self.chunk.start]


class Evidence:
    """Scores spans against questions and claims; caches sentence vectors between calls."""

    def __init__(self, embedder: Embedder, term_stats: TermStats, cache_size: int = 20_000) -> None:
        self.embedder = embedder
        self.term_stats = term_stats
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, computing only those not seen recently."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing), strict=True):
                self._cache[text] = vec
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def spans(self, passages: Sequence[Passage]) -> list[Span]:
        """Sentences of the passages (at least three words), without duplicates across chunks."""
        seen: set[tuple[str, int, int]] = set()
        out: list[Span] = []
        for p in passages:
            for start, end in sentence_spans(p.chunk.text, offset=p.chunk.start):
                key = (p.chunk.source, start, end)
                span = Span(p.chunk, start, end, p.rank)
                if key in seen or len(span.text.split()) < MIN_WORDS:
                    continue
                seen.add(key)
                out.append(span)
        return out

    def score(self, text: str, spans: Sequence[Span]) -> np.ndarray:
        """Evidence that each span answers (or supports) ``text``; one value per span."""
        return combine(*self.parts(text, spans))

    def parts(self, text: str, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
        """Per span: cosine similarity to ``text``, and IDF-weighted coverage of its terms."""
        if not spans:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        dense = self.vectors([s.text for s in spans]) @ self.vectors([text])[0]
        wanted = terms(text)
        lexical = np.array(
            [self.term_stats.coverage(wanted, terms(s.text)) for s in spans], dtype=np.float32
        )
        return dense, lexical

    def best_support(self, claim: str, chunk: Chunk) -> tuple[float, Span | None]:
        """The sentence of ``chunk`` that best supports ``claim``, and its score."""
        spans = self.spans([Passage(chunk=chunk, score=0.0, rank=0)])
        if not spans:
            return 0.0, None
        scores = self.score(claim, spans)
        best = int(np.argmax(scores))
        return float(scores[best]), spans[best]
