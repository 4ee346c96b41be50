"""Where a corpus's index lives, and which folder the ``qa`` command used last.

Every corpus folder has one store, found from its absolute path: ``$XDG_DATA_HOME/qa/stores/
<folder name>-<hash of the path>`` (``~/.local/share/qa/stores/…``). So the same folder
always finds its index, whatever the working directory, and two folders never share one.
The ``qa`` command remembers the folder it was last given (``qa index FOLDER``, ``--folder``)
in ``$XDG_DATA_HOME/qa/last-folder``; commands given no folder use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

LAST_FOLDER_FILE = "last-folder"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/qa``, else ``~/.local/share/qa``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qa"


def stores_dir() -> Path:
    """``$XDG_DATA_HOME/qa/stores``: where every corpus's store is kept by default."""
    return data_dir() / "stores"


def store_for(corpus: Path) -> Path:
    """The store folder of ``corpus``: named after the folder, keyed by its absolute path."""
    path = corpus.expanduser().resolve()
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)[:40].strip("._") or "root"
    return stores_dir() / f"{name}-{digest}"


def write_folder_file(target: Path, folder: Path) -> None:
    """Write ``folder``'s absolute path into ``target`` atomically; when ``target`` already
    says so, only mark it used now (best effort: a read-only folder loses the note)."""
    text = str(folder.expanduser().resolve()) + "\n"
    try:
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            os.utime(target)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except (OSError, UnicodeError):
        pass


def read_folder_file(target: Path) -> Path | None:
    """The folder ``write_folder_file`` wrote into ``target``, or None."""
    try:
        text = target.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text else None


def remember_folder(corpus: Path) -> None:
    """Record ``corpus`` as the folder the ``qa`` command was last given (best effort)."""
    write_folder_file(data_dir() / LAST_FOLDER_FILE, corpus)


def forget_folder() -> None:
    """Forget the remembered folder (best effort)."""
    with contextlib.suppress(OSError):
        (data_dir() / LAST_FOLDER_FILE).unlink(missing_ok=True)


def remembered_folder() -> Path | None:
    """The folder the ``qa`` command was last given, or None."""
    return read_folder_file(data_dir() / LAST_FOLDER_FILE)
