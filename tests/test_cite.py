"""Citation parsing, the fixed "not in the documents" sentence, citation repair and strict
grounding."""

from __future__ import annotations

import pytest

import qa
from qa.answerers import support_threshold
from qa.cite import (
    compose,
    is_not_found,
    keep_supported,
    names_missing,
    numbers_missing,
    parse_markers,
    quoted_phrases,
    verify,
)
from qa.schema import AnswerSentence
from tests.helpers import SEEDS


def test_markers_are_parsed_per_sentence() -> None:
    parsed = parse_markers("It lasted ten hours [1]. Convoys took the Castello road [2, 3][4].")
    assert [p.text for p in parsed] == ["It lasted ten hours.", "Convoys took the Castello road."]
    assert [p.numbers for p in parsed] == [[1], [2, 3, 4]]


def test_marker_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    parsed = parse_markers("It lasted ten hours. [1] Then it ended. [2]")
    assert [p.numbers for p in parsed] == [[1], [2]]
    assert parsed[1].text == "Then it ended."


def test_sentence_without_marker_has_no_numbers() -> None:
    assert parse_markers("No citation here.")[0].numbers == []


def test_not_found_phrase_is_recognised_loosely() -> None:
    assert is_not_found(qa.NOT_IN_DOCUMENTS)
    assert is_not_found(qa.NOT_IN_DOCUMENTS.upper().rstrip("."))
    assert not is_not_found("The pause lasted ten hours.")


def test_quoted_phrases_in_all_quote_styles() -> None:
    sentence = 'He said "the pause is over now" and « la pause est finie » and “it ended today”.'
    assert quoted_phrases(sentence) == [
        "the pause is over now",
        "la pause est finie",
        "it ended today",
    ]
    assert quoted_phrases('Short "quote" only.') == []


def test_numbers_missing_reads_digits_and_number_words() -> None:
    assert numbers_missing("It lasted 10 hours.", "It lasted ten hours.") == []
    assert numbers_missing("It lasted three days.", "It lasted ten hours.") == ["3"]
    assert numbers_missing("Over 7,000 people.", "by 7000 people") == []


def test_compose_puts_markers_after_each_sentence() -> None:
    sentences = [
        AnswerSentence("A.", [1], 1.0),
        AnswerSentence("B.", [1, 2], 1.0),
        AnswerSentence("C.", [], 0.0),
    ]
    assert compose(sentences) == "A. [1] B. [1][2] C."


def test_names_the_source_never_mentions_are_caught() -> None:
    source = (
        "Russia's Defence Ministry spokesman Igor Konashenkov said in Aleppo that the UN "
        "adviser Jan Egeland had written."
    )
    swapped = "The UN adviser for humanitarian issues is Igor Konashenko, said Lavrov."
    assert names_missing(swapped, source, ["en"]) == ["Lavrov"]
    # Inflections, spelling variants and short forms of a name the source has are found.
    fine = "The Russian Defense Ministry's spokesman Konashenkov spoke in Alep about Egeland's."
    assert names_missing(fine, source, ["en"]) == []
    assert names_missing("Maybe Castello or Gaziantep.", source) == ["Castello", "Gaziantep"]
    # Across languages names are spelt differently: not checked. German capitalises nouns.
    assert names_missing("Le porte-parole russe est Poutine, à Moscou.", source, ["en"]) == []
    assert names_missing("Die Pause dauerte zehn Stunden in der Stadt.", "Eine Pause.") == []


# --- citation repair and strict grounding, on the real embedder ------------------------------

PAUSE_SENTENCE = "The previous humanitarian pause in Aleppo lasted for ten hours on November 4."


@pytest.fixture(scope="module")
def seeds_assistant(tmp_path_factory: pytest.TempPathFactory) -> qa.Assistant:
    return qa.Assistant.from_folder(SEEDS, store=tmp_path_factory.mktemp("store"), embedder="e5")


def _verify(assistant: qa.Assistant, text: str, *, repair: bool) -> qa.Answer:
    passages = assistant.retrieve("How long did the previous humanitarian pause last?")
    threshold = support_threshold(assistant.settings, assistant.evidence)
    return verify(
        "How long did the previous humanitarian pause last?",
        text,
        passages,
        assistant.evidence,
        support_threshold=threshold,
        answerer="test",
        repair_threshold=threshold if repair else None,
    )


@pytest.mark.slow
def test_a_supported_sentence_without_a_marker_gets_an_inferred_citation(
    seeds_assistant: qa.Assistant,
) -> None:
    text = f"{PAUSE_SENTENCE} This person was born in Moscow."
    plain = _verify(seeds_assistant, text, repair=False)
    assert [s.flag for s in plain.sentences] == ["no citation", "no citation"]
    repaired = _verify(seeds_assistant, text, repair=True)
    first, second = repaired.sentences
    assert first.flag is None and first.citations == [1]
    c = repaired.citations[0]
    assert c.inferred and c.to_dict()["inferred"] is True
    assert c.quote == PAUSE_SENTENCE and c.source == "000_2aad95338d9cee2c.txt"
    assert second.flag == "no citation" and second.citations == []  # nothing supports it
    assert repaired.text == f"{PAUSE_SENTENCE} [1] This person was born in Moscow."


@pytest.mark.slow
def test_a_marker_the_model_wrote_is_kept_as_written(seeds_assistant: qa.Assistant) -> None:
    passages = seeds_assistant.retrieve("How long did the previous humanitarian pause last?")
    n = next(i for i, p in enumerate(passages, 1) if PAUSE_SENTENCE in p.chunk.text)
    answer = _verify(seeds_assistant, f"{PAUSE_SENTENCE} [{n}]", repair=True)
    assert [c.inferred for c in answer.citations] == [False]


@pytest.mark.slow
def test_strict_grounding_moves_unsupported_sentences_out(seeds_assistant: qa.Assistant) -> None:
    answer = _verify(
        seeds_assistant, f"This person was born in Moscow. {PAUSE_SENTENCE}", repair=True
    )
    strict = keep_supported(answer)
    assert strict.text == f"{PAUSE_SENTENCE} [1]"
    assert strict.unsupported == ["This person was born in Moscow."]
    assert strict.to_dict()["unsupported"] == ["This person was born in Moscow."]
    assert not strict.abstained and len(strict.citations) == 1
    nothing = keep_supported(_verify(seeds_assistant, "He was born in Moscow.", repair=True))
    assert nothing.abstained and nothing.text == qa.NOT_IN_DOCUMENTS
