"""The live chat UI (``qa serve``) against file-route traversal, oversized uploads, and where
it listens: secrets and the store are never served, uploads over the limit get 413, and the
server binds to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

import qa
from qa.ui.uploads import MAX_UPLOAD_BYTES
from tests.helpers import ROOT
from tests.test_ui_client import Server, run_server

MARK = f"qa-secret-{uuid.uuid4().hex}"  # written into every secret file; never in a response
API_KEY = f"sk-{MARK}"  # in the server's environment (/proc/self/environ)
REFUSED = {400, 401, 403, 404, 405}


@contextlib.contextmanager
def project_env_file() -> Iterator[Path]:
    """``ROOT/.env`` holding the marker; a developer's own file is left as it is."""
    path = ROOT / ".env"
    if path.exists():
        yield path
        return
    path.write_text(f"QA_LLM_API_KEY={MARK}\n", encoding="utf-8")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ui-hardening")
    (tmp / ".env").write_text(f"SECRET={MARK}\n", encoding="utf-8")  # the server's cwd
    with (
        project_env_file(),
        run_server(
            tmp,
            extra={".env": f"OPENAI_API_KEY={MARK}\n"},
            QA_ANSWERER="extractive",
            QA_LLM_API_KEY=API_KEY,
        ) as s,
    ):
        yield s


def get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET ``raw_path`` exactly as written: no client-side normalisation of ``..``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
    try:
        conn.request("GET", raw_path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def attacks(server: Server) -> list[str]:
    """Raw request paths that try to read secrets through every file-serving route."""
    [store_db] = server.store.rglob("chroma.sqlite3")
    targets = [
        Path("/etc/passwd"),
        Path("/proc/self/environ"),
        store_db,
        server.corpus / ".env",
        server.corpus.parent / ".env",
        ROOT / ".env",
    ]
    depth = "../" * 12
    paths: list[str] = []
    for target in targets:
        absolute = str(target)
        relative = depth + absolute.lstrip("/")
        encoded = quote(relative, safe="")  # %2e%2e%2f...
        dots = quote(relative, safe="").replace(".", "%2e")
        double = quote(encoded, safe="")  # %252e%252e%252f...
        for route in ("/gradio_api/file=", "/gradio_api/file/", "/file="):
            paths += [route + absolute, route + relative, route + encoded, route + dots]
            paths.append(route + double)
        for route in ("/static/", "/assets/", "/svelte/", "/gradio_api/static/"):
            paths += [route + relative, route + encoded, route + dots.replace("%2f", "/")]
    paths += [
        "/gradio_api/file=" + str(server.corpus / ".." / ".env"),
        "/gradio_api/file=.env",
        "/gradio_api/file=" + str(store_db.relative_to(server.corpus.parent)),
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=file:///etc/passwd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
    ]
    return paths


def test_file_routes_never_serve_secrets_or_the_store(server: Server) -> None:
    # The route works: an upload (Gradio's cache folder) is served back, so a refusal below
    # is the server's decision, not a broken request.
    response = httpx.post(
        f"{server.url}gradio_api/upload", files={"files": ("ok.txt", b"public text")}, timeout=30
    )
    [uploaded] = response.json()
    assert get(server.url, "/gradio_api/file=" + uploaded) == (200, b"public text")
    escape = uploaded + "/.." * 12 + "/etc/passwd"
    from_cache = ["/gradio_api/file=" + escape, "/gradio_api/file=" + quote(escape, safe="")]

    secrets = [MARK.encode(), b"root:x:0:0", b"SQLite format 3"]
    statuses: dict[int, int] = {}
    for path in attacks(server) + from_cache:
        status, body = get(server.url, path)
        statuses[status] = statuses.get(status, 0) + 1
        assert not any(s in body for s in secrets), path
        assert status in REFUSED, (path, status)
    print(f"{sum(statuses.values())} traversal requests, statuses {statuses}")
    assert get(server.url, "/")[0] == 200


def test_uploads_over_the_limit_get_413_and_leave_nothing(server: Server) -> None:
    url = f"{server.url}gradio_api/upload"
    big = b"word " * (MAX_UPLOAD_BYTES // 5 + 1)  # just over the limit
    response = httpx.post(url, files={"files": ("big.txt", big)}, timeout=30)
    assert response.status_code == 413 and "maximum allowed size" in response.text

    boundary = "qa-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield head
        for _ in range(12):
            yield b"x" * (MAX_UPLOAD_BYTES // 10)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(
        url,
        content=chunked(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert response.status_code == 413
    small = httpx.post(url, files={"files": ("ok.txt", b"fine")}, timeout=30)
    assert small.status_code == 200  # the limit, not the route, refused the others
    temp = server.corpus.parent / "gradio"
    sizes = [p.stat().st_size for p in temp.rglob("*") if p.is_file()]
    assert all(size <= MAX_UPLOAD_BYTES for size in sizes), sizes


def test_request_bodies_over_the_limit_get_413_on_every_route(server: Server) -> None:
    """JSON API bodies are bounded (ui_max_request_bytes, 512 KiB): a 2 MB body is refused
    before it is read, whether it declares its length or streams without one; a question of
    the longest allowed length still gets through."""
    limit = qa.Settings().ui_max_request_bytes
    big = json.dumps({"data": ["x" * (4 * limit)]}).encode()
    for route in ("gradio_api/call/ask", "gradio_api/queue/join", "gradio_api/info"):
        response = httpx.post(f"{server.url}{route}", content=big, timeout=30)
        assert response.status_code == 413, route
        assert f"larger than {limit:,} bytes" in response.text

    def streamed() -> Iterator[bytes]:  # no Content-Length
        for _ in range(8):
            yield b" " * (limit // 2)

    response = httpx.post(f"{server.url}gradio_api/call/ask", content=streamed(), timeout=30)
    assert response.status_code == 413

    longest = "How long did the previous humanitarian pause last? " * 78  # ≈ 4,000 chars
    response = httpx.post(
        f"{server.url}gradio_api/call/ask", json={"data": [longest[:4000]]}, timeout=30
    )
    assert response.status_code == 200 and "event_id" in response.json()


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table, encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(addr)
    return found


def test_server_listens_on_loopback_only_by_default(server: Server) -> None:
    assert urlsplit(server.url).hostname == "127.0.0.1"
    port = urlsplit(server.url).port
    assert port is not None
    addresses = _listening(port)
    assert addresses == ["0100007F"], addresses  # 127.0.0.1, and no IPv6 or 0.0.0.0 socket
