"""One PDF page as visual lines: PDFium's characters grouped by their boxes, each line with
its position, font size and weight, and the notes in the page's margins split from the body.

PDFium's own lines are not the page's: it joins two lines where it finds a hyphen (marked
U+FFFE), splits a line at a superscript, and puts a margin note and the body line beside it
on one line. Lines here are rebuilt from the boxes of each word's first and last characters
(asking PDFium for every character's box would cost three times as much); every character
keeps its PDFium index, so any text made of lines maps back to the boxes that show it.
"""

from __future__ import annotations

import ctypes
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\uffff]")
_SEGMENT = re.compile(r"[^\r\n]+")
_WORD = re.compile(r"[^\s\ufffe]+\ufffe?|\ufffe")  # PDFium's hyphen ends a word
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi|medi", re.IGNORECASE)
_NUMBERING = re.compile(r"\(?(?:\d+(?:\.\d+)*|[ivxlcdm]+|[IVXLCDM]+|[a-zA-Z])[.)]?")
SOFT_HYPHEN = "\ufffe"  # what PDFium puts for a hyphen it found at a line's end
MARGIN_SHARE = 0.35  # more of the page's characters outside its column: a second column
SIZES, WEIGHTS = 6, 3  # words of a line whose font size, font weight is asked for


Word = tuple[int, int, float, float]  # start, end (in the line's text), left, right


@dataclass(slots=True)
class Line:
    """A visual line: its text (one character per PDFium character in ``index``; -1 for a
    space put between two pieces), its box in PDF points, font size and weight."""

    page: int  # 0-based
    text: str
    index: range | array[int]  # a range unless pieces were joined
    left: float
    right: float
    bottom: float
    top: float
    size: float = 0.0
    bold: bool = False
    kind: str = "body"  # body | margin | furniture | foot | contents | duplicate
    level: int = 0  # heading level (1 = top), 0 when not a heading
    notes: tuple[Line, ...] = ()  # margin notes split from this line
    words: Sequence[Word] = ()  # while the page is read
    lead: float = 0.0  # the width of its first word
    gappy: bool = False  # spaces wider than a word space inside: a table's row

    @property
    def height(self) -> float:
        return self.top - self.bottom

    def overlap(self, other: Line) -> float:
        """How much of the lower of the two lines' heights they share vertically."""
        shared = min(self.top, other.top) - max(self.bottom, other.bottom)
        return shared / max(min(self.height, other.height), 0.1)


class Columns:
    """The text column of each page read: the one most pages of its parity read before have
    when the page's own is near it (a page of indented lists seems to start farther right),
    else its own (None: too few lines to tell)."""

    def __init__(self) -> None:
        self.seen: tuple[Counter[tuple[float, float]], Counter[tuple[float, float]]] = (
            Counter(),
            Counter(),
        )
        self.found: list[tuple[float, float] | None] = []

    def settle(self, page: int, own: tuple[float, float] | None) -> tuple[float, float] | None:
        """The column of ``page`` (the next one read), found to be ``own`` on it alone."""
        usual = self.usual(page % 2, 2)
        seen = self.usual(page % 2)
        if own is not None:
            self.seen[page % 2][(round(own[0] / 2) * 2.0, round(own[1] / 2) * 2.0)] += 1
        column = own
        if usual is not None and (own is None or _near(own, usual)):
            column = usual
        elif seen is not None and (own is None or own[1] - own[0] < 0.75 * (seen[1] - seen[0])):
            column = seen  # a page of a few short lines
        self.found.append(column)
        return column

    def usual(self, parity: int, least: int = 1) -> tuple[float, float] | None:
        """The column most pages of ``parity`` have, if at least ``least`` have it."""
        common = self.seen[parity].most_common(1)
        return common[0][0] if common and common[0][1] >= least else None


def _near(one: tuple[float, float], other: tuple[float, float]) -> bool:
    return abs(one[0] - other[0]) <= 20 and abs(one[1] - other[1]) <= 20


def page_lines(textpage: Any, page: int, columns: Columns) -> list[Line]:
    """The page's visual lines in PDFium's order, margin notes split off (kind "margin"),
    text drawn twice in one place (kind "duplicate") marked."""
    text = _CONTROL.sub(" ", char_text(textpage))
    boxes = _Boxes(textpage.raw)
    lines: list[Line] = []
    for segment in _SEGMENT.finditer(text):
        words: list[tuple[int, int, tuple[float, float, float, float]]] = []
        bottom = top = 0.0
        for word in _WORD.finditer(text, segment.start(), segment.end()):
            box = boxes.word(word.start(), word.end())
            if box is None:
                continue
            if words:
                shared = min(top, box[3]) - max(bottom, box[2])
                if (
                    shared < 0.3 * min(top - bottom, box[3] - box[2])
                    and box[0] < words[-1][2][1] - 1
                ):
                    # below (or above) the line so far, back at its left: the next line
                    # (PDFium joins the lines of a hyphenated word)
                    lines.append(_line(boxes, text, words, page))
                    words = []
            if words:
                bottom, top = min(bottom, box[2]), max(top, box[3])
            else:
                bottom, top = box[2], box[3]
            words.append((word.start(), word.end(), box))
        if words:
            lines.append(_line(boxes, text, words, page))
    lines = _merge_fragments(lines)
    _mark_duplicates(lines)
    column = columns.settle(page, body_column(lines))
    if column is not None:
        _split_margins(lines, *column)
    for line in lines:  # the words' x were needed for the margins, gaps and first words only
        line.lead = line.words[0][3] - line.left if line.words else 0.0
        line.gappy = any(
            b[2] - a[3] > 1.5 * line.size for a, b in zip(line.words, line.words[1:], strict=False)
        )
        line.words = ()
    return lines


