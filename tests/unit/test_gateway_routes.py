"""Gateway routes against in-memory fakes: status codes and messages, no servers."""

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.answer_hub import AnswerHub
from gateway.app import create_app
from gateway.auth.authenticate import Authenticator
from gateway.auth.settings import AuthSettings
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
            external_id=kw.get("external_id"),
            enqueued_version=1 if kw.get("enqueued", True) else None,
        )
        self.rows[(tenant_id, document_id)] = row
        return row, True

    async def create_or_find(self, tenant_id: str, document_id: uuid.UUID, **kw: Any):
        found = await self.find_by_sha256(tenant_id, kw["sha256"])
        if found is not None:
            return found, False
        return await self.create(tenant_id, document_id, enqueued=False, **kw)

    async def mark_enqueued(self, tenant_id: str, document_id: uuid.UUID, version: int) -> bool:
        row = self.rows[(tenant_id, document_id)]
        if row.version != version or row.enqueued_version == version:
            return False
        self.rows[(tenant_id, document_id)] = replace(row, enqueued_version=version)
        return True

    async def find_by_external_id(self, tenant_id: str, external_id: str):
        return next(
            (
                r
                for (t, _), r in self.rows.items()
                if t == tenant_id
                and r.external_id == external_id
                and r.status != DocumentStatus.DELETED
            ),
            None,
        )

    async def new_version(self, tenant_id: str, document_id: uuid.UUID, **content: Any):
        return self._next(tenant_id, document_id, **content)

    async def reset_for_reprocess(self, tenant_id: str, document_id: uuid.UUID):
        return self._next(tenant_id, document_id)

    def _next(self, tenant_id: str, document_id: uuid.UUID, **content: Any):
        key = (tenant_id, document_id)
        row = self.rows.get(key)
        if row is None or row.status == DocumentStatus.DELETED:
            return None
        row = replace(
            row, **content, status=DocumentStatus.UPLOADED, version=row.version + 1, error=None
        )
        self.rows[key] = row
        return row

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

    async def set_chunking(self, tenant_id, document_id, strategy) -> None:
        key = (tenant_id, document_id)
        self.rows[key] = replace(self.rows[key], chunking=str(strategy))

    async def get(self, tenant_id: str, document_id: uuid.UUID):
        return self.rows.get((tenant_id, document_id))


class FakeBlobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.data[key] = data

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, Any]] = []

    async def publish(self, event: Any, subject: str, *, msg_id: str | None = None) -> None:
        if self.fail:
            raise ConnectionError("nats is down")
        self.sent.append((subject, event))


class FakeTenants:
    def __init__(self) -> None:
        self.chunking: dict[str, str] = {}

    async def get_chunking(self, tenant_id: str) -> str | None:
        return self.chunking.get(tenant_id)

    async def set_chunking(self, tenant_id: str, strategy: str) -> None:
        self.chunking[tenant_id] = strategy


# Route logic is tested behind a proxy that vouches for the caller (an admin);
# authentication itself is tests/e2e/test_security.py's.
TRUSTED_HEADERS = Authenticator(
    AuthSettings(mode="trusted-headers", default_role="admin"), None, None
)  # type: ignore[arg-type]


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
        auth=TRUSTED_HEADERS,
        tenants=FakeTenants(),  # type: ignore[arg-type]
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


def test_missing_tenant_is_401() -> None:
    # Behind a trusted proxy, a request without the tenant header has no identity.
    http, state = client()
    reply = upload(http, "a.md", b"x", tenant=None)
    assert reply.status_code == 401
    assert reply.json() == {"detail": "missing X-Tenant-ID header", "code": "missing_credentials"}
    assert state.blobs.data == {}  # type: ignore[attr-defined]


def test_invalid_tenant_is_401() -> None:
    http, state = client()
    reply = upload(http, "a.md", b"x", tenant="../etc")
    assert reply.status_code == 401 and reply.json()["code"] == "invalid_credentials"
    assert state.blobs.data == {}  # type: ignore[attr-defined]


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


