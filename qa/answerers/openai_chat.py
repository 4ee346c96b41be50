"""The LLM answerer: any OpenAI-compatible server through the ``openai`` SDK, streamed.

The prompt numbers the retrieved passages; the reply's ``[n]`` markers are verified afterwards
(``qa.cite.verify``), so a wrong or invented citation never reaches the user as a citation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from qa.answerers import Turn, answerers, fold_history
from qa.cite import verify
from qa.evidence import Evidence
from qa.prompts import NOT_IN_DOCUMENTS, format_sources, render
from qa.schema import Answer, Passage
from qa.settings import Settings


class LLMError(RuntimeError):
    """The LLM server could not produce an answer; the message is meant for the user."""


@answerers.register("openai")
class OpenAIAnswerer:
    """Chat completions with the ``answer_system`` / ``answer_user`` prompts."""

    name = "openai"

    def __init__(self, settings: Settings, evidence: Evidence) -> None:
        import openai

        self.settings = settings
        self.evidence = evidence
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        self.client = openai.OpenAI(
            api_key=key,
            base_url=settings.llm_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    def query_for(self, question: str, history: Sequence[Turn]) -> str:
        """A standalone question condensed by the LLM (``condense`` prompt)."""
        if not history:
            return question
        lines = []
        for turn in history[-4:]:
            lines += [f"User: {turn.question}", f"Assistant: {turn.answer.text}"]
        prompt = render(
            "condense", self.settings.prompts_dir, history="\n".join(lines), question=question
        )
        try:
            reply = self._complete([{"role": "user", "content": prompt}])
        except LLMError:
            return fold_history(question, history)
        return reply.strip().strip('"') or question

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        if not passages:
            yield NOT_IN_DOCUMENTS
            yield Answer(question, NOT_IN_DOCUMENTS, [], True, answerer=self.name)
            return
        messages = [
            {"role": "system", "content": render("answer_system", self.settings.prompts_dir)},
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
        parts: list[str] = []
        incomplete = False
        try:
            for delta in self._stream(messages):
                parts.append(delta)
                yield delta
        except LLMError:
            if not parts:
                raise
            incomplete = True
        answer = verify(
            question,
            "".join(parts),
            passages,
            self.evidence,
            support_threshold=self.settings.support_threshold,
            answerer=f"{self.name}:{self.settings.llm_model}",
        )
        answer.incomplete = incomplete
        yield answer

    def _stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import openai

        try:
            stream: Any = self.client.chat.completions.create(
                model=self.settings.llm_model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.settings.llm_temperature,
                stream=True,
            )
            for event in stream:
                if event.choices and event.choices[0].delta.content:
                    yield event.choices[0].delta.content
        except openai.APIError as exc:
            raise LLMError(_describe(exc)) from exc

    def _complete(self, messages: list[dict[str, str]]) -> str:
        import openai

        try:
            reply: Any = self.client.chat.completions.create(
                model=self.settings.llm_model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.settings.llm_temperature,
            )
        except openai.APIError as exc:
            raise LLMError(_describe(exc)) from exc
        if not reply.choices:
            raise LLMError("the LLM server returned no answer")
        return str(reply.choices[0].message.content or "")


def _describe(exc: Exception) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "the LLM server did not answer in time"
    if isinstance(exc, openai.RateLimitError):
        return "the LLM server is rate-limiting requests; try again shortly"
    if isinstance(exc, openai.NotFoundError):
        return f"the LLM server does not know this model: {exc.message}"
    if isinstance(exc, openai.APIConnectionError):
        return "could not reach the LLM server"
    if isinstance(exc, openai.APIStatusError):
        return f"the LLM server failed (HTTP {exc.status_code}): {exc.message}"
    return f"LLM request failed: {exc}"
