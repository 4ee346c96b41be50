"""Chroma clients: an embedded ``PersistentClient`` per store folder, or an ``HttpClient``.

Chroma's own embedding function is never used: vectors always come from our embedder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


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
