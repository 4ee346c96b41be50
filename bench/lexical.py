"""Persistent lexical index candidates (issue 15): bm25s rebuilt vs saved/mmap, SQLite FTS5.

    python bench/lexical.py [--chunks N] [--questions Q] [--out DIR] [--smoke]

Chunks are the paragraphs of SQuAD 1.1 and 2.0 dev (``../shared/benchmarks``), tokenised as
qa indexes them (``qa.lang.tokens``: stopwords dropped, Snowball stems). Past the real
paragraphs (about 3,300) the set is cycled, each copy with its own marker term, so that
timings and sizes scale; the agreement figure is taken on the real paragraphs only. Each
candidate is timed the way a reader would meet it: build (what sync pays), open in a fresh
state (what a cold ``qa ask`` pays), and top-20 queries for SQuAD questions (warm). FTS5 is
given the stems, space-joined, so tokenisation stays qa's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, ROOT, percentile, report, table

sys.path.insert(0, str(ROOT))
from qa import lang

SHARED = ROOT.parent / "shared" / "benchmarks"
K = 20


def paragraphs() -> list[str]:
    out: list[str] = []
    for name in ("squad11_dev", "squad20_dev"):
        for path in sorted((SHARED / name / "docs").glob("*.txt")):
            out += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return out


def questions(n: int) -> list[str]:
    rows = [json.loads(x) for x in (SHARED / "squad11_dev" / "questions.jsonl").open()]
    return [r["question"] for r in rows[:: max(1, len(rows) // n)]][:n]


def fts_query(terms: list[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))


def bench_bm25s(docs: list[list[str]], qs: list[list[str]], folder: Path) -> dict[str, Any]:
    import bm25s

    t0 = time.perf_counter()
    index = bm25s.BM25()
    index.index(docs, show_progress=False)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.save(str(folder / "bm25s"))
    save = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = bm25s.BM25.load(str(folder / "bm25s"), mmap=True)
    open_s = time.perf_counter() - t0
    vocab = loaded.vocab_dict
    tops, times = [], []
    for q in qs:
        ids = [vocab[t] for t in q if t in vocab]
        t0 = time.perf_counter()
        scores = loaded.get_scores(ids) if ids else np.zeros(len(docs))
        top = np.argsort(-scores)[:K]
        times.append(time.perf_counter() - t0)
        tops.append([int(i) for i in top if scores[i] > 0])
    size = sum(f.stat().st_size for f in (folder / "bm25s").rglob("*") if f.is_file())
    return {
        "build_s": build,
        "save_s": save,
        "open_s": open_s,
        "query_ms": _ms(times),
        "disk_mb": size / 2**20,
        "tops": tops,
    }


def bench_fts5(docs: list[list[str]], qs: list[list[str]], folder: Path) -> dict[str, Any]:
    path = folder / "lexical.sqlite"
    t0 = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE lex USING fts5(terms, tokenize='unicode61 remove_diacritics 0')"
    )
    with db:
        db.executemany(
            "INSERT INTO lex(rowid, terms) VALUES (?, ?)",
            ((i, " ".join(d)) for i, d in enumerate(docs)),
        )
    db.execute("INSERT INTO lex(lex) VALUES ('optimize')")
    db.commit()
    db.close()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.execute("SELECT 1 FROM lex LIMIT 1").fetchall()
    open_s = time.perf_counter() - t0
    tops, times = [], []
    for q in qs:
        t0 = time.perf_counter()
        rows = (
            db.execute(
                "SELECT rowid FROM lex WHERE lex MATCH ? ORDER BY bm25(lex) LIMIT ?",
                (fts_query(q), K),
            ).fetchall()
            if q
            else []
        )
        times.append(time.perf_counter() - t0)
        tops.append([r[0] for r in rows])
    # One incremental change, as a re-sync of one edited file makes it: delete + insert.
    db.close()
    db = sqlite3.connect(path)
    t0 = time.perf_counter()
    with db:
        db.execute("DELETE FROM lex WHERE rowid = 0")
        db.execute("INSERT INTO lex(rowid, terms) VALUES (0, ?)", (" ".join(docs[0]),))
    edit = time.perf_counter() - t0
    db.close()
    return {
        "build_s": build,
        "open_s": open_s,
        "query_ms": _ms(times),
        "one_edit_ms": edit * 1000,
        "disk_mb": path.stat().st_size / 2**20,
        "tops": tops,
    }


def bench_qa(texts: list[str], qs: list[list[str]], folder: Path) -> dict[str, Any]:
    """qa's own index (``qa.store.lexical``: FTS5 postings, bm25s's ranking), written as a sync
    writes it (files of 10 chunks, 200 files per transaction)."""
    from qa.schema import Chunk
    from qa.store.lexical import LexicalIndex, Mirrored

    def chunk(i: int) -> Chunk:
        return Chunk(f"c{i}", f"f{i // 10}", texts[i], 0, len(texts[i]), i % 10, "h", lang="en")

    path = folder / "qa-lexical.sqlite"
    index = LexicalIndex(path, key="bench")
    t0 = time.perf_counter()
    files = [list(range(at, min(at + 10, len(texts)))) for at in range(0, len(texts), 10)]
    for at in range(0, len(files), 200):
        index.replace_files(
            [(f"f{rows[0] // 10}", Mirrored("h", len(rows)), [chunk(i) for i in rows])
             for rows in files[at : at + 200]]
        )  # fmt: skip
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    reader = LexicalIndex(path, key="bench").reader()
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reader.search(qs[0], "en", K)
    first_s = time.perf_counter() - t0
    tops, times = [], []
    for q in qs:
        t0 = time.perf_counter()
        found = reader.search(q, "en", K)
        times.append(time.perf_counter() - t0)
        tops.append([int(cid[1:]) for cid in found])
    reader.close()
    t0 = time.perf_counter()
    index.replace_files([("f0", Mirrored("h2", len(files[0])), [chunk(i) for i in files[0]])])
    edit = time.perf_counter() - t0
    return {
        "build_s": build,
        "open_s": open_s,
        "first_query_s": first_s,
        "query_ms": _ms(times),
        "one_edit_ms": edit * 1000,
        "disk_mb": sum(p.stat().st_size for p in folder.glob("qa-lexical.sqlite*")) / 2**20,
        "tops": tops,
    }


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": statistics.median(ms), "p95": percentile(ms, 95)}


def overlap(a: list[list[int]], b: list[list[int]], k: int = 10) -> float:
    shares = [
        len(set(x[:k]) & set(y[:k])) / max(1, min(k, len(x), len(y)))
        for x, y in zip(a, b, strict=True)
    ]
    return statistics.mean(shares)


def run(args: argparse.Namespace) -> dict[str, Any]:
    real = paragraphs()
    t0 = time.perf_counter()
    real_tokens = [lang.tokens(p, "en") for p in real]
    tokenise_s = time.perf_counter() - t0
    n = args.chunks
    docs = [
        real_tokens[i % len(real)] + ([f"copy{i // len(real)}"] if i >= len(real) else [])
        for i in range(n)
    ]
    texts = [
        real[i % len(real)] + (f" copy{i // len(real)}" if i >= len(real) else "") for i in range(n)
    ]
    qs = [lang.tokens(q, "en") for q in questions(args.questions)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        res = {
            "bm25s": bench_bm25s(docs, qs, folder),
            "fts5": bench_fts5(docs, qs, folder),
            "qa (FTS5 postings, bm25s ranking)": bench_qa(texts, qs, folder),
        }
        # Agreement on the real paragraphs alone (no cycled copies).
        sub = Path(tmp) / "real"
        sub.mkdir()
        agree_a = bench_bm25s(real_tokens, qs, sub)["tops"]
        agree_b = bench_fts5(real_tokens, qs, sub)["tops"]
        agree_qa = bench_qa(real, qs, sub)["tops"]
    for r in res.values():
        r.pop("tops")
    return {
        "chunks": n,
        "real_paragraphs": len(real),
        "questions": len(qs),
        "tokenise_real_s": tokenise_s,
        "top10_overlap_fts5_vs_bm25s": overlap(agree_a, agree_b),
        "top10_overlap_qa_vs_bm25s": overlap(agree_a, agree_qa),
        "sqlite_version": sqlite3.sqlite_version,
        "candidates": res,
        "pid": os.getpid(),
    }


def render(res: dict[str, Any]) -> str:
    rows = []
    for name, r in res["candidates"].items():
        rows.append(
            [
                name,
                f"{r['build_s']:.2f}",
                f"{r['open_s'] * 1000:.1f}",
                f"{r['query_ms']['p50']:.2f}",
                f"{r['query_ms']['p95']:.2f}",
                f"{r.get('one_edit_ms', float('nan')):.1f}",
                f"{r['disk_mb']:.1f}",
            ]
        )
    head = f"## Lexical index candidates: {res['chunks']} chunks, {res['questions']} questions\n\n"
    return (
        head
        + table(
            ["index", "build s", "open ms", "query p50 ms", "p95 ms", "one edit ms", "disk MiB"],
            rows,
        )
        + f"\n\ntop-10 overlap with bm25s on the {res['real_paragraphs']} real paragraphs: "
        f"FTS5's bm25() {res['top10_overlap_fts5_vs_bm25s']:.3f}, "
        f"qa's index {res['top10_overlap_qa_vs_bm25s']:.3f}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.smoke:
        args.chunks, args.questions = 5000, 20
    res = run(args)
    report("lexical", res, render(res), out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
