"""Shared test helpers: the real embedder (loaded once), the seed corpus, assistants over it."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import qa
from qa.embed import DEFAULT_EMBEDDER, Embedder, create_embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@cache
def default_embedder() -> Embedder:
    """The real default embedder (e5), shared by every test in the session."""
    return create_embedder(DEFAULT_EMBEDDER)


def seeds_copy(tmp: Path) -> Path:
    """A private copy of the seed corpus (tests may edit it)."""
    target = tmp / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def assistant(
    corpus: Path, store: Path, embedder: Embedder | None = None, **settings: Any
) -> qa.Assistant:
    """A synced assistant over ``corpus`` with its store in ``store``."""
    return qa.Assistant.from_folder(
        corpus, store=store, embedder=embedder or default_embedder(), **settings
    )


def run_qa(
    args: Sequence[str], cwd: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m qa.cli ARGS`` as a user runs it: no developer's ``QA_*``/``OPENAI_*``
    settings, the hashing embedder and a data folder under ``cwd`` unless ``env`` says
    otherwise."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    environ.update(QA_EMBEDDER="hashing", XDG_DATA_HOME=str(cwd / "data"))
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )


SERVING = re.compile(r"chat UI running at (http://127\.0\.0\.1:\d+/)")


@contextlib.contextmanager
def serving(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str], timeout_s: float = 240
) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Run ``cmd`` (``qa serve``, ``bin/start``) until it prints its URL; yields the URL, its
    output so far (still growing) and the process, which is stopped afterwards."""
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + timeout_s
        while url is None and time.monotonic() < deadline:
            try:
                found = SERVING.search(lines.get(timeout=0.5))
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            url = found.group(1) if found else None
        if url is None:
            raise AssertionError(f"{cmd[0]} did not start serving:\n" + "".join(output))
        yield url, output, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
