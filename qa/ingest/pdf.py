"""PDF, with pypdfium2 (PDFium): text page by page, and the boxes of any span of it.

Chosen over pypdf (``bench/pdf_extract.py``): the same text found on the probes (columns,
running headers), about 3× the pages per second, and, from the same library, the character
boxes and page images the chat UI needs to highlight a quote in the rendered page. PyMuPDF is
AGPL. Each page's text is PDFium's own, character for character (``count_chars``), so an
offset in a page is an index into its character boxes: line breaks inside a paragraph become
spaces of the same length (a sentence may run over a line), and nothing is de-hyphenated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers

if TYPE_CHECKING:
    from PIL.Image import Image

_BREAK = re.compile(r"\r\n|\n|\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
WRAPPED = 0.7  # a line at least this share of the page's long lines is wrapped, not ended
MAX_RENDER_PIXELS = 2400  # the longer side of a rendered page, at most


@readers.register("pdf")
class PdfReader:
    """Text of every page, in PDFium's order, pages joined by a newline (or a space where
    the page's last line runs on)."""

    name = "pdf"
    extensions = frozenset({".pdf"})
    version = "pdf-1"

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The text and where each page starts; ``progress(done, total)`` after each page."""
        parts: list[str] = []
        starts: list[int] = []
        at = 0
        with open_pdf(data) as pdf:
            total = len(pdf)
            if total == 0:
                raise UnreadableFile("PDF has no pages")
            for n in range(total):
                text = page_text(pdf, n)
                if parts:
                    sep = " " if _runs_on(parts[-1]) else "\n"
                    parts.append(sep)
                    at += 1
                starts.append(at)
                parts.append(text)
                at += len(text)
                if progress is not None:
                    progress(n + 1, total)
        text = "".join(parts)
        if not any(not ch.isspace() for ch in text):
            raise UnreadableFile("no text layer — scanned? (no OCR here)")
        return ReadText(text, tuple(starts))


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


def page_text(pdf: Any, n: int) -> str:
    """Page ``n``'s text, one character per PDFium character: control characters become
    spaces and the line breaks inside paragraphs become spaces of the same length."""
    page = pdf[n]
    try:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            text = textpage.get_text_range(0, count) if count > 0 else ""
        finally:
            textpage.close()
    finally:
        page.close()
    if len(text) != count:  # characters PDFium could not map: keep the count, lose them
        text = text[:count].ljust(count)
    return _unwrap(_CONTROL.sub(" ", text))


def _unwrap(text: str) -> str:
    """Line breaks after long lines (wrapped text) become spaces; after short lines (the end
    of a paragraph, a heading) they stay. Lengths never change."""
    lines = _BREAK.split(text)
    if len(lines) < 2:
        return text
    lengths = sorted(len(line.strip()) for line in lines)
    long_line = lengths[int(len(lengths) * 0.9)]
    out: list[str] = []
    for line, brk in zip(lines, _BREAK.findall(text), strict=False):
        out.append(line)
        runs_on = len(line.strip()) >= WRAPPED * long_line and not line.rstrip().endswith(":")
        out.append(" " * len(brk) if runs_on else brk)
    out.append(lines[-1])
    return "".join(out)


def _runs_on(page: str) -> bool:
    """True when a page's last line looks cut mid-sentence (no closing punctuation)."""
    tail = page.rstrip()
    return bool(tail) and tail[-1] not in ".!?:;»\"')”]" and not tail[-1].isdigit()


def render_page(data: bytes, page: int, spans: list[tuple[int, int]], scale: float = 1.5) -> Image:
    """Page ``page`` (1-based) as an image, with the characters of each ``(start, end)`` span
    (offsets into that page's text) highlighted from PDFium's character boxes."""
    from PIL import ImageDraw

    with open_pdf(data) as pdf:
        pg = pdf[page - 1]
        try:
            width, height = pg.get_size()
            scale = min(scale, MAX_RENDER_PIXELS / max(width, height, 1.0))  # a poster-size page
            image = pg.render(scale=scale).to_pil().convert("RGB")
            boxes = _boxes(pg, spans)
        finally:
            pg.close()
    overlay = ImageDraw.Draw(image, "RGBA")
    for left, bottom, right, top in boxes:
        rect = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
        overlay.rectangle(rect, fill=(255, 213, 0, 110), outline=(214, 160, 0, 255))
    return image


def _boxes(page: Any, spans: list[tuple[int, int]]) -> list[tuple[float, float, float, float]]:
    """One box per line of each span: the union of its visible characters' boxes."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count > 0 else ""
        out: list[tuple[float, float, float, float]] = []
        for start, end in spans:
            line: list[float] | None = None
            for i in range(max(start, 0), min(end, count)):
                if i < len(text) and text[i].isspace():
                    continue
                left, bottom, right, top = textpage.get_charbox(i)
                if right <= left or top <= bottom:
                    continue
                if line is not None and (bottom > line[3] or top < line[1]):  # a new line
                    out.append((line[0], line[1], line[2], line[3]))
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
