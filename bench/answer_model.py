"""Fit the extractive answerer's two logistic models on tuning data, report them held out.

    python bench/answer_model.py collect --set squad20_dev --limit 1200   # features → .cache
    python bench/answer_model.py collect --set xquad --limit 400
    python bench/answer_model.py collect --set piaf --limit 400
    python bench/answer_model.py collect --cases evals/realdocs/dev.yaml
    python bench/answer_model.py collect --cases evals/cases.yaml
    python bench/answer_model.py fit                                      # weights, AUROCs

``collect`` runs each question through retrieval and the answerer's scoring and keeps, per
candidate sentence, the features of ``qa.answerers.extractive.FEATURES`` and whether the
sentence holds a gold answer (SQuAD-style sets: an answer string; eval cases: a phrasing of
every fact... of any fact), plus the question's label (answerable or not). ``fit`` fits the
sentence model on every candidate of the answerable questions (each question weighted
equally), then the confidence model on ``CONFIDENCE_FEATURES`` of the span each question gets
(label: answerable and the span holds the answer), on the tuning half of every set; it prints
both models, as the tuples ``qa/embed/e5.py`` keeps, and the held-out half's AUROC (answered
right vs not) per set. Articles (SQuAD, XQuAD, PIAF) or cases are split in halves, seeded.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CACHE, DATA, RESULTS

SETS = {
    "squad20_dev": ("squad20_dev/docs", "squad20_dev/questions.jsonl"),
    "squad11_dev": ("squad11_dev/docs", "squad11_dev/questions.jsonl"),
    "xquad": ("xquad/docs_en", "xquad/questions.es_q_en_docs.jsonl"),
    "xquad_de": ("xquad/docs_en", "xquad/questions.de_q_en_docs.jsonl"),
    "piaf": ("piaf/docs", "piaf/questions.min5words.jsonl"),
}
STORES = {"xquad_de": "xquad"}
FEATURES_DIR = CACHE / "answer-features"


def _assistant(folder: Path, store: Path) -> Any:
    import qa

    assistant = qa.Assistant.from_folder(folder, store=store, progress=True, abstain_threshold=0.0)
    assistant.calibrate()  # the corpus's probe null, as answering does first
    return assistant


def _holds(text: str, answers: list[str]) -> bool:
    from qa.text import fold

    folded = fold(text)
    return any(fold(a) in folded for a in answers if a.strip())


def _record(assistant: Any, question: str, query: str, answers: list[str]) -> dict[str, Any]:
    """The features of every candidate of ``question`` and the span the answerer chooses."""
    from qa.answerers.extractive import ExtractiveAnswerer

    answerer = assistant.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    passages = assistant.retrieve(query)
    scored = answerer.score(question, passages)
    out: dict[str, Any] = {
        "question": question,
        "answerable": bool(answers),
        "features": scored.features.round(5).tolist(),
        "gold": [_holds(s.text, answers) for s in scored.spans],
        "chunks": [s.chunk.id for s in scored.spans],
        "sources": [s.chunk.source for s in scored.spans],
        "texts": [s.text for s in scored.spans],
    }
    choices = []
    for choice in answerer.choices(scored):
        text = " ".join(s.text for s in scored.spans[choice.first : choice.last + 1])
        choices.append(
            {
                "features": list(choice.features),
                "gold": _holds(text, answers),
                "words": len(text.split()),
                "source": scored.spans[choice.best].chunk.source,
                "best": choice.best,
            }
        )
    out["choices"] = choices
    return out


def collect(args: argparse.Namespace) -> None:
    FEATURES_DIR.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    if args.cases:
        from qa.evals.cases import load_cases

        cases = load_cases(args.cases)
        folder = Path(cases[0].folder) if cases[0].folder else Path("seeds")
        store = CACHE / "answer-stores" / folder.name
        assistant = _assistant(folder, store)
        for case in cases:
            history: list[Any] = []
            for turn in case.turns:
                answers = [p for fact in turn.facts for p in fact]
                if turn.scored:
                    query = assistant.answerer.query_for(turn.question, history)
                    row = _record(assistant, turn.question, query, answers)
                    row["group"] = case.id
                    row["abstain"] = turn.abstain
                    rows.append(row)
                history.append(_turn(assistant, turn.question, history))
        name = f"cases-{args.cases.stem}-{folder.name}"
    else:
        docs, questions = SETS[args.set]
        assistant = _assistant(DATA / docs, CACHE / STORES.get(args.set, args.set) / "ours")
        data = [json.loads(line) for line in (DATA / questions).open(encoding="utf-8")]
        if args.limit and args.limit < len(data):
            data = random.Random(args.seed).sample(data, args.limit)
        for n, item in enumerate(data):
            row = _record(assistant, item["question"], item["question"], item["answers"])
            row["group"] = Path(item["source_file"]).name
            row["abstain"] = not item.get("answerable", True)
            rows.append(row)
            if n % 100 == 0:
                print(f"{args.set}: {n}/{len(data)}", file=sys.stderr)
        name = args.set
    from qa.answerers.extractive import PROBES, probe_questions

    for probe in probe_questions()[:PROBES]:
        row = _record(assistant, probe, probe, [])
        row["group"] = "probe"
        row["abstain"] = True
        row["probe"] = True
        rows.append(row)
    out = FEATURES_DIR / f"{name}.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} questions written to {out}")


def _turn(assistant: Any, question: str, history: list[Any]) -> Any:
    from qa.answerers import Turn

    return Turn(question, assistant.ask(question, history))


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Weighted logistic regression by Newton's method; returns (weights..., bias)."""
    xb = np.column_stack([x, np.ones(len(x))])
    beta = np.zeros(xb.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(xb @ beta)))
        grad = xb.T @ (w * (p - y)) + l2 * np.r_[beta[:-1], 0.0]
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def ranking(
    groups: list[tuple[np.ndarray, np.ndarray]],
    weights: list[float],
    l2: float = 1e-2,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Conditional logit (a softmax over each question's candidates) by damped Newton: the
    weights that make the gold candidates likeliest within their question. Per-question
    constants (a bias, a feature every candidate of a question shares) do not enter, so a
    set whose candidates are all in another language teaches nothing about that language's
    offset. ``groups``: (features, gold flags) per question; L2 pulls towards ``prior``."""
    dim = groups[0][0].shape[1]
    prior = np.zeros(dim) if prior is None else prior

    def loss(beta: np.ndarray) -> float:
        total = 0.5 * l2 * float((beta - prior) @ (beta - prior))
        for (x, gold), w in zip(groups, weights, strict=True):
            z = x @ beta
            top = z.max()
            total -= w * (np.log(np.exp(z - top)[gold > 0].sum()) - np.log(np.exp(z - top).sum()))
        return total

    beta = prior.copy()
    current = loss(beta)
    for _ in range(100):
        grad = l2 * (beta - prior)
        hess = l2 * np.eye(dim)
        for (x, gold), w in zip(groups, weights, strict=True):
            z = x @ beta
            p = np.exp(z - z.max())
            p /= p.sum()
            q = p * gold
            q /= q.sum()
            mean_p, mean_q = p @ x, q @ x
            grad += w * (mean_p - mean_q)
            cov_p = (x * p[:, None]).T @ x - np.outer(mean_p, mean_p)
            cov_q = (x * q[:, None]).T @ x - np.outer(mean_q, mean_q)
            hess += w * (cov_p - cov_q)
        # The gold part's covariance can make the Hessian indefinite: keep the step a descent.
        values, vectors = np.linalg.eigh(hess)
        step = vectors @ ((vectors.T @ grad) / np.maximum(values, l2))
        size = 1.0
        while size > 1e-6:
            trial = beta - size * step
            value = loss(trial)
            if value < current:
                break
            size /= 2
        if size <= 1e-6 or current - value < 1e-9:
            break
        beta, current = trial, value
    return beta


def _normalised(weights: list[float], total: float = 500.0) -> np.ndarray:
    """The weights scaled to sum to ``total`` (the L2 penalty then weighs the same against
    the data whatever the sets' sizes; 500 is about the tuning questions' count)."""
    w = np.array(weights)
    return w / w.sum() * total


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def load(names: list[str] | None) -> dict[str, list[dict[str, Any]]]:
    files = sorted(FEATURES_DIR.glob("*.jsonl"))
    return {
        f.stem: [json.loads(line) for line in f.open(encoding="utf-8")]
        for f in files
        if not names or f.stem in names
    }


def halves(rows: list[dict[str, Any]], seed: int) -> tuple[list[Any], list[Any]]:
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    tuning = set(groups[::2])
    return [r for r in rows if r["group"] in tuning], [r for r in rows if r["group"] not in tuning]


def fit(args: argparse.Namespace) -> None:
    from qa.answerers import extractive

    data = load(args.only)
    split = {name: halves(rows, args.seed) for name, rows in data.items()}
    # Each set weighs as the square root of its question count: the small hand-written sets
    # count, without one set's few questions deciding alone.
    for name, (tuning, _) in split.items():
        args.weight.setdefault(name, 1.0 / max(1.0, np.sqrt(len(tuning))))
    # 1. The sentence model: a ranking of each answerable tuning question's candidates (a
    # conditional logit: the gold ones likeliest among their question's), so that what every
    # candidate of a question shares (a set all in another language) teaches nothing.
    groups, ws = [], []
    for name, (tuning, _) in split.items():
        for r in tuning:
            if r["abstain"] or not any(r["gold"]) or not r["features"]:
                continue
            groups.append((np.array(r["features"]), np.array(r["gold"], dtype=float)))
            ws.append(args.weight.get(name, 1.0))
    weights = _normalised(ws, total=len(ws))
    beta = np.r_[ranking(groups, list(weights), l2=args.l2), 0.0]
    print(
        "sentence model:",
        dict(zip(extractive.FEATURES, beta[:-1].round(3), strict=True)),
    )
    for name, (_, held) in split.items():
        answerable = [r for r in held if not r["abstain"] and any(r["gold"]) and r["features"]]
        right = sum(
            r["gold"][int(np.argmax(np.array(r["features"]) @ beta[:-1]))] for r in answerable
        )
        print(f"  {name}: held-out best sentence holds the answer {right}/{len(answerable)}")
    # 2. The confidence model, on the span each question gets (its likeliest sentence's).
    # A set without unanswerable questions of its own (XQuAD) is left out: it would teach
    # only that its questions, in another language than its pages, are all answerable.
    fitted = {
        name: halves
        for name, halves in split.items()
        if args.every_set or any(r["abstain"] and not r.get("probe") for r in data[name])
    }
    xs, ys, ws = [], [], []
    for name, (tuning, _) in fitted.items():
        for r in tuning:
            if r["choices"]:
                c = _answer(r)
                xs.append(c["features"])
                ys.append(float(c["gold"] and not r["abstain"]))
                ws.append(args.weight.get(name, 1.0))
    gamma = _signed_fit(np.array(xs), np.array(ys), _normalised(ws), set(args.fixed))
    print(
        "confidence model:",
        dict(zip(extractive.CONFIDENCE_FEATURES, gamma[:-1].round(3), strict=True)),
        "bias",
        round(float(gamma[-1]), 3),
    )
    threshold = _threshold(fitted, gamma, args.answered)
    print(
        f"threshold answering {args.answered:.0%} of the answerable tuning questions:",
        round(threshold, 4),
    )
    report: dict[str, Any] = {
        "threshold": round(threshold, 4),
        "sentence": [round(float(b), 4) for b in beta],
        "confidence": [round(float(g), 4) for g in gamma],
        "sets": {},
    }
    for name, (_, held) in split.items():
        report["sets"][name] = _held_out(held, gamma, threshold)
        print(name, report["sets"][name])
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


# The direction each confidence feature may push (+1 up, -1 down, 0 either): what a reader
# expects, and what a set's quirks must not reverse (SQuAD 2.0's unanswerable questions
# reuse their paragraph's words, so there "terms missing" would look like a good sign).
SIGNS = {"best": 1, "lead": 1, "kind": 1, "missing": -1, "foreign": 0, "entity": -1,
         "negation": -1, "off": -1, "unknown": -1}  # fmt: skip


def _signed_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, fixed: set[str]) -> np.ndarray:
    """The logistic fit of the confidence model with each weight of the sign ``SIGNS``
    allows: a feature whose weight comes out the other way is held at 0 and the rest
    refitted (features in ``fixed`` are held at 0 from the start)."""
    from qa.answerers.extractive import CONFIDENCE_FEATURES as names

    keep = [i for i, f in enumerate(names) if f not in fixed]
    while True:
        fitted = logistic(x[:, keep], y, w)
        wrong = [i for i, b in zip(keep, fitted[:-1], strict=True) if SIGNS[names[i]] * b < 0]
        if not wrong:
            break
        keep = [i for i in keep if i not in wrong]
    gamma = np.zeros(len(names) + 1)
    gamma[[*keep, -1]] = fitted
    return gamma


def _answer(row: dict[str, Any]) -> dict[str, Any]:
    """The span the answerer gives: the one around the likeliest sentence."""
    return max(row["choices"], key=lambda c: c["features"][0])


def _confidence(gamma: np.ndarray, choice: dict[str, Any]) -> float:
    z = np.dot(gamma[:-1], choice["features"]) + gamma[-1]
    return float(1.0 / (1.0 + np.exp(-z)))


def _threshold(split: dict[str, Any], gamma: np.ndarray, answered: float) -> float:
    """The confidence below which the given share of the answerable tuning questions of the
    sets the confidence model was fitted on is still answered (each set weighed alike)."""
    values, weights = [], []
    for tuning, _ in split.values():
        best = [_confidence(gamma, _answer(r)) for r in tuning if not r["abstain"] and r["choices"]]
        values += best
        weights += [1.0 / len(best)] * len(best)
    order = np.argsort(values)
    cumulative = np.cumsum(np.array(weights)[order]) / sum(weights)
    return float(np.array(values)[order][np.searchsorted(cumulative, 1.0 - answered)])


def _held_out(rows: list[dict[str, Any]], gamma: np.ndarray, threshold: float) -> dict[str, Any]:
    """On held-out questions, with the span of highest confidence: how often it holds the
    answer (answerable ones), and the AUROC of its confidence for answerable vs unanswerable
    and for right (answerable, span holds the answer) vs not."""

    def conf(c: dict[str, Any]) -> float:
        return _confidence(gamma, c)

    chosen = []
    for r in rows:
        if r["choices"] and not r.get("probe"):
            best = _answer(r)
            chosen.append((r["abstain"], best["gold"], conf(best)))
    answerable = [(g, c) for a, g, c in chosen if not a]
    pos = np.array([c for _, c in answerable])
    neg = np.array([c for a, _, c in chosen if a])
    right = np.array([c for g, c in answerable if g])
    wrong = np.array([c for g, c in answerable if not g] + list(neg))
    return {
        "questions": len(rows),
        "span_holds_gold": round(float(np.mean([g for g, _ in answerable])), 4)
        if answerable
        else None,
        "auroc_answerable_vs_unanswerable": round(roc_auc(pos, neg), 4),
        "auroc_right_vs_not": round(roc_auc(right, wrong), 4),
        "answerable_answered": round(float((pos >= threshold).mean()), 4) if len(pos) else None,
        "unanswerable_abstained": round(float((neg < threshold).mean()), 4) if len(neg) else None,
        "answered_right": round(float(np.mean([g and c >= threshold for g, c in answerable])), 4)
        if answerable
        else None,
    }


def shift(args: argparse.Namespace) -> None:
    """How much lower a question's cosine is with a sentence in another language than with
    the same sentence in its own: XQuAD's parallel articles (English, Spanish, German), the
    sentence holding the answer in each, for questions in each language."""
    from qa.embed import DEFAULT_EMBEDDER, create_embedder
    from qa.text import fold, sentence_spans

    embedder = create_embedder(DEFAULT_EMBEDDER)
    folder = DATA / "xquad"
    rows = {
        code: [json.loads(line) for line in (folder / f"questions.{code}.jsonl").open()]
        for code in ("en", "es", "de")
    }
    pick = random.Random(args.seed).sample(range(len(rows["en"])), args.limit)

    def sentence(code: str, row: dict[str, Any]) -> str | None:
        text = (folder / f"docs_{code}" / Path(row["source_file"]).name).read_text()
        paragraph = [p for p in text.split("\n\n") if p.strip()][row["paragraph_index"]]
        for s, e in sentence_spans(paragraph, lang=code):
            if any(fold(a) in fold(paragraph[s:e]) for a in row["answers"]):
                return paragraph[s:e]
        return None

    drops: dict[str, list[float]] = {}
    for i in pick:
        found = {code: sentence(code, rows[code][i]) for code in rows}
        if any(v is None for v in found.values()):
            continue
        texts = [found[c] for c in rows]
        docs = embedder.embed_documents(texts)
        for q_code in rows:
            query = embedder.embed_query([rows[q_code][i]["question"]])[0]
            cos = dict(zip(rows, docs @ query, strict=True))
            for d_code in rows:
                if d_code != q_code:
                    drops.setdefault(f"{q_code}->{d_code}", []).append(
                        float(cos[q_code] - cos[d_code])
                    )
    summary = {k: round(float(np.mean(v)), 4) for k, v in drops.items()}
    summary["all"] = round(float(np.mean([x for v in drops.values() for x in v])), 4)
    summary["questions"] = len(next(iter(drops.values())))
    print(json.dumps(summary, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--set", choices=sorted(SETS))
    c.add_argument("--cases", type=Path)
    c.add_argument("--limit", type=int)
    c.add_argument("--seed", type=int, default=7)
    d = sub.add_parser("shift")
    d.add_argument("--limit", type=int, default=200)
    d.add_argument("--seed", type=int, default=7)
    f = sub.add_parser("fit")
    f.add_argument("--only", nargs="*")
    f.add_argument("--seed", type=int, default=13)
    f.add_argument("--out", type=Path, default=RESULTS / "answer-model.json")
    f.add_argument("--answered", type=float, default=0.9, help="share of answerable answered")
    f.add_argument("--l2", type=float, default=0.1, help="ranking model's L2 penalty")
    f.add_argument("--every-set", action="store_true", help="fit confidence on every set")
    f.add_argument("--fixed", nargs="*", default=[], help="confidence features held at weight 0")
    args = parser.parse_args()
    args.weight = {}
    {"collect": collect, "fit": fit, "shift": shift}[args.command](args)


if __name__ == "__main__":
    main()
