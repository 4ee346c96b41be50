"""The conftest network guard refuses non-local connections and lets loopback through."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa  # noqa: F401  - offline environment first
from tests.conftest import is_local_address

# TEST-NET-style unroutable address: the guard must refuse it before any packet is sent.
REMOTE = ("10.255.255.1", 9)


def require_guard() -> None:
    """Never let a test below reach a real connect() to a remote host without the guard."""
    assert getattr(socket.socket.connect, "network_guard", False), "connect() is not guarded"
    assert getattr(socket.socket.connect_ex, "network_guard", False), "connect_ex() is not guarded"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        yield server
    finally:
        server.close()


def test_connect_to_remote_address_is_refused() -> None:
    require_guard()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(RuntimeError, match=r"network access blocked in tests: .*10\.255\.255\.1"),
    ):
        sock.connect(REMOTE)


def test_connect_ex_to_remote_address_is_refused() -> None:
    require_guard()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(RuntimeError, match="network access blocked in tests"),
    ):
        sock.connect_ex(REMOTE)


def test_create_connection_to_remote_address_is_refused() -> None:
    require_guard()
    with pytest.raises(RuntimeError, match="network access blocked in tests"):
        socket.create_connection(REMOTE, timeout=0.5)


def test_remote_host_name_is_refused_without_connecting() -> None:
    require_guard()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(RuntimeError, match=r"example\.com"),
    ):
        sock.connect(("example.com", 80))


def test_remote_ipv6_address_is_refused() -> None:
    require_guard()
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 sockets here")
    with sock, pytest.raises(RuntimeError, match="network access blocked in tests"):
        sock.connect(("2001:db8::1", 9, 0, 0))


def test_loopback_connection_still_works(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        peer, _ = listener.accept()
        with peer:
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"


def test_localhost_name_and_connect_ex_still_work(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        assert client.connect_ex(("localhost", port)) == 0
        peer, _ = listener.accept()
        peer.close()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_unix_socket_still_works() -> None:
    folder = Path(tempfile.mkdtemp(prefix="qa-sock-", dir="/tmp"))  # short path for AF_UNIX
    try:
        path = str(folder / "s")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            server.listen(1)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(path)
                peer, _ = server.accept()
                peer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("family", "address", "local"),
    [
        (socket.AF_INET, ("127.0.0.1", 80), True),
        (socket.AF_INET, ("127.8.9.10", 80), True),
        (socket.AF_INET, ("localhost", 80), True),
        (socket.AF_INET, ("LOCALHOST.", 80), True),
        (socket.AF_INET6, ("::1", 80, 0, 0), True),
        (socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0), True),
        (socket.AF_INET, ("10.255.255.1", 9), False),
        (socket.AF_INET, ("0.0.0.0", 80), False),
        (socket.AF_INET, ("8.8.8.8", 53), False),
        (socket.AF_INET, ("localhost.example.com", 80), False),
        (socket.AF_INET, ("", 80), False),
        (socket.AF_INET6, ("2001:db8::1", 80, 0, 0), False),
        (socket.AF_INET6, ("::ffff:10.0.0.1", 80, 0, 0), False),
    ],
)
def test_is_local_address(family: int, address: tuple[object, ...], local: bool) -> None:
    assert is_local_address(family, address) is local
