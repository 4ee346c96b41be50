"""HTML, with trafilatura: the page's main text, without scripts, styles, navigation or
boilerplate, as lines with its headings (rendered by ``html_text``). Nothing is rendered, run
or fetched.

The bytes are decoded by BeautifulSoup's ``UnicodeDammit`` (a byte-order mark, then the
declared charset: ``<meta charset>``, ``http-equiv``, then a guess) and parsed by lxml. Before
extraction, permalinks (``a.headerlink``, an anchor whose whole text is ¶, §, # or 🔗) are
removed, an anchor without a link (``<a id=…/>``, which trafilatura counts as a link list and
drops with the heading around it) keeps only its text, a Sphinx admonition's title starts
its paragraph ("Warning: …"), a figure's caption is a paragraph (trafilatura would drop it),
and a ``<pre>`` keeps only its text, in one ``<code>`` (a block of lines; no highlighting
``<span class="comment">`` for trafilatura to prune).

trafilatura's structured output (its XML tree: ``head``, ``p``, ``list``, ``table``, …) is
rendered line by line. A page with no frame trafilatura looks for (``main``, ``article``, a
content ``div``) gets its body as one, else trafilatura only gathers loose paragraphs and
drops the headings (DocBook pages). Where it finds no main text, or only its last-resort
text of the page (under 250 characters, blocks run together), the ``<body>`` without
scripts, styles, navigation and page furniture is rendered the same way, its elements
renamed to trafilatura's tags. The ``<title>`` is the level-1 heading when the text has none
(and does not already start with it).
"""

from __future__ import annotations

import html
import re
from typing import Any

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers
from qa.ingest.html_text import render, text_of
from qa.ingest.layout import Lines

MAX_HTML_BYTES = 8 * 1024 * 1024
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_DROPPED = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]
# Elements the fallback also drops by their class or id.
_FURNITURE = re.compile(
    r"cookie|consent|banner|comment|repl(y|ies)|newsletter|subscribe|share|promo|advert|sidebar",
    re.IGNORECASE,
)
_SHORT = 250  # trafilatura's MIN_EXTRACTED_SIZE: below it, its text runs blocks together
_PERMALINK_TEXTS = frozenset({"¶", "§", "#", "🔗"})
# The fallback's HTML elements as trafilatura's tags: (tag, rend or role); others run inline.
_AS_BLOCKS: dict[str, tuple[str, str]] = {
    **{f"h{n}": ("head", f"h{n}") for n in range(1, 7)},
    **{name: ("list", name) for name in ("ul", "ol", "dl")},
    **{name: ("item", name) for name in ("li", "dt", "dd")},
    **{name: ("graphic", "") for name in ("img", "svg", "picture", "video", "audio", "canvas")},
    **{name: ("graphic", "") for name in ("iframe", "object", "embed", "map")},
    **dict.fromkeys(("p", "caption"), ("p", "")),
    **dict.fromkeys(("br", "hr"), ("lb", "")),
    "blockquote": ("quote", ""),
    "table": ("table", ""),
    "tr": ("row", ""),
    "td": ("cell", ""),
    "th": ("cell", "head"),
    "pre": ("code", ""),
}
_TABLE_PARTS = ("thead", "tbody", "tfoot", "colgroup")
# HTML blocks that are a ``div`` to the renderer: a block, no more.
_DIVS = frozenset(
    {"div", "section", "article", "main", "figure", "address", "details", "summary", "center"}
)


@readers.register("html")
class HtmlReader:
    """The main text with its headings (the title when it has no level-1 one); unpaged."""

    name = "html"
    extensions = frozenset({".html", ".htm", ".xhtml"})
    version = "html-2"  # 2: trafilatura's structure rendered: headings, lists, tables, code

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The page's main text and headings."""
        if len(data) > MAX_HTML_BYTES:
            raise UnreadableFile(
                f"HTML page of {len(data) / 1024 / 1024:.0f} MB, over the "
                f"{MAX_HTML_BYTES >> 20} MB limit for a web page"
            )
        markup = decode_html(data)
        page = _page(markup)
        lines = _main_lines(page) or _all_lines(page)
        _add_title(lines, _title(markup))
        read = lines.build(spaced=True)
        if not read.text.strip():
            raise UnreadableFile("no text in the page")
        return read


def decode_html(data: bytes) -> str:
    """The page as text, in its declared charset (else a guess)."""
    from bs4 import UnicodeDammit

    dammit = UnicodeDammit(data, is_html=True)
    if dammit.unicode_markup is None:
        raise UnreadableFile("HTML page in an unknown character encoding")
    return str(dammit.unicode_markup)


