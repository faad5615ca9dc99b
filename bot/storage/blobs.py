"""Where image bytes live, by content hash: a local directory (the default) or an object store.

``ImageFiles`` keeps the rows and checks sizes and hashes; a ``Blobs`` only moves bytes.
Each backend's write is atomic: a reader sees the whole object or none. ``read`` raises
``FileNotFoundError`` for a missing object and ``OSError`` for anything else that went wrong,
so the store maps both backends' failures the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import Protocol

import aiofiles
import aiofiles.os

from bot.errors import ConfigError
from bot.storage.derived import with_derived

log = logging.getLogger("bot.storage")


class Blobs(Protocol):
    """Bytes under a key (``ab/cdef…``, from the hash); every method may raise ``OSError``."""

    where: str  # for the log: a directory or s3://bucket/prefix
    place: str  # for errors: "on disk", "in the object store"

    async def has(self, key: str, size: int) -> bool: ...
    async def write(self, key: str, data: bytes, sha256: str) -> None: ...
    async def read(self, key: str) -> bytes: ...
    def stream(self, key: str, chunk: int) -> AsyncIterator[bytes]: ...
    async def remove(self, key: str) -> None: ...  # and what is derived from it (DERIVED)
    async def ready(self) -> bool: ...
    async def close(self) -> None: ...


async def open_blobs(image_store: str | None, data_dir: Path, endpoint: str | None) -> Blobs:
    """``IMAGE_STORE``: unset, the ``images`` directory in ``data_dir``; ``s3://bucket/prefix``."""
    if not image_store:
        local = LocalBlobs(data_dir / "images")
        await local.open()
        return local
    if not image_store.startswith("s3://"):
        raise ConfigError("IMAGE_STORE must be empty (a local directory) or s3://bucket/prefix.")
    from bot.storage.s3 import S3Blobs  # aiobotocore is needed only for an object store

    return await S3Blobs.open(image_store, endpoint)


class LocalBlobs:
    """Files under one directory: written to a temp file, fsynced and renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)
        self.place = "on disk"

    def path(self, key: str) -> Path:
        return self.directory / key

    async def open(self) -> None:
        await aiofiles.os.makedirs(self.directory, exist_ok=True)

    async def has(self, key: str, size: int) -> bool:
        try:
            return (await aiofiles.os.stat(self.path(key))).st_size == size
        except FileNotFoundError:
            return False

    async def write(self, key: str, data: bytes, sha256: str) -> None:
        await _write_atomically(self.path(key), data)

    async def read(self, key: str) -> bytes:
        async with aiofiles.open(self.path(key), "rb") as f:
            data: bytes = await f.read()
            return data

    async def stream(self, key: str, chunk: int) -> AsyncIterator[bytes]:
        """The file's bytes, ``chunk`` at a time, each read off the event loop."""
        async with aiofiles.open(self.path(key), "rb") as f:
            while data := await f.read(chunk):
                yield data

    async def remove(self, key: str) -> None:
        for name in with_derived(key):
            try:
                await aiofiles.os.remove(self.path(name))
            except FileNotFoundError:
                pass
            except OSError as exc:  # the row goes anyway: a file left behind only costs space
                log.warning("could not remove image file %s: %s", name[:10], exc)

    async def ready(self) -> bool:
        return bool(await aiofiles.os.path.isdir(self.directory))

    async def close(self) -> None:
        return None


async def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: ``path`` is whole or absent.
    One thread does all of it, not a thread hop for each step; if the caller is cancelled
    meanwhile, the thread still finishes (or removes) the file."""
    await asyncio.to_thread(_write_atomically_now, path, data)


def _write_atomically_now(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name[:16]}.{secrets.token_hex(8)}.tmp")
    try:
        with open(temp, "wb", buffering=0) as f:
            view = memoryview(data)
            while view:
                view = view[f.write(view) :]
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.remove(temp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
