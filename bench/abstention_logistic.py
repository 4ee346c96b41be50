"""Experiment (not adopted): a logistic abstention model over two features, on SQuAD dev data.

Twelve SQuAD v1.1 dev articles are indexed (seeded choice). Positives: questions about them.
Negatives of two kinds: questions about twelve other articles that are not indexed (the
topic is absent), and SQuAD v2.0 unanswerable questions about the indexed articles (the topic
is there, the answer is not) — excluding every question the peer benchmark samples
(``bench/peer.py --set squad20_dev --limit 1000 --seed 0``). Each question gets two features,
the best evidence score and the best cosine similarity of any retrieved sentence; a logistic
regression (scikit-learn) turns them into the probability that the passages answer the
question. It prints the model and the probability threshold maximising balanced accuracy,
and writes ``bench/results/abstention-logistic.json``. See BENCHMARKS.md for why the shipped
answerer keeps a single threshold on the best evidence score.

    python bench/abstention_logistic.py --data ../shared/benchmarks
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import qa
from qa.answerers.extractive import ExtractiveAnswerer


def youden(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """(threshold, positives kept, negatives abstained) maximising TPR - FPR."""
    best, best_j = (0.5, 0.0, 0.0), -1.0
    for t in np.unique(probs):
        tpr = float((probs[labels == 1] >= t).mean())
        tnr = float((probs[labels == 0] < t).mean())
        if tpr + tnr - 1 > best_j:
            best_j, best = tpr + tnr - 1, (float(t), tpr, tnr)
    return best


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/benchmarks"))
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--questions", type=int, default=300, help="per group")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=Path("bench/.cache/calibration"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/abstention-logistic.json"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    squad11 = args.data / "squad11_dev"
    docs = sorted((squad11 / "docs").glob("*.txt"))
    rng.shuffle(docs)
    indexed, held_out = docs[: args.articles], docs[args.articles : 2 * args.articles]
    names_in = {f"docs/{d.name}" for d in indexed}
    names_out = {f"docs/{d.name}" for d in held_out}
    rows11 = read(squad11 / "questions.jsonl")
    rows20 = read(args.data / "squad20_dev" / "questions.jsonl")
    benchmarked = {r["id"] for r in random.Random(0).sample(rows20, 1000)}
    groups = {
        "answerable": [r for r in rows11 if r["source_file"] in names_in],
        "topic absent": [r for r in rows11 if r["source_file"] in names_out],
        "answer absent": [
            r
            for r in rows20
            if not r["answerable"] and r["source_file"] in names_in and r["id"] not in benchmarked
        ],
    }
    groups = {k: rng.sample(v, min(args.questions, len(v))) for k, v in groups.items()}

    corpus = args.cache / "docs"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    for d in indexed:
        shutil.copy(d, corpus / d.name)
    assistant = qa.Assistant.from_folder(corpus, store=args.cache / "store", progress=True)
    answerer = assistant.answerer
    assert isinstance(answerer, ExtractiveAnswerer)

    def features(question: str) -> list[float]:
        _, scores, dense = answerer.scored_sentences(question, assistant.retrieve(question))
        return [float(scores.max()), float(dense.max())] if len(scores) else [0.0, 0.0]

    feats = {k: np.array([features(r["question"]) for r in v]) for k, v in groups.items()}
    x = np.concatenate(list(feats.values()))
    y = np.concatenate([np.full(len(v), k == "answerable", dtype=int) for k, v in feats.items()])
    model = LogisticRegression(class_weight="balanced").fit(x, y)
    probs = model.predict_proba(x)[:, 1]
    threshold, kept, abstained = youden(y, probs)
    pos = probs[y == 1]
    split = len(feats["answerable"]) + len(feats["topic absent"])
    result = {
        "articles_indexed": len(indexed),
        "questions": {k: len(v) for k, v in feats.items()},
        "seed": args.seed,
        "abstain_model": [
            round(float(model.coef_[0][0]), 4),
            round(float(model.coef_[0][1]), 4),
            round(float(model.intercept_[0]), 4),
        ],
        "threshold": round(threshold, 4),
        "answerable_kept": round(kept, 4),
        "unanswerable_abstained": round(abstained, 4),
        "auroc_topic_absent": round(
            roc_auc_score(
                np.r_[np.ones(len(pos)), np.zeros(split - len(pos))],
                np.r_[pos, probs[len(pos) : split]],
            ),
            4,
        ),
        "auroc_answer_absent": round(
            roc_auc_score(
                np.r_[np.ones(len(pos)), np.zeros(len(probs) - split)],
                np.r_[pos, probs[split:]],
            ),
            4,
        ),
        "auroc_best_score_alone": round(roc_auc_score(y, x[:, 0]), 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
