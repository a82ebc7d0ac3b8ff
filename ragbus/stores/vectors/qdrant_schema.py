"""The Qdrant collection: created with a named dense and a named sparse vector, or verified.

The embedding model and dimension are kept in the collection's metadata, so a
service with another model refuses to start instead of returning garbage.
"""

import logging

from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from ragbus.errors import PermanentError
from ragbus.stores.vectors.base import mismatch
from ragbus.stores.vectors.qdrant_query import DENSE, SPARSE, SPARSE_PARAMS
from ragbus.stores.vectors.qdrant_support import is_local, relax_local_fsync

log = logging.getLogger(__name__)

MAX_SIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
"""A point's dense windows, scored by the best one's cosine (one query vector)."""

_MODEL_KEY = "ragbus_embed_model"
_DIM_KEY = "ragbus_embed_dim"


async def prepare_collection(
    client: AsyncQdrantClient, collection: str, *, model_id: str, dim: int
) -> bool:
    """Create ``collection`` if missing, verify it, add what older versions lacked.

    A new collection's dense vector is a multivector scored by ``MAX_SIM``, so a
    chunk may have several dense windows (:mod:`ragbus.stores.vectors.windows`). A
    collection made before windows keeps one dense vector per point; a rebuild
    (``ragbus reindex``) makes a new one.

    Returns:
        Whether the collection holds dense windows (a multivector).

    A collection made before sparse search existed gets the sparse vector added:
    chunks upserted from then on get BM25 vectors; older ones are found by dense
    search only until they are re-ingested.

    Raises:
        PermanentError: The collection has no ``dense`` vector (ragbus did not make it).
        EmbeddingModelMismatchError: It holds vectors of another model or dim.
    """
    if not await client.collection_exists(collection):
        await _create(client, collection, model_id, dim)
    info = await client.get_collection(collection)
    _verify(info, collection, model_id, dim)
    if SPARSE not in (info.config.params.sparse_vectors or {}):
        log.warning("adding sparse vector %r to %s", SPARSE, collection)
        sparse = models.SparseVectorConfig(modifier=models.Modifier.IDF)
        config = models.SparseVectorNameConfig(sparse=sparse)
        await client.create_vector_name(collection, SPARSE, config)
    holds_windows = _dense_params(info).multivector_config is not None
    if is_local(client):  # local mode ignores payload indexes (and warns)
        relax_local_fsync(client, collection)
        return holds_windows
    await client.create_payload_index(
        collection,
        "tenant_id",
        field_schema=models.KeywordIndexParams(
            type=models.KeywordIndexType.KEYWORD, is_tenant=True
        ),
    )
    await client.create_payload_index(
        collection, "document_id", field_schema=models.PayloadSchemaType.KEYWORD
    )
    return holds_windows


async def _create(client: AsyncQdrantClient, collection: str, model_id: str, dim: int) -> None:
    try:
        await client.create_collection(
            collection,
            vectors_config={
                DENSE: models.VectorParams(
                    size=dim, distance=models.Distance.COSINE, multivector_config=MAX_SIM
                )
            },
            sparse_vectors_config={SPARSE: SPARSE_PARAMS},
            # Per-tenant HNSW graphs instead of one global graph: every search
            # filters by tenant (Qdrant's multitenancy guidance).
            hnsw_config=models.HnswConfigDiff(payload_m=16, m=0),
            metadata={_MODEL_KEY: model_id, _DIM_KEY: dim},
        )
    except UnexpectedResponse as exc:  # another service created it first
        if exc.status_code != 409:
            raise
    except ValueError as exc:  # local mode's "already exists"
        if "already exists" not in str(exc):
            raise


def _dense_params(info: models.CollectionInfo) -> models.VectorParams:
    vectors = info.config.params.vectors
    params = vectors.get(DENSE) if isinstance(vectors, dict) else None
    assert params is not None  # _verify ran first
    return params


def _verify(info: models.CollectionInfo, collection: str, model_id: str, dim: int) -> None:
    where = f"qdrant collection {collection!r}"
    vectors = info.config.params.vectors
    params = vectors.get(DENSE) if isinstance(vectors, dict) else None
    if params is None:
        raise PermanentError(f"{where} has no vector named {DENSE!r}; ragbus did not make it")
    meta = info.config.metadata or {}
    stored_model = meta.get(_MODEL_KEY)
    if stored_model is None:  # servers before 1.16 drop collection metadata
        log.warning("no model metadata; checking dim only", extra={"where": where})
        stored_model = model_id
    if (stored_model, params.size) != (model_id, dim):
        raise mismatch(where, stored=(stored_model, params.size), wanted=(model_id, dim))
