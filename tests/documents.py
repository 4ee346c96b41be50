"""Documents for tests and evals, generated with libraries (fpdf2, python-docx): nothing is
fetched and nothing binary is hand-written, except the hostile files that no library makes.

``python -m evals.make_mixed`` writes the mixed-format eval folder from these.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GUILD_PAGE_1 = [
    "Annual report of the Lamplighters' Guild",
    "The Lamplighters' Guild of Varrow met in the Corn Exchange on 14 March and elected "
    "Mirela Dast as its first woman warden, by forty-one votes to thirty-six.",
    "The guild now keeps 212 gas lamps along the harbour road and the old town walls, and "
    "each lamp is lit at dusk by one of nineteen members walking fixed rounds.",
    "Members agreed to raise the winter wage to eleven shillings a week from November, the "
    "first rise since the great frost of the year the canal froze solid.",
]
# The last sentence of page 1 runs over the page break into page 2.
GUILD_RUN_ON = (
    "The treasurer reported that the repair fund, drawn down by the storm that broke "
    "nine lanterns on the quay, will be",
    "restored by a levy of two pence a month on every member until the spring fair.",
)
GUILD_PAGE_2 = [
    "Apprentices must now serve three winters before they may carry a pole alone.",
    "The guild thanked the glassworks of Orle for replacing the broken lantern panes free of "
    "charge, and the meeting closed with the old lamplighters' song.",
]

FERRY_PARAGRAPHS = [
    "Memorandum: the Varrow ferry service",
    "From 2 June the ferry Saint Brannoc sails from the north pier to Skellig Isle every "
    "ninety minutes between six in the morning and nine at night.",
    "The crossing takes forty minutes in calm water; in a gale the harbour master may "
    "cancel any sailing at an hour's notice.",
]
FERRY_TABLE = [
    ["Fare", "Adult", "Child"],
    ["Single", "4 shillings", "2 shillings"],
    ["Return", "7 shillings", "3 shillings"],
]

MUSEUM_TITLE = "Clockmakers' museum opens in the old mint"
MUSEUM_PARAGRAPHS = [
    "The clockmakers' museum opened on Saturday in the old mint building on Tallow Street, "
    "after four years of restoration paid for by a public subscription.",
    "Its largest piece is the astronomical clock built by Ansel Hoorn in 1788, which shows "
    "the tides of the estuary and the phases of the moon.",
    "Entry is free for children under twelve; adults pay three shillings, and the museum "
    "is closed on Mondays.",
]
BOILERPLATE = ["Home", "News", "Sport", "Weather", "Subscribe to our newsletter"]


def _pdf() -> Any:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_EPOCH)
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    return pdf


def _para(pdf: Any, text: str, *, bold: bool = False) -> None:
    pdf.set_font("Helvetica", style="B" if bold else "", size=11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def guild_pdf() -> bytes:
    """A 2-page report whose page-1 closing sentence runs on to page 2."""
    pdf = _pdf()
    pdf.add_page()
    for n, text in enumerate(GUILD_PAGE_1):
        _para(pdf, text, bold=n == 0)
    pdf.multi_cell(0, 6, GUILD_RUN_ON[0], new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.multi_cell(0, 6, GUILD_RUN_ON[1], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for text in GUILD_PAGE_2:
        _para(pdf, text)
    return bytes(pdf.output())


def pages_pdf(pages: int, lines: int = 30) -> bytes:
    """``pages`` pages of numbered prose (speed and memory)."""
    pdf = _pdf()
    pdf.set_font("Helvetica", size=8)
    for page in range(1, pages + 1):
        pdf.add_page()
        for line in range(lines):
            pdf.cell(0, 6, f"Page {page} line {line}: the tide table for berth {line} is fixed.")
            pdf.ln(6)
    return bytes(pdf.output())


# A handbook laid out like a typeset manual (A4, millimetres): a running header and a page
# number on every page, a contents page, headings in larger type, justified paragraphs with
# words hyphenated at line ends, margin notes, a footnote, a sentence over a page break, an
# index. Each paragraph is its lines as set; the reader must give back the paragraphs.
HANDBOOK_HEADER = "VARROW HARBOUR HANDBOOK"
HANDBOOK_CONTENTS = [("1 Harbour lights", "2"), ("1.1 Lamp oil", "2"), ("2 Ferry rules", "3")]
HANDBOOK_INDEX = ["extensions, 2, 3", "ferry, 3", "lamp oil, 2", "lanterns, 2-3", "warden, 3"]
HANDBOOK_LIGHTS = [
    "The harbour of Varrow keeps forty lanterns along the north quay and",
    "the old walls. Each lantern burns a heavy oil made for the long exten-",
    "sions of the sea wall, which the town council paid for with a well-",
    "known loan from the guild of lamplighters and the ferry company.",
]
HANDBOOK_OIL = [  # beside its first line, in the margin: "oil="
    "Lamp oil is bought from the harbour office in casks of forty gallons,",
    "and each cask must be signed for by the warden before it is opened.",
]
HANDBOOK_TIDES = [  # beside its second line: "Note: tides"
    "At spring tides the lanterns on the outer mole are lit an hour early,",
    "since the water covers the lower steps and the keepers must row out",
    "to them in the guild boat.",
]
HANDBOOK_RUN_ON = [  # runs over the page break
    "The warden keeps the keys of the oil store and reports every loss to",
    "the council, which decides in its winter meeting how the store will be",
    # page 3
    "refilled before the first storms of the year.",
]
HANDBOOK_FOOTNOTE = "1 Casks are returned to the cooper on the quay."
HANDBOOK_FARES = [
    "The ferry sails every ninety minutes. Its extensions to Skellig Isle are",
    "well-known among the fishermen of the north pier and run in summer.",
]


def handbook_pdf() -> bytes:
    """A 4-page handbook: contents, two pages of text, an index (see ``HANDBOOK_*``)."""
    pdf = _pdf()
    pages: list[list[tuple[str, Any]]] = [[], [], [], []]

    def heading(page: int, y: float, text: str, size: float) -> None:
        pages[page].append(("heading", (y, text, size)))

    def para(page: int, y: float, lines: list[str], last_full: bool = False) -> float:
        for n, line in enumerate(lines):
            full = n < len(lines) - 1 or last_full
            pages[page].append(("line", (y, line, full)))
            y += 6
        return y + 3

    heading(0, 35, "Contents", 16)
    for n, (title, number) in enumerate(HANDBOOK_CONTENTS):
        pages[0].append(("leader", (47 + 7 * n, title, number)))
    heading(1, 35, "1 Harbour lights", 16)
    y = para(1, 48, HANDBOOK_LIGHTS)
    heading(1, y + 6, "1.1 Lamp oil", 13)
    pages[1].append(("note", (y + 18, "oil=")))
    y = para(1, y + 18, HANDBOOK_OIL)
    pages[1].append(("note", (y + 6, "Note: tides")))
    y = para(1, y, HANDBOOK_TIDES)
    para(1, y, HANDBOOK_RUN_ON[:2], last_full=True)
    pages[1].append(("foot", (265, HANDBOOK_FOOTNOTE)))
    y = para(2, 35, HANDBOOK_RUN_ON[2:])
    heading(2, y + 6, "2 Ferry rules", 16)
    para(2, y + 20, HANDBOOK_FARES)
    heading(3, 35, "Index", 16)
    for n, entry in enumerate(HANDBOOK_INDEX):
        pages[3].append(("line", (47 + 6 * n, entry, False)))
    for number, items in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.text(40, 15, HANDBOOK_HEADER)
        pdf.set_font("Helvetica", size=10)
        pdf.text(103, 285, str(number))
        for kind, item in items:
            _handbook_item(pdf, kind, item)
    return bytes(pdf.output())


def _handbook_item(pdf: Any, kind: str, item: Any) -> None:
    if kind == "heading":
        y, text, size = item
        pdf.set_font("Helvetica", style="B", size=size)
        pdf.text(40, y, text)
    elif kind == "line":
        y, text, full = item
        pdf.set_font("Helvetica", size=11)
        set_line(pdf, 40, y, text, 130 if full else None)
    elif kind == "leader":
        y, title, number = item
        pdf.set_font("Helvetica", size=11)
        pdf.text(40, y, title)
        dots = " ".join("." * 40)
        pdf.text(170 - pdf.get_string_width(number), y, number)
        pdf.text(170 - pdf.get_string_width(number) - 4 - pdf.get_string_width(dots), y, dots)
    elif kind == "note":
        y, text = item
        pdf.set_font("Helvetica", size=8)
        pdf.text(36 - pdf.get_string_width(text), y, text)
    else:  # a footnote
        y, text = item
        pdf.set_font("Helvetica", size=8)
        pdf.text(40, y, text)


def set_line(pdf: Any, x: float, y: float, text: str, width: float | None) -> None:
    """``text`` set at ``(x, y)`` word by word, justified to ``width`` when given."""
    words = text.split()
    widths = [pdf.get_string_width(w) for w in words]
    space = pdf.get_string_width(" ")
    if width is not None and len(words) > 1:
        space = (width - sum(widths)) / (len(words) - 1)
    for word, w in zip(words, widths, strict=True):
        pdf.text(x, y, word)
        x += w + space


def image_only_pdf() -> bytes:
    """A page with drawings and no text (what a scanner makes)."""
    pdf = _pdf()
    pdf.add_page()
    for n in range(10):
        pdf.rect(10 + n * 5, 10 + n * 5, 40, 20, style="F")
    return bytes(pdf.output())


def encrypted_pdf(password: str = "secret") -> bytes:
    """A PDF that opens only with ``password`` (RC4, which fpdf2 writes without extra packages)."""
    from fpdf.enums import EncryptionMethod

    pdf = _pdf()
    pdf.set_encryption(
        owner_password="owner", user_password=password, encryption_method=EncryptionMethod.RC4
    )
    pdf.add_page()
    _para(pdf, "Nobody may read this without the password.")
    return bytes(pdf.output())


def ferry_docx() -> bytes:
    """A memo with a heading, paragraphs and a fare table."""
    import docx

    document = docx.Document()
    document.core_properties.created = _EPOCH
    document.core_properties.modified = _EPOCH
    document.add_heading(FERRY_PARAGRAPHS[0], level=1)
    for text in FERRY_PARAGRAPHS[1:]:
        document.add_paragraph(text)
    table = document.add_table(rows=len(FERRY_TABLE), cols=len(FERRY_TABLE[0]))
    for r, row in enumerate(FERRY_TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Tickets are sold on board; season tickets at the harbour office.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_bomb(unzipped_mb: int = 300) -> bytes:
    """A valid-looking DOCX whose one part unzips to ``unzipped_mb`` MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        with z.open("word/media/padding.bin", "w", force_zip64=True) as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(unzipped_mb):
                part.write(block)
    return out.getvalue()


