"""Blobs without a document row are deleted once old; every other blob stays."""

import os
import time
import uuid

import asyncpg
import pytest

from ingest_svc.orphan_blobs import OrphanBlobs
from ragbus.stores.blobs import LocalBlobStore, blob_key
from ragbus.stores.documents import DocumentRepository

pytestmark = pytest.mark.integration


async def test_old_orphans_go_and_held_or_young_blobs_stay(
    pool: asyncpg.Pool, tmp_path, unique_name: str
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    await blobs.open()
    held_id, orphan_id, young_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    held = blob_key(unique_name, held_id, "held.txt")
    orphan = blob_key(unique_name, orphan_id, "orphan.txt")
    young = blob_key(unique_name, young_id, "young.txt")
    for key in (held, orphan, young):
        await blobs.put(key, b"bytes")
    await DocumentRepository(pool).create(unique_name, held_id, filename="held.txt", blob_key=held)
    two_hours_ago = time.time() - 7200
    for key in (held, orphan):
        os.utime(tmp_path / "blobs" / key, (two_hours_ago, two_hours_ago))

    sweeper = OrphanBlobs(pool, blobs, every_s=3600)
    assert await sweeper.sweep_due() == 1
    assert not await blobs.exists(orphan)
    assert await blobs.exists(held) and await blobs.exists(young)
    await blobs.put(orphan, b"again")  # not due again within every_s
    os.utime(tmp_path / "blobs" / orphan, (two_hours_ago, two_hours_ago))
    assert await sweeper.sweep_due() == 0 and await blobs.exists(orphan)
