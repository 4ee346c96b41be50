"""qa: chat-style question answering over a folder of documents, every sentence cited.

import qa
assistant = qa.Assistant.from_folder("seeds")
answer = assistant.ask("How long did the previous humanitarian pause last?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa import offline

offline.apply()

from qa.prompts import NOT_IN_DOCUMENTS  # noqa: E402
from qa.schema import Answer, AnswerSentence, Chunk, Citation, Passage  # noqa: E402
from qa.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from qa.assistant import Assistant, Chat
    from qa.sync import SyncReport

__all__ = [
    "NOT_IN_DOCUMENTS",
    "Answer",
    "AnswerSentence",
    "Assistant",
    "Chat",
    "Chunk",
    "Citation",
    "Passage",
    "Settings",
    "SyncReport",
]


def __getattr__(name: str) -> Any:
    """Import the heavy parts (llama-index, Chroma, the model) only when first used."""
    if name in ("Assistant", "Chat"):
        from qa import assistant

        return getattr(assistant, name)
    if name == "SyncReport":
        from qa.sync import SyncReport

        return SyncReport
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
