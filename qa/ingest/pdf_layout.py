"""What each line of a PDF is, decided over the whole document: running headers, footers and
page numbers (furniture), footnotes, contents and index entries, headings and their levels.

Lines come from ``qa.ingest.pdf_lines`` with their boxes and font sizes; a line's ``kind``
and ``level`` are set here, and ``qa.ingest.pdf_text`` makes the text of what is left.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from qa.ingest.pdf_lines import Columns, Line

_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_REF = rf"(?:\d{{1,4}}|{_ROMAN})"
_PAGE_NUMBER = re.compile(
    rf"[-–—]?\s*(?:(?:page|seite|pagina|página|p\.|s\.)\s*)?{_REF}"
    r"(?:\s*(?:of|von|de|/)\s*\d{1,4})?\s*[-–—]?",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_ROMAN_WORD = re.compile(rf"\b{_ROMAN}\b", re.IGNORECASE)
_REFS = rf"{_REF}(?:\s*[,–-]\s*{_REF})*"  # "12", "8, 51", "6–8"
_LEADER = re.compile(  # ". . . . 12", "term . . . 8, 51," (index), ". 29 . 30"
    rf"(?:(?:\.\s?){{4,}}|(?:…\s?){{2,}})\s*(?:{_REFS},?)?\s*$|(?:\.\s?){{3}}\s*{_REFS},?\s*$"
    rf"|^(?:\.\s*{_REF}\s*)+$",
    re.IGNORECASE,
)
_ENDS_REF = re.compile(rf"\S\s+{_REF}\s*$", re.IGNORECASE)
_RANGE = r"\d{1,4}(?:\s*[–-]\s*\d{1,4})?f{0,2}"
_INDEX_ENTRY = re.compile(rf"\S.*?,\s*{_RANGE}(?:\s*,\s*{_RANGE})*\s*$")
_NUMBERS = re.compile(rf"{_RANGE}(?:\s*,\s*{_RANGE})*,?")
SECTION = re.compile(r"(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]")
_PROSE_END = re.compile(r"[^\W\d_][\"'’”)]*[.!?:]\s*$")
_TERMINAL = (".", "!", "?", ":", ";", ",")
EDGE_LINES = 2  # lines at a page's top and bottom that may be running headers or footers
EDGE_GAP = 1.4  # a header's distance to the text, in line pitches, at least
BAND_GAP = 2.0  # the same for a header known only by where it stands
SMALLER = 0.86  # a footnote's font size over the body's, at most
LARGER = 1.15  # a heading's font size over the body's, at least


@dataclass(frozen=True)
class Column:
    """A page's text column (points) and the distance between its lines' baselines."""

    left: float
    right: float
    pitch: float


def classify(pages: list[list[Line]], columns: list[Column]) -> float:
    """Mark each line's kind and heading level in place; the body's font size."""
    body_size = _body_size(pages)
    _mark_furniture(pages, columns, body_size)
    contents = False  # the page before was a contents or index page
    for lines, column in zip(pages, columns, strict=True):
        _mark_footnotes(lines, column, body_size)
        contents = _mark_contents(lines, body_size, contents, len(pages))
        _mark_headings(lines, column, body_size)
    _set_levels(pages, body_size)
    return body_size


def body(lines: list[Line]) -> list[Line]:
    """The lines of the page's running text, in PDFium's order."""
    return [ln for ln in lines if ln.kind == "body"]


def _body_size(pages: list[list[Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in pages:
        for ln in body(lines):
            sizes[ln.size] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def column_of(lines: list[Line], page: int, columns: Columns) -> Column:
    """Page ``page``'s column (the usual one of its parity where it has none of its own, or a
    much narrower one: an index in two columns), with the distance between its lines."""
    steps = []
    kept = body(lines)
    for upper, lower in pairwise(kept):  # in reading order: one column
        step = upper.bottom - lower.bottom
        if 0.5 * upper.size < step < 2.5 * upper.size:
            steps.append(step)
    pitch = sorted(steps)[len(steps) // 4] if steps else 12.0  # between lines, not paragraphs
    found, usual = columns.found[page], columns.usual(page % 2) or (0.0, 10_000.0)
    if found is None or found[1] - found[0] < 0.75 * (usual[1] - usual[0]):
        found = usual
    return Column(found[0], found[1], pitch)


# --- running headers, footers, page numbers -------------------------------------------------


def _signature(text: str) -> str:
    """A header's text with its numbers ignored."""
    text = _ROMAN_WORD.sub("#", _DIGITS.sub("#", text.lower()))
    return " ".join(text.split())


