"""Chunks as Chroma records: metadata (scalars only) to and from ``Chunk``, and paged reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from qa.schema import Chunk

PAGE = 5000  # records per collection.get page


def metadata_of(chunk: Chunk) -> dict[str, Any]:
    """The Chroma metadata a chunk is stored with (its text is the record's document)."""
    meta: dict[str, Any] = {
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "chunk_index": chunk.index,
        "file_hash": chunk.file_hash,
    }
    if chunk.sentences:
        meta["sentences"] = encode_spans(chunk.sentences)
    if chunk.lang:
        meta["lang"] = chunk.lang
    if chunk.page is not None:
        meta["page"] = chunk.page
        meta["page_breaks"] = " ".join(map(str, chunk.page_breaks))
    if chunk.section:
        meta["section"] = "\n".join(f"{level}\t{title}" for level, title in chunk.section)
    if chunk.headings:
        meta["headings"] = encode_triples(chunk.headings)
    return meta


def chunk_of(cid: str, text: str | None, meta: Mapping[str, Any]) -> Chunk:
    """The ``Chunk`` a Chroma record holds (the inverse of ``metadata_of``)."""
    return Chunk(
        id=cid,
        source=str(meta["source"]),
        text=text or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        index=int(meta["chunk_index"]),
        file_hash=str(meta["file_hash"]),
        sentences=decode_spans(str(meta.get("sentences", ""))),
        lang=str(meta.get("lang", "")),
        page=int(meta["page"]) if "page" in meta else None,
        page_breaks=_ints(str(meta.get("page_breaks", ""))),
        section=_section(str(meta.get("section", ""))),
        headings=decode_triples(str(meta.get("headings", ""))),
    )


def encode_spans(spans: Sequence[tuple[int, int]]) -> str:
    """``[(0, 12), (13, 40)]`` → ``"0:12 13:40"`` (Chroma metadata holds scalars)."""
    return " ".join(f"{start}:{end}" for start, end in spans)


def decode_spans(text: str) -> tuple[tuple[int, int], ...]:
    """The inverse of ``encode_spans``; an empty or malformed value gives ``()``."""
    try:
        pairs = [part.split(":") for part in text.split()]
        return tuple((int(start), int(end)) for start, end in pairs)
    except ValueError:
        return ()


def _section(text: str) -> tuple[tuple[int, str], ...]:
    """``"1\tTitle\n2\tSub"`` → ``((1, "Title"), (2, "Sub"))``; malformed lines are dropped."""
    out = []
    for line in text.split("\n"):
        level, _, title = line.partition("\t")
        if level.isdigit() and title:
            out.append((int(level), title))
    return tuple(out)


def encode_triples(spans: Sequence[tuple[int, int, int]]) -> str:
    """``[(0, 12, 1)]`` → ``"0:12:1"`` (heading spans with their level)."""
    return " ".join(f"{start}:{end}:{level}" for start, end, level in spans)


def decode_triples(text: str) -> tuple[tuple[int, int, int], ...]:
    """``"0:12:1 40:52:2"`` → ``((0, 12, 1), (40, 52, 2))``; a malformed value gives ``()``."""
    try:
        parts = [part.split(":") for part in text.split()]
        return tuple((int(s), int(e), int(level)) for s, e, level in parts)
    except ValueError:
        return ()


def _ints(text: str) -> tuple[int, ...]:
    """``"12 40"`` → ``(12, 40)``; a malformed value gives ``()``."""
    try:
        return tuple(int(part) for part in text.split())
    except ValueError:
        return ()


def pages(collection: Any, *, include: list[str], where: Any = None) -> Iterator[Any]:
    """``collection.get`` in pages (one call for 100k records exceeds SQLite's limits)."""
    offset = 0
    while True:
        page = collection.get(include=include, where=where, limit=PAGE, offset=offset)
        yield page
        if len(page["ids"]) < PAGE:
            return
        offset += PAGE


def get_all(collection: Any, *, include: list[str], where: Any = None) -> dict[str, list[Any]]:
    """``collection.get`` of every match, read in pages."""
    out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
    for page in pages(collection, include=include, where=where):
        for key in out:
            values = page.get(key)
            if values is not None:
                out[key].extend(values)
    return out


def batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
