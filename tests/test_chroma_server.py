"""The same flows against a real Chroma server (`chroma run` on 127.0.0.1) via ``HttpClient``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.embed import HashingEmbedder
from tests.helpers import assistant, seeds_copy

PAUSE_Q = "How long did the previous humanitarian pause last?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_sync_ask_and_resync_through_the_server(chroma_url: str, tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    embedder = HashingEmbedder()
    a = qa.Assistant.from_folder(
        corpus, store=tmp_path / "unused", chroma_url=chroma_url, embedder=embedder
    )
    assert a.last_sync is not None and len(a.last_sync.added) == 5
    assert not (tmp_path / "unused" / "chroma").exists(), "no embedded store in server mode"
    answer = a.ask(PAUSE_Q)
    assert "ten hours" in answer.text
    for c in answer.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote

    again = qa.Assistant.from_folder(corpus, chroma_url=chroma_url, embedder=embedder)
    assert again.last_sync is not None and again.last_sync.chunks_embedded == 0

    (corpus / "002_85c3a7959f85f010.txt").unlink()
    doc = corpus / "000_2aad95338d9cee2c.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("ten hours", "nine hours"), "utf-8")
    report = again.sync()
    assert report.removed == ["002_85c3a7959f85f010.txt"]
    assert report.updated == ["000_2aad95338d9cee2c.txt"]
    assert "nine hours" in again.ask(PAUSE_Q).text


@pytest.mark.slow
def test_real_embedder_against_the_server(chroma_url: str, tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    a = assistant(corpus, tmp_path / "unused", chroma_url=chroma_url)
    answer = a.ask("Which road could convoys from Gaziantep take into eastern Aleppo?")
    assert "Castello" in answer.text
    assert answer.citations[0].source == "002_85c3a7959f85f010.txt"


def test_two_clients_one_writes_the_other_answers_what_was_written(
    chroma_url: str, tmp_path: Path
) -> None:
    """Two machines share the server, each with its own store folder (manifest and lexical
    index): B follows A's writes through the change token in the collection's metadata, even
    an edit that leaves the number of chunks unchanged."""
    from qa.store.lexical import LexicalIndex

    corpus = seeds_copy(tmp_path)
    embedder = HashingEmbedder()
    writer = qa.Assistant.from_folder(
        corpus, store=tmp_path / "a", chroma_url=chroma_url, embedder=embedder
    )
    reader = qa.Assistant.from_folder(
        corpus, store=tmp_path / "b", chroma_url=chroma_url, embedder=embedder, sync=False
    )
    assert "ten hours" in reader.ask(PAUSE_Q).text
    # B built its own lexical index from the server's chunks, without syncing anything.
    lexical = reader.store.lexical
    assert lexical.path.is_relative_to(tmp_path / "b")
    assert set(lexical.files()) == {f.source for f in writer.files()}

    doc = corpus / "000_2aad95338d9cee2c.txt"
    chunks_before = writer.store.count()
    doc.write_text(doc.read_text(encoding="utf-8").replace("ten hours", "nine hours"), "utf-8")
    gone = corpus / "003_0a0cb1fd6e1b1a04.txt"
    gone_name = gone.name if gone.exists() else sorted(p.name for p in corpus.iterdir())[-1]
    report = writer.sync()
    assert report.updated == ["000_2aad95338d9cee2c.txt"]
    (corpus / gone_name).unlink()
    assert writer.sync().removed == [gone_name]
    assert writer.store.count() < chunks_before

    answer = reader.ask(PAUSE_Q)
    assert "nine hours" in answer.text and "ten hours" not in answer.text
    assert {c.source for c in answer.citations} <= {f.source for f in writer.files()}
    assert gone_name not in {f.source for f in reader.files()}
    # B's lexical index now matches the edited chunk, and holds nothing of the removed file.
    hits = reader.retriever.sparse("nine hours", 5, "en")
    assert hits and reader.retriever.chunks(hits[:1])[hits[0]].source == doc.name
    assert gone_name not in LexicalIndex(lexical.path, lexical.key).files()
