"""Each stored image's base64, computed once and kept beside it, for chat bodies to stream.

The cache of image ``ab/cdef…`` is the object ``ab/cdef….b64`` in the same blob store: the
base64 text, then a newline and the SHA-256 (hex) of that text. It is written the first time
the image is sent to a chat model, checked by size whenever it is used and by hash as it is
read, and rebuilt from the image (whose own hash ``get_image`` checks) when it is missing or
damaged. Retention removes it with its image (``Blobs.remove``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator

from bot.errors import ImageMissing, StorageError
from bot.storage.files import ImageFiles, _key
from bot.streamed import CacheDamaged, StreamedImage, encoded_length

log = logging.getLogger("bot.storage")

SUFFIX = ".b64"
CHUNK = 1024 * 1024
_TRAILER = 1 + 64  # "\n" and the hex SHA-256 of the base64 text


def cache_key(sha256: str) -> str:
    return _key(sha256) + SUFFIX


def cache_size(size: int) -> int:
    """The cache's size for an image of ``size`` bytes."""
    return encoded_length(size) + _TRAILER


class EncodedImages(ImageFiles):
    """Stored images as ``StreamedImage``s, their base64 read from a cache beside them."""

    async def streamed_image(self, sha256: str) -> StreamedImage:
        """The image ``sha256`` to be sent as a streamed data URL; its cache is made now if it
        is missing or the wrong size. ``ImageMissing`` if the image itself is gone."""
        info = await self.image_info(sha256)
        if info is None:
            raise ImageMissing(detail=f"image {sha256[:12]} is not in the store")
        size = info.size
        await self._ensure_encoded(sha256, size)
        return StreamedImage(sha256, info.mime, size, lambda: self._encoded(sha256, size))

    async def _ensure_encoded(self, sha256: str, size: int) -> None:
        key = cache_key(sha256)
        try:
            if await self.blobs.has(key, cache_size(size)):
                return
        except OSError as exc:
            raise StorageError(detail=f"looking for the base64 of {sha256[:12]}: {exc}") from exc
        data = await self.get_image(sha256)
        cache, digest = await asyncio.to_thread(_encode, data)
        del data
        try:
            await self.blobs.write(key, cache, digest)
        except OSError as exc:
            raise StorageError(detail=f"writing the base64 of {sha256[:12]}: {exc}") from exc
        log.debug("base64 of image %s cached (%d bytes)", sha256[:12], len(cache))

    async def _encoded(self, sha256: str, size: int) -> AsyncIterator[bytes]:
        """Exactly the base64 of the image, in chunks; the cache is made again if it went
        missing, and one whose text doesn't match its hash is removed and ``CacheDamaged``
        raised before the last chunk, so a body it was part of is never complete."""
        await self._ensure_encoded(sha256, size)
        key, left = cache_key(sha256), encoded_length(size)
        hasher, tail, held = hashlib.sha256(), b"", b""
        hashing: asyncio.Future[None] | None = None  # the last chunk's, while the next is read
        try:
            async for chunk in self.blobs.stream(key, CHUNK):
                text, tail = chunk[:left], tail + chunk[left:]
                left -= len(text)
                if not text:
                    continue  # the trailer
                if hashing is not None:
                    await hashing  # in order: one chunk hashed at a time
                # hashlib lets go of the GIL: a thread hashes while the chunk is sent
                hashing = asyncio.ensure_future(asyncio.to_thread(hasher.update, text))
                if held:
                    yield held
                held = text  # the last text is kept back until the hash is checked
            if hashing is not None:
                await hashing
        except FileNotFoundError as exc:
            raise CacheDamaged(f"the base64 of image {sha256[:12]} went missing") from exc
        except OSError as exc:
            raise StorageError(detail=f"reading the base64 of {sha256[:12]}: {exc}") from exc
        finally:
            if hashing is not None and not hashing.done():
                hashing.cancel()  # the body was abandoned: its thread finishes on its own
        if left != 0 or tail != b"\n" + hasher.hexdigest().encode("ascii"):
            await self.blobs.remove(key)
            raise CacheDamaged(f"the base64 of image {sha256[:12]} was damaged; removed")
        yield held


def _encode(data: bytes) -> tuple[bytes, str]:
    """The cache's bytes and their SHA-256 (an object store checks it on the way in)."""
    text = base64.b64encode(data)
    cache = text + b"\n" + hashlib.sha256(text).hexdigest().encode("ascii")
    return cache, hashlib.sha256(cache).hexdigest()
