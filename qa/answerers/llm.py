"""Calls to an OpenAI-compatible server, bounded by one deadline and at most three attempts.

The ``openai`` SDK's own retries are switched off (``max_retries=0``): this module is the only
place that retries, so retry layers can never multiply. Every question gets one ``Budget`` (a
deadline and an attempt count) shared by all of its calls, Retry-After waits included. Each
attempt runs in a worker thread and the caller waits on it for at most the time left, so a
server that hangs, or stalls halfway through a stream, still yields a clear ``LLMError`` on time.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from qa.settings import Settings

MAX_ATTEMPTS = 3  # HTTP requests per question, whatever llm_max_retries says
BACKOFF_S = (0.25, 0.5)  # wait before the 2nd and 3rd attempt (unless Retry-After says more)
_RETRY_STATUS = {408, 409, 429}  # plus every 5xx

Messages = list[dict[str, str]]


class LLMError(RuntimeError):
    """The LLM server could not produce an answer; the message is meant for the user."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable  # another attempt may succeed (5xx, 429, timeouts, resets)
        self.retry_after = retry_after  # seconds the server asked to wait
        self.fatal = fatal  # the server refuses such requests (bad model, key, request)


@dataclass
class Budget:
    """What one question may spend on the LLM: a monotonic deadline and HTTP attempts."""

    deadline: float
    attempts: int  # HTTP requests still allowed
    seconds: float  # the configured deadline, for messages
    used: int = 0  # HTTP requests made so far
    failure: LLMError | None = None  # the last failure, so a later call can skip a doomed try

    @classmethod
    def start(cls, settings: Settings) -> Budget:
        """A fresh budget: ``llm_deadline_s`` from now, ``MAX_ATTEMPTS`` requests."""
        seconds = settings.llm_deadline_s
        return cls(time.monotonic() + seconds, MAX_ATTEMPTS, seconds)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def timed_out(self, partial: bool = False) -> LLMError:
        """The error for a deadline that passed (``partial``: after some text arrived)."""
        if partial:
            return LLMError(f"the LLM server did not finish within {self.seconds:g} s")
        return LLMError(f"the LLM server did not answer within {self.seconds:g} s")


class LLMClient:
    """Chat completions (streamed or not) with one retry policy and a hard deadline."""

    def __init__(self, settings: Settings) -> None:
        import openai

        self.settings = settings
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        self.client = openai.OpenAI(
            api_key=key,
            base_url=settings.llm_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=0,  # retries happen here, within the budget, nowhere else
        )
        self._model_checked = False

    def check_model(self, budget: Budget) -> None:
        """Once per client: a server that lists its models (``/models``) and not the configured
        one is an error, not a silent answer from another model (llama.cpp's server answers
        to any name). A server that lists nothing, or cannot list, is not checked."""
        if self._model_checked:
            return
        try:
            listing = self.client.models.list(timeout=min(5.0, budget.remaining() + 0.1))
            served = [m.id for m in listing.data]
        except Exception:  # listing is optional for OpenAI-compatible servers
            served = []
        if served and self.settings.llm_model not in served:  # not marked checked: ask again
            shown = ", ".join(repr(m) for m in served[:5]) + (" …" if len(served) > 5 else "")
            raise LLMError(
                f"the LLM server does not serve the model {self.settings.llm_model!r} "
                f"(it serves {shown}); set QA_LLM_MODEL",
                fatal=True,
            )
        self._model_checked = True

    def stream(self, messages: Messages, budget: Budget) -> Iterator[str]:
        """Text deltas of one completion; a failed attempt is retried only before any text."""
        tries = 0
        while True:
            tries += 1
            started = False
            try:
                for delta in self._attempt(messages, budget, stream=True):
                    started = True
                    yield delta
                if not started:
                    raise LLMError("the LLM server returned an empty answer")
                return
            except LLMError as exc:
                budget.failure = exc
                if started or not self._retry(exc, budget, tries, self._max_tries()):
                    error = _gave_up(exc, budget)
                    if error is exc:
                        raise
                    raise error from exc

    def complete(self, messages: Messages, budget: Budget, *, max_attempts: int = 3) -> str:
        """The text of one non-streamed completion; ``max_attempts`` caps this call's tries."""
        tries = 0
        while True:
            tries += 1
            try:
                text = "".join(self._attempt(messages, budget, stream=False))
                if not text.strip():
                    raise LLMError("the LLM server returned an empty answer")
                return text
            except LLMError as exc:
                budget.failure = exc
                if not self._retry(exc, budget, tries, min(max_attempts, self._max_tries())):
                    error = _gave_up(exc, budget)
                    if error is exc:
                        raise
                    raise error from exc

    def _max_tries(self) -> int:
        return 1 + self.settings.llm_max_retries

    def _retry(self, exc: LLMError, budget: Budget, tries: int, max_tries: int) -> bool:
        """Wait before another try; False when it is not worth one or none is left."""
        if not exc.retryable or tries >= max_tries or budget.attempts <= 0:
            return False
        wait = exc.retry_after
        if wait is None:
            wait = BACKOFF_S[min(max(budget.used - 1, 0), len(BACKOFF_S) - 1)]
        if wait >= budget.remaining():
            return False
        time.sleep(wait)
        return True

    def _attempt(self, messages: Messages, budget: Budget, *, stream: bool) -> Iterator[str]:
        """One HTTP request; raises ``LLMError`` for every failure, on time."""
        if budget.attempts <= 0 or budget.remaining() <= 0:
            raise budget.failure or budget.timed_out()
        budget.attempts -= 1
        budget.used += 1
        # A second past the deadline: when the deadline is what ends a hanging attempt, the
        # caller's wait ends first and reports it as such.
        timeout = min(self.settings.llm_timeout_s, budget.remaining() + 1.0)
        request: dict[str, Any] = {
            "model": self.settings.llm_model,
            "messages": messages,
            "temperature": self.settings.llm_temperature,
            "timeout": timeout,
        }

        def produce() -> Generator[str, None, None]:
            if not stream:
                reply: Any = self.client.chat.completions.create(**request)
                if not reply.choices:
                    raise LLMError("the LLM server returned an empty answer")
                yield str(reply.choices[0].message.content or "")
                return
            events: Any = self.client.chat.completions.create(**request, stream=True)
            with contextlib.closing(events):
                kind = events.response.headers.get("content-type", "")
                if not kind.startswith("text/event-stream"):
                    yield _whole_reply(events.response.read())
                    return
                for event in events:
                    if event.choices and event.choices[0].delta.content:
                        yield event.choices[0].delta.content

        yield from _bounded(produce, budget, self.settings.llm_model)