def _page(markup: str) -> Any:
    """The parsed page, permalinks removed, anchors without a link unwrapped, admonition
    titles joined to their paragraph, figure captions made paragraphs, a ``<pre>``'s text in
    one ``<code>`` (no markup in it for trafilatura to prune: a highlighter's
    ``class="comment"``)."""
    from trafilatura.utils import load_html

    if not markup.strip():
        raise UnreadableFile("no text in the page")
    tree = load_html(markup)
    if tree is None:  # it refuses a fragment without "html" in its first bytes: "<p>…</p>"
        tree = load_html("<html>" + markup)
    if tree is None:
        raise UnreadableFile("no text in the page")
    for anchor in list(tree.iter("a")):
        if _is_permalink(anchor):
            anchor.drop_tree()
        elif anchor.get("href") is None:
            anchor.drop_tag()
    for title in list(tree.find_class("admonition-title")):
        _label_next_paragraph(title)
    for caption in tree.iter("figcaption"):
        caption.tag = "p"  # trafilatura drops captions; an image's caption is text of the page
    for pre in list(tree.iter("pre")):
        for br in pre.iter("br"):
            br.tail = "\n" + (br.tail or "")
        text = pre.text_content()
        for child in list(pre):
            pre.remove(child)
        pre.text = None
        pre.append(pre.makeelement("code", {}))
        pre[0].text = text
    return tree


def _label_next_paragraph(title: Any) -> None:
    """A Sphinx or MkDocs admonition's title ("Note") starts the paragraph after it."""
    after = title.getnext()
    label = " ".join(title.text_content().split())
    if title.tag != "p" or after is None or after.tag != "p" or not label:
        return
    after.text = f"{label if label.endswith(':') else label + ':'} {after.text or ''}"
    title.drop_tree()


def _is_permalink(anchor: Any) -> bool:
    classes = (anchor.get("class") or "").split()
    return "headerlink" in classes or anchor.text_content().strip() in _PERMALINK_TEXTS


def _main_lines(page: Any) -> Lines | None:
    """trafilatura's main text, rendered; None when it finds none."""
    import trafilatura
    from trafilatura.xpaths import BODY_XPATH

    body = page.find("body")
    if body is not None and not any(expr(page) for expr in BODY_XPATH):
        frame = body.makeelement("main", {})
        frame.text, body.text = body.text, None
        frame.extend(list(body))
        body.append(frame)
    document = trafilatura.bare_extraction(
        page,
        output_format="xml",
        include_comments=False,
        include_tables=True,
        include_images=True,  # else a <figure> is dropped whole, code listings included
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
    )
    body = getattr(document, "body", None)
    if body is None or (len(text_of(body)) < _SHORT and all(p.tag == "p" for p in body)):
        return None  # nothing, or trafilatura's last resort: the page's text as paragraphs
    lines = render(body)
    return lines if any(line.strip() for line, _ in lines.entries) else None


def _all_lines(page: Any) -> Lines:
    """The body without scripts, navigation and page furniture, rendered as trafilatura's
    output would be."""
    root = page.find("body")
    if root is None:  # no <body>: the page less its <head>
        root = page
        for head in page.findall("head"):
            page.remove(head)
    for element in list(root.iter()):
        if not isinstance(element.tag, str) or element is root or element.getparent() is None:
            continue
        names = f"{element.get('class') or ''} {element.get('id') or ''}"
        if element.tag in _DROPPED or (names.strip() and _FURNITURE.search(names)):
            element.drop_tree()
    for element in list(root.iter(_TABLE_PARTS)):
        element.drop_tag()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag, value = _AS_BLOCKS.get(element.tag, ("div" if element.tag in _DIVS else "", ""))
        if tag:
            element.attrib.pop("role", None)
            element.tag = tag
            if value:
                element.set("role" if tag == "cell" else "rend", value)
    root.tag = "body"
    return render(root)


def _add_title(lines: Lines, title: str) -> None:
    """The title as the level-1 heading when the text has none and does not start with it;
    a first line that is the title becomes that heading."""
    entries = lines.entries
    if not title or any(level == 1 for _, level in entries):
        return
    first = next((n for n, (line, _) in enumerate(entries) if line.strip()), 0)
    line, level = entries[first] if entries else ("", 0)
    if line and (line == title or title.startswith(line)):
        entries[first] = (line, level or 1)
    elif not line.startswith(title):
        entries.insert(0, (title, 1))


def _title(markup: str) -> str:
    match = _TITLE.search(markup, 0, 65536)
    return " ".join(html.unescape(match.group(1)).split()) if match else ""
