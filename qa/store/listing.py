"""The stores under the data folder (``qa stores``): the folder each one indexes, its size and
when it was last used, and removing those whose folder is gone.

A store records its folder's absolute path in a ``folder`` file when it is opened, and that
file's time is its last use. A store from before this file (or a user-named ``--store``
elsewhere) is listed with its folder unknown and never pruned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from qa.locations import read_folder_file, stores_dir, write_folder_file
from qa.store.lock import writer_lock

FOLDER_FILE = "folder"


@dataclass(frozen=True)
class StoreEntry:
    """One store folder and what is known of it."""

    path: Path
    folder: Path | None  # the corpus folder it indexes; None when not recorded
    size: int  # bytes on disk
    last_used: float  # seconds since the epoch

    @property
    def gone(self) -> bool:
        """Whether the folder it indexes is known and no longer there."""
        return self.folder is not None and not self.folder.is_dir()


def record_folder(store: Path, corpus: Path) -> None:
    """Note in ``store`` the folder it indexes, and that it is in use now (best effort: a
    read-only store loses only the listing's detail)."""
    write_folder_file(store / FOLDER_FILE, corpus)


def stores(root: Path | None = None) -> list[StoreEntry]:
    """Every store under ``root`` (default: the data folder's ``stores/``), least recently
    used first."""
    root = root or stores_dir()
    try:
        found = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return sorted((_entry(p) for p in found), key=lambda e: e.last_used)


def _entry(path: Path) -> StoreEntry:
    size, newest = 0, 0.0
    for base, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(base, name))
                size += st.st_blocks * 512
                newest = max(newest, st.st_mtime)
    marker = path / FOLDER_FILE
    folder = read_folder_file(marker)
    if folder is not None:
        with contextlib.suppress(OSError):
            newest = marker.stat().st_mtime
    return StoreEntry(path, folder, size, newest)


def remove(entry: StoreEntry) -> None:
    """Delete ``entry``'s store folder; ``StoreLocked`` when a process is writing to it."""
    with writer_lock(entry.path):
        shutil.rmtree(entry.path)
