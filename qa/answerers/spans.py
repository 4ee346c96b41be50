"""Answer spans: the best sentence and the neighbours it needs, as one verbatim quote.

A sentence that opens with a back-reference ("It", "This option", "Diese", "Cela") needs the
one before it; one that is followed by its continuation (a pronoun, "For example", a list after
a colon), or that lacks what the question asks for while the next sentence holds it, takes the
next. Neighbours come from the same chunk (chunks overlap, so a sentence's neighbours are
nearly always in it), within ``MAX_WORDS`` words in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from qa.evidence import Span

MAX_WORDS = 60  # an answer quotes at most this many words ...
CONTINUED_WORDS = 70  # ... or this many when its last sentence continues the one before

# Openings that lean on the sentence before, in English, French, German and Spanish.
_REFERRING = (
    r"it|its|they|them|their|this|that|these|those|he|she|his|her|there|such|both|either|"
    r"neither|the latter|the former|il|elle|ils|elles|ce|cet|cette|ces|cela|ceci|celui|celle|"
    r"ceux|celles|son|sa|ses|leur|leurs|er|sie|es|dies|diese[rsmn]?|das|dabei|damit|dazu|"
    r"darin|dort|sein|seine[rsmn]?|ihr|ihre[rsmn]?|este|esta|estos|estas|esto|ese|esa|eso|"
    r"[ée]l|ella|ellos|ellas|su|sus"
)
# Connectives that carry on from the sentence before.
_CONNECTIVES = (
    r"however|but|also|otherwise|instead|then|so|thus|hence|therefore|for example|for instance|"
    r"in this case|in that case|in other words|note that|the default|by default|toutefois|"
    r"cependant|mais|aussi|sinon|ainsi|donc|par exemple|dans ce cas|par d[ée]faut|jedoch|aber|"
    r"allerdings|au[ßs]erdem|sonst|andernfalls|daher|deshalb|somit|zum beispiel|"
    r"beispielsweise|in diesem fall|standardm[äa][ßs]ig|sin embargo|pero|adem[áa]s|"
    r"por ejemplo|en este caso|por lo tanto|as[íi]|de lo contrario|por defecto"
)
# Openings that draw a consequence of the sentence before: meaningless without it.
_CONSEQUENCES = (
    r"as a result|as a consequence|consequently|for this reason|because of this|accordingly|"
    r"en cons[ée]quence|par cons[ée]quent|c'est pourquoi|de ce fait|folglich|infolgedessen|"
    r"aus diesem grund|dadurch|por (eso|ello|esta raz[óo]n|consiguiente)|en consecuencia"
)
_BACK_REFERENCE = re.compile(rf"^\W*({_REFERRING}|{_CONSEQUENCES})\b", re.I)
_CONTINUATION = re.compile(rf"^\W*({_REFERRING}|{_CONSEQUENCES}|{_CONNECTIVES})\b", re.I)


def words(text: str) -> int:
    """Whitespace-separated words in ``text``."""
    return len(text.split())


def window(
    spans: Sequence[Span],
    best: int,
    holds: Callable[[str], bool | None],
    relevant: Callable[[int], bool] = lambda _: False,
) -> tuple[int, int]:
    """The first and last index (in ``spans``) of the answer span around ``spans[best]``,
    within ``MAX_WORDS`` (``CONTINUED_WORDS`` when its last sentence continues): the sentence
    before it when it refers back or is ``relevant`` (to the question, by its index); the
    ones after it that continue it, are relevant, or hold what the question asks for
    (``holds`` of their text) when the span does not yet. ``spans`` are the passages'
    evidence sentences in order."""
    first = last = best
    budget = MAX_WORDS - words(spans[best].text)
    before = _neighbour(spans, best, -1)
    if (
        before is not None
        and (_BACK_REFERENCE.match(spans[best].text) or relevant(before))
        and words(spans[before].text) <= budget
    ):
        first = before
        budget -= words(spans[before].text)
    held = any(holds(spans[i].text) for i in range(first, last + 1))
    for _ in range(2):
        after = _neighbour(spans, last, 1)
        if after is None:
            break
        text = spans[last].text
        wanted = (
            (not held and holds(spans[after].text) is True)
            or text.rstrip().endswith(":")
            or bool(_CONTINUATION.match(spans[after].text))
            or (last == best and words(text) < 8)
            or relevant(after)
        )
        room = budget + (
            CONTINUED_WORDS - MAX_WORDS if _CONTINUATION.match(spans[after].text) else 0
        )
        if not wanted or words(spans[after].text) > room:
            break
        last = after
        budget -= words(spans[after].text)
        held = held or bool(holds(spans[after].text))
    return first, last


def heading_above(span: Span) -> tuple[int, int] | None:
    """The file span of the heading line right above ``span`` in its chunk (only blank space
    between them): the function signature a description belongs to, the title of the
    section it opens."""
    chunk = span.chunk
    for start, end, _ in reversed(chunk.headings):
        if end <= span.start:
            between = chunk.text[end - chunk.start : span.start - chunk.start]
            return (start, end) if not between.strip() else None
    return None


def _neighbour(spans: Sequence[Span], i: int, step: int) -> int | None:
    """The sentence next to ``spans[i]`` (``step`` +1 or -1) in the same chunk, if it is the
    adjacent evidence sentence there (only blank space between them: a line or paragraph
    break at most, no heading)."""
    j = i + step
    if not 0 <= j < len(spans) or spans[j].chunk.id != spans[i].chunk.id:
        return None
    a, b = (spans[i], spans[j]) if step > 0 else (spans[j], spans[i])
    gap = a.chunk.text[a.end - a.chunk.start : b.start - b.chunk.start]
    return j if gap.count("\n") <= 2 and not gap.strip() else None
