"""A child process for the crash, single-writer and corrupt-store tests.

``python -m tests.store_worker COMMAND CORPUS STORE [options]``; the result is one JSON line
on stdout. Commands:

- ``sync``: ``Assistant.sync`` (so the writer lock is taken) with a hashing embedder that
  prints ``SYNCING`` once the first batch is embedded, then waits for ``--hold-until`` to
  exist (if given) and sleeps ``--delay`` s per batch; ``--slow-writes`` s pass before each
  Chroma write;
- ``query``: open the store without syncing, retrieve ``--question``, and list stored ids;
- ``watch``: poll the chunks of ``--sources`` until ``--stop-file`` exists (at most
  ``--seconds``) and list every distinct set of ids seen per source (a reader beside a writer);
- ``recover``: reopen after a crash, list what is stored, query, then sync and list again;
- ``session``: ``recover``, then wait for ``go`` on stdin and run a slow ``sync`` (the crash test
  kills it: one process per run).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import qa  # noqa: F401  - offline environment first
from qa.assistant import Assistant
from qa.embed import HashingEmbedder
from qa.settings import Settings

CHUNK_SIZE, CHUNK_OVERLAP, DIM = 48, 8, 256  # DIM 256: the collection `QA_EMBEDDER=hashing` uses
# The same settings for the `qa` command, so that it reads and writes the same collection.
CLI_ENV = {
    "QA_EMBEDDER": "hashing",
    "QA_CHUNK_SIZE": str(CHUNK_SIZE),
    "QA_CHUNK_OVERLAP": str(CHUNK_OVERLAP),
    "QA_ANSWERER": "extractive",
}
ROOT = Path(__file__).resolve().parent.parent


class SlowHashing(HashingEmbedder):
    """``HashingEmbedder(DIM)`` (same name, same vectors) that takes its time."""

    def __init__(self, delay: float, *, announce: bool = False) -> None:
        super().__init__(DIM)
        self.delay = delay
        self.announce = announce
        self.hold: Path | None = None  # after the first batch, wait until this file exists
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = super().embed(texts)
        if texts:
            self.calls += 1
            if self.calls == 1 and self.announce:
                print("SYNCING", flush=True)
            deadline = time.monotonic() + 120
            while self.hold and not self.hold.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(self.delay)
        return out


def assistant(corpus: Path, store: Path) -> Assistant:
    """An assistant with the test chunking and the hashing embedder (no delay yet)."""
    settings = Settings(
        corpus=corpus,
        store=store,
        embedder="hashing",
        answerer="extractive",
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
    )
    return Assistant(settings, embedder=SlowHashing(0.0))


def slow_down(a: Assistant, delay: float, slow_writes: float) -> None:
    """``delay`` seconds per embedded batch (announced by ``SYNCING``); ``slow_writes`` seconds
    before each Chroma write (add, delete, update), as on a slow disk, so that a kill often
    lands between the writes that replace a file. Then the splitter is loaded, and ``READY``.
    """
    assert isinstance(a.embedder, SlowHashing)
    a.embedder.delay = delay
    a.embedder.announce = delay > 0 or a.embedder.hold is not None
    if slow_writes:
        for name in ("add", "delete", "update"):
            write = getattr(a.store.collection, name)
            setattr(a.store.collection, name, _after_pause(write, slow_writes))
    a.chunker.chunk("warm-up", "Loads the sentence tokenizer before READY. " * 40, "-")
    print("READY", flush=True)


def _after_pause(write: Any, seconds: float) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return write(*args, **kwargs)

    return call


def stored(a: Assistant) -> dict[str, Any]:
    """Every stored id, and the ids grouped by source."""
    got = a.store.collection.get(include=["metadatas"])
    by_source: dict[str, list[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
        by_source.setdefault(str(meta["source"]), []).append(cid)
    return {
        "ids": list(got["ids"]),
        "by_source": by_source,
        "count": a.store.count(),
        "texts_unmatched": texts_unmatched(a),
    }


def texts_unmatched(a: Assistant) -> list[str]:
    """Chunks whose kept text (what their file was read as) is missing or does not hold them
    at their offsets: the texts are written before the chunks, so there must be none."""
    bad = []
    for chunk in a.store.chunks():
        doc = a.store.document(chunk.source, chunk.file_hash)
        if doc is None or doc.text[chunk.start : chunk.end] != chunk.text:
            bad.append(f"{chunk.source}:{chunk.start}")
    return bad


def ask(a: Assistant, question: str) -> list[str]:
    """Ids of the chunks hybrid retrieval (dense + BM25 over every stored chunk) finds."""
    return [p.chunk.id for p in a.retrieve(question)]


WORDS = ["river", "ferry", "storm", "harbour", "crane", "convoy", "bridge", "tide", "wind", "cargo"]


def write_corpus(root: Path, files: int, sentences: int, seed: int = 7, prefix: str = "f") -> None:
    """``files`` files of ``sentences`` numbered random sentences, about 16 tokens each."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        text = " ".join(
            " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + f" number {i}-{j}."
            for j in range(sentences)
        )
        (root / f"{prefix}{i:02d}.txt").write_text(text, encoding="utf-8")


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no developer ``QA_*``/``OPENAI_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


