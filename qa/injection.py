"""Defences against instructions hidden in documents (prompt injection), after generation.

Before generation, ``qa.prompts.format_sources`` fences and escapes every passage and the
system prompt says the sources are data. Whatever the model then writes is still untrusted:

- ``LeakGuard``: a sentence that repeats ``LEAK_WINDOW`` or more consecutive characters of the
  system prompt which neither the retrieved passages nor the question contain is leaked
  instructions (a canary, a rule) and is withheld: from the stream (``StreamFilter`` holds back
  just enough text to catch it before it is shown) and from the final answer, together with
  shorter sentences that are pieces of the system prompt.
- ``drop_untrusted_links``: an answer loses every image, and every link whose URL is not
  written in a retrieved passage, so it can neither point at a host outside the corpus nor
  carry data the model appended to a URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.prompts import NOT_IN_DOCUMENTS

LEAK_WINDOW = 20  # characters (case and whitespace runs ignored); canaries should be this long

_SPACES = re.compile(r"\s+")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_HTML_IMAGE = re.compile(r"<\s*(?:img|image|svg|picture|source|video|audio|iframe)\b[^>]*>", re.I)
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?[^)\n]*\)")
_HTML_LINK = re.compile(r"<\s*a\b[^>]*>(.*?)<\s*/\s*a\s*>", re.I | re.S)
_URL = re.compile(r"<?\b(?:(?:https?|ftp)://|www\.|data:)[^\s<>\"'\]\[)(]+>?", re.I)
_MARKER_TEXT = re.compile(r"\s*\d+(?:\s*[,;]\s*\d+)*\s*")
_TRAILING = ".,;:!?"


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text.casefold())


class LeakGuard:
    """Recognises text that repeats the (secret) system prompt rather than the sources."""

    def __init__(self, secret: str, public: Iterable[str], window: int = LEAK_WINDOW) -> None:
        self.window = window
        # The fixed "not in the documents" sentence is an answer the prompt asks for.
        self._secret = _norm(secret.replace(NOT_IN_DOCUMENTS, "\n"))
        self._public = "\n".join(_norm(t) for t in public)
        self._windows = _windows(self._secret, window) - _windows(self._public, window)

    def leaks(self, text: str) -> bool:
        """True when ``text`` holds a run of the system prompt found in no public text."""
        norm = _norm(text)
        w = self.window
        return any(norm[i : i + w] in self._windows for i in range(len(norm) - w + 1))

    def withholds(self, sentence: str) -> bool:
        """A leak, or a whole sentence (≥ 6 characters) cut out of the system prompt alone."""
        core = _norm(sentence).strip()
        whole = len(core) >= 6 and core in self._secret and core not in self._public
        return whole or self.leaks(sentence)


def _windows(text: str, width: int) -> set[str]:
    return {text[i : i + width] for i in range(len(text) - width + 1)}


class StreamFilter:
    """Passes streamed text on only once it cannot be the start of a leak.

    The last ``window + 1`` characters (a whitespace run counts as one) are held back; once a
    leak shows up nothing more is passed on (the verified answer replaces the stream).
    """

    def __init__(self, guard: LeakGuard) -> None:
        self.guard = guard
        self.text = ""
        self.leaked = False
        self._shown = 0
        self._checked = 0

    def feed(self, delta: str) -> str:
        """Add a delta; returns the text that is now safe to show (maybe "")."""
        self.text += delta
        if self.leaked:
            return ""
        hold = self.guard.window + 1
        if self.guard.leaks(self.text[_back(self.text, self._checked, hold) :]):
            self.leaked = True
            return ""
        self._checked = len(self.text)
        safe = _back(self.text, len(self.text), hold)
        if safe <= self._shown:
            return ""
        out, self._shown = self.text[self._shown : safe], safe
        return out

    def flush(self) -> str:
        """The held-back rest, at the end of the stream (nothing after a leak)."""
        if self.leaked:
            return ""
        out, self._shown = self.text[self._shown :], len(self.text)
        return out


def _back(text: str, end: int, units: int) -> int:
    """The index ``units`` characters before ``end``, a whitespace run counting as one."""
    i = end
    while i > 0 and units > 0:
        i -= 1
        while i > 0 and text[i].isspace() and text[i - 1].isspace():
            i -= 1
        units -= 1
    return i


def drop_untrusted_links(text: str, sources: Iterable[str]) -> str:
    """``text`` without images and without links whose URL no source contains verbatim.

    A Markdown or HTML link that is dropped keeps its text; a ``[n]`` citation marker that a
    link wraps stays a marker.
    """
    if not any(ch in text for ch in "![<:w"):
        return text
    corpus = "\n".join(sources)

    def known(url: str) -> bool:
        url = url.strip("<>").rstrip(_TRAILING)
        return bool(url) and url in corpus

    def md_link(m: re.Match[str]) -> str:
        label, url = m.group(1), m.group(2)
        if known(url):
            return m.group()
        return f"[{label}]" if _MARKER_TEXT.fullmatch(label) else label

    def bare_url(m: re.Match[str]) -> str:
        url = m.group()
        tail = url[len(url.rstrip(_TRAILING)) :] if not url.endswith(">") else ""
        return url if known(url) else tail

    out = _MD_IMAGE.sub("", text)
    out = _HTML_IMAGE.sub("", out)
    out = _MD_LINK.sub(md_link, out)
    out = _HTML_LINK.sub(lambda m: m.group(1), out)
    out = _URL.sub(bare_url, out)
    return re.sub(r"[ \t]{2,}", " ", out) if out != text else out
