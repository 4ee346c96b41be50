"""Reading a file with the reader registered for its extension: ``read_document(path)``."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from qa.ingest import docx, html, pdf, plain  # noqa: F401  - the built-in readers register
from qa.ingest.corpus import read_bytes
from qa.ingest.document import Document, Progress, Reader, ReadText, UnreadableFile, readers


@cache
def _by_extension() -> dict[str, Reader]:
    out: dict[str, Reader] = {}
    for name in readers.names():
        reader = readers.create(name)
        out.update(dict.fromkeys(reader.extensions, reader))
    return out


def supported_extensions() -> frozenset[str]:
    """Every extension some reader reads (lower case, with the dot)."""
    return frozenset(_by_extension())


def reader_for(name: str | Path) -> Reader:
    """The reader for a file name; ``UnreadableFile`` when no reader takes its extension."""
    suffix = Path(name).suffix.lower()
    try:
        return _by_extension()[suffix]
    except KeyError:
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'!r}") from None


def read_document(path: Path, progress: Progress | None = None) -> Document:
    """``path`` read by its format's reader, with the sha256 of its bytes.

    Raises ``UnreadableFile`` with the reason when it cannot be read (binary, encrypted,
    damaged, no text, too large, ...). A reader's unexpected failure is reported the same way:
    one bad file never stops a sync.
    """
    reader = reader_for(path)
    data = read_bytes(path)
    return parse_document(reader, data, progress)


def parse_document(reader: Reader, data: bytes, progress: Progress | None = None) -> Document:
    """``data`` read by ``reader``."""
    try:
        read = reader.read(data, progress)
    except UnreadableFile:
        raise
    except (MemoryError, RecursionError) as exc:
        raise UnreadableFile(f"too complex to read ({type(exc).__name__})") from exc
    except Exception as exc:  # a library's bug on a strange file: skip the file, say why
        raise UnreadableFile(f"{reader.name} reader failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(read, ReadText):  # a reader that gives (text, pages)
        text, pages = read
        read = ReadText(text, tuple(pages))
    return Document(
        read.text, hashlib.sha256(data).hexdigest(), reader.name, read.pages, read.headings
    )
