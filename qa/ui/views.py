"""“View in document”: a citation shown where it stands in the original.

For a PDF, the page is rendered (pypdfium2) with exactly the quoted characters highlighted
from PDFium's character boxes, found through the map from the reader's text to PDFium's
characters (made again from the file's bytes, kept for a few files); for other formats, the
document's text around the quote with the quote marked. A request names only a turn and a
citation number of the session's own conversation: the file comes from the index (its path
relative to the corpus root, its bytes checked against the indexed content hash), so nothing a
browser sends reaches the file system.
Rendered pages are kept in a small cache.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from qa.ingest import Document, UnreadableFile, read_bytes
from qa.schema import Citation
from qa.ui.render import Conversation, esc

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.ingest.pdf_text import TextMap

PAGES_KEPT = 24  # rendered, highlighted pages kept in memory
MAPS_KEPT = 4  # PDFs whose text-to-character maps are kept in memory
TEXT_AROUND = 1500  # characters shown on each side of a quote in the text view
RENDER_SCALE = 1.5  # 108 dpi: a page of A4 is 893 × 1263 pixels


class DocumentViews:
    """Renders citations in their documents, caching what it rendered."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._pages: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._maps: OrderedDict[str, TextMap] = OrderedDict()
        self._lock = threading.Lock()

    def html(self, conv: Conversation, request: str) -> str:
        """The view for ``request`` (``"<turn>:<n>"``: citation ``n`` of answered ``turn``)."""
        citation = _citation(conv, request)
        if citation is None:
            return _note("That citation is not in this conversation any more.")
        try:
            doc = self.assistant.document(citation.source)
        except (KeyError, UnreadableFile, OSError) as exc:
            return _note(f"{citation.source} cannot be shown: {exc}")
        if doc.format == "pdf" and citation.page is not None:
            try:
                return self._pdf_html(citation, doc)
            except (UnreadableFile, OSError) as exc:
                return _note(f"{citation.source} cannot be shown: {exc}")
        return _text_html(citation, doc)

    def page_png(self, citation: Citation, doc: Document) -> bytes:
        """The citation's first page as PNG, its quoted characters highlighted (cached)."""
        from qa.ingest.pdf import render_page

        key = (doc.file_hash, citation.start, citation.end)
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        data = read_bytes(self.assistant.corpus / citation.source)
        if hashlib.sha256(data).hexdigest() != doc.file_hash:
            raise UnreadableFile("the file changed after it was indexed; index it again")
        located = self._text_map(doc, data).locate(citation.start, citation.end)
        if located is None:
            raise UnreadableFile("the quote shows no character of the page")
        page, indexes = located
        out = io.BytesIO()
        render_page(data, page, indexes, scale=RENDER_SCALE).save(out, format="PNG", optimize=True)
        png = out.getvalue()
        with self._lock:
            self._pages[key] = png
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        return png

    def _text_map(self, doc: Document, data: bytes) -> TextMap:
        """Where each character of ``doc``'s text stands in the PDF (``data``): read again by
        the reader that made the text, kept for a few files."""
        from qa.ingest.pdf import read_pdf

        with self._lock:
            if doc.file_hash in self._maps:
                self._maps.move_to_end(doc.file_hash)
                return self._maps[doc.file_hash]
        read, text_map = read_pdf(data)
        if read.text != doc.text:  # indexed by another version of the reader
            raise UnreadableFile("the file was read differently when indexed; index it again")
        with self._lock:
            self._maps[doc.file_hash] = text_map
            while len(self._maps) > MAPS_KEPT:
                self._maps.popitem(last=False)
        return text_map

    def _pdf_html(self, citation: Citation, doc: Document) -> str:
        png = base64.b64encode(self.page_png(citation, doc)).decode("ascii")
        alt = f"Page {citation.page} of {citation.source}, the quoted passage highlighted"
        return (
            f'<figure class="qa-view">{_head(citation)}'
            f'<img class="qa-page" alt="{esc(alt)}" title="Click to zoom" '
            f'src="data:image/png;base64,{png}"></figure>'
        )


def _citation(conv: Conversation, request: str) -> Citation | None:
    """The citation ``request`` names, if the conversation has it."""
    turn, _, n = (request or "").partition(":")
    if not (turn.isdigit() and n.isdigit()):
        return None
    answers = dict(conv.answered())
    answer = answers.get(int(turn))
    if answer is None or not 1 <= int(n) <= len(answer.citations):
        return None
    return answer.citations[int(n) - 1]


def _head(c: Citation) -> str:
    return f'<figcaption class="qa-view-head">{esc(c.where)}</figcaption>'


def _text_html(c: Citation, doc: Document) -> str:
    """The text around the quote, the quote marked."""
    if doc.text[c.start : c.end] != c.quote:
        return _note(f"{c.source} changed since this answer; index it again to view it.")
    lo = max(0, doc.text.rfind("\n", 0, max(0, c.start - TEXT_AROUND)) + 1)
    hi = doc.text.find("\n", min(len(doc.text), c.end + TEXT_AROUND))
    hi = len(doc.text) if hi < 0 else hi
    before = ("…" if lo > 0 else "") + doc.text[lo : c.start]
    after = doc.text[c.end : hi] + ("…" if hi < len(doc.text) else "")
    body = f"{esc(before)}<mark>{esc(c.quote)}</mark>{esc(after)}"
    return f'<figure class="qa-view">{_head(c)}<div class="qa-doc-text">{body}</div></figure>'


def _note(text: str) -> str:
    return f'<p class="qa-view-note">{esc(text)}</p>'
