"""Image bytes on disk, named by their SHA-256, and the ``images`` rows that point at them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import aiofiles
import aiofiles.os
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import InputImage, StoredImage
from bot.errors import ImageMissing, StorageError
from bot.media import PNG, extension
from bot.schema import images, metadata
from bot.storage.base import StoreBase, _insert, _now, log
from bot.storage.rows import _image

HASH_IN_THREAD_BYTES = 256 * 1024  # below this, hashing is quicker than a thread hop
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Every column that holds an image's hash, read from the foreign keys so that a table added
# later keeps its images from the sweeper without anyone remembering to list it here.
IMAGE_REFERENCES = tuple(
    fk.parent
    for table in metadata.sorted_tables
    for fk in table.foreign_keys
    if fk.column is images.c.sha256
)


class ImageFiles(StoreBase):
    """Stored images: the file, complete, before the row that points at it."""

    def image_path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ImageMissing(detail=f"not an image id: {sha256[:70]!r}")
        return self.image_dir / sha256[:2] / sha256[2:]

    async def put_image(
        self, data: bytes, mime: str, width: int | None = None, height: int | None = None
    ) -> StoredImage:
        """Keep ``data`` once (by SHA-256); the file is complete before the row points at it."""
        sha256 = await _sha256(data)
        path = self.image_path(sha256)
        await _ensure_file(path, sha256, data)
        async with self._tx() as conn:
            stmt = _insert(conn, images).values(
                sha256=sha256,
                mime=mime,
                size=len(data),
                width=width,
                height=height,
                created_at=_now(),
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[images.c.sha256],
                    set_={
                        "width": sa.func.coalesce(images.c.width, stmt.excluded.width),
                        "height": sa.func.coalesce(images.c.height, stmt.excluded.height),
                        "created_at": stmt.excluded.created_at,  # young again: see the schema
                    },
                )
            )
            stored = (await conn.execute(images.select().where(images.c.sha256 == sha256))).one()
        # A sweep deletes a row and its file in one transaction, so the row above waited for
        # it; the file seen before that may be the one it deleted.
        await _ensure_file(path, sha256, data)
        return _image(stored._mapping)

    async def image_info(self, sha256: str) -> StoredImage | None:
        self.image_path(sha256)  # refuses anything but a hash
        async with self._tx() as conn:
            row = (await conn.execute(images.select().where(images.c.sha256 == sha256))).first()
        return None if row is None else _image(row._mapping)

    async def get_image(self, sha256: str) -> bytes:
        """The bytes of a stored image; ``ImageMissing`` if unknown, gone or incomplete."""
        info = await self.image_info(sha256)
        if info is None:
            raise ImageMissing(detail=f"image {sha256[:12]} is not in the store")
        try:
            async with aiofiles.open(self.image_path(sha256), "rb") as f:
                data = await f.read()
        except FileNotFoundError as exc:
            raise ImageMissing(detail=f"the file of image {sha256[:12]} is gone") from exc
        except OSError as exc:
            raise StorageError(detail=f"reading image {sha256[:12]}: {exc}") from exc
        if len(data) != info.size:
            raise ImageMissing(
                detail=f"image {sha256[:12]} has {len(data)} bytes on disk, {info.size} expected"
            )
        if (found := await _sha256(data)) != sha256:
            raise ImageMissing(
                detail=f"image {sha256[:12]} is damaged on disk: its bytes hash to {found[:12]}"
            )
        return data

    async def delete_unused_images(
        self, before: datetime, after: str | None = None, *, limit: int = 500
    ) -> tuple[int, str | None]:
        """Delete unused images of ``limit`` after hash ``after``: (count, last hash or None)."""
        # Unused: last stored before ``before`` and no row refers to it; rows and files go.
        walk = sa.select(images.c.sha256).order_by(images.c.sha256).limit(limit)
        async with self._tx() as conn:  # looked at without a lock, deleted under one
            hashes = list(await conn.scalars(walk.where(images.c.sha256 > (after or ""))))
        if not hashes:
            return 0, None
        stmt = images.delete().where(images.c.sha256.in_(hashes), _unused(before))
        async with self._tx() as conn:
            gone = list((await conn.execute(stmt.returning(images.c.sha256))).scalars())
            # Before the commit: a put_image of the same bytes waits for it, then finds the
            # file gone and writes it again (a file removed after would leave its row bare).
            for sha256 in gone:
                await _remove(self.image_path(sha256))
        return len(gone), hashes[-1]

    async def input_image(self, sha256: str) -> InputImage:
        """A stored image as a router input, named by its type."""
        data = await self.get_image(sha256)
        info = await self.image_info(sha256)
        mime = info.mime if info else PNG
        return InputImage(data=data, mime=mime, name=f"image.{extension(mime)}")


def _unused(before: datetime) -> sa.ColumnElement[bool]:
    # put_image refreshes created_at (and PostgreSQL rechecks it on a row changed under the
    # delete), so an image stored again, about to be referenced, is not deleted.
    return sa.and_(
        images.c.created_at < before,
        *(~sa.exists().where(column == images.c.sha256) for column in IMAGE_REFERENCES),
    )


async def _remove(path: Path) -> None:
    try:
        await aiofiles.os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # the row goes anyway: a file left behind only costs space
        log.warning("could not remove image file %s: %s", path.name[:10], exc)


async def _sha256(data: bytes) -> str:
    if len(data) > HASH_IN_THREAD_BYTES:
        return (await asyncio.to_thread(hashlib.sha256, data)).hexdigest()
    return hashlib.sha256(data).hexdigest()


async def _ensure_file(path: Path, sha256: str, data: bytes) -> None:
    if await _file_has_size(path, len(data)):
        return
    try:
        await _write_atomically(path, data)
    except OSError as exc:
        raise StorageError(detail=f"writing image {sha256[:12]}: {exc}") from exc


async def _file_has_size(path: Path, size: int) -> bool:
    try:
        return (await aiofiles.os.stat(path)).st_size == size
    except FileNotFoundError:
        return False


async def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: ``path`` is whole or absent."""
    await aiofiles.os.makedirs(path.parent, exist_ok=True)
    temp = path.with_name(f".{path.name[:16]}.{secrets.token_hex(8)}.tmp")
    try:
        async with aiofiles.open(temp, "wb") as f:
            await f.write(data)
            await f.flush()
            await asyncio.to_thread(os.fsync, f.fileno())
        await aiofiles.os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.remove(temp)  # synchronous on purpose: runs even while being cancelled
        raise
    await asyncio.to_thread(_fsync_dir, path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _check_images(conn: AsyncConnection, hashes: Iterable[str]) -> None:
    """A clear error, rather than a foreign-key failure, for images that were never stored."""
    wanted = set(hashes)
    if not wanted:
        return
    stmt = sa.select(images.c.sha256).where(images.c.sha256.in_(wanted))
    missing = wanted - set((await conn.scalars(stmt)).all())
    if missing:
        raise ImageMissing(detail=f"not stored: {', '.join(sorted(h[:12] for h in missing))}")
