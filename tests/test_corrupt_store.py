"""A damaged store (qa.store.health): a clear "damaged, rebuild it" message, never a crash;
rebuilds work.

Damage is done to a real store whose HNSW index has been written to disk (over 1,000 vectors:
Chroma keeps fewer in its SQLite log only): a truncated ``data_level0.bin``, a truncated
``header.bin`` (Chroma segfaults on it), garbage in the middle of ``chroma.sqlite3``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

import qa  # noqa: F401  - offline environment first
from qa.store import health
from tests import store_worker as worker

QUESTION = "ferry storm harbour"
SEED = 1729  # the garbage written into the SQLite file
FILES = 34


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus and a sound store of it (about 1,100 chunks), built once for the module."""
    root = tmp_path_factory.mktemp("corrupt")
    corpus, store = root / "corpus", root / "template"
    worker.write_corpus(corpus, files=FILES, sentences=90)
    done = worker.qa_cli(["--store", str(store), "index", "--json", str(corpus)], root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["chunks_embedded"] > 1000
    segments = list((store / "chroma").glob("*/header.bin"))
    assert segments and (segments[0].parent / "data_level0.bin").stat().st_size > 0
    return corpus, store


@pytest.fixture
def store(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the sound store."""
    copy = tmp_path / "store"
    shutil.copytree(built[1], copy)
    return copy


def segment(store: Path) -> Path:
    (header,) = (store / "chroma").glob("*/header.bin")
    return header.parent


def ask(store: Path, corpus: Path, cwd: Path) -> tuple[int, str, str]:
    done = worker.qa_cli(
        ["--store", str(store), "ask", "--json", "--folder", str(corpus), QUESTION], cwd
    )
    return done.returncode, done.stdout, done.stderr


def assert_damaged_message(stderr: str, store: Path, detail: str) -> None:
    assert "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"qa: error: index at {store.resolve() / 'chroma'} is damaged (")
    assert detail in line, line
    assert line.endswith("); rebuild it with `qa index --rebuild`"), line


def rebuild_and_answer(store: Path, corpus: Path, cwd: Path) -> None:
    """`qa index --rebuild` keeps the damaged folder aside, re-indexes, and questions work."""
    before = set((store / "chroma").rglob("*"))
    done = worker.qa_cli(["--store", str(store), "index", "--rebuild", "--json", str(corpus)], cwd)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["added"]) == FILES
    (aside,) = store.glob("chroma.damaged-*")
    assert {p.relative_to(aside) for p in aside.rglob("*")} == {
        p.relative_to(store / "chroma") for p in before
    }, "the damaged store is kept whole"
    assert f"moved the old index aside to {aside}" in done.stderr
    code, out, err = ask(store, corpus, cwd)
    assert code == 0, err
    assert json.loads(out)["citations"]
    check = worker.qa_cli(["--store", str(store), "index", "--check", str(corpus)], cwd)
    assert check.returncode == 0 and "is sound" in check.stdout, check.stderr


def test_sound_store_passes_every_check(
    store: Path, built: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus = built[0]
    assert health.quick_check(store, thorough=True) is None
    start = time.perf_counter()
    assert health.probe(store) is None
    probe_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(10):
        assert health.quick_check(store) is None
    quick_ms = (time.perf_counter() - start) * 100
    print(f"\nprobe {probe_s:.2f} s, quick check {quick_ms:.2f} ms")
    assert quick_ms < 50, "the check before every open must stay cheap"
    code, out, err = ask(store, corpus, tmp_path)
    assert code == 0, err
    assert json.loads(out)["citations"]


def test_truncated_hnsw_data_is_reported_by_ask_and_index(
    store: Path, built: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus = built[0]
    data = segment(store) / "data_level0.bin"
    os.truncate(data, data.stat().st_size // 3)
    code, out, err = ask(store, corpus, tmp_path)
    assert code == 4 and out == ""
    assert_damaged_message(err, store, "data_level0.bin is truncated")
    index = worker.qa_cli(["--store", str(store), "index", str(corpus)], tmp_path)
    assert index.returncode == 4
    assert_damaged_message(index.stderr, store, "data_level0.bin is truncated")
    assert (store / "chroma").is_dir() and not list(store.glob("chroma.damaged-*"))


def test_truncated_hnsw_header_would_segfault_chroma_but_is_caught_first(
    store: Path, built: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus = built[0]
    os.truncate(segment(store) / "header.bin", 50)
    # Opened as is, Chroma dies of SIGSEGV: only a child process can find that out.
    assert health.probe(store) == "Chroma crashed with SIGSEGV while reading it"
    code, _, err = ask(store, corpus, tmp_path)
    assert code == 4
    assert_damaged_message(err, store, "header.bin has 50 bytes, not 100")
    rebuild_and_answer(store, corpus, tmp_path)


def test_garbage_in_sqlite_is_reported_and_rebuilt(
    store: Path, built: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus = built[0]
    db = store / "chroma" / "chroma.sqlite3"
    with db.open("r+b") as f:
        f.seek(db.stat().st_size // 2)
        f.write(random.Random(SEED).randbytes(64 * 1024))
    assert health.quick_check(store) is None  # headers and sizes are intact
    code, out, err = ask(store, corpus, tmp_path)  # fails inside Chroma, then the probe runs
    assert code == 4 and out == ""
    # SQLite names the damage it meets first ("database disk image is malformed", "Page N is
    # never used", ...): any of them, in the one clear message.
    assert_damaged_message(err, store, "")
    check = worker.qa_cli(["--store", str(store), "index", "--check", str(corpus)], tmp_path)
    assert check.returncode == 4
    assert_damaged_message(check.stderr, store, "")
    rebuild_and_answer(store, corpus, tmp_path)


def test_check_finds_a_truncated_link_list(
    store: Path, built: tuple[Path, Path], tmp_path: Path
) -> None:
    links = segment(store) / "link_lists.bin"
    os.truncate(links, links.stat().st_size // 2)
    check = worker.qa_cli(["--store", str(store), "index", "--check", str(built[0])], tmp_path)
    assert check.returncode == 4
    assert_damaged_message(check.stderr, store, "link_lists.bin is truncated or inconsistent")


def test_rebuild_of_a_missing_store_just_indexes(tmp_corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "fresh"
    assert health.move_aside(store) is None
    done = worker.qa_cli(["--store", str(store), "index", "--rebuild", str(tmp_corpus)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(store.glob("chroma.damaged-*"))
