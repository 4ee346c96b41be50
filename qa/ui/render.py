"""Pure functions turning answers, conversations and corpus state into HTML for the chat UI.

Everything that comes from a document, a file name, a question or an LLM is untrusted: it goes
through ``esc`` (HTML-escaped, plus ``{ } $ `` ` so no template language sees syntax in it). The
only markup produced here is our own; links point at in-page anchors (``#cite-T-N``), never at
another host, and no image is ever emitted. Answer text also loses Markdown/HTML images and every
URL not written in its passages (``qa.injection.drop_untrusted_links``), so not even their
text reaches a reader who might paste it somewhere that renders it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from qa.cite import MARKER, marker_numbers
from qa.injection import drop_untrusted_links
from qa.prompts import NOT_IN_DOCUMENTS
from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.store import FileState
from qa.text import in_quotes

CONTEXT_CHARS = 280  # characters of surrounding text shown on each side of a quote
EXCERPT_CHARS = 420  # characters of a passage shown after an abstention
CLOSEST_SHOWN = 3
QUESTION_SHOWN_CHARS = 200  # a longer question is cut in the sources panel

_EXTRA_ESCAPES = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"})
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")

SourceText = Callable[[str], str | None]  # a corpus file's current text, by source path


def esc(text: str) -> str:
    """Escape untrusted text for HTML element content and quoted attribute values."""
    return html.escape(text, quote=True).translate(_EXTRA_ESCAPES)


@dataclass
class Exchange:
    """One exchange as the UI shows it: the question, then streamed text, an answer or an error."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    error: str | None = None


@dataclass
class Conversation:
    """The turns of one browser session (numbered from 1 in anchors and the sources panel)."""

    turns: list[Exchange] = field(default_factory=list)

    def answered(self) -> list[tuple[int, Answer]]:
        """``(turn number, answer)`` for every turn that has a final answer."""
        return [(n, t.answer) for n, t in enumerate(self.turns, start=1) if t.answer]


# --- chat messages --------------------------------------------------------------------------


def messages(conv: Conversation) -> list[dict[str, str]]:
    """The conversation in ``gr.Chatbot`` messages format (content is HTML)."""
    out: list[dict[str, str]] = []
    for n, turn in enumerate(conv.turns, start=1):
        out.append({"role": "user", "content": f'<div class="qa-q">{esc(turn.question)}</div>'})
        out.append({"role": "assistant", "content": turn_html(turn, n)})
    return out


def turn_html(turn: Exchange, n: int) -> str:
    """The assistant side of one turn: the final answer, the streamed text so far, or an error."""
    if turn.answer is not None:
        return answer_html(turn.answer, n)
    if turn.error is not None:
        return f'<div class="qa-answer qa-error" role="alert">⚠ {esc(turn.error)}</div>'
    partial = drop_untrusted_links(turn.partial, ())
    text = esc(partial) if partial else '<span class="qa-wait">Searching…</span>'
    return (
        f'<div class="qa-answer qa-streaming" aria-busy="true">'
        f'<p class="qa-text">{text}<span class="qa-cursor">▍</span></p></div>'
    )


def notice_html(text: str) -> str:
    """A message above the question box (why a question was not asked); empty clears it."""
    return f'<p class="qa-notice" role="alert">⚠ {esc(text)}</p>' if text else ""


def answer_html(answer: Answer, turn: int) -> str:
    """A final answer: sentences with clickable ``[n]`` markers, flags, notices."""
    classes = "qa-answer qa-abstained" if answer.abstained else "qa-answer"
    sources = [p.chunk.text for p in answer.passages]
    if answer.sentences:
        body = " ".join(_sentence_html(s, answer, turn, sources) for s in answer.sentences)
    else:
        text = drop_untrusted_links(answer.text or NOT_IN_DOCUMENTS, sources)
        body = _text_with_markers(text, answer, turn)
    parts = [f'<div class="{classes}" data-turn="{turn}">', f'<p class="qa-text">{body}</p>']
    flagged = answer.flagged
    if flagged:
        count = f"{len(flagged)} sentence{'s' if len(flagged) > 1 else ''}"
        reasons = "; ".join(sorted({esc(s.flag or "") for s in flagged}))
        parts.append(
            f'<p class="qa-note qa-note-flag">⚠ {count} not supported by the cited sources '
            f"({reasons}).</p>"
        )
    if answer.unsupported:
        items = "".join(f"<li>{esc(text)}</li>" for text in answer.unsupported)
        parts.append(
            '<div class="qa-note qa-note-flag qa-unsupported">Not supported by the documents, '
            f"so left out of the answer:<ul>{items}</ul></div>"
        )
    if answer.incomplete:
        parts.append(
            '<p class="qa-note qa-note-warn">⚠ The answer was cut off before it was finished.</p>'
        )
    if answer.notice:
        parts.append(f'<p class="qa-note">ℹ {esc(answer.notice)}</p>')
    if answer.abstained and answer.passages:
        parts.append(
            f'<p class="qa-note"><a class="qa-ref qa-closest-link" href="#turn-{turn}" '
            f'data-turn="{turn}">The closest passages</a> are listed under Sources.</p>'
        )
    parts.append("</div>")
    return "".join(parts)


