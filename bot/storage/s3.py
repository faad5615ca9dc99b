"""Images in an S3-compatible object store (AWS S3, MinIO, Cloudflare R2, Backblaze B2).

Through aiobotocore, botocore's asyncio client. Credentials and region come the usual AWS
ways (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, a profile, an
instance role); ``S3_ENDPOINT_URL`` (or botocore's own ``AWS_ENDPOINT_URL``) points it at a
service other than AWS. A PUT is atomic (readers see the whole object or none) and carries
the bytes' SHA-256, which the service checks before it keeps anything.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from bot.errors import ConfigError, StorageError
from bot.storage.derived import with_derived

MISSING = {"404", "NoSuchKey", "NotFound"}
log = logging.getLogger("bot.storage")


class S3Blobs:
    """Objects ``<prefix>/ab/cdef…`` in one bucket."""

    def __init__(self, client: Any, stack: contextlib.AsyncExitStack, bucket: str, prefix: str):
        self._client = client
        self._stack = stack
        self.bucket = bucket
        self.prefix = prefix
        self.where = f"s3://{bucket}/{prefix}".rstrip("/")
        self.place = "in the object store"

    @classmethod
    async def open(cls, image_store: str, endpoint: str | None) -> Self:
        """Connect to ``s3://bucket/prefix`` and check that the bucket answers."""
        parts = urllib.parse.urlsplit(image_store)
        if not parts.netloc or parts.query or parts.fragment:
            raise ConfigError("IMAGE_STORE must look like s3://bucket or s3://bucket/prefix.")
        stack = contextlib.AsyncExitStack()
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        # MinIO and most S3-compatible services want bucket names in the path, not the host.
        config = AioConfig(
            s3={"addressing_style": "path"} if endpoint else {},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=config
            )
        )
        blobs = cls(client, stack, parts.netloc, parts.path.strip("/"))
        try:
            await client.head_bucket(Bucket=blobs.bucket)
        except (BotoCoreError, ClientError) as exc:
            await stack.aclose()
            raise StorageError(
                f"Could not open the image store {blobs.where}: {_describe(exc)}"
            ) from exc
        return blobs

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def has(self, key: str, size: int) -> bool:
        try:
            head = await self._client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise OSError(_describe(exc)) from exc
        except BotoCoreError as exc:
            raise OSError(_describe(exc)) from exc
        return bool(head["ContentLength"] == size)

    async def write(self, key: str, data: bytes, sha256: str) -> None:
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        try:
            await self._client.put_object(
                Bucket=self.bucket,
                Key=self._name(key),
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                ContentLength=len(data),
            )
        except (BotoCoreError, ClientError) as exc:
            raise OSError(_describe(exc)) from exc

    async def read(self, key: str) -> bytes:
        (data,) = [whole async for whole in self.stream(key, 0)]  # one piece, the stream closed
        return data

    async def stream(self, key: str, chunk: int) -> AsyncIterator[bytes]:
        """The object's bytes, ``chunk`` at a time as they arrive (0: in one piece)."""
        try:
            answer = await self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            async with answer["Body"] as body:
                if not chunk:
                    yield await body.read()
                    return
                while data := await body.read(chunk):
                    yield data
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise FileNotFoundError(key) from exc
            raise OSError(_describe(exc)) from exc
        except BotoCoreError as exc:
            raise OSError(_describe(exc)) from exc

    async def remove(self, key: str) -> None:
        for name in with_derived(key):  # deleting a missing object is not an error in S3
            try:
                await self._client.delete_object(Bucket=self.bucket, Key=self._name(name))
            except (BotoCoreError, ClientError) as exc:  # the row goes anyway, as on disk
                log.warning("could not remove image object %s: %s", name[:10], _describe(exc))

    async def ready(self) -> bool:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError):
            return False
        return True

    async def close(self) -> None:
        await self._stack.aclose()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    """The error's kind and code, never the request (it may carry a signed URL)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{_code(exc) or 'error'} (HTTP {status})"
    return type(exc).__name__
