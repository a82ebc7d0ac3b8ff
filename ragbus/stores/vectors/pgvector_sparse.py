"""BM25 in Postgres for the pgvector store: an inverted index table and its queries.

Chunk table ``t`` has a sibling ``t_terms(tenant_id, chunk_id, term, weight)``: one
row per distinct stem of a chunk, ``term`` the :class:`~ragbus.embedding.sparse.SparseEncoder`'s
id (a murmur3 hash < 2**31, so ``integer``) and ``weight`` its BM25 term-frequency
part (``real``, the float32 Qdrant stores). These are the very vectors the Qdrant
store upserts, so both stores score a chunk alike.

The IDF is applied at query time, Qdrant's ``Modifier.IDF`` formula
``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza 2009 plus one, so it
stays positive), but over the **tenant's** chunks, not the whole table: ``df``
counts the tenant's chunks holding the stem and ``N`` the tenant's chunks with at
least one stem (``term_count > 0``). Per-tenant statistics keep one tenant's
corpus from changing another's ranking (a shared IDF leaks which words other
tenants use) and give BM25 its meaning, the rarity of a word in the corpus being
searched. Qdrant's IDF is over the whole collection, so the two stores agree
exactly when the collection holds one tenant (as in the SciFact evaluation).

Cost per sparse search: ``N`` is an index-only count over the partial index
``t_with_terms`` (O(tenant's chunks)); ``df`` and the scores read the posting lists
of the question's stems from ``t_terms_postings`` (O(postings of those stems)).
"""

import asyncio
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from ragbus.embedding.sparse import SparseEncoder, SparseVector

BACKFILL_BATCH = 512


def terms_ddl(t: str) -> list[str]:
    """Statements creating (idempotently) the inverted index of chunk table ``t``.

    ``term_count`` on ``t`` is the chunk's number of stems, NULL until computed (a
    row written before BM25 existed); the foreign key cascades chunk deletes to
    their terms, through the primary key's ``(tenant_id, chunk_id)`` prefix.
    """
    return [
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS term_count integer",
        f"""CREATE TABLE IF NOT EXISTS {t}_terms (
               tenant_id text NOT NULL, chunk_id uuid NOT NULL, term integer NOT NULL,
               weight real NOT NULL,
               PRIMARY KEY (tenant_id, chunk_id, term),
               FOREIGN KEY (tenant_id, chunk_id) REFERENCES {t} (tenant_id, id)
                   ON DELETE CASCADE)""",
        f"""CREATE INDEX IF NOT EXISTS {t}_terms_postings ON {t}_terms (tenant_id, term)
            INCLUDE (chunk_id, weight)""",
        f"CREATE INDEX IF NOT EXISTS {t}_with_terms ON {t} (tenant_id) WHERE term_count > 0",
        f"CREATE INDEX IF NOT EXISTS {t}_unencoded ON {t} (tenant_id) WHERE term_count IS NULL",
    ]


async def write_terms(
    conn: asyncpg.Connection,
    t: str,
    keys: Sequence[tuple[str, UUID]],
    vectors: Sequence[SparseVector],
) -> None:
    """Replace the terms of chunks ``keys`` (``(tenant_id, chunk_id)``) by ``vectors``.

    Two statements whatever the batch size (``unnest`` of arrays); run it in the
    transaction that writes the chunk rows, after them (the foreign key).
    """
    tenants = [k[0] for k in keys]
    ids = [k[1] for k in keys]
    await conn.execute(
        f"""DELETE FROM {t}_terms x USING unnest($1::text[], $2::uuid[]) AS u(tenant_id, id)
            WHERE x.tenant_id = u.tenant_id AND x.chunk_id = u.id""",
        tenants,
        ids,
    )
    columns: tuple[list[str], list[UUID], list[int], list[float]] = ([], [], [], [])
    for (tenant, chunk_id), vector in zip(keys, vectors, strict=True):
        columns[0].extend([tenant] * len(vector.indices))
        columns[1].extend([chunk_id] * len(vector.indices))
        columns[2].extend(vector.indices)
        columns[3].extend(vector.values)
    if columns[0]:
        await conn.execute(
            f"""INSERT INTO {t}_terms (tenant_id, chunk_id, term, weight)
                SELECT * FROM unnest($1::text[], $2::uuid[], $3::integer[], $4::real[])""",
            *columns,
        )


