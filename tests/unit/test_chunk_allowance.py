"""The chunk limits' arithmetic and their refusal."""

import pytest

from ragbus.stores.chunk_quotas import CHUNK_FLOOR, MIB, ChunkLimits, TooManyChunksError

pytestmark = pytest.mark.unit


def test_allowed_grows_with_bytes_and_pages_up_to_the_document_cap() -> None:
    limits = ChunkLimits(max_chunks_per_document=1000, max_chunks_per_mib=4096)
    assert limits.allowed(0) == CHUNK_FLOOR
    assert limits.allowed(1024) == CHUNK_FLOOR + 4  # 4 per KiB
    assert limits.allowed(1025) == CHUNK_FLOOR + 5  # rounded up
    assert limits.allowed(10 * 1024, pages=30) == CHUNK_FLOOR + 40 + 30
    assert limits.allowed(MIB) == 1000  # the per-document cap


def test_check_refuses_only_above_the_allowance() -> None:
    limits = ChunkLimits(max_chunks_per_document=1000, max_chunks_per_mib=4096)
    limits.check("a.md", CHUNK_FLOOR + 4, 1024, None)
    with pytest.raises(TooManyChunksError) as refused:
        limits.check("bomb.docx", CHUNK_FLOOR + 5, 1024, None)
    assert refused.value.code == "too_many_chunks"
    assert str(refused.value) == (
        "bomb.docx: 1024 bytes become at least 21 chunks; the tenant's limit for it is 20"
        " (max_chunks_per_mib 4096, max_chunks_per_document 1000)"
    )
