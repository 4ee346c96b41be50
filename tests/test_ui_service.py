"""The UI's service layer in-process (hashing embedder): sessions, settings, files, the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.assistant import MAX_QUESTION_CHARS
from qa.embed import HashingEmbedder
from qa.settings import Settings
from qa.ui.app import EXAMPLES, blocked_paths, build_app
from qa.ui.service import EMPTY_QUESTION, Service, question_problem
from tests.helpers import seeds_copy

PAUSE_Q = "How long did the previous humanitarian pause last?"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> qa.Assistant:
    tmp = tmp_path_factory.mktemp("ui-service")
    return qa.Assistant.from_folder(
        seeds_copy(tmp),
        store=tmp / "store",
        embedder=HashingEmbedder(),
        llm_base_url="http://127.0.0.1:9/v1",  # configured, never reached here
        llm_api_key="sk-secret-test",
        answerer="extractive",
    )


@pytest.fixture()
def service(assistant: qa.Assistant) -> Iterator[Service]:
    service = Service(assistant)
    yield service
    service.set_options("extractive", 6)


def test_a_turn_streams_into_the_session_and_its_history(service: Service) -> None:
    session = service.session()
    turns = list(service.stream_turn(session, PAUSE_Q))
    final = turns[-1]
    assert final.answer is not None and not final.answer.abstained
    assert [t.question for t in session.conv.turns] == [PAUSE_Q]
    assert len(session.chat.history) == 1
    assert service.session(session) is session
    session.reset()
    assert session.conv.turns == [] and session.chat.history == []


def test_errors_end_the_turn_with_a_message_and_stay_out_of_the_history(
    service: Service,
) -> None:
    session = service.session()
    [*_, turn] = service.stream_turn(session, "x" * 5000)
    assert turn.answer is None and turn.error and "longer than" in turn.error
    assert session.chat.history == [] and not session.busy

    session.busy = True  # an answer is still being written in this session
    [turn] = service.stream_turn(session, PAUSE_Q)
    assert turn.error and "still being written" in turn.error


def test_questions_the_ui_refuses_are_refused_in_the_cli_words(assistant: qa.Assistant) -> None:
    assert question_problem("") == question_problem("  \n\t ") == EMPTY_QUESTION
    assert question_problem(None) == EMPTY_QUESTION
    assert question_problem("x" * MAX_QUESTION_CHARS) is None
    assert question_problem(f"  {PAUSE_Q}  ") is None
    long = "word " * 1200  # 6,000 characters, 5,999 once stripped
    with pytest.raises(ValueError) as refused:
        assistant.ask(long)
    problem = question_problem(long)
    assert problem is not None and str(refused.value) in problem and "5,999" in problem


def _props(app: object, elem_id: str) -> dict[str, object]:
    config = app.get_config_file()  # type: ignore[attr-defined]
    [props] = [c["props"] for c in config["components"] if c["props"].get("elem_id") == elem_id]
    return dict(props)


def test_the_settings_tab_offers_a_choice_only_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch, assistant: qa.Assistant
) -> None:
    with_llm = build_app(assistant)
    assert _props(with_llm, "qa-answerer")["visible"] is True
    assert _props(with_llm, "qa-answerer-note")["visible"] is False
    no_llm = assistant.settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})
    monkeypatch.setattr(assistant, "settings", no_llm)
    app = build_app(assistant)
    radio = _props(app, "qa-answerer")
    assert radio["visible"] is False and radio["choices"] == [("extractive", "extractive")]
    note = _props(app, "qa-answerer-note")
    assert note["visible"] is True
    for needed in ("`extractive`", "QA_LLM_BASE_URL", "QA_LLM_MODEL", "OPENAI_API_KEY", "qa serve"):
        assert needed in str(note["value"]), needed
    # The hidden radio still feeds the /settings endpoint.
    [settings] = [fn for fn in app.fns.values() if fn.api_name == "settings"]
    assert [getattr(c, "elem_id", None) for c in settings.inputs] == ["qa-answerer", None]


def test_the_question_box_never_cuts_a_long_paste(assistant: qa.Assistant) -> None:
    box = _props(build_app(assistant), "qa-question")
    assert box.get("max_length") is None  # the server refuses it, with the reason


def test_switching_answerer_and_top_k_reloads_nothing(
    service: Service, assistant: qa.Assistant
) -> None:
    embedder, extractive = assistant.embedder, assistant.answerer
    assert service.answerer_choices() == ["extractive", "openai"]
    service.set_options("openai", 3)
    assert assistant.answerer.name == "openai" and assistant.embedder is embedder
    # top-k passages in the question's language; the best of the French file come on top.
    passages = assistant.retrieve(PAUSE_Q)
    assert assistant.settings.top_k == 3 and len([p for p in passages if p.fused > 0]) == 3
    assert "`openai`" in service.describe() and "sk-secret" not in service.describe()
    service.set_options("extractive", 6)
    assert assistant.answerer is extractive  # built once, reused
    assert len([p for p in assistant.retrieve(PAUSE_Q) if p.fused > 0]) == 6
    with pytest.raises(ValueError, match="not available"):
        service.set_options("magic", 6)


def test_source_text_stays_inside_the_corpus(
    service: Service, assistant: qa.Assistant, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    link = assistant.corpus / "zz-link.txt"
    os.symlink(outside, link)
    try:
        assert service.source_text("zz-link.txt") is None
        assert service.source_text("../outside.txt") is None
        assert service.source_text("000_2aad95338d9cee2c.txt") or "".startswith("MOSCOW")
    finally:
        link.unlink()


def test_uploads_are_indexed_at_once(service: Service, tmp_path: Path) -> None:
    src = tmp_path / "upload"
    src.write_text("The Vardø fortress was built in 1737 from turf and timber.\n")
    results, report = service.add_files([(src, "vardø.txt"), (src, "vardø.exe")])
    assert [r.saved for r in results] == ["vardø.txt", None]
    assert report is not None and report.added == ["vardø.txt"]
    assert any(f.source == "vardø.txt" and f.chunks == 1 for f in service.assistant.files())
    assert "vardø.txt" in service.files_html()
    answer = service.ask("When was the Vardø fortress built?")
    assert answer["citations"][0]["source"] == "vardø.txt"


def test_an_upload_that_cannot_be_indexed_is_not_kept(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (a fault the real store is made to show in tests/test_storage.py) makes
    indexing fail: the saved file is taken back out of the corpus, so it is not left there
    unindexed, and the error says what happened."""
    from qa.store.health import StoreUnwritable

    corpus = service.assistant.corpus
    src = tmp_path / "upload"
    src.write_text("The Kerrow lighthouse was lit in 1851.\n", encoding="utf-8")

    def full(**_: object) -> None:
        raise StoreUnwritable(service.assistant.settings.store, "full", "0.0 MiB free")

    monkeypatch.setattr(service.assistant, "sync", full)
    with pytest.raises(StoreUnwritable, match="is full"):
        service.add_files([(src, "kerrow.txt")])
    assert not (corpus / "kerrow.txt").exists()


