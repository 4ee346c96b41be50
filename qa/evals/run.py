"""Run eval cases through the Python API, cache answers, and compare runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import qa
from qa.answerers import Turn, abstain_threshold, support_threshold
from qa.answerers.llm import LLMError
from qa.evals.cases import Case
from qa.evals.score import Record, TurnScore, score_turn
from qa.ingest import UnreadableFile
from qa.prompts import prompt_hashes
from qa.schema import Answer

PACKAGE = Path(__file__).resolve().parent.parent


@dataclass
class CaseResult:
    """A case passes when every scored turn passes."""

    id: str
    passed: bool
    turns: list[TurnScore] = field(default_factory=list)


@dataclass
class EvalRun:
    """One pass over the cases: metadata, per-case verdicts and totals."""

    meta: dict[str, Any]
    cases: list[CaseResult]

    @property
    def totals(self) -> dict[str, Any]:
        turns = [t for c in self.cases for t in c.turns]
        answerable = [t for t in turns if not t.abstain_expected]

        def mean(values: list[float | None]) -> float | None:
            kept = [v for v in values if v is not None]
            return round(sum(kept) / len(kept), 4) if kept else None

        def share(flags: list[bool | None]) -> list[int]:
            kept = [f for f in flags if f is not None]
            return [sum(kept), len(kept)]

        unanswerable = [t for t in turns if t.abstain_expected]
        return {
            "cases": len(self.cases),
            "passed": sum(c.passed for c in self.cases),
            # The headline figures (BENCHMARKS.md), each [count, out of]:
            "headline": {
                "facts_found": [
                    sum(len(t.found) for t in answerable),
                    sum(len(t.found) + len(t.missed) for t in answerable),
                ],
                "right_file": share([t.source_right for t in answerable]),
                "right_page": share([t.page_right for t in answerable]),
                "unanswerable_refused": share([t.abstained for t in unanswerable]),
                "answerable_refused": share([t.abstained for t in answerable]),
            },
            "turns": len(turns),
            "facts_found": sum(len(t.found) for t in turns),
            "facts_total": sum(len(t.found) + len(t.missed) for t in turns),
            "citation_precision": mean([t.citation_precision for t in answerable]),
            "citation_recall": mean([t.citation_recall for t in answerable]),
            "quotes_verbatim": all(t.quotes_verbatim for t in turns),
            "abstention_correct": sum(t.abstained == t.abstain_expected for t in turns),
            "hit_at_k": mean([t.hit_at_k for t in answerable]),
            "mrr": mean([t.mrr for t in answerable]),
            "flagged_sentences_shown": sum(t.flagged for t in turns),
            "unsupported_sentences_kept_out": sum(t.unsupported for t in turns),
            "answered_by": dict(Counter(t.answerer or "unknown" for t in turns).most_common()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "totals": self.totals,
            "cases": [asdict(c) for c in self.cases],
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")


class AnswerCache:
    """Answers on disk keyed by everything that determines them, so re-scoring is free."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> Record | None:
        path = self.folder / f"{key}.json"
        if not path.is_file():
            return None
        return Record(**json.loads(path.read_text(encoding="utf-8")))

    def put(self, key: str, record: Record) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f"{key}.tmp"
        tmp.write_text(json.dumps(record.to_dict(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.folder / f"{key}.json")


def describe(assistant: qa.Assistant) -> dict[str, Any]:
    """What determines the answers: prompts, answerer/model, embedder, corpus, code."""
    s = assistant.settings
    answerer = assistant.answerer.name
    corpus = hashlib.sha256(
        "\n".join(f"{f.source}\t{f.file_hash}" for f in assistant.files()).encode()
    ).hexdigest()
    code = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(PACKAGE.rglob("*.py")))
    ).hexdigest()
    return {
        "answerer": answerer,
        "model": s.llm_model if answerer == "openai" else None,
        "embedder": assistant.embedder.name,
        "prompts": prompt_hashes(s.prompts_dir),
        "corpus_hash": corpus,
        "code_hash": code,
        "git_commit": _git_commit(),
        "settings": {
            "citation_repair": s.citation_repair,
            "strict_grounding": s.strict,
            "top_k": s.top_k,
            "chunk_size": s.chunk_size,
            "chunk_overlap": s.chunk_overlap,
            "abstain_threshold": abstain_threshold(s, assistant.evidence),
            "support_threshold": support_threshold(s, assistant.evidence),
        },
    }


def run_cases(
    assistant: qa.Assistant,
    cases: list[Case],
    *,
    cache: AnswerCache | None = None,
    repetition: int = 0,
) -> EvalRun:
    """Answer every case (turn by turn, through ``Chat`` history) and score it."""
    meta = describe(assistant)
    key_base = {k: meta[k] for k in ("answerer", "model", "embedder", "prompts", "corpus_hash")}
    key_base |= {"code": meta["code_hash"], "settings": meta["settings"], "rep": repetition}
    results = []

    def source_text(source: str) -> str | None:
        try:
            return assistant.source_text(source)
        except (KeyError, UnreadableFile, OSError):
            return None

    for case in cases:
        history: list[Turn] = []
        scores = []
        for turn in case.turns:
            key = _key(key_base, [t.question for t in history] + [turn.question])
            record = cache.get(key) if cache else None
            failure = None
            if record is None:
                try:
                    answer = assistant.ask(turn.question, history)
                except LLMError as exc:  # a failed turn, never cached; the run goes on
                    failure = f"LLM failed: {exc}"
                    answer = Answer(turn.question, "", [], False, notice=failure, answerer="failed")
                record = _record(answer)
                if cache and failure is None:
                    cache.put(key, record)
            history.append(Turn(turn.question, _as_answer(turn.question, record)))
            if turn.scored:
                score = score_turn(turn, record, source_text)
                if failure is not None:
                    score.problems.insert(0, failure)
                    score.passed = False
                scores.append(score)
        results.append(CaseResult(case.id, all(s.passed for s in scores), scores))
    return EvalRun(meta, results)


def regressions(baseline: dict[str, Any], run: EvalRun) -> list[tuple[str, str]]:
    """Cases that passed in ``baseline`` and fail now, with what changed."""
    before = {c["id"]: c for c in baseline.get("cases", [])}
    out = []
    for case in run.cases:
        old = before.get(case.id)
        if old and old["passed"] and not case.passed:
            why = "; ".join(p for t in case.turns for p in t.problems) or "failed"
            out.append((case.id, why))
    missing = sorted(
        cid for cid, c in before.items() if c["passed"] and cid not in {x.id for x in run.cases}
    )
    out += [(cid, "case no longer in the suite") for cid in missing]
    return out


def _key(base: dict[str, Any], questions: list[str]) -> str:
    blob = json.dumps({**base, "questions": questions}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def _record(answer: Answer) -> Record:
    return Record(
        text=answer.text,
        citations=[c.to_dict() for c in answer.citations],
        abstained=answer.abstained,
        retrieved=[p.chunk.source for p in answer.passages],
        flagged=len(answer.flagged),
        unsupported=len(answer.unsupported),
        answerer=answer.answerer,
    )


def _as_answer(question: str, record: Record) -> Answer:
    return Answer(question, record.text, [], record.abstained)


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PACKAGE, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"
