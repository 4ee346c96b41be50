"""Text that reads like the document, with its headings: HTML (a Sphinx API page, a DocBook
chapter, pages with and without an h1, a page only the fallback reads), Markdown and DOCX.
Every page is written here in the shape the real generators write."""

from __future__ import annotations

import io
from pathlib import Path

from qa.ingest import read_document, reader_for
from qa.ingest.document import Document
from qa.ingest.docx import DocxReader
from qa.ingest.html import HtmlReader
from qa.ingest.plain import MarkdownReader

SPHINX_TITLE = "shutil — High-level file operations — Python 3.11.2 documentation"
SPHINX = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{SPHINX_TITLE}</title>
<script src="_static/doctools.js"></script></head>
<body>
<div class="related" role="navigation" aria-label="related navigation"><h3>Navigation</h3>
<ul><li class="right"><a href="genindex.html" title="General Index">index</a></li>
<li><a href="filesys.html">File and Directory Access</a> &#187;</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<section id="module-shutil">
<h1><code class="xref py py-mod">shutil</code> — High-level file operations<a class="headerlink"
 href="#module-shutil" title="Permalink to this heading">¶</a></h1>
<p>The <code class="xref py py-mod docutils literal notranslate"><span
 class="pre">shutil</span></code>
module offers a number of high-level operations on files and
collections of files.</p>
<div class="admonition warning"><p class="admonition-title">Warning</p>
<p>Even the higher-level file copying functions cannot copy all file metadata.</p></div>
<section id="directory-and-files-operations">
<h2>Directory and files operations<a class="headerlink" href="#directory-and-files-operations"
 title="Permalink to this heading">¶</a></h2>
<dl class="py function">
<dt class="sig sig-object py" id="shutil.copyfileobj">
<span class="sig-prename descclassname"><span class="pre">shutil.</span></span><span
 class="sig-name descname"><span class="pre">copyfileobj</span></span><span
 class="sig-paren">(</span><em class="sig-param"><span class="n"><span
 class="pre">fsrc</span></span></em>,
 <em class="sig-param"><span class="n"><span class="pre">fdst</span></span></em><span
 class="sig-paren">)</span><a class="headerlink" href="#shutil.copyfileobj"
 title="Permalink to this definition">¶</a></dt>
<dd><p>Copy the contents of the file-like object <em>fsrc</em> to the file-like object
<em>fdst</em>. The integer length, if given, is the buffer size.</p></dd></dl>
<dl class="py class">
<dt class="sig sig-object py" id="shutil.Archive"><em class="property"><span
 class="pre">class</span>
</em><span class="sig-prename descclassname"><span class="pre">shutil.</span></span><span
 class="sig-name descname"><span class="pre">Archive</span></span><a class="headerlink"
 href="#shutil.Archive" title="Permalink to this definition">¶</a></dt>
<dd><p>An archive on disk, opened for reading and for writing by its owner.</p>
<dl class="py method">
<dt class="sig sig-object py" id="shutil.Archive.unpack"><span class="sig-name descname"><span
 class="pre">unpack</span></span><span class="sig-paren">(</span><span class="sig-paren">)</span><a
 class="headerlink" href="#shutil.Archive.unpack" title="Permalink to this definition">¶</a></dt>
<dd><p>Unpack every member of the archive into the current working directory.</p></dd></dl>
</dd></dl>
<p>An example that uses the archive:</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span
 class="kn">from</span> <span class="nn">shutil</span> <span class="kn">import</span> <span
 class="n">copytree</span>
<span class="c1"># copy everything but the caches</span>
<span class="n">copytree</span><span class="p">(</span><span class="n">src</span><span
 class="p">,</span> <span class="n">dst</span><span class="p">)</span>
