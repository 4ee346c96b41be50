"""LLM faults from the scripted test server: a clear error on time, at most 3 HTTP attempts.

Each fault is scripted several times over, so a retry layer that multiplied attempts would
show up in ``llm.requests``. The answers come from a tiny corpus and the hashing embedder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

import qa
from qa.answerers.llm import MAX_ATTEMPTS
from qa.answerers.openai_chat import LLMError
from qa.embed import HashingEmbedder
from qa.terminal import format_answer
from qa.ui import render
from tests.fake_llm import FakeLLM, Reply
from tests.test_ui_client import free_port

QUESTION = "When was the harbour of Valparaiso rebuilt?"
ANSWER = "The harbour of Valparaiso was rebuilt in 1906 after the earthquake [1]."
SLACK_S = 1.0  # scheduling slack on a shared CI machine


@pytest.fixture()
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def make_assistant(corpus: Path, tmp: Path, llm: FakeLLM, **settings: Any) -> qa.Assistant:
    values: dict[str, Any] = {
        "answerer": "openai",
        "llm_base_url": llm.base_url,
        "llm_api_key": "test-key",
        "llm_model": "fake-model",
        "llm_fallback": False,
        "llm_deadline_s": 5.0,
        **settings,
    }
    return qa.Assistant.from_folder(
        corpus, store=tmp / "store", embedder=HashingEmbedder(), **values
    )


@dataclass
class Fault:
    """A scripted failure and what the user must see."""

    replies: list[Reply]
    message: str  # regex the LLMError's message must match
    requests: int  # HTTP requests the question may make in all
    settings: dict[str, Any] = field(default_factory=dict)
    min_s: float = 0.0  # the retries waited at least this long (Retry-After, backoff)


FAULTS = {
    "429 with Retry-After": Fault(
        [Reply(status=429, headers={"Retry-After": "1"})] * 5,
        r"rate-limiting requests \(HTTP 429\); try again in 1 s \(gave up after 3 attempts\)",
        3,
        min_s=2.0,
    ),
    "429 asking to wait past the deadline": Fault(
        [Reply(status=429, headers={"Retry-After": "120"})] * 5,
        r"rate-limiting requests \(HTTP 429\); try again in 120 s$",
        1,
    ),
    "Retry-After waits count against the deadline": Fault(
        [Reply(status=429, headers={"Retry-After": "1"})] * 5,
        r"HTTP 429.*gave up after 2 attempts",
        2,
        settings={"llm_deadline_s": 1.5},
        min_s=1.0,
    ),
    "500": Fault(
        [Reply(status=500, text="model crashed")] * 5,
        r"the LLM server failed \(HTTP 500\): model crashed \(gave up after 3 attempts\)",
        3,
    ),
    "hang": Fault(
        [Reply(hang=True)] * 5,
        r"^the LLM server did not answer within 2 s$",
        1,
        settings={"llm_deadline_s": 2.0},
        min_s=2.0,
    ),
    "stream cut before any text": Fault(
        [Reply(text=ANSWER, cut_after_chars=0)] * 5,
        r"closed the connection \(gave up after 3 attempts\)",
        3,
    ),
    "malformed JSON event": Fault(
        [Reply(body="data: {oops\n\n", headers={"Content-Type": "text/event-stream"})] * 5,
        r"^the LLM server sent a malformed reply$",
        1,
    ),
    "malformed JSON body": Fault(
        [Reply(body='{"choices": [oops')] * 5,
        r"^the LLM server sent a malformed reply \(not a chat completion\)$",
        1,
    ),
    "empty choices": Fault(
        [Reply(text=ANSWER, empty_choices=True)] * 5,
        r"^the LLM server returned an empty answer$",
        1,
    ),
    # The server lists its models and not this one: refused before any completion request
    # (llama.cpp's server would answer any name with its own model).
    "unknown model": Fault(
        [Reply(text=ANSWER)] * 5,
        r"does not serve the model 'no-such-model' \(it serves 'fake-model'\); set QA_LLM_MODEL",
        0,
        settings={"llm_model": "no-such-model"},
    ),
}


@pytest.mark.parametrize("name", FAULTS)
def test_fault_gives_a_clear_error_on_time_in_at_most_3_attempts(
    name: str, tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    fault = FAULTS[name]
    a = make_assistant(tmp_corpus, tmp_path, llm, **fault.settings)
    llm.push(*fault.replies)
    started = time.monotonic()
    with pytest.raises(LLMError, match=fault.message):
        a.ask(QUESTION)
    elapsed = time.monotonic() - started
    deadline = a.settings.llm_deadline_s
    print(f"{name}: {len(llm.requests)} request(s), {elapsed:.2f} s (deadline {deadline:g} s)")
    assert len(llm.requests) == fault.requests <= MAX_ATTEMPTS
    assert fault.min_s <= elapsed <= deadline + SLACK_S


def test_a_retry_recovers_from_one_server_error(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    a = make_assistant(tmp_corpus, tmp_path, llm)
    llm.push(Reply(status=503), Reply(text=ANSWER))
    answer = a.ask(QUESTION)
    assert len(llm.requests) == 2
    assert "1906" in answer.text and answer.citations and answer.notice is None


def test_cut_stream_keeps_its_partial_text_marked_incomplete(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    a = make_assistant(tmp_corpus, tmp_path, llm, llm_fallback=True)
    full = ANSWER + " Its cranes were imported from Glasgow [1]."
    llm.push(Reply(text=full, chunk_size=6, cut_after_chars=len(ANSWER) + 12), Reply(text=full))
    events = list(a.stream(QUESTION))
    final = events[-1]
    assert isinstance(final, qa.Answer)
    assert len(llm.requests) == 1  # text had arrived: no retry, no fallback
    assert "".join(e for e in events if isinstance(e, str)) == full[: len(ANSWER) + 12]
    assert final.incomplete and final.answerer == "openai:fake-model"
    assert "1906" in final.text and final.citations
    assert final.notice and "stopped before the answer was finished" in final.notice
    assert "cut off" in render.answer_html(final, 1)


def test_a_stream_stalling_midway_ends_at_the_deadline(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    a = make_assistant(tmp_corpus, tmp_path, llm, llm_deadline_s=2.0)
    llm.push(Reply(text=ANSWER * 3, chunk_size=40, chunk_delay_s=30))
    started = time.monotonic()
    answer = a.ask(QUESTION)
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed <= 2.0 + SLACK_S
    assert answer.incomplete and answer.notice is not None
    assert "did not finish within 2 s" in answer.notice and len(llm.requests) == 1


def test_fallback_answers_offline_with_a_visible_notice(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    a = make_assistant(tmp_corpus, tmp_path, llm, llm_fallback=True)
    llm.push(*[Reply(status=500, text="model crashed")] * 5)
    answer = a.ask(QUESTION)
    assert len(llm.requests) == 3
    assert answer.answerer == "extractive" and "1906" in answer.text and not answer.abstained
    for c in answer.citations:
        assert (tmp_corpus / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote
    assert answer.notice is not None
    assert "HTTP 500" in answer.notice and "quotes the documents directly" in answer.notice
    assert answer.notice in format_answer(answer)  # the CLI prints it
    assert render.esc(answer.notice) in render.answer_html(answer, 1)  # the UI shows it
    assert answer.to_dict()["notice"] == answer.notice  # the API returns it


def test_a_follow_up_shares_one_budget_between_condensing_and_answering(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    a = make_assistant(tmp_corpus, tmp_path, llm)
    chat = a.chat()
    llm.push(Reply(text=ANSWER))
    chat.ask(QUESTION)
    llm.default = Reply(status=500)  # every further request fails
    with pytest.raises(LLMError, match="HTTP 500"):
        chat.ask("Where were its cranes imported from?")
    assert len(llm.requests) == 1 + 3  # condense (1) + answer (2): never 2 × 3

    llm.default = Reply(status=404, text="gone")
    with pytest.raises(LLMError, match="HTTP 404"):
        chat.ask("And when was that?")
    assert len(llm.requests) == 4 + 1  # the answer call is skipped after a 404


def test_deadline_setting_defaults_to_at_most_30_s(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 0 < qa.Settings().llm_deadline_s <= 30
    monkeypatch.setenv("QA_LLM_DEADLINE_S", "7.5")
    assert qa.Settings().llm_deadline_s == 7.5 and qa.Settings().llm_fallback is True


def test_ui_stays_responsive_while_the_llm_hangs(
    tmp_corpus: Path, tmp_path: Path, llm: FakeLLM
) -> None:
    from qa.ui.app import build_app, launch

    a = make_assistant(tmp_corpus, tmp_path, llm, llm_fallback=True, llm_deadline_s=3.0)
    app = build_app(a, examples=())
    url = launch(app, a.settings, port=free_port(), block=False)
    try:
        hung, other = Client(url, verbose=False), Client(url, verbose=False)
        llm.push(Reply(hang=True))
        started = time.monotonic()
        job = hung.submit(QUESTION, api_name="/chat")
        while not llm.requests:  # the hanging request has reached the LLM
            assert time.monotonic() - started < 10, "the chat never reached the LLM"
            time.sleep(0.05)

        llm.push(Reply(text=ANSWER))
        t = time.monotonic()
        result = other.predict(QUESTION, api_name="/chat")
        other_s = time.monotonic() - t
        assert "1906" in result["text"] and result["notice"] is None
        t = time.monotonic()
        assert httpx.get(url, timeout=5).status_code == 200
        page_s = time.monotonic() - t
        assert other_s < 2.0 and page_s < 2.0, (other_s, page_s)
        assert not job.done()  # the first one is still waiting for the LLM

        final = job.result(timeout=10)
        hung_s = time.monotonic() - started
        assert 3.0 <= hung_s <= 3.0 + 2 * SLACK_S
        assert final["answerer"] == "extractive" and "1906" in final["text"]
        assert "did not answer within 3 s" in final["notice"]
        print(f"other chat {other_s:.2f} s, page {page_s:.2f} s, hung chat {hung_s:.2f} s")
    finally:
        app.close()
