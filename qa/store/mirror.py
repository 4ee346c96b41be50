"""Keeping the lexical index a mirror of the store's chunks.

The sync writes the lexical index right after each Chroma write, so normally nothing is left
to do here. What is: a store written by a version without the index, a sync killed between
the two writes, a damaged index moved aside, or (Chroma server mode) another client's writes.
The index records which state of each file it mirrors (content hash, chunk count); the files
whose state differs from the store's are indexed again from their chunks in Chroma, and files
the store no longer holds are dropped. Comparing costs two file lists, read from SQLite (about
a third of a second per 10,000 files); it is skipped while the index is marked verified at the
store's current change token, a mark every write to the store clears before it writes.
"""

from __future__ import annotations

import sys
from typing import Any

from qa.store.chunks import ChunkStore
from qa.store.lexical import Mirrored

BATCH_FILES = 200  # files fetched from Chroma per request


def catch_up(store: ChunkStore, token: str | None = None, *, progress: bool = False) -> int:
    """Bring ``store``'s lexical index in line with its chunks; how many files changed.

    ``token``: the store's current change token, where the caller knows it (an embedded
    store): when the index is marked verified at it, nothing is compared. ``progress``: a
    progress bar on stderr when many files are to be indexed (a store written by a version
    without the index: minutes at 100,000 chunks)."""
    if token is not None and store.lexical.verified() == token:
        return 0
    stored = store.files()
    mirrored = store.lexical.files()
    gone = sorted(set(mirrored) - set(stored))
    stale = sorted(
        source
        for source, state in stored.items()
        if mirrored.get(source) != Mirrored(state.file_hash, state.chunks)
    )
    store.lexical.delete_files(gone)
    bar = _bar(len(stale)) if progress and len(stale) > BATCH_FILES else None
    for at in range(0, len(stale), BATCH_FILES):
        batch = stale[at : at + BATCH_FILES]
        found = store.chunks_of_files(batch)
        store.lexical.replace_files(
            [
                (source, Mirrored(stored[source].file_hash, stored[source].chunks), found[source])
                for source in batch
            ],
            # Their sentence vectors, if any, lag like their rows: dropped, not guessed (a
            # sentence without one is embedded when asked about; the next sync with
            # ``sentence_vectors`` stores them again).
            {source: {} for source in batch},
        )
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return len(gone) + len(stale)


def _bar(files: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=files, unit="file", desc="lexical index: catching up", file=sys.stderr)