</pre></div></div>
<table class="docutils align-default"><thead><tr class="row-odd"><th class="head"><p>Format</p></th>
<th class="head"><p>Module</p></th></tr></thead>
<tbody><tr class="row-even"><td><p>zip</p></td><td><p>zipfile</p></td></tr>
<tr class="row-odd"><td><p>gztar</p></td><td><p>tarfile and zlib</p></td></tr></tbody></table>
<p>Each of the formats above is registered when its module can be imported on the platform.</p>
<ul class="simple"><li><p>The archive is written to a temporary name first.</p></li>
<li><p>The temporary file is renamed when the archive is complete.</p></li></ul>
<figure class="align-default" id="id1"><img alt="_images/tree.png" src="_images/tree.png" />
<figcaption><p><span class="caption-text">The copied tree, caches left out.</span></p>
</figcaption></figure>
</section></section></div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><h3>This Page</h3>
<ul><li><a href="_sources/library/shutil.rst.txt">Show Source</a></li></ul></div></div>
<div class="footer">&#169; Copyright 2001-2023, Python Software Foundation.</div>
</body></html>"""

DOCBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Kapitel 1. GNU/Linux-Lehrstunde</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"/></head>
<body><div class="navheader"><table width="100%" summary="Navigation header">
<tr><th colspan="3" align="center">Kapitel 1. GNU/Linux-Lehrstunde</th></tr>
<tr><td align="left"><a accesskey="p" href="pr01.de.html"><img src="images/prev.png"
 alt="Zurück"/></a></td>
<th width="60%" align="center"> </th><td align="right"><a accesskey="n" href="ch02.de.html"><img
 src="images/next.png" alt="Weiter"/></a></td></tr></table><hr/></div>
<div class="chapter"><div class="titlepage"><div><div><h1 class="title"><a
 id="_gnu_linux_tutorials"/>Kapitel 1. GNU/Linux-Lehrstunde</h1></div></div></div>
<p>Ich denke, ein Computersystem zu erlernen ist wie das Erlernen einer Fremdsprache.
Obwohl Anleitungen und Dokumentation hilfreich sind, müssen Sie es selbst einüben.</p>
<div class="section"><div class="titlepage"><div><div><h2 class="title" style="clear: both"><a
 id="_console_basics"/>1.1. Grundlagen für die Konsole</h2></div></div></div>
<div class="section"><div class="titlepage"><div><div><h3 class="title"><a
 id="_the_shell_prompt"/>1.1.1. Die Shell-Eingabeaufforderung</h3></div></div></div>
<p>Nach dem Starten des Systems sehen Sie einen textbasierten
Anmeldebildschirm, wenn Sie keine grafische Oberfläche installiert haben.</p>
<div class="tip" style="margin-left: 0.5in; margin-right: 0.5in;">
<table border="0" summary="Tip"><tr><td rowspan="2" align="center" valign="top" width="25"><img
 alt="[Tipp]" src="images/tip.png"/></td><th align="left">Tipp</th></tr>
<tr><td align="left" valign="top"><p>Mit Strg-Alt-F2 kehren Sie wieder zur grafischen
Umgebung zurück.</p></td></tr></table></div>
<p>Das System startet mit einer Grußnachricht und zeigt einen Befehls-Prompt an.</p>
<pre class="screen">Debian GNU/Linux 12 foo tty1
foo login: penguin
Password:</pre>
<div class="table"><p class="title"><b>Tabelle 1.1. Liste interessanter Pakete</b></p>
<div class="table-contents"><table class="table" summary="Pakete" border="1">
<thead><tr><th>Paket</th><th>Größe</th><th>Beschreibung</th></tr></thead>
<tbody><tr><td><code class="literal">mc</code></td><td>1482</td><td>Ein
Textmodus-Dateimanager</td></tr>
<tr><td><code class="literal">vim</code></td><td>3570</td><td>Unix-Texteditor Vi IMproved</td></tr>
</tbody></table></div></div>
<p>Jetzt sind Sie in der Shell, und die Shell interpretiert die Befehle, die Sie eingeben.</p>
</div></div></div>
<div class="navfooter"><hr/><table width="100%" summary="Navigation footer"><tr><td
 align="left"><a accesskey="p" href="pr01.de.html"><img src="images/prev.png"
 alt="Zurück"/></a></td>
<td align="center"> </td><td align="right"><a href="ch02.de.html">Weiter</a></td></tr>
</table></div></body></html>"""

NEWS_PARAGRAPHS = [
    "The harbour board voted on Tuesday to dredge the eastern channel before the winter.",
    "Silt carried down by the spring floods had left the channel two metres shallower.",
    "The dredger Gannet will arrive from Orle in September and work through the nights.",
]


def _news(title: str, heading: str) -> bytes:
    """A news page: navigation, the article under ``heading`` (markup), a footer."""
    paragraphs = "".join(f"<p>{p}</p>" for p in NEWS_PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>'
        '<header><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav></header>'
        f"<main><article>{heading}{paragraphs}</article></main>"
        "<footer><p>Copyright 2026 Varrow Gazette.</p></footer></body></html>"
    ).encode()


def _titles(doc: Document) -> list[tuple[str, int]]:
    """Each heading's text (its span of the document's text) and level."""
    return [(doc.text[start:end], level) for start, end, level in doc.headings]


