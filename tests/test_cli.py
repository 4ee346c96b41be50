"""The ``qa`` command in a subprocess: index, ask --json, chat, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qa.cli import EXIT_LOCKED
from tests.helpers import run_qa, seeds_copy

_qa = run_qa


def test_index_twice_then_ask_json(tmp_path: Path) -> None:
    """`qa index FOLDER` remembers the folder: a later `qa index` or `qa ask` with no folder
    uses it (not seeds/), and `--json` names the folder searched."""
    seeds_copy(tmp_path)
    first = _qa(["index", "seeds", "--json"], tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(report["added"]) == 5 and report["chunks_embedded"] > 0
    second = json.loads(_qa(["index", "--json"], tmp_path).stdout)
    assert second["chunks_embedded"] == 0 and len(second["unchanged"]) == 5
    stores = list((tmp_path / "data" / "qa" / "stores").iterdir())
    assert [s.name[:6] for s in stores] == ["seeds-"], "one store, in the user's data folder"
    assert not (tmp_path / ".qa").exists(), "nothing is written in the working directory"

    asked = _qa(["ask", "--json", "How long did the previous humanitarian pause last?"], tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert asked.stderr == "", "an ask that changed nothing prints nothing but the answer"
    answer = json.loads(asked.stdout)
    assert answer["folder"] == str(tmp_path / "seeds")
    assert {"text", "citations", "abstained"} <= answer.keys()
    for c in answer["citations"]:
        assert {"source", "quote", "start", "end", "score"} <= c.keys()
        text = (tmp_path / "seeds" / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]


def test_index_reports_skipped_files_with_reasons(tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    (corpus / "image.png").write_bytes(b"\x89PNG\x00\x00")
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    out = _qa(["index", str(corpus)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "image.png: unsupported file type '.png'" in out.stdout
    assert "blob.txt: binary file (NUL bytes)" in out.stdout


def test_the_same_folder_is_never_indexed_twice_from_another_directory(tmp_path: Path) -> None:
    """The store is keyed by the corpus's absolute path, not the working directory; an ask
    over a folder with skipped files and no changes prints nothing on stderr."""
    corpus = seeds_copy(tmp_path)
    (corpus / "image.png").write_bytes(b"\x89PNG\x00\x00")
    data = str(tmp_path / "data")
    assert _qa(["index", "seeds"], tmp_path, XDG_DATA_HOME=data).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    question = "How long did the previous humanitarian pause last?"
    asked = _qa(["ask", question, "--folder", str(corpus)], elsewhere, XDG_DATA_HOME=data)
    assert asked.returncode == 0, asked.stderr
    assert asked.stderr == "", "no second index, no sync summary"
    assert not (elsewhere / ".qa").exists()
    assert len(list((tmp_path / "data" / "qa" / "stores").iterdir())) == 1

    (corpus / "new.txt").write_text("The lighthouse keeper counted 41 ships.\n", encoding="utf-8")
    changed = _qa(["ask", question], elsewhere, XDG_DATA_HOME=data)
    assert changed.returncode == 0, changed.stderr
    assert f"{corpus}: 1 added" in changed.stderr, "a sync that changed something says so"


def test_a_remembered_folder_that_is_gone_is_forgotten_with_a_note(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The harbour was rebuilt in 1906.\n", encoding="utf-8")
    assert _qa(["index", str(corpus)], tmp_path).returncode == 0
    corpus.joinpath("a.txt").unlink()
    corpus.rmdir()
    seeds_copy(tmp_path)  # the working directory's project has seeds/
    out = _qa(["ask", "--json", "How long did the previous humanitarian pause last?"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"the folder last given, {corpus}, is gone; using seeds" in out.stderr
    assert json.loads(out.stdout)["folder"] == str(tmp_path / "seeds")
    again = _qa(["ask", "--json", "How long did the previous humanitarian pause last?"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "is gone" not in again.stderr, "said once: the folder is forgotten"


def test_chat_reads_questions_until_empty_line(tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    out = _qa(
        ["chat", "--folder", "seeds"], tmp_path, stdin="Who is the ministry's spokesman?\n/new\n\n"
    )
    assert out.returncode == 0, out.stderr
    assert f"Ask about the documents in {corpus}." in out.stdout
    assert out.stdout.count("> ") >= 2 and "(new conversation)" in out.stdout


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    out = _qa(["index", str(tmp_path / "nope")], tmp_path)
    assert out.returncode == 2
    assert "corpus folder not found" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_ask_runs_with_no_network_at_all(tmp_path: Path) -> None:
    """With the real model: `unshare -n` removes every network interface but loopback."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    seeds_copy(tmp_path)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QA_EMBEDDER"):
        env.pop(key, None)
    out = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "qa.cli",
            "ask",
            "--folder",
            "seeds",
            "--json",
            "Which road could convoys from Gaziantep take into eastern Aleppo?",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert "Castello" in answer["text"]
    assert answer["citations"][0]["source"] == "002_85c3a7959f85f010.txt"


def test_a_new_embedder_says_it_builds_its_index_and_keeps_the_old_one(tmp_path: Path) -> None:
    """Changing the embedder (as the default did, MiniLM → e5) builds a second index, says so
    instead of stalling silently, and leaves the first index usable."""
    seeds_copy(tmp_path)
    assert _qa(["index", "seeds"], tmp_path, QA_EMBEDDER="hashing").returncode == 0
    question = "How long did the previous humanitarian pause last?"
    asked = _qa(["ask", question], tmp_path, QA_EMBEDDER="e5")
    assert asked.returncode == 0, asked.stderr
    assert "building the multilingual-e5-small-q4 index of" in asked.stderr
    assert "existing indexes of other embedders are kept: hashing-256" in asked.stderr
    assert "ten hours" in asked.stdout
    again = _qa(["ask", question], tmp_path, QA_EMBEDDER="e5")
    assert "building" not in again.stderr
    old = _qa(["ask", "--json", question], tmp_path, QA_EMBEDDER="hashing")
    assert old.returncode == 0 and "building" not in old.stderr


