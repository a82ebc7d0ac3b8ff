"""Gateway routes against in-memory fakes: status codes and messages, no servers."""

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.answers import AnswerHub
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from ragbus.settings import InfraSettings
from ragbus.stores.documents import DocumentRecord
from schemas import DocumentStatus

pytestmark = pytest.mark.unit


class FakeDocuments:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, uuid.UUID], DocumentRecord] = {}

    async def create(self, tenant_id: str, document_id: uuid.UUID, **kw: Any):
        row = DocumentRecord(
            tenant_id=tenant_id,
            id=document_id,
            filename=kw["filename"],
            content_type=kw.get("content_type"),
            sha256=kw.get("sha256"),
            size_bytes=kw.get("size_bytes"),
            blob_key=kw.get("blob_key"),
            status=DocumentStatus.UPLOADED,
            error=None,
            error_code=None,
            version=1,
            chunks_total=0,
            chunks_embedded=0,
            title=None,
            parser=None,
            page_count=None,
            metadata=dict(kw.get("metadata") or {}),
            created_at=datetime.now(UTC),
        )
        self.rows[(tenant_id, document_id)] = row
        return row, True

    async def find_by_sha256(self, tenant_id: str, sha256: str):
        return next(
            (
                r
                for (t, _), r in self.rows.items()
                if t == tenant_id and r.sha256 == sha256 and r.status != DocumentStatus.FAILED
            ),
            None,
        )

    async def set_status(self, tenant_id, document_id, status, *, error=None, error_code=None):
        key = (tenant_id, document_id)
        self.rows[key] = replace(self.rows[key], status=status, error=error, error_code=error_code)
        return True

    async def get(self, tenant_id: str, document_id: uuid.UUID):
        return self.rows.get((tenant_id, document_id))


class FakeBlobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.data[key] = data


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, Any]] = []

    async def publish(self, event: Any, subject: str, *, msg_id: str | None = None) -> None:
        if self.fail:
            raise ConnectionError("nats is down")
        self.sent.append((subject, event))


def client(publisher: FakePublisher | None = None):
    """The real app and routes; the lifespan (NATS, Postgres) is not run: fakes instead."""
    settings = GatewaySettings(max_upload_bytes=1024)
    app = create_app(InfraSettings(), settings)
    state = GatewayState(
        settings=settings,
        documents=FakeDocuments(),  # type: ignore[arg-type]
        blobs=FakeBlobs(),  # type: ignore[arg-type]
        publisher=publisher or FakePublisher(),  # type: ignore[arg-type]
        hub=AnswerHub(),
        ready=True,
    )
    app.state.gateway = state
    return TestClient(app), state


def upload(http: TestClient, name: str, content: bytes, tenant: str | None = "acme", form=None):
    headers = {"X-Tenant-ID": tenant} if tenant else {}
    files = [("file", (name, content))]
    return http.post("/v1/documents", files=files, data=form, headers=headers)


def test_upload_is_stored_recorded_and_published() -> None:
    publisher = FakePublisher()
    http, state = client(publisher)
    reply = upload(http, "notes.md", b"# Title\n\nBody text.")
    assert reply.status_code == 202
    (doc,) = reply.json()["documents"]
    assert doc["status"] == "uploaded" and doc["duplicate"] is False and len(doc["sha256"]) == 64
    ((subject, event),) = publisher.sent
    assert subject == "document.uploaded"
    assert str(event.document_id) == doc["id"] and event.tenant_id == "acme"
    assert state.blobs.data[event.blob_key] == b"# Title\n\nBody text."  # type: ignore[attr-defined]


def test_same_bytes_again_name_the_existing_document() -> None:
    publisher = FakePublisher()
    http, _ = client(publisher)
    first = upload(http, "a.md", b"same bytes").json()["documents"][0]
    second = upload(http, "b.md", b"same bytes").json()["documents"][0]
    assert second["id"] == first["id"] and second["duplicate"] is True
    assert len(publisher.sent) == 1


def test_missing_tenant_is_400() -> None:
    http, _ = client()
    reply = upload(http, "a.md", b"x", tenant=None)
    assert reply.status_code == 400
    assert reply.json()["detail"] == "missing X-Tenant-ID header"


def test_invalid_tenant_is_400() -> None:
    http, _ = client()
    assert upload(http, "a.md", b"x", tenant="../etc").status_code == 400


def test_unsupported_type_is_415_and_names_the_file() -> None:
    http, _ = client()
    reply = upload(http, "tool.exe", b"MZ\x90\x00")
    assert reply.status_code == 415
    assert reply.json()["detail"].startswith("tool.exe: unsupported file type .exe")


def test_too_large_is_413() -> None:
    http, _ = client()
    reply = upload(http, "big.txt", b"x" * 1025)
    assert reply.status_code == 413
    assert "big.txt is larger than the 1024-byte upload limit" == reply.json()["detail"]


def test_metadata_must_be_a_json_object() -> None:
    http, _ = client()
    reply = upload(http, "a.md", b"x", form={"metadata": json.dumps([1, 2])})
    assert reply.status_code == 422
    assert reply.json()["detail"] == "metadata must be a JSON object"


def test_unpublished_upload_is_marked_failed_not_left_uploaded() -> None:
    http, state = client(FakePublisher(fail=True))
    reply = upload(http, "a.md", b"content")
    assert reply.status_code == 503
    (row,) = state.documents.rows.values()  # type: ignore[attr-defined]
    assert row.status == DocumentStatus.FAILED and row.error_code == "enqueue_failed"


def test_unknown_document_is_404() -> None:
    http, _ = client()
    reply = http.get(f"/v1/documents/{uuid.uuid4()}", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 404 and reply.json()["detail"] == "document not found"
