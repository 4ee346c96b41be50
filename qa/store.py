"""Chroma as the chunk store: one collection per (corpus, embedder), embedded or a server.

Writes go through llama-index's ``ChromaVectorStore``; queries and the bookkeeping that
sync needs (which files are indexed, with which content hash) reads Chroma metadata directly.
Chroma's own embedding function is never used: vectors always come from our embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from qa.ingest.document import Document
from qa.manifest import Manifest
from qa.schema import Chunk

_BATCH = 1000
_PAGE = 5000  # records per collection.get page


@dataclass(frozen=True)
class FileState:
    """What the store knows about one indexed file (kept on the file's first chunk)."""

    source: str
    file_hash: str
    size: int
    mtime_ns: int
    chunker: str
    chunks: int


def collection_name(corpus: Path, embedder_name: str) -> str:
    """A valid Chroma collection name unique to the corpus folder and the embedding model."""
    corpus_key = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:12]
    model_key = hashlib.sha256(embedder_name.encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", embedder_name).strip("-_")[:32] or "embedder"
    return f"qa-{corpus_key}-{slug}-{model_key}"


def open_client(store_dir: Path, chroma_url: str | None) -> Any:
    """A Chroma client: ``HttpClient`` for a server URL, else an embedded ``PersistentClient``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"chroma_url must look like http://HOST:PORT, got {chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    store_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(store_dir / "chroma"), settings=chroma_settings)


def reopen_client(store_dir: Path) -> Any:
    """An embedded client on a fresh Chroma system for ``store_dir``, for after another process
    changed the store: Chroma shares one system per path in a process and keeps its vector
    index in memory, so the cached system would never see the change. The old system is left
    to whoever still holds it (an answer in flight) and goes when they let go."""
    _forget_system(store_dir)
    return open_client(store_dir, None)


def close_client(store_dir: Path) -> None:
    """Stop this process's Chroma system on ``store_dir`` (before its files are moved)."""
    system = _forget_system(store_dir)
    if system is not None:
        system.stop()


def _forget_system(store_dir: Path) -> Any:
    """Take ``store_dir``'s system out of Chroma's per-process cache; it, or None."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return SharedSystemClient._identifier_to_system.pop(str(store_dir / "chroma"), None)


class ChunkStore:
    """The chunks of one corpus embedded by one model, in one Chroma collection."""

    def __init__(
        self,
        client: Any,
        name: str,
        *,
        embedder_name: str,
        dim: int,
        manifest: Path | None = None,
    ) -> None:
        self.name = name
        self.embedder_name = embedder_name
        self._client = client
        self.collection = client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder_name, "dim": dim},
        )
        stored = (self.collection.metadata or {}).get("embedder")
        if stored is not None and stored != embedder_name:
            raise ValueError(
                f"collection {name!r} holds vectors of {stored!r}, not {embedder_name!r}"
            )
        self._vector_store: Any = None
        self.manifest = (
            Manifest(manifest, key=str(self.collection.id)) if manifest is not None else None
        )

    def siblings(self) -> list[str]:
        """Embedder names of the other collections of the same corpus in this client."""
        prefix = "-".join(self.name.split("-", 2)[:2]) + "-"  # qa-<corpus key>-
        names = []
        for collection in self._client.list_collections():
            if collection.name.startswith(prefix) and collection.name != self.name:
                names.append(str((collection.metadata or {}).get("embedder", collection.name)))
        return sorted(names)

    @property
    def vector_store(self) -> Any:
        """llama-index's ``ChromaVectorStore`` over the collection, for writes (made on first
        use: reading and querying go to the collection directly and never import it)."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self.collection)
        return self._vector_store

    def count(self) -> int:
        """Number of chunks stored."""
        return int(self.collection.count())

    def files(self) -> dict[str, FileState]:
        """Indexed files by source path (from the manifest when it is current)."""
        if self.manifest is None:
            return self._files_in_chroma()
        count = self.count()
        states = self.manifest.load(count)
        if states is None:
            states = self._files_in_chroma()
            self.manifest.replace(states.values(), count)
        return states

    def _files_in_chroma(self) -> dict[str, FileState]:
        """Indexed files as recorded on each file's first chunk in Chroma."""
        got = self._get_all(where={"chunk_index": 0}, include=["metadatas"])
        states = {}
        for meta in got["metadatas"]:
            state = FileState(
                source=str(meta["source"]),
                file_hash=str(meta["file_hash"]),
                size=int(meta.get("qa_size", -1)),
                mtime_ns=int(meta.get("qa_mtime_ns", -1)),
                chunker=str(meta.get("qa_chunker", "")),
                chunks=int(meta.get("qa_chunks", 0)),
            )
            states[state.source] = state
        return states

    def put_document(self, source: str, doc: Document) -> None:
        """Keep the text ``source`` was read as (in the manifest; nothing without one)."""
        if self.manifest is not None:
            self.manifest.put_document(source, doc)

    def document(self, source: str, file_hash: str) -> Document | None:
        """The text kept for ``source`` at ``file_hash``, if any."""
        return self.manifest.document(source, file_hash) if self.manifest is not None else None

    def has_document(self, source: str, file_hash: str) -> bool:
        """Whether the text of ``source`` at ``file_hash`` is kept."""
        return self.manifest is not None and self.manifest.has_document(source, file_hash)

    def prune_documents(self) -> None:
        """Forget the texts of files that are no longer indexed at that content."""
        if self.manifest is not None:
            self.manifest.prune_documents((s.source, s.file_hash) for s in self.files().values())

    def ids_of(self, source: str) -> list[str]:
        """Ids of every stored chunk of one file."""
        return list(self._chunk_indexes([source]).get(source, {}))

    def put_file(self, state: FileState, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace one file's chunks (see ``put_files``)."""
        self.put_files([(state, chunks, vectors)])

    def put_files(self, items: Sequence[tuple[FileState, Sequence[Chunk], np.ndarray]]) -> None:
        """Replace the chunks of several files in a few Chroma calls, crash-safe in this order:

        1. new chunks are added (a file's first chunk without its size/mtime marker);
        2. stale chunks of those files are deleted;
        3. the marker is written on each first chunk.

        A sync killed before step 3 leaves a file that the next sync sees as changed, so it
        is redone; queries in between see old and new chunks, never a half-replaced file.
        """
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        items = [item for item in items if item[1]]
        if not items:
            return
        before = self.count()
        old_ids = self._ids_by_source([state.source for state, _, _ in items])
        nodes = []
        for state, chunks, vectors in items:
            existing = old_ids.get(state.source, set())
            for chunk, vector in zip(chunks, vectors, strict=True):
                if chunk.id in existing:
                    continue
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
                nodes.append(
                    TextNode(
                        id_=chunk.id,
                        text=chunk.text,
                        metadata=meta,
                        embedding=[float(x) for x in vector],
                        relationships={
                            NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.source)
                        },
                    )
                )
        for batch in _batches(nodes, _BATCH):
            self.vector_store.add(list(batch))
        stale = [
            cid
            for state, chunks, _ in items
            for cid in sorted(old_ids.get(state.source, set()) - {c.id for c in chunks})
        ]
        self.delete_ids(stale)
        self.collection.update(
            ids=[chunks[0].id for _, chunks, _ in items],
            metadatas=[
                {
                    "chunk_index": 0,
                    "qa_size": state.size,
                    "qa_mtime_ns": state.mtime_ns,
                    "qa_chunker": state.chunker,
                    "qa_chunks": len(chunks),
                }
                for state, chunks, _ in items
            ],
        )
        written = [replace(state, chunks=len(chunks)) for state, chunks, _ in items]
        self._record(written, [], before)

    def _record(self, states: Sequence[FileState], removed: Sequence[str], before: int) -> None:
        """Bring the manifest up to date after successful Chroma writes."""
        if self.manifest is not None:
            self.manifest.update(states, removed, before=before, after=self.count())

    def _ids_by_source(self, sources: Sequence[str]) -> dict[str, set[str]]:
        """Ids of the stored chunks of each of ``sources``."""
        return {source: set(found) for source, found in self._chunk_indexes(sources).items()}

    def _chunk_indexes(self, sources: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each of ``sources``: its stored chunk ids and their positions in the file."""
        out: dict[str, dict[str, int]] = {}
        for batch in _batches(list(sources), 500):
            where: Any = {"source": {"$in": list(batch)}}
            got = self._get_all(where=where, include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
                out.setdefault(str(meta["source"]), {})[cid] = int(meta["chunk_index"])
        return out

    def touch_files(self, states: Sequence[FileState]) -> None:
        """Record new sizes/mtimes for files whose content did not change."""
        if not states:
            return
        before = self.count()
        by_source = {s.source: s for s in states}
        ids, metas = [], []
        for batch in _batches(list(by_source), 500):
            where: Any = {"$and": [{"source": {"$in": list(batch)}}, {"chunk_index": 0}]}
            got = self.collection.get(where=where, include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                state = by_source[str(meta["source"])]
                ids.append(cid)
                metas.append({"qa_size": state.size, "qa_mtime_ns": state.mtime_ns})
        for at in range(0, len(ids), _BATCH):
            self.collection.update(ids=ids[at : at + _BATCH], metadatas=metas[at : at + _BATCH])
        self._record(states, [], before)

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        for batch in _batches(list(ids), _BATCH):
            self.collection.delete(ids=batch)

    def delete_files(self, sources: Sequence[str]) -> int:
        """Remove every chunk of the given files; returns how many chunks were removed."""
        if not sources:
            return 0
        before = self.count()
        # First chunks last: a file is known by its first chunk, so a delete killed midway
        # leaves it visible, and the next sync deletes the rest (never orphans).
        found = [
            item for chunks in self._chunk_indexes(sources).values() for item in chunks.items()
        ]
        ids = [cid for cid, _ in sorted(found, key=lambda item: item[1] == 0)]
        self.delete_ids(ids)
        self._record([], sources, before)
        return len(ids)

    def delete_file(self, source: str) -> int:
        """Remove every chunk of one file; returns how many were removed."""
        return self.delete_files([source])

    def chunks(self) -> list[Chunk]:
        """Every stored chunk, in (source, index) order."""
        return self.snapshot(vectors=False)[0]

    def snapshot(self, *, vectors: bool = True) -> tuple[list[Chunk], np.ndarray]:
        """Every stored chunk in (source, index) order and, row for row, its vector
        (float16, to halve the memory; a zero-row array when ``vectors`` is false)."""
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        rows: list[tuple[Chunk, int]] = []
        matrices: list[np.ndarray] = []
        for page in self._pages(include=include):
            for cid, doc, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            ):
                chunk = Chunk(
                    id=cid,
                    source=str(meta["source"]),
                    text=doc or "",
                    start=int(meta["start"]),
                    end=int(meta["end"]),
                    index=int(meta["chunk_index"]),
                    file_hash=str(meta["file_hash"]),
                    sentences=decode_spans(str(meta.get("sentences", ""))),
                    lang=str(meta.get("lang", "")),
                    page=int(meta["page"]) if "page" in meta else None,
                    page_breaks=_ints(str(meta.get("page_breaks", ""))),
                )
                rows.append((chunk, len(rows)))
            if vectors and len(page["ids"]):
                # Converted page by page: the whole result as Python floats would be ~1 GB
                # at 100k chunks.
                matrices.append(np.asarray(page["embeddings"], dtype=np.float16))
        rows.sort(key=lambda row: (row[0].source, row[0].index))
        chunks = [chunk for chunk, _ in rows]
        if not vectors or not rows:
            return chunks, np.zeros((0, 0), dtype=np.float16)
        return chunks, np.concatenate(matrices)[[at for _, at in rows]]

    def _get_all(self, *, include: list[str], where: Any = None) -> dict[str, list[Any]]:
        """``collection.get`` of every match, read in pages."""
        out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        for page in self._pages(include=include, where=where):
            for key in out:
                values = page.get(key)
                if values is not None:
                    out[key].extend(values)
        return out

    def _pages(self, *, include: list[str], where: Any = None) -> Iterator[Any]:
        """``collection.get`` in pages (one call for 100k records exceeds SQLite's limits)."""
        offset = 0
        while True:
            page = self.collection.get(include=include, where=where, limit=_PAGE, offset=offset)
            yield page
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }


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


def _ints(text: str) -> tuple[int, ...]:
    """``"12 40"`` → ``(12, 40)``; a malformed value gives ``()``."""
    try:
        return tuple(int(part) for part in text.split())
    except ValueError:
        return ()


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
