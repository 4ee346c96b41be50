"""A store whose disk fills up, or that is read-only, is said to be so: never "damaged".

Each test runs the ``qa`` command in a private mount namespace (``unshare -rm``): a 3 MB tmpfs
plays the full disk, a read-only bind mount the read-only store. Skipped where user namespaces
are not permitted.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

WORDS = ("harbour", "storm", "keeper", "light", "north", "winter", "ship", "crane", "gull")


def _unshare_works() -> bool:
    try:
        probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _unshare_works(), reason="unshare -rm is not permitted")


def _corpus(root: Path, files: int = 60) -> Path:
    rng = random.Random(7)
    root.mkdir()
    for n in range(files):
        text = " ".join(rng.choice(WORDS) for _ in range(3000))
        (root / f"log{n:02}.txt").write_text(text + ".\n", encoding="utf-8")
    return root


def _in_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (bash) in a new user and mount namespace; ``$QA`` is the qa command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(
        QA=f"{sys.executable} -m qa.cli", QA_EMBEDDER="hashing", XDG_DATA_HOME=str(tmp_path / "d")
    )
    return subprocess.run(
        ["unshare", "-rm", "bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_full_disk_is_reported_as_full_and_indexing_resumes_after_space_is_freed(
    tmp_path: Path,
) -> None:
    corpus = _corpus(tmp_path / "corpus")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = _in_namespace(
        f"""
        mount -t tmpfs -o size=3m tmpfs {disk}
        $QA --store {disk}/store index {corpus} >/dev/null 2>{tmp_path}/full.err
        echo "full exit $?"
        mount -o remount,size=64m {disk}            # space freed
        $QA --store {disk}/store index --check {corpus}; echo "check exit $?"
        $QA --store {disk}/store index {corpus} >/dev/null; echo "resumed exit $?"
        """,
        tmp_path,
    )
    full = (tmp_path / "full.err").read_text(encoding="utf-8")
    assert "full exit 5" in done.stdout, done.stdout + done.stderr + full
    assert f"the disk holding {disk}/store is full" in full
    assert "free some space and run the command again" in full
    assert "is damaged" not in full and "rebuild" not in full and "Traceback" not in full
    assert "is sound" in done.stdout and "check exit 0" in done.stdout, done.stdout
    assert "resumed exit 0" in done.stdout, done.stdout + done.stderr


def test_a_read_only_store_answers_and_says_indexing_needs_write_access(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus", files=4)
    store = tmp_path / "store"
    done = _in_namespace(
        f"""
        $QA --store {store} index {corpus} >/dev/null || exit 9
        mount --bind {store} {store} && mount -o remount,ro,bind {store} || exit 8
        $QA --store {store} ask --folder {corpus} "harbour storm keeper" \
            >{tmp_path}/ask.out 2>{tmp_path}/ask.err; echo "ask exit $?"
        $QA --store {store} index {corpus} >/dev/null 2>{tmp_path}/index.err; echo "index exit $?"
        """,
        tmp_path,
    )
    assert "ask exit 0" in done.stdout, done.stdout + done.stderr
    answer = (tmp_path / "ask.out").read_text(encoding="utf-8")
    assert "[1] log" in answer, answer
    note = (tmp_path / "ask.err").read_text(encoding="utf-8")
    assert f"the store {store} is read-only" in note and "answers still work" in note
    assert "index exit 5" in done.stdout, done.stdout
    refused = (tmp_path / "index.err").read_text(encoding="utf-8")
    assert f"the store {store} is read-only" in refused and "is damaged" not in refused
