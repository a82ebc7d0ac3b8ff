"""The keeper of index versions: finishes builds and drops versions nobody uses.

Every ``interval_s`` each embed_svc process:

- for every build in progress (any tenant): fails it when some document can no
  longer be replayed; asks ingest_svc to replay what it still lacks
  (``index.rebuild``: documents indexed since the build started, replays that
  stalled; ingest_svc replays only those); switches it in once complete, which the
  last replayed batch already tried, but which waits while a document of the tenant
  is being ingested;
- drops the vectors of aborted and failed builds at once, and of retired versions
  ``grace_s`` after the switch, so a query that read the old version just before
  the switch still finds it.

Every step is idempotent and guarded in Postgres, so replicas need no lock between
them: two of them dropping one version both succeed, and a switch happens once.
"""

import asyncio
import contextlib
import logging
import time

from embed_svc.index_builds import IndexBuilds
from ragbus.bus import Publisher
from ragbus.index_status import announce_index, fail_build
from ragbus.stores.index_rebuilds import REPLAY_STALE_S
from ragbus.stores.vector_indexes import VectorIndex
from schemas import IndexState, RebuildIndex
from schemas import subjects as s

log = logging.getLogger(__name__)

_BACKGROUND: set[asyncio.Task[None]] = set()


class IndexKeeper:
    """Advances builds and drops unused versions (see the module docstring).

    Args:
        builds: The builds' writes and switch.
        publisher: Publishes ``index.rebuild`` (ingest_svc replays) and ``index.status``.
        interval_s: Seconds between rounds.
        grace_s: Seconds a retired version is kept after the switch.
    """

    def __init__(
        self, builds: IndexBuilds, publisher: Publisher, *, interval_s: float, grace_s: float
    ) -> None:
        self._builds = builds
        self._publisher = publisher
        self._interval_s = interval_s
        self._grace_s = grace_s
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """One round: every build in progress, then every version to drop."""
        rebuilds = self._builds.rebuilds
        for index in await rebuilds.building():
            await self._advance(index)
        for index in await rebuilds.to_drop(self._grace_s):
            await self._builds.targets.drop(index)
            if await rebuilds.mark_dropped(index):
                log.info("index version dropped", extra={"index_id": index.id})
                await announce_index(
                    self._publisher, index, IndexState.DROPPED, msg_id=f"ix{index.id}:drop"
                )

    async def _advance(self, index: VectorIndex) -> None:
        rebuilds, tenant = self._builds.rebuilds, index.tenant_id
        assert index.id is not None
        if blocked := await rebuilds.unreplayable(tenant):
            error = f"{blocked} documents can no longer be replayed (a later version failed)"
            await fail_build(self._builds.indexes, self._publisher, tenant, index.id, error)
        elif await rebuilds.to_replay(index, stale_after_s=REPLAY_STALE_S, limit=1):
            command = RebuildIndex(tenant_id=tenant, index_id=index.id)
            # One request per round and version, deduplicated if a replica sent it too.
            round_ = int(time.time() // self._interval_s)
            await self._publisher.publish(command, s.INDEX_REBUILD, msg_id=f"ix{index.id}:{round_}")
        elif (await rebuilds.check(index)).ready:
            await self._builds.switch(index)

    async def run(self) -> None:
        """Run rounds until stopped; a failed round is logged and the next one runs."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.tick()
            except Exception:
                log.warning("index keeper round failed", exc_info=True)

    async def start(self, broker: object = None) -> None:
        """Start the rounds in the background (no-op when running); ``broker``: the
        started broker (``ServiceParts.on_start``), unused."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="embed-index-keeper")
            _BACKGROUND.add(self._task)  # the loop keeps only weak references to tasks
            self._task.add_done_callback(_BACKGROUND.discard)

    async def stop(self) -> None:
        """Stop the rounds (a round in progress is cancelled; every step is idempotent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
