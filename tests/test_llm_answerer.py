"""The LLM path through the real ``openai`` SDK against the scripted test server in tests/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.answerers.openai_chat import STRICT_ABSTAINED_NOTICE, LLMError
from tests.fake_llm import FakeLLM, Reply
from tests.helpers import SEEDS, assistant

pytestmark = pytest.mark.slow

PAUSE_Q = "How long did the previous humanitarian pause last?"


@pytest.fixture()
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


def _llm_assistant(llm: FakeLLM, store: Path, **settings: object) -> qa.Assistant:
    return assistant(
        SEEDS,
        store,
        answerer="openai",
        llm_base_url=llm.base_url,
        llm_api_key="test-key",
        llm_model="fake-model",
        llm_max_retries=settings.pop("llm_max_retries", 0),
        llm_fallback=settings.pop("llm_fallback", False),
        **settings,
    )


def _number_of(a: qa.Assistant, question: str, needle: str) -> int:
    """1-based number the prompt gives to the passage containing ``needle``."""
    for n, p in enumerate(a.retrieve(question), start=1):
        if needle in p.chunk.text:
            return n
    raise AssertionError(f"{needle!r} not retrieved")


def _quote_is_verbatim(c: qa.Citation) -> bool:
    return (SEEDS / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote


def test_correct_citation_is_kept_and_verbatim(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push_text(
        f"The previous humanitarian pause in Aleppo lasted ten hours, on November 4 [{n}]."
    )
    answer = a.ask(PAUSE_Q)
    assert not answer.abstained and not answer.flagged
    assert answer.text.endswith("[1]")
    [citation] = answer.citations
    assert citation.source == "000_2aad95338d9cee2c.txt"
    assert "ten hours" in citation.quote
    assert _quote_is_verbatim(citation)


def test_prompt_numbers_delimited_sources_and_carries_the_fixed_phrase(
    llm: FakeLLM, store: Path
) -> None:
    a = _llm_assistant(llm, store)
    llm.push_text(qa.NOT_IN_DOCUMENTS)
    a.ask(PAUSE_Q)
    messages = llm.requests[-1].body["messages"]
    assert qa.NOT_IN_DOCUMENTS in messages[0]["content"]
    user = messages[1]["content"]
    assert '<source id="1" file="' in user and "</source>" in user
    assert PAUSE_Q in user
    assert llm.requests[-1].body["stream"] is True


def test_out_of_range_marker_is_dropped(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push_text(
        f"The previous pause lasted ten hours [{n}][99]. It was the longest pause ever held [99]."
    )
    answer = a.ask(PAUSE_Q)
    assert "[99]" not in answer.text
    assert len(answer.citations) == 1 and _quote_is_verbatim(answer.citations[0])
    [flagged] = answer.flagged
    assert flagged.text.startswith("It was the longest")
    assert flagged.flag == "no valid citation"
    assert flagged.citations == []


def test_quote_absent_from_source_is_flagged(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push_text(
        f'The spokesman said "the pause will be extended for a whole month" [{n}]. '
        f"The previous pause lasted ten hours [{n}]."
    )
    answer = a.ask(PAUSE_Q)
    flags = {s.text[:15]: s.flag for s in answer.sentences}
    assert flags["The spokesman s"] == "quoted words not found in the cited source"
    assert flags["The previous pa"] is None
    assert all(_quote_is_verbatim(c) for c in answer.citations)


def test_unsupported_sentence_is_flagged(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push_text(f"Penguins in Antarctica eat krill and swim very fast [{n}].")
    answer = a.ask(PAUSE_Q)
    [sentence] = answer.sentences
    assert sentence.flag is not None and sentence.flag.startswith("cited passage does not support")


def test_streamed_answer_arrives_in_pieces(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    reply = f"The previous humanitarian pause lasted ten hours [{n}]."
    llm.push(Reply(text=reply, chunk_size=5))
    events = list(a.stream(PAUSE_Q))
    deltas = [e for e in events[:-1] if isinstance(e, str)]
    assert len(deltas) > 3 and "".join(deltas) == reply
    final = events[-1]
    assert isinstance(final, qa.Answer) and final.citations


def test_not_in_documents_reply_abstains(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    llm.push_text(qa.NOT_IN_DOCUMENTS)
    answer = a.ask("What is the capital of Australia?")
    assert answer.abstained and answer.citations == []


def test_strict_grounding_answers_from_the_documents_when_the_model_gives_up(
    llm: FakeLLM, store: Path
) -> None:
    a = _llm_assistant(llm, store, strict_grounding=True)
    llm.push_text(qa.NOT_IN_DOCUMENTS)  # a small model gives up on an answerable question
    answer = a.ask(PAUSE_Q)
    assert not answer.abstained and answer.answerer == "extractive"
    assert answer.notice == STRICT_ABSTAINED_NOTICE
    assert any("ten hours" in c.quote for c in answer.citations)
    assert all(_quote_is_verbatim(c) for c in answer.citations)
    # Where the documents hold nothing either, the abstention stands, with no notice.
    llm.push_text(qa.NOT_IN_DOCUMENTS)
    nothing = a.ask("What is the capital of Australia?")
    assert nothing.abstained and nothing.notice is None and nothing.citations == []


def test_markup_without_words_is_flagged_and_strict_mode_drops_it(
    llm: FakeLLM, store: Path
) -> None:
    n = _number_of(_llm_assistant(llm, store), PAUSE_Q, "ten hours")
    reply = f"The previous humanitarian pause lasted ten hours [{n}]. </script> [{n}]"
    llm.push_text(reply)
    flags = [s.flag for s in _llm_assistant(llm, store).ask(PAUSE_Q).sentences]
    assert flags == [None, "no words or numbers (markup or symbols only)"]
    llm.push_text(reply)
    strict = _llm_assistant(llm, store, strict_grounding=True).ask(PAUSE_Q)
    assert "script" not in strict.text and strict.unsupported == ["</script>"]


def test_follow_up_is_condensed_by_the_llm(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    chat = a.chat()
    llm.push_text(qa.NOT_IN_DOCUMENTS)
    chat.ask("Who is the ministry's spokesman?")
    llm.push_text("What did Igor Konashenkov say about the UN letter?")  # condense
    llm.push_text(qa.NOT_IN_DOCUMENTS)  # answer
    chat.ask("What did he say about the UN letter?")
    condense = llm.requests[-2].body
    assert "stream" not in condense or not condense["stream"]
    assert "What did he say about the UN letter?" in condense["messages"][0]["content"]
    assert "Who is the ministry's spokesman?" in condense["messages"][0]["content"]
    answer_prompt = llm.requests[-1].body["messages"][1]["content"]
    assert "Question: What did he say about the UN letter?" in answer_prompt


def test_server_error_gives_a_clear_error_and_bounded_attempts(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store, llm_max_retries=2)
    for _ in range(3):
        llm.push(Reply(status=500))
    with pytest.raises(LLMError, match="HTTP 500"):
        a.ask(PAUSE_Q)
    assert len(llm.requests) == 3


def test_cut_stream_marks_the_answer_incomplete(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push(
        Reply(
            text=f"The previous pause lasted ten hours [{n}]. More words follow here.",
            cut_after_chars=45,
        )
    )
    answer = a.ask(PAUSE_Q)
    assert answer.incomplete
    assert answer.citations and _quote_is_verbatim(answer.citations[0])


def test_wrong_number_is_flagged(llm: FakeLLM, store: Path) -> None:
    a = _llm_assistant(llm, store)
    n = _number_of(a, PAUSE_Q, "ten hours")
    llm.push_text(f"The previous humanitarian pause in Aleppo lasted three days [{n}].")
    [sentence] = a.ask(PAUSE_Q).sentences
    assert sentence.flag == "numbers not in the cited source: 3"
