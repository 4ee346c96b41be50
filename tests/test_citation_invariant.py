"""Property: every citation ever produced is a verbatim span, ``source[start:end] == quote``,
and every ``[n]`` marker in an answer names one of its citations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.cite import keep_supported, verify
from qa.embed import HashingEmbedder
from tests.helpers import SEEDS

WORDS = sorted(
    {w for f in SEEDS.glob("*.txt") for w in re.findall(r"\w+", f.read_text(encoding="utf-8"))}
)
QUESTION_WORDS = ["How", "Who", "When", "Where", "What", "Combien", "Où", "long", "many"]


@pytest.fixture(scope="module")
def hashing_assistant(tmp_path_factory: pytest.TempPathFactory) -> qa.Assistant:
    return qa.Assistant.from_folder(
        SEEDS, store=tmp_path_factory.mktemp("store"), embedder=HashingEmbedder()
    )


def _assert_consistent(answer: qa.Answer, corpus: Path = SEEDS) -> None:
    for c in answer.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote
    for n in re.findall(r"\[(\d+)\]", answer.text):
        assert 1 <= int(n) <= len(answer.citations)
    assert answer.abstained == (not answer.citations)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.tuples(
        st.sampled_from(QUESTION_WORDS), st.lists(st.sampled_from(WORDS), min_size=1, max_size=8)
    )
)
def test_extractive_citations_are_verbatim(
    hashing_assistant: qa.Assistant, parts: tuple[str, list[str]]
) -> None:
    question = " ".join([parts[0], *parts[1]]) + "?"
    _assert_consistent(hashing_assistant.ask(question))


sentence = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
    st.lists(st.integers(min_value=-1, max_value=12), max_size=3),
    st.booleans(),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sentence, min_size=1, max_size=4), st.booleans(), st.booleans())
def test_verified_llm_citations_are_verbatim(
    hashing_assistant: qa.Assistant,
    sentences: list[tuple[list[str], list[int], bool]],
    repair: bool,
    strict: bool,
) -> None:
    passages = hashing_assistant.retrieve("humanitarian pause Aleppo")
    parts = []
    for words, numbers, quoted in sentences:
        body = " ".join(words)
        if quoted:
            body = f'He said "{body} and more words here"'
        parts.append(body + "".join(f"[{n}]" for n in numbers) + ".")
    answer = verify(
        "q",
        " ".join(parts),
        passages,
        hashing_assistant.evidence,
        support_threshold=0.45,
        answerer="test",
        repair_threshold=0.45 if repair else None,
    )
    _assert_consistent(answer)
    if not repair:
        assert not any(c.inferred for c in answer.citations)
    if strict:  # what strict grounding keeps is consistent too, and nothing flagged is left
        kept = keep_supported(answer)
        _assert_consistent(kept)
        assert not kept.flagged
        assert kept.unsupported == [s.text for s in answer.flagged]
        assert [s.text for s in kept.sentences] == [s.text for s in answer.sentences if not s.flag]
