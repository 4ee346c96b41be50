"""A queue-driven, OpenAI-compatible fake LLM HTTP server for tests (stdlib only).

``with FakeLLM() as llm: llm.push_text("Hi"); openai.OpenAI(base_url=llm.base_url, ...)``;
then assert on ``llm.requests[i].body``. ``FakeLLM(default=Reply(...))`` answers whenever the
queue is empty (e.g. a 200 ms reply for load tests); ``Reply(echo=fn)`` makes its text from the
request body, e.g. a model that repeats what the prompt told it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast

_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


@dataclass
class Reply:
    """One scripted answer; each request pops one from the queue."""

    text: str = ""
    status: int = 200
    delay_s: float = 0.0  # sleep before answering
    chunk_size: int = 8  # characters per streamed delta
    chunk_delay_s: float = 0.0  # sleep between streamed deltas
    headers: dict[str, str] = field(default_factory=dict)  # extra headers (Retry-After...)
    body: str | None = None  # raw body sent verbatim instead of the generated one
    cut_after_chars: int | None = None  # drop the connection after this many characters
    empty_choices: bool = False  # answer with "choices": []
    hang: bool = False  # never answer until the server stops
    echo: Callable[[dict[str, Any]], str] | None = None  # text made from the request body


@dataclass
class Recorded:
    """One request received by the server."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def error_body(message: str, type_: str, code: str | None = None) -> str:
    """An OpenAI-style error JSON body."""
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLM


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    @property
    def fake(self) -> FakeLLM:
        return cast(_Server, self.server).fake

    def _record(self, body: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake._record(Recorded(self.path, headers, body))

    def _send(
        self, status: int, body: str, headers: dict[str, str] | None = None, cut: int | None = None
    ) -> None:
        data = body.encode()
        self.send_response(status)
        for k, v in {
            "Content-Type": "application/json",
            **(headers or {}),
            "Content-Length": str(len(data)),
            "Connection": "close",
        }.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data if cut is None else data[:cut])
        self.close_connection = True
        if cut is not None:
            self._abort()

    def _abort(self) -> None:
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self.fake.listings += 1  # not in ``requests``: those are the completions
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, error_body(f"Unknown path {self.path}", "invalid_request_error"))
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models
        ]
        self._send(200, json.dumps({"object": "list", "data": data}))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = None
        self._record(req if isinstance(req, dict) else {"_raw": raw.decode(errors="replace")})
        if self.path.rstrip("/") != "/v1/chat/completions" or not isinstance(req, dict):
            self._send(400, error_body(f"Bad request to {self.path}", "invalid_request_error"))
            return
        model = str(req.get("model", ""))
        if model not in self.fake.models:
            msg = f"The model `{model}` does not exist or you do not have access to it."
            self._send(404, error_body(msg, "invalid_request_error", "model_not_found"))
            return
        try:
            self._answer(self.fake._next_reply(), req, model)
        except OSError:  # the client went away (e.g. it timed out)
            self.close_connection = True

    def _answer(self, r: Reply, req: dict[str, Any], model: str) -> None:
        stop = self.fake._stop_event
        if r.hang:
            stop.wait()
            self.close_connection = True
            return
        if r.delay_s and stop.wait(r.delay_s):
            return
        if r.echo is not None:
            r = dataclasses.replace(r, text=r.echo(req), echo=None)
        if r.body is not None:
            self._send(r.status, r.body, r.headers, r.cut_after_chars)
            return
        if r.status != 200:
            type_, code = _ERROR_TYPES.get(r.status, ("server_error", None))
            self._send(
                r.status, error_body(r.text or f"Fake error {r.status}", type_, code), r.headers
            )
            return
        cid, created = self.fake._new_id(), int(time.time())
        usage = {"prompt_tokens": 10, "completion_tokens": max(1, len(r.text) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not req.get("stream"):
            msg = {"role": "assistant", "content": r.text, "refusal": None}
            choices = (
                []
                if r.empty_choices
                else [{"index": 0, "message": msg, "logprobs": None, "finish_reason": "stop"}]
            )
            body = {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": choices,
                "usage": usage,
            }
            self._send(200, json.dumps(body), r.headers, r.cut_after_chars)
            return
        self._stream(r, req, cid, created, model, usage)

    def _stream(
        self,
        r: Reply,
        req: dict[str, Any],
        cid: str,
        created: int,
        model: str,
        usage: dict[str, int],
    ) -> None:
        self.send_response(200)
        for k, v in {
            "Content-Type": "text/event-stream",
            **r.headers,
            "Transfer-Encoding": "chunked",
            "Connection": "close",
        }.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True

        def event(payload: str) -> None:
            data = f"data: {payload}\n\n".encode()
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def chunk(
            delta: dict[str, Any] | None,
            finish: str | None = None,
            extra: dict[str, Any] | None = None,
        ) -> None:
            choices = (
                []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            )
            event(
                json.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": choices,
                        **(extra or {}),
                    }
                )
            )

        stop, cut = self.fake._stop_event, r.cut_after_chars
        text = r.text if cut is None else r.text[:cut]
        chunk(None if r.empty_choices else {"role": "assistant", "content": ""})
        step = max(1, r.chunk_size)
        for i in range(0, len(text), step):
            if i and r.chunk_delay_s and stop.wait(r.chunk_delay_s):
                self._abort()
                return
            if not r.empty_choices:
                chunk({"content": text[i : i + step]})
        if cut is not None:
            self._abort()  # no final chunk, no [DONE], no terminating 0-chunk
            return
        if not r.empty_choices:
            chunk({}, "stop")
        if (req.get("stream_options") or {}).get("include_usage"):
            chunk(None, extra={"usage": usage})
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


class FakeLLM:
    """A scripted OpenAI-compatible server on 127.0.0.1; use as a context manager."""

    def __init__(self, default: Reply | None = None, models: list[str] | None = None) -> None:
        self.default = default
        self.models: list[str] = list(models) if models else ["fake-model"]
        self.listings = 0  # GET /v1/models requests
        self._queue: queue.Queue[Reply] = queue.Queue()
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stop_event = threading.Event()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeLLM", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; releases hanging/delayed requests so shutdown is prompt."""
        if self._server is None:
            return
        self._stop_event.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``openai.OpenAI(base_url=...)``."""
        if self._server is None:
            raise RuntimeError("FakeLLM is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        """Enqueue replies; each request pops one, in order."""
        for r in replies:
            self._queue.put(r)

    def push_text(self, *texts: str) -> None:
        """Enqueue plain 200 text replies."""
        self.push(*(Reply(text=t) for t in texts))

    @property
    def pending(self) -> int:
        """Number of scripted replies not yet consumed."""
        return self._queue.qsize()

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of all requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)

    def _new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-fake-{self._counter}"

    def _next_reply(self) -> Reply:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return self.default or Reply(status=500, text="FakeLLM script ran out of replies")
