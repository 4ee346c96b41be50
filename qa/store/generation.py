"""The store's change marker: how a process notices that another one changed the store.

The writer replaces ``<store>/generation`` with a new token, under the writer lock, after each
change it commits (a sync that added, updated or removed files; a rebuild switched in). Every
reader notes the token it loaded its view of the store at and compares it before answering
(one small file read): a different token, or none where there was one, means the view is
stale. Chroma's embedded client keeps its vector index in memory and never sees another
process's writes, so a reader then opens the store afresh (``qa.store.reopen_client``) once no
writer holds the lock, and answers from the old view until then: every answer comes from one
state of the store, the old or the new, never a mix.

With the vectors on a Chroma server, clients on other machines share no folder: the token is
kept in the collection's metadata instead (``ChunkStore.remote_generation``), and a reader that
sees it move re-reads the file states from Chroma and brings its lexical index up to date.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

GENERATION_FILE = "generation"
MISSING = "-"  # the token of a store folder that has no marker (new, or deleted under us)


def read(store: Path) -> str:
    """The store's current token (``MISSING`` when it has none)."""
    try:
        return (Path(store) / GENERATION_FILE).read_text(encoding="ascii").strip() or MISSING
    except (OSError, UnicodeDecodeError):
        return MISSING


def new_token() -> str:
    """A token no other change has: time, process and random bits."""
    return f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(4)}"


def bump(store: Path) -> str:
    """Write a new token (atomically: readers see the old file or the new one); the caller
    holds the writer lock. Returns the token."""
    token = new_token()
    target = Path(store) / GENERATION_FILE
    tmp = target.with_name(f".{GENERATION_FILE}.{os.getpid()}")
    tmp.write_text(token + "\n", encoding="ascii")
    os.replace(tmp, target)
    return token
