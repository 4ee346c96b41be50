#!/usr/bin/env python3
"""Check the realdocs eval cases against the corpus text.

    python evals/realdocs/verify_cases.py                      # test.yaml, dev.yaml, dev2.yaml
    python evals/realdocs/verify_cases.py evals/realdocs/dev.yaml
    python evals/realdocs/verify_cases.py --grep "nargs='+'" --grep Zeitzone   # search the corpus
    python evals/realdocs/verify_cases.py --dump /tmp/realdocs-text            # text as checked

Needs PyYAML, BeautifulSoup (bs4) and pypdfium2 (all in the project's .venv).

Checks, for every case (and every turn of a conversation):
- the case has `folder`, `tags` (its category among them) and an id unique over all files;
- every expected source exists in the corpus folder;
- every fact has at least one phrasing present in at least one expected source, and for a PDF
  on one of the listed `pages` (1-based physical page, as pypdfium2 counts them);
- for a cross-lingual case (tag `crosslingual`), no phrasing of a fact is found in a file of
  the question's language (the answer must come from the other language's pages);
- an abstain case's `# absent:` terms (a comment in the case, terms separated by `;`) are
  found nowhere in the corpus.

Text is compared case-insensitively, without accents, whitespace collapsed. For a PDF, words
hyphenated at line ends are also rejoined (both `com- munication` -> `communication` and
`author- year` -> `author-year`); a phrasing found only that way, or only across a line break,
is reported as a warning because a verbatim quote of the page keeps the hyphen or the line
break.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = [HERE / "test.yaml", HERE / "dev.yaml", HERE / "dev2.yaml"]
CATEGORIES = {
    "html-close",
    "html-paraphrase",
    "pdf",
    "crosslingual",
    "conversation",
    "abstain",
}
# language of each corpus subfolder (for the cross-lingual check)
FOLDER_LANG = {"python": "en", "latex": "en", "debian-reference-de": "de",
               "debian-reference-es": "es", "debian-reference-fr": "fr"}  # fmt: skip
SOFT_HYPHEN = "\ufffe"  # what PDFium reports for a hyphen it inserted at a line end


def fold(text: str) -> str:
    """Casefolded, accents removed (NFD, combining marks dropped), whitespace collapsed. No
    compatibility mapping: a ligature (U+FB01) stays a ligature, so a phrasing written with
    `fi` does not pass where the PDF holds the ligature."""
    text = unicodedata.normalize("NFD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Doc:
    """One corpus file's text in the forms it is searched in."""

    path: str
    pages: list[str] = field(default_factory=list)  # raw page text (PDF) or [text] (HTML)
    is_pdf: bool = False

    def forms(self, page: int) -> dict[str, str]:
        """Searchable forms of one page (0-based): `line` (each line on its own, joined by
        newlines: a match inside one line), `flat` (lines joined by spaces), `dehyph` (hyphens
        at line ends rejoined)."""
        raw = self.pages[page]
        if not self.is_pdf:
            return {"line": raw}
        lines = [fold(line) for line in raw.splitlines()]
        flat = " ".join(lines)
        soft = re.sub(rf"{SOFT_HYPHEN}\s*\r?\n\s*", "", raw)
        dehyph_drop = fold(re.sub(r"(\w)-\s*\r?\n\s*(\w)", r"\1\2", soft))
        dehyph_keep = fold(re.sub(r"(\w)-\s*\r?\n\s*(\w)", r"\1-\2", soft))
        return {
            "line": "\n".join(lines),
            "flat": flat,
            "dehyph": dehyph_drop + "\n" + dehyph_keep,
        }


_CACHE: dict[Path, Doc] = {}


