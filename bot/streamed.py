"""An image the store keeps base64-encoded on disk, sent as a data URL read in chunks.

A chat message may carry a ``StreamedImage`` where it would carry a ``data:`` URL string; the
router's body (``bot.router.bodies.StreamedBody``) writes exactly the text the data URL would
have been, reading the base64 from the store's cache chunk by chunk, so no whole data URL is
ever held in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


def encoded_length(size: int) -> int:
    """How many base64 characters ``size`` bytes encode to (padded)."""
    return 4 * ((size + 2) // 3)


class CacheDamaged(Exception):
    """A base64 cache was found damaged while being sent (it has been removed; a retry
    rebuilds it from the image)."""


@dataclass(frozen=True, eq=False)
class StreamedImage:
    """A stored image by hash: its type, its size in bytes, and how to read its base64."""

    sha256: str
    mime: str
    size: int
    # Each call starts a fresh read of exactly ``encoded_length(size)`` base64 bytes; it may
    # raise ``CacheDamaged`` (before its last chunk) if the cache turns out damaged.
    chunks: Callable[[], AsyncIterator[bytes]] = field(repr=False, compare=False)

    @property
    def prefix(self) -> str:
        return f"data:{self.mime};base64,"

    @property
    def url_length(self) -> int:
        """The data URL's length in bytes, as UTF-8 (all ASCII)."""
        return len(self.prefix) + encoded_length(self.size)
