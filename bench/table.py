"""Render bench/results/peer-*.json as the markdown table in BENCHMARKS.md.

python bench/table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = {
    "squad11_dev": "SQuAD 1.1 dev",
    "squad20_dev": "SQuAD 2.0 dev",
    "xquad": "XQuAD es→en",
    "xquad_de": "XQuAD de→en",
    "piaf": "PIAF (fr)",
}


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def main() -> None:
    rows = [
        "| set | questions | system | hit@1 | hit@5 | MRR | answer ≤60 words has gold | "
        "gold file cited | quotes verbatim | abstention P / R / AUROC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    results = [json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.glob("peer-*.json")]
    order = list(LABELS)
    results.sort(key=lambda r: (order.index(r["set"]) if r["set"] in order else 99, r["label"]))
    for r in results:
        if r["label"] == "smoke":
            continue
        name = f"{LABELS.get(r['set'], r['set'])}"
        count = f"{r['questions']}" + (
            f" ({r['unanswerable']} unanswerable)" if r["unanswerable"] else ""
        )
        o = r["ours"]
        abstain = "–"
        if "abstain_recall" in o:
            abstain = (
                f"{pct(o['abstain_precision'])} / {pct(o['abstain_recall'])} / "
                f"{o['abstain_auroc']:.3f}"
            )
        rows.append(
            f"| {name} | {count} | qa ({r['label']}) | {pct(o['hit1'])} | {pct(o['hit5'])} | "
            f"{o['mrr']:.3f} | {pct(o['answer'])} | {pct(o['cited'])} | {pct(o['verbatim'])} | "
            f"{abstain} |"
        )
        if "stock" in r:
            s = r["stock"]
            rows.append(
                f"| {name} | {count} | stock LlamaIndex (top-k 2) | {pct(s['hit1'])} | "
                f"{pct(s['hit5'])} (@2: {pct(s['hit2'])}) | {s['mrr']:.3f} | "
                f"{pct(s['answer'])} (top chunk cut to 60 words) | {pct(s['cited'])} (top chunk) "
                "| – | – |"
            )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
