"""Corpus scanning, decoding and chunking (qa.ingest)."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import qa  # noqa: F401  - offline environment first
from qa.ingest import (
    Chunker,
    UnreadableFile,
    chunk_id,
    count_tokens,
    decode_text,
    read_document,
    scan_corpus,
)
from qa.schema import Chunk


@cache
def chunker(size: int = 200, overlap: int = 40) -> Chunker:
    """Chunkers are slow to build (tokenizer, splitter): one per size for the whole module."""
    return Chunker(size, overlap)


def write(root: Path, source: str, data: str | bytes) -> Path:
    path = root / source
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def scan(root: Path) -> tuple[list[str], dict[str, str]]:
    files, skipped = scan_corpus(root)
    return [f.source for f in files], {s.source: s.reason for s in skipped}


def paragraphs(n: int) -> str:
    """Ordinary prose long enough for several 200-token chunks."""
    out = []
    for i in range(n):
        out.append(
            f"Paragraph {i} describes the river crossing near village number {i}. "
            f"The ferry carried {i * 3 + 7} passengers on a calm morning, and the pilot "
            f"wrote down the tide, the wind and the cargo. Nobody expected the storm.\n\n"
        )
    return "".join(out)


# --- scan_corpus --------------------------------------------------------------------------


def test_scan_lists_supported_files_with_posix_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "alpha")
    write(tmp_path, "b.md", "beta")
    write(tmp_path, "C.MARKDOWN", "gamma")  # extension check is case-insensitive
    write(tmp_path, "sub/deeper/d.text", "delta")
    files, skipped = scan_corpus(tmp_path)
    assert sorted(f.source for f in files) == ["C.MARKDOWN", "a.txt", "b.md", "sub/deeper/d.text"]
    assert skipped == []
    by_source = {f.source: f for f in files}
    d = by_source["sub/deeper/d.text"]
    assert d.path == (tmp_path / "sub" / "deeper" / "d.text").resolve()
    st_ = d.path.stat()
    assert (d.size, d.mtime_ns) == (st_.st_size, st_.st_mtime_ns)


def test_scan_skips_unsupported_extensions_with_reason(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "fine")
    write(tmp_path, "photo.png", b"\x89PNG")
    write(tmp_path, "README", "no extension")
    write(tmp_path, "sub/data.csv", "a,b")
    names, skipped = scan(tmp_path)
    assert names == ["ok.txt"]
    assert skipped == {
        "photo.png": "unsupported file type '.png'",
        "README": "unsupported file type '(none)'",
        "sub/data.csv": "unsupported file type '.csv'",
    }


def test_scan_skips_symlink_pointing_outside_corpus(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write(root, "inside.txt", "inside")
    outside = write(tmp_path, "secret.txt", "must never be read")
    (root / "leak.txt").symlink_to(outside)
    names, skipped = scan(root)
    assert names == ["inside.txt"]
    assert skipped == {"leak.txt": "symlink points outside the corpus"}


def test_scan_keeps_symlink_to_a_file_inside_the_corpus(tmp_path: Path) -> None:
    target = write(tmp_path, "real.txt", "real")
    (tmp_path / "alias.txt").symlink_to(target)
    names, skipped = scan(tmp_path)
    assert sorted(names) == ["alias.txt", "real.txt"]
    assert skipped == {}


def test_scan_skips_broken_and_looping_symlinks(tmp_path: Path) -> None:
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "loop1.txt").symlink_to(tmp_path / "loop2.txt")
    (tmp_path / "loop2.txt").symlink_to(tmp_path / "loop1.txt")
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    names, skipped = scan(tmp_path)
    assert names == []
    assert skipped == {
        "broken.txt": "broken or looping symlink",
        "loop1.txt": "broken or looping symlink",
        "loop2.txt": "broken or looping symlink",
        "self.md": "broken or looping symlink",
    }


def test_scan_does_not_follow_symlinked_folders(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write(root, "a.txt", "a")
    write(tmp_path, "elsewhere/b.txt", "b")
    (root / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    names, skipped = scan(root)
    assert names == ["a.txt"]
    assert skipped == {"linked": "symlinked folder not followed"}


def test_scan_ignores_hidden_files_and_folders_silently(tmp_path: Path) -> None:
    write(tmp_path, "visible.txt", "shown")
    write(tmp_path, ".hidden.txt", "hidden")
    write(tmp_path, ".git/config.txt", "vcs")
    write(tmp_path, ".qa/store/notes.md", "store")
    write(tmp_path, "sub/.secret.md", "hidden in a subfolder")
    write(tmp_path, "sub/shown.md", "shown")
    names, skipped = scan(tmp_path)
    assert sorted(names) == ["sub/shown.md", "visible.txt"]
    assert skipped == {}


def test_scan_lists_binary_and_empty_text_files_reading_rejects_them(tmp_path: Path) -> None:
    """scan_corpus only looks at names and stat; content is judged when the file is read."""
    binary = write(tmp_path, "blob.txt", b"abc\x00\x01\x02def")
    empty = write(tmp_path, "empty.md", b"")
    blank = write(tmp_path, "blank.txt", b"  \n\r\n\t ")
    names, _ = scan(tmp_path)
    assert sorted(names) == ["blank.txt", "blob.txt", "empty.md"]
    with pytest.raises(UnreadableFile, match=r"binary file \(NUL bytes\)"):
        read_document(binary)
    with pytest.raises(UnreadableFile, match="empty file"):
        read_document(empty)
    with pytest.raises(UnreadableFile, match="empty file"):
        read_document(blank)


def test_scan_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_corpus(tmp_path / "nope")


# --- decode_text / read_document -------------------------------------------------------------


def test_decode_utf8() -> None:
    text = "Café « naïve » l’été 😀\n"
    assert decode_text(text.encode("utf-8")) == text


def test_decode_latin1_bytes() -> None:
    assert decode_text(b"caf\xe9 cr\xe8me br\xfbl\xe9e") == "café crème brûlée"


def test_decode_windows_1252_quotes() -> None:
    assert decode_text(b"\x93quoted\x94 \x85 it\x92s") == "“quoted” … it’s"


def test_decode_rejects_mostly_non_printable_data() -> None:
    data = bytes(range(1, 9)) * 20 + b"some text"
    with pytest.raises(UnreadableFile, match="mostly non-printable"):
        decode_text(data)


def test_decode_accepts_text_with_a_few_control_characters() -> None:
    text = "Form feed\fand tabs\tand a bell\x07 in a long enough line of text.\n"
    assert decode_text(text.encode()) == text


def test_decode_rejects_nul_and_empty() -> None:
    with pytest.raises(UnreadableFile, match="NUL"):
        decode_text(b"text\x00more")
    with pytest.raises(UnreadableFile, match="empty"):
        decode_text(b"")


def test_read_document_keeps_crlf_and_hashes_raw_bytes(tmp_path: Path) -> None:
    data = b"first line\r\nsecond line\r\n"
    path = write(tmp_path, "crlf.txt", data)
    doc = read_document(path)
    text, file_hash = doc.text, doc.file_hash
    assert text == "first line\r\nsecond line\r\n"
    assert file_hash == hashlib.sha256(data).hexdigest()


# --- Chunker --------------------------------------------------------------------------------


def check_chunks(chunks: list[Chunk], text: str, source: str, file_hash: str) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.source == source
        assert c.file_hash == file_hash
        assert c.id == chunk_id(source, c.start, c.end, file_hash)


def test_chunks_are_exact_slices_with_sequential_indexes() -> None:
    text = paragraphs(20)
    chunks = chunker().chunk("docs/river.txt", text, "h1")
    assert len(chunks) >= 4
    check_chunks(chunks, text, "docs/river.txt", "h1")
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text.rstrip())


def test_chunk_token_counts_stay_within_chunk_size() -> None:
    text = paragraphs(30)
    for size, overlap in ((200, 40), (64, 8)):
        chunks = chunker(size, overlap).chunk("a.txt", text, "h")
        assert len(chunks) > 3
        counts = [count_tokens(c.text) for c in chunks]
        assert max(counts) <= size, counts


def test_chunk_ids_are_deterministic() -> None:
    text = paragraphs(12)
    first = [c.id for c in chunker().chunk("a.txt", text, "hash-1")]
    again = [c.id for c in Chunker(200, 40).chunk("a.txt", text, "hash-1")]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)


def test_chunk_ids_change_with_file_hash_and_source() -> None:
    text = paragraphs(12)
    base = {c.id for c in chunker().chunk("a.txt", text, "hash-1")}
    other_hash = {c.id for c in chunker().chunk("a.txt", text, "hash-2")}
    other_source = {c.id for c in chunker().chunk("b.txt", text, "hash-1")}
    assert base.isdisjoint(other_hash)
    assert base.isdisjoint(other_source)


def test_chunk_id_depends_on_every_field() -> None:
    ref = chunk_id("a.txt", 0, 10, "h")
    assert chunk_id("a.txt", 0, 10, "h") == ref
    assert len({ref, chunk_id("b.txt", 0, 10, "h"), chunk_id("a.txt", 1, 10, "h")}) == 3
    assert len({ref, chunk_id("a.txt", 0, 11, "h"), chunk_id("a.txt", 0, 10, "g")}) == 3


def test_crlf_line_endings_are_preserved_in_offsets() -> None:
    text = paragraphs(15).replace("\n", "\r\n")
    chunks = chunker().chunk("crlf.txt", text, "h")
    assert len(chunks) > 2
    check_chunks(chunks, text, "crlf.txt", "h")
    assert any("\r\n" in c.text for c in chunks)
    # Offsets count the \r characters: the last chunk ends where the raw text's content ends.
    assert chunks[-1].end == len(text.rstrip())


def test_whitespace_only_text_gives_no_chunks() -> None:
    assert chunker().chunk("blank.txt", " \n\r\n\t  \n", "h") == []


def test_fingerprint_changes_with_settings() -> None:
    assert chunker(200, 40).fingerprint != chunker(64, 8).fingerprint
    assert chunker(200, 40).fingerprint == Chunker(200, 40).fingerprint


# --- properties -----------------------------------------------------------------------------

WORDS = ["the", "river", "ferry", "Paris", "42", "3.5", "l’été", "naïve", "Ωmega", "x"]
PUNCT = [".", ",", "!", "?", ";", ":", "«", "»", "’", "—", "(", ")", "...", '"']
UNICODE = ["é", "’", "«", "»", "😀", "👍🏽", "中文", "ß", "\u00a0"]
SEPARATORS = [" ", " ", " ", "\n", "\r\n", "\n\n", "\t", "  "]

tokens = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(PUNCT),
    st.sampled_from(UNICODE),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)
sentences = st.lists(st.tuples(tokens, st.sampled_from(SEPARATORS)), min_size=1, max_size=30).map(
    lambda parts: "".join(tok + sep for tok, sep in parts)
)
texts = st.lists(sentences, max_size=30).map("".join)

# A small chunk size so that most generated texts span several chunks.
PROPERTY_CHUNKER = (32, 4)
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)


def uncovered(text: str, chunks: list[Chunk]) -> list[int]:
    """Offsets of non-whitespace characters that lie in no chunk's [start, end) span."""
    covered = [False] * len(text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    return [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]


@PROPERTY_SETTINGS
@example(
    text="the the the the the the the 3.5 Ø_\U0006b2660ï½\r\nthe\r\n*é\x15ÇÔ\x83 . the the  ; the "
    "the the the\n\nthe  𐎭\U0005f5a9 0:Ï𗐀 3.5 "
)
@given(text=texts)
def test_property_chunks_are_source_slices_in_increasing_order(text: str) -> None:
    chunks = chunker(*PROPERTY_CHUNKER).chunk("p.txt", text, "h")
    check_chunks(chunks, text, "p.txt", "h")
    starts = [c.start for c in chunks]
    # Non-decreasing: the splitter may emit a chunk that is a prefix of the next one.
    assert starts == sorted(starts)
    assert len({(c.start, c.end) for c in chunks}) == len(chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(0 <= c.start < c.end <= len(text) for c in chunks)
    if text.strip():
        assert chunks


UNIQUE_WORDS = ["the", "river", "Paris", "l’été", "naïve", "Ωmega", "x", "é", "😀", "中文", "ß"]
# Words that carry their own number and are separated by whitespace only: no chunk's text
# can occur anywhere else in the document.
unique_texts = st.lists(
    st.lists(st.tuples(st.sampled_from(UNIQUE_WORDS), st.sampled_from(SEPARATORS)), max_size=30),
    max_size=30,
).map(
    lambda runs: "".join(
        f"{word}{i}{sep}" for i, (word, sep) in enumerate(part for run in runs for part in run)
    )
)


@PROPERTY_SETTINGS
@given(text=unique_texts)
def test_property_chunks_cover_text_without_repeated_passages(text: str) -> None:
    chunks = chunker(*PROPERTY_CHUNKER).chunk("p.txt", text, "h")
    check_chunks(chunks, text, "p.txt", "h")
    missing = uncovered(text, chunks)
    assert not missing, f"uncovered offsets {missing[:10]} in {text!r}"


@PROPERTY_SETTINGS
@example(text="the 0:\U00010000 0:\U00010000 0\u0802\U00010000 0\u0802\U00010000 ")
@example(text="The same sentence again.\n" * 60)
@given(text=texts)
def test_property_chunks_cover_every_non_whitespace_character(text: str) -> None:
    chunks = chunker(*PROPERTY_CHUNKER).chunk("p.txt", text, "h")
    missing = uncovered(text, chunks)
    assert not missing, f"uncovered offsets {missing[:10]} in {text!r}"


def test_repeated_lines_are_covered_by_chunk_spans() -> None:
    text = "Same line.\n" * 400
    chunks = chunker().chunk("rep.txt", text, "h")
    check_chunks(chunks, text, "rep.txt", "h")
    missing = uncovered(text, chunks)
    assert not missing, f"{len(missing)} of {len(text)} characters are in no chunk span"


def test_symlink_loop_is_a_file_system_loop_not_a_crash(tmp_path: Path) -> None:
    """A looping symlinked *folder* is not walked (os.walk does not follow links)."""
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    write(tmp_path, "a.txt", "a")
    names, skipped = scan(tmp_path)
    assert names == ["a.txt"]
    assert skipped == {"loop": "symlinked folder not followed"}
    assert os.path.islink(tmp_path / "loop")