def _marker_html(n: int, answer: Answer, turn: int) -> str:
    if not 1 <= n <= len(answer.citations):
        return f"[{n}]"
    c = answer.citations[n - 1]
    inferred = " (citation inferred: the model wrote no marker)" if c.inferred else ""
    title = esc(f"{c.source}: {in_quotes(_shorten(c.quote, 160))}{inferred}")
    return (
        f'<a class="qa-ref" href="#cite-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
        f'title="{title}">[{n}]</a>'
    )


def _sentence_html(s: AnswerSentence, answer: Answer, turn: int, sources: list[str]) -> str:
    markers = "".join(_marker_html(n, answer, turn) for n in s.citations)
    text = esc(drop_untrusted_links(s.text, sources))
    if s.flag:
        reason = esc(f"Not supported by its sources: {s.flag}")
        text = f'<span class="qa-flagged" title="{reason}">⚠ {text}</span>'
    note = f' <span class="qa-lang">({esc(s.note)})</span>' if s.note else ""
    return f'<span class="qa-sent">{text}{" " + markers if markers else ""}{note}</span>'


def _text_with_markers(text: str, answer: Answer, turn: int) -> str:
    out: list[str] = []
    last = 0
    for m in MARKER.finditer(text):
        out.append(esc(text[last : m.start()]))
        out.append("".join(_marker_html(n, answer, turn) for n in marker_numbers(m.group())))
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


# --- sources panel --------------------------------------------------------------------------


def sources_html(
    conv: Conversation, selected: int | None = None, source_text: SourceText | None = None
) -> str:
    """Every answered turn's sources; only ``selected`` (default: the latest) is visible.

    ``source_text`` gives a file's text so quotes are shown in their full surroundings; without
    it (or when the file changed since) the retrieved chunk around the quote is shown.
    """
    answered = conv.answered()
    if not answered:
        return (
            '<div class="qa-sources qa-empty"><p>Ask a question: the passages each answer '
            "cites appear here, the quoted words highlighted.</p></div>"
        )
    numbers = [n for n, _ in answered]
    if selected not in numbers:
        selected = numbers[-1]
    parts = ['<div class="qa-sources">']
    if len(answered) > 1:
        buttons = "".join(
            f'<button type="button" class="qa-turn-btn{" qa-on" if n == selected else ""}" '
            f'data-turn="{n}" title="{esc(short_question(a.question))}">{i}</button>'
            for i, (n, a) in enumerate(answered, start=1)
        )
        parts.append(f'<nav class="qa-turns" aria-label="Answers">Answer {buttons}</nav>')
    for n, answer in answered:
        hidden = "" if n == selected else " hidden"
        parts.append(f'<section class="qa-turn" id="turn-{n}" data-turn="{n}"{hidden}>')
        parts.append(f'<p class="qa-turn-q">{esc(short_question(answer.question))}</p>')
        parts.append(_turn_sources(answer, n, source_text))
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def short_question(question: str, limit: int = QUESTION_SHOWN_CHARS) -> str:
    """``question`` on one line, cut at a word boundary with "…" when over ``limit``."""
    return _shorten(question, limit)


def _turn_sources(answer: Answer, turn: int, source_text: SourceText | None) -> str:
    if answer.citations:
        chunks = {p.chunk.id: p for p in answer.passages}
        items = "".join(
            _citation_html(
                c, n, turn, chunks.get(c.chunk_id), source_text(c.source) if source_text else None
            )
            for n, c in enumerate(answer.citations, start=1)
        )
        return f'<ol class="qa-cites">{items}</ol>'
    if not answer.passages:
        return f'<p class="qa-none">{esc(NOT_IN_DOCUMENTS)} Nothing related was found.</p>'
    items = "".join(_passage_html(p) for p in answer.closest(CLOSEST_SHOWN))
    why = answer.text if answer.abstained and answer.text else NOT_IN_DOCUMENTS  # or withheld
    return (
        f'<p class="qa-none">{esc(why)}</p>'
        f'<p class="qa-sub">Closest passages</p><ol class="qa-closest">{items}</ol>'
    )


