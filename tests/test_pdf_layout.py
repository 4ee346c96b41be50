"""The PDF reader's text reads like the document: hyphenated words joined, running headers,
page numbers, contents and index entries left out, margin notes and footnotes on lines of
their own, headings found; and every character of that text maps to the PDFium character
that shows it (the chat UI highlights quotes with it). PDFs are made with fpdf2
(``tests.documents``)."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.ingest.document import ReadText
from qa.ingest.pdf import PdfReader, read_pdf, render_page
from qa.ingest.pdf_lines import char_text
from qa.ingest.pdf_text import TextMap
from tests import documents as docs


def pdfium_texts(data: bytes) -> list[str]:
    """Each page's text as PDFium gives it, one character per PDFium character."""
    pdf = pdfium.PdfDocument(data)
    try:
        return [char_text(pdf[n].get_textpage()) for n in range(len(pdf))]
    finally:
        pdf.close()


def assert_maps_to_pdfium(read: ReadText, text_map: TextMap, pages: list[str]) -> None:
    """Every character of the text is the PDFium character it maps to (PDFium's hyphen mark
    shows a hyphen, a control character a space); a separator put in maps to none."""
    assert len(text_map.indexes) == len(text_map.pages) == len(read.text)
    for k, ch in enumerate(read.text):
        page, index = text_map.pages[k], text_map.indexes[k]
        if index < 0:
            assert page == -1 and ch in " \n", (k, ch)
            continue
        shown = pages[page][index]
        blank = shown < " " or shown == "\uffff"  # a control character, shown as a space
        assert shown == ch or (ch == "-" and shown == "\ufffe") or (ch == " " and blank)


def paragraph(lines: list[str]) -> str:
    """Lines set as one paragraph read back: joined by spaces, ``exten-``/``sions`` joined."""
    out = lines[0]
    for line in lines[1:]:
        out = out[:-1] + line if out.endswith("-") else f"{out} {line}"
    return out


HANDBOOK = "\n".join(
    [
        "Contents",
        "1 Harbour lights",
        paragraph(docs.HANDBOOK_LIGHTS).replace("wellknown", "well-known"),
        "1.1 Lamp oil",
        "oil=",
        paragraph(docs.HANDBOOK_OIL),
        paragraph(docs.HANDBOOK_TIDES),
        "Note: tides",
        paragraph(docs.HANDBOOK_RUN_ON),
        docs.HANDBOOK_FOOTNOTE,
        "2 Ferry rules",
        paragraph(docs.HANDBOOK_FARES),
        "Index",
    ]
)


def test_a_handbook_reads_as_its_paragraphs() -> None:
    data = docs.handbook_pdf()
    read, text_map = read_pdf(data)
    assert read.text == HANDBOOK
    assert "the long extensions of the sea wall" in read.text  # "exten-" + "sions": joined
    assert "with a well-known loan" in read.text  # "well-" + "known": written so elsewhere
    assert docs.HANDBOOK_HEADER not in read.text  # the running header, on every page
    assert "\n2\n" not in read.text and not read.text.endswith("4")  # page numbers
    assert ". . ." not in read.text and "lanterns, 2-3" not in read.text  # contents, index
    # the sentence over the page break runs on; page 3 starts where its part does
    page3 = read.pages[2]
    assert read.text[page3:].startswith("refilled before the first storms")
    assert read.text[page3 - 1] == " "
    assert [read.text[p : p + 8] for p in read.pages] == [
        "Contents",
        "1 Harbou",
        "refilled",
        "Index",
    ]
    headings = [(read.text[a:b], level) for a, b, level in read.headings]
    assert headings == [
        ("Contents", 1),
        ("1 Harbour lights", 1),
        ("1.1 Lamp oil", 2),
        ("2 Ferry rules", 1),
        ("Index", 1),
    ]
    assert PdfReader().read(data) == read
    assert_maps_to_pdfium(read, text_map, pdfium_texts(data))


