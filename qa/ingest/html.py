"""HTML, with trafilatura: the page's main text, without scripts, styles, navigation or
boilerplate. Nothing is rendered, run or fetched.

The bytes are decoded by BeautifulSoup's ``UnicodeDammit``, which honours a byte-order mark
and then the page's declared charset (``<meta charset>``, ``http-equiv``) before guessing.
trafilatura keeps the article and drops menus, footers and cookie banners; on a page where it
finds no main text (a short page, a bare list), BeautifulSoup's text of the ``<body>`` with
scripts, styles and navigation removed is used instead.
"""

from __future__ import annotations

import html
import re

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers

MAX_HTML_BYTES = 8 * 1024 * 1024
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_DROPPED = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]
# Elements the fallback also drops by their class or id.
_FURNITURE = re.compile(
    r"cookie|consent|banner|comment|repl(y|ies)|newsletter|subscribe|share|promo|advert|sidebar",
    re.IGNORECASE,
)
# Elements that start a new line; inline ones (a, em, span, ...) run on.
_BLOCKS = [
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
]
_IMAGE_LINE = re.compile(r"^!\[[^\]]*\]\([^)]*\)$", re.MULTILINE)


@readers.register("html")
class HtmlReader:
    """The title, then the main text; unpaged."""

    name = "html"
    extensions = frozenset({".html", ".htm", ".xhtml"})
    version = "html-1"

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The page's title and main text."""
        if len(data) > MAX_HTML_BYTES:
            raise UnreadableFile(
                f"HTML page of {len(data) / 1024 / 1024:.0f} MB, over the "
                f"{MAX_HTML_BYTES >> 20} MB limit for a web page"
            )
        markup = decode_html(data)
        body = _main_text(markup) or _all_text(markup)
        title = _title(markup)
        lines = [title] if title and not body.lstrip().startswith(title) else []
        text = "\n\n".join([*lines, body]).strip()
        if not text:
            raise UnreadableFile("no text in the page")
        return ReadText(text)


def decode_html(data: bytes) -> str:
    """The page as text, in its declared charset (else a guess)."""
    from bs4 import UnicodeDammit

    dammit = UnicodeDammit(data, is_html=True)
    if dammit.unicode_markup is None:
        raise UnreadableFile("HTML page in an unknown character encoding")
    return str(dammit.unicode_markup)


def _main_text(markup: str) -> str:
    import trafilatura

    text = trafilatura.extract(
        markup,
        output_format="txt",
        include_comments=False,
        include_tables=True,
        include_images=True,  # else a <figure> is dropped whole, code listings included
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
    )
    return _IMAGE_LINE.sub("", text or "").strip()


def _all_text(markup: str) -> str:
    """The body's text without scripts, navigation and page furniture, a line per block."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(_DROPPED):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.attrs is None:  # inside an element already dropped
            continue
        names = f"{tag.get('class') or ''} {tag.get('id') or ''}"
        if names.strip() and _FURNITURE.search(names):
            tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    root = soup.body or soup
    lines = (" ".join(line.split()) for line in root.get_text("").splitlines())
    return "\n".join(line for line in lines if line)


def _title(markup: str) -> str:
    match = _TITLE.search(markup, 0, 65536)
    return " ".join(html.unescape(match.group(1)).split()) if match else ""
