"""The README's scripts as a new user runs them: bin/setup, bin/start, bin/qa."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, serving

START_TIMEOUT_S = 240


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_", "GRADIO_"))}
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        GRADIO_TEMP_DIR=str(tmp_path / "gradio"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def test_setup_prints_a_few_plain_lines(tmp_path: Path) -> None:
    """bin/setup on a set-up machine: only its own lines, no pip or model-loading noise."""
    out = subprocess.run(
        ["bin/setup"], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines and lines[-1].startswith("setup: ready"), out.stdout
    assert all(line.startswith(("setup: ", "  ")) for line in lines), out.stdout
    assert len(lines) <= 8, out.stdout
    assert out.stderr == ""
    for noise in ("%|", "Loading weights", "WARNING", "Requirement already"):
        assert noise not in out.stdout


@pytest.mark.slow
def test_the_onnx_export_shows_no_progress_bars(tmp_path: Path) -> None:
    """The one-time export (first set-up) says what it does in one line, no library bars."""
    env = _env(tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-m", "qa.embed.onnx_minilm"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"qa: exporting all-MiniLM-L6-v2 to ONNX in {tmp_path / 'cache' / 'qa' / 'models'} (once)"
    ]


def test_start_indexes_once_then_bin_qa_answers_from_anywhere(tmp_path: Path) -> None:
    """bin/start FOLDER syncs once (one report), serves, and remembers the folder: a later
    `bin/qa ask` from another directory answers from it without indexing again."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(
        "The harbour of Valparaiso was rebuilt in 1906 after the earthquake.\n", encoding="utf-8"
    )
    (tmp_path / "gradio").mkdir()
    env = _env(tmp_path, QA_EMBEDDER="hashing")
    start = [str(ROOT / "bin" / "start"), "docs"]  # a path relative to the caller's directory
    with serving(start, cwd=tmp_path, env=env, timeout_s=START_TIMEOUT_S) as (_, output, _):
        text = "".join(output)
        assert len(re.findall(r"\d+ added, \d+ updated", text)) == 1, text
        assert f"index of {corpus}" in text, "it names the folder it serves"

        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        asked = subprocess.run(
            [str(ROOT / "bin" / "qa"), "ask", "When was the harbour of Valparaiso rebuilt?"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert asked.returncode == 0, asked.stderr
        assert asked.stderr == "", "the index bin/start built is found; nothing is re-indexed"
        assert "1906" in asked.stdout and "harbour.txt" in asked.stdout
