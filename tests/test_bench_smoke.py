"""The benches run end to end with ``--smoke`` and write their JSON (timings unchecked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # the benches use the real embedding model

COMMON = {"bench", "argv", "machine", "smoke", "valid", "problems"}
EXPECTED: dict[str, set[str]] = {
    "resync": COMMON
    | {"corpus", "embedder", "embedder_note", "repeats", "build", "seconds", "ratios", "targets"},
    "cold": COMMON | {"question", "answer", "build", "seconds", "ratios", "targets", "ask_imports"},
    "llm": COMMON | {"server_delay_s", "questions", "phases", "retrieve_alone"},
    "llm_local": COMMON
    | {"model", "qa_ttft", "raw_ttft", "qa_total", "raw_total", "server_peak_rss_mb"},
    "request_size": COMMON | {"posts", "mb", "runs", "ratios", "targets"},
    "shared_store": COMMON | {"seconds", "rate", "figures"},
    "pdf_pages": COMMON | {"pages", "repetitions", "variants", "ratios"},
    "html_extract": COMMON | {"generated", "real_pages", "timing", "ratios"},
    "clean_text": COMMON | {"folder", "before", "files", "totals"},
}
SECONDS: dict[str, set[str]] = {
    "resync": {
        "noop_walk_s",
        "noop_import_s",
        "noop_construct_s",
        "noop_sync_s",
        "noop_cli_s",
        "edit_sync_s",
        "edit_cli_s",
        "warm_edit_sync_s",
    },
    "cold": {"python", "import_qa", "ask", "import_gradio", "serve"},
}
PHASE = {
    "qa_ttft",
    "raw_sdk_ttft",
    "qa_ttft_minus_delay",
    "raw_sdk_ttft_minus_delay",
    "qa_overhead",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_smoke_writes_its_json(name: str, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    script = ROOT / "bench" / f"{name}.py"
    done = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(out), "--cache", str(cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.lstrip().startswith("## ") and "|---|" in done.stdout
    result = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert EXPECTED[name] <= result.keys()
    assert result["smoke"] is True and result["valid"] is True, result["problems"]
    if name in SECONDS:
        assert SECONDS[name] <= result["seconds"].keys()
        assert all({"median", "min", "max", "runs"} <= v.keys() for v in result["seconds"].values())
    if name == "cold":
        assert not any(result["ask_imports"]["heavy_loaded"].values())
    if name == "llm":
        assert {"burst", "paced"} == result["phases"].keys()
        assert all(phase.keys() >= PHASE for phase in result["phases"].values())


SMOKE_KEYS: dict[str, set[str]] = {
    "ingest": {"e5", "minilm", "hit_at_5", "chunks"},
    "query": {"pool_sentences", "scales"},
    "evidence": {"questions", "modes", "p50_speedup"},
    "sentence_lookup": {"sentences", "ms", "ratios", "bytes_per_sentence"},
}


@pytest.mark.parametrize("name", sorted(SMOKE_KEYS))
def test_measurement_bench_smoke(name: str, tmp_path: Path) -> None:
    """ingest, query, evidence and sentence_lookup: same code path on tiny inputs; JSON with
    its baselines."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "|---|" in done.stdout
    result = json.loads((tmp_path / f"{name}-smoke.json").read_text(encoding="utf-8"))
    assert SMOKE_KEYS[name] <= result.keys()
    assert result["machine"]["cpus"] >= 1


@pytest.mark.parametrize("sentences", [False, True], ids=["plain", "sentence-vectors"])
def test_scale_bench_smoke_ends_with_its_summary_line(tmp_path: Path, sentences: bool) -> None:
    """bench/scale.py on a tiny store: every measure runs, and the last line is the summary;
    with ``--sentence-vectors`` the store keeps them (and the one-edit sync keeps them too)."""
    import re

    script = str(ROOT / "bench" / "scale.py")
    flags = ["--sentence-vectors"] if sentences else []
    done = subprocess.run(
        [sys.executable, script, "--chunks", "300", "--smoke", "--out", str(tmp_path), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    number = r"\d+(?:\.\d+)?"
    assert re.fullmatch(
        rf"scale: 300 chunks; cold qa ask median {number} s; warm ask p50 {number} ms; "
        rf"p95 {number} ms; peak RSS {number} MiB; one-edit resync {number} s; "
        rf"disk {number} MiB",
        last,
    ), last
    result = json.loads((tmp_path / "scale-smoke.json").read_text(encoding="utf-8"))
    assert result["resync_updated"] and result["resync_chunks_embedded"] >= 1
    assert result["resync_chunks_reused"] >= 1  # the chunks before the edit keep their vectors
    assert result["resync_warm_s"] > 0 and result["resync_warm_again_s"] > 0
    assert result["chunks"] >= 300 and result["disk_mb"] > 0  # an edited file re-chunks
    # Each pool sentence's vector once (a 300-sentence pool, nearly all drawn); without the
    # setting, none kept.
    assert (result["sentence_vectors"] > 250) if sentences else not result["sentence_vectors"]
    phases = result["cold_phases"]
    assert [p["phase"].split()[0] for p in phases] == [
        "import", "open", "no-op", "load", "first", "answer"
    ]  # fmt: skip
    assert all(p["s"] > 0 and p["rss_mb"] > 0 for p in phases)


def chroma_writes(*args: str) -> dict[str, Any]:
    """bench/chroma_writes.py ARGS run to the end; the JSON of its last line."""
    script = str(ROOT / "bench" / "chroma_writes.py")
    done = subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_chroma_writes_bench_reports_bytes_written() -> None:
    """bench/chroma_writes.py: a mark every 20,000 vectors, seconds and MiB written growing."""
    result = chroma_writes("40000", "50000")
    assert result["sync_threshold"] == "50000" and result["vectors"] == 40000
    (n1, s1, mib1), (n2, s2, mib2) = result["marks"]
    assert (n1, n2) == (20000, 40000) and 0 < s1 < s2 and 0 < mib1 <= mib2


def test_chroma_writes_bench_reports_what_readers_replay() -> None:
    """bench/chroma_writes.py N replay: three fresh first queries for each way of writing."""
    result = chroma_writes("2500", "replay")
    assert result["vectors"] == 2500 and result["bulk: end of the write s"] > 0
    for way in ("default", "left raised", "bulk"):
        times = result[f"{way}: first query s"]
        assert len(times) == 3 and all(t > 0 for t in times)


def test_scale_builder_stores_what_a_sync_would(tmp_path: Path) -> None:
    """bench/query.py's builder: each chunk's sentence offsets slice its file into pool
    sentences, and with ``sentences`` each of them has its pool sentence's vector."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from common import CACHE
        from query import build, pool_vectors, sentence_pool
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import qa

    pool = sentence_pool(limit=300)
    vectors = pool_vectors(pool, CACHE / "query-smoke")
    build(30, tmp_path, pool, vectors, sentences=True)
    store = qa.Assistant.from_folder(
        tmp_path / "corpus", sync=False, store=tmp_path / "store"
    ).store
    chunks = store.chunks()
    assert len(chunks) == 30
    index = {text: i for i, text in enumerate(pool)}
    texts = []
    for chunk in chunks:
        text = (tmp_path / "corpus" / chunk.source).read_text(encoding="utf-8")
        assert len(chunk.sentences) == 7
        for start, end in chunk.sentences:
            assert text[start:end] in index, (chunk.source, chunk.index, text[start:end][:40])
            texts.append(text[start:end])
    stored = store.sentence_vectors(texts)
    assert set(stored) == set(texts)
    assert all(np.array_equal(stored[t], vectors[index[t]]) for t in texts)