def _read(tmp_path: Path, name: str, data: bytes) -> Document:
    path = tmp_path / name
    path.write_bytes(data)
    return read_document(path)


def _sentences_stay_on_their_line(text: str) -> None:
    for line in text.splitlines():
        assert "¶" not in line and "![" not in line and not line.startswith("- ")
        assert not line.startswith("|"), line


def test_a_sphinx_api_page_reads_as_sections_terms_and_paragraphs(tmp_path: Path) -> None:
    doc = _read(tmp_path, "shutil.html", SPHINX.encode())
    assert _titles(doc) == [
        ("shutil — High-level file operations", 1),
        ("Directory and files operations", 2),
        ("shutil.copyfileobj(fsrc, fdst)", 3),
        ("class shutil.Archive", 3),
        ("unpack()", 4),
    ]
    lines = doc.text.splitlines()
    assert lines[0] == "shutil — High-level file operations"  # the h1, not the <title>
    assert SPHINX_TITLE not in doc.text and "Python 3.11.2 documentation" not in doc.text
    _sentences_stay_on_their_line(doc.text)
    assert (
        "The shutil module offers a number of high-level operations on files and collections "
        "of files." in lines
    )
    warning = "Warning: Even the higher-level file copying functions cannot copy all file metadata."
    assert warning in lines
    assert (
        "Copy the contents of the file-like object fsrc to the file-like object fdst. The "
        "integer length, if given, is the buffer size." in lines
    )
    code = lines.index("from shutil import copytree")
    assert lines[code : code + 3] == [
        "from shutil import copytree",
        "# copy everything but the caches",
        "copytree(src, dst)",
    ]
    assert lines[code + 3 : code + 6] == [
        "Format | Module",
        "Format: zip | Module: zipfile",
        "Format: gztar | Module: tarfile and zlib",
    ]
    assert "The archive is written to a temporary name first." in lines
    assert lines[-1] == "The copied tree, caches left out."  # a caption, not its image
    assert "tree.png" not in doc.text
    for chrome in ["Navigation", "General Index", "Show Source", "Copyright", "doctools"]:
        assert chrome not in doc.text
    # A sentence stands under the sections and the terms it is written in.
    at = doc.text.index("Unpack every member")
    # The page's title stays outermost; the innermost headings follow (at most three).
    assert doc.section_at(at) == (
        "shutil — High-level file operations",
        "class shutil.Archive",
        "unpack()",
    )
    assert doc.section_at(doc.text.index("An example that uses"), depth=4)[-1] == "unpack()"


def test_a_docbook_chapter_keeps_its_headings_admonitions_screens_and_tables(
    tmp_path: Path,
) -> None:
    doc = _read(tmp_path, "ch01.de.html", DOCBOOK.encode())
    assert _titles(doc) == [
        ("Kapitel 1. GNU/Linux-Lehrstunde", 1),
        ("1.1. Grundlagen für die Konsole", 2),
        ("1.1.1. Die Shell-Eingabeaufforderung", 3),
    ]
    lines = doc.text.splitlines()
    _sentences_stay_on_their_line(doc.text)
    assert "Tipp: Mit Strg-Alt-F2 kehren Sie wieder zur grafischen Umgebung zurück." in lines
    assert "[Tipp]" not in doc.text and "tip.png" not in doc.text and "Zurück" not in doc.text
    screen = lines.index("Debian GNU/Linux 12 foo tty1")
    assert lines[screen : screen + 3] == [
        "Debian GNU/Linux 12 foo tty1",
        "foo login: penguin",
        "Password:",
    ]
    assert "Paket: mc | Größe: 1482 | Beschreibung: Ein Textmodus-Dateimanager" in lines
    assert (
        "Nach dem Starten des Systems sehen Sie einen textbasierten Anmeldebildschirm, wenn "
        "Sie keine grafische Oberfläche installiert haben." in lines
    )
    assert doc.text.count("Kapitel 1. GNU/Linux-Lehrstunde") == 1  # no title echo, no nav


