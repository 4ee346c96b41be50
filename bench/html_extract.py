"""HTML main-text extraction: trafilatura against BeautifulSoup, and qa's reader over both.

    python bench/html_extract.py [--out DIR] [--cache DIR] [--smoke] [--mb M] [--docs DIR]...

Extractors: ``trafilatura`` (``extract`` with qa's arguments before html-2: txt output),
``bs4_all`` (BeautifulSoup's ``get_text("\\n")`` of the whole page, the baseline),
``bs4_stripped`` (the same with script, style, noscript, template, nav, header, footer, aside
and form removed) and ``qa`` (``qa.ingest.html.HtmlReader().read``: trafilatura's structure
rendered, else the body rendered the same way; the title when there is no h1);
``trafilatura_img``: trafilatura with ``include_images=True`` (which keeps ``<figure>``s).

1. Generated pages (``tests.documents.museum_html`` and variants built here: a 200-link menu,
   related headlines, comment sections, an inline ad, ``<figure>``s, bare ``<div>``s, a short
   page), where every article sentence and boilerplate string is known: article recall (share
   of the sentences found verbatim, whitespace collapsed) and boilerplate kept (share of the
   boilerplate strings found).
2. Real pages, if present: mdBook and rustdoc pages of the local Rust docs, and documentation
   pages (Python library reference, Debian Reference chapters) under the ``--docs`` folders
   (default: Debian's ``/usr/share/doc/python3*/html/library`` and
   ``/usr/share/debian-reference``). No ground truth: output length, the share of output
   lines equal to a link of ``nav``/``.sidebar`` and to any line outside the main part
   (``<main>``, ``[role=main]``, DocBook's ``div.chapter``; chrome), the shares of its
   paragraphs and ``<pre>`` code blocks found (whitespace ignored), the share of its h1–h6
   that stand as a line of their own (permalink marks removed), and the share of output
   lines with markup that is not the document's (a ¶/§ mark, ``![image](…)``, a leading
   ``- ``/``* `` bullet or ``|`` table pipe; a line of a ``<pre>`` block is not counted).
3. Speed: one run of each on a generated page of ``--mb`` MB (default 5), in ms per MB.

``--smoke``: 2 real pages and a tiny page for the timing.
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, ROOT, report, table, timed

warnings.filterwarnings("ignore", message="It looks like you're using an HTML parser")

RUST_DOCS = "/root/.rustup/toolchains/*/share/doc/rust/html"
DOCS = ["/usr/share/doc/python3*/html/library", "/usr/share/debian-reference"]
DOC_PAGES = re.compile(r"(argparse|json|os|pathlib|re|shutil|ch0[1259]\.\w+)\.html")
MAIN = ["main", "[role=main]", "div.chapter", "div.article", "div.book"]
PERMALINK = ["a.headerlink", "a.anchor", "a.doc-anchor", "a.hash-link"]
BLOCK_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "dt", "dd", "th", "td", "pre"]
NOISE = re.compile(r"[¶§]$|!\[[^\]]*\]\([^)]*\)|^(- |\* |\|)")
DROPPED = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]
ARTICLE = [
    "The Varrow harbour board voted on Tuesday to dredge the eastern channel before winter.",
    "Silt carried down by the spring floods had left the channel two metres shallower.",
    "Fishing boats have been waiting for the tide to reach the fish market since March.",
    "The dredger Gannet will arrive from Orle in September and work through the nights.",
    "Its crew of eleven expects to lift forty thousand tonnes of mud in ten weeks.",
    "The spoil will be carried out to sea and dropped beyond the lighthouse at Skellig Isle.",
    "Harbour master Ilse Roan said the work would cost the town about nine hundred pounds.",
    "Half of the money comes from the fishermen's guild and half from the county treasury.",
    "Ferries to Skellig Isle will sail from the north pier while the dredger is at work.",
]
BOILER = ["We use cookies to improve your experience", "Copyright 2026 Varrow Gazette"]
BOILER += ["tracking pixel loaded", "font-family"]  # in <script> and <style>
HEADLINES = [f"Tram depot {n} reopens after the floods on the estuary road" for n in range(10)]
COMMENTS = [f"Reader Oskar {n} recalls the crossing of 19{60 + n} as rough" for n in range(8)]
MENU = [f"Section {n:03d} archive" for n in range(200)]
TOPICS = [f"Topic {n:02d} index" for n in range(30)]
PROMO = ["Subscribe to the print edition for two shillings a week", "Follow the Gazette online"]
Page = tuple[str, list[str], list[str]]  # markup, article sentences, boilerplate strings


def _doc(body: str, title: str = "Dredger to clear the eastern channel") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body { font-family: serif }</style>"
        "<script>document.write('tracking pixel loaded');</script></head>"
        f"<body>{body}</body></html>"
    )


def _ul(items: list[str], prefix: str) -> str:
    links = "".join(f'<li><a href="/{prefix}/{i}">{t}</a></li>' for i, t in enumerate(items))
    return f"<ul>{links}</ul>"


def _article(sentences: list[str]) -> str:
    paras = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    head = "<h1>Dredger to clear the eastern channel</h1>"
    return "<article>" + head + "".join(f"<p>{p}</p>" for p in paras) + "</article>"


COOKIE = '<div class="cookie">We use cookies to improve your experience. Accept all?</div>'
FOOTER = "<footer><p>Copyright 2026 Varrow Gazette. All rights reserved.</p></footer>"
HEAD = "Dredger to clear the eastern channel"
AD = '<div class="ad">Advertisement</div><p class="more">Read more: <a href="/r">{}</a></p>'
FIGURES = ["let depth_m = 2.5; // silt to lift at the pier", "Listing 1: the depth to reach"]
FIGURES += ["The dredger Gannet in Orle harbour in 1931"]  # code, its caption, a photo caption


def generated_pages() -> dict[str, Page]:
    """Each page with its known article sentences and boilerplate strings."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import documents as d

    art, body = [HEAD, *ARTICLE], _article(ARTICLE)
    nav = f"<header><nav>{_ul(MENU, 's')}</nav></header>"
    aside = f'<aside class="sidebar"><h2>Related articles</h2>{_ul(HEADLINES, "r")}</aside>'
    said = ", said a reader of the Gazette who lives near the pier"
    comments = "".join(f'<div class="comment"><p>{c}.</p></div>' for c in COMMENTS)
    replies = "".join(f'<div class="reply"><p>{c}{said}.</p></div>' for c in COMMENTS)
    menu = "".join(f"<a href=/t>{t}</a> " for t in TOPICS)
    divs = (
        f'<div class="menu">{menu}</div><div class="banner">{COOKIE}</div><div class="story">'
        f'<div class="headline">{HEAD}</div>{"".join(f"<p>{s}</p>" for s in ARTICLE)}'
        f'<div class="promo">{PROMO[0]}.</div></div><div class="bottom">'
        f"Copyright 2026 Varrow Gazette. {PROMO[1]}.</div>"
    )
    paras = [f"<p>{s}</p>" for s in ARTICLE]
    inline_ad = "".join(paras[:4]) + AD.format(HEADLINES[0]) + "".join(paras[4:])
    photo = f'<figure><img src="/g.png" alt="Gannet"><figcaption>{FIGURES[2]}</figcaption></figure>'
    listing = f"<pre><code>{FIGURES[0]}</code></pre><figcaption>{FIGURES[1]}</figcaption>"
    figures = "".join(paras[:4]) + photo + "".join(paras[4:]) + f"<figure>{listing}</figure>"
    short = f"<header><nav>{_ul(d.BOILERPLATE, 'n')}</nav></header>{_article(ARTICLE[:2])}"
    section = '<section class="{}"><h2>8 comments</h2>{}</section>'
    talk = [*COMMENTS, "8 comments", *BOILER[1:]]
    pages: dict[str, Page] = {
        "long_nav": (f"{nav}{COOKIE}<main>{body}</main>{FOOTER}", art, MENU + BOILER),
        "sidebar": (f"{COOKIE}<main>{body}{aside}</main>{FOOTER}", art, [*HEADLINES, *BOILER]),
        "comments": (
            f"<main>{body}{section.format('comments', comments)}</main>{FOOTER}",
            art,
            talk,
        ),
        "replies": (f"<main>{body}{section.format('replies', replies)}</main>{FOOTER}", art, talk),
        "inline_ad": (
            f"<main><article><h1>{HEAD}</h1>{inline_ad}</article></main>{FOOTER}",
            art,
            ["Advertisement", HEADLINES[0], *BOILER[1:]],
        ),
        "figures": (
            f"<main><article><h1>{HEAD}</h1>{figures}</article></main>",
            art + FIGURES,
            BOILER,
        ),
        "div_soup": (divs, art, [*TOPICS, *PROMO, *BOILER]),
        "short": (short + FOOTER, [HEAD, *ARTICLE[:2]], [*d.BOILERPLATE, *BOILER[1:]]),
    }
    museum = [*d.BOILERPLATE, *BOILER, "Accept all cookies", "All rights reserved"]
    return {
        "museum": (d.museum_html().decode(), [d.MUSEUM_TITLE, *d.MUSEUM_PARAGRAPHS], museum)
    } | {name: (_doc(body), art, bp) for name, (body, art, bp) in pages.items()}


