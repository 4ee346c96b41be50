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


def store_for(corpus: Path) -> Path:
    """The store folder of ``corpus``: named after the folder, keyed by its absolute path."""
    path = corpus.expanduser().resolve()
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)[:40].strip("._") or "root"
    return data_dir() / "stores" / f"{name}-{digest}"


def remember_folder(corpus: Path) -> None:
    """Record ``corpus`` as the folder the ``qa`` command was last given (best effort)."""
    target = data_dir() / LAST_FOLDER_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{LAST_FOLDER_FILE}.{os.getpid()}")
        tmp.write_text(str(corpus.expanduser().resolve()) + "\n", encoding="utf-8")
        tmp.replace(target)
    except (OSError, UnicodeEncodeError):
        pass  # a read-only data folder only loses the convenience


def forget_folder() -> None:
    """Forget the remembered folder (best effort)."""
    with contextlib.suppress(OSError):
        (data_dir() / LAST_FOLDER_FILE).unlink(missing_ok=True)


def remembered_folder() -> Path | None:
    """The folder the ``qa`` command was last given, or None."""
    try:
        text = (data_dir() / LAST_FOLDER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text else None
