"""The event contracts: validation rules, derived ids, exported schema files."""

import json
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_CHUNKS_PER_BATCH,
    MAX_INLINE_TEXT_BYTES,
    ChunkPayload,
    ChunksReady,
    DocumentUploaded,
    QueryRequested,
    chunk_id,
)
from schemas import subjects as s
from schemas.catalog import EVENTS
from schemas.export import export_json_schemas

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_upload_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of blob_key and inline_text"):
        DocumentUploaded(tenant_id="t", filename="a.md")
    with pytest.raises(ValidationError, match="exactly one"):
        DocumentUploaded(tenant_id="t", filename="a.md", blob_key="k", inline_text="x")
    assert DocumentUploaded(tenant_id="t", filename="a.md", inline_text="x").inline_text == "x"


def test_inline_text_limit_is_in_utf8_bytes() -> None:
    at_limit = "é" * (MAX_INLINE_TEXT_BYTES // 2)  # 2 bytes each
    DocumentUploaded(tenant_id="t", filename="a.txt", inline_text=at_limit)
    with pytest.raises(ValidationError, match=f"the limit is {MAX_INLINE_TEXT_BYTES} bytes"):
        DocumentUploaded(tenant_id="t", filename="a.txt", inline_text=at_limit + "é")


@pytest.mark.parametrize("tenant", ["", " x", "a/b", "x" * 129, "-lead"])
def test_bad_tenant_ids_are_refused(tenant: str) -> None:
    with pytest.raises(ValidationError):
        QueryRequested(tenant_id=tenant, query_id=uuid.uuid4(), question="q")


def test_consumers_ignore_unknown_fields() -> None:
    body = {"tenant_id": "t", "filename": "a.md", "inline_text": "x", "added_in_v1_1": 3}
    event = DocumentUploaded.model_validate(body)
    assert "added_in_v1_1" not in event.model_dump()


def test_document_id_is_derived_deterministically_when_omitted() -> None:
    event = DocumentUploaded(tenant_id="t", filename="a.md", inline_text="x")
    again = DocumentUploaded.model_validate_json(event.model_dump_json())
    assert event.resolved_document_id() == again.resolved_document_id()
    other = DocumentUploaded(
        tenant_id="u", event_id=event.event_id, filename="a.md", inline_text="x"
    )
    assert other.resolved_document_id() != event.resolved_document_id()


def test_chunk_ids_are_stable_and_distinct() -> None:
    doc = uuid.uuid4()
    assert chunk_id("t", doc, 1, 0) == chunk_id("t", doc, 1, 0)
    ids = {chunk_id("t", doc, v, i) for v in (1, 2) for i in range(100)}
    assert len(ids) == 200
    assert chunk_id("t", doc, 1, 0) != chunk_id("u", doc, 1, 0)


def test_chunk_batches_are_bounded() -> None:
    chunk = ChunkPayload(chunk_id=uuid.uuid4(), index=0, text="x", token_count=1)
    with pytest.raises(ValidationError):
        ChunksReady(
            tenant_id="t",
            document_id=uuid.uuid4(),
            version=1,
            filename="a",
            batch_index=0,
            batch_count=1,
            total_chunks=MAX_CHUNKS_PER_BATCH + 1,
            chunks=[chunk] * (MAX_CHUNKS_PER_BATCH + 1),
        )


def test_card_subjects_exist_with_their_names() -> None:
    names = {s.DOCUMENT_UPLOADED, s.CHUNKS_READY, s.QUERY_REQUESTED, s.ANSWER_READY}
    assert names == {"document.uploaded", "chunks.ready", "query.requested", "answer.ready"}
    assert names <= EVENTS.keys()


def test_committed_json_schemas_match_the_models(tmp_path: Path) -> None:
    for path in export_json_schemas(tmp_path):
        committed = REPO / "schemas" / "jsonschema" / path.relative_to(tmp_path)
        assert committed.exists(), f"run `ragbus schemas export`: {committed} is missing"
        assert json.loads(committed.read_text()) == json.loads(path.read_text()), (
            f"{committed.name} is stale: run `ragbus schemas export`"
        )


def test_schema_forbids_unknown_fields_for_producers() -> None:
    schema = DocumentUploaded.model_json_schema()
    assert schema["additionalProperties"] is False
    assert {"tenant_id", "filename"} <= set(schema["required"])
