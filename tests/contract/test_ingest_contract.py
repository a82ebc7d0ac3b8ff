"""ingest_svc's handlers on FastStream's in-memory NATS broker: routing and typing.

The service is a fake that records what reaches it. Acks, redelivery and
de-duplication need a real server (tests/integration/test_ack_policy.py,
tests/e2e/test_redelivery.py): the in-memory broker's ack and nak do nothing.
"""

import uuid

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from ingest_svc.handlers import build_router
from ingest_svc.settings import IngestSettings
from ragbus.bus import EventPublisher
from ragbus.errors import EmptyDocumentError, PermanentError
from schemas import DeleteDocument, DocumentUploaded
from schemas import subjects as s
from tests.contract.wrong_shapes import assert_refused, on

pytestmark = pytest.mark.contract

UPLOAD = DocumentUploaded(tenant_id="acme", filename="notes.md", blob_key="acme/notes.md")
DELETE = DeleteDocument(tenant_id="acme", document_id=uuid.uuid4())


class FakeIngest:
    """Records each call of the methods ``build_router`` wires to subjects."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self._error = error

    async def ingest(self, event: DocumentUploaded) -> None:
        self.calls.append(("ingest", event))
        if self._error is not None:
            raise self._error

    async def fail(self, event: DocumentUploaded, exc: PermanentError) -> None:
        self.calls.append(("fail", event, exc))

    async def delete_blob(self, command: DeleteDocument) -> None:
        self.calls.append(("delete_blob", command))


def broker(service: FakeIngest) -> NatsBroker:
    nats = NatsBroker()
    nats.include_router(build_router(service, IngestSettings()))  # type: ignore[arg-type]
    return nats


async def test_an_upload_reaches_ingest_as_the_typed_event() -> None:
    service = FakeIngest()
    async with TestNatsBroker(broker(service)) as nats:
        await EventPublisher(nats).publish(UPLOAD, s.DOCUMENT_UPLOADED)
    assert service.calls == [("ingest", UPLOAD)]
    assert type(service.calls[0][1]) is DocumentUploaded


async def test_a_delete_reaches_delete_blob_as_the_typed_command() -> None:
    service = FakeIngest()
    async with TestNatsBroker(broker(service)) as nats:
        await EventPublisher(nats).publish(DELETE, s.DOCUMENT_DELETE)
    assert service.calls == [("delete_blob", DELETE)]
    assert type(service.calls[0][1]) is DeleteDocument


async def test_unknown_fields_are_ignored() -> None:
    service = FakeIngest()
    newer = UPLOAD.model_dump(mode="json") | {"added_in_a_later_release": True}
    async with TestNatsBroker(broker(service)) as nats:
        await nats.publish(newer, on(UPLOAD, s.DOCUMENT_UPLOADED))
    assert service.calls == [("ingest", UPLOAD)]


async def test_a_permanent_error_is_recorded_with_the_event() -> None:
    error = EmptyDocumentError("notes.md is empty")
    service = FakeIngest(error)
    async with TestNatsBroker(broker(service)) as nats:
        await EventPublisher(nats).publish(UPLOAD, s.DOCUMENT_UPLOADED)
    assert service.calls == [("ingest", UPLOAD), ("fail", UPLOAD, error)]


async def test_payloads_of_the_wrong_shape_reach_nothing() -> None:
    service = FakeIngest()
    async with TestNatsBroker(broker(service)) as nats:
        await assert_refused(nats, UPLOAD, s.DOCUMENT_UPLOADED)
        await assert_refused(nats, DELETE, s.DOCUMENT_DELETE)
    assert service.calls == []
