"""DOCX, with python-docx: paragraphs and tables in document order, one per line.

A DOCX file is a zip of XML parts, so before python-docx sees one it is checked: its parts
may not unzip to more than ``MAX_UNZIPPED_BYTES`` (a zip bomb), and no part may declare a
DTD (entity expansion: Word never writes one; python-docx's parser also resolves no entities).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_PARTS = 10_000
_DTD_SNIFF = 64 * 1024


@readers.register("docx")
class DocxReader:
    """Body paragraphs and table rows (cells joined by " | "), in order; unpaged."""

    name = "docx"
    extensions = frozenset({".docx"})
    version = "docx-1"

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The document's text."""
        check_package(data)
        import docx

        try:
            document = docx.Document(io.BytesIO(data))
            lines = list(_lines(document))
        except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors, ...
            raise UnreadableFile(f"not a readable DOCX ({type(exc).__name__})") from exc
        text = "\n".join(lines)
        if not text.strip():
            raise UnreadableFile("no text in the document")
        return ReadText(text)


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


def _lines(document: Any) -> list[str]:
    """The body's paragraphs and table rows, in order."""
    from docx.table import Table

    out: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.extend(_table_rows(block))
        else:
            out.append(block.text)
    return out


def _table_rows(table: Any) -> list[str]:
    """The header row, then one line per row with each cell after its column's header
    (``Fare: Return | Adult: 7 shillings``), so a row quoted alone still says what it holds;
    a cell merged across columns is given once."""
    rows = [_cells(row) for row in table.rows]
    if len(rows) < 2 or len(set(rows[0])) != len(rows[0]) or not all(rows[0]):
        return [" | ".join(cells) for cells in rows]
    header = rows[0]
    out = [" | ".join(header)]
    for cells in rows[1:]:
        if len(cells) == len(header):
            out.append(" | ".join(f"{h}: {c}" for h, c in zip(header, cells, strict=True)))
        else:
            out.append(" | ".join(cells))
    return out


def _cells(row: Any) -> list[str]:
    cells: list[str] = []
    for cell in row.cells:
        text = " ".join(p.text for p in cell.paragraphs).strip()
        if not cells or text != cells[-1]:
            cells.append(text)
    return cells
