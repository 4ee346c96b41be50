"""One store, several processes: a long-lived ``Assistant`` (a server) follows what another
process indexed, rebuilt or deleted; writers take turns; a quote is never shown off its
offsets in the file as it is now."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import qa
from qa.embed import HashingEmbedder
from tests.helpers import run_qa, seeds_copy

PAUSE_FILE = "000_2aad95338d9cee2c.txt"
PAUSE_Q = "How long did the previous humanitarian pause last?"


def _qa(args: list[str], cwd: Path, embedder: str = "hashing") -> subprocess.CompletedProcess[str]:
    return run_qa(args, cwd, QA_EMBEDDER=embedder)


def _assistant(corpus: Path, store: Path, embedder: qa.Embedder | None = None) -> qa.Assistant:
    settings = qa.Settings(corpus=corpus, store=store, answerer="extractive")
    return qa.Assistant(settings, embedder=embedder or HashingEmbedder())


def _verbatim(corpus: Path, answer: qa.Answer) -> None:
    for c in answer.citations:
        text = (corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote, (c.source, c.start, c.quote)


def test_a_server_follows_what_another_process_indexed(tmp_path: Path) -> None:
    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    assert _qa(["--store", str(store), "index", str(corpus)], tmp_path).returncode == 0
    server = _assistant(corpus, store)
    before = server.ask(PAUSE_Q)
    assert "ten hours" in before.text

    pause = corpus / PAUSE_FILE
    text = pause.read_text(encoding="utf-8").replace("ten hours", "eleven hours")
    pause.write_text("A line added at the top shifts every offset.\n" + text, encoding="utf-8")
    (corpus / "kerrow.txt").write_text(
        "The Kerrow lighthouse keeper logged 412 storms in one winter.\n", encoding="utf-8"
    )
    indexed = _qa(["--store", str(store), "index", str(corpus)], tmp_path)
    assert indexed.returncode == 0, indexed.stderr

    after = server.ask(PAUSE_Q)
    assert "eleven hours" in after.text and "ten hours" not in after.text
    _verbatim(corpus, after)
    storms = server.ask("How many storms did the Kerrow lighthouse keeper log?")
    assert storms.citations and storms.citations[0].source == "kerrow.txt"
    assert server.sync().changed is False, "the other process indexed it already"


def test_a_file_edited_but_not_indexed_is_never_quoted_off_its_offsets(tmp_path: Path) -> None:
    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    server = _assistant(corpus, store)
    server.sync()
    pause = corpus / PAUSE_FILE
    pause.write_text("New first line.\n" + pause.read_text(encoding="utf-8"), encoding="utf-8")
    answer = server.ask(PAUSE_Q)
    assert answer.abstained and not answer.citations
    assert answer.notice and PAUSE_FILE in answer.notice and "index it again" in answer.notice
    server.sync()
    again = server.ask(PAUSE_Q)
    assert "ten hours" in again.text
    _verbatim(corpus, again)


def test_two_writers_take_turns_and_both_keep_answering(tmp_path: Path) -> None:
    """A server and another process add files and index them in turn (as two `qa serve`s
    taking uploads did, until one failed every question with "Error finding id")."""
    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    server = _assistant(corpus, store)
    server.sync()
    for n in range(3):
        (corpus / f"mine{n}.txt").write_text(
            f"The server's note {n} says the ferry number {100 + n} sailed at dawn.\n",
            encoding="utf-8",
        )
        assert server.sync().added == [f"mine{n}.txt"]
        (corpus / f"theirs{n}.txt").write_text(
            f"The other note {n} says the tram number {200 + n} ran at dusk.\n", encoding="utf-8"
        )
        other = _qa(["--store", str(store), "index", "--json", str(corpus)], tmp_path)
        assert other.returncode == 0, other.stderr
        assert json.loads(other.stdout)["added"] == [f"theirs{n}.txt"]
        mine = server.ask(f"Which ferry number did the server's note {n} mention?")
        theirs = server.ask(f"Which tram number ran at dusk in the other note {n}?")
        assert str(100 + n) in mine.text and str(200 + n) in theirs.text
        question = f"Which ferry number did the server's note {n} mention?"
        asked = _qa(["--store", str(store), "ask", "--json", "--folder", str(corpus), question],
                    tmp_path)  # fmt: skip
        assert asked.returncode == 0 and str(100 + n) in json.loads(asked.stdout)["text"]
    check = _qa(["--store", str(store), "index", "--check", str(corpus)], tmp_path)
    assert check.returncode == 0 and "is sound" in check.stdout, check.stdout + check.stderr


def test_a_server_follows_a_rebuild_and_a_deleted_store(tmp_path: Path) -> None:
    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    server = _assistant(corpus, store)
    server.sync()
    rebuilt = _qa(["--store", str(store), "index", "--rebuild", str(corpus)], tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "ten hours" in server.ask(PAUSE_Q).text
    (corpus / "added.txt").write_text("The harbour crane lifted 30 tonnes.\n", encoding="utf-8")
    assert server.sync().added == ["added.txt"], "writes go to the rebuilt store"
    assert server.ask("How many tonnes did the harbour crane lift?").citations

    shutil.rmtree(store)
    gone = server.ask(PAUSE_Q)
    assert not gone.citations, "the index is gone; nothing is quoted from the old one"
    assert len(server.sync().added) == 6
    assert "ten hours" in server.ask(PAUSE_Q).text


def test_answers_during_a_rebuild_come_from_the_previous_index(tmp_path: Path) -> None:
    """While `qa index --rebuild` indexes everything again, `qa ask` run meanwhile answers from
    the previous index (once it said "not in the documents" from the half-built one)."""
    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    for n in range(400):  # enough text that the rebuild takes a while
        (corpus / f"filler{n:03}.txt").write_text(
            f"Filler page {n}. " + "The weather was mild and the fields were quiet. " * 60,
            encoding="utf-8",
        )
    assert _qa(["--store", str(store), "index", str(corpus)], tmp_path).returncode == 0
    rebuild = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "--store", str(store), "index", "--rebuild", str(corpus)],
        cwd=tmp_path,
        env={**os.environ, "QA_EMBEDDER": "hashing", "XDG_DATA_HOME": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers = []
    while rebuild.poll() is None:
        asked = _qa(["--store", str(store), "ask", "--json", "--folder", str(corpus), PAUSE_Q],
                    tmp_path)  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        answers.append((json.loads(asked.stdout), asked.stderr))
    assert rebuild.returncode == 0, rebuild.stderr.read() if rebuild.stderr else ""
    during = [a for a, note in answers if "is writing to" in note]
    assert during, "no question was asked while the rebuild held the store"
    assert all("ten hours" in a["text"] and not a["abstained"] for a in during), during


def test_two_servers_on_one_store_both_take_uploads_and_keep_answering(tmp_path: Path) -> None:
    """Two `qa serve` on one store (once: one failed every question with "Error finding id"
    after both took uploads): uploads to either are indexed in turn, both answer about all."""
    from gradio_client import Client, handle_file

    from tests.test_ui_client import run_server

    corpus, store = seeds_copy(tmp_path), tmp_path / "store"
    with (
        run_server(tmp_path / "a", corpus=corpus, store=store) as a,
        run_server(tmp_path / "b", corpus=corpus, store=store) as b,
    ):
        clients = {"a": Client(a.url, verbose=False), "b": Client(b.url, verbose=False)}
        notes = [("a", 301), ("b", 302), ("a", 303), ("b", 304)]
        for n, (who, barge) in enumerate(notes):
            doc = tmp_path / f"note{n}.txt"
            doc.write_text(f"Harbour note {n}: the barge number {barge} docked.\n", "utf-8")
            message, _, _ = clients[who].predict([handle_file(doc)], api_name="/upload")
            assert "added" in message and "not added" not in message, message
        for client in clients.values():
            for n, (_, barge) in enumerate(notes):
                got = client.predict(f"Which barge number docked in harbour note {n}?",
                                     api_name="/ask")  # fmt: skip
                assert str(barge) in got["text"], (n, got["text"])
        for server in (a, b):
            assert server.proc.poll() is None
            assert "Traceback" not in "".join(server.output)
