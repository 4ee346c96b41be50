"""The offline answerer: picks the retrieved sentences that best answer the question.

Every sentence of its answer is a verbatim quote, so every citation is exact by construction.
It abstains with ``NOT_IN_DOCUMENTS`` when the best evidence is below ``abstain_threshold`` (by
default the embedder's calibrated value).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

from qa import lang as languages
from qa.answerers import Turn, abstain_threshold, answerers, fold_history
from qa.cite import compose
from qa.evidence import Evidence, Span, combine, rated
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.settings import Settings

MAX_SENTENCES = 3
KEEP_WITHIN = 0.08  # a further sentence is kept when it scores within this of the best
WORD_BUDGET = 40  # answers stay this short (words); a longer best sentence is cut to it
CONTINUATION_BUDGET = 75  # ... except that a sentence continuing the best one may follow
TYPE_BONUS = 0.1  # added when a sentence holds the kind of thing the question asks for ...

# Question word → what an answer to it must contain (English and French).
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|un|deux|trois|quatre|cinq|six|sept|"
    r"huit|neuf|dix|vingt|trente|cent|mille|milliard)s?\b",
    re.I,
)
# (what the question asks, what an answer holds, penalty for a sentence that holds none):
# numbers and dates are found reliably, so a sentence without one cannot answer; places and
# names less so, so missing one costs less.
_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str], float]] = [
    (
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|tall|high)|combien|quel nombre|"
            r"quelle quantit[ée]|population|price|cost|percentage|number of|quantity|amount|"
            r"prix|co[uû]t|nombre de|montant)\b",
            re.I,
        ),
        _NUMBER,
        0.3,
    ),
    (
        re.compile(
            r"^\s*((on|in|at|by|since|until|from) )?(when|what (year|date|day|month|time)|"
            r"which (year|date|day|month)|quand|[àa] quelle (heure|date)|en quelle ann[ée]e|"
            r"quel jour)\b",
            re.I,
        ),
        re.compile(
            rf"\b(1[0-9]{{3}}|20[0-9]{{2}}|{_MONTHS}|monday|tuesday|wednesday|thursday|"
            r"friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
            r"\d{1,2}(:\d\d)?\s*(a\.?m\.?|p\.?m\.?|h\b|heures?)|today|yesterday|tomorrow|"
            r"aujourd'hui|hier|demain)\b",
            re.I,
        ),
        0.3,
    ),
    (
        re.compile(r"^\s*(where|o[uù])\b", re.I),
        # a place: a preposition of place before a capitalised name
        re.compile(
            r"\b(?:at|in|near|outside|inside|from|à|au|aux|dans|près de)\s+(?:the\s+)?[A-Z][\w’'-]+"
        ),
        0.1,
    ),
    (
        re.compile(
            r"^\s*(who|whom|whose|qui)\b|\b(name of|named|nom de)\b|^\s*(which|what|quel|"
            r"quelle) (\w+ )?(president|minister|official|person|spokes(man|woman|person)|"
            r"envoy|adviser|advisor|leader|general|ambassador|président|ministre|porte-parole)\b",
            re.I,
        ),
        re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)+"),  # a multi-word proper name
        0.1,
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


# "…, and when …?" / "… and which …?": a second question joined to the first.
_SECOND_QUESTION = re.compile(
    r",?\s+(?:and|et)\s+(?=(?:which|who|whom|whose|when|where|what|why|how|quel|quelle|quels|"
    r"quelles|qui|quand|où|pourquoi|comment|combien)\b)",
    re.I,
)


def compound_parts(question: str) -> list[str]:
    """The questions a compound question joins ("Which envoy proposed a pause, and which
    adviser asked to extend it?" → two); a plain question is its own single part."""
    parts = [p.strip(" ,") for p in _SECOND_QUESTION.split(question)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [question]


def quoted_in(source_lang: str, question_lang: str) -> str | None:
    """ "quoted in French" when a quote's language is not the question's; else None."""
    if not source_lang or source_lang == question_lang:
        return None
    return f"quoted in {languages.name(source_lang)}"


@answerers.register("extractive")
class ExtractiveAnswerer:
    """Sentence selection by dense similarity plus IDF-weighted term coverage."""

    name = "extractive"

    def __init__(self, settings: Settings, evidence: Evidence) -> None:
        self.settings = settings
        self.evidence = evidence

    @property
    def threshold(self) -> float:
        """``abstain_threshold``, else the embedder's calibrated one."""
        return abstain_threshold(self.settings, self.evidence)

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
        parts = compound_parts(question)
        if len(parts) > 1:
            chosen, confidence = self._select_parts(parts, passages)
        else:
            spans, scores, _ = self.scored_sentences(question, passages)
            confidence = float(scores.max()) if spans else 0.0
            chosen = self._select(question, spans, scores) if spans else []
            # What the answer was judged on, answer types included: the closest passage
            # shows the confidence, on the scale of the citations and the threshold.
            passages = rated(passages, spans, scores)
        if confidence < self.threshold:
            return Answer(
                question,
                NOT_IN_DOCUMENTS,
                [],
                True,
                passages=list(passages),
                answerer=self.name,
                confidence=confidence,
            )
        citations = [Citation.of(s.chunk, s.text, s.start, s.end, score) for s, score, _ in chosen]
        asked_in = self.evidence.language(question)
        sentences = [
            AnswerSentence(
                f"…{s.text}…" if cut else s.text,
                [n],
                score,
                note=quoted_in(s.chunk.lang, asked_in),
            )
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
        """When the question asks for a kind of thing (a number for "how many" or a
        population, a date or time for "when", a place for "where", a name for "who"):
        ``TYPE_BONUS`` for sentences holding one that the question does not already name,
        minus the type's penalty for the others, so a sentence without it rarely clears the
        abstention threshold ("What is the population of Aleppo?" is not answered by a
        sentence about "the civilian population")."""
        bonus = np.zeros(len(spans), dtype=np.float32)
        for asks, holds, penalty in _ANSWER_TYPES:
            if asks.search(question):
                asked = set(question.casefold().split())
                for i, span in enumerate(spans):
                    found = [m.group() for m in holds.finditer(span.text)]
                    held = any(f.casefold() not in asked for f in found)
                    bonus[i] = TYPE_BONUS if held else -penalty
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
            and float(scores[following]) >= self.threshold
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

    def _select_parts(
        self, parts: Sequence[str], passages: Sequence[Passage]
    ) -> tuple[list[tuple[Span, float, bool]], float]:
        """For a compound question: the best sentence for each part (once each), and the
        weakest part's evidence as the confidence (every part must be answered)."""
        chosen: list[tuple[Span, float, bool]] = []
        weakest = float("inf")
        for part in parts:
            spans, scores, _ = self.scored_sentences(part, passages)
            if not spans:
                return [], 0.0
            best = int(np.argmax(scores))
            weakest = min(weakest, float(scores[best]))
            top = self._trim(part, spans[best])
            if all(
                (top.chunk.source, top.start) != (c.chunk.source, c.start) for c, _, _ in chosen
            ):
                chosen.append((top, float(scores[best]), top != spans[best]))
        return chosen, weakest

    def _trim(self, question: str, span: Span) -> Span:
        """``span`` itself when short enough, else its ``WORD_BUDGET``-word window that holds
        the most question terms (and what the question word asks for)."""
        found = list(_WORD_RE.finditer(span.text))
        if len(found) <= WORD_BUDGET:
            return span
        wanted = self.evidence.terms(question, self.evidence.language(question))
        asks_for = next((holds for asks, holds, _ in _ANSWER_TYPES if asks.search(question)), None)
        word_terms = self.evidence.terms_of([m.group() for m in found], span.chunk.lang)
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
