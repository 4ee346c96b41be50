"""PDF, with pypdfium2 (PDFium): the text as it reads, and the boxes of any span of it.

Chosen over pypdf (``bench/pdf_extract.py``): the same text found on the probes (columns,
running headers), about 3× the pages per second, and, from the same library, the character
boxes, fonts and page images the chat UI needs to highlight a quote in the rendered page.
PyMuPDF is AGPL. Pages are read into lines (``pdf_lines``), each line's part decided over the
document (``pdf_layout``: headers, footnotes, contents, headings), and the text made of them
(``pdf_text``) with a map from each of its characters to the PDFium character showing it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers
from qa.ingest.pdf_layout import Column, classify, column_of
from qa.ingest.pdf_lines import Columns, Line, page_lines
from qa.ingest.pdf_text import TextMap, assemble

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_RENDER_PIXELS = 2400  # the longer side of a rendered page, at most


@readers.register("pdf")
class PdfReader:
    """The text of the pages as it reads (``qa.ingest.pdf_text``), where each page starts,
    and the headings."""

    name = "pdf"
    extensions = frozenset({".pdf"})
    version = "pdf-3"  # 3: a page keeps its only body line even when another page repeats it

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The text, page starts and headings; ``progress(done, total)`` after each page."""
        pages, columns = read_lines(data, progress)
        classify(pages, columns)
        return assemble(pages, columns, with_map=False)[0]


def read_pdf(data: bytes, progress: Progress | None = None) -> tuple[ReadText, TextMap]:
    """What ``PdfReader`` reads, and the map from its text to PDFium's characters."""
    pages, columns = read_lines(data, progress)
    classify(pages, columns)
    return assemble(pages, columns)


def read_lines(
    data: bytes, progress: Progress | None = None
) -> tuple[list[list[Line]], list[Column]]:
    """The visual lines of each page and its column. Pages are read one at a time; what is
    kept of each is its lines (text, PDFium indexes, box, font size)."""
    pages: list[list[Line]] = []
    found = Columns()
    with open_pdf(data) as pdf:
        total = len(pdf)
        if total == 0:
            raise UnreadableFile("PDF has no pages")
        for n in range(total):
            page = pdf[n]
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(page_lines(textpage, n, found))
                finally:
                    textpage.close()
            finally:
                page.close()
            if progress is not None:
                progress(n + 1, total)
    if not any(ln.text.strip() for lines in pages for ln in lines):
        raise UnreadableFile("no text layer — scanned? (no OCR here)")
    return pages, [column_of(lines, n, found) for n, lines in enumerate(pages)]


@contextmanager
def open_pdf(data: bytes) -> Iterator[Any]:
    """The PDFium document of ``data``; ``UnreadableFile`` says why it cannot be opened."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise UnreadableFile("encrypted PDF (it needs a password)") from exc
        if "format" in message.lower():
            raise UnreadableFile("not a readable PDF (damaged or truncated)") from exc
        raise UnreadableFile(f"not a readable PDF ({message})") from exc
    try:
        yield pdf
    finally:
        pdf.close()


def render_page(data: bytes, page: int, indexes: Sequence[int], scale: float = 1.5) -> Image:
    """Page ``page`` (1-based) as an image, the PDFium characters ``indexes`` highlighted from
    their boxes (see ``TextMap.locate``)."""
    from PIL import ImageDraw

    with open_pdf(data) as pdf:
        pg = pdf[page - 1]
        try:
            width, height = pg.get_size()
            scale = min(scale, MAX_RENDER_PIXELS / max(width, height, 1.0))  # a poster-size page
            image = pg.render(scale=scale).to_pil().convert("RGB")
            boxes = _boxes(pg, indexes)
        finally:
            pg.close()
    overlay = ImageDraw.Draw(image, "RGBA")
    for left, bottom, right, top in boxes:
        rect = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
        overlay.rectangle(rect, fill=(255, 213, 0, 110), outline=(214, 160, 0, 255))
    return image


def _boxes(page: Any, indexes: Sequence[int]) -> list[tuple[float, float, float, float]]:
    """One box per line of the characters ``indexes``: the union of their boxes."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        out: list[tuple[float, float, float, float]] = []
        line: list[float] | None = None
        for i in sorted(set(indexes)):
            if not 0 <= i < count:
                continue
            left, bottom, right, top = textpage.get_charbox(i)
            if right <= left or top <= bottom:
                continue
            if line is not None and (bottom > line[3] or top < line[1] or left < line[0] - 1):
                out.append((line[0], line[1], line[2], line[3]))  # a new line
                line = None
            if line is None:
                line = [left, bottom, right, top]
            else:
                line = [
                    min(line[0], left),
                    min(line[1], bottom),
                    max(line[2], right),
                    max(line[3], top),
                ]
        if line is not None:
            out.append((line[0], line[1], line[2], line[3]))
        return out
    finally:
        textpage.close()
