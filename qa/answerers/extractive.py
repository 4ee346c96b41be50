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
from qa.evidence import Evidence, Span
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.settings import Settings

MAX_SENTENCES = 3
KEEP_WITHIN = 0.08  # a further sentence is kept when it scores within this of the best
REDUNDANT = 0.9  # ... and is not a near-duplicate (cosine) of one already kept
WORD_BUDGET = 75  # further sentences only while the answer stays this short (words)
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
        re.compile(r"^\s*(who|whom|whose|qui)\b", re.I),
        re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)+"),  # a multi-word proper name
    ),
]
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
        spans, scores = self.scored_sentences(question, passages)
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
        chosen = self._select(spans, scores)
        citations = [
            Citation(s.chunk.source, s.text, s.start, s.end, score, s.chunk.id)
            for s, score in chosen
        ]
        sentences = [
            AnswerSentence(s.text, [n], score) for n, (s, score) in enumerate(chosen, start=1)
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
    ) -> tuple[list[Span], np.ndarray]:
        """Every candidate sentence of the passages with its evidence score."""
        spans = self.evidence.spans(passages)
        return spans, self.evidence.score(question, spans) + self._type_bonus(question, spans)

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

    def _select(self, spans: list[Span], scores: np.ndarray) -> list[tuple[Span, float]]:
        """The best sentence; close runners-up that say something new; continuations."""
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        top = float(scores[order[0]])
        vectors = self.evidence.vectors([s.text for s in spans])
        kept = [order[0]]
        for i in order[1:]:
            if float(scores[i]) < top - KEEP_WITHIN:
                break
            if all(float(vectors[i] @ vectors[j]) <= REDUNDANT for j in kept):
                kept.append(i)
        with_next: list[int] = []
        for i in kept:
            with_next.append(i)
            following = self._next_sentence(spans, i)
            if (
                following is not None
                and following not in kept
                and _CONTINUES.match(spans[following].text)
                and float(scores[following]) >= self.settings.abstain_threshold
            ):
                with_next.append(following)
        chosen: list[int] = []
        words = 0
        for i in dict.fromkeys(with_next):
            n = len(spans[i].text.split())
            if chosen and (len(chosen) == MAX_SENTENCES or words + n > WORD_BUDGET):
                break
            chosen.append(i)
            words += n
        return [(spans[i], float(scores[i])) for i in chosen]

    @staticmethod
    def _next_sentence(spans: Sequence[Span], i: int) -> int | None:
        """Index of the sentence that follows ``spans[i]`` in the same file, if retrieved."""
        after = [
            j
            for j, s in enumerate(spans)
            if s.chunk.source == spans[i].chunk.source and s.start >= spans[i].end
        ]
        return min(after, key=lambda j: spans[j].start) if after else None
