"""Bytes a process writes while adding N random vectors (384 dims, batches of 2,000) to an
embedded Chroma collection, with Chroma's default HNSW ``sync_threshold`` or another:

    python bench/chroma_writes.py 80000 default
    python bench/chroma_writes.py 80000 100000

Prints, every 20,000 vectors: (vectors, seconds, MiB written by the process).

    python bench/chroma_writes.py 20500 replay

What a reader pays for additions left unsaved: N vectors added to a ``qa`` store (a
``ChunkStore``) with Chroma's default threshold, with the bulk threshold left raised (a bulk
write killed midway), and through ``qa.store.bulk.bulk_writes``; then, for each, the seconds
a fresh process takes to open the collection and answer its first query (3 processes).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

BATCH = 2000


def written() -> int:
    """Bytes this process has written to storage (``/proc/self/io``)."""
    with open("/proc/self/io", encoding="ascii") as io:
        fields = dict(line.split(": ") for line in io.read().splitlines())
    return int(fields["write_bytes"])


def run(n: int, threshold: str) -> list[tuple[int, float, int]]:
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    hnsw: dict[str, object] = {"space": "cosine"}
    if threshold != "default":
        hnsw["sync_threshold"] = int(threshold)
    cache = Path(__file__).resolve().parent / ".cache"
    cache.mkdir(exist_ok=True)
    marks: list[tuple[int, float, int]] = []
    with tempfile.TemporaryDirectory(dir=cache) as folder:
        client = chromadb.PersistentClient(folder, Settings(anonymized_telemetry=False))
        collection = client.create_collection(
            "writes", configuration={"hnsw": hnsw}, embedding_function=None
        )
        rng = np.random.default_rng(0)
        before, started = written(), time.perf_counter()
        for at in range(0, n, BATCH):
            vectors = rng.standard_normal((BATCH, 384)).astype(np.float32)
            collection.add(ids=[str(i) for i in range(at, at + BATCH)], embeddings=vectors)
            if (at + BATCH) % 20_000 == 0:
                seconds = round(time.perf_counter() - started, 1)
                marks.append((at + BATCH, seconds, round((written() - before) / 2**20)))
    return marks


def replay(n: int) -> dict[str, object]:
    """Seconds of a fresh process's first query after N additions, by how they were written."""
    import subprocess

    import numpy as np

    from qa.store import ChunkStore, open_client, reopen_client
    from qa.store.bulk import begin, settle

    cache = Path(__file__).resolve().parent / ".cache"
    cache.mkdir(exist_ok=True)
    result: dict[str, object] = {"vectors": n}
    with tempfile.TemporaryDirectory(dir=cache) as root:
        for way in ("default", "left raised", "bulk"):
            folder = Path(root) / way.replace(" ", "-")
            store = ChunkStore(
                open_client(folder, None), "replay", embedder_name="random", dim=384,
                reopen=lambda folder=folder: reopen_client(folder),
            )  # fmt: skip
            if way != "default":
                begin(store)
            rng = np.random.default_rng(0)
            for at in range(0, n, BATCH):
                size = min(BATCH, n - at)
                vectors = rng.standard_normal((size, 384)).astype(np.float32)
                store.collection.add(ids=[str(i) for i in range(at, at + size)], embeddings=vectors)
            if way == "bulk":
                started = time.perf_counter()
                settle(store)  # the end of ``bulk_writes``: the log replayed once and saved
                result["bulk: end of the write s"] = round(time.perf_counter() - started, 2)
            opener = [sys.executable, __file__, "open", str(folder / "chroma")]
            result[f"{way}: first query s"] = [
                json.loads(
                    subprocess.run(opener, capture_output=True, check=True, text=True).stdout
                )
                for _ in range(3)
            ]
    return result


def first_query(folder: str) -> float:
    """(child) Seconds to open the collection and answer one query."""
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    started = time.perf_counter()
    client = chromadb.PersistentClient(folder, Settings(anonymized_telemetry=False))
    collection = client.get_collection("replay", embedding_function=None)
    collection.query(query_embeddings=[np.ones(384, dtype=np.float32)], n_results=5)
    return round(time.perf_counter() - started, 2)


if __name__ == "__main__":
    if sys.argv[1] == "open":
        print(json.dumps(first_query(sys.argv[2])))
    elif sys.argv[2] == "replay":
        print(json.dumps(replay(int(sys.argv[1]))))
    else:
        count, setting = int(sys.argv[1]), sys.argv[2]
        marks = run(count, setting)
        print(json.dumps({"sync_threshold": setting, "vectors": count, "marks": marks}))
