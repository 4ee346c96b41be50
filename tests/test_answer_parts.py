"""The pieces the extractive answer is built from, without a model: what a question asks for
(four languages), compound questions, sentence boundaries, junk lines, and answer spans."""

from __future__ import annotations

import pytest

from qa.answerers.question import Asks, compound_parts, named_terms
from qa.answerers.spans import CONTINUED_WORDS, MAX_WORDS, window
from qa.evidence import Span
from qa.schema import Chunk
from qa.text import evidence_of, is_junk, sentence_spans


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many corridors were opened?", "number"),
        ("Combien de couloirs ont été ouverts ?", "number"),
        ("Wie viele Korridore wurden geöffnet?", "number"),
        ("¿Cuántos corredores se abrieron?", "number"),
        ("When did the pause start?", "date"),
        ("Quand la pause a-t-elle commencé ?", "date"),
        ("Seit wann gibt es das Modul?", "date"),
        ("¿Cuándo empezó la pausa?", "date"),
        ("Which option turns off abbreviations?", "code"),
        ("Welche Option schaltet das ab?", "code"),
        ("Quelle fonction ouvre le fichier ?", "code"),
        ("¿Qué función abre el archivo?", "code"),
        ("What is the default timeout?", "default"),
        ("Where were the diplomats briefed?", "place"),
        ("Wo liegt die Datei?", "place"),
        ("Who proposed the weekly pause?", "person"),
        ("Wer hat das Paket geschrieben?", "person"),
        ("Why does Moscow object?", "reason"),
        ("Warum ist das so?", "reason"),
        ("What does the module do?", None),
        ("My script hangs at proc.wait(). How do I avoid that?", "instruction"),
        ("Die Liste ist zu lang. Wie kann ich sie abbrechen?", "instruction"),
    ],
)
def test_what_a_question_asks_for(question: str, kind: str | None) -> None:
    asks = Asks.of(question)
    assert (asks.kind.name if asks.kind else None) == kind


def test_a_sentence_holds_what_is_asked_only_when_the_question_does_not_name_it() -> None:
    asks = Asks.of("How many corridors were opened on 4 November?")
    assert asks.found("Four humanitarian corridors were opened.") is True
    assert asks.found("Corridors were opened on 4 November.") is False  # only the question's 4
    assert Asks.of("What does it do?").found("Anything at all.") is None
    code = Asks.of("Which argument stops abbreviations?")
    assert code.found("Pass allow_abbrev=False to the parser.") is True
    assert code.found("It stops them.") is False


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What does the delete_on_close parameter do?", ["delete_on_close"]),
        ("How do I walk a tree with Path.walk()?", ["Path.walk"]),
        ("Wie richte ich ein VPN mit WireGuard ein?", ["VPN", "WireGuard"]),
        ("Which hashlib constructor creates a BLAKE3 hash?", ["BLAKE3"]),
        ("Does --no-prefix work with \\listbreak?", ["--no-prefix", "\\listbreak"]),
        ("Kann die natbib-Dokumentation lange DOIs umbrechen?", ["DOI"]),
        ("Is DNS-over-TLS supported?", ["DNS", "TLS"]),
        ("Who ordered the strike on Aleppo in 2016?", []),  # names and numbers are not code
    ],
)
def test_named_terms_are_the_code_terms_and_written_as_one_names(
    question: str, names: list[str]
) -> None:
    assert named_terms(question) == names


def test_compound_questions_split_in_four_languages() -> None:
    assert len(compound_parts("Who wrote the letter, and when did it arrive?")) == 2
    assert len(compound_parts("Wer schrieb den Brief und wann kam er an?")) == 2
    assert compound_parts("Who wrote the letter?") == ["Who wrote the letter?"]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Use e.g. the file config.yaml. It works.", "en",
         ["Use e.g. the file config.yaml.", "It works."]),
        ("Das ist z. B. ein Test. Und noch einer.", "de",
         ["Das ist z. B. ein Test.", "Und noch einer."]),
        ("Voir p. ex. le fichier. Il y a deux.", "fr", ["Voir p. ex. le fichier.", "Il y a deux."]),
        ("It waits 5 min. in the queue. Then it runs.", "en",
         ["It waits 5 min. in the queue.", "Then it runs."]),
        ("Download it from www.iODBC.org. This is the manager.", "en",
         ["Download it from www.iODBC.org.", "This is the manager."]),
        ("He met J. Smith. Then he left!", "en", ["He met J. Smith.", "Then he left!"]),
        ("Python 3.11.2 was released. Version 2.0 follows.", "en",
         ["Python 3.11.2 was released.", "Version 2.0 follows."]),
    ],
)  # fmt: skip
def test_sentence_boundaries_respect_abbreviations_urls_and_versions(
    text: str, lang: str, expected: list[str]
) -> None:
    assert [text[s:e] for s, e in sentence_spans(text, lang=lang)] == expected


