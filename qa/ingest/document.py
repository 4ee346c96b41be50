"""What a reader makes of a file: a ``Document`` (its text, where each page starts, and its
headings)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from qa.registry import Registry
from qa.schema import under


class UnreadableFile(Exception):
    """A file that cannot be indexed; the message says why (shown in the sync report)."""


Heading = tuple[int, int, int]  # (start, end, level) of a heading line in the text; level 1 = top


@dataclass(frozen=True)
class ReadText:
    """What a reader returns: the text, where each page starts (``()`` when unpaged), and the
    spans of its heading lines with their level (section titles, a term a definition list
    defines), in text order."""

    text: str
    pages: tuple[int, ...] = ()
    headings: tuple[Heading, ...] = ()


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
    headings: tuple[Heading, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset`` (None for unpaged formats)."""
        return bisect_right(self.pages, offset) if self.pages else None

    def page_span(self, page: int) -> tuple[int, int]:
        """``(start, end)`` of 1-based ``page`` in ``text``."""
        if not 1 <= page <= len(self.pages):
            raise IndexError(f"page {page} is not in this document ({len(self.pages)} pages)")
        end = self.pages[page] if page < len(self.pages) else len(self.text)
        return self.pages[page - 1], end

    def section_at(self, offset: int, depth: int = 3) -> tuple[str, ...]:
        """The titles of the headings ``offset`` stands under, outermost first (at most
        ``depth``, the innermost ones)."""
        return tuple(title for _, title in section_path(self.text, self.headings, offset, depth))

    @property
    def page_count(self) -> int:
        """Number of pages (0 when unpaged)."""
        return len(self.pages)


def section_path(
    text: str, headings: Sequence[Heading], offset: int, depth: int = 3
) -> tuple[tuple[int, str], ...]:
    """The (level, title) of the ``headings`` (spans of ``text``) that ``offset`` stands
    under, outermost first: each heading before ``offset`` closes those of its level and
    deeper (``qa.schema.under``)."""
    stack: list[tuple[int, str]] = []
    for start, end, level in headings:
        if start >= offset:
            break
        stack = under(stack, level, text[start:end], depth)
    return tuple(stack)


Progress = Callable[[int, int], None]  # (pages done, pages in all)


class Reader(Protocol):
    """Turns a file's bytes into text; raises ``UnreadableFile`` with the reason it cannot."""

    name: str
    extensions: frozenset[str]  # lower-case, with the dot
    # Changed whenever the reader reads the same bytes differently: its files are then read
    # and indexed again. Plain text's is "" (it read the same before readers had versions).
    version: str

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The text, the page start offsets and the headings; a plain ``(text, pages)``
        tuple is accepted too (a reader that knows no headings)."""
        ...


readers: Registry[Reader] = Registry("reader")
