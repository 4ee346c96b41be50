"""Plain text (``.txt``) and Markdown (``.md``): the file's own characters, decoded, no newline
translation; a Markdown file's ATX (``## Title``) and setext (underlined) headings are its
headings.

Offsets into a plain-text document are offsets into the file's text, so a quote can be found
in the file with any editor.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from qa.ingest.document import Heading, Progress, ReadText, UnreadableFile, readers

_SNIFF_CHARS = 8192
_SNIFF_WINDOWS = 8


@readers.register("text")
class PlainTextReader:
    """UTF-8 (or UTF-16 with its BOM, or Windows-1252) text files."""

    name = "text"
    extensions = frozenset({".txt", ".text"})
    version = ""

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The decoded text; unpaged."""
        return ReadText(decode_text(data))


@readers.register("markdown")
class MarkdownReader(PlainTextReader):
    """A Markdown file's own text, as plain text, with its headings."""

    name = "markdown"
    extensions = frozenset({".md", ".markdown"})
    version = "md-1"  # the text is plain text's; 1: its headings

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The decoded text and its headings; unpaged."""
        text = decode_text(data)
        return ReadText(text, headings=markdown_headings(text))


_LINE = re.compile(r"[^\n]*\n?")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")  # a thematic break
_INDENTED = re.compile(r" {4}|\t")  # indented code, unless it continues a paragraph
_BLOCK_START = re.compile(r" {0,3}(?:>|[-+*][ \t]|\d{1,9}[.)][ \t]|<)")  # quote, list, HTML


def markdown_headings(text: str) -> tuple[Heading, ...]:
    """The ATX and setext headings of Markdown ``text``: spans of their titles (without the
    ``#`` marks or the underline), outside fenced code and YAML front matter."""
    headings: list[Heading] = []
    fence = ""
    paragraph: tuple[int, int] | None = None  # (start, end) of the paragraph lines so far
    lines = [(m.start(), m.group().rstrip("\r\n")) for m in _LINE.finditer(text) if m.group()]
    start = _front_matter_end(lines)
    for at, line in lines[start:]:
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        if match := _FENCE.match(line):
            fence, paragraph = match.group(1), None
        elif match := _ATX.match(line):
            title = _ATX_CLOSE.sub("", line[match.end() :].rstrip())
            if title.strip():
                begin = at + match.end()
                headings.append((begin, begin + len(title.rstrip()), len(match.group(1))))
            paragraph = None
        elif paragraph and _SETEXT.fullmatch(line):
            headings.append((*paragraph, 1 if "=" in line else 2))
            paragraph = None
        elif not line.strip() or _BREAK.fullmatch(line) or _BLOCK_START.match(line):
            paragraph = None
        elif paragraph:
            paragraph = (paragraph[0], at + len(line.rstrip()))
        elif not _INDENTED.match(line):
            lead = len(line) - len(line.lstrip())
            paragraph = (at + lead, at + len(line.rstrip()))
    return tuple(headings)


def _front_matter_end(lines: list[tuple[int, str]]) -> int:
    """The index of the first line after YAML front matter (``---`` ... ``---``), else 0."""
    if not lines or lines[0][1].lstrip("\ufeff").rstrip() != "---":
        return 0
    for n, (_, line) in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return n + 1
    return 0


def decode_text(data: bytes) -> str:
    """Decode text; reject empty, binary and mostly unprintable data.

    UTF-16 when the data starts with its byte-order mark, else UTF-8 (a UTF-8 BOM is kept).
    A file that is mostly UTF-8 with a few stray bytes keeps
    its UTF-8 and decodes only the stray bytes as Windows-1252 (Latin-1 where 1252 has a
    hole); a file with no valid multi-byte UTF-8 at all is Windows-1252/Latin-1 throughout.
    The NUL check covers every byte; the printable check samples windows across the text.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise UnreadableFile("invalid UTF-16 text") from exc
    if not data.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in data:
        raise UnreadableFile("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_mixed(data)
    return _checked(text)


def _checked(text: str) -> str:
    if not text.strip():
        raise UnreadableFile("empty file")
    if _unprintable_share(text) > 0.1:
        raise UnreadableFile("mostly non-printable characters")
    return text


def _decode_mixed(data: bytes) -> str:
    """Invalid UTF-8: mostly valid UTF-8 keeps it (stray bytes as 1252), else 1252 throughout."""
    high = len(data.translate(None, _ASCII))
    stray = len(_UTF8_SEQUENCE.sub(b"", data).translate(None, _ASCII))
    if high > stray and stray * 10 <= high - stray:
        return data.decode("utf-8", "qa-1252")
    return data.decode("cp1252", "qa-latin-1")


def _single_byte_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the offending bytes one by one as 1252, else Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_byte_1252(b) for b in bad), exc.end


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler for cp1252's five undefined bytes: decode them as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return bytes(exc.object[exc.start : exc.end]).decode("latin-1"), exc.end


def _byte_1252(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)


codecs.register_error("qa-1252", _single_byte_fallback)
codecs.register_error("qa-latin-1", _latin1_fallback)

_ASCII = bytes(range(0x80))
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_ALLOWED_CONTROLS = frozenset("\n\r\t\f\ufeff")


def _unprintable_share(text: str) -> float:
    """Share of control/format/unassigned characters in up to 8 windows spread over ``text``."""
    if len(text) <= _SNIFF_CHARS * _SNIFF_WINDOWS:
        sample = text
    else:
        step = (len(text) - _SNIFF_CHARS) // (_SNIFF_WINDOWS - 1)
        sample = "".join(text[i * step : i * step + _SNIFF_CHARS] for i in range(_SNIFF_WINDOWS))
    bad = sum(
        1 for ch in sample if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch)[0] == "C"
    )
    return bad / max(len(sample), 1)
