"""Text laid out as lines, with the spans of its heading lines: what the DOCX and HTML readers
build, and how both write a table row (each cell after its column's header)."""

from __future__ import annotations

from collections.abc import Sequence

from qa.ingest.document import Heading, ReadText


class Lines:
    """A document's lines in order, each a heading (with its level, 1 = top) or not."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, int]] = []  # (line, heading level; 0: not a heading)

    def add(self, line: str, level: int = 0) -> None:
        """Append ``line`` (no newline in it); a heading when ``level`` > 0 and it has text."""
        self.entries.append((line, level if line.strip() else 0))

    def build(self, spaced: bool = False) -> ReadText:
        """The lines joined by newlines and the heading spans (the heading line without the
        whitespace around it); with ``spaced``, a blank line before every heading but the first
        line."""
        parts: list[str] = []
        headings: list[Heading] = []
        at = 0
        for line, level in self.entries:
            if parts:
                gap = "\n\n" if spaced and level else "\n"
                parts.append(gap)
                at += len(gap)
            if level:
                lead = len(line) - len(line.lstrip())
                headings.append((at + lead, at + len(line.rstrip()), level))
            parts.append(line)
            at += len(line)
        return ReadText("".join(parts), headings=tuple(headings))


def table_lines(rows: Sequence[Sequence[str]], header: bool = True) -> list[str]:
    """A table as lines: with ``header`` (its first row names the columns), that row, then
    each row with every non-empty cell after its column's header (``Fare: Return | Adult: 7
    shillings``), so a row quoted alone still says what it holds. A row whose cells do not
    match the header's, and every row of a table without one, is its non-empty cells joined
    by " | "."""
    first = rows[0] if rows else []
    if not header or len(rows) < 2 or len(set(first)) != len(first) or not all(first):
        return [_joined(cells) for cells in rows]
    out = [_joined(first)]
    for cells in rows[1:]:
        if len(cells) == len(first):
            out.append(
                _joined([f"{h}: {c}" if c else "" for h, c in zip(first, cells, strict=True)])
            )
        else:
            out.append(_joined(cells))
    return out


def _joined(cells: Sequence[str]) -> str:
    return " | ".join(cell for cell in cells if cell)
