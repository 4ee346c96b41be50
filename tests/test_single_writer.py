"""One writer per store (qa.store.lock): a second syncing process is refused, readers keep
working."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import qa  # noqa: F401  - offline environment first
from qa.store.lock import LOCK_NAME, StoreLocked, writer_lock
from tests import store_worker as worker

HOLD = """
import sys, time
from pathlib import Path
from qa.store.lock import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("HELD", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(store: Path, seconds: float) -> worker.Child:
    """A child process that holds the store's writer lock for ``seconds``."""
    child = worker.Child([sys.executable, "-c", HOLD, str(store), str(seconds)])
    child.expect("HELD")
    return child


def cli_process(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        env=worker.child_env(**worker.CLI_ENV),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_second_writer_is_refused_while_a_sync_runs_and_readers_answer(tmp_path: Path) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    worker.write_corpus(corpus, files=4, sentences=30)
    assert worker.qa_cli(["--store", str(store), "index", str(corpus)], tmp_path).returncode == 0
    # Now a sync of more files that pauses after its first batch, holding the lock.
    worker.write_corpus(corpus / "more", files=12, sentences=30, seed=8)
    go_on = tmp_path / "go-on"
    writer = worker.spawn("sync", corpus, store, "--hold-until", str(go_on))
    try:
        writer.expect("SYNCING")
        # While it runs: a second writer, and two readers (`qa ask` syncs first: it skips that).
        second = cli_process(["--store", str(store), "index", str(corpus)], tmp_path)
        ask = cli_process(
            ["--store", str(store), "ask", "--json", "--folder", str(corpus), "ferry storm"],
            tmp_path,
        )
        reader = worker.run("query", corpus, store)
        second_out, second_err = second.communicate(timeout=120)
        ask_out, ask_err = ask.communicate(timeout=120)
        assert writer.alive(), "the writer must still be running"
    finally:
        go_on.touch()
        report = writer.result()
    assert len(report["added"]) == 12

    assert second.returncode == 3, second_err
    message = second_err.strip()
    assert message.startswith(f"qa: error: another qa process (pid {writer.pid}, since ")
    assert f"is writing to {store.resolve()}; wait for it to finish or stop it" in message
    assert "Traceback" not in second_err and second_out == ""
    print(f"\nrefusal: {message}")

    assert ask.returncode == 0, ask_err
    assert f"another qa process (pid {writer.pid}" in ask_err
    assert "answering from the index as it is" in ask_err
    answer = json.loads(ask_out)
    assert answer["citations"] or answer["closest"]
    assert reader["passages"] and reader["count"] >= 4 * 10

    # After the writer finished, the next sync runs and finds nothing left to do.
    again = worker.qa_cli(["--store", str(store), "index", "--json", str(corpus)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["chunks_embedded"] == 0
    assert (store / LOCK_NAME).read_text() == ""  # released and emptied


def test_refusal_names_the_holder_and_touches_nothing(tmp_path: Path) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    worker.write_corpus(corpus, files=2, sentences=5)
    holder = hold_lock(store, 60)
    try:
        info = json.loads((store / LOCK_NAME).read_text())
        assert info["pid"] == holder.pid and info["host"] and info["started"]
        refused = worker.qa_cli(["--store", str(store), "index", str(corpus)], tmp_path)
        assert refused.returncode == 3
        assert f"(pid {holder.pid}, since {info['started']})" in refused.stderr
        assert not (store / "chroma").exists(), "a refused writer must not open Chroma"
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"), writer_lock(store):
            pass  # pragma: no cover - never reached
    finally:
        holder.kill()
        holder.finish()


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = hold_lock(store, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.finish()
    assert str(holder.pid) in (store / LOCK_NAME).read_text()  # the stale file is still there
    start = time.monotonic()
    with writer_lock(store):
        assert json.loads((store / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert time.monotonic() - start < 1.0


def test_threads_of_one_process_take_turns_and_the_lock_is_reentrant(tmp_path: Path) -> None:
    store = tmp_path / "store"
    inside = 0
    most = 0
    errors: list[BaseException] = []
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        try:
            with writer_lock(store), writer_lock(store):  # re-entrant in one thread
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.05)
                with guard:
                    inside -= 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert most == 1, "two threads held the writer lock at once"


def test_assistant_sync_is_refused_while_another_process_writes(
    tmp_corpus: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    a = worker.assistant(tmp_corpus, store)
    holder = hold_lock(store, 60)
    try:
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            a.sync()
        assert a.store.count() == 0
    finally:
        holder.kill()
        holder.finish()
    assert a.sync().added  # free again
