"""The chat UI's server, started for real (``python -m qa.cli serve``), driven by gradio_client.

The server indexes a private copy of the seeds with the hashing embedder. An LLM is configured
(the scripted ``FakeLLM`` on 127.0.0.1) but the server starts with the extractive answerer; the
follow-up test switches to ``openai`` through the ``/settings`` endpoint and back.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file

import qa
from tests.fake_llm import FakeLLM, Reply
from tests.helpers import ROOT, seeds_copy, serving

PAUSE_Q = "How long did the previous humanitarian pause last?"
PAUSE_FILE = "000_2aad95338d9cee2c.txt"
START_TIMEOUT_S = 120


@dataclass
class Server:
    """A running ``qa serve`` subprocess."""

    url: str
    corpus: Path
    store: Path
    proc: subprocess.Popen[str]
    output: list[str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_server(
    tmp: Path,
    extra: dict[str, str] | None = None,
    *,
    corpus: Path | None = None,
    store: Path | None = None,
    **env: str,
) -> Iterator[Server]:
    """Start ``qa serve`` over a copy of the seeds (plus ``extra`` files) in ``tmp``, or over
    ``corpus`` with ``store`` when given (servers sharing a store)."""
    tmp.mkdir(parents=True, exist_ok=True)
    corpus = corpus or seeds_copy(tmp)
    store = store or tmp / "store"
    for name, text in (extra or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    (tmp / "gradio").mkdir(exist_ok=True)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_", "GRADIO_"))
    }
    environ.update(
        QA_EMBEDDER="hashing",  # unless env says otherwise
        QA_STORE=str(store),
        GRADIO_TEMP_DIR=str(tmp / "gradio"),
        PYTHONUNBUFFERED="1",
    )
    environ.update(env)
    port = free_port()
    cmd = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--folder", str(corpus)]
    # cwd=tmp: no qa.toml from the developer's checkout
    with serving(cmd, cwd=tmp, env=environ, timeout_s=START_TIMEOUT_S) as (url, output, proc):
        yield Server(url, corpus, store, proc, output)


def corpus_files(corpus: Path) -> set[str]:
    return {p.name for p in corpus.iterdir()}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("ui-client"),
        QA_ANSWERER="extractive",
        QA_LLM_BASE_URL=llm.base_url,
        QA_LLM_API_KEY="test-key",
        QA_LLM_MODEL="fake-model",
        QA_LLM_MAX_RETRIES="0",
        QA_LLM_FALLBACK="false",  # LLM failures are reported, not answered offline
    ) as s:
        yield s


@pytest.fixture()
def client(server: Server) -> Client:
    return Client(server.url, verbose=False)


def _verbatim(corpus: Path, c: dict[str, Any]) -> bool:
    text = (corpus / c["source"]).read_text(encoding="utf-8")
    return bool(text[c["start"] : c["end"]] == c["quote"])


def test_ask_endpoint_answers_with_a_verbatim_citation(server: Server, client: Client) -> None:
    result = client.predict(PAUSE_Q, api_name="/ask")
    assert not result["abstained"]
    assert "ten hours" in result["text"] and result["text"].endswith("[1]")
    [citation] = result["citations"]
    assert citation["source"] == PAUSE_FILE
    assert set(citation) >= {"source", "quote", "start", "end", "score"}
    assert "ten hours" in citation["quote"] and _verbatim(server.corpus, citation)


def test_ask_endpoint_abstains_with_the_closest_passages(client: Client) -> None:
    result = client.predict("What is the capital of Australia?", api_name="/ask")
    assert result["abstained"] and result["text"] == qa.NOT_IN_DOCUMENTS
    assert result["citations"] == [] and len(result["closest"]) == 3


def test_ask_endpoint_rejects_an_empty_question(client: Client) -> None:
    with pytest.raises(Exception, match="question is empty"):
        client.predict("   ", api_name="/ask")


def _call_raw(url: str, api: str, body: bytes) -> str:
    """POST ``body`` to Gradio's ``/gradio_api/call/<api>`` as is; the event stream's text."""
    import urllib.request

    request = urllib.request.Request(
        f"{url}gradio_api/call/{api}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event}", timeout=60) as r:
        return str(r.read().decode("utf-8"))


def test_undecodable_characters_in_a_question_are_replaced_in_every_endpoint(
    server: Server,
) -> None:
    """A lone surrogate (bytes that were not UTF-8) sent as JSON "\\udcff" is replaced by
    U+FFFD and the question answered, never an internal TypeError."""
    question = "\udcff how long did the previous humanitarian pause last?"
    body = json.dumps({"data": [question]}).encode("ascii")  # \udcff stays an escape
    assert b"\\udcff" in body
    asked = _call_raw(server.url, "ask", body)
    assert "event: complete" in asked and "ten hours" in asked, asked
    assert "\\ufffd how long" in asked or "\ufffd how long" in asked, asked
    chatted = _call_raw(server.url, "chat", json.dumps({"data": [question, None]}).encode())
    assert "event: complete" in chatted and "ten hours" in chatted, chatted
    assert "went wrong" not in chatted


def _set_answerer(client: Client, name: str) -> None:
    described = client.predict(name, 6, api_name="/settings")
    assert f"`{name}`" in described


def test_chat_streams_and_resolves_a_follow_up_through_the_history(
    client: Client, llm: FakeLLM
) -> None:
    _set_answerer(client, "openai")
    try:
        before = len(llm.requests)
        raw = "The spokesman is Major General Igor Konashenkov [1]."
        llm.push(
            Reply(raw, chunk_size=4, chunk_delay_s=0.02),
            Reply("What did Igor Konashenkov say about the UN letter received in Geneva?"),
            Reply("He said the letter was received in Geneva on November 7 [1]."),
        )
        first = client.submit("Who is the ministry's spokesman?", api_name="/chat")
        outputs = list(first)
        final = first.result()
        assert not final["partial"] and "Konashenkov" in final["text"]
        partials = [o["text"] for o in outputs if isinstance(o, dict) and o.get("partial")]
        assert len(partials) >= 2, "the answer should arrive in several streamed pieces"
        assert all(raw.startswith(p) for p in partials) and partials == sorted(partials, key=len)

        second = client.predict("What did he say about the UN letter?", api_name="/chat")
        assert "Geneva" in second["text"] and second["citations"]
        requests = llm.requests[before:]
        assert len(requests) == 3
        condense = requests[1].body["messages"][-1]["content"]
        # The follow-up was condensed with the session's history: first question and answer.
        assert "Who is the ministry's spokesman?" in condense
        assert "Konashenkov" in condense
        assert "What did he say about the UN letter?" in condense
        answer_prompt = requests[2].body["messages"][-1]["content"]
        assert "Geneva" in answer_prompt  # retrieved for the condensed question

        # "New chat" forgets the history: the same follow-up is not condensed any more.
        client.predict(api_name="/new_chat")
        llm.push_text(qa.NOT_IN_DOCUMENTS)
        client.predict("What did he say about the UN letter?", api_name="/chat")
        assert len(llm.requests) == before + 4
    finally:
        _set_answerer(client, "extractive")


def test_chat_reports_an_llm_failure(client: Client, llm: FakeLLM) -> None:
    _set_answerer(client, "openai")
    try:
        llm.push(Reply(status=500, text="model crashed"))
        with pytest.raises(Exception, match="LLM server failed"):
            client.predict(PAUSE_Q, api_name="/chat")
    finally:
        _set_answerer(client, "extractive")


def test_uploaded_file_is_indexed_and_cited(server: Server, client: Client, tmp_path: Path) -> None:
    doc = tmp_path / "okapi notes.txt"
    doc.write_text(
        "The okapi sanctuary at Epulu was founded in 1952 by Jean de Medina.\n"
        "It shelters forty okapis in the Ituri rainforest.\n",
        encoding="utf-8",
    )
    message, files_html, cleared = client.predict([handle_file(doc)], api_name="/upload")
    assert "okapi notes.txt" in message and "added" in message and "not added" not in message
    assert cleared is None
    assert "okapi notes.txt" in files_html and "6 files" in files_html
    assert (server.corpus / "okapi notes.txt").read_bytes() == doc.read_bytes()

    result = client.predict("When was the okapi sanctuary at Epulu founded?", api_name="/ask")
    assert not result["abstained"] and "1952" in result["text"]
    assert result["citations"][0]["source"] == "okapi notes.txt"
    assert _verbatim(server.corpus, result["citations"][0])

    # The same file again is recognised; it is neither duplicated nor overwritten.
    message, _, _ = client.predict([handle_file(doc)], api_name="/upload")
    assert "already in the corpus" in message
    assert sorted(p.name for p in server.corpus.glob("okapi*")) == ["okapi notes.txt"]


def test_rejected_uploads_get_a_clear_message_and_write_nothing(
    server: Server, client: Client, tmp_path: Path
) -> None:
    before = corpus_files(server.corpus)
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
    message, _, _ = client.predict([handle_file(exe)], api_name="/upload")
    assert "setup.exe" in message and "was not added" in message
    assert "only these file types" in message
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 100)
    message, _, _ = client.predict([handle_file(binary)], api_name="/upload")
    assert "was not added" in message and "not a readable text file" in message

    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (1024 * 1024 + 1))  # just over 5 MB
    with pytest.raises(ValueError, match="maximum file size"):  # refused by the client...
        client.predict([handle_file(big)], api_name="/upload")
    with big.open("rb") as fh:  # ...and by the server
        response = httpx.post(f"{server.url}gradio_api/upload", files={"files": fh}, timeout=30)
    assert response.status_code == 413
    assert corpus_files(server.corpus) == before


def test_store_and_secrets_are_not_served(server: Server) -> None:
    # ROOT/.env is refused whether or not it exists (it is on the blocked list).
    for path in (server.store / "chroma.sqlite3", ROOT / ".env", server.corpus / PAUSE_FILE):
        response = httpx.get(f"{server.url}gradio_api/file={path}", timeout=10)
        assert response.status_code == 403, path
    assert httpx.get(f"{server.url}monitoring", timeout=10).status_code in (403, 404)


def test_resync_picks_up_files_changed_on_disk(server: Server, client: Client) -> None:
    added = server.corpus / "zz-notes.md"
    added.write_text("# Notes\n\nThe ferry to Tromsø leaves at 07:40 every Tuesday.\n")
    try:
        files_html, report = client.predict(api_name="/sync")
        assert "added     zz-notes.md" in report and "zz-notes.md" in files_html
        assert "last sync" in files_html
        # The summary ("1 added, … chunks embedded") is shown once, heading the report.
        assert "1 added, 0 updated" in report and (files_html + report).count("added, ") == 1
    finally:
        added.unlink()
    files_html, report = client.predict(api_name="/sync")
    assert "removed   zz-notes.md" in report and "zz-notes.md" not in files_html
