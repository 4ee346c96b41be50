"""``qa eval``: run the cases, print a table, write JSON, gate on a baseline, A/B prompts."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import qa
from qa.evals.cases import Case, load_baseline, load_cases
from qa.evals.paragraph import run_bm25_paragraph
from qa.evals.run import AnswerCache, EvalRun, regressions, run_cases
from qa.locations import store_for

EVALS = Path("evals")  # the working directory's, as seeds/ is


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``qa eval`` on the main command's subparsers; the caller sets ``run``."""
    p = sub.add_parser("eval", help="run the eval suite (evals/*.yaml) and score the answers")
    p.add_argument("--cases", type=Path, default=EVALS, help="YAML file or folder")
    p.add_argument("--folder", type=Path, help="corpus folder (default: the project's seeds/)")
    p.add_argument("--out", type=Path, help="JSON result (default: eval/result.json in the store)")
    p.add_argument("--baseline", type=Path, help="fail when a case that passed there fails now")
    p.add_argument("--update-baseline", action="store_true", help="rewrite the baseline file")
    p.add_argument(
        "--tolerance",
        type=int,
        default=0,
        help="pass the gate with up to N regressed cases, listed (for a model whose greedy "
        "output varies with the CPU it runs on)",
    )
    p.add_argument("--prompts", type=Path, help="also run with this prompts folder (A/B)")
    p.add_argument("--repeat", type=int, default=1, help="runs per case (non-deterministic LLMs)")
    p.add_argument("--no-cache", action="store_true", help="answer again instead of reusing")
    p.add_argument("--offline", action="store_true", help="use the extractive answerer")
    p.add_argument(
        "--bm25-baseline",
        action="store_true",
        help="also answer every case with the single best BM25 paragraph (the naive baseline) "
        "and print both side by side",
    )
    return p


def run(args: argparse.Namespace, settings: qa.Settings) -> int:
    """Run ``qa eval``; exit 1 when the baseline gate fails."""
    # An eval scores the configured answerer: an LLM failure must show as a failure, never
    # be replaced by the offline answerer's answer.
    settings = settings.model_copy(update={"llm_fallback": False})
    cases = load_cases(args.cases)
    if not cases:
        print(f"qa eval: no cases in {args.cases}", file=sys.stderr)
        return 2
    suites = [(_assistant(settings, folder), group) for folder, group in _by_folder(cases).items()]
    runs = [
        merged([run_cases(a, group, cache=_cache(a, args), repetition=i) for a, group in suites])
        for i in range(args.repeat)
    ]
    main = runs[0]
    print(format_table(main))
    if args.repeat > 1:
        print(format_repeats(runs))
    out = args.out or suites[0][0].settings.store / "eval" / "result.json"
    main.save(out)
    print(f"\nresult written to {out}")

    if args.bm25_baseline:
        naive = merged([run_bm25_paragraph(a, group) for a, group in suites])
        print(format_headline(main, naive))
    if args.prompts:
        others = [
            (
                qa.Assistant(
                    a.settings.model_copy(update={"prompts_dir": args.prompts.resolve()}),
                    embedder=a.embedder,
                ),
                group,
            )
            for a, group in suites
        ]
        other = merged([run_cases(a, group, cache=_cache(a, args)) for a, group in others])
        print(format_side_by_side(main, other, args.prompts))

    if args.update_baseline:
        target = args.baseline or EVALS / "baseline.json"
        main.save(target)
        print(f"baseline written to {target}")
        return 0
    if args.baseline:
        baseline = load_baseline(args.baseline)
        regressed = regressions(baseline, main)
        if regressed:
            within = len(regressed) <= args.tolerance
            verdict = f"within the tolerance of {args.tolerance}" if within else "FAIL"
            print(f"\n{verdict}: {len(regressed)} case(s) passed in {args.baseline} and fail now:")
            for cid, why in regressed:
                print(f"  {cid}: {why}")
            return 0 if within else 1
        print(f"\nbaseline gate: no regressions against {args.baseline}")
    return 0


def _by_folder(cases: list[Case]) -> dict[str | None, list[Case]]:
    """The cases by the corpus folder they name (None: the one ``qa eval`` is given)."""
    groups: dict[str | None, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.folder, []).append(case)
    return groups


def _assistant(settings: qa.Settings, folder: str | None) -> qa.Assistant:
    """An assistant over ``folder`` (``settings.corpus`` when None), synced; a folder other
    than the settings' own gets its own default store unless a store was named."""
    if folder is not None and Path(folder) != settings.corpus.resolve():
        named = settings.store != store_for(settings.corpus)
        store = settings.store if named else store_for(Path(folder))
        settings = settings.model_copy(update={"corpus": Path(folder), "store": store})
    assistant = qa.Assistant(settings)
    assistant.sync()
    return assistant


def _cache(assistant: qa.Assistant, args: argparse.Namespace) -> AnswerCache | None:
    return None if args.no_cache else AnswerCache(assistant.settings.store / "eval-cache")


def merged(runs: list[EvalRun]) -> EvalRun:
    """One run of the cases of several corpora (the first one's metadata, every corpus's
    hash)."""
    meta = dict(runs[0].meta)
    if len(runs) > 1:
        meta["corpus_hash"] = [r.meta.get("corpus_hash") for r in runs]
    return EvalRun(meta, [c for r in runs for c in r.cases])


