"""Image bytes named by their SHA-256, and the ``images`` rows that point at them.

The bytes live in ``self.blobs``: the local directory by default, or an object store
(``bot/storage/blobs.py``, ``bot/storage/s3.py``); sizes and hashes are checked here on every read.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import GeneratedImage, InputImage, Job, StoredImage
from bot.errors import ImageMissing, StorageError
from bot.media import PNG, extension
from bot.schema import images, metadata
from bot.storage.base import StoreBase, _insert, _now
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
        """Where a local image store keeps the file (tests and the local backend only)."""
        return self.image_dir / _key(sha256)

    async def put_image(
        self, data: bytes, mime: str, width: int | None = None, height: int | None = None
    ) -> StoredImage:
        """Keep ``data`` once (by SHA-256); the file is complete before the row points at it."""
        row = await self._keep_file(GeneratedImage(data, mime, width, height))
        async with self._tx() as conn:
            stored = (await self._image_rows(conn, [row]))[0]
        await self._ensure(_key(row["sha256"]), row["sha256"], data)  # see _image_rows
        return stored

    async def _keep_file(self, image: GeneratedImage) -> dict[str, Any]:
        """Write an image's file (if not there yet); the ``images`` row to insert for it."""
        sha256 = await _sha256(image.data)
        await self._ensure(_key(sha256), sha256, image.data)
        return {
            "sha256": sha256,
            "mime": image.mime,
            "size": len(image.data),
            "width": image.width,
            "height": image.height,
        }

    async def _image_rows(
        self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> list[StoredImage]:
        """Insert (or make young again) the rows of files already written.

        A sweep deletes a row and its file in one transaction, so these rows waited for it;
        the file seen before that may be the one it deleted: the caller ensures the files again
        once this transaction has committed."""
        stored = []
        for row in rows:
            stmt = _insert(conn, images).values(**row, created_at=_now())
            found = await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[images.c.sha256],
                    set_={
                        "width": sa.func.coalesce(images.c.width, stmt.excluded.width),
                        "height": sa.func.coalesce(images.c.height, stmt.excluded.height),
                        "created_at": stmt.excluded.created_at,  # young again: see the schema
                    },
                ).returning(*images.c)
            )
            stored.append(_image(found.one()._mapping))
        return stored

    async def image_info(self, sha256: str) -> StoredImage | None:
        _key(sha256)  # refuses anything but a hash
        async with self._tx() as conn:
            row = (await conn.execute(images.select().where(images.c.sha256 == sha256))).first()
        return None if row is None else _image(row._mapping)

    async def get_image(self, sha256: str) -> bytes:
        """The bytes of a stored image; ``ImageMissing`` if unknown, gone or incomplete."""
        info = await self.image_info(sha256)
        if info is None:
            raise ImageMissing(detail=f"image {sha256[:12]} is not in the store")
        try:
            data = await self.blobs.read(_key(sha256))
        except FileNotFoundError as exc:
            raise ImageMissing(detail=f"the file of image {sha256[:12]} is gone") from exc
        except OSError as exc:
            raise StorageError(detail=f"reading image {sha256[:12]}: {exc}") from exc
        place = self.blobs.place
        if len(data) != info.size:
            raise ImageMissing(
                detail=f"image {sha256[:12]} has {len(data)} bytes {place}, {info.size} expected"
            )
        if (found := await _sha256(data)) != sha256:
            raise ImageMissing(
                detail=f"image {sha256[:12]} is damaged {place}: its bytes hash to {found[:12]}"
            )
        return data

    async def result_images(self, job: Job, held: Sequence[GeneratedImage] = ()) -> list[bytes]:
        """The bytes of a finished job's images: ``held``, the ones its run stored, while they
        are still in memory (no second copy read back); else read from the store."""
        if held and len(held) == len(job.result_images):
            return [image.data for image in held]
        return [await self.get_image(sha256) for sha256 in job.result_images]

    async def _ensure(self, key: str, sha256: str, data: bytes) -> None:
        """Write the bytes unless an object of their size is already there."""
        try:
            if not await self.blobs.has(key, len(data)):
                await self.blobs.write(key, data, sha256)
        except OSError as exc:
            raise StorageError(detail=f"writing image {sha256[:12]}: {exc}") from exc

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
                await self.blobs.remove(_key(sha256))
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


def _key(sha256: str) -> str:
    """The object's name: ``ab/cdef…``; anything but a hash is refused, so no path escapes."""
    if not _SHA256.fullmatch(sha256):
        raise ImageMissing(detail=f"not an image id: {sha256[:70]!r}")
    return f"{sha256[:2]}/{sha256[2:]}"


async def _sha256(data: bytes) -> str:
    if len(data) > HASH_IN_THREAD_BYTES:
        return (await asyncio.to_thread(hashlib.sha256, data)).hexdigest()
    return hashlib.sha256(data).hexdigest()


async def _check_images(conn: AsyncConnection, hashes: Iterable[str]) -> None:
    """A clear error, rather than a foreign-key failure, for images that were never stored."""
    wanted = set(hashes)
    if not wanted:
        return
    stmt = sa.select(images.c.sha256).where(images.c.sha256.in_(wanted))
    missing = wanted - set((await conn.scalars(stmt)).all())
    if missing:
        raise ImageMissing(detail=f"not stored: {', '.join(sorted(h[:12] for h in missing))}")