@pytest.mark.parametrize(
    ("quote", "shown"),
    [
        ("The pause lasted ten hours.", "“The pause lasted ten hours.”"),
        ("“We will not allow it,” he said.", "“We will not allow it,” he said."),
        ("« Nous refusons », a-t-il dit.", "« Nous refusons », a-t-il dit."),
    ],
)
def test_a_quote_is_put_between_quotation_marks_once(quote: str, shown: str) -> None:
    from qa.schema import Answer, Citation
    from qa.terminal import format_answer

    citation = Citation("a.txt", quote, 0, len(quote), 0.8)
    text = format_answer(Answer("q", "It lasted. [1]", [citation], False))
    assert text.splitlines()[-1] == f"    {shown}"
    assert "““" not in text and "””" not in text


@pytest.mark.slow
def test_a_question_with_bytes_that_are_not_utf8_is_answered(tmp_path: Path) -> None:
    """argv bytes that are not UTF-8 become lone surrogates; they are replaced, not a
    traceback from the tokenizer (MiniLM's tokenizer refuses surrogates)."""
    seeds_copy(tmp_path)
    env = {**os.environ, "QA_EMBEDDER": "minilm", "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "--folder", "seeds", "--json",
         b"\xff how long did the previous humanitarian pause last?"],
        cwd=tmp_path, env=env, capture_output=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    answer = json.loads(out.stdout)
    assert answer["question"].startswith("\ufffd") and "ten hours" in answer["text"]


HOSTILE_TEXT = (
    "The Kerrow lighthouse keeper logged 412 storms in one winter.\x1b]0;OWNED\x07\x1b[2J"
    "\x1b[31m The keeper's log was kept in red ink.\u202e\n"
)


def test_terminal_escapes_in_documents_and_names_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A document holding escape sequences, and file names with ESC or a newline, cannot clear,
    recolour or retitle the terminal, nor split the report; --json keeps the text exact."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "log.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (corpus / "red\x1b[31m.txt").write_text("Another keeper counted gulls.\n", encoding="utf-8")
    (corpus / "two\nlines.md").write_text("A third note about the fog horn.\n", encoding="utf-8")
    (corpus / "bell\x07.png").write_bytes(b"\x89PNG")
    indexed = _qa(["index", str(corpus)], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in indexed.stdout + indexed.stderr
    assert "  added     red\\x1b[31m.txt" in indexed.stdout
    assert "  added     two\\nlines.md" in indexed.stdout
    assert "  skipped   bell\\x07.png: unsupported file type '.png'" in indexed.stdout
    assert len(indexed.stdout.splitlines()) == 6  # "indexed …", the summary, 4 files

    question = "How many storms did the Kerrow lighthouse keeper log?"
    asked = _qa(["ask", question], tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "412 storms" in asked.stdout
    assert "\x1b" not in asked.stdout and "\x07" not in asked.stdout
    assert "\\x1b]0;OWNED\\x07" in asked.stdout or "\\x1b[31m" in asked.stdout

    exact = json.loads(_qa(["ask", "--json", question], tmp_path).stdout)
    quotes = "".join(c["quote"] for c in exact["citations"])
    assert "\x1b" in quotes or "\u202e" in quotes, "--json carries the document's text exactly"


def test_a_nonsensical_setting_is_named_without_a_traceback(tmp_path: Path) -> None:
    out = _qa(["ask", "What is the recipe for banana bread?"], tmp_path, QA_ABSTAIN_THRESHOLD="nan")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(
        "qa: error: invalid setting abstain_threshold (QA_ABSTAIN_THRESHOLD or qa.toml): "
        "Input should be a finite number; got 'nan'"
    )
    (tmp_path / "qa.toml").write_text("top_k = [\n", encoding="utf-8")
    broken = _qa(["ask", "Anything?"], tmp_path)
    assert broken.returncode == 2 and f"{tmp_path / 'qa.toml'} is not valid TOML" in broken.stderr


def test_stores_lists_each_folder_and_prunes_only_the_gone(tmp_path: Path) -> None:
    from qa.store.lock import writer_lock

    for name in ("kept", "deleted"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.txt").write_text(f"The {name} harbour was rebuilt.\n")
        assert _qa(["index", name], tmp_path).returncode == 0

    def listed() -> dict[str, dict[str, Any]]:
        out = _qa(["stores", "--json"], tmp_path)
        assert out.returncode == 0, out.stderr
        return {Path(r["folder"]).name: r for r in json.loads(out.stdout)}

    rows = listed()
    assert set(rows) == {"kept", "deleted"}
    assert all(r["bytes"] > 0 and not r["gone"] for r in rows.values())
    shutil.rmtree(tmp_path / "deleted")
    rows = listed()
    assert rows["deleted"]["gone"] and not rows["kept"]["gone"]
    gone = Path(rows["deleted"]["store"])
    with writer_lock(gone):  # a process writing to it: nothing is removed
        busy = _qa(["stores", "--prune"], tmp_path)
    assert busy.returncode == EXIT_LOCKED and "is writing to" in busy.stderr
    assert gone.is_dir()
    pruned = _qa(["stores", "--prune"], tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert not gone.exists() and Path(rows["kept"]["store"]).is_dir()
    assert set(listed()) == {"kept"}
