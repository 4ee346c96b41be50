"""The fake LLM server speaks the OpenAI wire format well enough for the real SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fake_llm import FakeLLM, Reply

MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Bonjour ?"}]


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def client(llm: FakeLLM, timeout: float = 10.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0, timeout=timeout)


def test_non_streamed_text(llm: FakeLLM) -> None:
    llm.push_text("Hello there.")
    resp = client(llm).chat.completions.create(model="fake-model", messages=MSG)
    assert resp.choices[0].message.content == "Hello there."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.id == "chatcmpl-fake-1"
    assert resp.model == "fake-model"
    assert isinstance(resp.created, int)
    assert resp.usage is not None and resp.usage.total_tokens > 0


def test_streamed_text_reassembles_exactly(llm: FakeLLM) -> None:
    text = "Alep — « pause » 🙂 naïve café, 日本語 " * 3
    llm.push(Reply(text=text, chunk_size=5))
    stream = client(llm).chat.completions.create(
        model="fake-model",
        messages=MSG,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    usage_seen = False
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage_seen = True
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
    assert "".join(parts) == text
    assert len(parts) > 5
    assert usage_seen


def test_rate_limit_with_retry_after(llm: FakeLLM) -> None:
    llm.push(Reply(status=429, headers={"Retry-After": "7"}, text="slow down"))
    with pytest.raises(openai.RateLimitError) as exc:
        client(llm).chat.completions.create(model="fake-model", messages=MSG)
    assert exc.value.status_code == 429
    assert exc.value.response.headers["retry-after"] == "7"
    assert exc.value.code == "rate_limit_exceeded"
    assert "slow down" in exc.value.message


def test_server_error_and_empty_queue(llm: FakeLLM) -> None:
    llm.push(Reply(status=500))
    c = client(llm)
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="fake-model", messages=MSG)
    with pytest.raises(openai.InternalServerError, match="ran out"):
        c.chat.completions.create(model="fake-model", messages=MSG)


def test_default_reply_when_queue_empty() -> None:
    with FakeLLM(default=Reply(text="again")) as llm:
        c = client(llm)
        for _ in range(3):
            r = c.chat.completions.create(model="fake-model", messages=MSG)
            assert r.choices[0].message.content == "again"


def test_concurrent_requests_with_default() -> None:
    with FakeLLM(default=Reply(text="ok", delay_s=0.05)) as llm:
        c = client(llm)

        def ask(i: int) -> str | None:
            msg: ChatCompletionMessageParam = {"role": "user", "content": f"q{i}"}
            resp = c.chat.completions.create(model="fake-model", messages=[msg])
            return resp.choices[0].message.content

        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(ask, range(32))) == ["ok"] * 32
        assert sorted(r.body["messages"][0]["content"] for r in llm.requests) == sorted(
            f"q{i}" for i in range(32)
        )


def test_unknown_model_and_models_list() -> None:
    with FakeLLM(models=["m1", "m2"]) as llm:
        llm.push_text("unused")
        c = client(llm)
        with pytest.raises(openai.NotFoundError) as exc:
            c.chat.completions.create(model="nope", messages=MSG)
        assert exc.value.code == "model_not_found"
        assert llm.pending == 1  # the scripted reply was not consumed
        assert [m.id for m in c.models.list()] == ["m1", "m2"]


def test_raw_body_and_empty_choices(llm: FakeLLM) -> None:
    llm.push(Reply(body="{not json"), Reply(text="x", empty_choices=True))
    c = client(llm)
    with pytest.raises(json.JSONDecodeError):  # this SDK lets the decode error through
        c.chat.completions.create(model="fake-model", messages=MSG)
    assert c.chat.completions.create(model="fake-model", messages=MSG).choices == []


def test_cut_stream_raises(llm: FakeLLM) -> None:
    """A stream cut mid-way (no final HTTP chunk, no [DONE]) makes iteration raise
    APIConnectionError after the text received so far; it does not end silently."""
    llm.push(Reply(text="0123456789" * 5, chunk_size=4, cut_after_chars=10))
    stream = client(llm).chat.completions.create(
        model="fake-model",
        messages=MSG,
        stream=True,
    )
    parts: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            parts.extend(ch.delta.content or "" for ch in chunk.choices)
    assert "".join(parts) == "0123456789"  # everything before the cut arrived


def test_requests_are_recorded(llm: FakeLLM) -> None:
    llm.push_text("a", "b")
    c = client(llm)
    c.chat.completions.create(model="fake-model", messages=MSG, temperature=0)
    c.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "second"}],
    )
    reqs = llm.requests
    assert len(reqs) == 2
    assert reqs[0].path == "/v1/chat/completions"
    assert reqs[0].headers["authorization"] == "Bearer test"
    assert reqs[0].body["messages"] == MSG
    assert reqs[0].body["temperature"] == 0
    assert reqs[1].body["messages"][0]["content"] == "second"
    assert llm.pending == 0


def test_hang_times_out_and_shutdown_is_prompt() -> None:
    llm = FakeLLM().start()
    llm.push(Reply(hang=True))
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(llm, timeout=0.5).chat.completions.create(model="fake-model", messages=MSG)
    assert time.monotonic() - t0 < 2
    t1 = time.monotonic()
    llm.stop()
    assert time.monotonic() - t1 < 1
    assert len(llm.requests) == 1


def test_delay_and_restart() -> None:
    llm = FakeLLM()
    with llm:
        llm.push(Reply(text="late", delay_s=0.2, status=200))
        t0 = time.monotonic()
        r = client(llm).chat.completions.create(model="fake-model", messages=MSG)
        assert r.choices[0].message.content == "late"
        assert time.monotonic() - t0 >= 0.2
    with llm:  # can be started again on a fresh port
        llm.push_text("again")
        r = client(llm).chat.completions.create(model="fake-model", messages=MSG)
        assert r.choices[0].message.content == "again"
