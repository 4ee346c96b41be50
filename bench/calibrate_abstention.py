"""Calibrate the extractive answerer's abstention threshold on SQuAD v1.1 dev.

Half of the articles are indexed; questions about them are answerable, questions about the
other half are not (their documents are absent). For every question we record the best
evidence score the extractive answerer computes, then report the ROC AUC and the threshold
that maximises balanced accuracy (Youden's J). That threshold is the default
``abstain_threshold`` (qa/settings.py).

    python bench/calibrate_abstention.py --data ../shared/benchmarks/squad11_dev
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import qa
from qa.answerers.extractive import ExtractiveAnswerer


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random answerable question outscores a random unanswerable one."""
    both = np.concatenate([pos, neg])
    ranks = both.argsort().argsort() + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float]:
    """(threshold, answerable kept, unanswerable abstained) maximising TPR - FPR."""
    best = (0.0, 0.0, 0.0)
    best_j = -1.0
    for t in np.unique(np.concatenate([pos, neg])):
        tpr, tnr = float((pos >= t).mean()), float((neg < t).mean())
        if tpr + tnr - 1 > best_j:
            best_j, best = tpr + tnr - 1, (float(t), tpr, tnr)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/benchmarks/squad11_dev"))
    parser.add_argument("--articles", type=int, default=12, help="articles indexed")
    parser.add_argument("--questions", type=int, default=300, help="per class")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("bench/results/calibration.json"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    docs = sorted((args.data / "docs").glob("*.txt"))
    rng.shuffle(docs)
    indexed, held_out = docs[: args.articles], docs[args.articles : 2 * args.articles]
    rows = [json.loads(line) for line in (args.data / "questions.jsonl").open(encoding="utf-8")]
    names_in = {f"docs/{d.name}" for d in indexed}
    names_out = {f"docs/{d.name}" for d in held_out}
    answerable = rng.sample([r for r in rows if r["source_file"] in names_in], args.questions)
    unanswerable = rng.sample([r for r in rows if r["source_file"] in names_out], args.questions)

    work = Path(tempfile.mkdtemp(prefix="qa-calibrate-"))
    try:
        corpus = work / "docs"
        corpus.mkdir()
        for d in indexed:
            shutil.copy(d, corpus / d.name)
        started = time.perf_counter()
        assistant = qa.Assistant.from_folder(corpus, store=work / "store", progress=True)
        answerer = assistant.answerer
        assert isinstance(answerer, ExtractiveAnswerer)
        print(f"indexed {len(indexed)} articles in {time.perf_counter() - started:.0f}s")

        def best(question: str) -> float:
            _, scores, _ = answerer.scored_sentences(question, assistant.retrieve(question))
            return float(scores.max()) if len(scores) else 0.0

        pos = np.array([best(r["question"]) for r in answerable])
        neg = np.array([best(r["question"]) for r in unanswerable])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    threshold, kept, abstained = best_threshold(pos, neg)
    default = qa.Settings().abstain_threshold
    result = {
        "data": str(args.data),
        "articles_indexed": len(indexed),
        "questions_per_class": args.questions,
        "seed": args.seed,
        "auroc": round(roc_auc(pos, neg), 4),
        "threshold": round(threshold, 4),
        "answerable_kept": round(kept, 4),
        "unanswerable_abstained": round(abstained, 4),
        "current_default": default,
        "answerable_kept_at_default": round(float((pos >= default).mean()), 4),
        "unanswerable_abstained_at_default": round(float((neg < default).mean()), 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