def docx_with_entities() -> bytes:
    """A DOCX (made by python-docx) whose document.xml declares a billion-laughs DTD."""
    laughs = "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    dtd = f'<!DOCTYPE w:document [<!ENTITY lol0 "lol">{laughs}]>'
    return _docx_with_part(
        "word/document.xml", lambda xml: xml.replace(b"?>", b"?>" + dtd.encode(), 1)
    )


def _docx_with_part(name: str, change: Any) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(ferry_docx()))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            z.writestr(info, change(data) if info.filename == name else data)
    return out.getvalue()


def museum_html(charset: str = "utf-8", paragraphs: Sequence[str] = MUSEUM_PARAGRAPHS) -> bytes:
    """A news page: navigation, a cookie banner, a script and a footer around the article."""
    nav = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in BOILERPLATE)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}">'
        f"<title>{MUSEUM_TITLE} | Varrow Gazette</title>"
        "<style>body { font-family: serif }</style>"
        "<script>document.write('tracking pixel loaded');</script></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        '<div class="cookie">We use cookies to improve your experience. Accept all cookies?</div>'
        f"<main><article><h1>{MUSEUM_TITLE}</h1>{body}</article></main>"
        "<footer><p>Copyright 2026 Varrow Gazette. All rights reserved.</p></footer>"
        "</body></html>"
    )
    return page.encode(charset)


def big_html(megabytes: int) -> bytes:
    """A page of about ``megabytes`` MB."""
    paragraph = "<p>The harbour crane lifted another load of timber onto the quay.</p>"
    count = megabytes * 1024 * 1024 // len(paragraph) + 1
    return ("<html><body>" + paragraph * count + "</body></html>").encode()


_EPOCH = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc)
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"/>'
)


def write_mixed(folder: Path) -> list[Path]:
    """The mixed-format corpus: a 2-page PDF, a DOCX and an HTML page."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "guild-report.pdf": guild_pdf(),
        "ferry-memo.docx": ferry_docx(),
        "museum.html": museum_html(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


if __name__ == "__main__":  # python -m tests.documents FOLDER: write the mixed-format corpus
    import sys

    for path in write_mixed(Path(sys.argv[1] if len(sys.argv) > 1 else "evals/mixed/docs")):
        print(path)
