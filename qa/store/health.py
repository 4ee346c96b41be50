"""Is the embedded Chroma store sound? Cheap structural checks, a probe in a child process,
and moving a damaged store aside for a rebuild.

A damaged HNSW file can make Chroma segfault, which no ``try`` can catch, so:

- ``quick_check`` reads only file headers and sizes (well under a millisecond) and runs before
  a store is opened: it catches truncated or overwritten HNSW headers/data and a truncated or
  overwritten SQLite file header — the damage that crashes Chroma outright;
- ``probe`` opens the store in a child process (SQLite ``quick_check``, then every
  collection's count, metadata and one vector query); a crash, an error or a timeout there
  means the store is damaged. It costs about a second (importing Chroma), so it runs after
  an operation on the store failed and for ``qa index --check``, never on every question.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

REBUILD_HINT = "rebuild it with `qa index --rebuild`"
_SQLITE_MAGIC = b"SQLite format 3\x00"
# hnswlib's persisted header (Chroma's fork): version, offsetLevel0, max_elements,
# cur_element_count, size_data_per_element, label_offset, offsetData, maxlevel,
# enterpoint_node, maxM, maxM0, M, mult, ef_construction.
_HNSW_HEADER = struct.Struct("<iQQQQQQiiQQQdQ")

_PROBE = r"""
import sqlite3, sys
from pathlib import Path
path = Path(sys.argv[1])
db = path / "chroma.sqlite3"
if db.exists():
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("PRAGMA quick_check").fetchall()
    con.close()
    if rows != [("ok",)]:
        sys.exit("SQLite integrity check failed: " + "; ".join(str(r[0]) for r in rows[:3]))
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
for listed in client.list_collections():
    col = client.get_collection(listed.name)
    n = col.count()
    got = col.get(include=["metadatas"])
    if len(got["ids"]) != n:
        sys.exit(f"collection {listed.name}: count {n} but {len(got['ids'])} records")
    dim = (col.metadata or {}).get("dim")
    if n and isinstance(dim, int):
        col.query(query_embeddings=[[1.0] + [0.0] * (dim - 1)], n_results=min(n, 5))
print("ok")
"""


class StoreUnwritable(RuntimeError):
    """The store cannot be written to: its disk is full (``kind`` "full") or it is read-only
    (``kind`` "read-only"). Not damage: nothing needs rebuilding."""

    def __init__(self, store: Path, kind: str, detail: str) -> None:
        self.store = store
        self.kind = kind
        if kind == "full":
            advice = "the index is not damaged: free some space and run the command again"
            what = f"the disk holding {store} is full ({detail})"
        else:
            advice = "answers still work from the index as it is; indexing needs write access"
            what = f"the store {store} is read-only ({detail})"
        super().__init__(f"{what}; {advice}")


_FULL_WORDS = ("disk is full", "no space left", "disk full", "quota exceeded")
_PROBE_BYTES = 256 * 1024
_MIN_FREE_BYTES = 1024 * 1024


def storage_problem(store: Path, error: BaseException | None = None) -> StoreUnwritable | None:
    """Whether ``store`` cannot be written (full disk, read-only), judged from ``error`` (what
    a write just raised, if anything) and a small probe write; None when it can be."""
    store = Path(store)
    text = str(error or "").lower()
    if any(word in text for word in _FULL_WORDS) or _errno(error) in _FULL_ERRNOS:
        return StoreUnwritable(store, "full", _free(store))
    folder = _existing(store)
    probe_file = folder / f".qa-write-probe-{os.getpid()}"
    created = False
    try:
        with probe_file.open("wb") as f:
            created = True
            f.write(b"\0" * _PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            return StoreUnwritable(store, "full", _free(store))
        if exc.errno in _READ_ONLY_ERRNOS:
            return StoreUnwritable(store, "read-only", exc.strerror or "cannot write")
        raise
    finally:
        if created:
            probe_file.unlink(missing_ok=True)
    if shutil.disk_usage(folder).free < _MIN_FREE_BYTES:
        return StoreUnwritable(store, "full", _free(store))
    return None


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _errno(error: BaseException | None) -> int | None:
    while error is not None:
        if isinstance(error, OSError) and error.errno is not None:
            return error.errno
        error = error.__cause__ or error.__context__
    return None


def unwritable_store(store: Path) -> StoreUnwritable | None:
    """Whether an existing store folder cannot be written, cheaply: ``access()`` first (it
    sees read-only mounts, even for root), the probe write only when that says no."""
    if not store.exists() or os.access(store, os.W_OK):
        return None
    return storage_problem(store)


def _existing(path: Path) -> Path:
    """``path``, or its nearest ancestor that exists."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _free(store: Path) -> str:
    try:
        free = shutil.disk_usage(_existing(store)).free
    except OSError:
        return "no space left"
    return f"{free / (1024 * 1024):.1f} MiB free"


