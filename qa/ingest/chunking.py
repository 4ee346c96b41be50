"""Chunking: llama-index's ``SentenceSplitter`` (tiktoken counts), every chunk located in the
document's text with exact offsets, and its page where the document has pages."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any

from qa.ingest.document import Heading, section_path
from qa.schema import Chunk

SECTION_CHARS = 100_000


@cache
def _tiktoken_encode() -> Callable[[str], list[int]]:
    import tiktoken  # reads the encodings from llama-index-core's bundled cache (qa.offline)

    return tiktoken.get_encoding("cl100k_base").encode


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    return len(_tiktoken_encode()(text))


class Chunker:
    """Splits text with llama-index's ``SentenceSplitter`` and locates every chunk in the source."""

    VERSION = 4  # 2: sections for long texts, mixed UTF-8/1252 and UTF-16 decoding; 3: headings,
    # sentence breaks and languages as answering reads them; 4: section paths keep the title,
    # signature headings are evidence

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter_instance: Any = None

    @property
    def _splitter(self) -> Any:
        """The ``SentenceSplitter``, made on first use (answering never imports llama-index)."""
        if self._splitter_instance is None:
            from llama_index.core.node_parser import SentenceSplitter

            self._splitter_instance = SentenceSplitter(
                chunk_size=self.chunk_size,
                chunk_overlap=self.chunk_overlap,
                tokenizer=_tiktoken_encode(),
            )
        return self._splitter_instance

    @property
    def fingerprint(self) -> str:
        """Changes whenever the same file would be chunked differently."""
        return f"sentence-splitter/cl100k/{self.chunk_size}/{self.chunk_overlap}/v{self.VERSION}"

    def chunk(
        self,
        source: str,
        text: str,
        file_hash: str,
        pages: tuple[int, ...] = (),
        headings: Sequence[Heading] = (),
    ) -> list[Chunk]:
        """Chunks of ``text`` with exact offsets: ``text[c.start:c.end] == c.text``; with
        ``pages`` (where each page starts), each chunk knows the page of any of its offsets;
        with ``headings`` (spans of heading lines), the section it starts in and the heading
        lines inside it.

        Long texts are split first into sections of at most ``SECTION_CHARS`` at paragraph
        (else line, sentence, word) breaks and each section is chunked on its own: the
        splitter's sentence tokenizer gives up on multi-megabyte inputs (NLTK's 5 s regex
        guard) and its working memory grows with the input.
        """
        chunks: list[Chunk] = []
        for base, section in _sections(text, SECTION_CHARS):
            prev_start, prev_end = -1, 0
            for piece in self._splitter.split_text(section):
                if not piece.strip():
                    continue
                start, end = _locate(section, piece, prev_start, prev_end)
                prev_start, prev_end = start, end
                chunks.append(
                    Chunk(
                        id=chunk_id(source, base + start, base + end, file_hash),
                        source=source,
                        text=section[start:end],
                        start=base + start,
                        end=base + end,
                        index=len(chunks),
                        file_hash=file_hash,
                        **_pages_of(pages, base + start, base + end),
                        **_headings_of(text, headings, base + start, base + end),
                    )
                )
        return chunks


def _pages_of(pages: tuple[int, ...], start: int, end: int) -> dict[str, Any]:
    """``Chunk`` fields for the span: the page it starts on and the page starts inside it."""
    if not pages:
        return {}
    inside = pages[bisect_right(pages, start) : bisect_left(pages, end)]
    return {"page": bisect_right(pages, start), "page_breaks": tuple(inside)}


def _headings_of(text: str, headings: Sequence[Heading], start: int, end: int) -> dict[str, Any]:
    """``Chunk`` fields for the span: the section it starts in and the headings inside it."""
    if not headings:
        return {}
    inside = tuple(h for h in headings if start <= h[0] and h[1] <= end)
    return {"section": section_path(text, headings, start), "headings": inside}


def _sections(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """``(offset, section)`` pieces of ``text``, each at most ``limit`` characters."""
    start = 0
    while len(text) - start > limit:
        end = _break_before(text, start + limit // 2, start + limit)
        yield start, text[start:end]
        start = end
    yield start, text[start:]


def _break_before(text: str, lo: int, hi: int) -> int:
    """The last paragraph, line, sentence or word break in ``text[lo:hi]``, else ``hi``."""
    for sep in ("\n\n", "\n", ". ", " "):
        at = text.rfind(sep, lo, hi)
        if at >= 0:
            return at + len(sep)
    return hi


def chunk_id(source: str, start: int, end: int, file_hash: str) -> str:
    """Deterministic id: the same file content always yields the same ids."""
    key = f"{source}\x00{start}\x00{end}\x00{file_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _locate(text: str, piece: str, prev_start: int, prev_end: int) -> tuple[int, int]:
    """Span of ``piece`` in ``text``, given the span of the chunk before it.

    A chunk starts after the previous chunk's start and no later than its end (chunks overlap
    or touch). Among such occurrences the latest is taken, so repeated text is pinned to the
    copy that continues the previous chunk. Whitespace the splitter changed is tolerated.
    """
    limit = prev_end
    while limit < len(text) and text[limit].isspace():
        limit += 1
    at = text.rfind(piece, prev_start + 1, limit + len(piece))
    if at < 0:
        at = text.find(piece, prev_start + 1)
    if at >= 0:
        return at, at + len(piece)
    pattern = re.compile(r"\s+".join(re.escape(w) for w in piece.split()))
    match = pattern.search(text, prev_start + 1) or pattern.search(text)
    if match is None:  # pragma: no cover - SentenceSplitter only drops or keeps whitespace
        raise ValueError(f"chunk not found in source text: {piece[:60]!r}")
    return match.start(), match.end()