def _edges(lines: list[Line]) -> list[list[Line]]:
    """The page's top lines (top down) and bottom lines (bottom up), each list outermost first
    (a page number may stand outside the column)."""
    ordered = sorted(_placed(lines), key=lambda ln: -ln.top)
    return [ordered[:EDGE_LINES], ordered[::-1][:EDGE_LINES]]


def _mark_furniture(pages: list[list[Line]], columns: list[Column], body_size: float) -> None:
    """Running headers and footers and page numbers, set apart from the body at a page's top
    or bottom: kind "furniture". A header's text repeats on other pages (numbers aside), or
    carries the page's number, or stands where other pages' headers stand."""
    seen: Counter[str] = Counter()
    offsets: Counter[int] = Counter()
    bands: Counter[tuple[int, int]] = Counter()
    for n, lines in enumerate(pages):
        seen.update({_signature(ln.text) for edge in _edges(lines) for ln in edge})
        for side, edge in enumerate(_edges(lines)):
            offsets.update(number - n for ln in edge for number in _edge_numbers(ln.text))
            if edge and _set_apart(edge[0], _placed(lines), columns[n], BAND_GAP):
                bands[side, round(edge[0].bottom)] += 1
    repeats = 2 if len(pages) <= 10 else 3
    offset = {o for o, c in offsets.most_common(1) if c >= 2 and c >= 0.1 * len(pages)}
    band = {key for key, c in bands.items() if c >= max(4, 0.3 * len(pages))}
    for n, lines in enumerate(pages):
        rest = _placed(lines)
        for side, edge in enumerate(_edges(lines)):
            for ln in edge:
                if ln.kind == "furniture":  # a page's only line is both its top and bottom
                    continue
                text = ln.text.strip()
                # A page keeps some body: a line is furniture only beside other lines
                # than itself and a page number (two pages that open alike are not headed).
                body = [
                    r for r in rest if r is not ln and not _PAGE_NUMBER.fullmatch(r.text.strip())
                ]
                short = len(text) <= 120 and bool(body)
                if _PAGE_NUMBER.fullmatch(text) or (
                    short
                    and (
                        seen[_signature(text)] >= repeats
                        or any(number - n in offset for number in _edge_numbers(text))
                    )
                ):
                    gap = EDGE_GAP
                elif short and (side, round(ln.bottom)) in band and ln.size <= 1.05 * body_size:
                    gap = BAND_GAP
                else:
                    break
                if not _set_apart(ln, rest, columns[n], gap):
                    break
                ln.kind = "furniture"
                rest.remove(ln)


def _edge_numbers(text: str) -> list[int]:
    """The numbers a line starts and ends with (a page number in a header)."""
    words = text.split()
    return [int(w) for w in {words[0], words[-1]} if w.isdigit() and len(w) <= 4] if words else []


def _placed(lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if ln.kind in ("body", "margin")]


def _set_apart(line: Line, rest: list[Line], column: Column, gap: float) -> bool:
    """True when ``line`` stands ``gap`` times farther from the nearest other line than
    lines of running text stand from each other."""
    others = [ln for ln in rest if ln is not line]
    return not others or min(abs(line.bottom - ln.bottom) for ln in others) >= gap * column.pitch


# --- footnotes, contents and index pages ----------------------------------------------------


def _mark_footnotes(lines: list[Line], column: Column, body_size: float) -> None:
    """The smaller-font lines at the page's foot, below all its running text: kind "foot"."""
    ordered = sorted(body(lines), key=lambda ln: ln.bottom)
    foot: list[Line] = []
    for ln in ordered:
        if ln.size > SMALLER * body_size:
            if foot and ln.bottom - max(f.bottom for f in foot) >= 1.2 * column.pitch:
                for f in foot:
                    f.kind = "foot"
            return
        foot.append(ln)


