"""How strongly a text span answers a question or supports a claim.

One score serves both directions: ``0.55 · cosine(embeddings) + 0.45 · IDF-weighted term
coverage``. Dense similarity catches paraphrase, term coverage catches the exact entities and
numbers that embeddings blur. The extractive answerer ranks sentences by it and abstains below
a calibrated threshold; the citation checker flags LLM sentences whose cited passage scores low.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa.embed import Embedder, calibration_of
from qa.lang import SURE, detect, identify
from qa.schema import Chunk, Passage
from qa.text import TermStats, evidence_of, looks_like_code, terms_of

DENSE_WEIGHT = 0.55
REDUNDANT_COSINE = 0.9  # sentence vectors this close say the same thing
REDUNDANT_OVERLAP = 0.8  # ... as do sentences sharing this share of their terms
RERANK_TOP = 8  # best candidates whose own sentence vector is computed ...
CROSS_MAX = 16  # ... and sentences in another language than the question


def combine(dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """The evidence score from its two parts."""
    combined: np.ndarray = DENSE_WEIGHT * dense + (1.0 - DENSE_WEIGHT) * lexical
    return combined


def rated(passages: Sequence[Passage], spans: Sequence[Span], scores: np.ndarray) -> list[Passage]:
    """``passages`` with ``score`` set to the best score of the ``spans`` they hold (0 for a
    passage with none) and ``best`` to that span, order kept. A sentence in the overlap of two
    chunks counts for both."""
    out = []
    for p in passages:
        held = [
            (float(value), (span.start, span.end))
            for span, value in zip(spans, scores, strict=True)
            if span.chunk.source == p.chunk.source
            and p.chunk.start <= span.start
            and span.end <= p.chunk.end
        ]
        score, best = max(held, default=(0.0, None), key=lambda h: h[0])
        out.append(replace(p, score=score, best=best))
    return out


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

    @property
    def embedded(self) -> str:
        """What the sentence is embedded as (``Chunk.sentence_text``)."""
        return self.chunk.sentence_text(self.start, self.end)


ChunkVectors = Callable[[Sequence[str]], dict[str, np.ndarray]]
StoredVectors = Callable[[Sequence[str]], dict[str, np.ndarray]]  # sentence text → vector


class Evidence:
    """Scores spans against questions and claims; caches vectors between calls.

    With ``chunk_vectors`` (stored chunk embeddings by id), a sentence's dense part is the
    cosine of the chunk it sits in: no model call per sentence, so an answer costs one
    query embedding. Without it, every sentence is embedded on its own (slower, finer).
    With ``stored_vectors`` (sentence vectors kept by sync, by text), a sentence's own vector
    is read instead of computed where the store has it: the very vector the embedder gives.
    """

    def __init__(
        self,
        embedder: Embedder,
        term_stats: TermStats,
        cache_size: int = 20_000,
        chunk_vectors: ChunkVectors | None = None,
        stored_vectors: StoredVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.calibration = calibration_of(embedder)
        self.term_stats = term_stats
        self.chunk_vectors = chunk_vectors
        self.stored_vectors = stored_vectors
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._sentences: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self._terms: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
        self._langs: OrderedDict[str, str] = OrderedDict()
        self._sure: OrderedDict[str, str] = OrderedDict()
        self.corpus_languages: frozenset[str] = frozenset()  # settles unsure detections
        self._cache_size = cache_size
        self._last_parts: tuple[Any, tuple[np.ndarray, np.ndarray]] | None = None

    def vectors(self, texts: Sequence[str], *, documents: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` as queries (or as ``documents``), computing only those not
        seen recently."""
        keys = [(documents, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing and documents and self.stored_vectors is not None:
            stored = self.stored_vectors([t for _, t in missing])
            for key in missing:
                if key[1] in stored:
                    self._cache[key] = stored[key[1]]
            missing = [k for k in missing if k not in self._cache]
        if missing:
            embed = self.embedder.embed_documents if documents else self.embedder.embed_query
            for key, vec in zip(missing, embed([t for _, t in missing]), strict=True):
                self._cache[key] = vec
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])

    def remember(self, queries: Sequence[str], vectors: np.ndarray) -> None:
        """Keep ``vectors`` as the query vectors of ``queries`` (computed earlier)."""
        for text, vec in zip(queries, vectors, strict=True):
            self._cache[(False, text)] = vec
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def stored(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The document vectors of those of ``texts`` seen recently or kept by the store (none
        is computed)."""
        out = {t: self._cache[(True, t)] for t in texts if (True, t) in self._cache}
        missing = [t for t in texts if t not in out]
        if missing and self.stored_vectors is not None:
            for text, vec in self.stored_vectors(missing).items():
                self._cache[(True, text)] = out[text] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def chunk_cosines(self, text: str, spans: Sequence[Span]) -> np.ndarray:
        """Cosine of each span's passage vector with ``text`` (its own vector, embedded,
        where the passages' vectors are not at hand)."""
        if not spans:
            return np.zeros(0, dtype=np.float32)
        query = self.vectors([text])[0]
        if self.chunk_vectors is not None:
            return self._chunk_matrix([s.chunk.id for s in spans]) @ query
        return self.vectors([s.embedded for s in spans], documents=True) @ query

    def quote_language(self, text: str) -> str:
        """The language of a sentence or quote when it is prose whose language is clear; ""
        for one too short or too mixed to tell (a name, a line of code or figures, a
        bibliography entry): no "quoted in" label is better than a wrong one. Remembered."""
        found = self._sure.get(text)
        if found is None:
            letters = sum(len(w) for w in re.findall(r"[^\W\d_]{2,}", text))
            found = ""
            if letters >= 20 and not looks_like_code(text):
                code, probability = identify(text, self.corpus_languages)
                found = code if probability >= SURE else ""
            self._sure[text] = found
            if len(self._sure) > self._cache_size:
                self._sure.popitem(last=False)
        return found

    def forget_vectors(self) -> None:
        """Drop the vectors and scores kept between calls."""
        self._cache.clear()
        self._last_parts = None

    def forget_languages(self) -> None:
        """Drop remembered detections (the corpus's languages changed)."""
        self._langs.clear()
        self._sure.clear()

    def language(self, text: str) -> str:
        """The language of a question or claim (``qa.lang.detect`` among the corpus's
        languages), remembered."""
        found = self._langs.get(text)
        if found is None:
            found = self._langs[text] = detect(text, self.corpus_languages)
            if len(self._langs) > self._cache_size:
                self._langs.popitem(last=False)
        return found

    def spans(self, passages: Sequence[Passage]) -> list[Span]:
        """Sentences of the passages (``qa.text.evidence_spans``), without duplicates across
        chunks."""
        seen: set[tuple[str, int, int]] = set()
        out: list[Span] = []
        for p in passages:
            for start, end in self._evidence_of(p.chunk):
                key = (p.chunk.source, start, end)
                if key not in seen:
                    seen.add(key)
                    out.append(Span(p.chunk, start, end, p.rank))
        return out

    def rate(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The passages, in the same order, each scored by its best sentence for
        ``question`` (``Passage.score``: the scale of citation scores)."""
        spans = self.spans(passages)
        return rated(passages, spans, self.score(question, spans))

    def score(self, text: str, spans: Sequence[Span]) -> np.ndarray:
        """Evidence that each span answers (or supports) ``text``; one value per span."""
        return combine(*self.parts(text, spans))

    def parts(self, text: str, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
        """Per span: cosine similarity to ``text``, and IDF-weighted coverage of its terms.

        The last result is kept: rating the retrieved passages and then answering from them
        score the same sentences for the same question, and this is the costly step."""
        if not spans:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        key = (text, tuple(spans), id(self.term_stats), self.corpus_languages)
        if self._last_parts is not None and self._last_parts[0] == key:
            dense, lexical = self._last_parts[1]
            return dense.copy(), lexical.copy()
        dense, lexical = self._parts(text, spans)
        self._last_parts = (key, (dense.copy(), lexical.copy()))
        return dense, lexical

    def _parts(self, text: str, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
        query = self.vectors([text])[0]
        if self.chunk_vectors is not None:
            dense = self._chunk_matrix([s.chunk.id for s in spans]) @ query
        else:
            dense = self.vectors([s.embedded for s in spans], documents=True) @ query
        lang = self.language(text)
        wanted = self.terms(text, lang)
        span_terms = self.span_terms(spans)
        lexical = np.array(
            [self.term_stats.coverage(wanted, found) for found in span_terms], dtype=np.float32
        )
        if self.chunk_vectors is not None and self.calibration.joint is not None:
            self._sentence_level(query, lang, spans, combine(dense, lexical), lexical)
        return dense, lexical

    def _sentence_level(
        self,
        query: np.ndarray,
        lang: str,
        spans: Sequence[Span],
        preliminary: np.ndarray,
        lexical: np.ndarray,
    ) -> None:
        """Refine the lexical part of the likeliest sentences with their own embedding.

        With passage vectors every sentence of a passage shares one dense score, and term
        coverage misses paraphrases ("refuse to let reach" for "won't allow ... supplies")
        and every sentence in another language (no shared stems). So the ``RERANK_TOP`` best
        candidates, and up to ``CROSS_MAX`` sentences in another language than ``text``
        (best-ranked passages first), are embedded at question time; their cosine to the
        question joins their coverage through the embedder's measured maps
        (``qa.embed.Calibration``)."""
        order = np.argsort(-preliminary, kind="stable")[:RERANK_TOP]
        foreign = {i for i, s in enumerate(spans) if s.chunk.lang and s.chunk.lang != lang}
        by_rank = sorted(foreign, key=lambda i: spans[i].rank)[:CROSS_MAX]
        chosen = list(dict.fromkeys([int(i) for i in order] + by_rank))
        if not chosen:
            return
        weight, slope, floor = self.calibration.joint or (1.0, 0.0, 0.0)
        foreign_floor, foreign_range = self.calibration.foreign or (1.0, 1.0)
        cosine = self.vectors([spans[i].embedded for i in chosen], documents=True) @ query
        for i, cos in zip(chosen, cosine, strict=True):
            if i in foreign:
                refined = max(float(lexical[i]), (cos - foreign_floor) / foreign_range)
            else:
                refined = weight * lexical[i] + slope * (cos - floor)
            lexical[i] = min(max(refined, 0.0), 1.0)

    def terms_of(self, texts: Sequence[str], lang: str = "") -> list[list[str]]:
        """``terms`` of each text (of language ``lang``), remembered; the unseen ones computed
        in one batch."""
        missing = [t for t in dict.fromkeys(texts) if (lang, t) not in self._terms]
        for text, found in zip(missing, terms_of(missing, lang), strict=True):
            self._terms[(lang, text)] = found
        out = [self._terms[(lang, t)] for t in texts]
        while len(self._terms) > self._cache_size:
            self._terms.popitem(last=False)
        return out

    def terms(self, text: str, lang: str = "") -> list[str]:
        """``qa.text.terms`` of ``text``, remembered (sentences recur across questions)."""
        return self.terms_of([text], lang)[0]

    def span_terms(self, spans: Sequence[Span]) -> list[list[str]]:
        """Terms of each span's text, stemmed in the language of its chunk."""
        out: list[list[str]] = [[] for _ in spans]
        by_lang: dict[str, list[int]] = {}
        for i, span in enumerate(spans):
            by_lang.setdefault(span.chunk.lang, []).append(i)
        for code, rows in by_lang.items():
            for i, found in zip(
                rows, self.terms_of([spans[i].text for i in rows], code), strict=True
            ):
                out[i] = found
        return out

    def _evidence_of(self, chunk: Chunk) -> list[tuple[int, int]]:
        """``qa.text.evidence_of`` the chunk, remembered by chunk id (a hash of its content)."""
        found = self._sentences.get(chunk.id)
        if found is None:
            found = evidence_of(chunk)
            self._sentences[chunk.id] = found
            if len(self._sentences) > self._cache_size:
                self._sentences.popitem(last=False)
        return found

    def _chunk_matrix(self, ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of the chunks ``ids``, row for row (zeros for an unknown id)."""
        assert self.chunk_vectors is not None
        found = self.chunk_vectors(list(dict.fromkeys(ids)))
        zero = np.zeros(self.embedder.dim, dtype=np.float32)
        return np.stack([found.get(i, zero) for i in ids])

    def redundant(self, a: Span, b: Span) -> bool:
        """True when ``b`` says nearly what ``a`` says (near-duplicate sentences)."""
        if self.chunk_vectors is not None:
            ta, tb = set(self.terms(a.text, a.chunk.lang)), set(self.terms(b.text, b.chunk.lang))
            return len(ta & tb) > REDUNDANT_OVERLAP * max(1, min(len(ta), len(tb)))
        va, vb = self.vectors([a.embedded, b.embedded], documents=True)
        return float(va @ vb) > REDUNDANT_COSINE

    def best_support(self, claim: str, chunk: Chunk) -> tuple[float, Span | None]:
        """The sentence of ``chunk`` that best supports ``claim``, and its score."""
        spans = self.spans([Passage(chunk=chunk, score=0.0, rank=0)])
        if not spans:
            return 0.0, None
        scores = self.score(claim, spans)
        best = int(np.argmax(scores))
        return float(scores[best]), spans[best]
