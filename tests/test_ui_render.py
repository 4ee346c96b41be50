"""The chat UI's HTML: markers, sources, flags, abstentions, and untrusted text kept inert."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import qa
from qa.schema import Answer, AnswerSentence, Chunk, Citation, Passage
from qa.store import FileState
from qa.ui import render
from qa.ui.render import Conversation, Exchange

FILE_TEXT = (
    "Intro line.\n\nThe convoy left Gaziantep at dawn. It used the Castello road. "
    "Later it reached eastern Aleppo."
)
HOSTILE = (
    'Click <a href="http://evil.example/x">here</a> <img src="http://evil.example/p.png" '
    'onerror="alert(1)"> ![pixel](http://evil.example/t.png) <script>alert(2)</script> '
    "${alert(3)} {{constructor}} `code` www.evil.example"
)


def _chunk(text: str = FILE_TEXT, start: int = 0, source: str = "convoy.txt") -> Chunk:
    return Chunk("c1", source, text, start, start + len(text), 0, "h")


def _citation(quote: str, chunk: Chunk, score: float = 0.8) -> Citation:
    start = chunk.start + chunk.text.index(quote)
    return Citation(chunk.source, quote, start, start + len(quote), score, chunk.id)


def _answer(**overrides: object) -> Answer:
    chunk = _chunk()
    quote = "It used the Castello road."
    fields: dict[str, object] = {
        "question": "Which road?",
        "text": f"{quote} [1]",
        "citations": [_citation(quote, chunk)],
        "abstained": False,
        "sentences": [AnswerSentence(quote, [1], 0.8)],
        "passages": [Passage(chunk, 0.03, 0)],
        "answerer": "extractive",
    }
    fields.update(overrides)
    return Answer(**fields)  # type: ignore[arg-type]


def _conv(*answers: Answer) -> Conversation:
    return Conversation([Exchange(a.question, a) for a in answers])


def test_markers_link_to_their_passages_in_the_sources_panel() -> None:
    html = render.answer_html(_answer(), turn=3)
    assert '<a class="qa-ref" href="#cite-3-1"' in html and ">[1]</a>" in html
    panel = render.sources_html(_conv(_answer(), _answer(), _answer()))
    assert 'id="cite-3-1"' in panel
    assert "<mark>It used the Castello road.</mark>" in panel
    assert "Gaziantep at dawn." in panel and "Later it reached eastern Aleppo." in panel
    assert "convoy.txt" in panel and "score 0.80" in panel
    # The latest answer is shown, earlier ones are one click away.
    assert re.search(r'<section class="qa-turn" id="turn-3" data-turn="3">', panel)
    assert '<section class="qa-turn" id="turn-1" data-turn="1" hidden>' in panel
    assert panel.count('class="qa-turn-btn') == 3


def test_quote_context_comes_from_the_file_or_the_chunk() -> None:
    chunk = _chunk(FILE_TEXT[13:], start=13)
    c = _citation("It used the Castello road.", chunk)
    passage = Passage(chunk, 0.1, 0)
    before, quote, after = render.quote_in_context(c, passage, FILE_TEXT)
    assert before.startswith("Intro line.") and quote == c.quote and after.startswith(" Later")
    before, _, _ = render.quote_in_context(c, passage, None)  # chunk only
    assert before == "The convoy left Gaziantep at dawn. "
    before, _, after = render.quote_in_context(c, passage, "edited since " + FILE_TEXT)
    assert before == "The convoy left Gaziantep at dawn. "  # stale file text is ignored
    assert render.quote_in_context(c, None, None) == ("", c.quote, "")
    long = "word " * 200
    text = long + c.quote + long
    c2 = Citation("f", c.quote, len(long), len(long) + len(c.quote), 1.0)
    before, _, after = render.quote_in_context(c2, None, text)
    assert before.startswith("…") and after.endswith("…")
    assert len(before) <= render.CONTEXT_CHARS + 1 and len(after) <= render.CONTEXT_CHARS + 1


def test_flagged_sentences_incomplete_answers_and_notices_are_visible() -> None:
    chunk = _chunk()
    sentences = [
        AnswerSentence("It used the Castello road.", [1], 0.8),
        AnswerSentence("It carried 900 tonnes.", [1], 0.2, flag="numbers not in the cited source"),
    ]
    answer = _answer(
        sentences=sentences,
        text="It used the Castello road. [1] It carried 900 tonnes. [1]",
        citations=[_citation("It used the Castello road.", chunk)],
        incomplete=True,
        notice="fell back to the offline answerer",
        answerer="openai:m",
    )
    html = render.answer_html(answer, turn=1)
    assert '<span class="qa-flagged" title="Not supported by its sources: numbers not in' in html
    assert "1 sentence not supported by the cited sources" in html
    assert "cut off before it was finished" in html
    assert "fell back to the offline answerer" in html


def test_abstention_shows_the_fixed_sentence_and_the_closest_passages() -> None:
    passages = [
        Passage(_chunk(f"Passage number {i}.", source=f"f{i}.txt"), 0.1, i) for i in range(5)
    ]
    answer = Answer("Capital of Australia?", qa.NOT_IN_DOCUMENTS, [], True, passages=passages)
    html = render.answer_html(answer, turn=2)
    assert qa.NOT_IN_DOCUMENTS in html and 'href="#turn-2"' in html
    panel = render.sources_html(_conv(answer))
    assert qa.NOT_IN_DOCUMENTS in panel and "Closest passages" in panel
    assert [f"f{i}.txt" in panel for i in range(5)] == [True, True, True, False, False]


def test_streaming_and_error_turns() -> None:
    conv = Conversation([Exchange("Q <b>1</b>", partial="Part<i>ial")])
    [user, bot] = render.messages(conv)
    assert user == {"role": "user", "content": '<div class="qa-q">Q &lt;b&gt;1&lt;/b&gt;</div>'}
    assert "Part&lt;i&gt;ial" in bot["content"] and "qa-streaming" in bot["content"]
    conv.turns[0].error = "could not reach the LLM server"
    assert "could not reach the LLM server" in render.messages(conv)[1]["content"]
    assert "qa-empty" in render.sources_html(conv)  # no answer yet: nothing to show


def test_untrusted_text_never_becomes_markup_images_or_outside_links() -> None:
    text = f"{HOSTILE} Middle sentence. {HOSTILE}"
    chunk = _chunk(text, source='evil"<name>.txt')
    citations = [_citation("Middle sentence.", chunk), _citation(HOSTILE, chunk)]
    answer = _answer(
        question=HOSTILE,
        text=f"{HOSTILE} [1][2]",
        citations=citations,
        sentences=[AnswerSentence(HOSTILE, [1, 2], 0.9, flag=HOSTILE)],
        passages=[Passage(chunk, 0.1, 0)],
        notice=HOSTILE,
    )
    conv = _conv(answer)
    abstained = Answer(HOSTILE, qa.NOT_IN_DOCUMENTS, [], True, passages=[Passage(chunk, 0.1, 0)])
    files = [FileState('x<img src="http://evil.example">.txt', "h", 10, 0, "c", 1)]
    outputs = [
        *(m["content"] for m in render.messages(conv)),
        render.sources_html(conv),
        render.sources_html(conv, source_text=lambda _: text),
        render.answer_html(abstained, 2),
        render.sources_html(_conv(abstained)),
        render.files_html(files, datetime(2025, 1, 1), summary=HOSTILE),
    ]
    allowed = {"div", "p", "span", "a", "mark", "blockquote", "ol", "li", "section", "nav"}
    allowed |= {"button", "table", "thead", "tbody", "tr", "th", "td", "b"}
    for html in outputs:
        tags = _Tags.of(html)
        assert {t for t, _ in tags} <= allowed, html
        for tag, attrs in tags:
            assert not any(name.startswith("on") or name in ("src", "style") for name in attrs)
            if tag == "a":
                assert attrs["href"].startswith("#"), attrs  # only in-page anchors
        assert "${" not in html and "{{" not in html and "`" not in html  # no template syntax


class _Tags(HTMLParser):
    """The real tags of an HTML string, with their (decoded) attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str]]]:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser.tags