def _mark_contents(lines: list[Line], body_size: float, after: bool, total: int) -> bool:
    """Contents and index entries (kind "contents"): dot-leader lines anywhere; on a page
    mostly made of lines ending in page numbers or of index entries (half of them, or less
    ``after`` such a page), every line from the first entry to the last but headings and
    prose. True when the page is such a page. Page numbers go up a contents page and stay
    within the document's ``total`` pages (a table of figures does neither)."""
    kept = body(lines)
    leaders = [ln for ln in kept if _LEADER.search(ln.text)]
    for ln in _placed(lines):
        if _LEADER.search(ln.text):
            ln.kind = "contents"
    ends = [ln for ln in kept if _ENDS_REF.search(ln.text)]
    numbers = [int(w) for ln in ends if (w := ln.text.split()[-1]).isdigit()]
    rising = sum(a <= b for a, b in pairwise(numbers))
    if numbers and (max(numbers) > total + 50 or rising < 0.8 * (len(numbers) - 1)):
        ends = []
    entries = [ln for ln in kept if _INDEX_ENTRY.fullmatch(ln.text) or _NUMBERS.fullmatch(ln.text)]
    refs = len(leaders) + max(len(ends), len(entries))
    if refs < (2 if after else 4) or refs < (0.3 if after else 0.5) * len(kept):
        return False
    for ln in lines:  # the other column of a contents page is no margin note
        if ln.kind == "margin":
            ln.kind = "contents"
    found = {id(ln) for ln in [*leaders, *ends, *entries]}
    marked = [k for k, ln in enumerate(kept) if id(ln) in found]
    for k in range(marked[0], marked[-1] + 1):  # the entries and what stands between them
        ln = kept[k]
        words = sum(bool(_WORD.search(w)) for w in ln.text.split())
        prose = words >= 8 and _PROSE_END.search(ln.text) is not None
        title = ln.size >= LARGER * body_size or ln.bold
        if k in marked or not (prose or title):
            ln.kind = "contents"
    for ln in kept:  # an index's letters ("A", "B"), wherever they stand
        if len(ln.text.strip()) <= 2:
            ln.kind = "contents"
    return True


# --- headings -------------------------------------------------------------------------------


def _mark_headings(lines: list[Line], column: Column, body_size: float) -> None:
    """Lines set larger or bold, or a numbered section title on its own line: level 9 for
    now (``_set_levels`` sets the real one)."""
    kept = body(lines)
    bold_body = sum(len(ln.text) for ln in kept if ln.bold) > 0.5 * sum(len(ln.text) for ln in kept)
    above: Line | None = None
    for ln in sorted(kept, key=lambda ln: -ln.top):
        text = ln.text.strip()
        letters = len(_WORD.findall(text))
        short = len(text) <= 120 and not text.endswith(_TERMINAL[:1] + _TERMINAL[3:])
        apart = above is None or above.bottom - ln.bottom >= 1.3 * column.pitch
        full = ln.right >= column.right - 2 * ln.size
        big = ln.size >= LARGER * body_size
        alone = len(text) <= 80 and not full  # a line of its own
        titled = (ln.bold and not bold_body) or (SECTION.match(text) is not None and apart)
        if letters >= 2 and short and (big or (alone and titled)):
            ln.level = 9
        above = ln


def _set_levels(pages: list[list[Line]], body_size: float) -> None:
    """Heading levels: a numbered title's depth ("3.2" is 2); others by font size, the sizes
    numbered titles use keeping their depth, larger sizes above, smaller below."""
    heads = [ln for lines in pages for ln in body(lines) if ln.level]
    depth_of: dict[float, Counter[int]] = {}
    for ln in heads:
        m = SECTION.match(ln.text.strip())
        if m:
            depth_of.setdefault(ln.size, Counter())[m.group(1).count(".") + 1] += 1
    by_size = {size: c.most_common(1)[0][0] for size, c in depth_of.items()}
    sizes = sorted({ln.size for ln in heads}, reverse=True)
    for ln in heads:
        m = SECTION.match(ln.text.strip())
        if m:
            ln.level = min(m.group(1).count(".") + 1, 6)
        elif ln.size in by_size:
            ln.level = by_size[ln.size]
        else:
            above = [d for s, d in by_size.items() if s > ln.size]
            below = [d for s, d in by_size.items() if s < ln.size]
            rank = sizes.index(ln.size) + 1
            level = max(above) + 1 if above else (min(below) - 1 if below else rank)
            ln.level = max(1, min(level, 6))
