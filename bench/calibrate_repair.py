"""Calibrate citation repair: the support at which an unmarked LLM sentence gets an inferred
citation (``qa.cite.verify``'s ``repair_threshold``).

SQuAD 2.0 dev articles are indexed (the store ``bench/calibrate_abstention.py`` builds). For a
seeded sample of questions, every candidate sentence is scored as repair scores it: the best
support any retrieved sentence gives it (``qa.cite._best_sentence``). Sentences come in two
kinds, each labelled supported or not:

- scripted: the context sentence holding the gold answer (supported), and the same kind of
  sentence from a SQuAD 1.1 article that is not indexed (true, but not in the documents);
- real: the local model's answers (``qa llm serve``'s SmolLM2, qa's prompt, greedy) to
  indexed questions, a sentence supported when it states a gold answer that the retrieved
  passages hold; and its answers to questions about articles that are not indexed (nothing
  the documents hold can support them).

Reported: ROC AUC, the threshold maximising TPR + TNR on each kind and on both, and precision
and recall at the current default (``support_threshold``).

    python bench/calibrate_repair.py --llm http://127.0.0.1:PORT/v1   # (qa llm serve)
    python bench/calibrate_repair.py --smoke                          # scripted only, 10 + 10
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa
from bench.calibrate_abstention import best_threshold, roc_auc
from bench.common import CACHE, DATA, RESULTS
from qa.answerers import support_threshold
from qa.cite import _best_sentence
from qa.text import fold, sentence_spans


def gold_sentence(text: str, answers: list[str]) -> str | None:
    """The sentence of ``text`` holding the first gold answer found, if any."""
    for start, end in sentence_spans(text, lang="en"):
        sentence = text[start:end]
        if any(a and a in sentence for a in answers):
            return sentence
    return None


def figures(pos: np.ndarray, neg: np.ndarray, default: float) -> dict[str, Any]:
    t = best_threshold(pos, neg) if len(pos) and len(neg) else float("nan")
    return {
        "supported": len(pos),
        "unsupported": len(neg),
        "auroc": round(roc_auc(pos, neg), 4),
        "threshold_best_j": round(t, 4),
        "at_best": _rates(pos, neg, t),
        "at_default": _rates(pos, neg, default),
    }


def _rates(pos: np.ndarray, neg: np.ndarray, t: float) -> dict[str, float]:
    kept_pos = int((pos >= t).sum())
    kept_neg = int((neg >= t).sum())
    return {
        "recall": round(kept_pos / max(len(pos), 1), 4),
        "precision": round(kept_pos / max(kept_pos + kept_neg, 1), 4),
        "unsupported_cited": round(kept_neg / max(len(neg), 1), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=60, help="per kind")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--store", type=Path, default=CACHE / "squad20_dev" / "ours")
    parser.add_argument("--llm", help="base URL of an OpenAI-compatible server (qa llm serve)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "calibrate_repair.json")
    args = parser.parse_args()
    if args.smoke:
        args.questions, args.llm = 10, None

    rng = random.Random(args.seed)
    v2 = args.data / "squad20_dev"
    rows2 = [json.loads(line) for line in (v2 / "questions.jsonl").open(encoding="utf-8")]
    rows1 = [
        json.loads(line)
        for line in (args.data / "squad11_dev" / "questions.jsonl").open(encoding="utf-8")
    ]
    indexed = {p.name for p in (v2 / "docs").glob("*.txt")}
    present = rng.sample([r for r in rows2 if r["answerable"]], args.questions)
    absent = rng.sample(
        [r for r in rows1 if Path(r["source_file"]).name not in indexed], args.questions
    )

    settings: dict[str, Any] = {"answerer": "extractive"}
    if args.llm:
        settings = {
            "answerer": "openai", "llm_base_url": args.llm, "llm_model": args.model,
            "llm_fallback": False, "llm_deadline_s": 120, "llm_timeout_s": 120,
            "citation_repair": False, "strict_grounding": False,
        }  # fmt: skip
    a = qa.Assistant.from_folder(v2 / "docs", store=args.store, **settings)
    default = support_threshold(a.settings, a.evidence)
    evidence = a.evidence

    def support(sentence: str, passages: list[qa.Passage]) -> float:
        return _best_sentence(sentence, passages, evidence)[0]

    scripted: dict[bool, list[float]] = {True: [], False: []}
    real: dict[bool, list[float]] = {True: [], False: []}
    for row in present:
        passages = a.retrieve(row["question"])
        context = (v2 / row["source_file"]).read_text(encoding="utf-8")
        gold = gold_sentence(context, row["answers"])
        if gold:
            scripted[True].append(support(gold, passages))
        if args.llm:
            answer = a.ask(row["question"])
            held = " ".join(p.chunk.text for p in answer.passages)
            for s in answer.sentences:
                says = [g for g in row["answers"] if fold(g) in fold(s.text)]
                if says and any(g in held for g in says):
                    real[True].append(support(s.text, answer.passages))
    for row in absent:
        question = row["question"]
        passages = a.retrieve(question)
        text = (args.data / "squad11_dev" / row["source_file"]).read_text(encoding="utf-8")
        gold = gold_sentence(text, row["answers"])
        if gold:
            scripted[False].append(support(gold, passages))
        if args.llm:
            answer = a.ask(question)
            for s in answer.sentences:
                if not re.search(r"\w{3,}", s.text) or s.text == qa.NOT_IN_DOCUMENTS:
                    continue
                real[False].append(support(s.text, answer.passages))

    arr = {
        k: {b: np.array(v) for b, v in d.items()}
        for k, d in (("scripted", scripted), ("real", real))
    }
    result: dict[str, Any] = {
        "bench": "calibrate_repair",
        "embedder": a.embedder.name,
        "model": args.model if args.llm else None,
        "seed": args.seed,
        "current_default": default,
        "scripted": figures(arr["scripted"][True], arr["scripted"][False], default),
    }
    if args.llm:
        result["real"] = figures(arr["real"][True], arr["real"][False], default)
        both_pos = np.concatenate([arr["scripted"][True], arr["real"][True]])
        both_neg = np.concatenate([arr["scripted"][False], arr["real"][False]])
        result["both"] = figures(both_pos, both_neg, default)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