def test_the_app_exposes_its_named_endpoints(assistant: qa.Assistant) -> None:
    app = build_app(assistant)
    names = {fn.api_name for fn in app.fns.values() if fn.api_visibility != "private"}
    assert {"ask", "chat", "new_chat", "upload", "sync", "settings"} <= names
    config = str(app.get_config_file())
    assert all(q in config for q in EXAMPLES)


def test_auth_and_blocked_paths(monkeypatch: pytest.MonkeyPatch, assistant: qa.Assistant) -> None:
    monkeypatch.delenv("QA_UI_AUTH", raising=False)
    assert Settings().ui_login is None
    monkeypatch.setenv("QA_UI_AUTH", "alice:s3cret:with-colon")
    assert Settings().ui_login == ("alice", "s3cret:with-colon")
    monkeypatch.setenv("QA_UI_AUTH", "no-password")
    with pytest.raises(ValueError, match="user:password"):
        Settings()
    blocked = blocked_paths(assistant.settings)
    assert str(assistant.settings.store.resolve()) in blocked
    assert any(p.endswith(".env") for p in blocked) and any(p.endswith("qa.toml") for p in blocked)


@pytest.mark.parametrize("top_k", [float("nan"), float("inf"), 2.5, 0, 11, "6"])
def test_a_top_k_that_makes_no_sense_is_refused_by_name(service: Service, top_k: object) -> None:
    before = service.top_k
    with pytest.raises((ValueError, TypeError), match="top_k must be"):
        service.set_options("extractive", top_k)  # type: ignore[arg-type]
    assert service.top_k == before, "nothing changed"
