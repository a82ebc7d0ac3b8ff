"""Limits on how many chunks one upload may become, per tenant (``too_many_chunks``).

A few kilobytes can become hours of embedding: a 17 KB DOCX holding 4.9 MB of XML
(under the parser's ratio floor) became 2,936 chunks and 9 minutes of embedding, and
300 KB of Markdown with one token per byte 1,356 chunks. ingest_svc therefore
refuses a document whose chunks pass :meth:`ChunkLimits.allowed`, after chunking and
before anything is published, as a permanent ``too_many_chunks`` failure.

Where the defaults come from (all-MiniLM-L6-v2's tokenizer, 254-token chunks with 32
of overlap, context headers on; measured with ``chunk_document`` on
``../shared/corpus``, 2-core machine):

- prose and HTML extracts: 0.04-1.0 chunks per KiB of upload; the Node.js API
  docs (Markdown, code and short sections): at most 2.5 per KiB with any strategy;
  code-only Markdown 2.7; CJK text 2.2;
- text of one token per byte (``"....."``): 4.8 per KiB, the densest text can be; a
  CSV of short numeric fields 4.5 per KiB (each row becomes ``name: value`` lines);
- a compressed package (DOCX) is unbounded: 234 per KiB for the DOCX above.

So :data:`DEFAULT_MAX_CHUNKS_PER_MIB` is 4,096 (4 per KiB): 60% above the densest
documentation, below one-token-per-byte text and what compression amplifies. A
tenant whose documents are dense tables raises it with ``PUT /v1/admin/quotas``.
:data:`CHUNK_FLOOR` more are always allowed (a 200-byte note is 1 chunk, 5 per
KiB), and one more per PDF page (no chunk crosses a page). Embedding runs at 20-25
chunks/s on two cores, so :data:`DEFAULT_MAX_CHUNKS_PER_DOCUMENT` (20,000) is about
15 minutes of one worker: a 20 MB book is about that many.
"""

import math
from dataclasses import dataclass

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragbus.errors import PermanentError
from ragbus.stores.postgres import pg_errors

DEFAULT_MAX_CHUNKS_PER_DOCUMENT = 20_000
DEFAULT_MAX_CHUNKS_PER_MIB = 4096
CHUNK_FLOOR = 16
"""Chunks every document may have whatever its size."""

MIB = 1024 * 1024


class TooManyChunksError(PermanentError):
    """A document would become more chunks than its tenant's limits allow."""

    code = "too_many_chunks"


class ChunkQuotaSettings(BaseSettings):
    """Default chunk limits of every tenant (environment prefix ``RAGBUS_QUOTA_``, like
    the gateway's other quotas); ``PUT /v1/admin/quotas`` overrides them per tenant.

    Attributes:
        max_chunks_per_document: Most chunks of one document version.
        max_chunks_per_mib: Most chunks per MiB of the uploaded bytes.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_QUOTA_", extra="ignore")

    max_chunks_per_document: int = Field(DEFAULT_MAX_CHUNKS_PER_DOCUMENT, ge=1)
    max_chunks_per_mib: int = Field(DEFAULT_MAX_CHUNKS_PER_MIB, ge=1)


@dataclass(frozen=True, slots=True)
class ChunkLimits:
    """One tenant's chunk limits (see the module docstring for the defaults)."""

    max_chunks_per_document: int = DEFAULT_MAX_CHUNKS_PER_DOCUMENT
    max_chunks_per_mib: int = DEFAULT_MAX_CHUNKS_PER_MIB

    def allowed(self, size_bytes: int, pages: int | None = None) -> int:
        """Most chunks a document of ``size_bytes`` bytes and ``pages`` pages may have.

        ``CHUNK_FLOOR + ceil(size_bytes * max_chunks_per_mib / MiB) + pages``, at most
        ``max_chunks_per_document``.
        """
        by_size = CHUNK_FLOOR + math.ceil(size_bytes * self.max_chunks_per_mib / MIB)
        return min(self.max_chunks_per_document, by_size + (pages or 0))

    def check(self, filename: str, chunks: int, size_bytes: int, pages: int | None) -> None:
        """Refuse ``chunks`` chunks (or a lower bound of them) from this upload.

        Raises:
            TooManyChunksError: ``chunks`` is above :meth:`allowed`.
        """
        allowed = self.allowed(size_bytes, pages)
        if chunks > allowed:
            raise TooManyChunksError(
                f"{filename}: {size_bytes} bytes become at least {chunks} chunks; the"
                f" tenant's limit for it is {allowed} (max_chunks_per_mib"
                f" {self.max_chunks_per_mib}, max_chunks_per_document"
                f" {self.max_chunks_per_document})"
            )


class ChunkQuotas:
    """Each tenant's chunk limits: its own from ``tenant_quotas``, else the defaults.

    Args:
        pool: The Postgres pool.
        defaults: Limits of a tenant without overrides.
    """

    def __init__(self, pool: asyncpg.Pool, defaults: ChunkLimits | None = None) -> None:
        self._pool = pool
        self._defaults = defaults or ChunkLimits()

    @pg_errors
    async def limits_of(self, tenant_id: str) -> ChunkLimits:
        """The tenant's limits (a missing row or a null column is the default).

        Raises:
            RetryableError: Postgres is unreachable.
        """
        row = await self._pool.fetchrow(
            """SELECT max_chunks_per_document, max_chunks_per_mib FROM tenant_quotas
               WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return self._defaults
        return ChunkLimits(
            row["max_chunks_per_document"] or self._defaults.max_chunks_per_document,
            row["max_chunks_per_mib"] or self._defaults.max_chunks_per_mib,
        )