def big_page(megabytes: float) -> tuple[str, list[str]]:
    """A page of about ``megabytes`` MB: the 200-link menu and numbered article paragraphs."""
    count = int(megabytes * 1024 * 1024 / 190) + 1  # a paragraph is about 190 bytes
    paras = [f"Paragraph {n}: {ARTICLE[n % 9]} {ARTICLE[(n + 4) % 9]}" for n in range(count)]
    nav = f"<header><nav>{_ul(MENU, 's')}</nav></header>"
    body = "<main><article>" + "".join(f"<p>{p}</p>" for p in paras) + "</article></main>"
    return _doc(nav + body + FOOTER), paras


def trafilatura_text(markup: str, images: bool = False) -> str:
    """trafilatura.extract with qa's arguments."""
    import trafilatura

    text = trafilatura.extract(
        markup,
        output_format="txt",
        include_comments=False,
        include_tables=True,
        include_images=images,
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
    )
    return text or ""


def trafilatura_images(markup: str) -> str:
    """The same with include_images=True (it keeps <figure>s: code listings, as ![alt](src))."""
    return trafilatura_text(markup, images=True)


def bs4_all(markup: str) -> str:
    """BeautifulSoup get_text of the whole page (the baseline)."""
    from bs4 import BeautifulSoup

    return str(BeautifulSoup(markup, "lxml").get_text("\n"))


