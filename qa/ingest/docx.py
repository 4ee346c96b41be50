"""DOCX, with python-docx: paragraphs and tables in document order, one per line; paragraphs
styled Title or Heading N are the document's headings.

A DOCX file is a zip of XML parts, so before python-docx sees one it is checked: its parts
may not unzip to more than ``MAX_UNZIPPED_BYTES`` (a zip bomb), and no part may declare a
DTD (entity expansion: Word never writes one; python-docx's parser also resolves no entities).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers
from qa.ingest.layout import Lines, table_lines

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_PARTS = 10_000
_DTD_SNIFF = 64 * 1024
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)


@readers.register("docx")
class DocxReader:
    """Body paragraphs and table rows (cells joined by " | "), in order, with the headings;
    unpaged."""

    name = "docx"
    extensions = frozenset({".docx"})
    version = "docx-2"  # 2: headings (Title, Heading N); a table's empty cells left out

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The document's text."""
        check_package(data)
        import docx

        try:
            document = docx.Document(io.BytesIO(data))
            read = _lines(document).build()
        except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors, ...
            raise UnreadableFile(f"not a readable DOCX ({type(exc).__name__})") from exc
        if not read.text.strip():
            raise UnreadableFile("no text in the document")
        return read


def check_package(data: bytes) -> None:
    """Refuse what is not a zip, a zip bomb, and XML parts that declare a DTD."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableFile("not a readable DOCX (not a zip archive)") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_PARTS:
            raise UnreadableFile(f"DOCX has {len(infos)} parts (a zip bomb?)")
        unzipped = sum(info.file_size for info in infos)
        if unzipped > MAX_UNZIPPED_BYTES:
            mb = unzipped / 1024 / 1024
            raise UnreadableFile(
                f"DOCX unzips to {mb:,.0f} MB, over the {MAX_UNZIPPED_BYTES >> 20} MB limit "
                "(a zip bomb?)"
            )
        for info in infos:
            if not info.filename.endswith((".xml", ".rels")):
                continue
            try:
                with archive.open(info) as part:
                    head = part.read(_DTD_SNIFF)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise UnreadableFile(f"not a readable DOCX ({exc})") from exc
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise UnreadableFile(
                    f"DOCX part {info.filename} declares XML entities (refused: entity expansion)"
                )


def _lines(document: Any) -> Lines:
    """The body's paragraphs and table rows, in order. A paragraph styled Title is a level-1
    heading; Heading N is level N, one deeper when the document has a Title."""
    from docx.table import Table

    blocks = list(document.iter_inner_content())
    styles = [None if isinstance(b, Table) else _style_name(b) for b in blocks]
    below_title = int("Title" in styles)
    out = Lines()
    for block, style in zip(blocks, styles, strict=True):
        if isinstance(block, Table):
            for line in table_lines([_cells(row) for row in block.rows]):
                out.add(line)
        elif style == "Title":
            out.add(block.text, 1)
        elif match := _HEADING_STYLE.fullmatch(style or ""):
            out.add(block.text, int(match.group(1)) + below_title)
        else:
            out.add(block.text)
    return out


def _style_name(paragraph: Any) -> str | None:
    style = paragraph.style
    return str(style.name) if style is not None and style.name else None


def _cells(row: Any) -> list[str]:
    """A row's cell texts; a cell merged across columns (python-docx repeats it) is given once."""
    cells: list[str] = []
    for cell in row.cells:
        text = " ".join(p.text for p in cell.paragraphs).strip()
        if not cells or text != cells[-1]:
            cells.append(text)
    return cells
