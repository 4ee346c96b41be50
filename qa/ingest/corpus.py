"""Finding a corpus's documents and reading their bytes, never outside the corpus root.

Files are found here rather than through llama-index's ``SimpleDirectoryReader`` because
nothing outside the corpus root may be read (its defaults follow symlinks out of the folder)
and a hostile file (a FIFO, a growing file, a symlink swapped in) must never block a sync.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from qa.ingest.document import UnreadableFile

MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class CorpusFile:
    """A candidate document: its path relative to the corpus root and its stat fingerprint."""

    source: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    source: str
    reason: str


def scan_corpus(
    root: Path, extensions: frozenset[str] | None = None
) -> tuple[list[CorpusFile], list[Skipped]]:
    """Walk ``root`` (no symlinks followed out of it) and sort entries into documents and skips.

    Hidden files and folders (a leading dot) are ignored silently: they hold stores and VCS data.
    Every other entry is either a document (a name ending in one of ``extensions``, by
    default those some reader reads) or a
    ``Skipped`` with its reason. A symlink to a file
    inside the corpus is kept, with ``path`` set to its target.
    """
    if extensions is None:
        from qa.ingest.readers import supported_extensions

        extensions = supported_extensions()
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []

    def unreadable_folder(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        source = _relative(where, root) if where != root else "."
        skipped.append(Skipped(_shown(source), f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable_folder):
        here = Path(dirpath)
        # Sources built as strings: pathlib's relative_to costs more than the walk itself.
        prefix = "" if dirpath == str(root) else os.path.relpath(dirpath, root) + "/"
        if os.sep != "/":  # pragma: no cover - POSIX here; kept correct elsewhere
            prefix = prefix.replace(os.sep, "/")
        kept_dirs = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            source = prefix + d
            if os.path.islink(os.path.join(dirpath, d)):
                skipped.append(Skipped(_shown(source), "symlinked folder not followed"))
            elif not _encodable(d):
                skipped.append(Skipped(_shown(source), "folder name is not valid UTF-8"))
            else:
                kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = here / name
            source = prefix + name
            found = _inspect(path, root, extensions)
            if isinstance(found, str):
                skipped.append(Skipped(_shown(source), found))
            elif not _encodable(name):
                skipped.append(Skipped(_shown(source), "file name is not valid UTF-8"))
            else:
                target, st = found
                files.append(CorpusFile(source, target, st.st_size, st.st_mtime_ns))
    return files, skipped


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _encodable(name: str) -> bool:
    """False for names with bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(source: str) -> str:
    """``source`` made printable: undecodable bytes of a file name become ``\\xNN``."""
    return os.fsencode(source).decode("utf-8", "backslashreplace")


def _inspect(
    path: Path, root: Path, extensions: frozenset[str]
) -> tuple[Path, os.stat_result] | str:
    """The file to read and its stat, or why it is left out."""
    if path.suffix.lower() not in extensions:
        return f"unsupported file type {_shown(path.suffix) or '(none)'!r}"
    target = path
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken or looping symlink"
        if not target.is_relative_to(root):
            return "symlink points outside the corpus"
        try:
            st = target.stat()
        except OSError as exc:
            return f"cannot stat: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if not os.access(target, os.R_OK):
        return "not readable (permission denied)"
    return target, st


def read_bytes(path: Path) -> bytes:
    """The file's bytes, read safely.

    A symlink as the last path component is not followed (``scan_corpus`` hands out the
    resolved target), a non-regular file is refused without blocking, and at most
    ``MAX_FILE_BYTES`` are read even if the file grows. Raises ``UnreadableFile`` for
    oversized or unreadable files.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile("symlink not followed") from exc
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("not a regular file")
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data
