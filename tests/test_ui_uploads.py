"""Uploads into the corpus: safe names, allowed types and sizes, never outside, never over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.ui.uploads import safe_filename, save_upload


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("Report FINAL.TXT", "Report FINAL.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.md", "win.md"),
        (".bashrc.txt", "bashrc.txt"),
        ("...hidden.md", "hidden.md"),
        ("re\u0301sume\u0301.md", "résumé.md"),  # NFD → NFC
        ("a<b>:c|d?*.txt", "a_b_c_d.txt"),
        ("tab\tand\nnewline.txt", "tab and newline.txt"),
        ("rtl\u202etxt.exe", "rtl_txt.exe"),  # the right-to-left override is not kept
        ("x" * 300 + ".txt", "x" * 116 + ".txt"),
        ("..", ""),
        ("/", ""),
        (".txt", "txt"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def _upload(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / "blob"
    path.write_bytes(data)
    return path


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "existing.txt").write_text("Already here.\n", encoding="utf-8")
    return root


def _listing(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir()}


def test_a_text_file_is_saved_under_its_safe_name(corpus: Path, tmp_path: Path) -> None:
    src = _upload(tmp_path, "x", b"Hello world.\n")
    result = save_upload(corpus, src, "../../outside/Hello World.md")
    assert result.error is None and result.saved == "Hello World.md" and not result.duplicate
    assert (corpus / "Hello World.md").read_bytes() == b"Hello world.\n"
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize(
    ("name", "data", "max_bytes", "reason"),
    [
        ("tool.exe", b"MZ\x90\x00", 1000, "only these file types"),
        ("archive.txt.zip", b"PK\x03\x04", 1000, "only these file types"),
        ("noext", b"plain text", 1000, "no extension"),
        ("big.txt", b"x" * 1001, 1000, "larger than"),
        ("binary.txt", b"\x00\x01\x02\x03" * 50, 1000, "not a readable text file"),
        ("empty.md", b"  \n", 1000, "not a readable text file"),
        ("..", b"text", 1000, "only these file types"),
    ],
)
def test_rejections_write_nothing(
    corpus: Path, tmp_path: Path, name: str, data: bytes, max_bytes: int, reason: str
) -> None:
    before = _listing(corpus)
    result = save_upload(corpus, _upload(tmp_path, name, data), name, max_bytes=max_bytes)
    assert result.saved is None and result.error and reason in result.error
    assert _listing(corpus) == before


def test_an_existing_file_is_never_overwritten(corpus: Path, tmp_path: Path) -> None:
    first = save_upload(corpus, _upload(tmp_path, "a", b"New content.\n"), "existing.txt")
    assert first.saved == "existing-2.txt" and not first.duplicate
    again = save_upload(corpus, _upload(tmp_path, "b", b"Other content.\n"), "existing.txt")
    assert again.saved == "existing-3.txt"
    same = save_upload(corpus, _upload(tmp_path, "c", b"Already here.\n"), "existing.txt")
    assert same.saved == "existing.txt" and same.duplicate
    assert (corpus / "existing.txt").read_text() == "Already here.\n"
    assert sorted(_listing(corpus)) == ["existing-2.txt", "existing-3.txt", "existing.txt"]


def test_a_symlink_in_the_corpus_is_not_written_through(corpus: Path, tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("secret\n")
    os.symlink(target, corpus / "link.txt")
    result = save_upload(corpus, _upload(tmp_path, "x", b"payload\n"), "link.txt")
    assert result.saved == "link-2.txt"
    assert target.read_text() == "secret\n"
    assert (corpus / "link-2.txt").read_bytes() == b"payload\n"
