"""The answer cache: a repeated question is answered without retrieval or an LLM call.

The key is the sha256 of the tenant-independent request (the normalised question,
``top_k``, every retrieval option and the answering model); the entry is stored
per tenant with the tenant's index version, which every indexed or deleted
document bumps (``gateway.answer_cache_store``). A lookup is one Postgres round
trip. Answers are stored when ``answer.ready`` arrives with ``found`` true, never
for failures or "not found" (a later ingest may find it; the version would
invalidate it anyway, but a miss costs little there).

Follow-ups in a conversation are keyed by their standalone question: generate_svc
sees only that question and its passages, never the history, so two turns that
condense to the same standalone question get the same answer.
"""

import asyncio
import hashlib
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from faststream.nats import NatsRouter
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.answer_cache_store import AnswerCacheRepository
from ragbus.errors import RetryableError
from schemas import AnswerFailed, AnswerReady, QueryRequested
from schemas import subjects as s
from schemas.queries import RetrievalOptions

log = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.\u3002\uff1f\uff01]+$")  # and CJK full stops


class AnswerCacheSettings(BaseSettings):
    """Knobs of the answer cache (environment prefix ``RAGBUS_ANSWER_CACHE_``).

    Attributes:
        enabled: False turns the cache off (every query is answered afresh).
        ttl_s: Seconds an entry is served, even with the index unchanged (an LLM
            answer is not refreshed otherwise). Default one day.
        max_entries: Most entries kept across tenants; older ones are pruned.
        prune_every: Prune after this many stored answers (per gateway replica).
        model: The answering model, part of the key so changing it starts a fresh
            cache; read from ``RAGBUS_LLM_MODEL`` like generate_svc (unset:
            the extractive answerer).
    """

    model_config = SettingsConfigDict(
        env_prefix="RAGBUS_ANSWER_CACHE_", extra="ignore", populate_by_name=True
    )

    enabled: bool = True
    ttl_s: float = Field(86_400.0, gt=0)
    max_entries: int = Field(100_000, ge=1)
    prune_every: int = Field(200, ge=1)
    model: str | None = Field(
        None, validation_alias=AliasChoices("RAGBUS_ANSWER_CACHE_MODEL", "RAGBUS_LLM_MODEL")
    )


def normalise_question(question: str) -> str:
    """The question as the key sees it: casefolded, spaces collapsed, no end punctuation.

    "What is X?", "what is x" and "  What   is X ?!" share an entry; anything
    else in the wording (including punctuation inside) keeps them apart.
    """
    return _TRAILING.sub("", _SPACES.sub(" ", question.casefold()).strip())


def cache_key(event: QueryRequested, model: str | None) -> str:
    """The hex sha256 of the normalised question, ``top_k``, the retrieval options
    and the model. The tenant is not in it: entries are stored per tenant."""
    options = event.model_dump(mode="json", include=set(RetrievalOptions.model_fields))
    material = {
        "q": normalise_question(event.question),
        "top_k": event.top_k,
        "options": options,
        "model": model or "extractive",
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Ticket:
    """A miss the gateway is about to publish: where its answer will be cached."""

    tenant_id: str
    key: str
    index_version: int


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A hit: the stored answer and the query that first produced it."""

    ready: AnswerReady
    source_query_id: UUID | None


class AnswerCache:
    """Looks answers up before ``query.requested`` and stores them on ``answer.ready``.

    Only the replica that published a query stores its answer (it holds the
    :class:`Ticket`); the others ignore it. Cache errors never fail a query: a
    lookup that cannot reach Postgres is a miss, a store that fails is logged.

    Args:
        repository: The Postgres store.
        settings: TTL, size and model.
        max_pending: Most tickets kept for answers not yet ready (oldest dropped).
    """

    def __init__(
        self,
        repository: AnswerCacheRepository,
        settings: AnswerCacheSettings,
        *,
        max_pending: int = 10_000,
    ) -> None:
        self._repo = repository
        self.settings = settings
        self._pending: OrderedDict[UUID, Ticket] = OrderedDict()
        self._storing: dict[UUID, asyncio.Task[None]] = {}
        self._max_pending = max_pending
        self._stored = 0

    async def lookup(self, event: QueryRequested) -> CachedAnswer | Ticket | None:
        """The cached answer to ``event``, else a ticket to cache its answer under.

        Returns:
            A :class:`CachedAnswer` on a hit; a :class:`Ticket` on a miss (pass it to
            :meth:`expect` before publishing); None when the cache is off or
            Postgres did not answer.
        """
        if not self.settings.enabled:
            return None
        key = cache_key(event, self.settings.model)
        try:
            found = await self._repo.lookup(event.tenant_id, key, max_age_s=self.settings.ttl_s)
        except RetryableError:
            log.warning("answer cache lookup failed; answering afresh", exc_info=True)
            return None
        if found.answer is None:
            return Ticket(event.tenant_id, key, found.index_version)
        ready = AnswerReady.model_validate(found.answer)
        return CachedAnswer(ready, found.query_id)

    async def check(self, event: QueryRequested) -> CachedAnswer | None:
        """The cached answer to ``event``; on a miss, expect its answer to cache it.

        Call just before publishing ``event``.
        """
        found = await self.lookup(event)
        if isinstance(found, Ticket):
            self.expect(event.query_id, found)
            return None
        return found

    def expect(self, query_id: UUID, ticket: Ticket) -> None:
        """Remember to cache ``query_id``'s answer under ``ticket``."""
        self._pending[query_id] = ticket
        while len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)

    async def settle(self, event: AnswerReady | AnswerFailed) -> None:
        """Store ``event``'s answer if this replica expects it and it was found.

        Safe to call more than once per query (the subscriber and the route that
        waited for the answer both do); every call returns once it is stored.
        """
        task = self._storing.get(event.query_id)
        if task is None:
            ticket = self._pending.pop(event.query_id, None)
            if ticket is None or not isinstance(event, AnswerReady) or not event.found:
                return
            task = asyncio.ensure_future(self._store(ticket, event))
            self._storing[event.query_id] = task
            task.add_done_callback(lambda _: self._storing.pop(event.query_id, None))
        await asyncio.shield(task)

    async def _store(self, ticket: Ticket, ready: AnswerReady) -> None:
        answer: dict[str, Any] = ready.model_dump(mode="json")
        try:
            await self._repo.store(
                ticket.tenant_id,
                ticket.key,
                index_version=ticket.index_version,
                query_id=ready.query_id,
                answer=answer,
            )
            self._stored += 1
            if self._stored % self.settings.prune_every == 0:
                await self._repo.prune(
                    max_age_s=self.settings.ttl_s, max_entries=self.settings.max_entries
                )
        except RetryableError:
            log.warning("answer not cached", exc_info=True, extra={"query_id": ready.query_id})

    def router(self) -> NatsRouter:
        """Core NATS subscriptions that store answers (``no_reply``: see ``AnswerHub``)."""
        router = NatsRouter()

        @router.subscriber(s.every_tenant(s.ANSWER_READY), no_reply=True)
        async def cache_answer(event: AnswerReady) -> None:
            await self.settle(event)

        @router.subscriber(s.every_tenant(s.ANSWER_FAILED), no_reply=True)
        async def forget_failed(event: AnswerFailed) -> None:
            await self.settle(event)

        return router