class Child:
    """A child process whose output threads read, so that waiting for a line is time-bounded."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=env or child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self._err.extend(self.proc.stderr)

    def expect(self, marker: str, timeout: float = 60) -> str:
        """The next output line starting with ``marker`` (lines before it are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {marker!r} from the child within {timeout} s") from None
            if line is None:
                self.finish(10)
                raise AssertionError(f"child exited before {marker!r}: {self.stderr[-3000:]}")
            if line.startswith(marker):
                return line

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.kill()

    def finish(self, timeout: float = 120) -> int:
        """Wait for the exit (killing the child after ``timeout`` s); its exit status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        for t in self._threads:
            t.join(10)
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def result(self, timeout: float = 120) -> Any:
        """The JSON result line, once the child has run to its end."""
        line = self.expect("{", timeout)
        code = self.finish(timeout)
        assert code == 0, self.stderr[-3000:]
        return json.loads(line)


def spawn(command: str, corpus: Path, store: Path, *options: str) -> Child:
    """Start this worker in a child process."""
    args = [sys.executable, "-m", "tests.store_worker", command, str(corpus), str(store)]
    return Child([*args, *options])


def run(command: str, corpus: Path, store: Path, *options: str, timeout: float = 120) -> Any:
    """Run this worker to the end; its JSON result."""
    return spawn(command, corpus, store, *options).result(timeout)


def qa_cli(
    args: Sequence[str], cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m qa.cli ARGS`` with the worker's settings (``CLI_ENV``) plus ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        env=child_env(**{**CLI_ENV, **env}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def recover(a: Assistant, question: str) -> dict[str, Any]:
    """What is stored right after opening, a query, the sync to the end, and what is stored then."""
    before = stored(a)
    passages = ask(a, question)
    report = a.sync().to_dict()
    return {"before": before, "passages": passages, "report": report, "after": stored(a)}


def watch(a: Assistant, sources: list[str], seconds: float, stop: Path | None) -> dict[str, Any]:
    """Poll the chunks of ``sources``; every distinct id set seen per source, in order."""
    seen: dict[str, list[list[str]]] = {s: [] for s in sources}
    polls = 0
    print("WATCHING", flush=True)
    deadline = time.monotonic() + seconds
    last = False
    while not last:
        last = time.monotonic() > deadline or bool(stop and stop.exists())
        where: Any = {"source": {"$in": sources}}
        got = a.store.collection.get(where=where, include=["metadatas"])
        now: dict[str, set[str]] = {s: set() for s in sources}
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            now[str(meta["source"])].add(cid)
        for source, ids in now.items():
            if not seen[source] or set(seen[source][-1]) != ids:
                seen[source].append(sorted(ids))
        polls += 1
    return {"polls": polls, "seen": seen}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["sync", "query", "watch", "recover", "session"])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--slow-writes", type=float, default=0.0)
    parser.add_argument("--question", default="What happened to the ferry?")
    parser.add_argument("--sources", nargs="*", default=[])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stop-file", type=Path)
    parser.add_argument(
        "--hold-until", type=Path, help="sync: pause after one batch until it exists"
    )
    args = parser.parse_args(argv)
    a = assistant(args.corpus, args.store)
    out: dict[str, Any]
    if args.command == "sync":
        assert isinstance(a.embedder, SlowHashing)
        a.embedder.hold = args.hold_until
        slow_down(a, args.delay, args.slow_writes)
        out = a.sync().to_dict()
    elif args.command == "query":
        out = {"passages": ask(a, args.question), **stored(a)}
    elif args.command == "watch":
        out = watch(a, args.sources, args.seconds, args.stop_file)
    elif args.command == "recover":
        out = recover(a, args.question)
    else:  # session: recover, then on "go" from stdin a slow sync (to be killed)
        print(json.dumps(recover(a, args.question)), flush=True)
        if sys.stdin.readline().strip() != "go":
            return 0
        slow_down(a, args.delay, args.slow_writes)
        out = a.sync().to_dict()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
