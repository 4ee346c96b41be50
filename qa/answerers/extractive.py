"""The offline answerer: the span of consecutive sentences that best answers the question.

Every candidate sentence of the retrieved passages is scored by a logistic model of how likely
it holds the answer (``SentenceModel``): its own vector's cosine with the question (kept by
sync, so no model call), the share of the question's rare terms it holds alone and with its
context (the section titles it stands under, the sentence before it), its passage's cosine,
whether it holds what the question asks for (``question.Asks``: a number, a date, a name, a
code term, ...) and whether it is in another language than the question. The best sentence
takes the neighbours it needs (``spans.window``), at most ``spans.MAX_WORDS`` words, quoted
verbatim. The answerer abstains when its confidence (``ConfidenceModel``: the best sentence's
odds, its lead over the best sentence elsewhere, whether what is asked was found, and the
question's rarest term missing around it) is below the threshold.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from qa import lang as languages
from qa.answerers import Turn, abstain_threshold, answerers, fold_history
from qa.answerers.question import CODE, Asks, compound_parts, named_terms
from qa.answerers.spans import CONTINUED_WORDS, MAX_WORDS, heading_above, window, words
from qa.cite import compose
from qa.evidence import Evidence, Span, rated
from qa.offline import model_cache_dir
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.settings import Settings
from qa.text import fold, looks_like_code

EMBED_AT_MOST = 64  # sentences embedded per question where the store keeps no vectors
PROBES = 50  # off-topic questions asked of a corpus to learn how answered they look there
PROBES_PER_LANGUAGE = 4  # a language with this many probes gets its own null
PROBE_NULL = -3.2  # the median best logit of the probes, where none was asked (measured: e5)
NEIGHBOUR_MARGIN = 1.5  # a neighbour this close to the best sentence's logit joins the span
HEADING_WORDS = 20  # a heading line above the span joins the quote when it is this short
_WORD_RE = re.compile(r"\S+")

FEATURES = ("cos", "cov", "ctx", "chunk", "kind", "foreign", "code")
OFF_TOPIC = 1.5  # a best logit this little above the probes' looks like theirs
# "best": the best sentence's logit over the corpus's probes' (``calibrate``); "off": how far
# below OFF_TOPIC it stays (the odds fall faster there: an off-topic question's answer)
CONFIDENCE_FEATURES = (
    "best", "lead", "kind", "missing", "foreign", "entity", "negation", "off", "unknown"
)  # fmt: skip


@dataclass(frozen=True)
class SentenceModel:
    """Logistic weights over ``FEATURES`` (cosines as measured minus ``floor``) and a bias."""

    weights: tuple[float, ...]
    bias: float
    floor: float  # the embedder's typical cosine of an unrelated sentence


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic weights over ``CONFIDENCE_FEATURES`` and a bias: the probability that the
    chosen span answers the question."""

    weights: tuple[float, ...]
    bias: float


# For an embedder that brings no calibration (``qa.embed.Calibration``): term coverage leads,
# cosines count from 0.3 up (a sentence-embedding model's unrelated pairs stay below it); a
# span is answered from about one logit above the probes' null (the hashing embedder: a
# shared word such as "capital" is not enough).
SENTENCES = SentenceModel((4.0, 3.0, 1.5, 2.0, 0.8, 0.0, -1.0), -2.5, 0.3)
CONFIDENCE = ConfidenceModel((1.0, 0.3, 0.5, -1.0, 0.0, -0.5, -0.5, -1.0, -2.0), -1.0)


COGNATE_PREFIX = 5  # letters a term and its cognate share ("novemb", "novembr")


def cognates(wanted: Iterable[str], terms: set[str]) -> set[str]:
    """The terms of ``wanted`` that a term of ``terms`` (another language's) begins like:
    the first ``COGNATE_PREFIX`` letters, or the whole of the shorter when it has 4 or more
    ("alep", "aleppo")."""
    found = set()
    for t in wanted:
        if len(t) < 4 or t in terms:
            continue
        for u in terms:
            n = min(COGNATE_PREFIX, len(t), len(u))
            if n >= 4 and t[:n] == u[:n] and t.isalpha() and u.isalpha():
                found.add(t)
                break
    return found


