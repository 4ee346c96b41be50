"""Chroma as the chunk store: one collection per (corpus, embedder), embedded or a server.

Writes and vector queries go through llama-index's ``ChromaVectorStore``; the bookkeeping that
sync needs (which files are indexed, with which content hash) reads Chroma metadata directly.
Chroma's own embedding function is never used: vectors always come from our embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from qa.schema import Chunk

_BATCH = 1000


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


class ChunkStore:
    """The chunks of one corpus embedded by one model, in one Chroma collection."""

    def __init__(self, client: Any, name: str, *, embedder_name: str, dim: int) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.name = name
        self.embedder_name = embedder_name
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
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)

    def count(self) -> int:
        """Number of chunks stored."""
        return int(self.collection.count())

    def files(self) -> dict[str, FileState]:
        """Indexed files by source path."""
        got = self.collection.get(where={"chunk_index": 0}, include=["metadatas"])
        states = {}
        for meta in got["metadatas"] or []:
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

    def ids_of(self, source: str) -> list[str]:
        """Ids of every stored chunk of one file."""
        return list(self.collection.get(where={"source": source}, include=[])["ids"])

    def put_file(self, state: FileState, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace a file's chunks: new chunks are added first, stale ones removed after."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        old_ids = set(self.ids_of(state.source))
        nodes = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            if chunk.id in old_ids:
                continue
            meta: dict[str, Any] = {
                "source": chunk.source,
                "start": chunk.start,
                "end": chunk.end,
                "chunk_index": chunk.index,
                "file_hash": chunk.file_hash,
            }
            node = TextNode(
                id_=chunk.id,
                text=chunk.text,
                metadata=meta,
                embedding=[float(x) for x in vector],
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.source)},
            )
            nodes.append(node)
        for batch in _batches(nodes, _BATCH):
            self.vector_store.add(list(batch))
        first = chunks[0]
        self.collection.update(
            ids=[first.id],
            metadatas=[
                {
                    "chunk_index": 0,
                    "qa_size": state.size,
                    "qa_mtime_ns": state.mtime_ns,
                    "qa_chunker": state.chunker,
                    "qa_chunks": len(chunks),
                }
            ],
        )
        stale = sorted(old_ids - {c.id for c in chunks})
        self.delete_ids(stale)

    def touch(self, source: str, state: FileState) -> None:
        """Record a new size/mtime for a file whose content did not change."""
        got = self.collection.get(where={"$and": [{"source": source}, {"chunk_index": 0}]})
        if got["ids"]:
            self.collection.update(
                ids=got["ids"][:1],
                metadatas=[{"qa_size": state.size, "qa_mtime_ns": state.mtime_ns}],
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        for batch in _batches(list(ids), _BATCH):
            self.collection.delete(ids=batch)

    def delete_file(self, source: str) -> int:
        """Remove every chunk of one file; returns how many were removed."""
        ids = self.ids_of(source)
        self.delete_ids(ids)
        return len(ids)

    def chunks(self) -> list[Chunk]:
        """Every stored chunk, in (source, index) order."""
        got = self.collection.get(include=["documents", "metadatas"])
        out = [
            Chunk(
                id=cid,
                source=str(meta["source"]),
                text=doc or "",
                start=int(meta["start"]),
                end=int(meta["end"]),
                index=int(meta["chunk_index"]),
                file_hash=str(meta["file_hash"]),
            )
            for cid, doc, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            )
        ]
        out.sort(key=lambda c: (c.source, c.index))
        return out

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
