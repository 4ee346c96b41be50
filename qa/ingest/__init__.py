"""Corpus → documents → chunks.

``corpus`` finds the files under a folder and reads their bytes safely; one reader per
format turns bytes into a ``Document`` (``plain``, ``pdf``, ``docx``, ``html``, registered by
name in ``document.readers``; ``readers.read_document`` picks one by extension); ``chunking``
splits a document's text into chunks with exact offsets and pages.
"""

from qa.ingest.chunking import Chunker, chunk_id, count_tokens
from qa.ingest.corpus import MAX_FILE_BYTES, CorpusFile, Skipped, read_bytes, scan_corpus
from qa.ingest.document import Document, Progress, Reader, UnreadableFile, readers
from qa.ingest.plain import decode_text
from qa.ingest.readers import read_document, reader_for, supported_extensions

__all__ = [
    "MAX_FILE_BYTES",
    "Chunker",
    "CorpusFile",
    "Document",
    "Progress",
    "Reader",
    "Skipped",
    "UnreadableFile",
    "chunk_id",
    "count_tokens",
    "decode_text",
    "read_bytes",
    "read_document",
    "reader_for",
    "readers",
    "scan_corpus",
    "supported_extensions",
]
