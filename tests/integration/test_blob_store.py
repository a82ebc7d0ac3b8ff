"""Blob store contract against a local directory and a real S3 server (SeaweedFS)."""

import asyncio
import os
import re
import uuid

import pytest

from ragbus.errors import NotFoundError, RetryableError
from ragbus.settings import InfraSettings
from ragbus.stores.blobs import LocalBlobStore, S3BlobStore, blob_key
from ragbus.stores.factory import open_blob_store

pytestmark = pytest.mark.integration


def _bucket(unique_name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"rb-{unique_name}".lower())[:63].strip("-")


@pytest.fixture(params=["local", "s3"])
async def store(request, tmp_path, unique_name):
    if request.param == "local":
        blobs = await open_blob_store(InfraSettings(data_dir=tmp_path, s3_endpoint=None))
        assert isinstance(blobs, LocalBlobStore)
    else:
        s3 = request.getfixturevalue("s3_server")
        settings = InfraSettings(
            data_dir=tmp_path,
            s3_endpoint=s3.endpoint,
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
            s3_bucket=_bucket(unique_name),
        )
        blobs = await open_blob_store(settings)
        assert isinstance(blobs, S3BlobStore)
    yield blobs
    await blobs.close()


async def test_round_trip_overwrite_and_delete(store):
    key = blob_key("tenant-a", uuid.uuid4(), "../../report.pdf")
    data = os.urandom(300_000) + b"\x00end"
    assert not await store.exists(key)
    await store.put(key, data, content_type="application/pdf")
    assert await store.exists(key)
    assert await store.get(key) == data
    await store.put(key, b"v2")
    assert await store.get(key) == b"v2"
    await store.delete(key)
    await store.delete(key)  # idempotent
    assert not await store.exists(key)
    with pytest.raises(NotFoundError):
        await store.get(key)


async def test_empty_object(store):
    key = blob_key("tenant-a", uuid.uuid4(), "empty.txt")
    await store.put(key, b"")
    assert await store.get(key) == b""


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a\\..\\b", "a\x00b", ""])
async def test_traversal_keys_are_rejected(store, key):
    for call in (store.get(key), store.put(key, b"x"), store.delete(key), store.exists(key)):
        with pytest.raises(ValueError):
            await call


async def test_local_store_never_follows_a_symlink_out_of_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    blobs = LocalBlobStore(tmp_path / "root")
    await blobs.open()
    (tmp_path / "root" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        await blobs.get("link/secret")
    with pytest.raises(ValueError):
        await blobs.put("link/new", b"x")
    assert not (outside / "new").exists()


async def test_local_writes_leave_no_temp_files(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    await blobs.open()
    for i in range(3):
        await blobs.put("t/d/f.bin", bytes([i]) * 10)
    assert [p.name for p in (tmp_path / "t" / "d").iterdir()] == ["f.bin"]


async def test_unreachable_s3_is_retryable():
    blobs = S3BlobStore("127.0.0.1:1", "ak", "sk", "bucket", timeout_s=0.5)
    with pytest.raises(RetryableError):
        await blobs.open()
    with pytest.raises(RetryableError):
        await blobs.get("t/d/f")
    await blobs.close()


async def test_older_than_lists_by_age_on_both_stores(store) -> None:
    key = f"t/{uuid.uuid4()}/a.txt"
    await store.put(key, b"x")
    assert key not in await store.older_than(3600, 100)
    await asyncio.sleep(1.1)  # S3 keeps last-modified to the second
    assert key in await store.older_than(0.5, 100)
