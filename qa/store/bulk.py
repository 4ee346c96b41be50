"""Bulk writes to an embedded store: Chroma saves its vector index less often while many chunks
are added.

An embedded Chroma collection saves its HNSW index (the graph and a pickle of every id) each
``sync_threshold`` additions, 1,000 by default. Each save costs time and bytes in proportion to
the index, so adding N chunks writes in proportion to N²: measured with ``bench/chroma_writes.py``,
80,000 vectors wrote 429 MiB at the default and 174 MiB at 100,000, and a build of 1M chunks had
written 155 GB for a 10.6 GB store when it stalled at 708,000.

The threshold cannot simply stay high: the additions since the last save live only in Chroma's
log, and every process that opens the store replays them into its in-memory index before its
first query (measured: 20,500 vectors replayed in 8–9 s, every time, by every reader). So a bulk
write raises the threshold, and lowers it again at the end on a fresh Chroma system, whose first
read replays what is left once and saves it: readers after it replay nothing.

A process killed midway leaves the raised threshold in the collection; ``settle`` at the start
of the next sync lowers it and saves what was left.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.store.chunks import ChunkStore

BULK_SYNC_THRESHOLD = 25_000  # additions between saves during a bulk write (≈ 10 s to replay)
NORMAL_SYNC_THRESHOLD = 1_000  # Chroma's default: a reader replays at most this many
BULK_MIN_CHUNKS = 20_000  # a sync expecting this many new chunks writes in bulk


def sync_threshold(store: ChunkStore) -> int:
    """The collection's HNSW ``sync_threshold`` (Chroma's default when it is not set)."""
    hnsw = (store.collection.configuration_json or {}).get("hnsw") or {}
    return int(hnsw.get("sync_threshold") or NORMAL_SYNC_THRESHOLD)


def _set_sync_threshold(store: ChunkStore, value: int) -> None:
    store.collection.modify(configuration={"hnsw": {"sync_threshold": value}})


def settle(store: ChunkStore) -> bool:
    """Lower a threshold left raised by a killed bulk write, and save the additions it left in
    the log; True when there was one. Nothing happens on a Chroma server or a normal store."""
    if not store.can_reopen or sync_threshold(store) < BULK_SYNC_THRESHOLD:
        return False
    _set_sync_threshold(store, NORMAL_SYNC_THRESHOLD)
    store.reopen()
    store.collection.get(limit=1, include=[])  # the first read replays the log and saves
    return True


def begin(store: ChunkStore) -> None:
    """Raise the threshold and reload the index with it (``bulk_writes`` without its end)."""
    _set_sync_threshold(store, BULK_SYNC_THRESHOLD)
    store.reopen()  # the index is loaded afresh, with the raised threshold


@contextmanager
def bulk_writes(store: ChunkStore) -> Iterator[None]:
    """Within the block, Chroma saves its index every ``BULK_SYNC_THRESHOLD`` additions; on
    the way out (also on an error) the threshold is lowered and what is left is saved. On a
    Chroma server, which keeps its own index, nothing changes."""
    if not store.can_reopen:
        yield
        return
    begin(store)
    try:
        yield
    finally:
        settle(store)
