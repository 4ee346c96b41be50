"""A hostile corpus: every file is indexed or listed with a reason, through the CLI and the API;
nothing outside the corpus is read; memory stays bounded; syncing twice changes nothing.

Files: binary, Latin-1, UTF-8 with a stray byte, UTF-16, empty and blank files, mostly
unprintable text (at the start and late in the file), a 20 MB text file, symlinks out of the
corpus (file and folder), symlink loops, a dangling symlink, a FIFO, a folder named like a
text file, odd names (spaces, Unicode, newline, tab, quotes, leading dash, 250 characters, bytes
that are not UTF-8), 5,000 tiny files, and a file the user cannot read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import qa
from qa.ingest import (
    Chunker,
    UnreadableFile,
    chunking,
    corpus,
    decode_text,
    read_document,
    scan_corpus,
)
from qa.ingest.chunking import _sections
from tests import store_worker as worker

SECRET = "The launch code is 0000-SECRET-OUTSIDE."
BIG_BYTES = 20 * 1024 * 1024
BIG_CHUNKS = {"QA_CHUNK_SIZE": "1024", "QA_CHUNK_OVERLAP": "0"}  # fewer chunks, same reading
# Peak memory of indexing may grow with the largest file (its text, chunks and vectors are held
# at once), by at most this factor, and not with the number of files.
RSS_PER_BYTE = 30
BAD_NAME = os.fsdecode(b"bad\xffname.txt")
PARAGRAPH = (
    "Paragraph {i} tells how the ferry crossed near village {i}. The pilot wrote down the "
    "tide, the wind and the cargo. Nobody expected the storm.\n\n"
)
MEASURED_INDEX = """
import resource, sys
from qa.cli import main
code = main(sys.argv[1:])
print(f"MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
raise SystemExit(code)
"""

INDEXED = "indexed"
ODD_NAMES = [
    "with space.txt",
    "ünïcødé 文字.md",
    "new\nline.txt",
    "tab\tname.txt",
    "quote'\"name.txt",
    "-leading-dash.txt",
    "x" * 246 + ".txt",
]
EXPECTED: dict[str, str] = {
    **dict.fromkeys(ODD_NAMES, INDEXED),
    "plain.txt": INDEXED,
    "latin1.txt": INDEXED,
    "mostly-utf8.md": INDEXED,
    "utf16.txt": INDEXED,
    "big.txt": INDEXED,
    "inside-link.txt": INDEXED,
    "folder.txt/nested.md": INDEXED,
    "binary.txt": "binary file (NUL bytes)",
    "late-nul.txt": "binary file (NUL bytes)",
    "controls.txt": "mostly non-printable characters",
    "late-garbage.txt": "mostly non-printable characters",
    "empty.md": "empty file",
    "blank.txt": "empty file",
    "image.png": "unsupported file type '.png'",
    "README": "unsupported file type '(none)'",
    "leak.txt": "symlink points outside the corpus",
    "linked-folder": "symlinked folder not followed",
    "loop-a.txt": "broken or looping symlink",
    "loop-b.txt": "broken or looping symlink",
    "self.md": "broken or looping symlink",
    "dangling.txt": "broken or looping symlink",
    "fifo.txt": "not a regular file",
    "bad\\xffname.txt": "file name is not valid UTF-8",
}


def write_big(path: Path, size: int = BIG_BYTES) -> None:
    with path.open("w", encoding="utf-8") as f:
        i = 0
        while f.tell() < size:
            f.write(PARAGRAPH.format(i=i))
            i += 1


def build_hostile(root: Path, outside: Path) -> None:
    """The corpus of ``EXPECTED`` (plus a hidden file), and a secret folder outside it."""
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "more-secrets.md").write_text(SECRET)
    root.mkdir()
    text = "The ferry left at dawn. The harbour cranes were busy all day.\n"
    (root / "plain.txt").write_text(text)
    (root / "latin1.txt").write_bytes(b"Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade.\n")
    (root / "mostly-utf8.md").write_bytes(("Café au lait. " * 20).encode() + b"Stray \xe9 byte.")
    (root / "utf16.txt").write_bytes("UTF-16 text about the ferry.\n".encode("utf-16"))
    write_big(root / "big.txt")
    (root / "inside-link.txt").symlink_to(root / "plain.txt")
    (root / "folder.txt").mkdir()
    (root / "folder.txt" / "nested.md").write_text("A folder named like a text file.\n")
    for name in ODD_NAMES:
        (root / name).write_text(f"The file {name!r} has an odd name.\n")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (root / "late-nul.txt").write_bytes(text.encode() * 200 + b"\x00tail")
    (root / "controls.txt").write_bytes(bytes(range(1, 9)) * 200 + b"some text")
    (root / "late-garbage.txt").write_bytes(text.encode() * 300 + bytes(range(1, 9)) * 20_000)
    (root / "empty.md").write_bytes(b"")
    (root / "blank.txt").write_bytes(b" \n\r\n\t ")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / "README").write_text("no extension")
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "linked-folder").symlink_to(outside, target_is_directory=True)
    (root / "loop-a.txt").symlink_to(root / "loop-b.txt")
    (root / "loop-b.txt").symlink_to(root / "loop-a.txt")
    (root / "self.md").symlink_to(root / "self.md")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    os.mkfifo(root / "fifo.txt")
    (root / BAD_NAME).write_text("bad name")
    (root / ".hidden.txt").write_text("hidden files are ignored silently")


def measured_index(
    corpus: Path, store: Path, cwd: Path, *flags: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], int]:
    """``qa index`` in a child that reports its own peak RSS; (result, peak bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_INDEX, "--store", str(store), "index", *flags, str(corpus)],
        cwd=cwd,
        env=worker.child_env(**{**worker.CLI_ENV, **env}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("MAXRSS_KB ")]
    return done, int(line.split()[1]) * 1024


def outcome(report: dict[str, object]) -> dict[str, str]:
    """source → INDEXED or the skip reason, from a JSON sync report."""
    got: dict[str, str] = {}
    for key in ("added", "updated", "unchanged"):
        for source in report[key]:  # type: ignore[attr-defined]
            got[source] = INDEXED
    for skipped in report["skipped"]:  # type: ignore[attr-defined]
        assert skipped["source"] not in got, f"{skipped['source']} both indexed and skipped"
        got[skipped["source"]] = skipped["reason"]
    return got


def test_every_file_is_indexed_or_skipped_with_its_reason(tmp_path: Path) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    build_hostile(corpus, tmp_path / "outside")
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "a.txt").write_text("A tiny corpus for the memory baseline.\n")
    _, baseline = measured_index(tiny, tmp_path / "tiny-store", tmp_path, "--json", **BIG_CHUNKS)

    start = time.monotonic()
    first, peak = measured_index(corpus, store, tmp_path, "--json", **BIG_CHUNKS)
    elapsed = time.monotonic() - start
    report = json.loads(first.stdout)
    assert outcome(report) == EXPECTED
    assert report["removed"] == report["updated"] == report["unchanged"] == []
    growth = peak - baseline
    print(
        f"\n20 MB corpus: qa index {elapsed:.1f} s, peak RSS {peak / 2**20:.0f} MiB "
        f"(tiny corpus {baseline / 2**20:.0f} MiB, growth {growth / BIG_BYTES:.1f}x the file)"
    )
    assert growth < RSS_PER_BYTE * BIG_BYTES

    # Through the API: the same outcome, nothing left to do, and every chunk slices its file.
    a = qa.Assistant.from_folder(
        corpus, sync=False, store=store, embedder="hashing", chunk_size=1024, chunk_overlap=0
    )
    ids_before = sorted(c.id for c in a.store.chunks())
    api = a.sync()
    assert not api.changed and api.chunks_embedded == 0
    assert outcome(api.to_dict()) == EXPECTED
    chunks = a.store.chunks()
    assert sorted(c.id for c in chunks) == ids_before
    texts: dict[str, str] = {}
    for c in chunks:
        if c.source not in texts:
            texts[c.source] = read_document((corpus / c.source).resolve()).text
        assert texts[c.source][c.start : c.end] == c.text
        assert SECRET not in c.text
    assert set(texts) == {s for s, r in EXPECTED.items() if r == INDEXED}
    assert "Café au lait." in texts["mostly-utf8.md"] and "Stray é byte." in texts["mostly-utf8.md"]
    assert texts["latin1.txt"].startswith("Café crème brûlée")
    assert texts["utf16.txt"] == "UTF-16 text about the ferry.\n"

    # The command line again, as text: one line per skipped file, odd names printable.
    again = worker.qa_cli(
        ["--store", str(store), "index", str(corpus)], tmp_path, 300, **BIG_CHUNKS
    )
    assert again.returncode == 0, again.stderr
    assert f"{sum(r == INDEXED for r in EXPECTED.values())} unchanged" in again.stdout
    assert "0 chunks embedded" in again.stdout
    for source, reason in EXPECTED.items():
        if reason != INDEXED:
            assert f"  skipped   {source}: {reason}" in again.stdout


