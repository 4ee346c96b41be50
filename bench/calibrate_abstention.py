"""Calibrate the extractive answerer's abstention on SQuAD v2.0 dev, with a held-out split.

Every SQuAD 2.0 dev article is indexed. Three kinds of questions are scored:

- answerable: SQuAD 2.0 questions with an answer;
- answer absent: SQuAD 2.0's unanswerable questions, written against the very paragraphs that
  are indexed (the topic is there, the fact is not): the hard case;
- topic absent: SQuAD 1.1 dev questions about articles that are not indexed.

Articles are split in two (seeded): the threshold is chosen on the questions of one half
(maximising balanced accuracy of answerable vs both kinds of absent; and, as a second
operating point, answering 95 % of answerable questions) and reported on the other half, with
the ROC AUC of the answerer's confidence. BENCHMARKS.md says which one is the default
threshold in the embedder's calibration (``qa/embed/e5.py``) and why.

    python bench/calibrate_abstention.py
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa
from bench.common import CACHE, DATA, RESULTS


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random answerable question outscores a random absent one), ties counted half."""
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> float:
    """The threshold maximising TPR + TNR (Youden's J): answer at or above it."""
    best_t, best_j = 0.0, -1.0
    for t in np.unique(np.concatenate([pos, neg])):
        j = float((pos >= t).mean()) + float((neg < t).mean())
        if j > best_j:
            best_t, best_j = float(t), j
    return best_t


def rates(scores: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """Answered share of answerable questions, abstained share of each absent kind."""
    return {
        "answerable_answered": round(float((scores["answerable"] >= threshold).mean()), 4),
        "answer_absent_abstained": round(float((scores["answer_absent"] < threshold).mean()), 4),
        "topic_absent_abstained": round(float((scores["topic_absent"] < threshold).mean()), 4),
    }


def split_figures(scores: dict[str, np.ndarray], threshold: float) -> dict[str, Any]:
    pos = scores["answerable"]
    return {
        "questions": {k: len(v) for k, v in scores.items()},
        "auroc_answer_absent": round(roc_auc(pos, scores["answer_absent"]), 4),
        "auroc_topic_absent": round(roc_auc(pos, scores["topic_absent"]), 4),
        "auroc_all_absent": round(
            roc_auc(pos, np.concatenate([scores["answer_absent"], scores["topic_absent"]])), 4
        ),
        **rates(scores, threshold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-kind", type=int, default=400, help="questions per kind and half")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--store", type=Path, default=CACHE / "squad20_dev" / "ours")
    parser.add_argument("--out", type=Path, default=RESULTS / "calibration.json")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    v2 = args.data / "squad20_dev"
    articles = sorted(p.name for p in (v2 / "docs").glob("*.txt"))
    rng.shuffle(articles)
    halves = [set(articles[::2]), set(articles[1::2])]
    rows2 = [json.loads(line) for line in (v2 / "questions.jsonl").open(encoding="utf-8")]
    rows1 = [
        json.loads(line)
        for line in (args.data / "squad11_dev" / "questions.jsonl").open(encoding="utf-8")
    ]
    absent_articles = sorted({Path(r["source_file"]).name for r in rows1} - set(articles), key=str)
    rng.shuffle(absent_articles)
    absent_halves = [set(absent_articles[::2]), set(absent_articles[1::2])]

    started = time.perf_counter()
    assistant = qa.Assistant.from_folder(v2 / "docs", store=args.store, progress=True)
    print(f"index ready in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    def confidence(question: str) -> float:
        answer = assistant.ask(question)
        return float(answer.confidence or 0.0)

    splits: list[dict[str, np.ndarray]] = []
    for half, absent in zip(halves, absent_halves, strict=True):
        kinds = {
            "answerable": [
                r for r in rows2 if r["answerable"] and Path(r["source_file"]).name in half
            ],
            "answer_absent": [
                r for r in rows2 if not r["answerable"] and Path(r["source_file"]).name in half
            ],
            "topic_absent": [r for r in rows1 if Path(r["source_file"]).name in absent],
        }
        scores = {}
        for kind, rows in kinds.items():
            sample = rng.sample(rows, min(args.per_kind, len(rows)))
            scores[kind] = np.array([confidence(r["question"]) for r in sample])
        splits.append(scores)

    calibration, held_out = splits
    neg = np.concatenate([calibration["answer_absent"], calibration["topic_absent"]])
    threshold = best_threshold(calibration["answerable"], neg)
    # The other operating point: answer at least 95 % of answerable questions.
    keep95 = float(np.quantile(calibration["answerable"], 0.05))
    from qa.answerers import abstain_threshold

    default = abstain_threshold(assistant.settings, assistant.evidence)
    result = {
        "data": "squad20_dev (indexed) + squad11_dev (topic absent)",
        "seed": args.seed,
        "embedder": assistant.embedder.name,
        "threshold_chosen_on_calibration_half": round(threshold, 4),
        "threshold_answering_95_percent": round(keep95, 4),
        "current_default": default,
        "calibration_half": split_figures(calibration, threshold),
        "held_out_half": split_figures(held_out, threshold),
        "held_out_at_95_percent_threshold": rates(held_out, keep95),
        "held_out_at_default": rates(held_out, default),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
