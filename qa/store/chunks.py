"""Chroma as the chunk store: one collection per (corpus, embedder), embedded or a server.

Writes go through llama-index's ``ChromaVectorStore``; queries and the bookkeeping that
sync needs (which files are indexed, with which content hash) reads Chroma metadata directly.
Every write is mirrored, after Chroma's, in the manifest and the lexical index beside it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.ingest.document import Document
from qa.schema import Chunk
from qa.store import generation
from qa.store.lexical import LexicalIndex, Mirrored
from qa.store.manifest import Manifest
from qa.store.records import batches, chunk_of, get_all, metadata_of, pages
from qa.store.sentences import Vectors

_BATCH = 1000
GENERATION_KEY = "qa_generation"  # the change token, in the collection's metadata


@dataclass(frozen=True)
class FileState:
    """What the store knows about one indexed file (kept on the file's first chunk)."""

    source: str
    file_hash: str
    size: int
    mtime_ns: int
    chunker: str
    chunks: int


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
        lexical: Path | None = None,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        self.name = name
        self.embedder_name = embedder_name
        self._client = client
        self._reopen = reopen
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
        self._lexical_path = lexical
        self._lexical: LexicalIndex | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    @property
    def can_reopen(self) -> bool:
        """Whether the store can be opened afresh on a new Chroma system (embedded stores)."""
        return self._reopen is not None

    def reopen(self) -> None:
        """Open the collection on a new Chroma system (it reloads the vector index)."""
        if self._reopen is None:
            raise RuntimeError("this store cannot be reopened (a Chroma server)")
        self._client = self._reopen()
        self.collection = self._client.get_collection(self.name, embedding_function=None)
        self._vector_store = None

    def remote_generation(self) -> str:
        """The change token kept in the collection's metadata (Chroma server mode)."""
        meta = self._client.get_collection(self.name).metadata or {}
        return str(meta.get(GENERATION_KEY, generation.MISSING))

    def bump_remote_generation(self) -> str:
        """Write a new change token into the collection's metadata; returns it."""
        token = generation.new_token()
        meta = dict(self._client.get_collection(self.name).metadata or {})
        self.collection.modify(metadata=meta | {GENERATION_KEY: token})
        return token

    def forget_files(self) -> None:
        """Drop the cached file states (they are read from Chroma again when next needed)."""
        if self.manifest is not None:
            self.manifest.invalidate()

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index of the collection (made on first use; in a temporary folder for
        a store opened without a path for it)."""
        if self._lexical is None:
            path = self._lexical_path
            if path is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="qa-lexical-")
                path = Path(self._scratch.name) / "lexical.sqlite"
            self._lexical = LexicalIndex(path, key=str(self.collection.id))
        return self._lexical

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
        got = get_all(self.collection, where={"chunk_index": 0}, include=["metadatas"])
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

    def put_files(
        self,
        items: Sequence[tuple[FileState, Sequence[Chunk], np.ndarray]],
        sentences: Vectors | None = None,
    ) -> None:
        """Replace the chunks of several files in a few Chroma calls (and, of the files in
        ``sentences``, their sentence vectors: ``LexicalIndex.replace_files``), crash-safe in
        this order:

        1. new chunks are added (a file's first chunk without its size/mtime marker);
        2. stale chunks of those files are deleted;
        3. the marker is written on each first chunk.

        A sync killed before step 3 leaves a file that the next sync sees as changed, so it
        is redone; queries in between see old and new chunks, never a half-replaced file.
        """
        items = [item for item in items if item[1]]
        if not items:
            return
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        before = self.count()
        self.lexical.unverify()  # before Chroma changes: a write killed midway is caught up
        old_ids = self._ids_by_source([state.source for state, _, _ in items])
        nodes = []
        for state, chunks, vectors in items:
            existing = old_ids.get(state.source, set())
            for chunk, vector in zip(chunks, vectors, strict=True):
                if chunk.id in existing:
                    continue
                nodes.append(
                    TextNode(
                        id_=chunk.id,
                        text=chunk.text,
                        metadata=metadata_of(chunk),
                        embedding=[float(x) for x in vector],
                        relationships={
                            NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.source)
                        },
                    )
                )
        for batch in batches(nodes, _BATCH):
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
        self.lexical.replace_files(
            [
                (state.source, Mirrored(state.file_hash, state.chunks), chunks)
                for state, (_, chunks, _) in zip(written, items, strict=True)
            ],
            sentences,
        )
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
        for cid, _, meta in self._records_of_files(sources, include=["metadatas"]):
            out.setdefault(str(meta["source"]), {})[cid] = int(meta["chunk_index"])
        return out

    def _records_of_files(
        self, sources: Sequence[str], *, include: list[str]
    ) -> Iterator[tuple[str, Any, Any]]:
        """``(id, document, metadata)`` of every stored chunk of ``sources`` (the document is
        None unless ``include`` asks for it), read 500 files at a time."""
        for batch in batches(list(sources), 500):
            where: Any = {"source": {"$in": list(batch)}}
            got = get_all(self.collection, where=where, include=include)
            documents = got["documents"] or [None] * len(got["ids"])
            yield from zip(got["ids"], documents, got["metadatas"], strict=True)

    def touch_files(self, states: Sequence[FileState]) -> None:
        """Record new sizes/mtimes for files whose content did not change."""
        if not states:
            return
        before = self.count()
        by_source = {s.source: s for s in states}
        ids, metas = [], []
        for batch in batches(list(by_source), 500):
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
        if ids:
            self.lexical.unverify()
        for batch in batches(list(ids), _BATCH):
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
        self.lexical.delete_files(sources)
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
        for page in pages(self.collection, include=include):
            for cid, doc, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            ):
                rows.append((chunk_of(cid, doc, meta), len(rows)))
            if vectors and len(page["ids"]):
                # Converted page by page: the whole result as Python floats would be ~1 GB
                # at 100k chunks.
                matrices.append(np.asarray(page["embeddings"], dtype=np.float16))
        rows.sort(key=lambda row: (row[0].source, row[0].index))
        chunks = [chunk for chunk, _ in rows]
        if not vectors or not rows:
            return chunks, np.zeros((0, 0), dtype=np.float16)
        return chunks, np.concatenate(matrices)[[at for _, at in rows]]

    def chunks_of_files(self, sources: Sequence[str]) -> dict[str, list[Chunk]]:
        """Every stored chunk of each of ``sources`` (texts and metadata, no vectors)."""
        out: dict[str, list[Chunk]] = {source: [] for source in sources}
        for cid, doc, meta in self._records_of_files(sources, include=["documents", "metadatas"]):
            out[str(meta["source"])].append(chunk_of(cid, doc, meta))
        return out

    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (ids not in the store are left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {
            cid: chunk_of(cid, doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """The stored vector of each chunk of ``source`` by the text it was embedded as
        (``Chunk.indexed_text``), so that a re-sync of an edited file embeds only the chunks
        whose text or section changed (the collection is per embedder: a text's stored vector
        is the one the embedder gives it)."""
        got = get_all(
            self.collection,
            where={"source": source},
            include=["documents", "metadatas", "embeddings"],
        )
        return {
            chunk_of(cid, text, meta).indexed_text: np.asarray(vector, dtype=np.float32)
            for cid, text, meta, vector in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
            if text
        }

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by text (``LexicalIndex.sentence_vectors``)."""
        return self.lexical.sentence_vectors(texts) if texts else {}

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }
