"""Citations: parse ``[n]`` markers out of generated text and verify each against its source.

A marker must point at a retrieved passage (else it is dropped and never shown); the quote of
every citation is a verbatim span of the source file with its offsets; a sentence whose cited
passage does not support it, or whose quoted words are not in that file, is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from qa.evidence import Evidence, Span
from qa.lang import detect
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.text import fold, sentence_spans

MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_QUOTED = re.compile(r"\"([^\"]{12,})\"|“([^”]{12,})”|«\s*([^»]{12,}?)\s*»")
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_WORD = re.compile(r"[^\W\d_]{2,}|\d")
_LETTERS = re.compile(r"[^\W\d_]+")
_NAME_PREFIX = 5  # "Russian" matches "Russia's", "Defense" "Defence", "Alep" "Aleppo"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*|\b[a-z]+\b")
_NUMBER_WORDS = {  # "one"/"un" are left out: they are mostly articles
    "two": "2", "deux": "2", "three": "3", "trois": "3", "four": "4", "quatre": "4",
    "five": "5", "cinq": "5", "six": "6", "seven": "7", "sept": "7", "eight": "8", "huit": "8",
    "nine": "9", "neuf": "9", "ten": "10", "dix": "10", "eleven": "11", "onze": "11",
    "twelve": "12", "douze": "12",
}  # fmt: skip


@dataclass
class ParsedSentence:
    """A generated sentence with its markers removed and the passage numbers they named."""

    text: str
    numbers: list[int]


def parse_markers(answer_text: str) -> list[ParsedSentence]:
    """Split generated text into sentences and pull out the ``[n]`` / ``[n, m]`` markers.

    A run of markers that starts a sentence (after the splitter cut before it) belongs to the
    sentence before.
    """
    pieces = [answer_text[s:e] for s, e in sentence_spans(answer_text, lang="en")]
    out: list[ParsedSentence] = []
    for piece in pieces:
        lead = re.match(r"^(?:\s*\[[\d\s,;]+\])+", piece)
        if lead and out:
            out[-1].numbers += marker_numbers(lead.group())
            piece = piece[lead.end() :]
        numbers = marker_numbers(piece)
        text = _SPACES.sub(" ", MARKER.sub("", piece)).strip()
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if _WORD.search(text):  # a piece of bare punctuation ('":') is no sentence
            out.append(ParsedSentence(text, numbers))
        elif out:
            out[-1].numbers += numbers
    return out


def marker_numbers(text: str) -> list[int]:
    """The passage numbers named by the ``[n]`` / ``[n, m]`` markers in ``text``."""
    found: list[int] = []
    for group in MARKER.findall(text):
        found += [int(n) for n in re.split(r"[,;]", group) if n.strip()]
    return found


def is_not_found(text: str) -> bool:
    """True when ``text`` is (essentially) the fixed "not in the documents" sentence."""
    core = _SPACES.sub(" ", MARKER.sub("", fold(text))).strip(" .")
    return core == fold(NOT_IN_DOCUMENTS).strip(" .")


def quoted_phrases(sentence: str) -> list[str]:
    """Phrases the sentence puts in quotation marks (at least 12 characters)."""
    return [next(g for g in m.groups() if g) for m in _QUOTED.finditer(sentence)]


def verify(
    question: str,
    answer_text: str,
    passages: Sequence[Passage],
    evidence: Evidence,
    *,
    support_threshold: float,
    answerer: str,
    withhold: Callable[[str], bool] | None = None,
    repair_threshold: float | None = None,
) -> Answer:
    """Turn generated text into an ``Answer`` whose citations are all checked.

    Citations are renumbered in order of first use, so ``[n]`` in the returned text is
    ``citations[n-1]``. Sentences for which ``withhold`` is true (e.g. leaked instructions)
    are left out entirely; when nothing is left the answer is the "not in the documents" one.
    With ``repair_threshold``, a sentence with no valid marker is given the retrieved
    sentence that supports it best as an *inferred* citation (``Citation.inferred``) when that
    support reaches the threshold; otherwise it stays flagged.
    """
    parsed_sentences = parse_markers(answer_text)
    if withhold is not None and parsed_sentences:
        parsed_sentences = [p for p in parsed_sentences if not withhold(p.text)]
        answer_text = answer_text if parsed_sentences else NOT_IN_DOCUMENTS
    if is_not_found(answer_text):
        return Answer(
            question, NOT_IN_DOCUMENTS, [], True, passages=list(passages), answerer=answerer
        )
    citations: list[Citation] = []
    index: dict[tuple[str, int, int], int] = {}
    sentences: list[AnswerSentence] = []

    def cite(span: Span, support: float, inferred: bool = False) -> int:
        key = (span.chunk.source, span.start, span.end)
        if key not in index:
            c = Citation.of(span.chunk, span.text, span.start, span.end, support)
            citations.append(replace(c, inferred=inferred))
            index[key] = len(citations)
        return index[key]

    for parsed in parsed_sentences:
        valid = [n for n in dict.fromkeys(parsed.numbers) if 1 <= n <= len(passages)]
        numbers: list[int] = []
        best_support = 0.0
        flag = None
        for n in valid:
            support, span = evidence.best_support(parsed.text, passages[n - 1].chunk)
            if span is None:
                continue
            best_support = max(best_support, support)
            numbers.append(cite(span, support))
        cited = [passages[n - 1].chunk.text for n in valid]
        cited_langs = [passages[n - 1].chunk.lang for n in valid]
        if not valid and repair_threshold is not None:
            support, span = _best_sentence(parsed.text, passages, evidence)
            if span is not None and support >= repair_threshold:
                best_support = support
                numbers.append(cite(span, support, inferred=True))
                cited = [span.chunk.text]
                cited_langs = [span.chunk.lang]
        quotes = quoted_phrases(parsed.text)
        cited_text = " ".join(cited)
        if not _WORD.search(_TAG.sub(" ", parsed.text)):
            flag = "no words or numbers (markup or symbols only)"
        elif not numbers:
            flag = "no valid citation" if parsed.numbers else "no citation"
        elif any(_normalise(q) not in _normalise(cited_text) for q in quotes):
            flag = "quoted words not found in the cited source"
        elif missing := numbers_missing(parsed.text, cited_text):
            flag = f"numbers not in the cited source: {', '.join(missing)}"
        elif best_support < support_threshold:
            flag = f"cited passage does not support it (support {best_support:.2f})"
        elif missing := names_missing(parsed.text, cited_text, _cited_langs(cited_langs)):
            flag = f"names not in the cited source: {', '.join(missing)}"
        sentences.append(AnswerSentence(parsed.text, numbers, best_support, flag))
    return Answer(
        question,
        compose(sentences),
        citations,
        abstained=not citations,
        sentences=sentences,
        passages=list(passages),
        answerer=answerer,
    )


def keep_supported(answer: Answer) -> Answer:
    """Strict grounding: ``answer`` with its flagged sentences moved out of the text into
    ``Answer.unsupported`` and the citations only they used dropped (the rest renumbered).
    An answer with no supported sentence left is abstained."""
    flagged = [s for s in answer.sentences if s.flag]
    if not flagged:
        return answer
    kept = [s for s in answer.sentences if not s.flag]
    used = list(dict.fromkeys(n for s in kept for n in s.citations))
    renumber = {old: new for new, old in enumerate(used, start=1)}
    sentences = [replace(s, citations=[renumber[n] for n in s.citations]) for s in kept]
    citations = [answer.citations[n - 1] for n in used]
    return replace(
        answer,
        text=compose(sentences) if sentences else NOT_IN_DOCUMENTS,
        citations=citations,
        sentences=sentences,
        abstained=not citations,
        unsupported=[*answer.unsupported, *(s.text for s in flagged)],
    )


def _best_sentence(
    claim: str, passages: Sequence[Passage], evidence: Evidence
) -> tuple[float, Span | None]:
    """The retrieved sentence that supports ``claim`` best, and its support."""
    spans = evidence.spans(passages)
    if not spans:
        return 0.0, None
    scores = evidence.score(claim, spans)
    best = int(scores.argmax())
    return float(scores[best]), spans[best]


def numbers_missing(claim: str, source: str) -> list[str]:
    """Numbers the claim states (digits or number words) that the source never mentions."""
    return sorted(_numbers_in(claim) - _numbers_in(source))


def names_missing(claim: str, source: str, source_langs: Sequence[str] = ()) -> list[str]:
    """Capitalised words of the claim (past its first word) that the source never mentions.

    A word is found when a word of the source starts with its first five letters, case- and
    accent-insensitively. Checked only when the claim is in the source's language (a name is
    spelt differently across languages: Putin, Poutine), or the source's language is unknown,
    and never in German, which capitalises every noun.
    """
    words = _LETTERS.findall(claim)[1:]
    names = [w for w in words if len(w) >= 3 and w[0].isupper()]
    if not names:
        return []
    lang = detect(claim, among=source_langs)
    if lang == "de" or (source_langs and lang not in source_langs):
        return []
    known = {w[:_NAME_PREFIX] for w in _LETTERS.findall(fold(source))}
    missing = [n for n in names if fold(n)[:_NAME_PREFIX] not in known and not _prefixes(n, known)]
    return sorted(set(missing))


def _prefixes(name: str, known: set[str]) -> bool:
    """Whether a short name ("Alep") starts a source word ("Aleppo")."""
    key = fold(name)
    return len(key) < _NAME_PREFIX and any(k.startswith(key) for k in known)


def _cited_langs(langs: Sequence[str]) -> list[str]:
    return [lang for lang in dict.fromkeys(langs) if lang]


def _numbers_in(text: str) -> set[str]:
    found = set()
    for token in _NUMBER.findall(fold(text)):
        if token[0].isdigit():
            found.add(token.replace(",", ""))
        elif token in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[token])
    return found


def compose(sentences: Sequence[AnswerSentence]) -> str:
    """Answer text: each sentence followed by its markers and note, e.g.
    ``It lasted ten hours. [1]`` or ``Elle a duré dix heures. [1] (quoted in French)``."""
    return " ".join(
        s.text
        + (" " + "".join(f"[{n}]" for n in s.citations) if s.citations else "")
        + (f" ({s.note})" if s.note else "")
        for s in sentences
    )


def _normalise(text: str) -> str:
    return _SPACES.sub(" ", fold(text).replace("’", "'")).strip()
