"""Bytes a process writes while adding N random vectors (384 dims, batches of 2,000) to an
embedded Chroma collection, with Chroma's default HNSW ``sync_threshold`` or another:

    python bench/chroma_writes.py 80000 default
    python bench/chroma_writes.py 80000 100000

Prints, every 20,000 vectors: (vectors, seconds, MiB written by the process).
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


if __name__ == "__main__":
    count, setting = int(sys.argv[1]), sys.argv[2]
    print(json.dumps({"sync_threshold": setting, "vectors": count, "marks": run(count, setting)}))
