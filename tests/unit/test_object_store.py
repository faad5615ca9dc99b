"""Images in an S3-compatible object store (IMAGE_STORE=s3://…), against moto's real S3 server
on loopback through the real aiobotocore client: content-hash keys, checked uploads, sizes and
hashes verified on read, retention deleting objects, a clear error for a bucket that isn't there.
"""

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import get_session

from bot.config import load_settings
from bot.errors import ConfigError, ImageMissing, StorageError
from bot.storage import Store

pytestmark = pytest.mark.timeout(60)

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100


@pytest.fixture
async def store(image_store, tmp_path):
    where, endpoint = image_store
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    async with await Store.open(
        url, tmp_path / "data", image_store=where, s3_endpoint=endpoint
    ) as store:
        yield store


@pytest.fixture
async def s3(image_store):
    """A plain client on the same bucket, to look at and damage objects behind Easel's back."""
    where, endpoint = image_store
    async with get_session().create_client("s3", endpoint_url=endpoint) as client:
        yield client, where.removeprefix("s3://").split("/")[0]


async def objects(s3) -> dict[str, int]:
    client, bucket = s3
    listed = await client.list_objects_v2(Bucket=bucket)
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


async def test_an_image_is_kept_under_its_content_hash(store, s3):
    stored = await store.put_image(PNG, "image/png", 4, 4)
    digest = hashlib.sha256(PNG).hexdigest()
    assert stored.sha256 == digest
    assert await objects(s3) == {f"images/{digest[:2]}/{digest[2:]}": len(PNG)}
    assert await store.get_image(digest) == PNG
    assert (await store.put_image(PNG, "image/png")).sha256 == digest  # once
    assert len(await objects(s3)) == 1
    assert not (store.data_dir / "images").exists()  # nothing on the local disk
    assert await store.ping()


async def test_a_big_image_round_trips(store):
    data = os.urandom(6 * 1024 * 1024)
    stored = await store.put_image(data, "image/png")
    assert await store.get_image(stored.sha256) == data


async def test_damaged_truncated_or_deleted_objects_are_reported_clearly(store, s3):
    client, bucket = s3
    digest = (await store.put_image(PNG, "image/png")).sha256
    key = f"images/{digest[:2]}/{digest[2:]}"
    await client.put_object(Bucket=bucket, Key=key, Body=PNG[:-1] + b"!")
    with pytest.raises(ImageMissing, match="damaged in the object store") as caught:
        await store.get_image(digest)
    assert "can't be redone" in caught.value.user_message
    await client.put_object(Bucket=bucket, Key=key, Body=PNG[:20])
    with pytest.raises(ImageMissing, match="20 bytes in the object store"):
        await store.get_image(digest)
    await store.put_image(PNG, "image/png")  # storing it again repairs it
    assert await store.get_image(digest) == PNG
    await client.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ImageMissing, match="gone"):
        await store.get_image(digest)


async def test_an_upload_carries_its_sha256_for_the_service_to_check(store, s3):
    # AWS S3, MinIO and R2 refuse a PUT whose body doesn't match x-amz-checksum-sha256; moto
    # keeps the checksum without checking it, so here we show it is sent and kept.
    client, bucket = s3
    digest = (await store.put_image(PNG, "image/png")).sha256
    head = await client.head_object(
        Bucket=bucket, Key=f"images/{digest[:2]}/{digest[2:]}", ChecksumMode="ENABLED"
    )
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == digest


async def test_retention_deletes_the_object_with_the_row(store, s3):
    digest = (await store.put_image(PNG, "image/png")).sha256
    later = datetime.now(UTC) + timedelta(days=1)
    assert await store.delete_unused_images(later) == (1, digest)
    assert await objects(s3) == {}
    with pytest.raises(ImageMissing, match="not in the store"):
        await store.get_image(digest)


async def test_a_bucket_that_is_not_there_stops_start_up_naming_it(image_store, tmp_path):
    _, endpoint = image_store
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/x: .*404") as caught:
        await Store.open(
            url, tmp_path / "d", image_store="s3://no-such-bucket/x", s3_endpoint=endpoint
        )
    assert "easel-test-secret" not in str(caught.value)


@pytest.mark.parametrize("value", ["/var/images", "s3://", "s3://UPPER/x", "gs://bucket"])
def test_image_store_must_be_s3_or_unset(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMAGE_STORE", value)
    with pytest.raises(ConfigError, match="IMAGE_STORE is invalid"):
        load_settings()
