"""``qa chat`` in a real pseudo-terminal at 80 columns, its output replayed by a terminal
emulator (pyte): a streamed answer that wraps is replaced by the verified one, not doubled."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte

from tests.fake_llm import FakeLLM, Reply
from tests.helpers import seeds_copy

COLUMNS, ROWS = 80, 24
LONG_ANSWER = (
    "The previous humanitarian pause in Aleppo lasted for ten hours on November 4, and the "
    "ministry said that a new pause would follow once the militants let civilians leave the "
    "eastern districts through the corridors. [1]"
)


def _run_in_pty(argv: list[str], env: dict[str, str], typed: list[str], cwd: Path) -> str:
    """Run ``argv`` on a COLUMNS x ROWS pseudo-terminal, typing each line of ``typed`` once the
    previous prompt appeared; everything it wrote, as bytes decoded."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
    )
    os.close(slave)
    out = b""
    pending = list(typed)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                out += data
            if pending and out.rstrip().endswith(b">"):
                os.write(master, (pending.pop(0) + "\n").encode())
                out += b"\x00"  # the prompt is consumed: wait for the next one
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        os.close(master)
    return out.replace(b"\x00", b"").decode("utf-8", "replace")


def test_a_wrapped_streamed_answer_is_redrawn_once(tmp_path: Path) -> None:
    seeds_copy(tmp_path)
    with FakeLLM() as llm:
        llm.push(Reply(text=LONG_ANSWER, chunk_size=6, chunk_delay_s=0.02))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
        env.update(
            QA_EMBEDDER="hashing",
            OPENAI_BASE_URL=llm.base_url,
            OPENAI_API_KEY="test",
            QA_LLM_MODEL="fake-model",
            XDG_DATA_HOME=str(tmp_path / "data"),
            TERM="xterm-256color",
            COLUMNS=str(COLUMNS),
            LINES=str(ROWS),
        )
        written = _run_in_pty(
            [sys.executable, "-m", "qa.cli", "chat", "--folder", "seeds"],
            env,
            ["How long did the previous humanitarian pause last?", ""],
            tmp_path,
        )
    assert len(llm.requests) == 1, written
    assert "\x1b[" in written, "the draft was streamed and erased"
    screen = pyte.Screen(COLUMNS, 200)  # tall: nothing scrolls away before it is read
    pyte.Stream(screen).feed(written)  # the terminal already turned \n into \r\n
    shown = "\n".join(row.rstrip() for row in screen.display).rstrip()
    first_row = LONG_ANSWER[:COLUMNS].rsplit(" ", 1)[0]
    assert shown.count(first_row) == 1, shown
    assert "[1] " in shown and "eastern districts" in shown, shown
