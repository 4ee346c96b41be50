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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.schema import Chunk

_WORD = re.compile(r"\w+", re.UNICODE)
MIN_WORDS = 3  # an evidence span has at least this many words
_LINE = re.compile(r"[^\n]+")


@cache
def _punkt(language: str) -> Any:
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer(language)  # punkt_tab from llama-index's bundled NLTK cache


@cache
def stopwords() -> frozenset[str]:
    """English, French, Spanish and German stopwords (accents folded), always dropped."""
    return frozenset().union(*(_folded_stopwords(code) for code in ("en", "fr", "es", "de")))


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


def terms(text: str, lang: str = "") -> list[str]:
    """Content terms: folded, stopwords removed, stemmed in ``lang`` (numbers kept as is)."""
    return terms_of([text], lang)[0]


def terms_of(texts: Sequence[str], lang: str = "") -> list[list[str]]:
    """``terms`` of texts of one language, stemmed in one call (per-call overhead dominates)."""
    from qa import lang as languages

    code = lang or languages.DEFAULT
    stop = _stopwords_for(code)
    # Stemmed before accents are folded (Snowball's French rules read them: "ordonné" and
    # "ordonnée" both give "ordon"), compared after (a question typed without accents).
    words = [
        [
            w
            for w in _WORD.findall(t.casefold())
            if fold(w) not in stop and (len(w) > 1 or w.isdigit())
        ]
        for t in texts
    ]
    stem = languages.stemmer(code) or languages.stemmer(languages.DEFAULT)
    stems = iter(stem.stemWords([w for ws in words for w in ws]))
    return [[fold(next(stems)) for _ in ws] for ws in words]


@cache
def _stopwords_for(code: str) -> frozenset[str]:
    """``stopwords()`` plus the language's own, built once per language (not per call)."""
    return stopwords() | _folded_stopwords(code)


@cache
def _folded_stopwords(code: str) -> frozenset[str]:
    """The language's NLTK stopwords (``qa.lang.stopwords``), accents folded."""
    from qa import lang as languages

    return frozenset(fold(w) for w in languages.stopwords(code))


@cache
def _punkt_language(code: str) -> str:
    """The NLTK Punkt model for an ISO code (English when there is none)."""
    from qa import lang as languages

    wanted = languages.name(code).lower()
    wanted = {"slovenian": "slovene"}.get(wanted, wanted)
    root = Path(os.environ.get("NLTK_DATA", "")) / "tokenizers" / "punkt_tab" / wanted
    return wanted if root.is_dir() else "english"


# Abbreviations that never end a sentence (lower case, with their dots), in the languages
# whose Punkt models miss them: "e.g. the", "z. B. ein", "p. ex. le".
_ABBREVIATIONS = (
    "e.g. i.e. cf. vs. viz. approx. incl. resp. fig. figs. no. nos. eq. sect. ch. vol. "
    "pp. z. z.b. d.h. u.a. bzw. vgl. ca. nr. ggf. evtl. inkl. bzgl. sog. p. ex. env. "
    "chap. éd. p.ex. ej. pág. núm. aprox."
)
_NEVER_LAST = frozenset(_ABBREVIATIONS.split())
# What a sentence may open with: a capital, a digit, an opening quote or bracket, a symbol
# (not a lower-case letter, which continues the sentence before it: "5 min. in", "e.g. the").
_LOWER_START = re.compile(r"[\"'“‘«(\[]*[^\W\d_]")  # after opening quotes or brackets only


def sentence_spans(text: str, offset: int = 0, lang: str = "") -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, shifted by ``offset``; never crosses a newline.

    ``lang`` (an ISO code; found from the text when empty) picks the Punkt model. Punkt's
    breaks are kept only where a sentence can end: not after an abbreviation that never ends
    one ("e.g.", "z. B."), and not before a lower-case word ("5 min. in the", a file name or
    URL whose dot Punkt took for a full stop)."""
    if not lang:
        from qa.lang import detect

        lang = detect(text)
    punkt = _punkt(_punkt_language(lang))
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        found: list[list[int]] = []
        for s, e in punkt.span_tokenize(line.group()):
            s, e = _trim(line.group(), s, e)
            if e <= s:
                continue
            if found and _continues(line.group(), found[-1][1], s):
                found[-1][1] = e
            else:
                found.append([s, e])
        spans += [(offset + line.start() + s, offset + line.start() + e) for s, e in found]
    return spans


def _continues(line: str, end: int, start: int) -> bool:
    """Whether the sentence starting at ``start`` continues the one ending at ``end``."""
    before = line[:end]
    last = before.rsplit(None, 1)[-1].casefold() if before.strip() else ""
    if last in _NEVER_LAST or (len(last) == 2 and last[0].isalpha() and last[1] == "."):
        return True  # an abbreviation, or an initial ("J. Smith")
    if not before.endswith("."):
        return False  # "?", "!", "…": a real end
    match = _LOWER_START.match(line, start)
    return bool(match and match.group()[-1].islower())


def evidence_spans(
    text: str, offset: int, sentences: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The spans evidence is scored on, in a chunk of ``text`` starting at ``offset`` whose
    sentences are ``sentences`` (offsets in the document): sentences of at least
    ``MIN_WORDS`` words. A shorter fragment ("/TASS/." after "MOSCOW, November 10.") joins
    the sentence before it on the same line instead of being dropped."""
    merged: list[list[int]] = []
    for start, end in sentences:
        short = len(text[start - offset : end - offset].split())
        gap = text[merged[-1][1] - offset : start - offset] if merged else "\n"
        if short < MIN_WORDS and "\n" not in gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [
        (start, end)
        for start, end in merged
        if len(text[start - offset : end - offset].split()) >= MIN_WORDS
    ]