def format_headline(ours: EvalRun, naive: EvalRun) -> str:
    """The headline figures of qa beside the best-BM25-paragraph baseline of the same run."""
    rows = [
        ("facts found", "facts_found"),
        ("right file cited", "right_file"),
        ("right PDF page", "right_page"),
        ("unanswerable questions refused", "unanswerable_refused"),
        ("answerable questions refused", "answerable_refused"),
    ]

    def cell(run: EvalRun, key: str) -> str:
        n, total = run.totals["headline"][key]
        return f"{n}/{total} ({100 * n / total:.0f} %)" if total else "–"

    lines = ["", f"{'':32}  {'qa':>16}  {'best BM25 paragraph':>20}"]
    lines += [f"{label:32}  {cell(ours, k):>16}  {cell(naive, k):>20}" for label, k in rows]
    return "\n".join(lines)


def format_table(result: EvalRun) -> str:
    """One row per case (with what was missed), then the totals."""
    width = max(len(c.id) for c in result.cases)
    lines = [f"{'case'.ljust(width)}  result  notes", "-" * (width + 40)]
    for case in result.cases:
        notes = "; ".join(p for t in case.turns for p in t.problems)
        cited = ",".join(sorted({s[:3] for t in case.turns for s in t.cited}))
        verdict = "pass" if case.passed else "FAIL"
        lines.append(
            f"{case.id.ljust(width)}  {verdict:6}  {notes or ''}{' ' if notes else ''}"
            f"[cited {cited or '-'}]"
        )
    t = result.totals
    lines += [
        "-" * (width + 40),
        f"passed {t['passed']}/{t['cases']} cases; facts {t['facts_found']}/{t['facts_total']}; "
        f"abstention right {t['abstention_correct']}/{t['turns']} turns",
        f"citation precision {t['citation_precision']}, recall {t['citation_recall']}; "
        f"quotes verbatim: {t['quotes_verbatim']}; retrieval hit@k {t['hit_at_k']}, MRR {t['mrr']}",
        f"sentences shown flagged {t['flagged_sentences_shown']}; kept out as unsupported "
        f"{t['unsupported_sentences_kept_out']}",
        "answered by "
        + ", ".join(f"{who} {n}" for who, n in t["answered_by"].items())
        + " (turns)",
        f"answerer {result.meta['answerer']}"
        + (f" ({result.meta['model']})" if result.meta["model"] else "")
        + f", embedder {result.meta['embedder']}",
    ]
    return "\n".join(lines)


def format_repeats(runs: list[EvalRun]) -> str:
    """Per-case pass rate over the repetitions, and how often the verdict flipped."""
    lines = ["", "case pass rates over repeats (flips = verdict changes between runs):"]
    for i, case in enumerate(runs[0].cases):
        verdicts = [r.cases[i].passed for r in runs]
        flips = sum(a != b for a, b in itertools.pairwise(verdicts))
        lines.append(f"  {case.id}: {sum(verdicts)}/{len(verdicts)} passed, {flips} flips")
    return "\n".join(lines)


def format_side_by_side(a: EvalRun, b: EvalRun, b_prompts: Path) -> str:
    """Case verdicts with the current prompts (A) beside another prompts folder (B)."""
    width = max(len(c.id) for c in a.cases)
    lines = [
        "",
        f"A/B: A = {a.meta['prompts']}",
        f"     B = {b_prompts}",
        f"{'case'.ljust(width)}  A     B",
    ]
    for ca, cb in zip(a.cases, b.cases, strict=True):
        mark = "" if ca.passed == cb.passed else ("  <- B better" if cb.passed else "  <- B worse")
        lines.append(
            f"{ca.id.ljust(width)}  {'pass' if ca.passed else 'FAIL'}  "
            f"{'pass' if cb.passed else 'FAIL'}{mark}"
        )
    lines.append(
        f"passed: A {a.totals['passed']}/{len(a.cases)}, B {b.totals['passed']}/{len(b.cases)}"
    )
    lines += ["", f"{'total'.ljust(32)}  {'A':>8}  {'B':>8}"]
    for label, key in _SIDE_BY_SIDE_TOTALS:
        lines.append(f"{label.ljust(32)}  {_total(a, key):>8}  {_total(b, key):>8}")
    return "\n".join(lines)


_SIDE_BY_SIDE_TOTALS = [
    ("cases passed", "passed"),
    ("facts found", "facts_found"),
    ("abstention right (turns)", "abstention_correct"),
    ("citation precision", "citation_precision"),
    ("citation recall", "citation_recall"),
    ("flagged sentences shown", "flagged_sentences_shown"),
    ("unsupported sentences kept out", "unsupported_sentences_kept_out"),
    ("answered by", "answered_by"),
]


def _total(result: EvalRun, key: str) -> str:
    t = result.totals
    whole = {"passed": "cases", "facts_found": "facts_total", "abstention_correct": "turns"}
    if key == "answered_by":
        return ", ".join(f"{who.split(':')[0]} {n}" for who, n in t[key].items())
    return f"{t[key]}/{t[whole[key]]}" if key in whole else str(t[key])
