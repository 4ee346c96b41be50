"""A child process for the crash, single-writer and corrupt-store tests.

``python -m tests.store_worker COMMAND CORPUS STORE [options]``; the result is one JSON line
on stdout. Commands:

- ``sync``: ``Assistant.sync`` (so the writer lock is taken) with a hashing embedder that
  sleeps ``--delay`` seconds per batch, printing ``SYNCING`` once the first batch is embedded,
  and ``--slow-writes`` seconds before each Chroma write;
- ``query``: open the store without syncing, retrieve ``--question``, and list stored ids;
- ``watch``: poll the chunks of ``--sources`` until ``--stop-file`` exists (at most
  ``--seconds``) and list every distinct set of ids seen per source (a reader beside a writer);
- ``recover``: reopen after a crash, list what is stored, query, then sync and list again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
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
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = super().embed(texts)
        if texts:
            self.calls += 1
            if self.calls == 1 and self.announce:
                print("SYNCING", flush=True)
            time.sleep(self.delay)
        return out


def assistant(corpus: Path, store: Path, delay: float = 0.0, slow_writes: float = 0.0) -> Assistant:
    """An assistant with the test chunking and the (slow) hashing embedder.

    ``slow_writes`` seconds pass before each Chroma write (add, delete, update), as on a slow
    disk: a kill then often lands between the writes that replace a file.
    """
    settings = Settings(
        corpus=corpus,
        store=store,
        embedder="hashing",
        answerer="extractive",
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
    )
    a = Assistant(settings, embedder=SlowHashing(delay, announce=delay > 0))
    if slow_writes:
        for name in ("add", "delete", "update"):
            setattr(
                a.store.collection,
                name,
                _after_pause(getattr(a.store.collection, name), slow_writes),
            )
    return a


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
    return {"ids": list(got["ids"]), "by_source": by_source, "count": a.store.count()}


def ask(a: Assistant, question: str) -> list[str]:
    """Ids of the chunks a dense query for ``question`` finds (Chroma's vector search)."""
    vector = a.embedder.embed([question])[0]
    got = a.store.collection.query(query_embeddings=[vector.tolist()], n_results=5, include=[])
    return list(got["ids"][0])


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


def spawn(command: str, corpus: Path, store: Path, *options: str) -> subprocess.Popen[str]:
    """Start this worker in a child process (stdout piped, line-buffered text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store_worker", command, str(corpus), str(store), *options],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def run(command: str, corpus: Path, store: Path, *options: str, timeout: float = 120) -> Any:
    """Run this worker to the end; its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.store_worker", command, str(corpus), str(store), *options],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> None:
    """Read the child's stdout until ``marker``; fail if it exits or takes too long first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == marker:
            return
        if not line and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"worker exited before {marker}: {err[-3000:]}")
    raise AssertionError(f"no {marker} from the worker within {timeout} s")


def qa_cli(
    args: Sequence[str], cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m qa.cli ARGS`` with the worker's settings (``CLI_ENV``) plus ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        env=child_env(**CLI_ENV, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["sync", "query", "watch", "recover"])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--slow-writes", type=float, default=0.0)
    parser.add_argument("--question", default="What happened to the ferry?")
    parser.add_argument("--sources", nargs="*", default=[])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stop-file", type=Path)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    if args.command == "sync":
        a = assistant(args.corpus, args.store, args.delay, args.slow_writes)
        a.chunker.chunk("warm-up", "Loads the sentence tokenizer before READY. " * 40, "-")
        print("READY", flush=True)
        out = a.sync().to_dict()
    elif args.command == "query":
        a = assistant(args.corpus, args.store)
        out = {"passages": ask(a, args.question), **stored(a)}
    elif args.command == "watch":
        a = assistant(args.corpus, args.store)
        seen: dict[str, list[list[str]]] = {s: [] for s in args.sources}
        polls = 0
        print("WATCHING", flush=True)
        deadline = time.monotonic() + args.seconds
        last = False
        while not last:
            last = time.monotonic() > deadline or bool(args.stop_file and args.stop_file.exists())
            where: Any = {"source": {"$in": args.sources}}
            got = a.store.collection.get(where=where, include=["metadatas"])
            now: dict[str, set[str]] = {s: set() for s in args.sources}
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                now[str(meta["source"])].add(cid)
            for source, ids in now.items():
                if not seen[source] or set(seen[source][-1]) != ids:
                    seen[source].append(sorted(ids))
            polls += 1
        out = {"polls": polls, "seen": seen}
    elif args.command == "recover":
        a = assistant(args.corpus, args.store)
        before = stored(a)
        passages = ask(a, args.question)
        report = a.sync().to_dict()
        out = {"before": before, "passages": passages, "report": report, "after": stored(a)}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