def html_text(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    body = soup.body or soup
    # Both without and with a separator between elements: inline markup (<code>, <span>)
    # must not split a phrase, block elements (table cells) must not glue words.
    return fold(body.get_text("")) + "\n" + fold(body.get_text(" "))


def load_doc(path: Path, rel: str) -> Doc:
    if path in _CACHE:
        return _CACHE[path]
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        finally:
            pdf.close()
        doc = Doc(rel, pages, is_pdf=True)
    else:
        doc = Doc(rel, [html_text(path)])
    _CACHE[path] = doc
    return doc


def find(doc: Doc, phrase: str) -> dict[str, list[int]]:
    """Pages (1-based) where phrase stands, by the form it was found in (see Doc.forms)."""
    needle = fold(phrase)
    found: dict[str, list[int]] = {}
    for i in range(len(doc.pages)):
        for form, text in doc.forms(i).items():
            if needle in text:
                found.setdefault(form, []).append(i + 1)
                break  # the strictest form that matches
    return found


def corpus_files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in {".html", ".pdf"}
    )


def absent_comments(yaml_path: Path) -> dict[str, list[str]]:
    """`# absent: a; b` comments, by the id of the case they stand in."""
    result: dict[str, list[str]] = {}
    current = None
    for line in yaml_path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^- id:\s*(\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s*#\s*absent:\s*(.+)$", line)
        if m and current:
            terms = [t.strip() for t in m.group(1).split(";") if t.strip()]
            result.setdefault(current, []).extend(terms)
    return result


def lang_of(rel: str) -> str:
    return FOLDER_LANG.get(rel.split("/", 1)[0], "?")


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def check_turn(
    where: str,
    turn: dict,
    folder: Path,
    crosslingual: str | None,
    rep: Report,
    all_files: list[str],
) -> None:
    sources = turn.get("sources") or []
    pages = turn.get("pages") or []
    facts = turn.get("facts") or []
    if turn.get("abstain"):
        if facts or sources or pages:
            rep.error(f"{where}: abstain turn with facts/sources/pages")
        return
    if not sources and facts:
        rep.error(f"{where}: facts without sources")
    for src in sources:
        if not (folder / src).is_file():
            rep.error(f"{where}: source {src} is not in {folder}")
    docs = [load_doc(folder / s, s) for s in sources if (folder / s).is_file()]
    if pages and not any(d.is_pdf for d in docs):
        rep.error(f"{where}: pages given but no PDF source")
    for n, fact in enumerate(facts, start=1):
        phrasings = [str(p) for p in fact] if isinstance(fact, list) else [str(fact)]
        best = None  # (form rank, phrasing, doc, pages)
        rank = {"line": 0, "flat": 1, "dehyph": 2}
        for phrase in phrasings:
            for doc in docs:
                hits = find(doc, phrase)
                for form, on in hits.items():
                    if doc.is_pdf and pages:
                        on = [p for p in on if p in pages]
                    if not on:
                        continue
                    cand = (rank[form], phrase, doc, on)
                    if best is None or cand[0] < best[0]:
                        best = cand
        if best is None:
            rep.error(
                f"{where}: fact {n} {phrasings} not found in {sources}"
                + (f" on pages {pages}" if pages else "")
            )
            continue
        if best[0] == 1:
            rep.warn(
                f"{where}: fact {n} {best[1]!r} only found across a line break in {best[2].path}"
            )
        if best[0] == 2:
            rep.warn(
                f"{where}: fact {n} {best[1]!r} only found after rejoining a hyphenated word "
                f"in {best[2].path}"
            )
        if crosslingual:
            for rel in all_files:
                if lang_of(rel) != crosslingual:
                    continue
                doc = load_doc(folder / rel, rel)
                for phrase in phrasings:
                    if find(doc, phrase):
                        rep.error(
                            f"{where}: cross-lingual fact {phrase!r} also stands in {rel} "
                            f"(the question's language)"
                        )
        # a fact in a PDF on pages not listed
        for doc in docs:
            if doc.is_pdf and pages:
                elsewhere = set()
                for phrase in phrasings:
                    for form, on in find(doc, phrase).items():
                        if form != "dehyph":
                            elsewhere |= {p for p in on if p not in pages}
                if elsewhere and len(elsewhere) <= 3:
                    rep.warn(
                        f"{where}: fact {n} {phrasings} also on pages {sorted(elsewhere)} "
                        f"of {doc.path} (not listed)"
                    )


def check_file(yaml_path: Path, rep: Report, seen: dict[str, str]) -> list[dict]:
    cases = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or []
    absent = absent_comments(yaml_path)
    for case in cases:
        cid = case.get("id")
        where = f"{yaml_path.name}:{cid}"
        if cid in seen:
            rep.error(f"{where}: id also used in {seen[cid]}")
        seen[cid] = yaml_path.name
        folder_name = case.get("folder")
        if not folder_name:
            rep.error(f"{where}: no folder")
            continue
        folder = (yaml_path.parent / folder_name).resolve()
        if not folder.is_dir():
            rep.error(f"{where}: folder {folder} does not exist (run build.py)")
            continue
        all_files = corpus_files(folder)
        tags = case.get("tags") or []
        cats = [t for t in tags if t in CATEGORIES]
        if len(cats) != 1:
            rep.error(
                f"{where}: needs exactly one category tag of {sorted(CATEGORIES)}, has {tags}"
            )
        crosslingual = None
        for t in tags:
            m = re.fullmatch(r"q-(\w\w)", t)
            if m:
                crosslingual = m.group(1) if "crosslingual" in tags else None
        if "crosslingual" in tags and not crosslingual:
            rep.error(f"{where}: a crosslingual case needs a q-XX tag (the question's language)")
        turns = case.get("turns") or [case]
        for i, turn in enumerate(turns):
            tw = where if "turns" not in case else f"{where} turn {i + 1}"
            check_turn(tw, turn, folder, crosslingual, rep, all_files)
        is_abstain = any(t.get("abstain") for t in turns)
        if cid in absent:
            for term in absent[cid]:
                hits = [rel for rel in all_files if find(load_doc(folder / rel, rel), term)]
                if hits:
                    rep.error(f"{where}: absent term {term!r} found in {hits}")
            print(f"  {where}: absent in the whole corpus: {'; '.join(absent[cid])}")
        elif is_abstain:
            rep.warn(f"{where}: abstain case without an `# absent:` comment")
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="*", type=Path, help="case files (default: test.yaml dev.yaml dev2.yaml)"
    )
    parser.add_argument(
        "--folder", type=Path, default=HERE / "corpus", help="corpus for --grep/--dump"
    )
    parser.add_argument("--grep", action="append", default=[], help="show where a phrase stands")
    parser.add_argument(
        "--dump", type=Path, help="write each file's checked text under this folder"
    )
    args = parser.parse_args(argv)

    if args.grep or args.dump:
        files = corpus_files(args.folder)
        for rel in files:
            doc = load_doc(args.folder / rel, rel)
            if args.dump:
                out = args.dump / (rel + ".txt")
                out.parent.mkdir(parents=True, exist_ok=True)
                if doc.is_pdf:
                    out.write_text(
                        "".join(
                            f"\n\n===== page {i + 1} =====\n{p}" for i, p in enumerate(doc.pages)
                        )
                    )
                else:
                    out.write_text(doc.pages[0].split("\n")[1])
            for term in args.grep:
                hits = find(doc, term)
                if hits:
                    print(f"{term!r}: {rel} {hits if doc.is_pdf else ''}")
        return 0

    rep = Report()
    seen: dict[str, str] = {}
    counts = {}
    for path in args.files or DEFAULT_FILES:
        cases = check_file(path.resolve(), rep, seen)
        by_cat: dict[str, int] = {}
        for case in cases:
            for t in case.get("tags") or []:
                if t in CATEGORIES:
                    by_cat[t] = by_cat.get(t, 0) + 1
        counts[path.name] = (len(cases), by_cat)
    for w in rep.warnings:
        print(f"warning: {w}")
    for e in rep.errors:
        print(f"ERROR: {e}")
    for name, (n, by_cat) in counts.items():
        print(f"{name}: {n} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items())))
    if rep.errors:
        print(f"FAILED: {len(rep.errors)} error(s)")
        return 1
    print("all facts verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
