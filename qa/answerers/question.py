"""What a question asks for, in English, French, German and Spanish: a person, a date or time,
a number or amount, a place, a code term (option, function, command), a default value, a
reason; and the parts of a compound question.

An answer sentence that holds what is asked (and that the question does not already name) is
likelier to be the answer; one that lacks it rarely is. Each kind has the question words that
ask for it and a pattern that finds it in a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
    r"d[ée]cembre|januar|j[äa]nner|februar|m[äa]rz|juni|juli|oktober|dezember|enero|febrero|"
    r"marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
)
_DAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|"
    r"vendredi|samedi|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo"
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|twice|deux|trois|quatre|cinq|sept|huit|neuf|"
    r"dix|vingt|trente|cent|mille|milliards?|zwei|drei|vier|f[üu]nf|sechs|sieben|acht|neun|"
    r"zehn|zwanzig|hundert|tausend|millionen|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|"
    r"veinte|cien|mil|millones"
)
# A code term: an option (--foo, -x), a TeX macro (\foo), a call (foo()), a dotted or snake
# name (os.path, follow_symlinks), a key=value, an upper-case constant, a path (/etc/x).
CODE = re.compile(
    r"(?<![\w-])--?[A-Za-z][\w-]*|\\[A-Za-z@]+|\b\w+\(\)|\b[A-Za-z_]\w*(?:\.\w+)+\(?|"
    r"\b[a-z]+_\w+\b|\b\w+=\S+|\b[A-Z][A-Z0-9_]{2,}\b|(?<!\w)(?:~|\.{0,2})/[\w.-]+(?:/[\w.-]*)*"
)

# A product or format name written as one: CamelCase (WireGuard), letters with digits (BLAKE3,
# uuid7).
_NAME = re.compile(r"\b[A-Za-z]*[a-z][A-Z]\w*|\b(?=\w*[A-Za-z])(?=\w*\d)\w{3,}\b")


def named_terms(question: str) -> list[str]:
    """The code terms and written-as-one names a question uses (``delete_on_close``,
    ``Path.walk``, ``HEIC``, ``WireGuard``): an answer uses them as written, in any
    language, so a corpus without them cannot answer. Parts of a hyphenated compound
    ("natbib-Dokumentation") count alone; an upper-case plural ("DOIs") counts singular."""
    found: list[str] = []
    for token in re.findall(r"[^\s,;:!?()\[\]\"'“”«»]+", question):
        token = token.rstrip(".")
        whole = token.startswith("-") or "." in token or "-" not in token
        parts = [token] if whole else token.split("-")
        for part in parts:
            if re.fullmatch(r"[A-Z]{2,}s", part):
                part = part[:-1]
            if len(part) >= 3 and (CODE.fullmatch(part) or _NAME.fullmatch(part)):
                found.append(part)
    return found


@dataclass(frozen=True)
class Kind:
    """A kind of answer: the question words that ask for it and the pattern that finds it."""

    name: str
    asks: re.Pattern[str]
    holds: re.Pattern[str]
    # How sure a sentence without it is not the answer: numbers, dates and code terms are
    # found reliably, names and places less so.
    strict: bool


KINDS = (
    Kind(
        "number",
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|tall|high|often|fast|wide|deep|heavy)|"
            r"what (size|length|percentage|proportion|number|amount|price|fee)|number of|"
            r"combien|quel(le)? (nombre|taille|longueur|quantit[ée]|montant|prix)|"
            r"wie (viele?|lange?|gro[ßs]|alt|oft|weit|hoch|schnell|breit|tief|schwer)|"
            r"wieviele?|welche (gr[öo][ßs]e|anzahl|l[äa]nge)|"
            r"cu[áa]nt[oa]s?|qu[ée] (tama[ñn]o|cantidad|longitud|n[úu]mero))\b",
            re.I,
        ),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I),
        True,
    ),
    Kind(
        "date",
        re.compile(
            r"^\W*(?:(?:on|in|at|by|since|until|from|and|seit|ab|bis|depuis|desde|hasta) )?"
            r"(when|what (year|date|day|month|time|version)|which (year|date|day|month|version)|"
            r"quand|[àa] quelle (heure|date)|en quelle ann[ée]e|quel jour|depuis quand|"
            r"wann|seit wann|in welchem jahr|an welchem tag|um wie viel uhr|welche(r|s)? version|"
            r"cu[áa]ndo|en qu[ée] (a[ñn]o|fecha|versi[óo]n)|desde cu[áa]ndo|qu[ée] d[íi]a)\b",
            re.I,
        ),
        re.compile(
            rf"\b(1[5-9]\d\d|20\d\d|{_MONTHS}|{_DAYS}|\d{{1,2}}(:\d\d)?\s*(a\.?m\.?|p\.?m\.?|h\b|"
            r"heures?|uhr|horas?)|today|yesterday|tomorrow|aujourd'hui|hier|demain|heute|gestern|"
            r"morgen|hoy|ayer|ma[ñn]ana|version \d|versi[óo]n \d|\d+\.\d+(\.\d+)?)\b",
            re.I,
        ),
        True,
    ),
    Kind(
        "default",
        re.compile(
            r"\b(default|by default|standard(wert|m[äa][ßs]ig)?|voreinstellung|voreingestellt|"
            r"par d[ée]faut|valeur par d[ée]faut|por (defecto|omisi[óo]n)|predeterminad[oa])\b",
            re.I,
        ),
        # a value: a number, a code term, a constant, a quoted string
        re.compile(
            rf"\d|{CODE.pattern}|\b(true|false|none|null)\b|"
            r"'[^']+'|\"[^\"]+\"|‘[^’]+’|“[^”]+”|„[^“]+“",
            re.I,
        ),
        True,
    ),
    Kind(
        "code",
        re.compile(
            r"\b(which|what|welche[rsmn]?|quel(le)?s?|qu[ée]|cu[áa]l(es)?) "
            r"(?!(?:does|do|did|is|are|was|were|can|could|should|will|would|has|have|macht|"
            r"ist|sind|hat|fait|est|sont|hace|es|son)\b)(\w+ ){0,2}"
            r"(option|argument|parameter|keyword|flag|switch|function|method|class|module|"
            r"command|macro|package|attribute|variable|constant|exception|setting|key|field|"
            r"environment variable|file|directory|Option|Funktion|Methode|Klasse|Modul|Befehl|"
            r"Kommando|Paket|Datei|Verzeichnis|Variable|Schalter|Einstellung|fonction|"
            r"m[ée]thode|classe|commande|paquet|fichier|r[ée]pertoire|param[èe]tre|"
            r"funci[óo]n|m[ée]todo|clase|m[óo]dulo|comando|paquete|archivo|fichero|"
            r"directorio|opci[óo]n|par[áa]metro)s?\b",
            re.I,
        ),
        CODE,
        False,
    ),
    Kind(
        "instruction",
        re.compile(
            r"^\W*(how (do|can|should|would|could|must) (i|we|you|one)|how to|"
            r"wie (kann|muss|soll|k[öo]nnte) (ich|man)|comment (puis-je|peut-on|faire|dois-je)|"
            r"c[óo]mo (puedo|se puede|hago|debo))\b",
            re.I,
        ),
        CODE,
        False,
    ),
    Kind(
        "place",
        re.compile(r"^\W*(where|o[uù]|wo|wohin|woher|d[óo]nde|ad[óo]nde)\b", re.I),
        re.compile(
            r"\b(?:at|in|near|outside|inside|from|on|à|au|aux|dans|près de|sur|im|in der|"
            r"am|bei|auf|unter|en|cerca de)\s+(?:the\s+|la\s+|le\s+|der\s+|die\s+|dem\s+|el\s+)?"
            r"[A-Z][\w’'-]+|(?<!\w)(?:~|\.{0,2})/[\w.-]+/?"
        ),
        False,
    ),
    Kind(
        "person",
        re.compile(
            r"^\W*(who|whom|whose|qui|wer|wem|wen|wessen|qui[ée]n(es)?)\b|"
            r"\b(name of|nom de|hei[ßs]t)\b|^\W*(which|what|quel|quelle|welche[rs]?|"
            r"qu[ée]|cu[áa]l) (\w+ )?(president|minister|official|person|author|spokes(man|"
            r"woman|person)|envoy|adviser|advisor|leader|general|ambassador|président|ministre|"
            r"porte-parole|auteur|autor|autorin|präsident|minister|presidente|ministro)\b",
            re.I,
        ),
        re.compile(r"\b[A-Z][\w’'-]+(?:\s+(?:[A-Z]\.|de|van|von|da|del|[A-Z][\w’'-]+))+"),
        False,
    ),
    Kind(
        "reason",
        re.compile(r"^\W*(why|pourquoi|warum|weshalb|wieso|por qu[ée])\b|\bwhat for\b", re.I),
        re.compile(
            r"\b(because|since|so that|due to|in order to|to avoid|to prevent|otherwise|as a "
            r"result|therefore|thus|reason|parce que?|car|afin de|pour [a-zé]+er|à cause|sinon|"
            r"weil|da|damit|um\b.{1,40}\bzu|denn|deshalb|daher|sonst|grund|porque|ya que|para "
            r"(que|[a-zé]+ar)|debido|de lo contrario|raz[óo]n)\b",
            re.I,
        ),
        False,
    ),
)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Asks:
    """What a question asks for: its kind (None when it names none) and its folded words."""

    kind: Kind | None
    words: frozenset[str]

    @classmethod
    def of(cls, question: str) -> Asks:
        """The first kind whose question words the asking sentence uses (the most specific
        first): a question that sets the scene first ("My script hangs at proc.wait(). What
        should I call instead?") asks in its last sentence with a question mark."""
        asking = [s for s in _SENTENCE_END.split(question.strip()) if s.endswith("?")]
        kind = next((k for k in KINDS if asking and k.asks.search(asking[-1])), None)
        if kind is None:
            kind = next((k for k in KINDS if k.asks.search(question)), None)
        return cls(kind, frozenset(w.casefold() for w in re.findall(r"\w+", question)))

    def found(self, text: str) -> bool | None:
        """Whether ``text`` holds what is asked and the question does not already name it;
        None when the question asks for no particular kind."""
        if self.kind is None:
            return None
        for match in self.kind.holds.finditer(text):
            words = re.findall(r"\w+", match.group().casefold())
            if not words or any(w not in self.words for w in words):
                return True
        return False


# "…, and when …?" / "… und wer …?": a second question joined to the first.
_SECOND_QUESTION = re.compile(
    r",?\s+(?:and|et|und|y)\s+(?=(?:which|who|whom|whose|when|where|what|why|how|quel|quelle|"
    r"quels|quelles|qui|quand|où|pourquoi|comment|combien|welche[rsmn]?|wer|wann|wo|warum|wie|"
    r"was|qu[ée]|qui[ée]n|cu[áa]ndo|d[óo]nde|por qu[ée]|c[óo]mo|cu[áa]nt[oa]s?)\b)",
    re.I,
)


def compound_parts(question: str) -> list[str]:
    """The questions a compound question joins ("Which envoy proposed a pause, and which
    adviser asked to extend it?" → two); a plain question is its own single part."""
    parts = [p.strip(" ,") for p in _SECOND_QUESTION.split(question)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [question]
