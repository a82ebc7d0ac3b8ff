"""Index versions with fakes: naming, which version each service reads or writes, the CLI's lines.

The pointer and switch themselves are SQL: tests/integration/test_index_versions.py.
"""

import uuid
from typing import Any

import pydantic
import pytest

from embed_svc.service import EmbedService
from gateway.index_admin import RebuildRequest
from ingest_svc.index_ingest import _chunking
from ragbus.embedding.fake import FakeEmbedder
from ragbus.errors import ModelUnavailableError, RetryableError
from ragbus.index_targets import IndexTarget
from ragbus.stores.index_rebuilds import SwitchCheck
from ragbus.stores.vector_indexes import VectorIndex, deployment_index
from ragbus_tools.reindex_cli import describe, progress_line
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas import ChunkingStrategy, ChunkPayload, ChunksReady, IndexState

pytestmark = pytest.mark.unit


class RecordingStore:
    """A vector store that finds nothing and remembers the query vectors it was given."""

    holds_windows = False  # one dense vector per chunk

    def __init__(self) -> None:
        self.queries: list[Any] = []

    async def search(self, **kwargs: Any) -> list[Any]:
        self.queries.append(kwargs["vector"])
        return []


class Targets:
    """Each tenant's active version, switchable; records whether writers waited.
    ``down``: Postgres is unreachable (the deployment's version is still known)."""

    def __init__(self, **active: IndexTarget) -> None:
        self.by_tenant = active
        self.waited: list[bool] = []
        self.down = False
        self.deployment = target(None, dim=4)

    async def active(self, tenant_id: str, *, wait_for_switch: bool = False) -> IndexTarget:
        if self.down:
            raise RetryableError("postgres is down")
        self.waited.append(wait_for_switch)
        return self.by_tenant[tenant_id]

    async def target(self, index: VectorIndex) -> IndexTarget:
        assert index.id is None
        return self.deployment


def target(index_id: int | None, dim: int, store: Any = None) -> IndexTarget:
    index = VectorIndex(id=index_id, tenant_id="t", shared=index_id is None)
    return IndexTarget(index, FakeEmbedder(dim=dim), store or RecordingStore())


def batch(tenant: str, chunks: int) -> ChunksReady:
    doc = uuid.uuid4()
    return ChunksReady(
        tenant_id=tenant,
        document_id=doc,
        version=1,
        filename="a.txt",
        batch_index=0,
        batch_count=1,
        total_chunks=chunks,
        chunks=[
            ChunkPayload(chunk_id=uuid.uuid4(), index=i, text=f"chunk {i}", token_count=2)
            for i in range(chunks)
        ],
    )


def test_a_version_lives_in_the_shared_collection_or_its_own() -> None:
    assert deployment_index("acme").collection("ragbus_chunks") == "ragbus_chunks"
    shared = VectorIndex(id=3, tenant_id="acme", shared=True)
    assert shared.collection("chunk_vectors") == "chunk_vectors"
    own = VectorIndex(id=7, tenant_id="acme", shared=False, status=IndexState.BUILDING)
    assert own.collection("chunk_vectors") == "chunk_vectors_ix7"


def test_a_switch_needs_every_document_and_nothing_in_flight() -> None:
    assert SwitchCheck(in_flight=0, missing=0).ready
    assert not SwitchCheck(in_flight=1, missing=0).ready
    assert not SwitchCheck(in_flight=0, missing=2).ready


def test_a_replay_takes_the_versions_chunking_else_the_documents_own() -> None:
    chosen = VectorIndex(id=2, tenant_id="t", chunking="sentence")
    assert _chunking(chosen, "structure") == ChunkingStrategy.SENTENCE
    assert _chunking(VectorIndex(id=2, tenant_id="t"), "structure") == ChunkingStrategy.STRUCTURE
    assert _chunking(VectorIndex(id=2, tenant_id="t"), None) is None