def bs4_stripped(markup: str) -> str:
    """BeautifulSoup get_text of the body without script/style/nav/header/footer/aside/form."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(DROPPED):
        tag.decompose()
    lines = (line.strip() for line in (soup.body or soup).get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def qa_reader(markup: str) -> str:
    """qa.ingest.html.HtmlReader: trafilatura, else the stripped text, plus the title."""
    from qa.ingest.html import HtmlReader

    return HtmlReader().read(markup.encode("utf-8")).text


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "trafilatura": trafilatura_text,
    "trafilatura_img": trafilatura_images,
    "bs4_all": bs4_all,
    "bs4_stripped": bs4_stripped,
    "qa": qa_reader,
}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _found(needle: str, flat: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(_flat(needle)) + r"(?!\w)", flat) is not None


def _bare(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def _lines(text: str) -> list[str]:
    return [s for s in (_flat(line).removeprefix("- ") for line in text.splitlines()) if s]


def score_generated(page: Page) -> dict[str, Any]:
    markup, article, boiler = page
    out: dict[str, Any] = {"bytes": len(markup.encode()), "results": {}}
    for name, extract in EXTRACTORS.items():
        flat = _flat(extract(markup))
        missing = [s for s in article if not _found(s, flat)]
        kept = [s for s in boiler if _found(s, flat)]
        out["results"][name] = {
            "article_recall": 1 - len(missing) / len(article),
            "boilerplate_kept": len(kept) / len(boiler),
            "chars": len(flat),
            "missing": missing,
            "kept": kept[:10] + ([f"... {len(kept) - 10} more"] if len(kept) > 10 else []),
        }
    return out


def real_pages(smoke: bool) -> list[Path]:
    """~10 deterministic pages: mdBook (book/, rustdoc/) and two rustdoc API pages (std/)."""
    roots = sorted(glob.glob(RUST_DOCS))
    if not roots:
        return []
    root, picked = Path(roots[-1]), []
    for sub, count in (("book", 5), ("rustdoc", 3), ("std", 2)):
        names = sorted((root / sub).glob("macro.*.html" if sub == "std" else "*.html"))
        names = [p for p in names if p.name != "print.html" and b"<main" in p.read_bytes()]
        picked += names[:: max(len(names) // count, 1)][:count]
    return picked[:2] if smoke else picked


def doc_pages(folders: list[str], smoke: bool) -> list[Path]:
    """Six Python library pages and four Debian Reference chapters (one language), if there."""
    picked: dict[str, Path] = {}
    for folder in folders:
        for root in sorted(glob.glob(folder)):
            for path in sorted(Path(root).glob("*.html")):
                stem = re.sub(r"\.\w+$", "", path.stem)  # ch01.de -> ch01
                if DOC_PAGES.fullmatch(path.name):
                    picked.setdefault(stem, path)
    pages = list(picked.values())
    return pages[:1] if smoke else pages


def score_real(path: Path) -> dict[str, Any]:
    """Output length, sidebar-link and chrome line shares, the main part's paragraph, code
    block and heading recall, and the share of lines with markup."""
    from bs4 import BeautifulSoup

    markup = path.read_text(encoding="utf-8", errors="replace")
    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    main = next(m for m in (soup.select_one(css) for css in [*MAIN, "body"]) if m is not None)
    heads = [
        _flat("".join(t for t in h.strings if t.parent not in h.select(", ".join(PERMALINK))))
        for h in main.find_all(BLOCK_TAGS[:6])
    ]
    heads = [h.rstrip("¶§ ") for h in heads if h.rstrip("¶§ ")]
    main_lines = set(_lines(main.get_text("\n")))  # and each block's text, inline parts joined:
    main_lines |= {_flat(el.get_text()).rstrip("¶§ ") for el in main.find_all(BLOCK_TAGS)}
    listing = {_flat(line) for pre in main.find_all("pre") for line in pre.get_text().splitlines()}
    paras = [p for p in (_bare(p.get_text()) for p in main.find_all("p")) if len(p) >= 35]
    code = [_bare(pre.get_text()) for pre in main.find_all("pre")]
    links = {_flat(a.get_text()) for el in soup.select("nav, .sidebar") for a in el.find_all("a")}
    links -= main_lines | {""}
    main.decompose()
    chrome = set(_lines((soup.body or soup).get_text("\n"))) - main_lines
    out: dict[str, Any] = {"bytes": len(markup.encode()), "sidebar_links": len(links)}
    out |= {"main_paragraphs": len(paras), "main_pre_blocks": len(code), "main_headings": heads}
    out["results"] = {}
    for name, extract in EXTRACTORS.items():
        text = extract(markup)
        lines, bare = _lines(text), _bare(text)
        raw = [_flat(line) for line in text.splitlines() if line.strip()]
        out["results"][name] = {
            "chars": len(_flat(text)),
            "lines": len(lines),
            "sidebar_share": sum(line in links for line in lines) / max(len(lines), 1),
            "chrome_share": sum(line in chrome for line in lines) / max(len(lines), 1),
            "main_recall": _share([p in bare for p in paras]),
            "pre_recall": _share([c in bare for c in code]),
            "heading_lines": _share([h in set(raw) for h in heads]),
            "markup_lines": sum(bool(NOISE.search(x)) and x not in listing for x in raw)
            / max(len(raw), 1),
        }
    return out


def timing(markup: str, paras: list[str]) -> dict[str, Any]:
    """One run of each extractor: ms per MB, and the share of paragraphs kept as lines."""
    mb = len(markup.encode()) / 1024 / 1024
    out: dict[str, Any] = {"mb": mb, "paragraphs": len(paras), "results": {}}
    for name, extract in EXTRACTORS.items():
        seconds, text = timed(lambda extract=extract: extract(markup))
        lines = set(_lines(text))
        out["results"][name] = {
            "seconds": seconds,
            "ms_per_mb": seconds * 1000 / mb,
            "chars": len(text),
            "paragraphs_kept": sum(p in lines for p in paras) / len(paras),
        }
    return out


SHARES = ("sidebar_share", "chrome_share", "main_recall", "pre_recall", "heading_lines")
SHARES += ("markup_lines",)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE / "html_extract")  # nothing cached
    parser.add_argument("--smoke", action="store_true", help="2 real pages, a tiny timed page")
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--docs", action="append", help="folder of documentation pages")
    args = parser.parse_args()
    generated = {name: score_generated(page) for name, page in generated_pages().items()}
    text = "## HTML main text: article recall / boilerplate kept (generated pages)\n\n"
    cell = "{} / {}".format
    rows = [
        [page, *(cell(_pct(r["article_recall"]), _pct(r["boilerplate_kept"])) for r in g.values())]
        for page, g in ((page, g["results"]) for page, g in generated.items())
    ]
    text += table(["page", *EXTRACTORS], rows)
    findings = [
        f"{n} on {page}: missed {len(r['missing'])} article sentences {r['missing'][:2]}, "
        f"kept {len(r['kept'])} boilerplate strings {r['kept'][:2]}"
        for page, g in generated.items()
        for n, r in g["results"].items()
        if n in ("trafilatura", "trafilatura_img", "qa") and (r["missing"] or r["kept"])
    ]
    pages = real_pages(args.smoke)
    pages += doc_pages(args.docs or DOCS, args.smoke)
    real: dict[str, Any] = {"folder": RUST_DOCS, "docs": args.docs or DOCS, "pages": {}}
    if pages:
        real["pages"] = {"/".join(p.parts[-2:]): score_real(p) for p in pages}
        text += "\n\n## Real pages: output chars / lines equal to a sidebar link / lines outside "
        text += "the main part / its paragraphs found / its code blocks found / its headings "
        text += "standing as lines / lines with markup (¶, ![…], bullets, pipes)\n\n"
        rows = [
            [p, r["sidebar_links"], r["main_paragraphs"], r["main_pre_blocks"]]
            + [
                f"{x['chars']} / " + " / ".join(_pct(x[k]) for k in SHARES)
                for x in r["results"].values()
            ]
            for p, r in real["pages"].items()
        ]
        text += table(["page", "sidebar links", "<p>", "<pre>", *EXTRACTORS], rows)
    else:
        real["note"] = f"no Rust docs under {RUST_DOCS}: real pages skipped"
        text += f"\n\n{real['note']}"
    speed = timing(*big_page(0.02 if args.smoke else args.mb))
    base = speed["results"]["bs4_all"]["ms_per_mb"]
    ratios = {
        f"{n}_over_bs4_all_ms_per_mb": r["ms_per_mb"] / base for n, r in speed["results"].items()
    }
    text += f"\n\n## Speed on a {speed['mb']:.2f} MB generated page (1 run each)\n\n"
    rows = [
        [n, r["ms_per_mb"], r["ms_per_mb"] / base, _pct(r["paragraphs_kept"]), r["chars"]]
        for n, r in speed["results"].items()
    ]
    text += table(["extractor", "ms per MB", "ratio to bs4_all", "paragraphs kept", "chars"], rows)
    if findings:
        text += "\n\nFindings (trafilatura, trafilatura_img, qa):\n" + "\n".join(
            f"- {f}" for f in findings
        )
    extractors = {n: f.__doc__ or n for n, f in EXTRACTORS.items()}
    result = {"smoke": args.smoke, "extractors": extractors, "baseline": "bs4_all"}
    result |= {"generated": generated, "real_pages": real, "timing": speed, "ratios": ratios}
    result |= {"findings": findings, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    report("html_extract", {**result, "valid": True, "problems": []}, text, out=args.out)


if __name__ == "__main__":
    main()
