"""Deleting a document while its batches are being embedded.

``tls.md`` (about 160 chunks: three ``chunks.ready`` batches) is deleted once
some of its batches are embedded and others are still queued or being embedded.
From then on retrieval and answers must never show it, even while the remaining
batches go through embed_svc, and once they are all settled its vectors must be
gone. A small document of the
same tenant, uploaded alongside, must stay indexed and retrievable.
"""

import asyncio
import functools
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest

from embed_svc.app import build as build_embed
from embed_svc.settings import EmbedSettings
from ragbus.settings import InfraSettings
from ragbus_tools.client import RagbusClient
from ragbus_tools.stack import SERVICE_BUILDERS
from tests.e2e.stack import RunningStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WATCH_AFTER_DELETE_S = 10.0
DRAIN_TIMEOUT_S = 60.0
TARGET_QUESTIONS = (
    "How do I create a TLS server with tls.createServer?",
    "tls.connect checkServerIdentity option",
)
NEIGHBOUR_TEXT = (
    "The greenhouse thermostat at Willow Farm is set to 18 degrees Celsius at night "
    "so the tomato seedlings do not stall."
)
NEIGHBOUR_QUESTION = "What temperature is the Willow Farm greenhouse thermostat set to at night?"


@pytest.fixture(scope="module")
async def stack(nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The e2e stack, with embed_svc pulling one ``chunks.ready`` message at a time.

    By default embed_svc pulls 8 messages (512 chunks) per model call, so all of
    a document's batches are embedded together and then committed within ~100 ms: too
    short a window to hit "mid-embedding" reliably by polling. One message per
    pull spreads the batches over several seconds, one model call each.
    """
    infra = InfraSettings(
        nats_url=nats_url,
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("ragbus-stack"),
    )
    embed = functools.partial(build_embed, settings=EmbedSettings(batch_messages=1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(SERVICE_BUILDERS, "embed", embed)
        async with running_stack(infra) as running:
            yield running


async def poll(client: RagbusClient, doc_id: str, until: Any, timeout_s: float) -> dict:
    """Poll ``GET /v1/documents/{id}`` until ``until(doc)`` holds; returns that doc."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        doc = await client.document(doc_id)
        if until(doc):
            return doc
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting: {doc}"
        await asyncio.sleep(0.05)


def mid_embedding(doc: dict) -> bool:
    """Embedding has started and not finished; fails fast if the window was missed."""
    assert doc["status"] in ("uploaded", "parsing", "embedding"), doc
    progress = doc["progress"]
    return doc["status"] == "embedding" and 0 < progress["done"] < progress["total"]


async def wait_embed_drained(nats_url: str) -> None:
    """Wait until embed_svc has settled every ``chunks.ready`` message.

    Batches of the deleted document left over would otherwise be embedded by the
    next module's stack on the same server.
    """
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = asyncio.get_running_loop().time() + DRAIN_TIMEOUT_S
        while True:
            # A work-queue stream: a settled batch is removed from it.
            info = await js.stream_info("RAGBUS_CHUNKS")
            if info.state.messages == 0:
                return
            assert asyncio.get_running_loop().time() < deadline, f"not drained: {info}"
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def vector_count(stack: RunningStack, tenant: str, doc_id: str) -> int:
    store = await stack.resources.vector_store()
    return await store.count(tenant_id=tenant, document_id=UUID(doc_id))


async def test_delete_while_embedding_removes_only_the_target(
    stack: RunningStack, shared_dir: Path
) -> None:
    tenant = f"del-embed-{uuid.uuid4().hex[:8]}"
    async with stack.client(tenant) as client:
        target, neighbour = await asyncio.gather(
            client.upload(shared_dir / "corpus" / "nodejs-api" / "tls.md"),
            client.upload_bytes("greenhouse.txt", NEIGHBOUR_TEXT.encode()),
        )
        target_id, neighbour_id = target["id"], neighbour["id"]

        caught = await poll(client, target_id, mid_embedding, timeout_s=60.0)
        await client.delete(target_id)
        assert (await client.document(target_id))["status"] == "deleted"

        # In-flight batches keep being embedded for a while; none may surface.
        deadline = asyncio.get_running_loop().time() + WATCH_AFTER_DELETE_S
        rounds = 0
        while asyncio.get_running_loop().time() < deadline:
            for question in TARGET_QUESTIONS:
                passages = (await client.retrieve(question, top_k=20))["passages"]
                assert all(p["document_id"] != target_id for p in passages), passages
            answer = await client.query(TARGET_QUESTIONS[rounds % len(TARGET_QUESTIONS)], top_k=10)
            assert all(c["document_id"] != target_id for c in answer["citations"]), answer
            rounds += 1
            await asyncio.sleep(0.2)

        # Every remaining batch has been embedded and dropped (or is gone): any
        # vector of the target left now would stay forever.
        await wait_embed_drained(stack.infra.nats_url)
        left = await vector_count(stack, tenant, target_id)
        final = await client.document(target_id)
        neighbour_doc = await poll(
            client, neighbour_id, lambda d: d["status"] in ("indexed", "failed"), 60.0
        )
        passages = (await client.retrieve(NEIGHBOUR_QUESTION, top_k=5))["passages"]

    assert caught["progress"]["total"] > 64, caught  # more than one batch
    assert rounds > 0
    assert final["status"] == "deleted"
    assert left == 0
    assert neighbour_doc["status"] == "indexed", neighbour_doc
    assert await vector_count(stack, tenant, neighbour_id) == neighbour_doc["chunks"] > 0
    assert passages and passages[0]["document_id"] == neighbour_id, passages
    assert "18 degrees" in passages[0]["text"]