def test_files_panel_lists_chunks_and_sync_time() -> None:
    files = [FileState("a.txt", "h", 2048, 0, "c", 3), FileState("b/c.md", "h", 10, 0, "c", 1)]
    html = render.files_html(files, datetime(2025, 3, 4, 5, 6, 7), "1 added")
    assert "2 files, 4 chunks" in html and "last sync 2025-03-04 05:06:07" in html
    assert '<td class="qa-file">b/c.md</td><td class="qa-n">1</td>' in html
    assert "2.0 KB" in html and "1 added" in html
    assert "not yet" in render.files_html([], None)


def test_a_long_question_is_cut_above_its_sources() -> None:
    question = "Which road did the convoy take? " + "Please explain in detail. " * 150
    answers = [_answer(question=question), _answer()]
    panel = render.sources_html(_conv(*answers), selected=1)
    [heading] = re.findall(r'<p class="qa-turn-q">([^<]*)</p>', panel)[:1]
    assert heading.startswith("Which road did the convoy take?") and heading.endswith("…")
    assert len(heading) <= render.QUESTION_SHOWN_CHARS + 1 < len(question)
    [title] = re.findall(r'class="qa-turn-btn qa-on" data-turn="1" title="([^"]*)"', panel)
    assert title == heading  # the answer-number button's tooltip is cut too
    assert '<p class="qa-turn-q">Which road?</p>' in panel  # a short one is shown whole


