"""The bus holds every sender to its identity and tenant, and bad messages never wait.

Against the session's authenticated nats-server (``tests/conftest.py``) and a whole
stack whose services connect as their own identities:

- each service identity is refused the subjects it has no business with;
- events that reach beyond their tenant (another tenant's subject, blob or
  document, a delete the gateway never tombstoned) are dead-lettered ``forbidden``
  on their first delivery and change nothing; the test publishes them as the
  operator, as a buggy or compromised internal publisher would;
- a payload that is not its subject's event is dead-lettered ``invalid_event`` on its
  first delivery, also when it arrives in a tenant lane's pull beside good batches;
- the same event published twice without a ``Nats-Msg-Id`` makes one version.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from deploy.nats_security import EMBED, GATEWAY, GENERATE, INGEST, RETRIEVE
from ragbus.dead_letters import DeadLetterQueue, StoredDeadLetter
from schemas import DeleteDocument, DocumentUploaded
from schemas import subjects as s
from tests.e2e.stack import RunningStack, index_texts, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TEXT = "# Okapi\n\nThe okapi is a forest giraffe of the Congo basin with striped legs.\n"


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[nats.NATS]:
    """The operator's connection (every permission), for publishing what others may not."""
    conn = await nats.connect(nats_url)
    yield conn
    await conn.close()


def password(identity: str) -> str:
    stored = json.loads(Path(os.environ["RAGBUS_NATS_CREDENTIALS"]).read_text())
    return str(stored["passwords"][identity])


async def letters_for(nc: nats.NATS, match: bytes, count: int = 1) -> list[StoredDeadLetter]:
    """The dead letters whose payload contains ``match``, once there are ``count``."""
    queue = DeadLetterQueue(nc.jetstream())
    async with asyncio.timeout(30):
        while True:
            found = [e for e in await queue.entries() if match in e.letter.data]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)


async def tenant_with_document(stack: RunningStack) -> tuple[str, str]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    (doc,) = await index_texts(stack.url, await stack.key(tenant), {"okapi.md": TEXT})
    return tenant, doc


DENIED = [
    (INGEST, "sub", "answer.ready.*"),
    (INGEST, "pub", "query.requested.acme"),
    (EMBED, "pub", "document.uploaded.acme"),
    (EMBED, "sub", ">"),
    (RETRIEVE, "pub", "document.delete.acme"),
    (GENERATE, "sub", "document.uploaded.*"),
    (GENERATE, "pub", "chunks.ready.acme"),
    (GATEWAY, "pub", "document.indexed.acme"),
]


@pytest.mark.parametrize(("identity", "action", "subject"), DENIED)
async def test_a_service_identity_is_refused_what_it_has_no_business_with(
    stack: RunningStack, identity: str, action: str, subject: str
) -> None:
    errors: list[str] = []
    refused = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))
        refused.set()

    servers = stack.infra.nats_url.split("@")[-1]
    conn = await nats.connect(
        f"nats://{servers}",
        user=identity,
        password=password(identity),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        if action == "sub":
            await conn.subscribe(subject)
        else:
            await conn.publish(subject, b"{}")
        await conn.flush()
        await asyncio.wait_for(refused.wait(), 5)
    finally:
        await conn.close()
    what = "publish" if action == "pub" else "subscription"
    assert errors == [f'nats: permissions violation for {what} to "{subject}"']
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            f"nats://{servers}", user=identity, password="wrong", allow_reconnect=False
        )


async def test_an_event_on_another_tenants_subject_is_refused(
    stack: RunningStack, nc: nats.NATS
) -> None:
    mine, theirs = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    event = DocumentUploaded(
        tenant_id=mine, document_id=uuid.uuid4(), filename="x.md", inline_text=TEXT
    )
    await nc.jetstream().publish(
        s.subject_for(s.DOCUMENT_UPLOADED, theirs), event.model_dump_json().encode()
    )
    (entry,) = await letters_for(nc, str(event.event_id).encode())
    assert (entry.letter.reason.value, entry.letter.deliveries) == ("forbidden", 1)
    documents = await stack.resources.documents()
    assert await documents.get(mine, event.document_id) is None


async def test_an_upload_naming_another_tenants_blob_is_refused(
    stack: RunningStack, nc: nats.NATS
) -> None:
    victim, doc = await tenant_with_document(stack)
    documents, blobs = await stack.resources.documents(), await stack.resources.blob_store()
    record = await documents.get(victim, uuid.UUID(doc))
    assert record is not None and record.blob_key is not None
    thief = f"t-{uuid.uuid4().hex[:8]}"
    stolen = uuid.uuid4()
    event = DocumentUploaded(
        tenant_id=thief, document_id=stolen, filename="okapi.md", blob_key=record.blob_key
    )
    await nc.jetstream().publish(
        s.subject_for(s.DOCUMENT_UPLOADED, thief), event.model_dump_json().encode()
    )
    (entry,) = await letters_for(nc, str(event.event_id).encode())
    assert (entry.letter.reason.value, entry.letter.error_code) == ("forbidden", "forbidden")
    assert await documents.get(thief, stolen) is None
    assert await blobs.exists(record.blob_key)


