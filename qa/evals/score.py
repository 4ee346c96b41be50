"""Deterministic scoring of one answer against its expectation: facts, citations, abstention,
quotes at their offsets, and retrieval hit@k / MRR (llama-index's retrieval metrics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.evals.cases import Expectation
from qa.text import fold


@dataclass
class Record:
    """What an answer is scored on; also what the answer cache stores."""

    text: str
    citations: list[dict[str, Any]]
    abstained: bool
    retrieved: list[str]  # source files of the retrieved passages, best first
    flagged: int = 0  # sentences shown with a flag (not supported by their citations)
    unsupported: int = 0  # sentences strict grounding kept out of the text
    answerer: str = ""  # who answered: "openai:<model>", or "extractive" (a fallback)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnScore:
    """The verdict for one scored turn, with the reasons."""

    question: str
    passed: bool
    found: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    cited_pages: list[str] = field(default_factory=list)  # "file:page" of paged citations
    citation_precision: float | None = None
    citation_recall: float | None = None
    quotes_verbatim: bool = True
    flagged: int = 0
    unsupported: int = 0
    answerer: str = ""
    abstained: bool = False
    abstain_expected: bool = False
    hit_at_k: float | None = None
    mrr: float | None = None
    source_right: bool | None = None  # an expected source cited (None: none expected)
    page_right: bool | None = None  # ... on an expected page (None: no pages expected)
    problems: list[str] = field(default_factory=list)
    answer: str = ""


def has_phrase(text: str, phrase: str) -> bool:
    """Case- and accent-insensitive containment."""
    return fold(phrase) in fold(text)


SourceText = Callable[[str], "str | None"]  # the indexed text of a source, None if unknown


def score_turn(expect: Expectation, record: Record, source_text: SourceText) -> TurnScore:
    """Score ``record`` against ``expect``; ``passed`` says whether the turn is right.
    ``source_text`` gives the text each source was indexed as (quotes are checked in it)."""
    from llama_index.core.evaluation.retrieval.metrics import MRR, HitRate

    cited = list(dict.fromkeys(c["source"] for c in record.citations))
    quotes_ok = all(_verbatim(c, source_text) for c in record.citations)
    paged = [c for c in record.citations if c.get("page") is not None]
    score = TurnScore(
        question=expect.question,
        passed=False,
        cited=cited,
        cited_pages=list(dict.fromkeys(f"{c['source']}:{c['page']}" for c in paged)),
        quotes_verbatim=quotes_ok,
        abstained=record.abstained,
        abstain_expected=expect.abstain,
        answer=record.text,
        flagged=record.flagged,
        unsupported=record.unsupported,
        answerer=record.answerer,
    )
    if not quotes_ok:
        score.problems.append("a quote is not verbatim at its offsets")
    if expect.abstain:
        score.passed = record.abstained and quotes_ok
        if not record.abstained:
            score.problems.append("answered instead of abstaining")
        return score
    if record.abstained:
        score.problems.append("abstained")
    for phrasings in expect.facts:
        hit = next((p for p in phrasings if has_phrase(record.text, p)), None)
        (score.found if hit else score.missed).append(hit or " | ".join(phrasings))
    if score.missed:
        score.problems.append("missed: " + "; ".join(score.missed))
    if expect.sources:
        expected = set(expect.sources)
        right = [c for c in cited if c in expected]
        score.citation_precision = len(right) / len(cited) if cited else 0.0
        score.citation_recall = len(right) / len(expected)
        score.source_right = bool(right)
        if expect.pages:
            score.page_right = any(
                c["source"] in expected and c.get("page") in expect.pages for c in record.citations
            )
        if not right:
            score.problems.append("no expected source cited")
        elif score.page_right is False:
            pages = ", ".join(map(str, expect.pages))
            score.problems.append(f"no expected source cited on page {pages}")
        retrieved = list(dict.fromkeys(record.retrieved))
        if not retrieved:  # an answer that kept no passage (llama-index's metrics refuse it)
            score.hit_at_k = score.mrr = 0.0
        else:
            score.hit_at_k = (
                HitRate().compute(expected_ids=expect.sources, retrieved_ids=retrieved).score
            )
            score.mrr = MRR().compute(expected_ids=expect.sources, retrieved_ids=retrieved).score
    score.passed = not score.problems
    return score


def _verbatim(citation: dict[str, Any], source_text: SourceText) -> bool:
    text = source_text(citation["source"])
    return text is not None and text[citation["start"] : citation["end"]] == citation["quote"]