def _bounded(
    produce: Callable[[], Generator[str, None, None]], budget: Budget, model: str
) -> Iterator[str]:
    """Run ``produce`` in a worker thread; wait for each item no longer than the budget allows."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancel = threading.Event()

    def work() -> None:
        try:
            with contextlib.closing(produce()) as gen:
                for item in gen:
                    if cancel.is_set():
                        return
                    items.put(("item", item))
            items.put(("end", None))
        except BaseException as exc:  # handed to the waiting caller
            items.put(("error", exc))

    threading.Thread(target=work, name="qa-llm", daemon=True).start()
    got_text = False
    try:
        while True:
            try:
                kind, value = items.get(timeout=budget.remaining())
            except queue.Empty:
                raise budget.timed_out(partial=got_text) from None
            if kind == "end":
                return
            if kind == "error":
                if isinstance(value, LLMError):
                    raise value
                raise describe(value, model) from value
            got_text = True
            yield value
    finally:
        cancel.set()  # the worker stops at its next event; its own timeout bounds the rest


def _gave_up(exc: LLMError, budget: Budget) -> LLMError:
    """The last failure, saying how many attempts were made when there were several."""
    if budget.used < 2:
        return exc
    return LLMError(f"{exc} (gave up after {budget.used} attempts)", fatal=exc.fatal)


def _whole_reply(body: bytes) -> str:
    """A server that ignored ``stream=True``: a complete JSON reply, or a clear error."""
    try:
        data = json.loads(body)
        return str(data["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError("the LLM server sent a malformed reply (not a chat completion)") from None


def describe(exc: BaseException, model: str) -> LLMError:
    """A user-facing ``LLMError`` for any failure of a request, with its retry policy."""
    import openai

    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMError("the LLM server did not answer in time", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(
            "could not reach the LLM server, or it closed the connection", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in _RETRY_STATUS or status >= 500
        after = retry_after(exc.response.headers) if retryable else None
        if isinstance(exc, openai.RateLimitError):
            when = f" in {after:g} s" if after is not None else " shortly"
            msg = f"the LLM server is rate-limiting requests (HTTP 429); try again{when}"
        elif isinstance(exc, openai.NotFoundError):
            msg = f"the LLM server does not know the model {model!r} (HTTP 404): {_said(exc)}"
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = f"the LLM server refused the API key (HTTP {status})"
        else:
            msg = f"the LLM server failed (HTTP {status}): {_said(exc)}"
        return LLMError(msg, retryable=retryable, retry_after=after, fatal=not retryable)
    if isinstance(exc, ValueError):  # json.JSONDecodeError and friends: a broken reply
        return LLMError("the LLM server sent a malformed reply")
    return LLMError(f"the LLM request failed ({type(exc).__name__})")


def _said(exc: Any) -> str:
    """The server's own error message, without the SDK's prefix, at most 200 characters."""
    body = exc.body
    said = body.get("message") if isinstance(body, dict) else None
    if not isinstance(said, str) or not said.strip():
        said = str(exc.message).split(" - ", 1)[-1]
    said = " ".join(said.split())
    return said if len(said) <= 200 else said[:199] + "…"


def retry_after(headers: Any) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    try:
        if ms := headers.get("retry-after-ms"):
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
