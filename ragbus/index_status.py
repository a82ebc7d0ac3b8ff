"""``index.status``: what the services that build a tenant's index versions publish.

ingest_svc (the replay of each document) and embed_svc (the replayed batches, the
switch, the drop) both announce a version's state and both fail a build; both do it
here, so the event and the failure read the same whichever service meets them.
"""

from ragbus.bus import Publisher
from ragbus.stores.vector_indexes import VectorIndex, VectorIndexes
from schemas import IndexState, IndexStatusChanged, Progress
from schemas import subjects as s


async def announce_index(
    publisher: Publisher,
    index: VectorIndex,
    status: IndexState,
    progress: Progress | None = None,
    *,
    error: str | None = None,
    msg_id: str | None = None,
) -> None:
    """Publish ``index.status`` for ``index``, a version with an id.

    Args:
        publisher: Where to publish.
        index: The version (its ``id`` is not ``None``).
        status: Its new state.
        progress: Documents planned and done; empty when not given.
        error: Why a build failed.
        msg_id: ``Nats-Msg-Id``, so the same announcement by two replicas is stored once.
    """
    assert index.id is not None
    event = IndexStatusChanged(
        tenant_id=index.tenant_id,
        index_id=index.id,
        status=status,
        progress=progress or Progress(),
        error=error,
    )
    await publisher.publish(event, s.INDEX_STATUS, msg_id=msg_id)


async def fail_build(
    indexes: VectorIndexes, publisher: Publisher, tenant_id: str, index_id: int, error: str
) -> VectorIndex | None:
    """Fail the tenant's build ``index_id`` with ``error`` and announce it.

    The active version stays as it is. A build that already ended is left alone and
    nothing is published.

    Returns:
        The failed version, or ``None`` when the build had already ended.
    """
    failed = await indexes.fail(tenant_id, index_id, error)
    if failed is not None:
        await announce_index(publisher, failed, IndexState.FAILED, error=failed.error)
    return failed
