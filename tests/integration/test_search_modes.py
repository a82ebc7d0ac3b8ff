"""Search modes (dense, sparse, hybrid) on both real adapters with the real BM25 encoder."""

import re
import uuid

import numpy as np
import pytest

from ragbus.settings import InfraSettings
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.base import ChunkRecord, Fusion
from ragbus.stores.vectors.pgvector import PgVectorStore

pytestmark = pytest.mark.integration

DIM = 4
TEXTS = [
    "Mitochondria produce ATP through oxidative phosphorylation.",
    "Vitamin D deficiency is linked to bone fractures in elderly patients.",
    "The placebo group showed no change in blood pressure.",
    "Ribosomes translate messenger RNA into proteins.",
]
# Dense vectors point each chunk at its own axis (the 4th shares axis 0), so the
# dense and the lexical answers to a question can be told apart.
VECTORS = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.9, 0, 0, 0.436]], np.float32)


@pytest.fixture
async def store(pool_or_none, tmp_path, unique_name):
    name = re.sub(r"[^a-z0-9_]", "_", f"m_{unique_name}".lower())[:40]
    if pool_or_none is None:
        settings = InfraSettings(
            data_dir=tmp_path, vector_store="qdrant", qdrant_url=None, qdrant_collection=name
        )
        opened = await open_vector_store(settings)
    else:
        opened = PgVectorStore(pool_or_none, table=name)
    await opened.open(model_id="test/axes-4", dim=DIM)
    yield opened
    await opened.close()


def _chunks(tenant: str, document_ids: list[uuid.UUID]) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            chunk_id=uuid.uuid5(doc, f"{tenant}/{i}"),
            tenant_id=tenant,
            document_id=doc,
            version=1,
            chunk_index=0,
            text=text,
            filename=f"{i}.txt",
            title=None,
            page=None,
            heading=None,
            token_count=10,
        )
        for i, (doc, text) in enumerate(zip(document_ids, TEXTS, strict=True))
    ]


@pytest.fixture
async def loaded(store):
    docs = [uuid.uuid4() for _ in TEXTS]
    await store.upsert(_chunks("acme", docs), VECTORS)
    await store.upsert(_chunks("other", [uuid.uuid4() for _ in TEXTS]), VECTORS)
    return store, docs


async def test_sparse_finds_the_words_and_dense_the_vector(loaded):
    store, docs = loaded
    question = "vitamin D and fractures"  # lexically doc 1; its vector points at doc 0
    kwargs = {"tenant_id": "acme", "vector": VECTORS[0], "top_k": 4, "text": question}
    dense = await store.search(**kwargs, mode="dense")
    sparse = await store.search(**kwargs, mode="sparse")
    hybrid = await store.search(**kwargs, mode="hybrid", fusion=Fusion(k=60))
    assert dense[0].chunk.document_id == docs[0]
    assert [h.chunk.document_id for h in sparse] == [docs[1]]  # only doc 1 has those stems
    assert sparse[0].score > 0
    # Fused: doc 1 (1st sparse, 3rd or 4th dense) beats doc 0 (1st dense, not sparse).
    assert [h.chunk.document_id for h in hybrid[:2]] == [docs[1], docs[0]]
    assert hybrid[0].score > 1 / 60
    assert hybrid[1].score == pytest.approx(1 / 60)


async def test_stemming_matches_other_word_forms(loaded):
    store, docs = loaded
    hits = await store.search(
        tenant_id="acme", vector=None, top_k=3, text="translating proteins", mode="sparse"
    )
    assert [h.chunk.document_id for h in hits] == [docs[3]]


async def test_every_mode_stays_in_the_tenant_and_the_documents_asked_for(loaded):
    store, docs = loaded
    for mode in ("dense", "sparse", "hybrid"):
        hits = await store.search(
            tenant_id="acme", vector=VECTORS[1], top_k=10, text="blood pressure ATP", mode=mode
        )
        assert hits and all(h.chunk.tenant_id == "acme" for h in hits)
        only = await store.search(
            tenant_id="acme",
            vector=VECTORS[1],
            top_k=10,
            text="blood pressure ATP",
            mode=mode,
            document_ids=[docs[2]],
        )
        assert [h.chunk.document_id for h in only] == [docs[2]]
        assert (
            await store.search(
                tenant_id="nobody", vector=VECTORS[1], top_k=5, text="ATP", mode=mode
            )
            == []
        )


async def test_a_question_of_stopwords_has_no_sparse_hits(loaded):
    store, _ = loaded
    kwargs = {"tenant_id": "acme", "vector": VECTORS[2], "top_k": 2, "text": "what is the"}
    assert await store.search(**kwargs, mode="sparse") == []
    hybrid = await store.search(**kwargs, mode="hybrid")
    dense = await store.search(**kwargs, mode="dense")
    assert [h.chunk.chunk_id for h in hybrid] == [h.chunk.chunk_id for h in dense]


async def test_a_mode_without_its_input_is_refused(store):
    with pytest.raises(ValueError, match="text"):
        await store.search(tenant_id="acme", vector=VECTORS[0], top_k=1, mode="sparse")
    with pytest.raises(ValueError, match="vector"):
        await store.search(tenant_id="acme", vector=None, top_k=1, text="x", mode="hybrid")
    with pytest.raises(ValueError, match="mode"):
        await store.search(tenant_id="acme", vector=VECTORS[0], top_k=1, mode="fuzzy")  # type: ignore[arg-type]


async def test_hits_carry_their_embedding_when_asked(loaded):
    store, docs = loaded
    for mode in ("dense", "sparse", "hybrid"):
        hits = await store.search(
            tenant_id="acme", vector=VECTORS[1], top_k=4, text="vitamin", mode=mode,
            with_vectors=True,
        )  # fmt: skip
        by_doc = {h.chunk.document_id: h.vector for h in hits}
        assert by_doc[docs[1]] == pytest.approx(VECTORS[1], abs=1e-6)
        plain = await store.search(tenant_id="acme", vector=VECTORS[1], top_k=4, text="x")
        assert all(h.vector is None for h in plain)


async def test_an_index_made_before_sparse_search_gains_it(tmp_path, pgvector_pool):
    from qdrant_client import AsyncQdrantClient, models

    from ragbus.stores.vectors.qdrant import QdrantVectorStore

    client = AsyncQdrantClient(path=str(tmp_path / "old"))
    dense = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    await client.create_collection("old", vectors_config={"dense": dense})
    table = f"old_{uuid.uuid4().hex[:8]}"
    await pgvector_pool.execute("CREATE EXTENSION IF NOT EXISTS vector")
    await pgvector_pool.execute(
        f"""CREATE TABLE {table} (tenant_id text NOT NULL, id uuid NOT NULL,
            document_id uuid NOT NULL, version integer NOT NULL, chunk_index integer NOT NULL,
            text text NOT NULL, filename text NOT NULL, title text, page integer, heading text,
            token_count integer NOT NULL, embedding vector({DIM}) NOT NULL,
            PRIMARY KEY (tenant_id, id))"""
    )
    for store in (QdrantVectorStore(client, "old"), PgVectorStore(pgvector_pool, table=table)):
        await store.open(model_id="test/axes-4", dim=DIM)
        docs = [uuid.uuid4() for _ in TEXTS]
        await store.upsert(_chunks("acme", docs), VECTORS)
        hits = await store.search(
            tenant_id="acme", vector=None, top_k=2, text="ribosomes", mode="sparse"
        )
        assert [h.chunk.document_id for h in hits] == [docs[3]]
        await store.close()
