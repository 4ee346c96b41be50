"""What the fast evidence costs: the extractive answerer with passage-level dense evidence
(the default: one model call per question) against per-sentence embeddings (the baseline:
every candidate sentence embedded at question time), on the same SQuAD 1.1 dev questions.

    python bench/evidence.py                 # 500 questions
    python bench/evidence.py --smoke --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, DATA, RESULTS, percentile, report, smoke_corpus, table, timed
from peer import contains_gold, short_enough

SET = DATA / "squad11_dev"


def run(assistant: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@5, gold answer in ≤ 40 words, gold file cited, abstained, latency per mode."""
    m: dict[str, list[float]] = {k: [] for k in ("hit5", "answer", "cited", "abstained")}
    latency = []
    for row in rows:
        gold = row["source_file"].removeprefix("docs/")
        seconds, answer = timed(partial(assistant.ask, row["question"]))
        latency.append(seconds)
        ranks = [
            i
            for i, p in enumerate(answer.passages)
            if p.chunk.source == gold and contains_gold(p.chunk.text, row["answers"])
        ]
        m["hit5"].append(bool(ranks) and ranks[0] < 5)
        m["answer"].append(short_enough(answer.text) and contains_gold(answer.text, row["answers"]))
        m["cited"].append(gold in {c.source for c in answer.citations})
        m["abstained"].append(answer.abstained)
    out: dict[str, Any] = {k: 100 * float(np.mean(v)) for k, v in m.items()}
    out["ask_p50_ms"] = 1000 * percentile(latency, 50)
    out["ask_p95_ms"] = 1000 * percentile(latency, 95)
    return out


def main() -> None:
    import qa

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="2 documents, 10 questions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [json.loads(x) for x in (SET / "questions.jsonl").open(encoding="utf-8")]
    docs = SET / "docs"
    store = CACHE / "evidence" / "store"
    if args.smoke:
        docs, rows = smoke_corpus(docs, rows, CACHE / "evidence-smoke" / "docs")
        store = CACHE / "evidence-smoke" / "store"
    rows = random.Random(0).sample(rows, min(len(rows), 10 if args.smoke else args.questions))
    fast = qa.Assistant.from_folder(docs, store=store)
    slow = qa.Assistant.from_folder(docs, store=store, embedder=fast.embedder)
    slow.evidence.chunk_vectors = None  # every sentence embedded on its own
    results = {"passage (default)": run(fast, rows), "sentence (baseline)": run(slow, rows)}
    header = ["evidence", "hit@5", "answer ≤40 words has gold", "gold file cited",
              "abstained (all answerable)", "ask p50 ms", "ask p95 ms"]  # fmt: skip
    body = [
        [name, r["hit5"], r["answer"], r["cited"], r["abstained"], r["ask_p50_ms"], r["ask_p95_ms"]]
        for name, r in results.items()
    ]
    speedup = (
        results["sentence (baseline)"]["ask_p50_ms"] / results["passage (default)"]["ask_p50_ms"]
    )
    payload = {"questions": len(rows), "modes": results, "p50_speedup": speedup}
    text = table(header, body) + f"\n\np50 speed-up of the default: {speedup:.1f}×"
    report("evidence-smoke" if args.smoke else "evidence", payload, text, out=args.out)


if __name__ == "__main__":
    main()