def test_syncing_twice_gives_the_same_ids_and_counts(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    worker.write_corpus(corpus, files=6, sentences=20)
    (corpus / "blob.txt").write_bytes(b"\x00binary")
    first = worker.run("recover", corpus, tmp_path / "store")
    second = worker.run("recover", corpus, tmp_path / "store")
    elsewhere = worker.run("recover", corpus, tmp_path / "other")
    assert first["report"]["chunks_embedded"] == first["after"]["count"] > 6
    assert second["report"]["chunks_embedded"] == 0
    assert sorted(second["report"]["unchanged"]) == sorted(first["report"]["added"])
    assert second["report"]["skipped"] == first["report"]["skipped"]
    assert sorted(second["after"]["ids"]) == sorted(first["after"]["ids"])
    assert sorted(elsewhere["after"]["ids"]) == sorted(first["after"]["ids"])
    assert len(set(first["after"]["ids"])) == first["after"]["count"]


def test_five_thousand_tiny_files_through_the_cli(tmp_path: Path) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    for i in range(5000):
        folder = corpus / f"d{i // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"note{i}.txt").write_text(f"Note {i}: the ferry left at {i % 24} o'clock.\n")
    start = time.monotonic()
    first = worker.qa_cli(["--store", str(store), "index", "--json", str(corpus)], tmp_path)
    first_s = time.monotonic() - start
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(report["added"]) == 5000 and report["chunks_embedded"] == 5000
    assert report["skipped"] == []
    start = time.monotonic()
    second = worker.qa_cli(["--store", str(store), "index", "--json", str(corpus)], tmp_path)
    second_s = time.monotonic() - start
    again = json.loads(second.stdout)
    assert len(again["unchanged"]) == 5000 and again["chunks_embedded"] == 0
    print(f"\n5,000 files: first qa index {first_s:.1f} s, second {second_s:.1f} s")


def scan_as(user: int | None, corpus: Path) -> dict[str, object]:
    """``scan_corpus`` in a forked child running as ``user`` (None: as this user)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            if user is not None:
                os.setgroups([])
                os.setgid(user)
                os.setuid(user)
            files, skipped = scan_corpus(corpus)
            result = {"files": [f.source for f in files]}
            result["skipped"] = {s.source: s.reason for s in skipped}  # type: ignore[assignment]
            os.write(write_end, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 60
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the scan did not finish")
        time.sleep(0.02)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    assert data, "the child failed"
    return dict(json.loads(data))


def test_unreadable_file_and_folder_are_listed_with_reasons() -> None:
    """Scanned by a user the files deny: as root (who reads everything), user nobody."""
    user = 65534 if os.geteuid() == 0 else None
    tmp = Path(tempfile.mkdtemp(prefix="qa-unreadable-"))
    corpus = tmp / "corpus"
    try:
        tmp.chmod(0o755)
        (corpus / "closed").mkdir(parents=True)
        (corpus / "open.txt").write_text("Anyone may read this.\n")
        (corpus / "locked.txt").write_text("Nobody may read this.\n")
        (corpus / "closed" / "inside.txt").write_text("Behind a closed folder.\n")
        corpus.chmod(0o755)
        (corpus / "open.txt").chmod(0o644)
        (corpus / "locked.txt").chmod(0o000)
        (corpus / "closed").chmod(0o000)
        got = scan_as(user, corpus)
        assert got["files"] == ["open.txt"]
        assert got["skipped"] == {
            "locked.txt": "not readable (permission denied)",
            "closed": "cannot read folder: Permission denied",
        }
        if user is not None:  # and root itself still indexes both
            assert sorted(f.source for f in scan_corpus(corpus)[0]) == [
                "closed/inside.txt",
                "locked.txt",
                "open.txt",
            ]
    finally:
        for path in (corpus / "closed", corpus / "locked.txt"):
            if path.exists():
                path.chmod(0o755)
        shutil.rmtree(tmp, ignore_errors=True)


AUDIT_SCRIPT = """
import json, os, sys
from pathlib import Path
touched = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args:
        if isinstance(args[0], (str, bytes, os.PathLike)):
            touched.append(os.fsdecode(args[0]))
sys.addaudithook(hook)
import qa
a = qa.Assistant.from_folder(Path(sys.argv[1]), store=Path(sys.argv[2]), embedder="hashing")
print(json.dumps({"touched": touched, "indexed": sorted(f.source for f in a.files())}))
"""


def test_nothing_outside_the_corpus_is_opened(tmp_path: Path) -> None:
    """An audit hook records every file and folder Python opens during a sync."""
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "deeper").mkdir()
    (outside / "deeper" / "secret.md").write_text(SECRET)
    corpus.mkdir()
    (corpus / "ok.txt").write_text("The only document.\n")
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")
    (corpus / "leak-folder").symlink_to(outside, target_is_directory=True)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "up.md").symlink_to(Path("..") / ".." / "outside" / "deeper" / "secret.md")
    done = subprocess.run(
        [sys.executable, "-c", AUDIT_SCRIPT, str(corpus), str(tmp_path / "store")],
        cwd=worker.ROOT,
        env=worker.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["indexed"] == ["ok.txt"]
    opened_in_corpus = [p for p in got["touched"] if p.startswith(str(corpus))]
    assert any(p.endswith("ok.txt") for p in opened_in_corpus), "the hook saw no corpus read"
    reached = [p for p in got["touched"] if Path(p).resolve().is_relative_to(outside.resolve())]
    assert reached == []


# --- reading and chunking, in process ------------------------------------------------------


def test_decoding_keeps_utf8_around_stray_bytes_and_reads_utf16() -> None:
    assert decode_text("naïve ".encode() * 10 + b"caf\xe9") == "naïve " * 10 + "café"
    # No valid multi-byte UTF-8 at all: Windows-1252 throughout (a hole in 1252 → Latin-1).
    assert decode_text(b"\x93quoted\x94 caf\xe9 \x81") == "“quoted” café \x81"
    assert decode_text("Grüße, ferry.".encode("utf-16-le").join([b"\xff\xfe", b""])) == (
        "Grüße, ferry."
    )
    with pytest.raises(UnreadableFile, match="empty"):
        decode_text("  \n".encode("utf-16"))


def test_nul_and_garbage_late_in_a_long_file_are_caught() -> None:
    text = b"An ordinary sentence about the harbour.\n" * 1000
    with pytest.raises(UnreadableFile, match="NUL"):
        decode_text(text + b"\x00")
    with pytest.raises(UnreadableFile, match="mostly non-printable"):
        decode_text(text + bytes(range(1, 32)) * 10_000)
    assert decode_text(text + b"\x07 one bell\n") == (text + b"\x07 one bell\n").decode()


def test_read_document_refuses_fifos_symlinks_and_growth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_document(fifo)  # would block forever on a plain open()
    assert time.monotonic() - start < 1
    real = tmp_path / "real.txt"
    real.write_text("real text\n")
    (tmp_path / "link.txt").symlink_to(real)
    with pytest.raises(UnreadableFile, match="symlink not followed"):
        read_document(tmp_path / "link.txt")
    (files, _) = scan_corpus(tmp_path)
    assert {f.source: f.path for f in files}["link.txt"] == real.resolve()
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 5)  # the file grew after the scan
    with pytest.raises(UnreadableFile, match="larger than"):
        read_document(real)


def test_long_texts_are_chunked_in_sections_with_exact_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chunker = Chunker(64, 8)
    text = "".join(PARAGRAPH.format(i=i) for i in range(300))
    whole = chunker.chunk("a.txt", text, "h")
    monkeypatch.setattr(chunking, "SECTION_CHARS", 5_000)
    sectioned = chunker.chunk("a.txt", text, "h")
    assert len(text) > 6 * 5_000
    assert [c.index for c in sectioned] == list(range(len(sectioned)))
    for c in sectioned:
        assert text[c.start : c.end] == c.text
    # Sections end after a paragraph, and no chunk spans two of them.
    sections = [(at, at + len(part)) for at, part in _sections(text, 5_000)]
    assert len(sections) > 6 and all(text[end - 2 : end] == "\n\n" for _, end in sections[:-1])
    assert all(any(a <= c.start and c.end <= b for a, b in sections) for c in sectioned)
    covered = {i for c in sectioned for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert {c.text for c in whole} & {c.text for c in sectioned}
    # Texts shorter than a section are chunked exactly as before sections existed.
    short = text[:4_000]
    monkeypatch.setattr(chunking, "SECTION_CHARS", 100_000)
    expected = chunker.chunk("a.txt", short, "h")
    monkeypatch.setattr(chunking, "SECTION_CHARS", 5_000)
    assert chunker.chunk("a.txt", short, "h") == expected
