"""How clean the readers' text is: the PDF reader at HEAD against an earlier version of it.

    python bench/clean_text.py FOLDER [--before REV] [--out DIR] [--smoke] [--examples N]

For each PDF and HTML file in FOLDER (recursively), with the reader of this tree ("after")
and, for PDFs, ``qa/ingest/pdf.py`` as it was at git revision REV ("before", default
``ce10bcc``: one character per PDFium character, loaded from ``git show`` into a module of
its own), counts:

- ``broken``: words broken in two: two tokens with only spaces (or a hyphen and spaces)
  between them whose join (or hyphenated join) is a word found elsewhere in the document,
  when not both halves are common words themselves ("exten sions", "commu-  nication");
- ``furniture``: running headers, footers and page numbers inside a line of text: a page's
  first or last PDFium line that repeats on 3 pages or more once digits are ignored, or is a
  bare page number, found in that page's text on a line holding other words too;
- ``leaders``: contents or index lines with dot leaders (". . . . 12") left in the text.

HTML files have one reader (no "before"): their counts are the same in both columns. Then up
to N (default 3) sentences of the "before" text holding such a flaw, each with the sentence
of the "after" text that shares most words with it (half of them at least, else "left
out"). ``--smoke``: a folder of the generated test documents (``tests.documents``). Writes
``clean_text.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from common import RESULTS, ROOT, report, table

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa.ingest.document import ReadText
from qa.ingest.html import HtmlReader
from qa.ingest.pdf import PdfReader

PAIR = re.compile(r"([^\W\d_]+)(-?)[ \t\r\n]+([^\W\d_]+)")
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
LEADER = re.compile(r"(?:\. ?){4,}\s*\d+")
PAGE_NUMBER = re.compile(
    r"[-–—]?\s*(?:page\s*)?(\d{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*\d+)?\s*[-–—]?", re.I
)
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")
COMMON = 3  # a word written this often is no half of a broken one


def old_pdf_reader(revision: str) -> Callable[[bytes], ReadText]:
    """``PdfReader().read`` of ``qa/ingest/pdf.py`` at ``revision`` (its registration removed,
    so it does not clash with this tree's reader)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:qa/ingest/pdf.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    source = source.replace('@readers.register("pdf")\n', "")
    folder = Path(tempfile.mkdtemp(prefix="clean-text-"))
    path = folder / f"pdf_{revision}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reader = module.PdfReader()

    def read(data: bytes) -> ReadText:
        got = reader.read(data)
        return got if isinstance(got, ReadText) else ReadText(got[0], tuple(got[1]))

    return read


def broken_words(text: str) -> list[str]:
    """The places where a word stands broken in two (see the module's docstring)."""
    words = Counter(w.lower() for w in WORD.findall(text))
    words.update(w.lower() for w in re.findall(r"[^\W\d_]+", text))
    out = []
    for m in PAIR.finditer(text):
        a, hyphen, b = m.group(1).lower(), m.group(2), m.group(3).lower()
        if words[a] >= COMMON and words[b] >= COMMON:
            continue
        if words[a + b] or (hyphen and words[f"{a}-{b}"]):
            out.append(m.group(0))
    return out


def furniture_lines(data: bytes) -> list[tuple[int, str]]:
    """(page, text) of each page's running header, footer or page number, from PDFium's raw
    text: a first or last line repeating on 3 pages once digits are ignored, or a number."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    edges: list[tuple[int, str]] = []
    try:
        for n in range(len(pdf)):
            textpage = pdf[n].get_textpage()
            lines = [ln.strip() for ln in textpage.get_text_range().splitlines() if ln.strip()]
            edges += [(n, ln) for ln in {lines[0], lines[-1]}] if lines else []
    finally:
        pdf.close()
    seen = Counter(re.sub(r"\d+", "#", line.lower()) for _, line in edges)
    return [
        (n, line)
        for n, line in edges
        if PAGE_NUMBER.fullmatch(line) or seen[re.sub(r"\d+", "#", line.lower())] >= 3
    ]


def furniture_inside(read: ReadText, furniture: list[tuple[int, str]]) -> list[str]:
    """The headers, footers and page numbers that stand in a line of other words."""
    out = []
    by_page: dict[int, list[str]] = {}
    for page, line in furniture:
        by_page.setdefault(page, []).append(line)
    for page, line in furniture:
        if page >= len(read.pages):
            continue
        start = read.pages[page]
        end = read.pages[page + 1] if page + 1 < len(read.pages) else len(read.text)
        span = read.text[max(0, start - 2) : end + 2]
        bare = PAGE_NUMBER.fullmatch(line) is not None
        where = [span[:60], span[-60:]] if bare else [span]
        for part in where:
            at = part.find(line)
            if at < 0:
                continue
            own = (
                part[: at + len(line)].rsplit("\n", 1)[-1]
                + part[at + len(line) :].split("\n", 1)[0]
            )
            if own.strip() != line:
                out.append(own.strip()[:120])
                break
    return out


def flaws(read: ReadText, furniture: list[tuple[int, str]]) -> dict[str, list[str]]:
    return {
        "broken": broken_words(read.text),
        "furniture": furniture_inside(read, furniture) if read.pages else [],
        "leaders": LEADER.findall(read.text),
    }


def examples(before: str, after: str, found: dict[str, list[str]], n: int) -> list[tuple[str, str]]:
    """Up to ``n`` sentences of ``before`` holding a flaw (one of each kind first), each with
    the sentence of ``after`` sharing most of its words."""
    sentences = [s.strip() for s in SENTENCE.split(before) if s.strip()]
    later = [s.strip() for s in SENTENCE.split(after) if s.strip()]
    index: dict[str, list[int]] = {}
    for k, s in enumerate(later):
        for w in set(WORD.findall(s.lower())):
            index.setdefault(w, []).append(k)
    picked: list[str] = []
    for kind in ("broken", "furniture", "leaders", "broken", "furniture", "broken"):
        for flaw in found[kind]:
            hit = next((s for s in sentences if flaw in s and s not in picked), None)
            if hit:
                picked.append(hit)
                break
        if len(picked) >= n:
            break
    out = []
    for s in picked:
        words = set(WORD.findall(s.lower()))
        votes: Counter[int] = Counter(
            k for w in words for k in index.get(w, ()) if len(index[w]) < 50
        )
        best = votes.most_common(1)
        near = best and best[0][1] >= 0.5 * len([w for w in words if len(index.get(w, ())) < 50])
        out.append((s, later[best[0][0]] if near else "(left out)"))
    return out


def smoke_folder() -> Path:
    from tests import documents as docs

    folder = Path(tempfile.mkdtemp(prefix="clean-text-smoke-"))
    (folder / "handbook.pdf").write_bytes(docs.handbook_pdf())
    (folder / "guild-report.pdf").write_bytes(docs.guild_pdf())
    (folder / "museum.html").write_bytes(docs.museum_html())
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--before", default="ce10bcc", help="git revision of the old PDF reader")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, help="unused (the benches' common arguments)")
    parser.add_argument("--smoke", action="store_true", help="the generated test documents")
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    folder = smoke_folder() if args.smoke or args.folder is None else args.folder
    try:
        old = old_pdf_reader(args.before)
    except subprocess.CalledProcessError:
        if not args.smoke:
            raise SystemExit(f"revision {args.before} is not in this clone") from None
        old, args.before = PdfReader().read, "HEAD (the old revision is not in this clone)"
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".pdf", ".html", ".htm"})
    rows, results, shown = [], {}, []
    for path in files:
        data = path.read_bytes()
        name = str(path.relative_to(folder))
        if path.suffix.lower() == ".pdf":
            furniture = furniture_lines(data)
            before, after = old(data), PdfReader().read(data)
        else:
            furniture, before = [], HtmlReader().read(data)
            after = before
        was, now = flaws(before, furniture), flaws(after, furniture)
        results[name] = {
            "chars": [len(before.text), len(after.text)],
            "furniture_lines": len(furniture),
            **{kind: [len(was[kind]), len(now[kind])] for kind in was},
        }
        rows.append(
            [name, len(before.text), len(after.text)]
            + [f"{len(was[k])} → {len(now[k])}" for k in ("broken", "furniture", "leaders")]
        )
        pairs = examples(before.text, after.text, was, args.examples)
        results[name]["examples"] = [{"before": b, "after": a} for b, a in pairs]
        shown.append(f"### {name}\n")
        shown += [f"- before: {b[:300]!r}\n  after:  {a[:300]!r}" for b, a in pairs]
        shown.append("")
    header = ["file", "chars before", "chars after", "broken words", "furniture in text", "leaders"]
    totals = {
        k: [sum(r[k][0] for r in results.values()), sum(r[k][1] for r in results.values())]
        for k in ("broken", "furniture", "leaders")
    }
    rows.append(["all", "", ""] + [f"{a} → {b}" for a, b in totals.values()])
    title = f"PDF reader at {args.before} → this tree, {len(files)} files in {folder}"
    text = f"## Clean text: {title}\n\n" + table(header, rows) + "\n\n" + "\n".join(shown)
    problems = [f"{k} went up: {a} → {b}" for k, (a, b) in totals.items() if b > a]
    report(
        "clean_text",
        {
            "smoke": args.smoke,
            "folder": str(folder),
            "before": args.before,
            "files": results,
            "totals": totals,
            "valid": not problems,
            "problems": problems,
        },
        text,
        out=args.out,
    )


if __name__ == "__main__":
    main()
