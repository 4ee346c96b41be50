"""Plain text (``.txt``, ``.md``): the file's own characters, decoded, no newline translation.

Offsets into a plain-text document are offsets into the file's text, so a quote can be found
in the file with any editor.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from qa.ingest.document import Progress, ReadText, UnreadableFile, readers

_SNIFF_CHARS = 8192
_SNIFF_WINDOWS = 8


@readers.register("text")
class PlainTextReader:
    """UTF-8 (or UTF-16 with its BOM, or Windows-1252) text files."""

    name = "text"
    extensions = frozenset({".txt", ".md", ".markdown", ".text"})
    version = ""

    def read(self, data: bytes, progress: Progress | None = None) -> ReadText:
        """The decoded text; unpaged."""
        return ReadText(decode_text(data))


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