def char_text(textpage: Any) -> str:
    """The page's text, one character per PDFium character (its index in the page's list):
    PDFium's text leaves out characters with no Unicode value, and what follows them shifts;
    those become spaces here."""
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count > 0 else ""
    to_text = pdfium_c.FPDFText_GetTextIndexFromCharIndex
    if len(text) == count and (count == 0 or to_text(textpage.raw, count - 1) == count - 1):
        return text
    at = [to_text(textpage.raw, i) for i in range(count)]
    return "".join(text[t] if 0 <= t < len(text) else " " for t in at)


class _Boxes:
    """PDFium's boxes and fonts of a page's characters."""

    def __init__(self, raw: Any) -> None:
        import pypdfium2.raw as pdfium_c

        self.c, self.raw = pdfium_c, raw
        self.rect = pdfium_c.FS_RECTF()
        self.ref = ctypes.byref(self.rect)
        self.name = ctypes.create_string_buffer(128)
        self.flags = ctypes.c_int()

        self.get_box = pdfium_c.FPDFText_GetLooseCharBox

    def char(self, i: int) -> tuple[float, float, float, float] | None:
        """``(left, right, bottom, top)`` of character ``i`` (its font's height), or None."""
        self.get_box(self.raw, i, self.ref)
        r = self.rect
        return (r.left, r.right, r.bottom, r.top) if r.right > r.left and r.top > r.bottom else None

    def word(self, start: int, end: int) -> tuple[float, float, float, float] | None:
        """The box of characters ``start:end`` from the first and last that have one."""
        first = self.char(start)
        if first is None:
            first = next((b for i in range(start + 1, end) if (b := self.char(i))), None)
            if first is None:
                return None
        if end - start == 1:
            return first
        last = self.char(end - 1)
        if last is None:
            last = next((b for i in range(end - 2, start, -1) if (b := self.char(i))), first)
        return first[0], last[1], min(first[2], last[2]), max(first[3], last[3])

    def font(self, i: int, weight: bool) -> tuple[float, bool]:
        """The size of character ``i``'s font, and (when ``weight``) whether it is bold."""
        size = self.c.FPDFText_GetFontSize(self.raw, i)
        if not weight:
            return size, False
        value = self.c.FPDFText_GetFontWeight(self.raw, i)
        if value > 0:
            return size, value >= 600
        self.c.FPDFText_GetFontInfo(
            self.raw, i, self.name, len(self.name), ctypes.byref(self.flags)
        )
        return size, bool(_BOLD_NAME.search(self.name.value.decode("latin-1")))  # Helvetica-Bold


