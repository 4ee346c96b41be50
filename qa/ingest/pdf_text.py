"""A PDF's text made from its classified lines, and the map back to PDFium's characters.

Lines of a paragraph are joined by a space (by nothing where a word was hyphenated over the
line end: the hyphen stays when the document writes the word with one elsewhere), paragraphs
and headings end with a newline, and a paragraph runs on over a page break. Margin notes and
footnotes are lines of their own: a note beside a paragraph's first line comes before the
paragraph, any other after it. Every character of the text maps to the PDFium character that
shows it (page, index), or to none for the spaces and newlines put between lines.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.ingest.document import Heading, ReadText
from qa.ingest.pdf_layout import SECTION, Column, body
from qa.ingest.pdf_lines import SOFT_HYPHEN, Line, is_note

HYPHENS = SOFT_HYPHEN + "\u00ad-\u2010"  # at a line's end: PDFium's mark, soft, hard
_LEFT_WORD = re.compile(r"[^\W\d_]+(?:[-\u2010][^\W\d_]+)*$")
_RIGHT_WORD = re.compile(r"^[^\W\d_]+")
_WORDS = re.compile(r"[^\W\d_]+(?:[-\u2010][^\W\d_]+)*")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'’”»)\]]*$")
_BULLET = re.compile(r"^[•◦▪‣∙·*–—-]\s")


@dataclass(frozen=True)
class TextMap:
    """For each character of a PDF's text: its 0-based page and PDFium character index
    (both -1 for a separator put in)."""

    pages: array[int]
    indexes: array[int]

    def locate(self, start: int, end: int) -> tuple[int, list[int]] | None:
        """The 1-based page of the first shown character of ``start:end``, and the PDFium
        indexes of the span's characters on that page; None when none is shown."""
        span = range(max(start, 0), min(end, len(self.indexes)))
        page = next((self.pages[k] for k in span if self.indexes[k] >= 0), None)
        if page is None:
            return None
        return page + 1, [self.indexes[k] for k in span if self.pages[k] == page]


@dataclass
class _Para:
    lines: list[Line]
    before: list[_Para] = field(default_factory=list)
    after: list[_Para] = field(default_factory=list)


def assemble(
    pages: list[list[Line]], columns: list[Column], with_map: bool = True
) -> tuple[ReadText, TextMap]:
    """The text, page starts and headings of classified ``pages``, and its map (left empty
    unless ``with_map``: a reader has no use for it)."""
    vocabulary = _vocabulary(pages)
    paras = _paragraphs([ln for lines in pages for ln in body(lines)], columns)
    first_of = {id(p.lines[0]): p for p in paras}
    para_of = {id(ln): p for p in paras for ln in p.lines}
    front: list[_Para] = []
    last: _Para | None = None
    for n, lines in enumerate(pages):
        kept = body(lines)
        for note in _margin_notes(lines, columns[n]):
            anchor = _anchor(note.lines[0], kept)
            if anchor is None:
                (last.after if last else front).append(note)
            elif id(anchor) in first_of:
                first_of[id(anchor)].before.append(note)
            else:
                para_of[id(anchor)].after.append(note)
        last = para_of[id(kept[-1])] if kept else last
        feet = _paragraphs([ln for ln in lines if ln.kind == "foot"], columns)
        (last.after if last else front).extend(feet)
    out = _Out(vocabulary, len(pages), with_map)
    for note in front:
        out.para(note)
    for para in paras:
        for note in para.before:
            out.para(note)
        out.para(para)
        for note in para.after:
            out.para(note)
    return out.result()


def _vocabulary(pages: list[list[Line]]) -> Counter[str]:
    """How often each word (lower case, hyphenated compounds whole) is written in the text."""
    words: Counter[str] = Counter()
    for lines in pages:
        for ln in lines:
            if ln.kind in ("body", "foot", "margin"):
                words.update(w.lower() for w in _WORDS.findall(ln.text))
    return words


def _paragraphs(lines: list[Line], columns: list[Column]) -> list[_Para]:
    paras: list[_Para] = []
    for ln in lines:
        if paras and _continues(paras[-1].lines[-1], ln, columns):
            paras[-1].lines.append(ln)
        else:
            paras.append(_Para([ln]))
    return paras


def _continues(prev: Line, line: Line, columns: list[Column]) -> bool:
    """True when ``line`` goes on with ``prev``'s paragraph (or heading)."""
    if prev.level or line.level:
        return (
            prev.level == line.level
            and prev.page == line.page
            and abs(prev.size - line.size) < 0.3
            and 0 < prev.bottom - line.bottom <= 1.8 * prev.size
            and not SECTION.match(line.text)
        )
    column = columns[prev.page]
    if prev.page == line.page:
        step = prev.bottom - line.bottom
        if step > 1.4 * column.pitch:
            return False  # a space between: a new paragraph, a display
        if step < -0.5 * prev.size and column.right - prev.right > 1.5 * prev.size:
            return False  # back up the page, from a short line: a float, another column
    # a block set narrower than the column (a quotation) has its own right edge
    right = max(prev.right, line.right, column.right - 0.15 * (column.right - column.left))
    text = prev.text.rstrip()
    if _hyphenated(text, line.text):
        return True
    if text.endswith(":") or _BULLET.match(line.text) or (prev.gappy and line.gappy):
        return False  # a list, a table's rows
    if prev.page != line.page:  # a sentence left unfinished at a page's foot runs on
        return not _ENDS_SENTENCE.search(text) and not text.endswith(";") and not prev.gappy
    slack = right - prev.right
    if slack > line.lead + 0.6 * line.size:
        return False  # the next line's first word would have fitted: the paragraph ended
    if slack > 1.5 * prev.size and _ENDS_SENTENCE.search(text):
        return False
    indented = line.left > prev.left + 0.8 * line.size
    return not (indented and _ENDS_SENTENCE.search(text))


