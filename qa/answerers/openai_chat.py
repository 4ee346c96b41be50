"""The LLM answerer: any OpenAI-compatible server, streamed, within one deadline per question.

The prompt numbers the retrieved passages; the reply's ``[n]`` markers are verified afterwards
(``qa.cite.verify``), so a wrong or invented citation never reaches the user as a citation.
HTTP calls, retries and the deadline are ``qa.answerers.llm``'s; leaked instructions and
untrusted links are removed with ``qa.injection``. When the LLM fails before writing anything
and ``llm_fallback`` is on, the extractive answerer answers instead, with a notice saying so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from qa.answerers import (
    Answerer,
    Turn,
    answerers,
    create_answerer,
    fold_history,
    support_threshold,
)
from qa.answerers.llm import Budget, LLMClient, LLMError
from qa.cite import keep_supported, verify
from qa.evidence import Evidence
from qa.injection import LeakGuard, StreamFilter, drop_untrusted_links
from qa.prompts import NOT_IN_DOCUMENTS, format_sources, render
from qa.schema import Answer, Passage
from qa.settings import Settings

__all__ = ["LLMError", "OpenAIAnswerer"]

FALLBACK_NOTICE = "The LLM could not answer ({reason}); this answer quotes the documents directly."
CUT_NOTICE = "The LLM stopped before the answer was finished: {reason}."
STRICT_NOTICE = (
    "No sentence of the LLM's answer was supported by the documents; this answer quotes them "
    "directly."
)
STRICT_ABSTAINED_NOTICE = (
    "The LLM found no answer in the sources, but they hold a close match; this answer quotes "
    "them directly."
)
WITHHELD_NOTICE = (
    "Part of the LLM's answer was withheld: it repeated the assistant's instructions, "
    "not the documents."
)


@answerers.register("openai")
class OpenAIAnswerer:
    """Chat completions with the ``answer_system`` / ``answer_user`` prompts."""

    name = "openai"

    def __init__(self, settings: Settings, evidence: Evidence) -> None:
        self.settings = settings
        self.evidence = evidence
        self.llm = LLMClient(settings)
        self._fallback: Answerer | None = None
        self._probe: Callable[[str], Sequence[Passage]] | None = None  # the fallback's to learn
        # A follow-up's condense call and its answer share one budget, found again by the
        # conversation (the history object) and the question.
        self._budgets: dict[tuple[int, str], Budget] = {}
        self._lock = threading.Lock()

    def query_for(self, question: str, history: Sequence[Turn]) -> str:
        """A standalone question condensed by the LLM (``condense`` prompt), in one attempt."""
        if not history:
            return question
        budget = Budget.start(self.settings)
        self._keep_budget(history, question, budget)
        lines = []
        for turn in history[-4:]:
            lines += [f"User: {turn.question}", f"Assistant: {turn.answer.text}"]
        prompt = render(
            "condense", self.settings.prompts_dir, history="\n".join(lines), question=question
        )
        try:
            reply = self.llm.complete([{"role": "user", "content": prompt}], budget, max_attempts=1)
        except LLMError:
            return fold_history(question, history)
        return reply.strip().strip('"') or question

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        budget = self._take_budget(history, question) or Budget.start(self.settings)
        if not passages:
            yield NOT_IN_DOCUMENTS
            yield Answer(question, NOT_IN_DOCUMENTS, [], True, answerer=self.name)
            return
        system = render("answer_system", self.settings.prompts_dir)
        messages = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": render(
                    "answer_user",
                    self.settings.prompts_dir,
                    sources=format_sources(passages),
                    question=question,
                ),
            },
        ]
        sources = [p.chunk.text for p in passages]
        guard = LeakGuard(system, [*sources, question])
        shown = StreamFilter(guard)
        cut: LLMError | None = None
        try:
            if budget.failure is not None and budget.failure.fatal:
                raise budget.failure  # the condense call already hit it: skip a doomed request
            self.llm.check_model(budget)
            for delta in self.llm.stream(messages, budget):
                if safe := shown.feed(delta):
                    yield safe
        except LLMError as exc:
            if shown.text:
                cut = exc
            elif self.settings.llm_fallback:
                yield from self._fall_back(question, passages, history, exc)
                return
            else:
                raise
        if rest := shown.flush():
            yield rest
        threshold = support_threshold(self.settings, self.evidence)
        answer = verify(
            question,
            drop_untrusted_links(shown.text, sources),
            passages,
            self.evidence,
            support_threshold=threshold,
            answerer=f"{self.name}:{self.settings.llm_model}",
            withhold=guard.withholds,
            repair_threshold=threshold if self.settings.citation_repair else None,
        )
        if self.settings.strict:
            # Strict grounding: the documents decide. Unsupported sentences leave the text;
            # when nothing is left, or the model gave up, the extractive answerer (which
            # abstains on its own calibrated evidence threshold) answers instead.
            answer = keep_supported(answer)
            if answer.abstained and cut is None:
                yield from self._strict_fallback(question, passages, history, answer)
                return
        notices = []
        if cut is not None:
            answer.incomplete = True
            notices.append(CUT_NOTICE.format(reason=cut))
        if shown.leaked:
            notices.append(WITHHELD_NOTICE)
        answer.notice = " ".join(notices) or None
        yield answer

    def _fall_back(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn], exc: LLMError
    ) -> Iterator[str | Answer]:
        """The extractive answer for the same passages, its notice naming the LLM's failure."""
        for event in self._extractive().stream(question, passages, history):
            if isinstance(event, Answer):
                event.notice = FALLBACK_NOTICE.format(reason=exc)
            yield event

    def _strict_fallback(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        ungrounded: Answer,
    ) -> Iterator[str | Answer]:
        """Strict grounding left nothing: the extractive answer, with the model's sentences
        listed as unsupported and a notice saying which case it was. When the extractive
        answerer abstains too, the abstention stands with no notice."""
        notice = STRICT_NOTICE if ungrounded.unsupported else STRICT_ABSTAINED_NOTICE
        for event in self._extractive().stream(question, passages, history):
            if isinstance(event, Answer):
                event.unsupported = ungrounded.unsupported
                if not event.abstained:
                    event.notice = notice
            yield event

    def calibrate(self, retrieve: Callable[[str], Sequence[Passage]]) -> None:
        """The store changed: the extractive fallback learns the corpus again (its
        ``calibrate``) before it next answers, and not before, for most questions never
        need it."""
        self._probe = retrieve

    def _extractive(self) -> Answerer:
        """The extractive answerer both fallbacks use, made on first need and calibrated on
        the corpus as it is now."""
        if self._fallback is None:
            self._fallback = create_answerer("extractive", self.settings, self.evidence)
        calibrate = getattr(self._fallback, "calibrate", None)
        if self._probe is not None and calibrate is not None:
            calibrate(self._probe)
            self._probe = None
        return self._fallback

    def _keep_budget(self, history: Sequence[Turn], question: str, budget: Budget) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, b in self._budgets.items() if b.deadline < now]:
                del self._budgets[key]
            self._budgets[(id(history), question)] = budget

    def _take_budget(self, history: Sequence[Turn], question: str) -> Budget | None:
        with self._lock:
            return self._budgets.pop((id(history), question), None)
