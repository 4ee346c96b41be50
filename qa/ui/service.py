"""What the UI does with the core, free of Gradio: sessions, streaming turns, sync, uploads.

One ``Service`` wraps the server's ``qa.Assistant``; every browser session owns a ``Session``
(a ``qa.Chat`` plus what the page shows). Answerer and top-k are server-wide: switching swaps
``assistant.answerer`` (built once per name, sharing the loaded embedder) and the retriever's
``top_k``, so nothing is reloaded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answerers import Answerer, create_answerer
from qa.assistant import clean_question
from qa.ingest import UnreadableFile
from qa.schema import Answer
from qa.sync import SyncReport
from qa.ui import render
from qa.ui.render import Conversation, Exchange
from qa.ui.uploads import MAX_UPLOAD_BYTES, UploadResult, save_upload
from qa.ui.views import DocumentViews

if TYPE_CHECKING:
    from qa.assistant import Assistant, Chat

log = logging.getLogger("qa.ui")

ANSWERERS = ("extractive", "openai")
TOP_K_RANGE = (1, 10)  # the retriever fetches max(2·top_k, 10) candidates, so ≤ 10 is cheap
ANSWER_SLOTS = 2  # answers computed at once (2 CPU cores); the rest wait ui_busy_wait_s at most
BUSY_MESSAGE = "The server is busy answering other questions; please try again in a minute."
EMPTY_QUESTION = "Type a question first."


def question_problem(text: str | None) -> str | None:
    """Why ``text`` cannot be asked (the core's reason, as the CLI says it), or None."""
    text = (text or "").strip()
    if not text:
        return EMPTY_QUESTION
    try:
        clean_question(text)
    except ValueError as exc:
        return f"Not asked: {exc} (this one has {len(text):,}); shorten it and ask again."
    return None


class ServerBusy(RuntimeError):
    """No answer slot became free in time; the message is meant for the user."""


@dataclass
class Session:
    """One browser (or API client) session: the core conversation and what the page shows."""

    chat: Chat
    conv: Conversation = field(default_factory=Conversation)
    busy: bool = False  # an answer is being written; a second one must wait

    def reset(self) -> None:
        """Forget the conversation ("New chat")."""
        self.chat.reset()
        self.conv.turns.clear()


class Service:
    """The UI's operations over one assistant; safe to call from Gradio's worker threads."""

    def __init__(
        self,
        assistant: Assistant,
        *,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        answer_slots: int = ANSWER_SLOTS,
        busy_wait_s: float | None = None,
    ) -> None:
        self.assistant = assistant
        self.max_upload_bytes = max_upload_bytes
        self._slots = threading.BoundedSemaphore(answer_slots)
        self.busy_wait_s = assistant.settings.ui_busy_wait_s if busy_wait_s is None else busy_wait_s
        self._index_lock = threading.Lock()
        self._answerers: dict[str, Answerer] = {assistant.answerer.name: assistant.answerer}
        self.synced_at: datetime | None = datetime.now() if assistant.last_sync else None
        self.views = DocumentViews(assistant)

    # --- sessions and answers ---------------------------------------------------------------

    def session(self, current: Session | None = None) -> Session:
        """``current``, or a new session when there is none yet."""
        return current if current is not None else Session(self.assistant.chat())

    @contextlib.contextmanager
    def answer_slot(self) -> Iterator[None]:
        """Hold one of the answer slots; ``ServerBusy`` when none frees up in time."""
        if not self._slots.acquire(timeout=self.busy_wait_s):
            raise ServerBusy(BUSY_MESSAGE)
        try:
            yield
        finally:
            self._slots.release()

    def ask(self, question: str) -> dict[str, Any]:
        """One stand-alone answer, JSON-ready (``Answer.to_dict``)."""
        with self.answer_slot():
            return self.assistant.ask(question).to_dict()

    def stream_turn(self, session: Session, question: str) -> Iterator[Exchange]:
        """Add a turn and yield it as it grows: streamed text, then the verified answer.

        Errors (an unreachable LLM, a question that is too long, a server too busy to take
        it) end the turn with a message instead of an answer; the core's history only keeps
        answered turns.
        """
        turn = Exchange(question)
        session.conv.turns.append(turn)
        if session.busy:
            turn.error = "The previous answer is still being written; ask again when it is done."
            yield turn
            return
        session.busy = True
        try:
            yield turn
            with self.answer_slot():
                for event in session.chat.stream(question):
                    if isinstance(event, Answer):
                        turn.answer, turn.partial = event, ""
                    else:
                        turn.partial += event
                    yield turn
        except ServerBusy as exc:
            turn.error = str(exc)
        except ValueError as exc:
            turn.error = str(exc)
        except RuntimeError as exc:  # LLMError and friends: the message is meant for users
            turn.error = f"No answer: {exc}"
        except Exception as exc:
            log.exception("answering %r failed", question)
            turn.error = f"Something went wrong while answering ({type(exc).__name__})."
        finally:
            session.busy = False
        if turn.answer is None and turn.error is None:
            turn.error = "No answer was produced."
        if turn.error is not None:
            yield turn

    def view_html(self, session: Session, request: str) -> str:
        """A citation of this session shown in its document (``qa.ui.views``)."""
        return self.views.html(session.conv, request)

    def sources_html(self, conv: Conversation) -> str:
        """The sources panel for ``conv``, quotes shown in their files' surrounding text."""
        return render.sources_html(conv, source_text=self.source_text)

    def source_text(self, source: str) -> str | None:
        """The text of indexed file ``source`` as it was read (None when it is not indexed or
        cannot be had)."""
        try:
            return self.assistant.source_text(source)
        except (KeyError, UnreadableFile, OSError):
            return None

    # --- settings ---------------------------------------------------------------------------

    def answerer_choices(self) -> list[str]:
        """``extractive`` always; ``openai`` only when an LLM server is configured."""
        llm = self.assistant.settings.llm_configured
        return [a for a in ANSWERERS if a != "openai" or llm]

    @property
    def answerer_name(self) -> str:
        return self.assistant.answerer.name

    @property
    def top_k(self) -> int:
        return self.assistant.settings.top_k

    def set_options(self, answerer: str, top_k: float) -> None:
        """Switch the answerer and the number of retrieved passages for the whole server."""
        if answerer not in self.answerer_choices():
            raise ValueError(f"answerer {answerer!r} is not available here")
        low, high = TOP_K_RANGE
        if not (isinstance(top_k, (int, float)) and math.isfinite(top_k) and top_k == int(top_k)):
            raise ValueError(f"top_k must be a whole number from {low} to {high}; got {top_k!r}")
        if not low <= top_k <= high:
            raise ValueError(f"top_k must be from {low} to {high}; got {int(top_k)}")
        top_k = int(top_k)
        a = self.assistant
        with self._index_lock:
            if answerer not in self._answerers:
                self._answerers[answerer] = create_answerer(answerer, a.settings, a.evidence)
            a.settings = a.settings.model_copy(update={"top_k": top_k, "answerer": answerer})
            a.answerer = self._answerers[answerer]
            a.retriever.top_k = top_k  # a rebuilt retriever takes it from the settings

    def describe(self) -> str:
        """Markdown: what is in use (never the API key)."""
        a, s = self.assistant, self.assistant.settings
        lines = [
            f"- **Answerer:** `{self.answerer_name}`",
            f"- **Passages per question (top-k):** {self.top_k}",
            f"- **Embedder:** `{a.embedder.name}`",
        ]
        if s.llm_configured:
            where = s.llm_base_url or "https://api.openai.com/v1"
            lines.append(f"- **LLM:** `{s.llm_model}` at `{where}`")
        else:
            lines.append("- **LLM:** none configured — answers quote the documents directly")
        lines.append(f"- **Corpus:** `{a.corpus}`")
        return "\n".join(lines)

    def answerer_note(self) -> str:
        """Markdown shown instead of a choice of one answerer: what is used, how to get an LLM."""
        return (
            "No LLM server is configured, so answers quote the documents directly (the "
            f"`{self.answerer_name}` answerer): there is no other answerer to choose.\n\n"
            "To answer with an LLM, set `QA_LLM_BASE_URL` (or `OPENAI_BASE_URL`) to an "
            "OpenAI-compatible server and `QA_LLM_MODEL` to its model, or set `OPENAI_API_KEY` "
            "to use OpenAI, then restart `qa serve`."
        )

    # --- corpus -----------------------------------------------------------------------------

    def files_html(self, summary: str = "") -> str:
        return render.files_html(self.assistant.files(), self.synced_at, summary)

    def sync(self, *, progress: bool = False) -> SyncReport:
        """Re-index what changed in the corpus folder (one sync at a time)."""
        with self._index_lock:
            return self._sync_locked(progress)

    def _sync_locked(self, progress: bool) -> SyncReport:
        """Sync and note the time; the caller holds ``_index_lock``."""
        report = self.assistant.sync(progress=progress)
        self.synced_at = datetime.now()
        return report

    def add_files(
        self, uploads: Sequence[tuple[Path, str]], *, progress: bool = False
    ) -> tuple[list[UploadResult], SyncReport | None]:
        """Save ``(temp path, original name)`` uploads into the corpus, then index them; when
        indexing fails (the store is full, read-only, locked), the new files are removed."""
        with self._index_lock:
            results = [
                save_upload(self.assistant.corpus, path, name, max_bytes=self.max_upload_bytes)
                for path, name in uploads
            ]
            added = [r.saved for r in results if r.saved and not r.duplicate]
            if not added:
                return results, None
            try:
                return results, self._sync_locked(progress)
            except Exception:
                # An upload is either indexed or not kept: take the new files back out.
                for name in added:
                    (self.assistant.corpus / name).unlink(missing_ok=True)
                raise


def upload_message(results: Sequence[UploadResult], report: SyncReport | None) -> str:
    """HTML telling what was added, what was already there and what was refused, and why."""
    if not results:
        return '<p class="qa-upload">No file received.</p>'
    skipped = {s.source: s.reason for s in report.skipped} if report else {}
    esc = render.esc
    items = []
    for r in results:
        name = f"<b>{esc(r.original)}</b>"
        saved = f"<code>{esc(r.saved or '')}</code>"
        if r.error:
            items.append(f'<li class="qa-bad">✗ {name} was not added: {esc(r.error)}.</li>')
        elif r.duplicate:
            items.append(f'<li class="qa-same">= {name} is already in the corpus as {saved}.</li>')
        elif r.saved in skipped:
            reason = esc(skipped[r.saved or ""])
            items.append(f'<li class="qa-bad">✗ {name} was saved but not indexed: {reason}.</li>')
        else:
            renamed = f" as {saved}" if r.saved != r.original else ""
            items.append(f'<li class="qa-ok">✓ {name} added{renamed} and indexed.</li>')
    return f'<ul class="qa-upload">{"".join(items)}</ul>'
