"""Adding uploaded files to the corpus folder safely.

A file is accepted only with an extension some reader reads, within the size limit and when
that reader can read it (text that decodes, a PDF that opens and has a text layer, ...). Its
name is reduced to a safe one (NFC, no path separators, no leading dots, letters, digits,
``_ - . space`` only). It is created in the corpus root itself, never elsewhere, and
never over an existing file: a different file of the same name gets a ``-2``, ``-3`` suffix.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.ingest import UnreadableFile, reader_for, supported_extensions
from qa.ingest.plain import PlainTextReader
from qa.ingest.readers import parse_document

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ]")
_SPACES = re.compile(r"\s+")
_UNDERSCORES = re.compile(r"_{2,}")


@dataclass(frozen=True)
class UploadResult:
    """What happened to one uploaded file: ``saved`` (its name in the corpus) or ``error``."""

    original: str
    saved: str | None = None
    error: str | None = None
    duplicate: bool = False  # the same content already exists under ``saved``


def safe_filename(name: str) -> str:
    """A harmless file name for ``name``, or ``""`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", _SPACES.sub(" ", name))
    name = _UNDERSCORES.sub("_", name).strip(" ._-")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem.strip(" ._-")[: MAX_NAME_CHARS - len(ext) - 1].rstrip(" .")
    if not stem:
        return ""
    return f"{stem}.{ext.lower()}" if ext else stem


def allowed_extensions() -> str:
    """The accepted extensions, for messages: ``.docx, .htm, .html, .markdown, .md, ...``."""
    return ", ".join(sorted(supported_extensions()))


def save_upload(
    corpus: Path, source: Path, original_name: str, *, max_bytes: int = MAX_UPLOAD_BYTES
) -> UploadResult:
    """Copy the upload at ``source`` into the ``corpus`` root; nothing is written on error."""
    shown = original_name.replace("\\", "/").rsplit("/", 1)[-1] or "(no name)"
    name = safe_filename(original_name)
    ext = Path(name).suffix.lower()
    if ext not in supported_extensions():
        got = f"'{ext}'" if ext else "no extension"
        return UploadResult(
            shown, error=f"only these file types can be added ({allowed_extensions()}); got {got}"
        )
    try:
        size = source.stat().st_size
        if size > max_bytes:
            return UploadResult(
                shown, error=f"larger than the {max_bytes // (1024 * 1024)} MB limit"
            )
        data = source.read_bytes()
    except OSError as exc:
        return UploadResult(shown, error=f"could not read the upload: {exc.strerror or exc}")
    if len(data) > max_bytes:
        return UploadResult(shown, error=f"larger than the {max_bytes // (1024 * 1024)} MB limit")
    reader = reader_for(name)
    try:
        parse_document(reader, data)
    except UnreadableFile as exc:
        kind = "text file" if isinstance(reader, PlainTextReader) else reader.name.upper()
        return UploadResult(shown, error=f"not a readable {kind} ({exc})")
    root = corpus.resolve()
    if not root.is_dir():
        return UploadResult(shown, error="the corpus folder does not exist")
    stem, suffix = name[: -len(ext)], name[-len(ext) :]
    digest = hashlib.sha256(data).hexdigest()
    for attempt in range(1, 100):
        candidate = name if attempt == 1 else f"{stem}-{attempt}{suffix}"
        target = root / candidate
        if target.parent != root or target.name != candidate:  # pragma: no cover - defensive
            return UploadResult(shown, error="unsafe file name")
        if _same_content(target, digest):
            return UploadResult(shown, saved=candidate, duplicate=True)
        try:
            _write_new(target, data)
        except FileExistsError:
            continue
        except OSError as exc:
            return UploadResult(shown, error=f"could not save: {exc.strerror or exc}")
        return UploadResult(shown, saved=candidate)
    return UploadResult(shown, error="too many files with this name already")


def _same_content(path: Path, digest: str) -> bool:
    try:
        if path.is_symlink() or not path.is_file():
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never follows a symlink, never replaces a file) and write ``data``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
