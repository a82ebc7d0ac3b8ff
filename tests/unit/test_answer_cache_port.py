"""The answer cache port with a fake store: what gets stored, and when lookups miss."""

import asyncio
import uuid

from gateway.answer_cache import AnswerCache, AnswerCacheSettings, CachedAnswer
from gateway.answer_cache_store import CacheLookup
from ragbus.errors import RetryableError
from schemas import AnswerFailed, AnswerReady, QueryRequested


class FakeStore:
    """Entries in a dict; ``down`` makes every call raise like an unreachable Postgres."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[int, uuid.UUID, dict]] = {}
        self.version = 0
        self.down = False
        self.pruned = 0

    async def lookup(self, tenant_id: str, key: str, *, max_age_s: float) -> CacheLookup:
        if self.down:
            raise RetryableError("postgres down")
        found = self.entries.get((tenant_id, key))
        if found is None or found[0] != self.version:
            return CacheLookup(self.version)
        return CacheLookup(self.version, found[2], found[1])

    async def store(self, tenant_id, key, *, index_version, query_id, answer) -> bool:
        await asyncio.sleep(0.01)  # a round trip, so concurrent settles overlap
        self.entries[(tenant_id, key)] = (index_version, query_id, answer)
        return True

    async def prune(self, *, max_age_s: float, max_entries: int) -> int:
        self.pruned += 1
        return 0


def _cache(store: FakeStore, **settings) -> AnswerCache:
    return AnswerCache(store, AnswerCacheSettings(**settings))  # type: ignore[arg-type]


def _query(question: str = "How do I stop it?") -> QueryRequested:
    return QueryRequested(tenant_id="t", query_id=uuid.uuid4(), question=question)


def _ready(query: QueryRequested, *, found: bool = True) -> AnswerReady:
    return AnswerReady(
        tenant_id="t",
        query_id=query.query_id,
        question=query.question,
        answer="Call kill [1]." if found else "Not found in your documents.",
        citations=[],
        model="extractive",
        found=found,
    )


async def test_a_found_answer_is_stored_once_and_then_served() -> None:
    store = FakeStore()
    cache = _cache(store, prune_every=1)
    query = _query()
    assert await cache.check(query) is None
    ready = _ready(query)
    await asyncio.gather(cache.settle(ready), cache.settle(ready))  # subscriber and route
    assert len(store.entries) == 1 and store.pruned == 1
    hit = await cache.check(_query("how do I stop it"))
    assert isinstance(hit, CachedAnswer)
    assert hit.ready.answer == "Call kill [1]." and hit.source_query_id == query.query_id
    store.version += 1  # an ingest
    assert await cache.check(_query()) is None


async def test_failures_not_found_and_unexpected_answers_are_never_stored() -> None:
    store = FakeStore()
    cache = _cache(store)
    failed, not_found, elsewhere = _query("a"), _query("b"), _query("c")
    await cache.check(failed)
    await cache.check(not_found)
    await cache.settle(AnswerFailed(tenant_id="t", query_id=failed.query_id, code="x", error="y"))
    await cache.settle(_ready(not_found, found=False))
    await cache.settle(_ready(elsewhere))  # published by another replica
    assert store.entries == {}


async def test_postgres_down_or_disabled_means_answer_afresh() -> None:
    store = FakeStore()
    store.down = True
    assert await _cache(store).check(_query()) is None
    store.down = False
    disabled = _cache(store, enabled=False)
    query = _query()
    assert await disabled.lookup(query) is None
    await disabled.settle(_ready(query))
    assert store.entries == {}
