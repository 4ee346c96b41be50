"""Put a sentence's own cosine on the scale of term coverage, for cross-lingual evidence.

The evidence that a sentence answers a question is ``0.55 · passage cosine + 0.45 · term
coverage``. Across languages term coverage is near zero (a French sentence shares no stems
with an English question), so for sentences in another language the coverage is replaced by
the sentence's own cosine to the question, mapped linearly: ``(cos - floor) / range``. This
script fits logistic models of "this sentence holds the gold answer" over the candidate
sentences of benchmark questions — on term coverage, on sentence cosine, and on both — and
maps a cosine (or both) to the coverage that predicts the same probability. On SQuAD 2.0
(English questions) that gives the joint map used for same-language sentences; on XQuAD
(Spanish questions over English documents, where cosines run lower) the cosine-only map for
sentences in another language. The results are the constants in ``qa/evidence.py``.

    python bench/calibrate_cross_lingual.py                 # English questions: joint map
    python bench/calibrate_cross_lingual.py --set xquad     # Spanish questions, English text
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa
from bench.common import CACHE, DATA, RESULTS
from bench.peer import contains_gold

SETS = {
    "squad20_dev": ("squad20_dev", "docs", "questions.jsonl"),
    "xquad": ("xquad", "docs_en", "questions.es_q_en_docs.jsonl"),
}


def logistic(columns: list[np.ndarray], y: np.ndarray, steps: int = 50) -> list[float]:
    """Weights (then the intercept) of a logistic regression, by Newton's method."""
    design = np.stack([*columns, np.ones_like(y)], axis=1)
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(len(w))
        w += np.linalg.solve(hessian, gradient)
    return [float(v) for v in w]


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="squad20_dev",
        help="squad20_dev: English questions (the joint map); xquad: Spanish questions over "
        "the English documents (the map for sentences in another language)",
    )
    args = parser.parse_args()

    folder_name, docs_name, questions = SETS[args.set]
    folder = args.data / folder_name
    rows = [json.loads(line) for line in (folder / questions).open(encoding="utf-8")]
    answerable = [r for r in rows if r.get("answerable", True)]
    rows = random.Random(args.seed).sample(answerable, args.questions)
    store = CACHE / folder_name / "ours"
    assistant = qa.Assistant.from_folder(folder / docs_name, store=store)
    evidence = assistant.evidence
    coverage: list[float] = []
    cosine: list[float] = []
    gold: list[float] = []
    for row in rows:
        question = row["question"]
        spans = evidence.spans(assistant.retrieve(question))
        wanted = evidence.terms(question, evidence.language(question))
        lexical = [evidence.term_stats.coverage(wanted, t) for t in evidence.span_terms(spans)]
        own = (
            evidence.vectors([s.text for s in spans], documents=True)
            @ evidence.vectors([question])[0]
        )
        gold_file = row["source_file"].removeprefix(f"{docs_name}/")
        for span, lex, cos in zip(spans, lexical, own, strict=True):
            coverage.append(float(lex))
            cosine.append(float(cos))
            gold.append(
                float(span.chunk.source == gold_file and contains_gold(span.text, row["answers"]))
            )
    y = np.array(gold)
    lex, cos = np.array(coverage), np.array(cosine)
    a_lex, b_lex = logistic([lex], y)
    a_cos, b_cos = logistic([cos], y)
    # a_lex · lexical + b_lex = a_cos · cos + b_cos  ⇔  lexical = (cos - floor) / range
    floor = (b_lex - b_cos) / a_cos
    scale = a_lex / a_cos
    # Both signals together, expressed on the coverage scale:
    # lexical' = (j_lex · lexical + j_cos · cos + j_b - b_lex) / a_lex
    j_lex, j_cos, j_b = logistic([lex, cos], y)
    result = {
        "questions": len(rows),
        "sentences": len(y),
        "gold_sentences": int(y.sum()),
        "embedder": assistant.embedder.name,
        "coverage_logit": [round(a_lex, 3), round(b_lex, 3)],
        "cosine_logit": [round(a_cos, 3), round(b_cos, 3)],
        "floor": round(floor, 4),
        "range": round(scale, 4),
        "joint_logit": [round(j_lex, 3), round(j_cos, 3), round(j_b, 3)],
        "joint_on_coverage_scale": {
            "coverage_weight": round(j_lex / a_lex, 4),
            "cosine_weight": round(j_cos / a_lex, 4),
            "cosine_floor": round((b_lex - j_b) / j_cos, 4),
        },
        "auroc": {
            "coverage": round(roc_auc(lex, y), 4),
            "cosine": round(roc_auc(cos, y), 4),
            "joint": round(roc_auc(j_lex * lex + j_cos * cos, y), 4),
        },
    }
    result["set"] = args.set
    reference = RESULTS / "cross-lingual-map-squad20_dev.json"
    if args.set != "squad20_dev" and reference.exists():
        # A cosine here, put on the same-language coverage scale of SQuAD 2.0, so sentences of
        # either kind compare: a_ref · lexical + b_ref = a_cos · cos + b_cos.
        a_ref, b_ref = json.loads(reference.read_text(encoding="utf-8"))["coverage_logit"]
        result["on_squad20_coverage_scale"] = {
            "floor": round((b_ref - b_cos) / a_cos, 4),
            "range": round(a_ref / a_cos, 4),
        }
    out = RESULTS / f"cross-lingual-map-{args.set}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