def test_the_title_is_the_top_heading_only_when_the_page_has_no_h1(tmp_path: Path) -> None:
    # A title other than the h1: the h1 heads the text, the title is not in it.
    with_h1 = _read(tmp_path, "a.html", _news("Dredging | Varrow Gazette", "<h1>Dredging</h1>"))
    assert _titles(with_h1) == [("Dredging", 1)]
    assert "Varrow Gazette" not in with_h1.text
    # No h1: the title is the level-1 heading, before the page's own headings.
    no_h1 = _read(tmp_path, "b.html", _news("Dredging the channel", "<h2>The vote</h2>"))
    assert _titles(no_h1) == [("Dredging the channel", 1), ("The vote", 2)]
    assert no_h1.text.startswith("Dredging the channel\n\nThe vote\n" + NEWS_PARAGRAPHS[0])
    # The text already starts with the title: it is not said twice.
    starts = _read(tmp_path, "c.html", _news("Dredging the channel", "<p>Dredging the channel</p>"))
    assert starts.text.count("Dredging the channel") == 1
    assert _titles(starts) == [("Dredging the channel", 1)]
    for doc in (with_h1, no_h1, starts):
        assert doc.text.splitlines()[-1] == NEWS_PARAGRAPHS[-1]
        assert "Home" not in doc.text and "Copyright" not in doc.text


def test_a_page_trafilatura_finds_no_text_in_renders_the_same_way(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Opening hours</title></head><body>"
        '<nav><a href="/">Home</a></nav><div class="cookie-banner">We use cookies.</div>'
        "<h2>Opening hours</h2><ul><li>Monday closed</li><li>Tuesday 9&ndash;5</li></ul>"
        "<dl><dt>Address</dt><dd>Tallow Street 4</dd></dl>"
        "<table><tr><th>Day</th><th>Guide</th></tr><tr><td>Friday</td><td>Ansel</td></tr></table>"
        '<p>Ask at the <a class="headerlink" href="#x">¶</a>desk.<img src="a.png" alt="desk"></p>'
        "</body></html>"
    )
    doc = _read(tmp_path, "hours.html", page.encode())
    assert doc.text.splitlines() == [
        "Opening hours",
        "Monday closed",
        "Tuesday 9–5",
        "",
        "Address",
        "Tallow Street 4",
        "Day | Guide",
        "Day: Friday | Guide: Ansel",
        "Ask at the desk.",
    ]
    assert _titles(doc) == [("Opening hours", 2), ("Address", 3)]


def test_markdown_headings_are_spans_of_the_files_own_text(tmp_path: Path) -> None:
    source = (
        "---\ntitle: not a heading\n---\n"
        "# Harbour notes #\n\nThe office opens at nine.\n\n"
        "Ferries\r\n=======\r\n\nThey sail every ninety minutes.\n\n"
        "```sh\n# not a heading either\n```\n"
        "## Fares\nA single costs four shillings.\n"
        "- a list item\n---\n"
        "Winter timetable\n----------------\n"
    )
    doc = _read(tmp_path, "notes.md", source.encode())
    assert doc.text == source and doc.format == "markdown"
    assert _titles(doc) == [
        ("Harbour notes", 1),
        ("Ferries", 1),
        ("Fares", 2),
        ("Winter timetable", 2),
    ]
    assert doc.section_at(source.index("A single")) == ("Ferries", "Fares")
    # Headings alone change a Markdown file's reading: its reader has a version, plain text's
    # stays "" (its files are not read again).
    assert isinstance(reader_for("notes.md"), MarkdownReader) and MarkdownReader.version
    assert reader_for("notes.txt").version == ""
    assert read_document(_write(tmp_path, "notes.txt", source)).headings == ()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _docx(title: bool) -> bytes:
    import docx

    document = docx.Document()
    if title:
        document.add_heading("Ferry service review", level=0)  # the Title style
    document.add_heading("Timetable", level=1)
    document.add_paragraph("The ferry sails every ninety minutes from the north pier.")
    document.add_heading("Winter sailings", level=2)
    document.add_paragraph("In a gale the harbour master may cancel any sailing.")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [["Fare", "Adult"], ["Single", "4 shillings"]], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_title_and_heading_styles_are_headings(tmp_path: Path) -> None:
    doc = _read(tmp_path, "review.docx", _docx(title=True))
    assert _titles(doc) == [
        ("Ferry service review", 1),
        ("Timetable", 2),
        ("Winter sailings", 3),
    ]
    assert doc.text.splitlines()[-2:] == ["Fare | Adult", "Fare: Single | Adult: 4 shillings"]
    assert doc.section_at(doc.text.index("In a gale")) == (
        "Ferry service review",
        "Timetable",
        "Winter sailings",
    )
    untitled = _read(tmp_path, "untitled.docx", _docx(title=False))
    assert _titles(untitled) == [("Timetable", 1), ("Winter sailings", 2)]
    assert DocxReader.version == "docx-2" and HtmlReader.version == "html-2"
