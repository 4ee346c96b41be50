"""Corpus → chunks: find the readable documents under a folder and split them with offsets.

Files are read here rather than through llama-index's ``SimpleDirectoryReader`` because every
chunk must keep exact character offsets into the raw file (no newline translation, no
Markdown rewriting) and nothing outside the corpus root may be read (its defaults follow
symlinks out of the folder and read binary files as text).
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from qa.schema import Chunk

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".text"})
MAX_FILE_BYTES = 50 * 1024 * 1024
_SNIFF_CHARS = 8192
_SNIFF_WINDOWS = 8
SECTION_CHARS = 100_000


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
    Every other entry is either a document or a ``Skipped`` with its reason. A symlink to a file
    inside the corpus is kept, with ``path`` set to its target.
    """
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []

    def unreadable_folder(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        source = _relative(where, root) if where != root else "."
        skipped.append(Skipped(_shown(source), f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable_folder):
        here = Path(dirpath)
        # Sources built as strings: pathlib's relative_to costs more than the walk itself.
        prefix = "" if dirpath == str(root) else os.path.relpath(dirpath, root) + "/"
        if os.sep != "/":  # pragma: no cover - POSIX here; kept correct elsewhere
            prefix = prefix.replace(os.sep, "/")
        kept_dirs = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            source = prefix + d
            if os.path.islink(os.path.join(dirpath, d)):
                skipped.append(Skipped(_shown(source), "symlinked folder not followed"))
            elif not _encodable(d):
                skipped.append(Skipped(_shown(source), "folder name is not valid UTF-8"))
            else:
                kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = here / name
            source = prefix + name
            found = _inspect(path, root)
            if isinstance(found, str):
                skipped.append(Skipped(_shown(source), found))
            elif not _encodable(name):
                skipped.append(Skipped(_shown(source), "file name is not valid UTF-8"))
            else:
                target, st = found
                files.append(CorpusFile(source, target, st.st_size, st.st_mtime_ns))
    return files, skipped


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _encodable(name: str) -> bool:
    """False for names with bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(source: str) -> str:
    """``source`` made printable: undecodable bytes of a file name become ``\\xNN``."""
    return os.fsencode(source).decode("utf-8", "backslashreplace")


def _inspect(path: Path, root: Path) -> tuple[Path, os.stat_result] | str:
    """The file to read and its stat, or why it is left out."""
    if path.suffix.lower() not in TEXT_EXTENSIONS:
        return f"unsupported file type {_shown(path.suffix) or '(none)'!r}"
    target = path
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken or looping symlink"
        if not target.is_relative_to(root):
            return "symlink points outside the corpus"
        try:
            st = target.stat()
        except OSError as exc:
            return f"cannot stat: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if not os.access(target, os.R_OK):
        return "not readable (permission denied)"
    return target, st


def read_document(path: Path) -> tuple[str, str]:
    """The file's text (no newline translation) and the sha256 of its bytes.

    A symlink as the last path component is not followed (``scan_corpus`` hands out the
    resolved target), a non-regular file is refused without blocking, and at most
    ``MAX_FILE_BYTES`` are read even if the file grows. Raises ``UnreadableFile`` for binary,
    non-text, oversized or unreadable files.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile("symlink not followed") from exc
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("not a regular file")
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return decode_text(data), hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """Decode text; reject empty, binary and mostly unprintable data.

    UTF-16 when the data starts with its byte-order mark, else UTF-8 (a UTF-8 BOM is kept).
    A file that is mostly UTF-8 with a few stray bytes keeps
    its UTF-8 and decodes only the stray bytes as Windows-1252 (Latin-1 where 1252 has a
    hole); a file with no valid multi-byte UTF-8 at all is Windows-1252/Latin-1 throughout.
    The NUL check covers every byte; the printable check samples windows across the text.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise UnreadableFile("invalid UTF-16 text") from exc
    if not data.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in data:
        raise UnreadableFile("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_mixed(data)
    return _checked(text)


def _checked(text: str) -> str:
    if not text.strip():
        raise UnreadableFile("empty file")
    if _unprintable_share(text) > 0.1:
        raise UnreadableFile("mostly non-printable characters")
    return text


def _decode_mixed(data: bytes) -> str:
    """Invalid UTF-8: mostly valid UTF-8 keeps it (stray bytes as 1252), else 1252 throughout."""
    high = len(data.translate(None, _ASCII))
    stray = len(_UTF8_SEQUENCE.sub(b"", data).translate(None, _ASCII))
    if high > stray and stray * 10 <= high - stray:
        return data.decode("utf-8", "qa-1252")
    return data.decode("cp1252", "qa-latin-1")


def _single_byte_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the offending bytes one by one as 1252, else Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_byte_1252(b) for b in bad), exc.end


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler for cp1252's five undefined bytes: decode them as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return bytes(exc.object[exc.start : exc.end]).decode("latin-1"), exc.end


def _byte_1252(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)


codecs.register_error("qa-1252", _single_byte_fallback)
codecs.register_error("qa-latin-1", _latin1_fallback)

_ASCII = bytes(range(0x80))
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_ALLOWED_CONTROLS = frozenset("\n\r\t\f\ufeff")


def _unprintable_share(text: str) -> float:
    """Share of control/format/unassigned characters in up to 8 windows spread over ``text``."""
    if len(text) <= _SNIFF_CHARS * _SNIFF_WINDOWS:
        sample = text
    else:
        step = (len(text) - _SNIFF_CHARS) // (_SNIFF_WINDOWS - 1)
        sample = "".join(text[i * step : i * step + _SNIFF_CHARS] for i in range(_SNIFF_WINDOWS))
    bad = sum(
        1 for ch in sample if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch)[0] == "C"
    )
    return bad / max(len(sample), 1)


@cache
def _tiktoken_encode() -> Callable[[str], list[int]]:
    import tiktoken  # reads the encodings from llama-index-core's bundled cache (qa.offline)

    return tiktoken.get_encoding("cl100k_base").encode


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    return len(_tiktoken_encode()(text))


class Chunker:
    """Splits text with llama-index's ``SentenceSplitter`` and locates every chunk in the source."""

    VERSION = 2  # 2: sections for long texts, mixed UTF-8/1252 and UTF-16 decoding

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter_instance: Any = None

    @property
    def _splitter(self) -> Any:
        """The ``SentenceSplitter``, made on first use (answering never imports llama-index)."""
        if self._splitter_instance is None:
            from llama_index.core.node_parser import SentenceSplitter

            self._splitter_instance = SentenceSplitter(
                chunk_size=self.chunk_size,
                chunk_overlap=self.chunk_overlap,
                tokenizer=_tiktoken_encode(),
            )
        return self._splitter_instance

    @property
    def fingerprint(self) -> str:
        """Changes whenever the same file would be chunked differently."""
        return f"sentence-splitter/cl100k/{self.chunk_size}/{self.chunk_overlap}/v{self.VERSION}"

    def chunk(self, source: str, text: str, file_hash: str) -> list[Chunk]:
        """Chunks of ``text`` with exact offsets: ``text[c.start:c.end] == c.text``.

        Long texts are split first into sections of at most ``SECTION_CHARS`` at paragraph
        (else line, sentence, word) breaks and each section is chunked on its own: the
        splitter's sentence tokenizer gives up on multi-megabyte inputs (NLTK's 5 s regex
        guard) and its working memory grows with the input.
        """
        chunks: list[Chunk] = []
        for base, section in _sections(text, SECTION_CHARS):
            prev_start, prev_end = -1, 0
            for piece in self._splitter.split_text(section):
                if not piece.strip():
                    continue
                start, end = _locate(section, piece, prev_start, prev_end)
                prev_start, prev_end = start, end
                chunks.append(
                    Chunk(
                        id=chunk_id(source, base + start, base + end, file_hash),
                        source=source,
                        text=section[start:end],
                        start=base + start,
                        end=base + end,
                        index=len(chunks),
                        file_hash=file_hash,
                    )
                )
        return chunks


def _sections(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """``(offset, section)`` pieces of ``text``, each at most ``limit`` characters."""
    start = 0
    while len(text) - start > limit:
        end = _break_before(text, start + limit // 2, start + limit)
        yield start, text[start:end]
        start = end
    yield start, text[start:]


def _break_before(text: str, lo: int, hi: int) -> int:
    """The last paragraph, line, sentence or word break in ``text[lo:hi]``, else ``hi``."""
    for sep in ("\n\n", "\n", ". ", " "):
        at = text.rfind(sep, lo, hi)
        if at >= 0:
            return at + len(sep)
    return hi


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