async def test_a_delete_the_gateway_never_made_deletes_nothing(
    stack: RunningStack, nc: nats.NATS
) -> None:
    tenant, doc = await tenant_with_document(stack)
    vectors = await stack.resources.vector_store()
    before = await vectors.count(tenant_id=tenant)
    forged = DeleteDocument(tenant_id=tenant, document_id=uuid.UUID(doc))
    other = f"t-{uuid.uuid4().hex[:8]}"  # another tenant naming this document
    foreign = DeleteDocument(tenant_id=other, document_id=uuid.UUID(doc))
    js = nc.jetstream()
    await js.publish(s.subject_for(s.DOCUMENT_DELETE, tenant), forged.model_dump_json().encode())
    await js.publish(s.subject_for(s.DOCUMENT_DELETE, other), foreign.model_dump_json().encode())
    for command in (forged, foreign):  # refused by ingest (blob) and embed (vectors)
        letters = await letters_for(nc, str(command.event_id).encode(), count=2)
        assert {e.letter.reason.value for e in letters} == {"forbidden"}
        assert {e.letter.consumer for e in letters} == {"ingest-svc-delete", "embed-svc-delete"}
    async with stack.client(tenant) as client:
        assert (await client.document(doc))["status"] == "indexed"
    assert await vectors.count(tenant_id=tenant) == before > 0


@pytest.mark.parametrize(
    "payload",
    [b"\xff\xfe", b"{{{{", b"null", b'{"tenant_id": "acme", "schema_version": 2}'],
    ids=["not utf-8", "not json", "null", "missing fields"],
)
async def test_an_undecodable_payload_is_dead_lettered_on_first_delivery(
    stack: RunningStack, nc: nats.NATS, payload: bytes
) -> None:
    marker = uuid.uuid4().hex.encode()
    subject = s.subject_for(s.DOCUMENT_UPLOADED, "acme")
    await nc.jetstream().publish(subject, payload, headers={"X-Test-Marker": marker.decode()})
    queue = DeadLetterQueue(nc.jetstream())
    async with asyncio.timeout(15):
        while True:
            found = [
                e
                for e in await queue.entries()
                if e.letter.headers.get("X-Test-Marker") == marker.decode()
            ]
            if found:
                break
            await asyncio.sleep(0.1)
    (entry,) = found
    assert (entry.letter.reason.value, entry.letter.deliveries) == ("invalid_event", 1)
    assert entry.letter.data == payload and entry.letter.original_subject == subject


async def test_a_poison_message_in_a_lane_does_not_hold_its_pull(
    stack: RunningStack, nc: nats.NATS
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    lane = s.chunks_ready_for(tenant)
    js = nc.jetstream()
    await js.publish(lane, b"{not a batch", headers={"X-Test-Marker": marker})
    started = asyncio.get_running_loop().time()
    (doc,) = await index_texts(stack.url, await stack.key(tenant), {"okapi.md": TEXT})
    indexed_after = asyncio.get_running_loop().time() - started
    queue = DeadLetterQueue(js)
    (entry,) = [e for e in await queue.entries() if e.letter.headers.get("X-Test-Marker") == marker]
    assert (entry.letter.reason.value, entry.letter.deliveries) == ("invalid_event", 1)
    assert entry.letter.original_subject == lane
    assert indexed_after < 60  # not held behind redeliveries (max_deliver x ack wait)
    assert doc


async def test_the_same_event_published_twice_makes_one_version(
    stack: RunningStack, nc: nats.NATS
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    await stack.key(tenant)
    event = DocumentUploaded(
        tenant_id=tenant, document_id=uuid.uuid4(), filename="okapi.md", inline_text=TEXT
    )
    body = event.model_dump_json().encode()
    js = nc.jetstream()
    subject = s.subject_for(s.DOCUMENT_UPLOADED, tenant)
    first, second = await js.publish(subject, body), await js.publish(subject, body)
    assert not first.duplicate and not second.duplicate  # no Nats-Msg-Id: both stored
    async with stack.client(tenant) as client:
        final = await wait_final(client, [str(event.document_id)], 120, absent_ok=True)
    record = final[str(event.document_id)]
    assert (record["status"], record["version"]) == ("indexed", 1)
    vectors = await stack.resources.vector_store()
    assert await vectors.count(tenant_id=tenant) == record["chunks"] > 0
