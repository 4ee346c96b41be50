"""The offline answerer: picks the retrieved sentences that best answer the question.

Every sentence of its answer is a verbatim quote, so every citation is exact by construction.
It abstains with ``NOT_IN_DOCUMENTS`` when the best evidence is below ``abstain_threshold``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

from qa.answerers import Turn, answerers, fold_history
from qa.cite import compose
from qa.evidence import Evidence, Span, combine
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.settings import Settings

MAX_SENTENCES = 3
KEEP_WITHIN = 0.08  # a further sentence is kept when it scores within this of the best
WORD_BUDGET = 40  # answers stay this short (words); a longer best sentence is cut to it
CONTINUATION_BUDGET = 75  # ... except that a sentence continuing the best one may follow
TYPE_BONUS = 0.1  # added when a sentence holds the kind of thing the question asks for

# Question word → what an answer to it must contain (English and French).
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
)
_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(r"^\s*(how (many|much|long|old|far)|combien|quel nombre)\b", re.I),
        re.compile(
            r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|"
            r"million|dozen|un|deux|trois|quatre|cinq|dix|cent|mille)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"^\s*(when|what (year|date|day|month)|quand|en quelle ann[ée]e)\b", re.I),
        re.compile(
            rf"\b(1[0-9]{{3}}|20[0-9]{{2}}|{_MONTHS}|monday|tuesday|wednesday|thursday|"
            r"friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"^\s*(where|o[uù])\b", re.I),
        # a place: a preposition of place before a capitalised name
        re.compile(
            r"\b(?:at|in|near|outside|inside|à|au|aux|dans|près de)\s+(?:the\s+)?[A-Z][\w’'-]+"
        ),
    ),
    (
        re.compile(r"^\s*(who|whom|whose|qui)\b", re.I),
        re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)+"),  # a multi-word proper name
    ),
]
_WORD_RE = re.compile(r"\S+")


def _words(text: str) -> int:
    return len(text.split())


# A sentence opening with one of these continues the one before it.
_CONTINUES = re.compile(
    r"^\W*(he|she|it|they|this|that|these|those|his|her|its|their|there|"
    r"il|elle|ils|elles|ce|cette|ces|selon lui|selon elle)\b",
    re.I,
)


@answerers.register("extractive")
class ExtractiveAnswerer:
    """Sentence selection by dense similarity plus IDF-weighted term coverage."""

    name = "extractive"

    def __init__(self, settings: Settings, evidence: Evidence) -> None:
        self.settings = settings
        self.evidence = evidence

    def query_for(self, question: str, history: Sequence[Turn]) -> str:
        return fold_history(question, history)

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        answer = self.answer(question, passages)
        yield answer.text
        yield answer

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """The cited answer, or an abstention that still lists the closest passages."""
        spans, scores, _ = self.scored_sentences(question, passages)
        confidence = float(scores.max()) if spans else 0.0
        if confidence < self.settings.abstain_threshold:
            return Answer(
                question,
                NOT_IN_DOCUMENTS,
                [],
                True,
                passages=list(passages),
                answerer=self.name,
                confidence=confidence,
            )
        chosen = self._select(question, spans, scores)
        citations = [
            Citation(s.chunk.source, s.text, s.start, s.end, score, s.chunk.id)
            for s, score, _ in chosen
        ]
        sentences = [
            AnswerSentence(f"…{s.text}…" if cut else s.text, [n], score)
            for n, (s, score, cut) in enumerate(chosen, start=1)
        ]
        return Answer(
            question,
            compose(sentences),
            citations,
            False,
            sentences=sentences,
            passages=list(passages),
            answerer=self.name,
            confidence=confidence,
        )

    def scored_sentences(
        self, question: str, passages: Sequence[Passage]
    ) -> tuple[list[Span], np.ndarray, np.ndarray]:
        """Every candidate sentence of the passages, its evidence score and its cosine
        similarity to the question."""
        spans = self.evidence.spans(passages)
        dense, lexical = self.evidence.parts(question, spans)
        return spans, combine(dense, lexical) + self._type_bonus(question, spans), dense

    @staticmethod
    def _type_bonus(question: str, spans: Sequence[Span]) -> np.ndarray:
        """``TYPE_BONUS`` for sentences that contain what the question word asks for."""
        bonus = np.zeros(len(spans), dtype=np.float32)
        for asks, holds in _ANSWER_TYPES:
            if asks.search(question):
                asked = set(question.casefold().split())
                for i, span in enumerate(spans):
                    found = [m.group() for m in holds.finditer(span.text)]
                    if any(f.casefold() not in asked for f in found):
                        bonus[i] = TYPE_BONUS
                break
        return bonus

    def _select(
        self, question: str, spans: list[Span], scores: np.ndarray
    ) -> list[tuple[Span, float, bool]]:
        """The best sentence (cut to ``WORD_BUDGET`` words if longer), the sentence continuing
        it (within ``CONTINUATION_BUDGET``), then close runners-up that still fit the budget."""
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        best = order[0]
        top = self._trim(question, spans[best])
        chosen = [(top, float(scores[best]), top != spans[best])]
        words = _words(top.text)
        following = self._next_sentence(spans, best)
        if (
            following is not None
            and top.end == spans[best].end
            and _CONTINUES.match(spans[following].text)
            and float(scores[following]) >= self.settings.abstain_threshold
            and words + _words(spans[following].text) <= CONTINUATION_BUDGET
        ):
            chosen.append((spans[following], float(scores[following]), False))
            words += _words(spans[following].text)
        kept = [best] + ([following] if len(chosen) > 1 and following is not None else [])
        for i in order[1:]:
            if len(chosen) == MAX_SENTENCES or float(scores[i]) < float(scores[best]) - KEEP_WITHIN:
                break
            n = _words(spans[i].text)
            if i in kept or words + n > WORD_BUDGET:
                continue
            if not any(self.evidence.redundant(spans[j], spans[i]) for j in kept):
                kept.append(i)
                chosen.append((spans[i], float(scores[i]), False))
                words += n
        return chosen

    def _trim(self, question: str, span: Span) -> Span:
        """``span`` itself when short enough, else its ``WORD_BUDGET``-word window that holds
        the most question terms (and what the question word asks for)."""
        found = list(_WORD_RE.finditer(span.text))
        if len(found) <= WORD_BUDGET:
            return span
        wanted = self.evidence.terms(question)
        asks_for = next((holds for asks, holds in _ANSWER_TYPES if asks.search(question)), None)
        word_terms = [self.evidence.terms(m.group()) for m in found]
        best_score, best_at = -1.0, 0
        for at in range(len(found) - WORD_BUDGET + 1):
            window = span.text[found[at].start() : found[at + WORD_BUDGET - 1].end()]
            in_window = {t for ts in word_terms[at : at + WORD_BUDGET] for t in ts}
            score = self.evidence.term_stats.coverage(wanted, in_window)
            if asks_for is not None and asks_for.search(window):
                score += 1.0
            if score > best_score:
                best_score, best_at = score, at
        start = span.start + found[best_at].start()
        end = span.start + found[best_at + WORD_BUDGET - 1].end()
        return Span(span.chunk, start, end, span.rank)

    @staticmethod
    def _next_sentence(spans: Sequence[Span], i: int) -> int | None:
        """Index of the sentence that follows ``spans[i]`` in the same file, if retrieved."""
        after = [
            j
            for j, s in enumerate(spans)
            if s.chunk.source == spans[i].chunk.source and s.start >= spans[i].end
        ]
        return min(after, key=lambda j: spans[j].start) if after else None
