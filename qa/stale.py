"""Citations checked against the files as they are now: a file edited after it was indexed
can no longer be quoted at the stored offsets."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.ingest import UnreadableFile, read_bytes, read_document, reader_for
from qa.ingest.plain import PlainTextReader
from qa.schema import Answer


def stale_sources(corpus: Path, answer: Answer) -> list[str]:
    """Sources of ``answer``'s citations that changed (or went) since they were indexed: for
    plain text, the quote is no longer at its offsets in the file; for other formats, the
    file's bytes are no longer those its chunks were read from."""
    hashes = {p.chunk.id: p.chunk.file_hash for p in answer.passages}
    now: dict[str, tuple[str, str] | None] = {}  # source → (text or "", sha256), None: gone
    stale: list[str] = []
    for c in answer.citations:
        if c.source in stale:
            continue
        if c.source not in now:
            now[c.source] = _as_on_disk(corpus / c.source)
        found = now[c.source]
        if found is None:
            stale.append(c.source)
        elif found[0]:  # plain text: the quote must still be at its offsets
            if found[0][c.start : c.end] != c.quote:
                stale.append(c.source)
        elif found[1] != hashes.get(c.chunk_id):
            stale.append(c.source)
    return stale


def _as_on_disk(path: Path) -> tuple[str, str] | None:
    """``(text, "")`` for a plain-text file, ``("", sha256)`` for another format, None when
    it cannot be read."""
    try:
        path = path.resolve()
        if isinstance(reader_for(path), PlainTextReader):  # Markdown too
            return read_document(path).text, ""
        return "", hashlib.sha256(read_bytes(path)).hexdigest()
    except (UnreadableFile, OSError):
        return None
