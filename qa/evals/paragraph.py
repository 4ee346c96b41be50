"""The naive baseline every answer must beat: the single best BM25 paragraph of the corpus.

Each question is answered alone (no conversation) by the one paragraph (a non-empty line of the
text qa read each file as, of at least ``MIN_WORDS`` words) that bm25s ranks first, quoted
whole with its file, offsets and page; it never abstains. Scored by the same rules as qa's
answers (``qa.evals.score``), in the same run.
"""

from __future__ import annotations

import re
from typing import Any

from qa.assistant import Assistant
from qa.evals.cases import Case
from qa.evals.run import CaseResult, EvalRun
from qa.evals.score import Record, score_turn

MIN_WORDS = 3
_PARAGRAPH = re.compile(r"[^\n]+")


def paragraphs(assistant: Assistant) -> list[dict[str, Any]]:
    """Every paragraph of the indexed files: source, text, start, end, page."""
    out = []
    for state in assistant.files():
        doc = assistant.document(state.source)
        for m in _PARAGRAPH.finditer(doc.text):
            if len(m.group().split()) >= MIN_WORDS:
                out.append(
                    {
                        "source": state.source,
                        "quote": m.group(),
                        "start": m.start(),
                        "end": m.end(),
                        "page": doc.page_at(m.start()),
                    }
                )
    return out


def run_bm25_paragraph(assistant: Assistant, cases: list[Case]) -> EvalRun:
    """Answer and score ``cases`` with the best BM25 paragraph."""
    import bm25s

    found = paragraphs(assistant)
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([p["quote"] for p in found], stopwords="en", show_progress=False),
        show_progress=False,
    )
    results = []
    for case in cases:
        scores = []
        for turn in case.turns:
            if not turn.scored:
                continue
            query = bm25s.tokenize([turn.question], stopwords="en", show_progress=False)
            best = found[int(retriever.retrieve(query, k=1, show_progress=False)[0][0][0])]
            record = Record(
                text=best["quote"],
                citations=[{**best, "score": 0.0}],
                abstained=False,
                retrieved=[best["source"]],
                answerer="bm25-paragraph",
            )
            scores.append(score_turn(turn, record, assistant.source_text))
        results.append(CaseResult(case.id, all(s.passed for s in scores), scores))
    return EvalRun({"answerer": "bm25-paragraph", "model": None, "embedder": None}, results)
