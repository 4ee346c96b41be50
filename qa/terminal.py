"""Answers on a terminal: the streamed draft, then the verified answer with its numbered
sources; everything printed with control characters escaped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from qa.schema import Answer
from qa.text import in_quotes, printable


def print_streamed(events: object) -> None:
    """Show deltas as they come (on a terminal), then the verified answer with its sources.

    The streamed draft is drawn by rich's ``Live`` and erased when the answer is verified, so
    a draft that wrapped over several rows is erased whole (never its first row left behind);
    a draft taller than the terminal shows its last rows."""
    answer: Answer | None = None
    live: Any = None
    draft = ""
    try:
        for event in events:  # type: ignore[attr-defined]
            if isinstance(event, Answer):
                answer = event
            elif isinstance(event, str) and sys.stdout.isatty():
                if live is None:
                    live = _live_draft()
                draft += event
                live.update(_Tail(draft), refresh=True)
    finally:
        if live is not None:
            live.stop()
    if answer is not None:
        escaped_print(format_answer(answer))


def _live_draft() -> Any:
    """A transient ``rich.live.Live`` on stdout, refreshed by the caller only."""
    from rich.console import Console
    from rich.live import Live

    live = Live(console=Console(), auto_refresh=False, transient=True)
    live.start()
    return live


class _Tail:
    """Rich renderable: ``text`` wrapped to the terminal, its last rows when it is taller."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment
        from rich.text import Text

        lines = console.render_lines(Text(self.text), options, pad=False)
        for line in lines[-max(1, console.size.height - 1) :]:
            yield from line
            yield Segment.line()


def escaped_print(*values: object, **kwargs: Any) -> None:
    """``print`` with control characters escaped: nothing a document, a file name or an
    error holds can clear, recolour or retitle the terminal."""
    print(*(printable(str(v)) for v in values), **kwargs)


def format_answer(answer: Answer) -> str:
    """The answer, then its numbered sources (or the closest passages after an abstention)."""
    lines = [answer.text]
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.incomplete:
        lines.append("(the answer was cut off before it was finished)")
    for s in answer.flagged:
        lines.append(f"  ! unsupported: {s.text} — {s.flag}")
    if answer.unsupported:
        lines.append("Not supported by the documents, so left out of the answer:")
        lines += [f"  - {text}" for text in answer.unsupported]
    if answer.citations:
        lines.append("")
        for n, c in enumerate(answer.citations, start=1):
            inferred = ", inferred: the model wrote no marker" if c.inferred else ""
            lines.append(
                f"[{n}] {_where(c.source, c.page, c.start, c.end, c.page_end)} "
                f"(score {c.score:.2f}{inferred})"
            )
            lines.append(f"    {in_quotes(c.quote)}")
    elif answer.passages:
        lines.append("")
        lines.append("Closest passages:")
        for p in answer.closest():
            start, end = (p.chunk.start, p.chunk.end) if p.best is None else p.best
            where = _where(p.chunk.source, p.chunk.page_at(start), start, end)
            lines.append(f"  {where} (score {p.score:.2f})")
            text = " ".join(p.best_text.split())
            lines.append(f"    {in_quotes(text if len(text) <= 240 else text[:239] + '…')}")
    return "\n".join(lines)


def _where(source: str, page: int | None, start: int, end: int, page_end: int | None = None) -> str:
    """``notes.md:120-180``; for paged formats ``guide.pdf:2 (chars 120-180)``, plus where a
    quote that runs over a page break ends."""
    name = printable(source, one_line=True)
    if page is None:
        return f"{name}:{start}-{end}"
    runs_on = f", continues on p. {page_end}" if page_end and page_end > page else ""
    return f"{name}:{page} (chars {start}-{end}{runs_on})"
