"""The sync's progress bar: chunks embedded, chunks/s and an ETA, while files are still read.

The number of chunks is known only once every changed file is read and chunked, which the
sync does while it embeds. The bar's total is therefore estimated from the bytes: chunks found
so far per byte read, times the bytes of the changed files (known from the directory scan),
and becomes exact when the last file is read. tqdm shows the rate and the time left from it.
"""

from __future__ import annotations

import sys
from typing import Any


class EmbedProgress:
    """A tqdm bar of chunks embedded (nothing shown when ``enabled`` is false)."""

    def __init__(self, total_bytes: int, *, enabled: bool) -> None:
        self.total_bytes = total_bytes
        self.enabled = enabled and total_bytes > 0
        self.bytes_read = 0
        self.chunks_read = 0
        self._bar: Any = None

    def __enter__(self) -> EmbedProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def read(self, size: int, chunks: int) -> None:
        """A file of ``size`` bytes was read into ``chunks`` chunks."""
        self.bytes_read += size
        self.chunks_read += chunks
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="chunk", desc="embedding", file=sys.stderr)
        self._bar.total = self.estimate()
        self._bar.refresh()

    def estimate(self) -> int:
        """Chunks expected in all: exact once every byte is read."""
        left = max(self.total_bytes - self.bytes_read, 0)
        per_byte = self.chunks_read / self.bytes_read if self.bytes_read else 0.0
        return self.chunks_read + round(left * per_byte)

    def embedded(self, count: int) -> None:
        """``count`` more chunks were embedded."""
        if self._bar is not None:
            self._bar.update(count)