def test_a_quote_maps_to_the_characters_that_show_it() -> None:
    data = docs.handbook_pdf()
    read, text_map = read_pdf(data)
    pages = pdfium_texts(data)
    quote = "the long extensions of the sea wall, which the town council paid for with a well-known"
    start = read.text.index(quote)
    located = text_map.locate(start, start + len(quote))
    assert located is not None
    page, indexes = located
    assert page == 2
    shown = "".join(pages[1][i] for i in indexes)
    # the quote's characters: "exten-" lost its hyphen, "well-" keeps PDFium's hyphen mark
    assert shown == quote.replace("well-", "well\ufffe")
    assert pages[1].index("exten\ufffe") + 5 not in indexes  # the dropped hyphen is not shown
    # a quote over the page break highlights its first page's part
    run_on = "how the store will be refilled before"
    start = read.text.index(run_on)
    located = text_map.locate(start, start + len(run_on))
    assert located is not None and located[0] == 2
    assert "".join(pages[1][i] for i in located[1]) == "how the store will be"
    image = render_page(data, located[0], located[1])
    assert image.size[0] > 0


def test_a_margin_note_is_not_spliced_into_its_paragraph() -> None:
    read, _ = read_pdf(docs.handbook_pdf())
    lines = read.text.split("\n")
    assert lines[lines.index("oil=") + 1].startswith("Lamp oil is bought")  # before: first line
    assert lines[lines.index("Note: tides") - 1].endswith("in the guild boat.")  # after
    assert "oil= " not in read.text and "Note: tides since" not in read.text


# --- any page: every character maps to PDFium's --------------------------------------------

WORDS = ["harbour", "lamp", "oil", "ferry", "quay", "warden", "tide", "lantern", "guild", "boat"]


@st.composite
def pages_of_text(draw: Any) -> list[dict[str, Any]]:
    """Pages of justified paragraphs, maybe a header, a page number, margin notes and a word
    hyphenated at a line's end."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        paragraphs = []
        for _ in range(draw(st.integers(1, 3))):
            lines = [
                " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=6, max_size=9)))
                for _ in range(draw(st.integers(1, 4)))
            ]
            if len(lines) > 1 and draw(st.booleans()):
                lines[0] += " exten-"
                lines[1] = "sions " + lines[1]
            paragraphs.append(lines)
        out.append(
            {
                "paragraphs": paragraphs,
                "header": draw(st.booleans()),
                "number": draw(st.booleans()),
                "note": draw(st.sampled_from([None, "key=", "See also"])),
            }
        )
    return out


def build(pages: list[dict[str, Any]]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for n, page in enumerate(pages, start=1):
        pdf.add_page()
        if page["header"]:
            pdf.set_font("Helvetica", size=8)
            pdf.text(40, 15, "THE HARBOUR BOOK")
        if page["number"]:
            pdf.set_font("Helvetica", size=10)
            pdf.text(103, 285, str(n))
        y = 35.0
        for lines in page["paragraphs"]:
            if page["note"]:
                pdf.set_font("Helvetica", size=8)
                pdf.text(36 - pdf.get_string_width(page["note"]), y, page["note"])
            pdf.set_font("Helvetica", size=11)
            for k, line in enumerate(lines):
                width = min(130.0, pdf.get_string_width(line) + 20) if k < len(lines) - 1 else None
                docs.set_line(pdf, 40, y, line, width)
                y += 6
            y += 4
    return bytes(pdf.output())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages_of_text())
def test_every_character_maps_to_the_pdfium_character_showing_it(
    pages: list[dict[str, Any]],
) -> None:
    data = build(pages)
    read, text_map = read_pdf(data)
    assert_maps_to_pdfium(read, text_map, pdfium_texts(data))
    assert len(read.pages) == len(pages) and list(read.pages) == sorted(read.pages)
    assert "THE HARBOUR BOOK" not in read.text or sum(p["header"] for p in pages) < 2
    for page in pages:
        for lines in page["paragraphs"]:
            assert lines[-1].split()[-1] in read.text
