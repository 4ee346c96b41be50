"""Rendering trafilatura's XML (its structured output: ``head``, ``p``, ``list``/``item``,
``table``/``row``/``cell``, ``code``, ``quote``, ``graphic``, ``lb``, inline ``hi``/``ref``) as
lines of text with headings.

- ``<head rend="hN">``: a heading line of level N.
- A definition list (``<list rend="dl">``, items ``dt-…``/``dd-…``): each term is a heading one
  level below the section it stands in (a nested list's terms one below their term), its
  description the paragraphs under it.
- Paragraphs, list items (no bullet) and quotes: a line each, whitespace collapsed; ``<lb>``
  breaks the line. A block never runs into the next one.
- A code block: its own lines. Inline code and emphasis: their text. Images: nothing.
- A table: a line per row, each cell after its column's header (``layout.table_lines``) when
  its first row is header cells. A table that lays out the page (an icon beside a label and
  its text, as DocBook's admonitions; a cell holding headings) is its cells' blocks, and a
  label starts the paragraph after it: ``Tipp: …``.
"""

from __future__ import annotations

from typing import Any

from qa.ingest.layout import Lines, table_lines

Element = Any  # an lxml element of trafilatura's output (or a page mapped onto its tags)

BLOCKS = frozenset({"body", "div", "p", "head", "list", "item", "quote", "table", "row", "cell"})
_INLINE_PARENTS = frozenset({"p", "head", "hi", "ref", "del", "code"})
_LABEL_CHARS = 40  # a layout table's header cell of at most this is a label, not a paragraph


def render(body: Element) -> Lines:
    """The lines of trafilatura's ``body`` element (or a page mapped onto its tags)."""
    out = _Renderer()
    out.container(body, 0)
    out.flush()
    return out.lines


def text_of(element: Element) -> str:
    """The text of ``element`` on one line, whitespace collapsed; images give none."""
    return " ".join("".join(_text(element, " ")).split())