def _hyphenated(text: str, following: str) -> bool:
    """True when ``text`` ends with a word cut by a hyphen that ``following`` completes."""
    if len(text) < 2 or text[-1] not in HYPHENS or not text[-2].isalpha():
        return False
    soft = text[-1] in (SOFT_HYPHEN, "\u00ad")
    return following[:1].isalpha() and (soft or following[:1].islower())


def _margin_notes(lines: list[Line], column: Column) -> list[_Para]:
    """The page's margin notes: pieces in the margin, those close above each other joined."""
    pieces = [ln for ln in lines if ln.kind == "margin"]
    pieces += [note for ln in body(lines) for note in ln.notes]
    pieces = [ln for ln in pieces if is_note(ln.text)]  # not an icon, a page number
    pieces.sort(key=lambda ln: -ln.top)
    notes: list[_Para] = []
    for piece in pieces:
        side = piece.right <= column.left
        if notes:
            above = notes[-1].lines[-1]
            same_side = (above.right <= column.left) == side
            if same_side and above.bottom - piece.top <= 0.8 * piece.size:
                notes[-1].lines.append(piece)
                continue
        notes.append(_Para([piece]))
    return notes


def _anchor(note: Line, lines: list[Line]) -> Line | None:
    """The body line beside ``note``: the one it shares most height with, else the nearest."""
    if not lines:
        return None
    best = max(lines, key=note.overlap)
    if note.overlap(best) > 0:
        return best
    middle = (note.top + note.bottom) / 2
    return min(lines, key=lambda ln: abs((ln.top + ln.bottom) / 2 - middle))


class _Out:
    """The text being written, its map, page starts and headings."""

    def __init__(self, vocabulary: Counter[str], pages: int, with_map: bool) -> None:
        self.vocabulary = vocabulary
        self.with_map = with_map
        self.parts: list[str] = []
        self.length = 0
        self.pages = array("i")
        self.indexes = array("i")
        self.starts: list[int | None] = [None] * pages
        self.headings: list[Heading] = []

    def put(self, text: str, page: int, indexes: Sequence[int]) -> None:
        if not text:
            return
        if page >= 0 and self.starts[page] is None:
            self.starts[page] = self.length
        self.parts.append(text)
        self.length += len(text)
        if not self.with_map:
            return
        self.indexes.extend(indexes)
        if page >= 0 and -1 not in indexes:
            self.pages.extend([page] * len(text))
        else:
            self.pages.extend(page if i >= 0 else -1 for i in indexes)

    def separator(self, text: str) -> None:
        self.put(text, -1, [-1] * len(text))

    def para(self, para: _Para) -> None:
        """One paragraph (or heading, or note) on a line of its own."""
        if self.length:
            self.separator("\n")
        start = self.length
        lines = para.lines
        for k, ln in enumerate(lines):
            text, index = ln.text, ln.index
            following = lines[k + 1].text if k + 1 < len(lines) else ""
            if following and _hyphenated(text, following):
                keep = self._keeps_hyphen(text, following)
                self.put(text[:-1].replace(SOFT_HYPHEN, "-"), ln.page, index[:-1])
                if keep:
                    self.put("-", ln.page, index[-1:])
                continue
            self.put(text.replace(SOFT_HYPHEN, "-"), ln.page, index)
            if following:
                self.separator(" ")
        if lines[0].level:
            self.headings.append((start, self.length, lines[0].level))

    def _keeps_hyphen(self, text: str, following: str) -> bool:
        """Whether the word cut at the end of ``text`` keeps its hyphen when joined: as the
        document writes it elsewhere; when it does not, only before a capital ("Debian-Paket")."""
        left = _LEFT_WORD.search(text[:-1])
        right = _RIGHT_WORD.search(following)
        if left is None or right is None:
            return True
        joined = self.vocabulary[(left.group() + right.group()).lower()]
        hyphenated = self.vocabulary[f"{left.group()}-{right.group()}".lower()]
        if joined != hyphenated:
            return hyphenated > joined
        return right.group()[0].isupper()

    def result(self) -> tuple[ReadText, TextMap]:
        text = "".join(self.parts)
        starts: list[int] = []
        for n in range(len(self.starts) - 1, -1, -1):  # a page without text: where the next starts
            found = self.starts[n]
            starts.append(found if found is not None else (starts[-1] if starts else len(text)))
        starts.reverse()
        for n in range(1, len(starts)):
            starts[n] = max(starts[n], starts[n - 1])
        starts[0] = 0
        read = ReadText(text, tuple(starts), tuple(self.headings))
        return read, TextMap(self.pages, self.indexes)
