"""Warm ``Assistant.ask`` latency on a folder (the seeds by default), against one query
embedding measured in the same process.

    python bench/ask_latency.py                       # seeds, the 51 eval questions
    python bench/ask_latency.py --label before        # run from an older checkout (PYTHONPATH)

One process opens the assistant (index built or synced first), asks one warm-up question, then
asks every single-turn question of the eval cases once, twice over: with the vectors and
scores it keeps between questions dropped before each question (``fresh``: what a question
about sentences never asked about costs), and kept (``running``: a server's steady state,
where questions about the same passages reuse what earlier ones computed). The baseline is the
embedding of each question alone, timed in the same process. Prints a table and writes
``bench/results/ask-latency[-label].json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, RESULTS, percentile, report, table

ROOT = Path(__file__).resolve().parent.parent


def questions(cases: Path) -> list[str]:
    import yaml

    raw = yaml.safe_load(cases.read_text(encoding="utf-8"))
    return [c["question"] for c in raw if "question" in c]


def measure(folder: Path, store: Path, qs: list[str], smoke: bool) -> dict[str, Any]:
    import qa

    assistant = qa.Assistant.from_folder(folder, store=store)
    assistant.ask("Warm-up question about the documents?")
    embed = assistant.embedder
    baseline = []
    for q in qs:
        started = time.perf_counter()
        embed.embed_query([q])
        baseline.append(time.perf_counter() - started)
    out: dict[str, Any] = {"questions": len(qs)}
    for mode in ("fresh", "running"):
        times = []
        for q in qs:
            if mode == "fresh":
                assistant.evidence.forget_vectors()
            started = time.perf_counter()
            assistant.ask(q)
            times.append(time.perf_counter() - started)
        out[f"{mode}_p50_ms"] = round(1000 * percentile(times, 50), 1)
        out[f"{mode}_p95_ms"] = round(1000 * percentile(times, 95), 1)
    out["embed_p50_ms"] = round(1000 * percentile(baseline, 50), 1)
    out["fresh_x_embed"] = round(out["fresh_p50_ms"] / out["embed_p50_ms"], 2)
    out["running_x_embed"] = round(out["running_p50_ms"] / out["embed_p50_ms"], 2)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", type=Path, default=ROOT / "seeds")
    p.add_argument("--cases", type=Path, default=ROOT / "evals" / "cases.yaml")
    p.add_argument("--store", type=Path, help="default: bench/.cache/ask-latency/<label>")
    p.add_argument("--label", default="")
    p.add_argument("--smoke", action="store_true", help="five questions")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    qs = questions(args.cases)[: 5 if args.smoke else None]
    store = args.store or CACHE / "ask-latency" / (args.label or "current")
    res = measure(args.folder, store, qs, args.smoke)
    rows = [
        [mode, res[f"{mode}_p50_ms"], res[f"{mode}_p95_ms"], res["embed_p50_ms"],
         res[f"{mode}_x_embed"]]
        for mode in ("fresh", "running")
    ]  # fmt: skip
    text = table(
        ["caches", "ask p50 ms", "ask p95 ms", "one embedding p50 ms", "× embedding"], rows
    )
    report("ask-latency" + (f"-{args.label}" if args.label else ""), res, text, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