class _Renderer:
    """Walks the element tree, gathering inline text into the pending line."""

    def __init__(self) -> None:
        self.lines = Lines()
        self.inline: list[str] = []
        self.label = ""

    def container(self, element: Element, level: int) -> int:
        """Renders ``element``'s content at section ``level``; returns the level after it
        (a heading inside changes it)."""
        self.text(element.text)
        for child in element:
            if isinstance(child.tag, str):  # not a comment or processing instruction
                level = self.element(child, level)
            self.text(child.tail)
        return level

    def element(self, element: Element, level: int) -> int:
        tag = element.tag
        if tag == "graphic":
            return level
        if tag == "lb":
            self.flush()
        elif tag == "head":
            self.flush()
            level = _heading_level(element, level)
            self.heading(text_of(element), level)
        elif tag == "list" and element.get("rend") == "dl":
            self.flush()
            self.definitions(element, level)
        elif tag == "table":
            self.flush()
            self.table(element, level)
        elif tag == "code" and _is_code_block(element):
            self.flush()
            self.code(element)
        elif tag in BLOCKS:
            self.flush()
            level = self.container(element, level)
            self.flush()
        else:  # inline: hi, ref, del, inline code, span, ...
            level = self.container(element, level)
        return level

    def text(self, text: str | None) -> None:
        if text:
            self.inline.append(text)

    def flush(self) -> None:
        """Ends the pending line, if it holds any text."""
        line = " ".join("".join(self.inline).split())
        self.inline.clear()
        if not line:
            return
        if self.label:
            line = f"{self.label} {line}"
            self.label = ""
        self.lines.add(line)

    def set_label(self, label: str) -> None:
        self.end_label()
        if label:
            self.label = label if label.endswith(":") else f"{label}:"

    def end_label(self) -> None:
        """A label not followed by a paragraph stands on its own line."""
        if self.label:
            self.lines.add(self.label.removesuffix(":"))
            self.label = ""

    def heading(self, title: str, level: int) -> None:
        self.end_label()
        if title:
            self.lines.add(title, level)

    def definitions(self, element: Element, level: int) -> None:
        """Each term a heading one level below ``level``, its description under it; a term
        without a description of its own (a table of contents' entry) is a line."""
        term = level + 1
        items = [item for item in element if isinstance(item.tag, str)]
        for n, item in enumerate(items):
            if _is_term(item) and _described(items[n + 1 :]):
                self.heading(text_of(item), term)
            elif _is_term(item):
                self.flush()
                self.lines.add(text_of(item))
            else:
                self.container(item, term)
                self.flush()

    def code(self, element: Element) -> None:
        """A code block's lines, blank lines at its ends dropped and inner runs of them kept
        as one."""
        self.end_label()
        text = "".join(_text(element, "\n")).replace("\r\n", "\n").replace("\r", "\n")
        lines = [line.rstrip() for line in text.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        previous = ""
        for line in lines:
            if line or previous:
                self.lines.add(line)
            previous = line

    def table(self, element: Element, level: int) -> None:
        rows = [[cell for cell in row if cell.tag == "cell"] for row in element if row.tag == "row"]
        rows = [row for row in rows if row]
        if _is_layout(rows):
            for row in rows:
                for cell in row:
                    self.layout_cell(cell, level)
            self.end_label()
            return
        self.end_label()
        texts = [[_cell_text(cell) for cell in row] for row in rows]
        header = bool(rows) and all(cell.get("role") == "head" for cell in rows[0])
        for line in table_lines([t for t in texts if any(t)], header):
            self.lines.add(line)

    def layout_cell(self, cell: Element, level: int) -> None:
        """A layout table's cell: its label, else its content as blocks."""
        label = text_of(cell)
        if not label:
            return
        if cell.get("role") == "head" and len(label) <= _LABEL_CHARS and len(cell) == 0:
            self.set_label(label)
        else:
            self.container(cell, level)
            self.flush()


def _is_term(item: Element) -> bool:
    return (item.get("rend") or "").startswith("dt")


def _described(after: list[Element]) -> bool:
    """Whether the description after a term (past other terms of it) has text outside the
    definition lists nested in it."""
    for item in after:
        if not _is_term(item):
            return any(text.strip() for text in _own_text(item))
    return False


def _own_text(element: Element) -> list[str]:
    parts = [element.text or ""]
    for child in element:
        if not (child.tag == "list" and child.get("rend") == "dl"):
            parts.extend(_own_text(child))
        parts.append(child.tail or "")
    return parts


def _heading_level(element: Element, level: int) -> int:
    rend = element.get("rend") or ""
    return int(rend[1]) if len(rend) == 2 and rend[0] == "h" and rend[1] in "123456" else level + 1


def _is_code_block(element: Element) -> bool:
    """A code element standing alone (not inside a paragraph's text)."""
    parent = element.getparent()
    if parent is None or parent.tag in _INLINE_PARENTS or (element.tail or "").strip():
        return False
    before = element.getprevious()
    return not ((before.tail if before is not None else parent.text) or "").strip()


def _text(element: Element, line_break: str) -> list[str]:
    """The text in ``element``, ``line_break`` for each ``<lb>``."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append(line_break)
        elif isinstance(child.tag, str):
            parts.extend(_text(child, line_break))
        parts.append(child.tail or "")
    return parts


def _is_image_only(cell: Element) -> bool:
    return not text_of(cell) and any(True for _ in cell.iter("graphic"))


def _is_layout(rows: list[list[Element]]) -> bool:
    """A table that lays out a page rather than holding data: a cell holds a heading or a
    table, at most one cell has text, or an icon stands beside text (an image-only cell, and
    no row with text in more than one cell)."""
    cells = [cell for row in rows for cell in row]
    if any(cell.find(".//head") is not None or cell.find(".//table") is not None for cell in cells):
        return True
    texts = [sum(1 for cell in row if text_of(cell)) for row in rows]
    if sum(texts) <= 1:
        return True
    return any(_is_image_only(c) for c in cells) and max(texts, default=0) <= 1


def _cell_text(cell: Element) -> str:
    """A cell's blocks on one line."""
    out = _Renderer()
    out.container(cell, 0)
    out.flush()
    out.end_label()
    return " ".join(line for line, _ in out.lines.entries if line)