# A plain negation ("Which river does not ...", "n'est pas", "nicht", "nunca"); "without",
# "no" and "kein" are left out: users ask "without getting hacked" of the positive answer.
_NEGATION = re.compile(r"\b(not|never|cannot|pas|jamais|nicht|nie|niemals|nunca)\b|n't\b", re.I)
# A span answers a negated question with any negation of its own ("n'a fourni ... aucune
# miette", "no weapons", "keine Waffen", "sin armas").
_NEGATED = re.compile(
    r"\b(not|never|cannot|no|none|nothing|nobody|without|pas|jamais|aucune?|rien|ne|n|"
    r"nicht|nie|niemals|kein\w*|nichts|ohne|nunca|ningun\w*|nada|sin)\b|n't\b",
    re.I,
)
_TOKEN = re.compile(r"\b\w[\w'’.-]*\w\b|\b\w\b")


def _names(question: str) -> set[str]:
    """The question's numbers and capitalised words past its first (folded): what an answer
    about the same thing names too."""
    tokens = _TOKEN.findall(question)
    return {
        fold(t)
        for i, t in enumerate(tokens)
        if any(c.isdigit() for c in t) or (i > 0 and t[0].isupper())
    }


@cache
def probe_questions() -> list[str]:
    """The off-topic probe questions of ``probes.txt``, one a line, comments left out."""
    lines = Path(__file__).with_name("probes.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def quoted_in(source_lang: str, question_lang: str) -> str | None:
    """ "quoted in French" when a quote's language is not the question's; else None."""
    if not source_lang or source_lang == question_lang:
        return None
    return f"quoted in {languages.name(source_lang)}"


@dataclass
class Scored:
    """The candidate sentences of a question, their features and their logits."""

    question: str
    spans: list[Span]
    features: np.ndarray  # (len(spans), len(FEATURES))
    logits: np.ndarray
    asks: Asks
    unknown: float = 0.0  # 1 when the question names a code term the corpus lacks

    def probability(self, i: int) -> float:
        return 1.0 / (1.0 + math.exp(-float(self.logits[i])))


@dataclass
class Choice:
    """The answer span for one question (or one part of a compound question)."""

    first: int  # indexes into ``Scored.spans``
    last: int
    best: int
    confidence: float
    features: tuple[float, ...]  # CONFIDENCE_FEATURES
    head: int | None = None  # file offset of a heading line quoted before the span


@answerers.register("extractive")
class ExtractiveAnswerer:
    """The best span of consecutive retrieved sentences, quoted verbatim with its citation."""

    name = "extractive"

    def __init__(self, settings: Settings, evidence: Evidence) -> None:
        self.settings = settings
        self.evidence = evidence
        calibration = evidence.calibration
        found = calibration.sentences
        self.sentences = SentenceModel(found[:-2], found[-2], found[-1]) if found else SENTENCES
        found = calibration.confidence
        self.confidence = ConfidenceModel(found[:-1], found[-1]) if found else CONFIDENCE
        self.crossing = calibration.crossing
        self.null = PROBE_NULL  # how answered off-topic questions look on this corpus
        self.nulls: dict[str, float] = {}  # the same, per language of the question
        self._last: tuple[tuple[str, tuple[str, ...]], Scored] | None = None

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
        chosen: list[tuple[Scored, Choice]] = []
        for n, part in enumerate(compound_parts(question)):
            scored = self.score(part, passages)
            choices = self.choices(scored)
            if not choices:
                chosen = []
                break
            if n == 0:
                passages = self._rated(passages, scored, choices)
            chosen.append((scored, max(choices, key=lambda c: scored.logits[c.best])))
        confidence = min((c.confidence for _, c in chosen), default=0.0)
        if confidence < self.threshold or not chosen:
            return Answer(
                question,
                NOT_IN_DOCUMENTS,
                [],
                True,
                passages=list(passages),
                answerer=self.name,
                confidence=confidence,
            )
        asked_in = self.evidence.language(question)
        citations: list[Citation] = []
        sentences: list[AnswerSentence] = []
        for scored, choice in chosen:
            quote = self._quote(scored, choice)
            whole = scored.spans[choice.first].start if choice.head is None else choice.head
            cut = (quote.start, quote.end) != (whole, scored.spans[choice.last].end)
            score = choice.confidence
            # The parts of a compound question answered by overlapping quotes of one passage
            # share one quote, their union, rather than repeating its sentences.
            k = next(
                (k for k, c in enumerate(citations)
                 if c.chunk_id == quote.chunk.id and c.start < quote.end and quote.start < c.end),
                len(citations),
            )  # fmt: skip
            if k < len(citations):
                old = citations[k]
                start, end = min(old.start, quote.start), max(old.end, quote.end)
                quote = Span(quote.chunk, start, end, quote.rank)
                cut = cut or sentences[k].text.startswith("…")
                score = max(score, old.score)
            shown = " ".join(quote.text.split())
            note = quoted_in(self._language(quote), asked_in)
            cited = Citation.of(quote.chunk, quote.text, quote.start, quote.end, score)
            sentence = AnswerSentence(f"…{shown}…" if cut else shown, [k + 1], score, note=note)
            if k < len(citations):
                citations[k], sentences[k] = cited, sentence
            else:
                citations.append(cited)
                sentences.append(sentence)
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

    def rate(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` in the same order, each scored by the confidence of the best answer
        span it holds (the scale of citations and of the threshold)."""
        scored = self.score(question, passages)
        return self._rated(passages, scored, self.choices(scored))

    @staticmethod
    def _rated(passages: Sequence[Passage], scored: Scored, choices: list[Choice]) -> list[Passage]:
        spans = scored.spans
        values = np.zeros(len(spans))
        for c in choices:
            values[c.best] = c.confidence
        return rated(passages, spans, values)

    def calibrate(self, retrieve: Callable[[str], Sequence[Passage]]) -> None:
        """Learn how answered questions the corpus surely does not answer look on it: the
        median best sentence logit of ``PROBES`` off-topic questions (``probes.txt``), given
        the passages ``retrieve`` finds for each, and per language of the probes where
        ``PROBES_PER_LANGUAGE`` are in it (a question in another language than the pages
        finds every sentence less close). Confidence counts from there, so that a corpus where
        every question finds some close sentence (a technical manual) does not look as
        answered as one where only the right question does."""
        probes = probe_questions()[:PROBES]
        self._warm(probes)
        best: dict[str, list[float]] = {}
        for probe in probes:
            scored = self._score(probe, retrieve(probe))
            if scored.spans:
                lang = self.evidence.language(probe)
                best.setdefault(lang, []).append(float(scored.logits.max()))
        found = [b for values in best.values() for b in values]
        self.null = float(np.median(found)) if found else PROBE_NULL
        self.nulls = {
            lang: float(np.median(values))
            for lang, values in best.items()
            if len(values) >= PROBES_PER_LANGUAGE
        }

    def _warm(self, probes: list[str]) -> None:
        """Put the probes' query vectors in the evidence cache: from the model cache folder
        when an earlier process embedded them (they depend on the embedder alone), else
        embedded in one call and kept there."""
        ev = self.evidence
        key = hashlib.sha256("\n".join([ev.embedder.name, *probes]).encode()).hexdigest()[:16]
        path = model_cache_dir() / f"probes-{key}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (len(probes), ev.embedder.dim):
                ev.remember(probes, vectors)
                return
        except (OSError, ValueError):
            pass
        vectors = ev.vectors(probes)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors, allow_pickle=False)
            os.replace(tmp, path)

    # --- scoring -----------------------------------------------------------------------

    def score(self, question: str, passages: Sequence[Passage]) -> Scored:
        """Every candidate sentence of ``passages`` with its features and logit. The last
        result is kept: rating the retrieved passages and answering from them score the same
        sentences for the same question."""
        key = (question, tuple(p.chunk.id for p in passages))
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        scored = self._score(question, passages)
        self._last = (key, scored)
        return scored

    def _score(self, question: str, passages: Sequence[Passage]) -> Scored:
        ev = self.evidence
        spans = ev.spans(passages)
        asks = Asks.of(question)
        if not spans:
            return Scored(question, [], np.zeros((0, len(FEATURES))), np.zeros(0), asks)
        lang = ev.language(question)
        chunk_cos = ev.chunk_cosines(question, spans)
        wanted = ev.terms(question, lang)
        own = ev.span_terms(spans)
        # Terms are stemmed in each text's language; names, numbers and code terms match in
        # any language, so a sentence's words also count stemmed as the question's are.
        words_of = [set(ev.terms(s.text, lang)) | set(t) for s, t in zip(spans, own, strict=True)]
        # Prose clearly in another language than the question (a line of code or names in a
        # German chapter is no more German than English): its cosines are lower than the
        # same sentence's in the question's language would be, by the measured drop, and its
        # words count for the question's by their cognates ("novembre", "Alep").
        foreign = np.array(
            [1.0 if ev.quote_language(s.text) not in ("", lang) else 0.0 for s in spans]
        )
        for i in np.flatnonzero(foreign):
            words_of[i] |= cognates(wanted, words_of[i])
        cov = np.array([ev.term_stats.coverage(wanted, t) for t in words_of])
        ctx = np.array(
            [ev.term_stats.coverage(wanted, t) for t in self._context_terms(spans, words_of)]
        )
        cos = self._cosines(question, spans, chunk_cos + 0.2 * cov)
        kind = np.array([self._kind(asks, s.text) for s in spans])
        if self.crossing is not None:
            cos = cos + self.crossing * foreign
            chunk_cos = chunk_cos + self.crossing * foreign
        code = np.array([1.0 if looks_like_code(s.text) else 0.0 for s in spans])
        floor = self.sentences.floor
        features = np.column_stack([cos - floor, cov, ctx, chunk_cos - floor, kind, foreign, code])
        logits = features @ np.array(self.sentences.weights) + self.sentences.bias
        unknown = self._unknown(question, lang, spans)
        return Scored(question, spans, features, logits, asks, unknown)

    def _unknown(self, question: str, lang: str, spans: list[Span]) -> float:
        """1.0 when the question names a code term or written-as-one name (``named_terms``)
        that no chunk of the corpus holds: one term the index never saw, or a compound
        (``Path.walk``) none of the retrieved chunks writes, nor its last part as a call or
        attribute (``.walk``, ``walk(``)."""
        ev = self.evidence
        text: str | None = None  # the retrieved chunks, folded once, when a compound needs it
        for name in named_terms(question):
            found = ev.terms(name, lang)
            if len(found) == 1:
                known = ev.term_stats.document_frequency(found[0]) > 0
            elif not found:
                known = True
            else:
                if text is None:
                    text = fold(" ".join({s.chunk.id: s.chunk.text for s in spans}.values()))
                tail = fold(name.rpartition(".")[2])
                known = fold(name) in text or f".{tail}" in text or f"{tail}(" in text
            if not known:
                return 1.0
        return 0.0

    def _cosines(self, question: str, spans: list[Span], preliminary: np.ndarray) -> np.ndarray:
        """Each sentence's own cosine with the question, from the vectors the store keeps;
        where it keeps none (``sentence_vectors`` off, another client's store), the
        ``EMBED_AT_MOST`` likeliest sentences by ``preliminary`` are embedded now and any
        others rank last."""
        ev = self.evidence
        query = ev.vectors([question])[0]
        texts = [s.embedded for s in spans]
        vectors = ev.stored([*dict.fromkeys(texts)])
        missing = list(dict.fromkeys(t for t in texts if t not in vectors))
        if missing:
            rank = {t: -float(preliminary[i]) for i, t in reversed(list(enumerate(texts)))}
            chosen = sorted(missing, key=rank.__getitem__)[:EMBED_AT_MOST]
            vectors.update(zip(chosen, ev.vectors(chosen, documents=True), strict=True))
        found = [float(vectors[t] @ query) for t in texts if t in vectors]
        lowest = min(found, default=0.0)
        return np.array([float(vectors[t] @ query) if t in vectors else lowest for t in texts])

    def _context_terms(self, spans: list[Span], own: Sequence[Iterable[str]]) -> list[set[str]]:
        """Each sentence's terms with those of the section titles it stands under and of the
        sentence before it in its passage."""
        ev = self.evidence
        out = []
        for i, span in enumerate(spans):
            terms = set(own[i])
            titles = span.chunk.section_at(span.start)
            if titles:
                terms.update(ev.terms(" ".join(titles), span.chunk.lang))
            if i and spans[i - 1].chunk.id == span.chunk.id:
                terms.update(own[i - 1])
            out.append(terms)
        return out

    @staticmethod
    def _kind(asks: Asks, text: str) -> float:
        """+1 when ``text`` holds what is asked; -1 (-0.5 for names and places, found less
        reliably) when it does not; 0 when the question asks for no particular kind."""
        found = asks.found(text)
        if found is None:
            return 0.0
        if found:
            return 1.0
        return -1.0 if asks.kind is not None and asks.kind.strict else -0.5

    # --- choosing -----------------------------------------------------------------------

    def choices(self, scored: Scored) -> list[Choice]:
        """For each passage, the answer span around its likeliest sentence, with the
        confidence in it."""
        best: dict[str, int] = {}
        for i, span in enumerate(scored.spans):
            key = span.chunk.id
            if key not in best or scored.logits[i] > scored.logits[best[key]]:
                best[key] = i
        return [self.choose(scored, i) for i in best.values()]

    def choose(self, scored: Scored, best: int | None = None) -> Choice:
        """The answer span around sentence ``best`` (the likeliest when None), and the
        confidence in it."""
        spans, logits = scored.spans, scored.logits
        if best is None:
            best = int(np.argmax(logits))
        near = float(logits[best]) - NEIGHBOUR_MARGIN
        first, last = window(spans, best, scored.asks.found, lambda i: float(logits[i]) >= near)
        text = " ".join(spans[i].text for i in range(first, last + 1))
        head = self._head(scored, spans[first], text)
        if head is not None:
            chunk = spans[first].chunk
            text = chunk.text[head - chunk.start : spans[first].start - chunk.start] + text
        elsewhere = [
            float(logits[i])
            for i in range(len(spans))
            if spans[i].chunk.source != spans[best].chunk.source
        ]
        lead = float(logits[best]) - max(elsewhere, default=float(logits[best]) - 4.0)
        found = scored.asks.found(text)
        kind = 0.0 if found is None else (1.0 if found else -1.0)
        foreign = float(scored.features[best, FEATURES.index("foreign")])
        missing, entity, negation = (
            (0.0, 0.0, 0.0) if foreign else self._missing(scored, first, last)
        )
        lang = self.evidence.language(scored.question)
        above = float(logits[best]) - self.nulls.get(lang, self.null)
        features = (
            above,
            max(min(lead, 4.0), -4.0),
            kind,
            missing,
            foreign,
            entity,
            negation,
            max(0.0, OFF_TOPIC - above),
            scored.unknown,
        )
        z = float(np.dot(self.confidence.weights, features)) + self.confidence.bias
        return Choice(first, last, best, 1.0 / (1.0 + math.exp(-z)), features, head)

    def _head(self, scored: Scored, first: Span, text: str) -> int | None:
        """Where the heading line right above the span starts, when it belongs in the quote:
        it holds what is asked and the span does not, or a question term the span lacks, or
        a code term a question about options or instructions wants (a function signature,
        a macro in the margin); short enough to fit. None otherwise."""
        found = heading_above(first)
        if found is None:
            return None
        start, end = found
        title = first.chunk.text[start - first.chunk.start : end - first.chunk.start]
        if words(title) > HEADING_WORDS or words(title) + words(text) > MAX_WORDS:
            return None
        asks = scored.asks
        ev = self.evidence
        lang = ev.language(scored.question)
        wanted = set(ev.terms(scored.question, lang))
        adds_terms = bool(wanted & set(ev.terms(title, lang)) - set(ev.terms(text, lang)))
        adds_kind = asks.found(title) is True and not asks.found(text)
        wants_code = asks.kind is not None and asks.kind.holds is CODE and bool(CODE.search(title))
        return start if adds_kind or adds_terms or wants_code else None

    def _missing(self, scored: Scored, first: int, last: int) -> tuple[float, float, float]:
        """What the span and its context (the sentence before it, its section titles) lack
        of the question: the IDF of the rarest question term absent, over the question's
        highest; whether a number or name of the question is absent; whether the question
        is negated and the span is not ("Which river does not ...")."""
        ev = self.evidence
        spans = scored.spans
        lang = ev.language(scored.question)
        wanted = set(ev.terms(scored.question, lang))
        around = range(first - 1 if first and spans[first - 1].chunk.id == spans[first].chunk.id
                       else first, last + 1)  # fmt: skip
        held: set[str] = set()
        texts = []
        for i in around:
            titles = " ".join(spans[i].chunk.section_at(spans[i].start))
            held.update(ev.terms(spans[i].text, spans[i].chunk.lang))
            held.update(ev.terms(spans[i].text, lang))
            held.update(ev.terms(titles, lang))
            texts += [spans[i].text, titles]
        idf = {t: ev.term_stats.idf(t) for t in wanted}
        absent = [idf[t] for t in wanted if t not in held]
        missing = max(absent, default=0.0) / max(idf.values()) if idf else 0.0
        folded = fold(" ".join(texts))
        entity = any(name not in folded for name in _names(scored.question))
        span = " ".join(spans[i].text for i in range(first, last + 1))
        negation = bool(_NEGATION.search(scored.question)) and not _NEGATED.search(span)
        return missing, float(entity), float(negation)

    def _quote(self, scored: Scored, choice: Choice) -> Span:
        """The span's text as one quote: with its heading line while that fits, up to
        ``CONTINUED_WORDS`` words when ``window`` let a continuing sentence in, else cut to
        ``MAX_WORDS`` words around the best part when a single sentence is longer."""
        spans = scored.spans
        first, last = spans[choice.first], spans[choice.last]
        limit = CONTINUED_WORDS if choice.last > choice.first else MAX_WORDS
        for start in (first.start if choice.head is None else choice.head, first.start):
            quote = Span(first.chunk, start, last.end, first.rank)
            if words(quote.text) <= limit:
                return quote
        return self._trim(scored, spans[choice.best])

    def _trim(self, scored: Scored, span: Span) -> Span:
        """The ``MAX_WORDS``-word window of ``span`` holding the most question terms (and
        what the question asks for)."""
        found = list(_WORD_RE.finditer(span.text))
        if len(found) <= MAX_WORDS:
            return span
        ev = self.evidence
        wanted = ev.terms(scored.question, ev.language(scored.question))
        word_terms = ev.terms_of([m.group() for m in found], span.chunk.lang)
        best_score, best_at = -1.0, 0
        for at in range(len(found) - MAX_WORDS + 1):
            piece = span.text[found[at].start() : found[at + MAX_WORDS - 1].end()]
            in_window = {t for ts in word_terms[at : at + MAX_WORDS] for t in ts}
            score = ev.term_stats.coverage(wanted, in_window)
            if scored.asks.found(piece):
                score += 1.0
            if score > best_score:
                best_score, best_at = score, at
        start = span.start + found[best_at].start()
        end = span.start + found[best_at + MAX_WORDS - 1].end()
        return Span(span.chunk, start, end, span.rank)

    def _language(self, quote: Span) -> str:
        """The quote's own language (``Evidence.quote_language``)."""
        return self.evidence.quote_language(quote.text)
