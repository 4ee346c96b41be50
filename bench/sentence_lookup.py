"""Reading kept sentence vectors (``QA_SENTENCE_VECTORS``) against embedding them, in one run.

    python bench/sentence_lookup.py                  # 700,000 sentences (a 100k-chunk corpus)
    python bench/sentence_lookup.py --smoke --out /tmp/x

What an answer does with the setting, on a table of realistic size: the vectors of 24 stored
sentences (8 best candidates and up to 16 in another language) read through
``LexicalIndex.sentence_vectors`` (a new SQLite connection, as each answer opens one), with
the file in the page cache and with it evicted (``posix_fadvise(DONTNEED)`` before each
read: every page from the disk). The baseline, measured in the same run, is what it
replaces: e5 embedding 8 real sentences. ``bench/scale.py --sentence-vectors`` measures whole
answers, on a corpus whose sentences repeat (10,356 distinct), so its table is small; this
measures the table a corpus of distinct sentences makes. Vectors are random (the read does
not depend on them); the size on disk per sentence is reported.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, percentile, report, table, timed
from query import sentence_pool

PER_FILE = 70  # sentences per file (10 chunks of 7)
KEYS = 24


def build(path: Path, n: int, dim: int) -> Any:
    """A lexical index holding ``n`` distinct sentence vectors, written as sync writes them."""
    from qa.store.lexical import LexicalIndex

    index = LexicalIndex(path, key="bench")
    rng = np.random.default_rng(0)
    for first in range(0, n, PER_FILE * 100):
        batch: dict[str, dict[str, np.ndarray]] = {}
        for at in range(first, min(n, first + PER_FILE * 100), PER_FILE):
            count = min(PER_FILE, n - at)
            vectors = rng.standard_normal((count, dim), dtype=np.float32)
            batch[f"f{at // PER_FILE:06d}.txt"] = {
                f"sentence {at + i}": vectors[i] for i in range(count)
            }
        index.replace_files([], batch)
    return index


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sentences", type=int, default=700_000)
    p.add_argument("--reads", type=int, default=200)
    p.add_argument("--smoke", action="store_true", help="2,000 sentences, 20 reads")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.smoke:
        args.sentences, args.reads = 2_000, 20
    from qa.embed import DEFAULT_EMBEDDER, create_embedder

    embedder = create_embedder(DEFAULT_EMBEDDER)
    pool = sentence_pool(limit=300)
    rng = random.Random(0)
    embedder.embed_documents(pool[:8])  # load the model
    embed = [
        timed(lambda: embedder.embed_documents(rng.sample(pool, 8)))[0] for _ in range(args.reads)
    ]
    with tempfile.TemporaryDirectory(prefix="qa-bench-sentences-") as tmp:
        path = Path(tmp) / "lexical.sqlite"
        build_s, index = timed(lambda: build(path, args.sentences, embedder.dim))
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        wanted = [
            [f"sentence {rng.randrange(args.sentences)}" for _ in range(KEYS)]
            for _ in range(args.reads)
        ]
        assert all(len(index.sentence_vectors(w)) == len(set(w)) for w in wanted[:3])
        warm = [timed(lambda w=w: index.sentence_vectors(w))[0] for w in wanted]
        cold = []
        for w in wanted:
            evict(path)
            cold.append(timed(lambda w=w: index.sentence_vectors(w))[0])
    ms = {
        "embed_8_p50": 1000 * percentile(embed, 50),
        "read_24_cached_p50": 1000 * percentile(warm, 50),
        "read_24_cached_p95": 1000 * percentile(warm, 95),
        "read_24_evicted_p50": 1000 * percentile(cold, 50),
        "read_24_evicted_p95": 1000 * percentile(cold, 95),
    }
    result = {
        "sentences": args.sentences,
        "reads": args.reads,
        "build_s": build_s,
        "bytes_per_sentence": size / args.sentences,
        "file_mb": size / 2**20,
        "ms": ms,
        "ratios": {
            "cached_read_vs_embed": ms["read_24_cached_p50"] / ms["embed_8_p50"],
            "evicted_read_vs_embed": ms["read_24_evicted_p50"] / ms["embed_8_p50"],
        },
    }
    rows = [[name, round(value, 2)] for name, value in ms.items()]
    text = table(["ms", "value"], rows)
    text += f"\n\n{args.sentences} sentences, {size / args.sentences:.0f} bytes each on disk"
    report("sentence_lookup-smoke" if args.smoke else "sentence_lookup", result, text, out=args.out)


if __name__ == "__main__":
    main()
