"""Answerers turn retrieved passages into a cited ``Answer``; one protocol, a name registry.

Built-ins: ``extractive`` (no LLM) and ``openai`` (any OpenAI-compatible server). Both register
themselves here when their module is imported, exactly as a third-party answerer would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from qa.evidence import Evidence
from qa.registry import Registry
from qa.schema import Answer, Passage
from qa.settings import Settings


@dataclass
class Turn:
    """One question of a conversation and the answer it got."""

    question: str
    answer: Answer


class Answerer(Protocol):
    """Writes answers from passages; also decides what to retrieve for a follow-up."""

    name: str

    def query_for(self, question: str, history: Sequence[Turn]) -> str:
        """The retrieval query for ``question`` given the conversation so far."""
        ...

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final ``Answer``."""
        ...


answerers: Registry[Answerer] = Registry("answerer")


def abstain_threshold(settings: Settings, evidence: Evidence) -> float:
    """The confidence the extractive answerer abstains below: the setting, else the
    embedder's calibration."""
    if settings.abstain_threshold is not None:
        return settings.abstain_threshold
    return evidence.calibration.answer


def support_threshold(settings: Settings, evidence: Evidence) -> float:
    """Below this evidence an LLM sentence is flagged: the setting, else the embedder's
    calibrated evidence threshold."""
    if settings.support_threshold is not None:
        return settings.support_threshold
    return evidence.calibration.abstain


def create_answerer(name: str, settings: Settings, evidence: Evidence) -> Answerer:
    """Build a registered answerer, importing the built-ins on first use."""
    from qa.answerers import extractive, openai_chat  # noqa: F401  (registration)

    return answerers.create(name, settings=settings, evidence=evidence)


# Words that make a question lean on the turn before it (English and French): pronouns and
# possessives, demonstratives, "there/then", and openings like "and ...?" or "what about ...?".
_DEPENDS = re.compile(
    r"\b(he|him|his|she|her|hers|it|its|they|them|their|theirs|this|that|these|those|"
    r"there|then|the same|il|elle|ils|elles|lui|leur|leurs|son|sa|ses|ce|cet|cette|ces|"
    r"celui|celle|ceux|celles|y|là)\b|^\s*(and|or|but|so|also|what about|how about|et|ou|mais|"
    r"alors|aussi|et pour)\b",
    re.IGNORECASE,
)


def depends_on_history(question: str) -> bool:
    """True when ``question`` cannot be understood without the previous turn: it has a pronoun
    or demonstrative ("What did he say?", "that briefing"), opens like "And in 2015?", or is a
    fragment of two words or fewer."""
    words = question.split()
    return len(words) <= 2 or bool(_DEPENDS.search(question))


def fold_history(question: str, history: Sequence[Turn]) -> str:
    """Offline follow-up resolution: the previous question is folded into the query, but only
    when ``question`` depends on it; an unrelated question is retrieved exactly as if asked
    alone."""
    if not history or not depends_on_history(question):
        return question
    return f"{history[-1].question} {question}"
