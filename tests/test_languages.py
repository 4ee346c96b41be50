"""Languages: identification, per-language lexical retrieval, follow-ups, cross-lingual notes."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa import lang
from qa.answerers import Turn, depends_on_history, fold_history
from qa.embed.hashing import HashingEmbedder
from qa.retrieve import HybridRetriever
from qa.schema import Answer
from qa.store import ChunkStore
from qa.sync import sync_corpus
from tests.conftest import MakeStore
from tests.helpers import SEEDS, assistant, seeds_copy


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("How long did the previous humanitarian pause last?", "en"),
        ("Combien de temps a duré la pause humanitaire ?", "fr"),
        ("¿Cuánto duró la pausa humanitaria anterior?", "es"),
        ("Wie lange dauerte die vorherige humanitäre Pause?", "de"),
        ("Qui est John Kirby ?", "fr"),
        ("12345 !!!", lang.DEFAULT),
    ],
)
def test_detects_the_language_of_short_questions(text: str, code: str) -> None:
    assert lang.detect(text) == code


def test_each_language_is_stemmed_with_its_own_rules() -> None:
    assert lang.tokens("Les pauses humanitaires ont été annoncées", "fr") == [
        "paus",
        "humanitair",
        "annonc",
    ]
    assert lang.tokens("The pauses were announced", "en") == ["paus", "announc"]
    assert lang.tokens("東京 タワー", "ja") == ["東京", "タワー"]  # no stemmer: words kept


def test_seed_chunks_carry_their_language(tmp_path: Path) -> None:
    a = qa.Assistant.from_folder(seeds_copy(tmp_path), store=tmp_path / "s", embedder="hashing")
    langs = {c.source: c.lang for c in a.store.chunks()}
    assert langs["004_ad1b6a9a081ab1cf.txt"] == "fr"
    assert {v for k, v in langs.items() if not k.startswith("004")} == {"en"}


@pytest.fixture
def bilingual(tmp_path: Path, make_store: MakeStore) -> tuple[HybridRetriever, ChunkStore]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "en.txt").write_text(
        "The harbour cranes were rebuilt after the storm. Ferries now leave every hour.\n",
        encoding="utf-8",
    )
    (corpus / "fr.txt").write_text(
        "Les grues du port ont été reconstruites après la tempête. Les ferries partent "
        "désormais toutes les heures.\n",
        encoding="utf-8",
    )
    embedder = HashingEmbedder()
    store = make_store(corpus, embedder)
    from qa.ingest import Chunker

    sync_corpus(corpus, store, embedder, Chunker(200, 40))
    return HybridRetriever(store, embedder, top_k=4), store


def test_lexical_side_only_matches_chunks_in_the_question_language(
    bilingual: tuple[HybridRetriever, ChunkStore],
) -> None:
    retriever, _ = bilingual
    # "ferries" is spelled alike in both files; only the English chunk may match lexically.
    english = retriever.sparse("When do the ferries leave?", 10, "en")
    french = retriever.sparse("Quand partent les ferries ?", 10, "fr")
    assert [c.source for c in retriever.chunks(english).values()] == ["en.txt"]
    assert [c.source for c in retriever.chunks(french).values()] == ["fr.txt"]
    assert retriever.sparse("When do the ferries leave?", 10, "de") == []


def test_passages_in_other_languages_are_kept_among_the_candidates(
    bilingual: tuple[HybridRetriever, ChunkStore],
) -> None:
    retriever, _ = bilingual
    passages = retriever.retrieve("harbour cranes storm", top_k=1, lang="en")
    assert [p.chunk.source for p in passages] == ["en.txt", "fr.txt"]


@pytest.mark.parametrize(
    ("question", "depends"),
    [
        ("Who is John Kirby?", False),
        ("How long did the previous humanitarian pause last?", False),
        ("What did he say about the UN letter?", True),
        ("Which road would convoys from there take?", True),
        ("And in 2015?", True),
        ("What was said at that briefing?", True),
        ("Qu'a-t-il déclaré au sujet des résidents ?", True),
        ("Why?", True),
    ],
)
def test_a_follow_up_leans_on_history_only_when_it_needs_it(question: str, depends: bool) -> None:
    assert depends_on_history(question) is depends
    turn = Turn("Who is the ministry's spokesman?", Answer("q", "a", [], False))
    expected = f"{turn.question} {question}" if depends else question
    assert fold_history(question, [turn]) == expected


@pytest.mark.slow
def test_an_unrelated_question_in_a_chat_is_answered_as_when_asked_alone(tmp_path: Path) -> None:
    a = assistant(seeds_copy(tmp_path), tmp_path / "store")
    alone = a.ask("Who is John Kirby?")
    chat = a.chat()
    chat.ask("How long did the previous humanitarian pause last?")
    in_chat = chat.ask("Who is John Kirby?")
    assert not alone.abstained
    assert in_chat.text == alone.text
    assert [c.to_dict() for c in in_chat.citations] == [c.to_dict() for c in alone.citations]


@pytest.mark.slow
def test_a_quote_in_another_language_says_so_and_stays_verbatim(tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    a = assistant(corpus, tmp_path / "store")
    answer = a.ask("At what time did the November 4 pause in Aleppo begin?")
    assert not answer.abstained
    french = [c for c in answer.citations if c.lang == "fr"]
    assert french, answer.text
    assert "(quoted in French)" in answer.text
    assert "8 heures" in answer.text
    for c in answer.citations:
        text = (corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote
    # Asked in French, the French passage needs no note (an English one does).
    answer_fr = a.ask("À quelle heure la pause du 4 novembre à Alep a-t-elle commencé ?")
    for sentence in answer_fr.sentences:
        cited = answer_fr.citations[sentence.citations[0] - 1]
        assert sentence.note == (None if cited.lang == "fr" else "quoted in English")


def test_seed_corpus_has_the_french_file() -> None:
    assert lang.detect((SEEDS / "004_ad1b6a9a081ab1cf.txt").read_text(encoding="utf-8")) == "fr"
