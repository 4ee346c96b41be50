"""Languages: identification (py3langid), and per-language stemming and stopwords.

Every chunk's language is found at ingest and stored with it; a question's language is found
when it is asked. Lexical retrieval and term evidence then stem each text with the Snowball
stemmer of its own language (PyStemmer) and drop that language's stopwords (NLTK's lists,
bundled with llama-index-core). py3langid ships its model inside the package (LZMA-packed;
unpacking takes ~0.5 s, so the unpacked arrays are cached once in the model cache folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern
_LETTER = re.compile(r"[^\W\d_]")
DEFAULT = "en"

# ISO 639-1 code → (English name, Snowball stemmer, NLTK stopword list)
LANGUAGES: dict[str, tuple[str, str | None, str | None]] = {
    "ar": ("Arabic", "arabic", "arabic"),
    "ca": ("Catalan", "catalan", "catalan"),
    "cs": ("Czech", "czech", None),
    "da": ("Danish", "danish", "danish"),
    "de": ("German", "german", "german"),
    "el": ("Greek", "greek", "greek"),
    "en": ("English", "english", "english"),
    "es": ("Spanish", "spanish", "spanish"),
    "et": ("Estonian", "estonian", None),
    "eu": ("Basque", "basque", "basque"),
    "fa": ("Persian", "persian", None),
    "fi": ("Finnish", "finnish", "finnish"),
    "fr": ("French", "french", "french"),
    "ga": ("Irish", "irish", None),
    "hi": ("Hindi", "hindi", None),
    "hu": ("Hungarian", "hungarian", "hungarian"),
    "hy": ("Armenian", "armenian", None),
    "id": ("Indonesian", "indonesian", "indonesian"),
    "it": ("Italian", "italian", "italian"),
    "lt": ("Lithuanian", "lithuanian", None),
    "ne": ("Nepali", "nepali", "nepali"),
    "nl": ("Dutch", "dutch", "dutch"),
    "no": ("Norwegian", "norwegian", "norwegian"),
    "nb": ("Norwegian", "norwegian", "norwegian"),
    "pl": ("Polish", "polish", None),
    "pt": ("Portuguese", "portuguese", "portuguese"),
    "ro": ("Romanian", "romanian", "romanian"),
    "ru": ("Russian", "russian", "russian"),
    "sl": ("Slovenian", None, "slovene"),
    "sr": ("Serbian", "serbian", None),
    "sv": ("Swedish", "swedish", "swedish"),
    "ta": ("Tamil", "tamil", "tamil"),
    "tr": ("Turkish", "turkish", "turkish"),
    "zh": ("Chinese", None, "chinese"),
    "ja": ("Japanese", None, None),
    "ko": ("Korean", None, None),
}

_lock = threading.Lock()


def name(code: str) -> str:
    """'French' for 'fr'; the code itself for a language without a name here."""
    return LANGUAGES.get(code, (code or "an unknown language", None, None))[0]


SURE = 0.9  # below this probability a guess outside ``among`` gives way to one inside it


def detect(text: str, among: Collection[str] = ()) -> str:
    """The ISO 639-1 code of ``text``'s language; ``DEFAULT`` when it has no letters.

    ``among`` (the languages of the corpus) settles short, unsure cases: "trains" or "When
    did Mongke Khan die?" look as French or Indonesian as English, so when the best guess is
    not in ``among`` and has less than ``SURE`` probability, the best-ranked language of
    ``among`` is taken instead. A clear question in another language keeps its language."""
    sample = text[:3000]
    if not _LETTER.search(sample):
        return next(iter(among)) if len(among) == 1 else DEFAULT
    with _lock:  # the identifier keeps per-call state
        ranked = _identifier().rank(sample)
    best = str(ranked[0][0])
    if not among or best in among:
        return best
    scores = np.array([score for _, score in ranked], dtype=np.float64)
    probability = 1.0 / np.exp(scores - scores[0]).sum()
    if probability >= SURE:
        return best
    return next((str(code) for code, _ in ranked if code in among), best)


def identify(text: str, among: Collection[str] = ()) -> tuple[str, float]:
    """``text``'s language and the identifier's probability for it (among the languages
    handled here); unsure guesses outside ``among`` give way as in ``detect``."""
    sample = text[:3000]
    if not _LETTER.search(sample):
        return DEFAULT, 0.0
    with _lock:
        ranked = _identifier().rank(sample)
    scores = np.array([score for _, score in ranked], dtype=np.float64)
    probabilities = np.exp(scores - scores[0])
    probabilities /= probabilities.sum()
    best = str(ranked[0][0])
    if among and best not in among and probabilities[0] < SURE:
        for i, (code, _) in enumerate(ranked):
            if code in among:
                return str(code), float(probabilities[i])
    return best, float(probabilities[0])


@cache
def stemmer(code: str) -> Any:
    """PyStemmer's Snowball stemmer for the language, or None when there is none."""
    import Stemmer

    algorithm = LANGUAGES.get(code, ("", None, None))[1]
    return Stemmer.Stemmer(algorithm) if algorithm else None


@cache
def stopwords(code: str) -> frozenset[str]:
    """The language's stopwords (lower-cased, as written) from NLTK's bundled lists."""
    listed = LANGUAGES.get(code, ("", None, None))[2]
    if not listed:
        return frozenset()
    path = Path(os.environ.get("NLTK_DATA", "")) / "corpora" / "stopwords" / listed
    try:
        return frozenset(path.read_text(encoding="utf-8").split())
    except OSError:
        return frozenset()


def tokens(text: str, code: str) -> list[str]:
    """Lexical index terms: lower-cased words, the language's stopwords dropped, stemmed."""
    stop = stopwords(code)
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    stem = stemmer(code)
    return list(stem.stemWords(words)) if stem is not None and words else words


@cache
def _identifier() -> Any:
    """py3langid's identifier, from the unpacked cache (made on first use) or the package."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import _to_array

    from qa.offline import model_cache_dir

    packed = MODEL_DIR / MODEL_FILE
    cached = model_cache_dir() / f"py3langid-{packed.stat().st_size}.npz"
    arrays: dict[str, np.ndarray] | None
    try:
        with np.load(cached, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError):
        arrays = _unpack(packed, cached)
    if arrays is None:
        identifier = LanguageIdentifier.from_model_file(packed, norm_probs=False)
    else:
        identifier = LanguageIdentifier(
            arrays["ptc"],
            arrays["pc"],
            arrays["classes"].tolist(),
            _to_array(arrays["nextmove"]),
            arrays["out_feat"].tolist(),
            tk_row=_to_array(arrays["nextmove_row"]),
        )
    # Only languages handled here: short questions with names are otherwise often taken for
    # Latin or Luxembourgish.
    identifier.set_languages([c for c in LANGUAGES if c in identifier.nb_classes])
    return identifier


def _unpack(packed: Path, cached: Path) -> dict[str, np.ndarray] | None:
    """Unpack the LZMA model into ``cached`` (atomically); None when that cannot be done."""
    import lzma

    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    except OSError:
        return None
    try:
        with os.fdopen(fd, "wb") as out, lzma.open(packed) as src:
            while block := src.read(1 << 20):
                out.write(block)
        with np.load(tmp, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        os.replace(tmp, cached)
        return arrays
    except (OSError, ValueError, lzma.LZMAError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return None