class StoreDamaged(RuntimeError):
    """The store's files are damaged; the message says how to rebuild."""

    def __init__(self, store: Path, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"index at {store} is damaged ({reason}); {REBUILD_HINT}")


def chroma_dir(store: Path) -> Path:
    """Where the embedded Chroma store of a store folder lives."""
    return Path(store) / "chroma"


def quick_check(store: Path, *, thorough: bool = False) -> str | None:
    """Why the store's files are damaged, from headers and sizes alone; None if they look sound.

    ``thorough`` also walks every HNSW link list (linear in the number of vectors).
    """
    root = chroma_dir(store)
    if not root.is_dir():
        return None
    problem = _check_sqlite(root / "chroma.sqlite3")
    if problem:
        return problem
    for header in sorted(root.glob("*/header.bin")):
        problem = _check_hnsw(header.parent, thorough=thorough)
        if problem:
            return f"vector index {header.parent.name}: {problem}"
    return None


def _check_sqlite(db: Path) -> str | None:
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # Chroma creates it on first open
    with db.open("rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return "chroma.sqlite3 is not an SQLite database"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or size % page:
        return "chroma.sqlite3 is truncated"
    return None


def _check_hnsw(segment: Path, *, thorough: bool) -> str | None:
    raw = (segment / "header.bin").read_bytes()
    if len(raw) != _HNSW_HEADER.size:
        return f"header.bin has {len(raw)} bytes, not {_HNSW_HEADER.size}"
    (_, offset0, max_el, count, per_el, label_at, data_at, level, entry, *_rest) = (
        _HNSW_HEADER.unpack(raw)
    )
    if (
        offset0 != 0
        or count > max_el
        or label_at + 8 != per_el
        or data_at >= label_at
        or level < -1
        or not -1 <= entry < max(count, 1)
    ):
        return "header.bin is inconsistent"
    for name, need in (("data_level0.bin", count * per_el), ("length.bin", count * 4)):
        try:
            have = (segment / name).stat().st_size
        except FileNotFoundError:
            return f"{name} is missing"
        if have < need:
            return f"{name} is truncated ({have} of {need} bytes)"
    links = segment / "link_lists.bin"
    if not links.exists():
        return "link_lists.bin is missing"
    if thorough and not _link_lists_ok(links.read_bytes(), count):
        return "link_lists.bin is truncated or inconsistent"
    return None


def _link_lists_ok(data: bytes, count: int) -> bool:
    """The file holds exactly ``count`` (size, links) records."""
    pos = 0
    for _ in range(count):
        if pos + 4 > len(data):
            return False
        pos += 4 + int.from_bytes(data[pos : pos + 4], "little")
    return pos == len(data)


def probe(store: Path, timeout_s: float = 60.0) -> str | None:
    """Open the store in a child process and read it; why that failed, or None if it worked."""
    root = chroma_dir(store)
    if not root.is_dir():
        return None
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(root)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    except subprocess.TimeoutExpired:
        return f"opening it took longer than {timeout_s:g} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return f"Chroma crashed with {name} while reading it"
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else f"exit status {done.returncode}"
    return last if len(last) <= 300 else last[:297] + "..."


def diagnose(store: Path, timeout_s: float = 60.0) -> str | None:
    """Every check: the thorough structural one, then the probe. None when the store is sound."""
    return quick_check(store, thorough=True) or probe(store, timeout_s)


def ensure_sound(store: Path) -> None:
    """Raise ``StoreDamaged`` when the quick structural check finds damage."""
    reason = quick_check(store)
    if reason:
        raise StoreDamaged(chroma_dir(store), reason)


def switch_in(store: Path, built: Path) -> Path | None:
    """Put the index built in the store folder ``built`` in place of ``store``'s: the old
    Chroma folder is moved aside (``move_aside``), the new one, its manifests and its lexical
    index renamed in (renames within one folder: each is atomic), ``built`` removed. The old
    folder's path."""
    moved = move_aside(store)
    chroma_dir(built).rename(chroma_dir(store))
    for derived in ("manifests", "lexical"):  # what the old index held: derived, dropped
        target = Path(store) / derived
        if target.exists():
            shutil.rmtree(target)
        if (Path(built) / derived).exists():
            (Path(built) / derived).rename(target)
    shutil.rmtree(built, ignore_errors=True)
    return moved


def move_aside(store: Path) -> Path | None:
    """Rename the Chroma folder to ``chroma.damaged-<time>`` (kept, never deleted); its new path.

    None when there was nothing to move.
    """
    root = chroma_dir(store)
    if not root.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = root.with_name(f"chroma.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = root.with_name(f"chroma.damaged-{stamp}-{n}")
    root.rename(target)
    return target