_LEADERS = re.compile(r"(?:\.\s?){4,}|…{2,}|_{4,}|·{3,}")
_INDEX_LINE = re.compile(r"^[^\d]{2,60}?(?:,\s*\d+(?:[–-]\d+)?f?)+\s*$")


def is_junk(sentence: str) -> bool:
    """Whether a sentence is no answer whatever it says: a contents or index entry (dot
    leaders, "term, 12, 15–17"), or text that is mostly digits and symbols (a table of
    numbers, a line of code)."""
    if _LEADERS.search(sentence) or _INDEX_LINE.match(sentence):
        return True
    visible = [c for c in sentence if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    return letters < 0.5 * len(visible)


_CODE_LINE = re.compile(
    r"^\s*(>>>|\.\.\.|\$ |# |% |\d+\s+\\|[\w.]+\s*=\s*\S)|[{};]\s*$|"
    r"\\[A-Za-z@]+.*\\[A-Za-z@]+|\w+\([^)]*\)\s*$|\w+=\S+\s+\w+=\S+"
)
_CODE_SYMBOLS = frozenset("=(){}[];\\<>|@$%#")


def looks_like_code(sentence: str) -> bool:
    """Whether a line reads as code or a command rather than prose: a prompt (``>>>``, ``$``),
    an assignment, a call or block at its end, TeX macros, ``key=value`` pairs, or many of
    code's symbols."""
    text = sentence.strip()
    symbols = sum(c in _CODE_SYMBOLS for c in text)
    return bool(_CODE_LINE.search(text)) or symbols > 0.08 * max(1, len(text))


_SIGNATURE = re.compile(r"^\W*(?:\w+\s+)?[\w.]+\s*\(.*\)\W*$")


def is_signature(line: str) -> bool:
    """Whether a heading line is a function's or class's signature (``gzip.open(filename,
    mode='rb', compresslevel=9)``, ``exception shutil.SameFileError(...)``): it holds the
    defaults a description leaves out, so it may be quoted as an answer."""
    return bool(_SIGNATURE.match(line))


def evidence_of(chunk: Chunk) -> list[tuple[int, int]]:
    """The file spans of a chunk that answers are chosen from and sentence vectors kept for:
    its sentences (``chunk.sentences``, else split now) outside heading lines, with
    ``evidence_spans``' rules, less junk (``is_junk``); and its heading lines that are
    signatures (``is_signature``), whole."""
    sentences = chunk.sentences or tuple(
        sentence_spans(chunk.text, offset=chunk.start, lang=chunk.lang)
    )
    if chunk.headings:
        sentences = tuple(s for s in sentences if not chunk.in_heading(*s))
    found = [
        (start, end)
        for start, end in evidence_spans(chunk.text, chunk.start, sentences)
        if not is_junk(chunk.text[start - chunk.start : end - chunk.start])
    ]
    signatures = [
        (start, end)
        for start, end, _ in chunk.headings
        if is_signature(chunk.text[start - chunk.start : end - chunk.start])
    ]
    return sorted(found + signatures) if signatures else found


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class TermStats:
    """Document frequencies over the stored chunks, for IDF-weighted lexical evidence.

    ``documents`` are ``(text, lang)`` pairs: each is stemmed in its own language."""

    def __init__(self, documents: Iterable[tuple[str, str]]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        batches: dict[str, list[str]] = {}
        for text, lang in documents:
            batch = batches.setdefault(lang, [])
            batch.append(text)
            if len(batch) == 1000:
                self._count(batch, lang)
        for lang, batch in batches.items():
            self._count(batch, lang)

    def _count(self, batch: list[str], lang: str) -> None:
        for found in terms_of(batch, lang):
            self.n += 1
            self.df.update(set(found))
        batch.clear()

    def document_frequency(self, term: str) -> int:
        """How many of the documents have ``term``."""
        return self.df.get(term, 0)

    def idf(self, term: str) -> float:
        """BM25-style inverse document frequency, always positive."""
        df = self.document_frequency(term)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def coverage(self, query_terms: Iterable[str], text_terms: Iterable[str]) -> float:
        """IDF-weighted share of the query's distinct terms found in the text (0..1)."""
        q = set(query_terms)
        if not q:
            return 0.0
        found = q & set(text_terms)
        total = sum(self.idf(t) for t in q)
        return sum(self.idf(t) for t in found) / total if total else 0.0


OPENING_QUOTES = '“"«„'


def in_quotes(text: str) -> str:
    """``text`` between “ ”, unless it already opens with a quotation mark (no ““…””)."""
    return text if text.lstrip().startswith(tuple(OPENING_QUOTES)) else f"“{text}”"


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides/isolates
# that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\x0b-\x0d\x1c-\x1e\x85\u2028\u2029]")


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` safe for a terminal: control characters (ESC, BEL, C1, bidi overrides) shown
    as ``\\x1b``-style escapes, so a document cannot clear, recolour or retitle the screen;
    with ``one_line``, line breaks and tabs too (file names, reasons)."""
    if one_line:
        text = _LINE_BREAKS.sub(_escaped, text)
    return _CONTROL.sub(_escaped, text)
