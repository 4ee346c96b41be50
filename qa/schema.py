"""The records that flow through ``qa``: chunks, retrieved passages, citations and answers.

Provenance is explicit: an ``Answer`` holds ``Citation``s, each pointing at a verbatim span
(``source``, ``start``, ``end``) of a corpus file and at the ``Chunk`` it was found in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A piece of a corpus file: ``text == file_text[start:end]``."""

    id: str
    source: str  # path relative to the corpus root, '/'-separated
    text: str
    start: int
    end: int
    index: int  # position of the chunk within its file
    file_hash: str
    # Sentence (start, end) offsets in the source file, found at index time so that answering
    # needs no sentence splitter; empty when unknown (then they are found on demand).
    sentences: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    lang: str = field(default="", compare=False)  # ISO 639-1 code found at ingest; "" unknown
    page: int | None = field(default=None, compare=False)  # 1-based page of ``start``; unpaged
    page_breaks: tuple[int, ...] = field(default=(), compare=False, repr=False)  # page starts
    # The headings ``start`` stands under, outermost first, as (level, title); and the
    # (start, end, level) file spans of the heading lines inside the chunk.
    section: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)
    headings: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page of file offset ``offset`` inside this chunk (None when unpaged)."""
        if self.page is None:
            return None
        return self.page + sum(1 for b in self.page_breaks if b <= offset)

    def section_at(self, offset: int) -> tuple[str, ...]:
        """The titles of the headings file offset ``offset`` stands under, outermost first:
        the chunk's ``section``, then the headings inside it before ``offset``."""
        stack = list(self.section)
        for start, end, level in self.headings:
            if start >= offset:
                break
            stack = under(stack, level, self.text[start - self.start : end - self.start])
        return tuple(title for _, title in stack)

    def in_heading(self, start: int, end: int) -> bool:
        """Whether file span ``start:end`` lies inside one of the chunk's heading lines."""
        return any(s <= start and end <= e for s, e, _ in self.headings)

    def sentence_text(self, start: int, end: int) -> str:
        """What the sentence at file span ``start:end`` is embedded as: its text, after the
        title of the section it stands in when it has one ("gzip.open(filename, …): The
        default is 9."), so that its vector knows what it is about."""
        text = self.text[start - self.start : end - self.start]
        titles = self.section_at(start)
        return f"{titles[-1]}: {text}" if titles else text

    @property
    def indexed_text(self) -> str:
        """What is embedded and indexed for the chunk: the titles it stands under (one line),
        then its text, so a passage that never names its subject is still found by it."""
        if not self.section:
            return self.text
        return " › ".join(title for _, title in self.section) + "\n\n" + self.text


def under(
    stack: list[tuple[int, str]], level: int, title: str, depth: int = 3
) -> list[tuple[int, str]]:
    """The heading stack after a heading of ``level`` titled ``title``: it closes the headings
    of its level and deeper; at most ``depth`` are kept, the outermost (the document's title)
    and the innermost."""
    kept = [(lvl, t) for lvl, t in stack if lvl < level]
    found = [*kept, (level, " ".join(title.split()))]
    return found if len(found) <= depth else [found[0], *found[len(found) - depth + 1 :]]


@dataclass
class Passage:
    """A chunk returned by retrieval.

    ``score`` is how well it answers the question on the evidence scale (the best score of its
    sentences: the scale of citation scores and of the abstention threshold), once rated by
    ``Evidence.rate`` (``Assistant.retrieve`` does it); ``fused`` is its rank-fusion score and
    ``rank`` its place in the fused retrieval list.
    """

    chunk: Chunk
    score: float
    rank: int
    fused: float = 0.0
    best: tuple[int, int] | None = None  # file offsets of the sentence that gave ``score``

    @property
    def best_text(self) -> str:
        """The sentence that gave ``score`` (the chunk's text when unknown)."""
        if self.best is None:
            return self.chunk.text
        start, end = self.best
        return self.chunk.text[start - self.chunk.start : end - self.chunk.start]


@dataclass(frozen=True)
class Citation:
    """A verbatim quote of a corpus file backing one answer sentence."""

    source: str
    quote: str
    start: int
    end: int
    score: float
    chunk_id: str = ""
    lang: str = ""  # language of the quoted passage (ISO 639-1), when known
    page: int | None = None  # 1-based page where the quote starts; None for unpaged formats
    page_end: int | None = None  # the page where it ends (> page when it runs over a break)
    inferred: bool = False  # the model wrote no marker: qa chose the passage that supports it

    @classmethod
    def of(cls, chunk: Chunk, quote: str, start: int, end: int, score: float) -> Citation:
        """A citation of ``chunk``'s text ``quote`` at file offsets ``start:end``."""
        page = chunk.page_at(start)
        page_end = chunk.page_at(max(start, end - 1))
        return cls(chunk.source, quote, start, end, score, chunk.id, chunk.lang, page, page_end)

    @property
    def where(self) -> str:
        """``file``, or ``file · p. 2`` (``file · p. 2, continues on p. 3`` for a quote that
        runs over a page break)."""
        if self.page is None:
            return self.source
        runs_on = self.page_end is not None and self.page_end > self.page
        return f"{self.source} · p. {self.page}" + (
            f", continues on p. {self.page_end}" if runs_on else ""
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: source, quote, start, end, page, page_end, score, lang, inferred."""
        return {
            "source": self.source,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "page_end": self.page_end,
            "score": round(self.score, 4),
            "lang": self.lang,
            "inferred": self.inferred,
        }


@dataclass
class AnswerSentence:
    """One sentence of an answer, the citations it carries and how well they support it."""

    text: str
    citations: list[int]  # 1-based numbers of ``Answer.citations``
    support: float
    flag: str | None = None  # why the sentence is not (fully) supported, if it is not
    note: str | None = None  # shown after the markers, e.g. "quoted in French"


@dataclass
class Answer:
    """An answer whose ``[n]`` markers point at ``citations[n-1]``."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # what was retrieved, closest first
    answerer: str = ""
    incomplete: bool = False  # the LLM stream broke off before the answer was finished
    notice: str | None = None  # something the reader should know about how it was produced
    confidence: float | None = None  # best evidence score, where the answerer computes one
    # Generated sentences no source supports, kept out of ``text`` (strict grounding).
    unsupported: list[str] = field(default_factory=list)

    def closest(self, n: int = 3) -> list[Passage]:
        """The ``n`` passages that answer the question best (by ``score``), best first; of
        overlapping chunks whose best sentence is the same, only the first."""
        out: list[Passage] = []
        seen: set[tuple[str, tuple[int, int]]] = set()
        for p in sorted(self.passages, key=lambda p: -p.score):
            key = (p.chunk.source, p.best or (p.chunk.start, p.chunk.end))
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out[:n]

    @property
    def flagged(self) -> list[AnswerSentence]:
        """Sentences whose citations do not support them."""
        return [s for s in self.sentences if s.flag]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: text, citations, abstained, plus flags and the closest passages."""
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "flagged": [{"sentence": s.text, "reason": s.flag} for s in self.flagged],
            "incomplete": self.incomplete,
            "notice": self.notice,
            "answerer": self.answerer,
            "unsupported": self.unsupported,
            "closest": [
                {
                    "source": p.chunk.source,
                    "start": p.chunk.start,
                    "end": p.chunk.end,
                    "score": round(p.score, 4),
                }
                for p in self.closest()
            ],
        }
