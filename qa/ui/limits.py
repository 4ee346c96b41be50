"""A bound on the size of every HTTP request body the chat UI's server reads.

Gradio's API routes read a JSON body of any size into memory (40 POSTs of 30 MB took a server
from 440 MB to 2.8 GB). ``BodyLimit`` is an ASGI middleware that answers 413 when the declared
``Content-Length`` is over the route's limit, and stops reading (413 too) when a body sent
without a length grows past it. Uploads have their own, larger, limit: Gradio writes their
files to disk as they arrive and refuses any file over ``max_file_size``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/gradio_api/upload"
# A refused body declared up to this size is read and dropped (a chunk at a time) so the
# client gets the 413 instead of a reset connection; a bigger one is cut off at once.
DRAIN_MAX = 64 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: request bodies over ``limit`` bytes (``upload_limit`` on the upload
    route) are refused with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.upload_limit if path.rstrip("/").endswith(UPLOAD_PATH) else self.limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= DRAIN_MAX:  # read and drop it first, so the client sees the 413
                await _drain(receive, DRAIN_MAX)
            await _refuse(send, limit)
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            # Past the limit: answer 413 now and tell the app the client has gone, so it
            # stops reading (frameworks turn an exception here into a 400 of their own).
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_MAX - received)
                    if not started:
                        await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; what the app says after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracked_send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a body, ``budget`` bytes at most (then the server closes)."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"request body larger than {limit:,} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
