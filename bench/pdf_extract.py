"""PDF text extraction, measured before choosing a library: pypdfium2 against pypdf.

    python bench/pdf_extract.py [--out DIR] [--smoke] [--pages N]

PDFs are generated with fpdf2 (nothing fetched), each probing one known difficulty:

- ``columns``: a page set in two columns; the text must come out column by column;
- ``hyphens``: words broken across line ends with a hyphen;
- ``furniture``: a running header and footer on every page (repeated text a reader may keep);
- ``ligatures``: "fi"/"fl" set with a TrueType font with text shaping, when DejaVu Sans is
  installed (the glyphs must come back as the letters);
- ``long``: ``--pages`` pages of prose, for speed (pages/s) and peak RSS.

For each library and probe: the share of the expected sentences found verbatim (whitespace
collapsed), whether the columns come out in order, and the time per page.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, report, table

SENTENCES = [
    f"Sentence {n} says the harbour crane number {n} lifted {10 + n} tonnes of flour."
    for n in range(40)
]
LEFT = [f"Left column line {n} holds the ferry timetable for pier {n}." for n in range(20)]
RIGHT = [f"Right column line {n} lists the tram depot number {n}." for n in range(20)]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _pdf() -> Any:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    return pdf


def make_columns(path: Path) -> list[str]:
    pdf = _pdf()
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    for n, (left, right) in enumerate(zip(LEFT, RIGHT, strict=True)):
        pdf.set_xy(10, 20 + n * 6)
        pdf.cell(90, 5, left)
        pdf.set_xy(110, 20 + n * 6)
        pdf.cell(90, 5, right)
    pdf.output(str(path))
    return LEFT + RIGHT


def make_hyphens(path: Path) -> list[str]:
    pdf = _pdf()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    words = ["extraordinarily", "communication", "infrastructure", "responsibility"]
    expected = []
    for n, word in enumerate(words * 5):
        cut = len(word) // 2
        pdf.multi_cell(
            0, 6, f"Line {n} ends with a broken {word[:cut]}-", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.multi_cell(0, 6, f"{word[cut:]} that continues here.", new_x="LMARGIN", new_y="NEXT")
        expected.append(f"{word} that continues here")
    pdf.output(str(path))
    return expected


def make_furniture(path: Path, pages: int = 5) -> list[str]:
    from fpdf import FPDF

    class WithFurniture(FPDF):  # type: ignore[misc]
        def header(self) -> None:
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, "Harbour Authority Annual Report - Confidential", align="C")
            self.ln(8)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, f"Page {self.page_no()}", align="C")

    pdf = WithFurniture(format="A4")
    pdf.set_font("Helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        for sentence in SENTENCES[page * 8 : page * 8 + 8]:
            pdf.multi_cell(0, 7, sentence, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return SENTENCES[: pages * 8]


def make_ligatures(path: Path) -> list[str] | None:
    if not DEJAVU.exists():
        return None
    try:
        import uharfbuzz  # noqa: F401  - fpdf2's text shaping needs it
    except ImportError:
        return None
    pdf = _pdf()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(DEJAVU))
    pdf.set_font("DejaVu", size=12)
    pdf.set_text_shaping(True)
    lines = ["The official file flows to the fifth office.", "A fluffy soufflé fills a waffle."]
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return lines


def make_long(path: Path, pages: int) -> list[str]:
    pdf = _pdf()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        for n in range(30):
            pdf.multi_cell(
                0,
                5,
                f"Page {page + 1} line {n}: {SENTENCES[n % len(SENTENCES)]}",
                new_x="LMARGIN",
                new_y="NEXT",
            )
    pdf.output(str(path))
    return []


def extract(library: str, path: Path) -> list[str]:
    """The text of every page, by ``library``."""
    if library == "pypdfium2":
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(path))
        try:
            out = []
            for page in doc:
                textpage = page.get_textpage()
                out.append(textpage.get_text_range())
                textpage.close()
                page.close()
            return out
        finally:
            doc.close()
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\r", " ")).strip()


def score(pages: list[str], expected: list[str]) -> dict[str, Any]:
    text = _flat(" ".join(pages))
    found = [e for e in expected if _flat(e) in text]
    out: dict[str, Any] = {"found": len(found), "expected": len(expected)}
    if expected and expected[0].startswith("Left column"):
        left_end = max(text.find(_flat(e)) for e in LEFT)
        right_start = min((text.find(_flat(e)) for e in RIGHT if _flat(e) in text), default=-1)
        out["columns_in_order"] = 0 <= left_end < right_start
    return out


def measure(library: str, path: Path) -> dict[str, Any]:
    """Extract in a fresh process: seconds, and its own peak RSS (``VmHWM``: a child's
    ``ru_maxrss`` starts at its parent's peak)."""
    code = (
        "import sys, time, json; sys.path.insert(0, sys.argv[3]);"
        "from common import own_memory_mb;"
        "from pdf_extract import extract; t = time.perf_counter();"
        "pages = extract(sys.argv[1], __import__('pathlib').Path(sys.argv[2]));"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'pages': len(pages),"
        "'peak_rss_mb': own_memory_mb()['VmHWM']}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, library, str(path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE / "pdf_extract")
    parser.add_argument("--smoke", action="store_true", help="a 20-page long document")
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    pages = 20 if args.smoke else args.pages
    probes = {
        "columns": make_columns(args.cache / "columns.pdf"),
        "hyphens": make_hyphens(args.cache / "hyphens.pdf"),
        "furniture": make_furniture(args.cache / "furniture.pdf"),
        "ligatures": make_ligatures(args.cache / "ligatures.pdf"),
    }
    long_pdf = args.cache / f"long-{pages}.pdf"
    if not long_pdf.exists():
        make_long(long_pdf, pages)
    rows, results = [], {}
    for library in ("pypdfium2", "pypdf"):
        entry: dict[str, Any] = {}
        for name, expected in probes.items():
            if expected is None:
                continue
            entry[name] = score(extract(library, args.cache / f"{name}.pdf"), expected)
            furniture = " ".join(extract(library, args.cache / "furniture.pdf"))
            entry["header_repeats"] = furniture.count("Harbour Authority Annual Report")
        speed = measure(library, long_pdf)
        entry["long"] = {**speed, "pages_per_s": speed["pages"] / max(speed["seconds"], 1e-9)}
        results[library] = entry
        rows.append(
            [
                library,
                *(
                    f"{entry[n]['found']}/{entry[n]['expected']}" if n in entry else "n/a"
                    for n in probes
                ),
                entry["columns"].get("columns_in_order"),
                entry["header_repeats"],
                entry["long"]["pages_per_s"],
                entry["long"]["peak_rss_mb"],
            ]
        )
    header = ["library", *(f"{n} found" for n in probes), "columns in order"]
    header += ["header kept (times)", f"pages/s ({pages} pages)", "peak RSS MiB"]
    text = "## PDF text extraction: pypdfium2 vs pypdf\n\n" + table(header, rows)
    report(
        "pdf_extract",
        {
            "smoke": args.smoke,
            "pages": pages,
            "results": results,
            "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "valid": True,
            "problems": [],
        },
        text,
        out=args.out,
    )


if __name__ == "__main__":
    main()