async def test_each_batch_is_embedded_by_its_versions_model_read_by_a_writer() -> None:
    targets = Targets(small=target(None, dim=8), large=target(5, dim=16))
    service = EmbedService(None, None, FakeEmbedder(dim=4), None, targets=targets)  # type: ignore[arg-type]
    batches = [batch("small", 3), batch("large", 2), batch("small", 1), batch("large", 1)]
    vectors = await service.embed(batches, wanted=[True, True, False, True])
    assert [v.shape for v in vectors] == [(3, 8), (2, 16), (0, 0), (1, 16)]
    assert targets.waited == [True, True, True]  # the pointer's shared lock, every time


async def test_with_postgres_down_a_batch_is_embedded_for_the_last_known_version() -> None:
    targets = Targets(t=target(5, dim=16))
    service = EmbedService(None, None, FakeEmbedder(dim=4), None, targets=targets)  # type: ignore[arg-type]
    await service.embed([batch("t", 1)], wanted=[True])  # t's version, read once
    targets.down = True
    later, unseen = batch("t", 2), batch("u", 1)
    vectors = await service.embed([later, unseen], wanted=[True, True])
    assert [v.shape for v in vectors] == [(2, 16), (1, 4)]  # u: the deployment's model
    targets.down = False
    targets.by_tenant["u"] = target(6, dim=16)  # u had switched to another model
    with pytest.raises(RetryableError, match="embedded by another model"):
        await service.commit(unseen, vectors[1])  # a redelivery embeds it again


class BrokenBuilds:
    """A build whose model cannot be loaded."""

    async def target(self, batch: ChunksReady) -> IndexTarget:
        raise ModelUnavailableError("no such model: example/missing")


async def test_a_replay_whose_model_cannot_load_fails_alone_at_its_commit() -> None:
    service = EmbedService(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        FakeEmbedder(dim=4),
        None,  # type: ignore[arg-type]
        targets=Targets(t=target(None, dim=8)),
        builds=BrokenBuilds(),  # type: ignore[arg-type]
    )
    own, replay = batch("t", 2), batch("t", 1).model_copy(update={"index_id": 3})
    vectors = await service.embed([own, replay], wanted=[True, True])
    assert [v.shape[0] for v in vectors] == [2, 0]  # the document beside it is embedded
    with pytest.raises(ModelUnavailableError):  # settled as permanent: the build fails
        await service.commit(replay, vectors[1])


async def test_every_search_of_a_query_reads_the_version_active_when_it_started() -> None:
    old, new = target(None, dim=8), target(9, dim=16)
    targets = Targets(t=old)
    config = RetrieveConfig(default_mode="dense")
    service = RetrieveService(None, None, FakeEmbedder(dim=4), None, config, targets=targets)  # type: ignore[arg-type]
    await service.retrieve("t", "what opens at 8?", 3)
    targets.by_tenant["t"] = new  # the switch
    await service.retrieve("t", "what opens at 8?", 3)
    assert [q.shape for q in old.store.queries] == [(8,)]  # type: ignore[attr-defined]
    assert [q.shape for q in new.store.queries] == [(16,)]  # type: ignore[attr-defined]
    assert targets.waited == [False, False]  # a reader never waits for a switch


def test_a_rebuild_request_names_only_what_it_changes() -> None:
    assert RebuildRequest.model_validate({}).model_dump() == {
        "model": None,
        "precision": None,
        "chunking": None,
    }
    for wrong in ({"precision": "fp16"}, {"chunking": "pages"}, {"tenant_id": "other"}):
        with pytest.raises(pydantic.ValidationError):
            RebuildRequest.model_validate(wrong)


def test_the_cli_names_a_version_and_its_progress() -> None:
    index = {"id": 4, "status": "building", "model": "m", "precision": "int8", "chunking": None}
    assert describe(index) == "index 4 building: m int8, each document's own chunking"
    index["progress"] = {"done": 3, "total": 8}
    assert progress_line(index) == "index 4: 3/8 documents"