async def backfill_terms(pool: asyncpg.Pool, t: str, encoder: SparseEncoder) -> int:
    """Compute the terms of rows written before BM25 existed (``term_count IS NULL``).

    Batches of 512 rows, each in its own transaction; ``FOR UPDATE SKIP LOCKED`` lets
    several processes opening the store at once share the work. SciFact's 12,823
    chunks took 21.5 s on the loaded 2-core development machine; a table without
    such rows costs one probe of the (empty) partial index ``t_unencoded``.

    Returns:
        How many rows were encoded.
    """
    done = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""SELECT tenant_id, id, text FROM {t} WHERE term_count IS NULL
                    LIMIT {BACKFILL_BATCH} FOR UPDATE SKIP LOCKED"""
            )
            if not rows:
                return done
            vectors = await asyncio.to_thread(encoder.encode_documents, [r["text"] for r in rows])
            keys = [(r["tenant_id"], r["id"]) for r in rows]
            await write_terms(conn, t, keys, vectors)
            await conn.execute(
                f"""UPDATE {t} SET term_count = u.n
                    FROM unnest($1::text[], $2::uuid[], $3::integer[]) AS u(tenant_id, id, n)
                    WHERE {t}.tenant_id = u.tenant_id AND {t}.id = u.id""",
                [k[0] for k in keys],
                [k[1] for k in keys],
                [len(v.indices) for v in vectors],
            )
            done += len(rows)


async def search_terms(
    conn: asyncpg.Connection,
    t: str,
    columns: Sequence[str],
    tenant_id: str,
    terms: list[int],
    limit: int,
    document_ids: list[UUID] | None,
) -> list[asyncpg.Record]:
    """The tenant's ``limit`` best chunks by BM25, best first (ties by chunk id).

    Every query weight is 1.0 (:meth:`SparseEncoder.encode_query`), so a chunk's
    score is the sum over the question's stems it holds of ``weight * idf``. The
    document filter applies before the limit; ``df`` and ``N`` ignore it (as Qdrant).

    Returns:
        Rows of chunk table ``t`` with ``columns`` and ``score``.
    """
    cols = ", ".join(f"c.{col}" for col in columns)
    sql = f"""
        WITH n AS (SELECT count(*)::float8 AS n FROM {t}
                   WHERE tenant_id = $1 AND term_count > 0),
        idf AS (SELECT term, ln(1 + (n.n - count(*) + 0.5) / (count(*) + 0.5)) AS idf
                FROM {t}_terms, n WHERE tenant_id = $1 AND term = ANY($2::integer[])
                GROUP BY term, n.n),
        scored AS (SELECT x.chunk_id, sum(x.weight * idf.idf) AS score
                   FROM {t}_terms x JOIN idf USING (term)
                   WHERE x.tenant_id = $1 AND x.term = ANY($2::integer[])
                   GROUP BY x.chunk_id),
        top AS (SELECT s.chunk_id, s.score FROM scored s
                WHERE $4::uuid[] IS NULL OR EXISTS (
                    SELECT 1 FROM {t} d WHERE d.tenant_id = $1 AND d.id = s.chunk_id
                      AND d.document_id = ANY($4::uuid[]))
                ORDER BY s.score DESC, s.chunk_id LIMIT $3)
        SELECT {cols}, top.score FROM top JOIN {t} c ON c.tenant_id = $1 AND c.id = top.chunk_id
        ORDER BY top.score DESC, top.chunk_id"""
    return await conn.fetch(sql, tenant_id, terms, limit, document_ids)
