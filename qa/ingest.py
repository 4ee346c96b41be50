"""Corpus → chunks: find the readable documents under a folder and split them with offsets.

Files are read here rather than through llama-index's ``SimpleDirectoryReader`` because every
chunk must keep exact character offsets into the raw file (no newline translation, no
Markdown rewriting) and nothing outside the corpus root may be read (its defaults follow
symlinks out of the folder and read binary files as text).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qa.schema import Chunk

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".text"})
MAX_FILE_BYTES = 50 * 1024 * 1024
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class CorpusFile:
    """A candidate document: its path relative to the corpus root and its stat fingerprint."""

    source: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    source: str
    reason: str


class UnreadableFile(Exception):
    """A file that cannot be indexed as text; the message says why."""


def scan_corpus(root: Path) -> tuple[list[CorpusFile], list[Skipped]]:
    """Walk ``root`` (no symlinks followed out of it) and sort entries into documents and skips.

    Hidden files and folders (a leading dot) are ignored silently: they hold stores and VCS data.
    """
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept_dirs = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if (here / d).is_symlink():
                skipped.append(Skipped(_relative(here / d, root), "symlinked folder not followed"))
                continue
            kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = here / name
            source = _relative(path, root)
            reason = _reject_reason(path, root)
            if reason:
                skipped.append(Skipped(source, reason))
                continue
            st = path.stat()
            files.append(CorpusFile(source, path, st.st_size, st.st_mtime_ns))
    return files, skipped


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _reject_reason(path: Path, root: Path) -> str | None:
    if path.suffix.lower() not in TEXT_EXTENSIONS:
        return f"unsupported file type {path.suffix or '(none)'!r}"
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken or looping symlink"
        if not target.is_relative_to(root):
            return "symlink points outside the corpus"
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if not path.is_file():
        return "not a regular file"
    if st.st_size > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if not os.access(path, os.R_OK):
        return "not readable (permission denied)"
    return None


def read_document(path: Path) -> tuple[str, str]:
    """The file's text (no newline translation) and the sha256 of its bytes.

    Raises ``UnreadableFile`` for binary, non-text or unreadable files.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    return decode_text(data), hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """Decode UTF-8, else Windows-1252/Latin-1; reject empty, binary and mostly unprintable data."""
    if not data.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise UnreadableFile("binary file (NUL bytes)")
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:_SNIFF_BYTES]
    unprintable = sum(
        1 for ch in sample if unicodedata.category(ch)[0] == "C" and ch not in "\n\r\t\f\ufeff"
    )
    if unprintable > 0.1 * len(sample):
        raise UnreadableFile("mostly non-printable characters")
    return text


@cache
def _tiktoken_encode() -> Callable[[str], list[int]]:
    import tiktoken  # reads the encodings from llama-index-core's bundled cache (qa.offline)

    return tiktoken.get_encoding("cl100k_base").encode


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    return len(_tiktoken_encode()(text))


class Chunker:
    """Splits text with llama-index's ``SentenceSplitter`` and locates every chunk in the source."""

    VERSION = 1

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=_tiktoken_encode()
        )

    @property
    def fingerprint(self) -> str:
        """Changes whenever the same file would be chunked differently."""
        return f"sentence-splitter/cl100k/{self.chunk_size}/{self.chunk_overlap}/v{self.VERSION}"

    def chunk(self, source: str, text: str, file_hash: str) -> list[Chunk]:
        """Chunks of ``text`` with exact offsets: ``text[c.start:c.end] == c.text``."""
        chunks: list[Chunk] = []
        prev_start, prev_end = -1, 0
        for piece in self._splitter.split_text(text):
            if not piece.strip():
                continue
            start, end = _locate(text, piece, prev_start, prev_end)
            prev_start, prev_end = start, end
            chunks.append(
                Chunk(
                    id=chunk_id(source, start, end, file_hash),
                    source=source,
                    text=text[start:end],
                    start=start,
                    end=end,
                    index=len(chunks),
                    file_hash=file_hash,
                )
            )
        return chunks


def chunk_id(source: str, start: int, end: int, file_hash: str) -> str:
    """Deterministic id: the same file content always yields the same ids."""
    key = f"{source}\x00{start}\x00{end}\x00{file_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _locate(text: str, piece: str, prev_start: int, prev_end: int) -> tuple[int, int]:
    """Span of ``piece`` in ``text``, given the span of the chunk before it.

    A chunk starts after the previous chunk's start and no later than its end (chunks overlap
    or touch). Among such occurrences the latest is taken, so repeated text is pinned to the
    copy that continues the previous chunk. Whitespace the splitter changed is tolerated.
    """
    limit = prev_end
    while limit < len(text) and text[limit].isspace():
        limit += 1
    at = text.rfind(piece, prev_start + 1, limit + len(piece))
    if at < 0:
        at = text.find(piece, prev_start + 1)
    if at >= 0:
        return at, at + len(piece)
    pattern = re.compile(r"\s+".join(re.escape(w) for w in piece.split()))
    match = pattern.search(text, prev_start + 1) or pattern.search(text)
    if match is None:  # pragma: no cover - SentenceSplitter only drops or keeps whitespace
        raise ValueError(f"chunk not found in source text: {piece[:60]!r}")
    return match.start(), match.end()
