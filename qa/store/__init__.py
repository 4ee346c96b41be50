"""The store: chunks and vectors in Chroma, and what is kept beside them.

``chroma`` opens clients; ``chunks`` is the collection of one corpus (``ChunkStore``);
``records`` maps chunks to Chroma records; ``manifest`` caches the indexed files' states and
keeps their texts; ``lexical`` is the persistent BM25 index; ``lock`` the single-writer lock;
``generation`` the change marker readers follow; ``health`` checks a store before it is opened.
"""

from qa.store.chroma import close_client, collection_name, open_client, reopen_client
from qa.store.chunks import ChunkStore, FileState
from qa.store.records import decode_spans, encode_spans

__all__ = [
    "ChunkStore",
    "FileState",
    "close_client",
    "collection_name",
    "decode_spans",
    "encode_spans",
    "open_client",
    "reopen_client",
]
