"""Warm offline ``assistant.ask`` latency at 1k, 10k and 100k chunks, against one query
embedding measured in the same process; peak RSS and retriever build time per scale.

    python bench/query.py                 # scales 1000 10000 100000
    python bench/query.py --smoke --out /tmp/x

The corpora are built once (cached in bench/.cache/query/): chunks of real English sentences
drawn from the SQuAD/XQuAD documents in ../shared/benchmarks, written to files and stored
with offsets and sentence spans exactly as sync stores them. To avoid hours of embedding, a
chunk's vector is the normalised mean of its sentences' MiniLM vectors (each pool sentence is
embedded once, with the product's embedder): real vectors of the same model in the same space.
What is timed is the product's path: ``Assistant.ask`` (retrieval + extractive answer).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, DATA, RESULTS, peak_rss_mb, percentile, report, table, timed

SENTENCES_PER_CHUNK = 7
CHUNKS_PER_FILE = 10
SOURCES = ("squad11_dev/docs", "squad20_dev/docs", "xquad/docs_en")


def sentence_pool(limit: int | None = None) -> list[str]:
    """Unique English sentences (≥ 5 words) of the benchmark documents, in a fixed order."""
    from qa.text import sentence_spans

    seen: dict[str, None] = {}
    for folder in SOURCES:
        for path in sorted((DATA / folder).glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            for s, e in sentence_spans(text, lang="en"):
                sentence = " ".join(text[s:e].split())
                if len(sentence.split()) >= 5:
                    seen.setdefault(sentence)
            if limit and len(seen) >= limit:
                return list(seen)[:limit]
    return list(seen)


def pool_vectors(pool: list[str], cache: Path) -> np.ndarray:
    """Vectors of the pool sentences by the default embedder, as passages; cached on disk."""
    from qa.embed import DEFAULT_EMBEDDER, create_embedder

    key = hashlib.sha256(("\n".join(pool) + DEFAULT_EMBEDDER).encode()).hexdigest()[:12]
    path = cache / f"pool-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = create_embedder(DEFAULT_EMBEDDER).embed_documents(pool)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def build(
    n_chunks: int, folder: Path, pool: list[str], vectors: np.ndarray, sentences: bool = False
) -> None:
    """Write the corpus files and store ``n_chunks`` chunks with their vectors (once), in bulk
    (``qa.store.bulk``) from as many chunks as make a sync write in bulk. A build that was
    stopped (``built.json`` says ``stopped`` and how many chunks it had stored) goes on from
    there: the same files, the same chunks, as one uninterrupted build would write. With
    ``sentences``, every evidence sentence's vector is stored too, as a sync with
    ``QA_SENTENCE_VECTORS`` stores it (a pool sentence's vector is the one e5 gives it)."""
    import qa
    from qa.store.bulk import BULK_MIN_CHUNKS, bulk_writes

    done = folder / "built.json"
    start = 0
    if done.exists():
        before = json.loads(done.read_text())
        if "stopped" not in before:
            return
        start = int(before["chunks"])
        assert start % CHUNKS_PER_FILE == 0, "a stopped build ends with a whole file"
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    assistant = qa.Assistant.from_folder(corpus, sync=False, store=folder / "store")
    with bulk_writes(assistant.store) if n_chunks >= BULK_MIN_CHUNKS else nullcontext():
        _store_chunks(n_chunks, corpus, pool, vectors, assistant, start, sentences)
    done.write_text(json.dumps({"chunks": assistant.store.count(), "resumed_at": start}))


def _store_chunks(
    n_chunks: int,
    corpus: Path,
    pool: list[str],
    vectors: np.ndarray,
    assistant: Any,
    start: int = 0,
    sentences: bool = False,
) -> None:
    from qa.schema import Chunk
    from qa.store import FileState
    from qa.sync import read_fingerprint

    folder = corpus.parent
    rng = random.Random(n_chunks)
    for _ in range(start * SENTENCES_PER_CHUNK):  # the draws of the chunks stored before
        rng.randrange(len(pool))
    batch: list[tuple[FileState, list[Chunk], np.ndarray]] = []
    made = start
    while made < n_chunks:
        source = f"d{made // (CHUNKS_PER_FILE * 500):03d}/f{made // CHUNKS_PER_FILE:06d}.txt"
        parts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        rows: list[list[int]] = []
        at = 0
        for _ in range(min(CHUNKS_PER_FILE, n_chunks - made)):
            picks = [rng.randrange(len(pool)) for _ in range(SENTENCES_PER_CHUNK)]
            own: list[tuple[int, int]] = []
            for i in picks:
                own.append((at, at + len(pool[i])))
                at += len(pool[i]) + 1  # the space after it, or the newline after the chunk
            parts.append(" ".join(pool[i] for i in picks))
            spans.append(own)
            rows.append(picks)
        text = "\n".join(parts) + "\n"
        path = corpus / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        file_hash = hashlib.sha256(text.encode()).hexdigest()
        chunks, vecs, cursor = [], [], 0
        for index, (part, own, picks) in enumerate(zip(parts, spans, rows, strict=True)):
            start, end = cursor, cursor + len(part)
            cursor = end + 1
            cid = hashlib.sha256(f"{source}\x00{start}\x00{end}\x00{file_hash}".encode())
            chunks.append(
                Chunk(cid.hexdigest()[:32], source, part, start, end, index, file_hash, tuple(own))
            )
            mean = vectors[picks].mean(axis=0)
            vecs.append(mean / np.linalg.norm(mean))
        st = path.stat()
        # The real chunker's fingerprint: a later ``qa index`` re-reads only what changed.
        fingerprint = read_fingerprint(assistant.chunker, source)
        state = FileState(source, file_hash, st.st_size, st.st_mtime_ns, fingerprint, len(chunks))
        batch.append((state, chunks, np.stack(vecs)))
        made += len(chunks)
        if sum(len(c) for _, c, _ in batch) >= 2000 or made >= n_chunks:
            kept = sentence_vectors(batch, pool, vectors, assistant) if sentences else None
            assistant.store.put_files(batch, kept)
            batch = []
            print(f"  {folder.name}: {made}/{n_chunks} chunks stored", file=sys.stderr)


def sentence_vectors(
    batch: list[Any], pool: list[str], vectors: np.ndarray, assistant: Any
) -> dict[str, dict[str, np.ndarray]]:
    """The vector of each evidence sentence of the batch's files: a pool sentence's own, any
    other text (a short sentence joined to the one before it) embedded."""
    from qa.sync import evidence_texts

    texts = {
        state.source: [t for c in chunks for t in evidence_texts(c)] for state, chunks, _ in batch
    }
    index = {text: i for i, text in enumerate(pool)}
    missing = sorted({t for found in texts.values() for t in found} - index.keys())
    own = dict(zip(missing, assistant.embedder.embed_documents(missing), strict=True))
    return {
        source: {t: vectors[index[t]] if t in index else own[t] for t in found}
        for source, found in texts.items()
    }


def measure(folder: Path, questions: list[str], warmup: int) -> dict[str, Any]:
    """Run in a fresh process: open, build the retriever, then time embed vs ask per question."""
    import qa

    open_s, assistant = timed(
        lambda: qa.Assistant.from_folder(folder / "corpus", sync=False, store=folder / "store")
    )
    build_s, _ = timed(lambda: assistant.retriever)
    for q in questions[:warmup]:
        assistant.ask(q)
    embed, ask, abstained = [], [], 0
    for q in questions[warmup:]:
        embed.append(timed(partial(assistant.embedder.embed_query, [q]))[0])
        seconds, answer = timed(partial(assistant.ask, q))
        ask.append(seconds)
        abstained += answer.abstained
    return {
        "chunks": assistant.store.count(),
        "embedder": assistant.embedder.name,
        "questions": len(ask),
        "open_s": open_s,
        "retriever_build_s": build_s,
        "ask_p50_ms": 1000 * percentile(ask, 50),
        "ask_p95_ms": 1000 * percentile(ask, 95),
        "embed_p50_ms": 1000 * percentile(embed, 50),
        "ratio_ask_to_embed_p50": percentile(ask, 50) / percentile(embed, 50),
        "abstained": abstained,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows_q = [json.loads(x) for x in (DATA / "squad11_dev/questions.jsonl").open()]
    questions = [r["question"] for r in random.Random(0).sample(rows_q, args.questions + 20)]
    if args.smoke:
        questions = questions[:13]
    if args.measure:  # child process: one scale
        print(json.dumps(measure(args.measure, questions, warmup=3 if args.smoke else 20)))
        return
    cache = CACHE / ("query-smoke" if args.smoke else "query")
    scales = [200] if args.smoke else args.scales
    pool = sentence_pool(limit=300 if args.smoke else None)
    vectors = pool_vectors(pool, cache)
    results = []
    for n in scales:
        folder = cache / f"{n}"
        build_s, _ = timed(partial(build, n, folder, pool, vectors))
        child = [sys.executable, __file__, "--measure", str(folder)]
        child += ["--questions", str(args.questions)] + (["--smoke"] if args.smoke else [])
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["store_build_s_this_run"] = round(build_s, 1)
        results.append(result)
    header = ["chunks", "ask p50 ms", "ask p95 ms", "query embed p50 ms", "ask / embed",
              "retriever build s", "peak RSS MiB"]  # fmt: skip
    rows = [
        [
            r["chunks"],
            r["ask_p50_ms"],
            r["ask_p95_ms"],
            r["embed_p50_ms"],
            r["ratio_ask_to_embed_p50"],
            r["retriever_build_s"],
            r["peak_rss_mb"],
        ]
        for r in results
    ]
    payload = {"pool_sentences": len(pool), "scales": results}
    report("query-smoke" if args.smoke else "query", payload, table(header, rows), out=args.out)


if __name__ == "__main__":
    main()
