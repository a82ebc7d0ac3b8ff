"""Which index version a ``chunks.ready`` batch goes to, and which model embeds it.

A document's own batch goes to the tenant's active version, read with the pointer's
shared lock (``VectorIndexes.active``) when the batch is embedded and again when it
is written; a replayed batch (``index_id``) to its build's version. Embedding must
not need Postgres, as before index versions: a batch whose document could not be
checked is embedded anyway and its commit retries in place (a Postgres restart costs
no delivery). So when the version cannot be read at embedding time, a document's own
batch is embedded with the tenant's last known active version's model (the
deployment's if none), and its commit refuses vectors of another model than the
version it then reads (a retry embeds them again); a replayed batch is not embedded
and its commit retries. Nor does a replayed batch's failure (its version's model
cannot be loaded, say) fail the pull: only its own commit meets it, and fails the
build, not the documents embedded beside it.
"""

from collections import OrderedDict
from uuid import UUID

from embed_svc.index_builds import IndexBuilds
from ragbus.errors import RetryableError
from ragbus.index_targets import IndexTarget, IndexTargets
from ragbus.stores.vector_indexes import deployment_index
from schemas import ChunksReady

REMEMBERED = 4096
"""Batches whose model is remembered between embedding and writing (a pull holds 8 per
lane, so this spans hundreds of lanes)."""


class BatchTargets:
    """Resolves batches to index versions (see the module docstring).

    Args:
        targets: Each tenant's versions with their models and stores.
        builds: Replayed batches' versions; ``None``: they are not wanted.
    """

    def __init__(self, targets: IndexTargets, builds: IndexBuilds | None) -> None:
        self._targets = targets
        self._builds = builds
        self._last: dict[str, IndexTarget] = {}
        self._models: OrderedDict[UUID, int] = OrderedDict()

    async def for_embedding(self, batch: ChunksReady) -> IndexTarget | None:
        """The version whose model embeds ``batch``; None: do not embed it (a replay no
        longer wanted, or one whose version could not be read)."""
        try:
            target = await self.for_writing(batch)
        except Exception as exc:
            if batch.index_id is not None:
                return None  # its commit reads the version again and settles that error
            if not isinstance(exc, RetryableError):
                raise
            target = self._last.get(batch.tenant_id) or await self._targets.target(
                deployment_index(batch.tenant_id)
            )
        if target is not None:
            self._models[batch.event_id] = id(target.embedder)
            while len(self._models) > REMEMBERED:
                self._models.popitem(last=False)
        return target

    async def for_writing(self, batch: ChunksReady) -> IndexTarget | None:
        """The version ``batch`` is written to now (None: a replay no longer wanted).

        Raises:
            RetryableError: Postgres (or the version's store) is unreachable.
        """
        if batch.index_id is None:
            target = await self._targets.active(batch.tenant_id, wait_for_switch=True)
            self._last[batch.tenant_id] = target
            return target
        return None if self._builds is None else await self._builds.target(batch)

    def check(self, batch: ChunksReady, target: IndexTarget) -> None:
        """Refuse to write vectors that another model than ``target``'s made.

        Raises:
            RetryableError: The batch was embedded for another version's model (the
                version could not be read then, or the tenant switched); a redelivery
                embeds it again.
        """
        made = self._models.get(batch.event_id)
        if made is not None and made != id(target.embedder):
            raise RetryableError(
                f"batch {batch.batch_index} of {batch.document_id} was embedded by another model"
            )

    def written(self, batch: ChunksReady) -> None:
        """Forget the batch's model: its vectors are stored."""
        self._models.pop(batch.event_id, None)

    async def live(self, tenant_id: str) -> list[IndexTarget]:
        """Every version holding the tenant's current vectors."""
        return await self._targets.live(tenant_id)