def _citation_html(
    c: Citation, n: int, turn: int, passage: Passage | None, file_text: str | None
) -> str:
    head = (
        f'<div class="qa-cite-head"><span class="qa-num">[{n}]</span>'
        f'<span class="qa-file">{esc(c.where)}</span>{_inferred_badge(c)}'
        f'<span class="qa-meta">chars {c.start}–{c.end} · score {c.score:.2f}</span>'
        f'<button type="button" class="qa-view-btn" data-turn="{turn}" data-n="{n}" '
        f'aria-label="View [{n}] in {esc(c.source)}">View in document</button></div>'
    )
    before, quote, after = quote_in_context(c, passage, file_text)
    body = f"{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}"
    return (
        f'<li class="qa-cite" id="cite-{turn}-{n}" data-turn="{turn}" data-n="{n}">'
        f'{head}<blockquote class="qa-ctx">{body}</blockquote></li>'
    )


def _passage_html(p: Passage) -> str:
    """A closest passage: its best sentence (what its score is) highlighted in its text."""
    if p.best is not None:
        best = Citation.of(p.chunk, p.best_text, *p.best, p.score)
        before, quote, after = quote_in_context(best, p)
        body = f"{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}"
    else:
        excerpt = _tidy(p.chunk.text).strip()
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = _cut_end(excerpt, EXCERPT_CHARS) + "…"
        body = esc(excerpt)
    return (
        f'<li class="qa-cite"><div class="qa-cite-head"><span class="qa-file">'
        f'{esc(_passage_where(p))}</span><span class="qa-meta">chars {p.chunk.start}–'
        f"{p.chunk.end} · score {p.score:.2f}</span></div>"
        f'<blockquote class="qa-ctx">{body}</blockquote></li>'
    )


def _inferred_badge(c: Citation) -> str:
    if not c.inferred:
        return ""
    return (
        '<span class="qa-inferred" title="The model wrote no [n] marker for this sentence; qa '
        'chose the retrieved passage that supports it best.">inferred</span>'
    )


def _passage_where(p: Passage) -> str:
    """``file``, or ``file · p. 2`` for the page of the passage's best sentence."""
    page = p.chunk.page_at(p.best[0] if p.best else p.chunk.start)
    return p.chunk.source if page is None else f"{p.chunk.source} · p. {page}"


def quote_in_context(
    c: Citation,
    passage: Passage | None,
    file_text: str | None = None,
    context: int = CONTEXT_CHARS,
) -> tuple[str, str, str]:
    """``(before, quote, after)``: the quote inside its surroundings, trimmed to ``context``.

    The surroundings are the file's text when given and still matching the citation's offsets,
    else the passage's chunk (located with the chunk's start in the file); when neither holds
    the quote, it is shown on its own.
    """
    if file_text is not None and file_text[c.start : c.end] == c.quote:
        text, rel = file_text, c.start
    elif passage is not None:
        text, rel = passage.chunk.text, c.start - passage.chunk.start
        if not (rel >= 0 and text[rel : rel + len(c.quote)] == c.quote):
            rel = text.find(c.quote)
    else:
        return "", c.quote, ""
    if rel < 0:
        return "", c.quote, ""
    before, after = text[:rel], text[rel + len(c.quote) :]
    if len(before) > context:
        before = "…" + _cut_start(before, context)
    if len(after) > context:
        after = _cut_end(after, context) + "…"
    return _tidy(before).lstrip(), c.quote, _tidy(after).rstrip()


def _cut_start(text: str, keep: int) -> str:
    """The last ``keep`` characters, starting at a word boundary."""
    tail = text[-keep:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < keep // 3 else tail


def _cut_end(text: str, keep: int) -> str:
    """The first ``keep`` characters, ending at a word boundary."""
    head = text[:keep]
    space = head.rfind(" ")
    return head[:space] if space > keep * 2 // 3 else head


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", text)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else _cut_end(text, limit) + "…"


# --- corpus panel ---------------------------------------------------------------------------


def files_html(files: Sequence[FileState], synced_at: datetime | None, summary: str = "") -> str:
    """The indexed files with their chunk counts, and when the index was last synced."""
    when = synced_at.strftime("%Y-%m-%d %H:%M:%S") if synced_at else "not yet"
    total = sum(f.chunks for f in files)
    head = (
        f'<p class="qa-sync">{len(files)} file{"s" if len(files) != 1 else ""}, '
        f"{total} chunks · last sync {esc(when)}</p>"
    )
    if summary:
        head += f'<p class="qa-sub">{esc(summary)}</p>'
    if not files:
        return f'<div class="qa-files">{head}<p>No documents indexed yet.</p></div>'
    rows = "".join(
        f'<tr><td class="qa-file">{esc(f.source)}</td><td class="qa-n">{f.chunks}</td>'
        f'<td class="qa-n">{_size(f.size)}</td></tr>'
        for f in files
    )
    return (
        f'<div class="qa-files">{head}<table><thead><tr><th>file</th><th>chunks</th>'
        f"<th>size</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