@pytest.mark.parametrize(
    ("line", "junk"),
    [
        ("3.2 Character protrusion . . . . . . . . . . 6", True),
        ("Introduction .................... 5", True),
        ("protrusion, 5, 12–14", True),
        ("| 14803 | 199 | 2857 | 4.2 |", True),
        ("The value is 12, and the limit is 15.", False),
        ("Copy the contents of the file named src to a file named dst.", False),
    ],
)
def test_contents_index_and_figure_lines_are_junk(line: str, junk: bool) -> None:
    assert is_junk(line) is junk


def _chunk(text: str, headings: tuple[tuple[int, int, int], ...] = ()) -> Chunk:
    return Chunk(
        id="c",
        source="a.txt",
        text=text,
        start=100,
        end=100 + len(text),
        index=0,
        file_hash="h",
        lang="en",
        headings=tuple((s + 100, e + 100, lvl) for s, e, lvl in headings),
    )


def test_heading_lines_are_not_evidence_but_give_sentences_their_section() -> None:
    text = "Saving files\nThe save function writes the buffer to disk. It returns the path."
    chunk = _chunk(text, headings=((0, 12, 2),))
    quoted = [text[s - 100 : e - 100] for s, e in evidence_of(chunk)]
    assert quoted == ["The save function writes the buffer to disk.", "It returns the path."]
    assert chunk.section_at(100 + text.index("It returns")) == ("Saving files",)
    assert chunk.section_at(100) == ()


def _spans(text: str) -> list[Span]:
    chunk = _chunk(text)
    return [Span(chunk, s, e, 0) for s, e in evidence_of(chunk)]


def test_an_answer_span_takes_the_sentence_a_back_reference_needs() -> None:
    spans = _spans("The tar module reads archives. It supports gzip and bz2 compression.")
    assert window(spans, 1, lambda _: None) == (0, 1)
    spans = _spans("All keys are coerced to strings. As a result, loads(dumps(x)) != x.")
    assert window(spans, 1, lambda _: None) == (0, 1)


def test_an_answer_span_takes_the_sentence_that_continues_or_holds_what_is_asked() -> None:
    spans = _spans(
        "The default format for creating archives is set here. This is currently PAX_FORMAT. "
        "Unrelated things follow in another sentence."
    )
    asks = Asks.of("Which constant is the default format?")
    assert window(spans, 0, asks.found) == (0, 1)
    listing = _spans(
        "The options are:\nfirst option here\nsecond option there\nA new topic starts."
    )
    assert window(listing, 0, lambda _: None)[1] >= 1


def test_an_answer_span_stays_within_its_word_budget() -> None:
    long = " ".join(["word"] * (MAX_WORDS - 5)) + "."
    twelve = "Several more words follow after this one in a sentence of twelve."
    assert window(_spans(f"{long} {twelve}"), 0, lambda _: True) == (0, 0)
    # A sentence that continues the one before may take the span up to CONTINUED_WORDS ...
    continued = "It has many more words after this one in its sentence."
    assert window(_spans(f"{long} {continued}"), 0, lambda _: None) == (0, 1)
    # ... and no further.
    longer = "It has " + " ".join(["more"] * (CONTINUED_WORDS - MAX_WORDS + 6)) + "."
    assert window(_spans(f"{long} {longer}"), 0, lambda _: None) == (0, 0)


def test_signature_headings_are_evidence_other_headings_context() -> None:
    text = (
        "Directory operations\n"
        "shutil.copyfile(src, dst, *, follow_symlinks=True)\n"
        "Copy the contents of the file named src to a file named dst."
    )
    first = text.index("shutil")
    chunk = _chunk(text, headings=((0, 20, 2), (first, first + 50, 3)))
    quoted = [text[s - 100 : e - 100] for s, e in evidence_of(chunk)]
    assert quoted == [
        "shutil.copyfile(src, dst, *, follow_symlinks=True)",
        "Copy the contents of the file named src to a file named dst.",
    ]
    last = 100 + text.index("Copy")
    assert chunk.sentence_text(last, 100 + len(text)).startswith(
        "shutil.copyfile(src, dst, *, follow_symlinks=True): Copy the contents"
    )


def test_a_section_path_keeps_the_document_title_and_the_innermost_headings() -> None:
    from qa.schema import under

    stack: list[tuple[int, str]] = []
    for level, title in [(1, "pathlib"), (2, "Concrete paths"), (3, "Methods"), (4, "touch")]:
        stack = under(stack, level, title)
    assert [t for _, t in stack] == ["pathlib", "Methods", "touch"]
    assert [t for _, t in under(stack, 2, "Pure paths")] == ["pathlib", "Pure paths"]


def test_cognates_match_terms_of_another_language_by_their_beginning() -> None:
    from qa.answerers.extractive import cognates

    wanted = ["novemb", "aleppo", "pause", "time", "bus", "4"]
    french = {"novembr", "alep", "paus", "heur", "autobus", "4"}
    # "pause" shares its first four letters with the shorter "paus"; "4" is matched as
    # numbers are, exactly, so it is no cognate; "bus" and "time" have none.
    assert cognates(wanted, french) == {"novemb", "aleppo", "pause"}
    assert cognates(["tiempo"], {"time"}) == set()
