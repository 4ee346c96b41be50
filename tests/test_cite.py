"""Citation parsing and the fixed "not in the documents" sentence (no model needed)."""

from __future__ import annotations

import qa
from qa.cite import compose, is_not_found, numbers_missing, parse_markers, quoted_phrases
from qa.schema import AnswerSentence


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