def test_unpublished_upload_is_not_enqueued_and_its_retry_reuses_it() -> None:
    publisher = FakePublisher(fail=True)
    http, state = client(publisher)
    reply = upload(http, "a.md", b"content")
    assert reply.status_code == 503
    assert reply.json()["detail"] == "a.md: could not enqueue the document; retry"
    (row,) = state.documents.rows.values()  # type: ignore[attr-defined]
    assert (row.status, row.enqueued_version) == (DocumentStatus.UPLOADED, None)
    publisher.fail = False
    (doc,) = upload(http, "a.md", b"content").json()["documents"]
    assert (doc["id"], doc["duplicate"]) == (str(row.id), False)
    assert [str(e.document_id) for _, e in publisher.sent] == [doc["id"]]
    (row,) = state.documents.rows.values()  # type: ignore[attr-defined]
    assert row.enqueued_version == 1
    (again,) = upload(http, "b.md", b"content").json()["documents"]
    assert (again["id"], again["duplicate"], len(publisher.sent)) == (doc["id"], True, 1)


def test_unknown_document_is_404() -> None:
    http, _ = client()
    reply = http.get(f"/v1/documents/{uuid.uuid4()}", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 404 and reply.json()["detail"] == "document not found"


def post_text(http: TestClient, body: dict[str, Any]):
    return http.post("/v1/documents", json=body, headers={"X-Tenant-ID": "acme"})


def test_raw_text_is_stored_like_a_file_and_gets_txt_when_unnamed() -> None:
    publisher = FakePublisher()
    http, state = client(publisher)
    reply = post_text(http, {"filename": "handbook", "text": "Opens at 8am.", "metadata": {"a": 1}})
    assert reply.status_code == 202
    (doc,) = reply.json()["documents"]
    assert doc["filename"] == "handbook.txt" and doc["version"] == 1 and not doc["duplicate"]
    ((_, event),) = publisher.sent
    assert event.metadata == {"a": 1} and event.inline_text is None
    assert state.blobs.data[event.blob_key] == b"Opens at 8am."  # type: ignore[attr-defined]


def test_raw_text_checks_type_size_and_fields() -> None:
    http, _ = client()
    reply = post_text(http, {"filename": "scan.pdf", "text": "not a pdf"})
    assert reply.status_code == 415 and reply.json()["detail"].startswith("scan.pdf: unsupported")
    reply = post_text(http, {"filename": "big.md", "text": "x" * 1025})
    assert reply.status_code == 413
    assert reply.json()["detail"] == "big.md is larger than the 1024-byte upload limit"
    assert post_text(http, {"filename": "a.md", "text": ""}).status_code == 422
    assert post_text(http, {"filename": "a.md", "text": "x", "extra": 1}).status_code == 422


def test_external_id_same_bytes_is_duplicate_new_bytes_new_version() -> None:
    publisher = FakePublisher()
    http, state = client(publisher)
    v1 = post_text(http, {"filename": "h.md", "text": "v1", "external_id": "handbook"})
    (first,) = v1.json()["documents"]
    again = post_text(http, {"filename": "h.md", "text": "v1", "external_id": "handbook"})
    assert again.json()["documents"][0] == {**first, "duplicate": True}
    v2 = post_text(http, {"filename": "h.md", "text": "v2", "external_id": "handbook"})
    (second,) = v2.json()["documents"]
    assert v2.status_code == 202 and second["id"] == first["id"]
    assert (second["version"], second["duplicate"], second["external_id"]) == (2, False, "handbook")
    assert [(e.version, e.external_id) for _, e in publisher.sent] == [
        (1, "handbook"),
        (2, "handbook"),
    ]
    assert state.blobs.data[publisher.sent[-1][1].blob_key] == b"v2"  # type: ignore[attr-defined]


def test_external_id_ignores_other_documents_with_the_same_bytes() -> None:
    http, _ = client()
    plain = upload(http, "a.md", b"same").json()["documents"][0]
    keyed = upload(http, "a.md", b"same", form={"external_id": "k1"}).json()["documents"][0]
    assert keyed["id"] != plain["id"] and keyed["duplicate"] is False


def test_external_id_needs_a_single_file() -> None:
    http, _ = client()
    files = [("file", ("a.md", b"a")), ("file", ("b.md", b"b"))]
    reply = http.post(
        "/v1/documents", files=files, data={"external_id": "k"}, headers={"X-Tenant-ID": "acme"}
    )
    assert reply.status_code == 422
    assert reply.json()["detail"] == "external_id applies to a single file"


def test_reprocess_publishes_the_next_version_from_the_row() -> None:
    publisher = FakePublisher()
    http, _ = client(publisher)
    doc = upload(http, "a.md", b"content").json()["documents"][0]
    reply = http.post(f"/v1/documents/{doc['id']}/reprocess", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 202
    assert reply.json() == {"id": doc["id"], "status": "uploaded", "version": 2}
    first, second = (e for _, e in publisher.sent)
    assert second.version == 2 and second.blob_key == first.blob_key


def test_reprocess_of_unknown_or_deleted_document_is_404() -> None:
    http, state = client()
    reply = http.post(f"/v1/documents/{uuid.uuid4()}/reprocess", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 404 and reply.json()["detail"] == "document not found"
    doc = upload(http, "a.md", b"content").json()["documents"][0]
    key = ("acme", uuid.UUID(doc["id"]))
    state.documents.rows[key] = replace(  # type: ignore[attr-defined]
        state.documents.rows[key],  # type: ignore[attr-defined]
        status=DocumentStatus.DELETED,
    )
    reply = http.post(f"/v1/documents/{doc['id']}/reprocess", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 404


def test_reprocess_not_enqueued_is_503_and_left_for_a_retry() -> None:
    publisher = FakePublisher()
    http, state = client(publisher)
    doc = upload(http, "a.md", b"content").json()["documents"][0]
    publisher.fail = True
    reply = http.post(f"/v1/documents/{doc['id']}/reprocess", headers={"X-Tenant-ID": "acme"})
    assert reply.status_code == 503
    (row,) = state.documents.rows.values()  # type: ignore[attr-defined]
    assert (row.status, row.version, row.enqueued_version) == (DocumentStatus.UPLOADED, 2, 1)


def test_settings_default_put_get_and_unknown_strategy() -> None:
    http, _ = client()
    acme, other = {"X-Tenant-ID": "acme"}, {"X-Tenant-ID": "other"}
    assert http.get("/v1/settings", headers=acme).json() == {"chunking": "token_window"}
    reply = http.put("/v1/settings", json={"chunking": "sentence"}, headers=acme)
    assert reply.status_code == 200 and reply.json() == {"chunking": "sentence"}
    assert http.get("/v1/settings", headers=acme).json() == {"chunking": "sentence"}
    assert http.get("/v1/settings", headers=other).json() == {"chunking": "token_window"}
    assert http.put("/v1/settings", json={"chunking": "words"}, headers=acme).status_code == 422
    assert http.put("/v1/settings", json={}, headers=acme).status_code == 422
    assert http.get("/v1/settings", headers=acme).json() == {"chunking": "sentence"}


def test_upload_carries_requested_else_tenant_chunking() -> None:
    publisher = FakePublisher()
    http, _ = client(publisher)
    upload(http, "a.md", b"no choice anywhere")
    http.put("/v1/settings", json={"chunking": "sentence"}, headers={"X-Tenant-ID": "acme"})
    upload(http, "b.md", b"tenant default")
    upload(http, "c.md", b"asked for", form={"chunking": "structure"})
    post_text(http, {"filename": "d.md", "text": "asked in JSON", "chunking": "token_window"})
    post_text(http, {"filename": "e.md", "text": "tenant default in JSON"})
    assert [e.chunking for _, e in publisher.sent] == [
        None,
        "sentence",
        "structure",
        "token_window",
        "sentence",
    ]


def test_upload_with_unknown_chunking_is_422() -> None:
    publisher = FakePublisher()
    http, _ = client(publisher)
    reply = upload(http, "a.md", b"x", form={"chunking": "words"})
    assert reply.status_code == 422
    assert reply.json()["detail"] == (
        "unknown chunking strategy 'words'; use one of token_window, structure, sentence"
    )
    assert (
        post_text(http, {"filename": "a.md", "text": "x", "chunking": "words"}).status_code == 422
    )
    assert publisher.sent == []