def test_the_notice_says_why_a_question_was_not_asked() -> None:
    html = render.notice_html("Not asked: <b>too long</b>")
    assert html == '<p class="qa-notice" role="alert">⚠ Not asked: &lt;b&gt;too long&lt;/b&gt;</p>'
    assert render.notice_html("") == ""


def test_closest_passages_highlight_the_sentence_their_score_comes_from() -> None:
    """After an abstention each closest passage shows its best sentence marked, the score
    beside it being that sentence's; passages sharing that sentence are shown once."""
    text = "The ferry left at dawn. Its cargo was flour and salt. The crew numbered nine."
    chunk = _chunk(text)
    best = (text.index("Its cargo"), text.index(" The crew"))
    overlap = Chunk("other", chunk.source, text[24:], 24, len(text), 1, "h")
    passages = [
        Passage(chunk, 0.52, 0, best=best),
        Passage(overlap, 0.52, 1, best=best),  # the same sentence, in the next chunk
        Passage(_chunk("Nothing here at all.", source="b.txt"), 0.31, 2),
    ]
    answer = Answer("What was the cargo?", qa.NOT_IN_DOCUMENTS, [], True, passages=passages)
    panel = render.sources_html(_conv(answer))
    assert "<mark>Its cargo was flour and salt.</mark>" in panel
    assert panel.count("<mark>") == 1 and panel.count("score 0.52") == 1
    assert panel.index("score 0.52") < panel.index("score 0.31")


def test_a_withheld_answer_says_why_in_the_sources_panel() -> None:
    """An answer withheld because its file changed after indexing is not shown as "not in
    the documents"."""
    why = "The answer is withheld: a.txt changed after it was indexed, so …"
    passage = Passage(_chunk("Nothing here at all.", source="a.txt"), 0.7, 0)
    answer = Answer("q?", why, [], True, passages=[passage], notice="a.txt changed …")
    panel = render.sources_html(_conv(answer))
    assert "The answer is withheld: a.txt changed" in panel
    assert qa.NOT_IN_DOCUMENTS not in panel
