"""Put a sentence's own cosine on the scale of term coverage, for cross-lingual evidence.

The evidence that a sentence answers a question is ``0.55 · passage cosine + 0.45 · term
coverage``. Across languages term coverage is near zero (a French sentence shares no stems
with an English question), so for sentences in another language the coverage is replaced by
the sentence's own cosine to the question, mapped linearly: ``(cos - floor) / range``. This
script finds ``floor`` and ``range`` on monolingual data, where both signals exist: over the
candidate sentences of SQuAD 2.0 answerable questions, it fits one logistic model of "this
sentence holds the gold answer" on term coverage and one on sentence cosine, and maps a cosine
to the coverage that predicts the same probability. The result is ``CROSS_FLOOR`` and
``CROSS_RANGE`` in ``qa/evidence.py``.

    python bench/calibrate_cross_lingual.py
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


def logistic(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """(slope, intercept) of a one-feature logistic regression, by Newton's method."""
    w = np.zeros(2)
    design = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        w += np.linalg.solve(hessian, gradient)
    return float(w[0]), float(w[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--store", type=Path, default=CACHE / "squad20_dev" / "ours")
    parser.add_argument("--out", type=Path, default=RESULTS / "cross-lingual-map.json")
    args = parser.parse_args()

    folder = args.data / "squad20_dev"
    rows = [json.loads(line) for line in (folder / "questions.jsonl").open(encoding="utf-8")]
    rows = random.Random(args.seed).sample([r for r in rows if r["answerable"]], args.questions)
    assistant = qa.Assistant.from_folder(folder / "docs", store=args.store)
    evidence = assistant.evidence
    coverage: list[float] = []
    cosine: list[float] = []
    gold: list[float] = []
    for row in rows:
        question = row["question"]
        spans = evidence.spans(assistant.retrieve(question))
        _, lexical = evidence.parts(question, spans)
        own = (
            evidence.vectors([s.text for s in spans], documents=True)
            @ evidence.vectors([question])[0]
        )
        gold_file = row["source_file"].removeprefix("docs/")
        for span, lex, cos in zip(spans, lexical, own, strict=True):
            coverage.append(float(lex))
            cosine.append(float(cos))
            gold.append(
                float(span.chunk.source == gold_file and contains_gold(span.text, row["answers"]))
            )
    y = np.array(gold)
    a_lex, b_lex = logistic(np.array(coverage), y)
    a_cos, b_cos = logistic(np.array(cosine), y)
    # a_lex · lexical + b_lex = a_cos · cos + b_cos  ⇔  lexical = (cos - floor) / range
    floor = (b_lex - b_cos) / a_cos
    scale = a_lex / a_cos
    result = {
        "questions": len(rows),
        "sentences": len(y),
        "gold_sentences": int(y.sum()),
        "embedder": assistant.embedder.name,
        "coverage_logit": [round(a_lex, 3), round(b_lex, 3)],
        "cosine_logit": [round(a_cos, 3), round(b_cos, 3)],
        "floor": round(floor, 4),
        "range": round(scale, 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
