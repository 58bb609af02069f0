"""Bounded decompression: a body's decoded size is capped while it is decoded, in
steps of at most `DECODE_STEP_BYTES` of output, so a gzip bomb costs at most the cap
(and a few hundred microseconds per step), never its inflated size. Shared by the
provider client (responses) and the drain receiver (requests).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

DECODE_STEP_BYTES = 256 * 1024  # most output one decompress call may produce


class TooLarge(Exception):
    pass


class BoundedDecoder:
    """Decompress (gzip, deflate or identity) incrementally with a running cap on the output."""

    def __init__(self, encoding: str, limit: int):
        encoding = encoding.strip().lower()
        self.limit = limit
        self.size = 0
        if encoding in ("", "identity"):
            self._inflate = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped; gzip too
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    @property
    def identity(self) -> bool:
        return self._inflate is None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, one step at a time (a caller on an event loop yields
        between them); raises TooLarge once the output passes the limit, ValueError when corrupt."""
        if self._inflate is None:
            if data:
                yield self._count(data)
            return
        while data:
            try:
                out = self._inflate.decompress(data, DECODE_STEP_BYTES)
            except zlib.error as exc:
                raise ValueError(f"corrupt compressed body ({exc})") from None
            yield self._count(out)
            data = self._inflate.unconsumed_tail

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            raise TooLarge(f"body larger than {self.limit} bytes (decompressed)")
        return piece
