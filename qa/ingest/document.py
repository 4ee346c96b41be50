"""What a reader makes of a file: a ``Document`` (its text, and where each page starts)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from qa.registry import Registry


class UnreadableFile(Exception):
    """A file that cannot be indexed; the message says why (shown in the sync report)."""


@dataclass(frozen=True)
class Document:
    """The text a file was read as, the reader that read it and, for paged formats, the
    character offset where each page starts (``pages[0] == 0``; empty when unpaged).

    Every offset ``qa`` hands out (chunks, citations) points into ``text``.
    """

    text: str
    file_hash: str
    format: str
    pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset`` (None for unpaged formats)."""
        return bisect_right(self.pages, offset) if self.pages else None

    def page_span(self, page: int) -> tuple[int, int]:
        """``(start, end)`` of 1-based ``page`` in ``text``."""
        if not 1 <= page <= len(self.pages):
            raise IndexError(f"page {page} is not in this document ({len(self.pages)} pages)")
        end = self.pages[page] if page < len(self.pages) else len(self.text)
        return self.pages[page - 1], end

    @property
    def page_count(self) -> int:
        """Number of pages (0 when unpaged)."""
        return len(self.pages)


Progress = Callable[[int, int], None]  # (pages done, pages in all)


class Reader(Protocol):
    """Turns a file's bytes into text; raises ``UnreadableFile`` with the reason it cannot."""

    name: str
    extensions: frozenset[str]  # lower-case, with the dot
    # Changed whenever the reader reads the same bytes differently: its files are then read
    # and indexed again. Plain text's is "" (it read the same before readers had versions).
    version: str

    def read(self, data: bytes, progress: Progress | None = None) -> tuple[str, tuple[int, ...]]:
        """The text and the page start offsets (``()`` when unpaged)."""
        ...


readers: Registry[Reader] = Registry("reader")
