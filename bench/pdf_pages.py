"""Speed and memory of qa's PDF reader on a long PDF, against raw pypdfium2 in the same run.

    python bench/pdf_pages.py [--out DIR] [--cache DIR] [--smoke] [--pages N] [--repeats R]

The PDF is ``tests.documents.pages_pdf(N)`` (N pages of 30 numbered lines, made with fpdf2 and
cached in ``bench/.cache/pdf_pages/``). Each variant runs in its own fresh process, so its peak
RSS is its own (``VmHWM``: a child's ``ru_maxrss`` starts at its parent's peak); every process
imports the same modules (pypdfium2, qa.ingest):

- ``raw``: pypdfium2 alone, ``get_textpage().get_text_range()`` per page (the baseline);
- ``read_document``: ``qa.ingest.read_document(path)``: qa's reader (lines rebuilt from
  PDFium's boxes and fonts, page by page; headers, hyphens, notes, headings over the
  document) plus the sha256 of the file;
- ``PdfReader``: ``qa.ingest.pdf.PdfReader().read(data)``, the reader alone;
- ``imports``: the imports only, so the memory that reading adds is visible.

Every variant is timed from the path to the text (file read included). ``--repeats`` rounds
(default 3), the order of the variants reversed every other round; reported: median pages/s,
its ratio to ``raw``, median peak RSS, and the peak while reading over the RSS just before it
(``VmHWM`` reset after the imports). ``--smoke``: 20 pages, one round.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, ROOT, own_memory_mb, peak_rss_mb, report, reset_peak, table
from pdf_extract import extract

VARIANTS = ("raw", "read_document", "PdfReader", "imports")
QA_VARIANTS = ("read_document", "PdfReader")


def make_pdf(cache: Path, pages: int) -> Path:
    """``tests.documents.pages_pdf(pages)`` written once under ``cache``."""
    path = cache / f"pages-{pages}.pdf"
    if not path.exists():
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.documents import pages_pdf

        cache.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_bytes(pages_pdf(pages))
        path.with_suffix(".tmp").replace(path)
    return path


def worker(variant: str, path: Path) -> dict[str, Any]:
    """One variant in this (fresh) process: seconds, pages, characters and memory.

    ``ru_maxrss`` of a child starts at its parent's peak (the fork's copy of it survives the
    exec), so the process's own peak is read from ``VmHWM``; ``ru_maxrss`` is kept for the record.
    """
    import pypdfium2  # noqa: F401  - every variant loads the same modules

    from qa.ingest import read_document
    from qa.ingest.pdf import PdfReader

    gc.collect()
    imported = own_memory_mb()
    reset = reset_peak()
    started = time.perf_counter()
    if variant == "raw":
        texts = extract("pypdfium2", path)  # bench/pdf_extract.py's raw pypdfium2 loop
        pages, text = len(texts), "".join(texts)
    elif variant == "read_document":
        doc = read_document(path)
        pages, text = doc.page_count, doc.text
    elif variant == "PdfReader":
        read = PdfReader().read(path.read_bytes())
        pages, text = len(read.pages), read.text
    else:
        pages, text = 0, ""
    seconds = time.perf_counter() - started
    after = own_memory_mb()
    return {
        "seconds": seconds,
        "pages": pages,
        "chars": len(text),
        "shown_chars": sum(not ch.isspace() for ch in text),
        "rss_after_imports_mb": imported["VmRSS"],
        "peak_rss_mb": max(imported["VmHWM"], after["VmHWM"]),
        "reading_peak_over_rss_mb": after["VmHWM"] - imported["VmRSS"] if reset else None,
        "ru_maxrss_mb": peak_rss_mb(),
    }


def measure(variant: str, path: Path) -> dict[str, Any]:
    """``worker`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", variant, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures of one variant's runs, every run kept."""
    rates = [r["pages"] / max(r["seconds"], 1e-9) for r in runs]
    return {
        "pages_per_s": statistics.median(rates),
        "pages_per_s_min": min(rates),
        "pages_per_s_max": max(rates),
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "rss_after_imports_mb": statistics.median(r["rss_after_imports_mb"] for r in runs),
        "reading_peak_over_rss_mb": _median([r["reading_peak_over_rss_mb"] for r in runs]),
        "pages": runs[0]["pages"],
        "chars": runs[0]["chars"],
        "shown_chars": runs[0]["shown_chars"],
        "runs": runs,
    }


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE / "pdf_pages")
    parser.add_argument("--smoke", action="store_true", help="20 pages, one round")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    pages, repeats = (20, 1) if args.smoke else (args.pages, args.repeats)
    path = make_pdf(args.cache, pages)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for round_ in range(repeats):
        for variant in VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]:
            runs[variant].append(measure(variant, path))
    results = {v: summarise(r) for v, r in runs.items()}
    raw, base = results["raw"], results["imports"]["peak_rss_mb"]
    ratios = {
        f"{v}_over_raw_pages_per_s": results[v]["pages_per_s"] / raw["pages_per_s"]
        for v in QA_VARIANTS
    }
    if raw["reading_peak_over_rss_mb"] is not None:
        ratios.update(
            {
                f"{v}_over_raw_reading_peak": results[v]["reading_peak_over_rss_mb"]
                / max(raw["reading_peak_over_rss_mb"], 0.1)
                for v in QA_VARIANTS
            }
        )
    problems = [
        f"{v} read {results[v]['pages']} pages, not {pages}"
        for v in VARIANTS[:3]
        if results[v]["pages"] != pages
    ]
    # This PDF has no headers, hyphens or contents: qa keeps every character PDFium shows.
    problems += [
        f"{v} shows {results[v]['shown_chars']} characters, raw {raw['shown_chars']}"
        for v in QA_VARIANTS
        if results[v]["shown_chars"] != raw["shown_chars"]
    ]
    rows = [
        [
            v,
            r["pages_per_s"] if v != "imports" else "-",
            f"{r['pages_per_s_min']:.0f}-{r['pages_per_s_max']:.0f}" if v != "imports" else "-",
            r["pages_per_s"] / raw["pages_per_s"] if v != "imports" else "-",
            r["peak_rss_mb"],
            r["peak_rss_mb"] - base,
            "n/a" if r["reading_peak_over_rss_mb"] is None else r["reading_peak_over_rss_mb"],
        ]
        for v, r in results.items()
    ]
    header = ["variant", "pages/s (median)", "min-max", "ratio to raw", "peak RSS MiB"]
    header += ["over imports-only MiB", "peak while reading over RSS before MiB"]
    text = (
        f"## PDF reading, {pages} pages, {repeats} fresh process(es) per variant: "
        "qa vs raw pypdfium2\n\n" + table(header, rows)
    )
    report(
        "pdf_pages",
        {
            "smoke": args.smoke,
            "pages": pages,
            "repetitions": repeats,
            "pdf_bytes": path.stat().st_size,
            "baseline": "raw",
            "variants": results,
            "ratios": ratios,
            "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "valid": not problems,
            "problems": problems,
        },
        text,
        out=args.out,
    )


if __name__ == "__main__":
    main()
