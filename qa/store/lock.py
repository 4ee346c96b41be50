"""One writer per store: an advisory ``flock`` on ``<store>/write.lock`` held for a whole sync.

Chroma's embedded store is not safe for concurrent writers in different processes (two of
them have left a store that segfaults on reopen), so every sync takes this lock and a second
process is refused at once with ``StoreLocked``, naming the holder. Readers never take it.
The kernel drops the lock when the holder exits, however it exits (even ``kill -9``), so a
stale lock file never blocks anyone: only a live holder does.

Within one process the lock is re-entrant and threads wait their turn (a UI may sync from
several threads); across processes nobody waits.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = "write.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a store's writer lock, as written into the lock file."""

    pid: int | None
    host: str
    started: str


class StoreLocked(RuntimeError):
    """Another process is writing to the store."""

    def __init__(self, store: Path, holder: Holder) -> None:
        self.store = store
        self.holder = holder
        who = f"pid {holder.pid}" if holder.pid is not None else "pid unknown"
        if holder.host and holder.host != socket.gethostname():
            who += f" on {holder.host}"
        since = f", since {holder.started}" if holder.started else ""
        super().__init__(
            f"another qa process ({who}{since}) is writing to {store}; "
            "wait for it to finish or stop it, then try again"
        )


class _Held:
    """This process's hold on one lock file: the open descriptor and a re-entrant mutex."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.fd: int | None = None
        self.depth = 0


_registry_lock = threading.Lock()
_held: dict[Path, _Held] = {}


def lock_path(store: Path) -> Path:
    """The lock file of a store folder."""
    return store / LOCK_NAME


@contextmanager
def writer_lock(store: Path) -> Iterator[None]:
    """Hold the store's writer lock for the ``with`` block, or raise ``StoreLocked`` at once."""
    store = Path(store).resolve()
    with _registry_lock:
        held = _held.setdefault(store, _Held())
    with held.mutex:
        if held.depth == 0:
            held.fd = _acquire(store)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                _release(held.fd)
                held.fd = None


def writer_busy(store: Path) -> bool:
    """True while some process (this one included) holds the store's writer lock."""
    try:
        fd = os.open(lock_path(Path(store)), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: nobody has ever written
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if it was taken
    return False


def _acquire(store: Path) -> int:
    store.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(store), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            raise StoreLocked(store, _read_holder(fd)) from None
        finally:
            os.close(fd)
    except BaseException:
        os.close(fd)
        raise
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # the file stays (unlinking it would race with a new holder)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int, wait_s: float = 0.5) -> Holder:
    """The holder's details; it may not have written them yet, so wait a moment for them."""
    deadline = time.monotonic() + wait_s
    while True:
        raw = os.pread(fd, 4096, 0)
        try:
            info = json.loads(raw)
            return Holder(int(info["pid"]), str(info.get("host", "")), str(info.get("started", "")))
        except (ValueError, KeyError, TypeError):
            if time.monotonic() > deadline:
                return Holder(None, "", "")
            time.sleep(0.02)
