"""Shared fixtures, plus a guard that keeps the whole test run off the network.

The guard is installed in ``pytest_configure`` (before collection, so imports are covered too)
and removed in ``pytest_unconfigure``: any ``connect``/``connect_ex`` to something other than a
loopback address or a Unix socket raises ``RuntimeError`` before a packet is sent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import qa  # noqa: F401  - sets the offline environment before anything else from qa
from qa.embed import Embedder, HashingEmbedder
from qa.store import ChunkStore, collection_name, open_client

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_UNIX = getattr(socket, "AF_UNIX", None)
_ORIGINAL: dict[str, Any] = {}


def is_local_address(family: int, address: Any) -> bool:
    """True for Unix sockets and for loopback hosts (127.0.0.0/8, ::1, 'localhost')."""
    if _UNIX is not None and family == _UNIX:
        return True
    if family not in (socket.AF_INET, socket.AF_INET6):
        return False
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip().lower().rstrip(".")
    if host in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # any other host name: refused without resolving it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _check(sock: socket.socket, address: Any) -> None:
    if not is_local_address(sock.family, address):
        raise RuntimeError(f"network access blocked in tests: {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _ORIGINAL["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return int(_ORIGINAL["connect_ex"](self, address))


_guarded_connect.network_guard = True  # type: ignore[attr-defined]
_guarded_connect_ex.network_guard = True  # type: ignore[attr-defined]


def install_network_guard() -> None:
    """Patch ``socket.socket`` (``create_connection`` and SSL sockets go through it too)."""
    if _ORIGINAL:
        return
    _ORIGINAL["connect"] = socket.socket.connect
    _ORIGINAL["connect_ex"] = socket.socket.connect_ex
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


def uninstall_network_guard() -> None:
    if not _ORIGINAL:
        return
    socket.socket.connect = _ORIGINAL.pop("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = _ORIGINAL.pop("connect_ex")  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    install_network_guard()
    # Hermetic settings: a developer's OPENAI_* or QA_* variables must not switch the tests
    # to a real LLM or another store; tests that want them set them explicitly.
    for key in [k for k in os.environ if k.startswith(("OPENAI_", "QA_"))]:
        del os.environ[key]
    # Stores and the remembered folder go to a fresh data folder, never the developer's.
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="qa-test-data-")


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall_network_guard()


@pytest.fixture(autouse=True, scope="session")
def network_guard() -> Iterator[None]:
    """Makes sure the guard is in place for every test (pytest_configure normally did it)."""
    install_network_guard()
    yield


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


TMP_CORPUS = {
    "alpha.txt": (
        "The harbour of Valparaiso was rebuilt in 1906 after the earthquake.\n"
        "Its cranes were imported from Glasgow.\n"
    ),
    "beta.md": (
        "# Beekeeping\n\nA healthy hive holds one queen and thousands of workers.\n\n"
        "Varroa mites are the main threat to colonies.\n"
    ),
    "notes/gamma.txt": "The observatory on Mauna Kea sits at 4,207 metres above sea level.\n",
}


@pytest.fixture
def tmp_corpus(tmp_path: Path) -> Path:
    """A small corpus folder: two top-level files and one in a subfolder."""
    root = tmp_path / "corpus"
    for source, text in TMP_CORPUS.items():
        path = root / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


MakeStore = Callable[..., ChunkStore]


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[MakeStore]:
    """Factory: ``make_store(corpus, embedder, store_dir=None, lexical=None)`` → a fresh
    embedded ChunkStore (its lexical index in the store folder, as the assistant keeps it).

    Every client it opened is closed at teardown.
    """
    clients: list[Any] = []

    def make(
        corpus: Path, embedder: Embedder, store_dir: Path | None = None, lexical: Path | None = None
    ) -> ChunkStore:
        folder = store_dir or tmp_path / "store"
        client = open_client(folder, None)
        clients.append(client)
        name = collection_name(corpus, embedder.name)
        return ChunkStore(
            client,
            name,
            embedder_name=embedder.name,
            dim=embedder.dim,
            manifest=folder / "manifests" / f"{name}.sqlite",
            lexical=lexical or folder / "lexical" / f"{name}.sqlite",
        )

    yield make
    for client in reversed(clients):
        close = getattr(client, "close", None)
        if close is not None:
            close()