def _line(
    boxes: _Boxes,
    text: str,
    words: list[tuple[int, int, tuple[float, float, float, float]]],
    page: int,
) -> Line:
    """The line of ``words`` (and the spaces between them)."""
    start, end = words[0][0], words[-1][1]
    sizes: dict[float, int] = {}  # font size: characters set in it (of the words asked)
    bold = 0
    step = -(-len(words) // SIZES)  # ceiling
    for k in range(0, len(words), step):
        a, b, _ = words[k]
        size, heavy = boxes.font(a, k % (step * (SIZES // WEIGHTS)) == 0)
        size = round(size, 1)
        sizes[size] = sizes.get(size, 0) + b - a
        bold += heavy
    total = sum(sizes.values())
    return Line(
        page=page,
        text=text[start:end],
        index=range(start, end),
        left=min(w[2][0] for w in words),
        right=max(w[2][1] for w in words),
        bottom=min(w[2][2] for w in words),
        top=max(w[2][3] for w in words),
        size=max(size for size, n in sizes.items() if n >= 0.3 * total),  # a heading's, not
        bold=bold >= 0.7 * len(range(0, len(words), step * (SIZES // WEIGHTS))),
        words=[(a - start, b - start, box[0], box[1]) for a, b, box in words],
    )


def _merge_fragments(lines: list[Line]) -> list[Line]:
    """Pieces PDFium broke out of one visual line (a superscript, a footnote's mark) joined,
    with a space (index -1) where the gap between them shows one."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (
            prev is not None
            and line.left >= prev.right - 1.0
            and line.left - prev.right <= 2.0 * max(prev.size, line.size)
            and prev.overlap(line) >= 0.5
        ):
            gap = line.left - prev.right > 0.15 * line.size
            at = len(prev.text) + gap
            prev.text += (" " if gap else "") + line.text
            prev.index = array("i", [*prev.index, *([-1] if gap else []), *line.index])
            prev.words = [*prev.words, *((a + at, b + at, x, y) for a, b, x, y in line.words)]
            if len(line.text) > len(prev.text) // 2:
                prev.size = max(prev.size, line.size)
            prev.right, prev.top = line.right, max(prev.top, line.top)
            prev.bottom = min(prev.bottom, line.bottom)
            continue
        out.append(line)
    return out


def _mark_duplicates(lines: list[Line]) -> None:
    """Lines drawn over an earlier line (hidden layers, fake bold): kind "duplicate"."""
    kept: dict[int, list[Line]] = {}  # by their bottom, in steps of 4 points
    for line in lines:
        at = int(line.bottom // 4)
        near = [ln for k in range(at - 2, at + 3) for ln in kept.get(k, ())]
        for other in near:
            width = min(line.right, other.right) - max(line.left, other.left)
            if (
                width > 0.6 * (line.right - line.left)
                and line.overlap(other) > 0.6
                and len(line.text) > 3
            ):
                line.kind = "duplicate"
                break
        else:
            kept.setdefault(at, []).append(line)


def body_column(lines: list[Line]) -> tuple[float, float] | None:
    """``(left, right)`` of the page's text column: the leftmost edge that three wide lines
    start at (notes in the margin are narrow, indented lines start farther right), and the
    right edge of the lines starting there; None on a page with too few lines to tell."""
    body = [ln for ln in lines if ln.kind == "body"]
    if len(body) < 4:
        return None
    widest = max(ln.right - ln.left for ln in body)
    wide = sorted(ln.left for ln in body if ln.right - ln.left >= 0.4 * widest)
    need = min(3, len(wide))
    starts = [x for k, x in enumerate(wide[: len(wide) - need + 1]) if wide[k + need - 1] - x <= 3]
    left = starts[0] if starts else wide[0]
    rights = sorted(ln.right for ln in body if left - 2 <= ln.left <= left + 40)
    return left, rights[int(0.9 * (len(rights) - 1))]


def _split_margins(lines: list[Line], left: float, right: float) -> None:
    """Text outside the page's column becomes margin notes: whole lines (kind "margin"), or
    words at the head or tail of a body line (moved to its ``notes``)."""
    outside = 0
    plan: list[tuple[Line, int, int]] = []  # line, words in the left margin, in the right
    for line in lines:
        if line.kind != "body":
            continue
        if line.right < left - 2 or line.left > right + 2:
            plan.append((line, 0, 0))
            outside += len(line.text)
            continue
        words = line.words
        head = _margin_words(words, lambda w: w[3] < left - 2, lambda w: w[2] >= left - 1.5)
        tail = _margin_words(words[::-1], lambda w: w[2] > right + 2, lambda w: w[3] <= right + 1.5)
        head = head if head and is_note(line.text[: words[head - 1][1]]) else 0
        tail = tail if tail and is_note(line.text[words[len(words) - tail][0] :]) else 0
        if head or tail:
            plan.append((line, head, tail))
            outside += len(line.text) - (words[len(words) - tail - 1][1] - words[head][0])
    if outside > MARGIN_SHARE * sum(len(ln.text) for ln in lines if ln.kind == "body"):
        return  # two columns, or a page of notes: no margin to speak of
    for line, head, tail in plan:
        if head == tail == 0:
            line.kind = "margin"
            continue
        words = line.words
        start, end = words[head][0], words[len(words) - tail - 1][1]
        if head:
            line.notes += (_cut(line, 0, words[head - 1][1]),)
        if tail:
            line.notes += (_cut(line, words[len(words) - tail][0], len(line.text)),)
        line.text, line.index = line.text[start:end], line.index[start:end]
        line.words = [
            (a - start, b - start, x, y) for a, b, x, y in words[head : len(words) - tail]
        ]
        line.left, line.right = line.words[0][2], line.words[-1][3]


def _margin_words(words: Sequence[Word], outside: Any, at_edge: Any) -> int:
    """How many of ``words`` (from the line's start, or reversed from its end) stand in the
    margin as a note: those before the first word at the column's edge, when they are not a
    bullet or a hanging section number and leave the line a word of the body."""
    count = next((k for k, w in enumerate(words) if not outside(w)), len(words))
    if count == 0 or count == len(words) or not at_edge(words[count]):
        return 0  # none, all (a whole line is checked apart), or a heading's number hangs
    return count


def _cut(line: Line, start: int, end: int) -> Line:
    """Characters ``start:end`` of ``line`` as a margin note of their own."""
    return Line(
        page=line.page,
        text=line.text[start:end],
        index=line.index[start:end],
        left=line.left,
        right=line.right,
        bottom=line.bottom,
        top=line.top,
        size=line.size,
        kind="margin",
    )


def is_note(text: str) -> bool:
    """A margin note's text: a word or more, not a bullet, an icon or a section number."""
    words = text.strip()
    return sum(ch.isalnum() for ch in words) >= 2 and not _NUMBERING.fullmatch(words)
