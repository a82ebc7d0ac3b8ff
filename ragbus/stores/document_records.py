"""The ``documents`` row as a value, and which status moves are allowed.

Status only moves forward (``uploaded`` -> ``parsing`` -> ``embedding`` ->
``indexed``); ``failed`` is reachable before ``indexed``; ``deleted`` is final.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import record_to_dict
from schemas.documents import DocumentStatus

_S = DocumentStatus
ALLOWED_FROM: dict[DocumentStatus, tuple[str, ...]] = {
    _S.PARSING: (_S.UPLOADED,),
    _S.EMBEDDING: (_S.UPLOADED, _S.PARSING),
    # An indexed document does not fail afterwards: a late redelivery must not
    # hide searchable content. Reprocess it instead.
    _S.FAILED: (_S.UPLOADED, _S.PARSING, _S.EMBEDDING),
    _S.DELETED: (_S.UPLOADED, _S.PARSING, _S.EMBEDDING, _S.INDEXED, _S.FAILED),
}
"""For each target status of ``DocumentRepository.set_status``, the statuses it may leave.

``indexed`` and ``uploaded`` are absent: they have their own guarded writes
(``mark_indexed``, and ``reset_for_reprocess`` or ``new_version``).
"""


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One ``documents`` row. Sizes in bytes, counts in chunks, times timezone-aware UTC.

    ``version`` is the version being (or last) processed; ``searchable_version`` is
    the one retrieval returns (None until a version is first indexed). They differ
    while a new version is parsed or embedded, or after it failed: the old one
    stays searchable meanwhile. ``external_id`` is the client's key of the document;
    ``chunking`` the strategy the current version was enqueued with (None: default);
    ``uploaded_by`` the principal whose upload created it (None: before identities,
    or submitted straight over NATS); ``enqueued_version`` the last version whose
    ``document.uploaded`` JetStream acknowledged (None: never enqueued, an upload
    that got no ``202``, which listings hide). ``running_lines_dropped``,
    ``empty_pages`` and ``parse_warning`` are what parsing the current version left
    out (``ingest_svc.parsers.parsed.ParseReport``; None before it was parsed);
    ``instruction_chunks`` how many of its chunks address an assistant.
    """

    tenant_id: str
    id: UUID
    filename: str
    content_type: str | None
    sha256: str | None
    size_bytes: int | None
    blob_key: str | None
    status: DocumentStatus
    error: str | None
    error_code: str | None
    version: int
    chunks_total: int
    chunks_embedded: int
    title: str | None
    parser: str | None
    page_count: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    indexed_at: datetime | None = None
    external_id: str | None = None
    searchable_version: int | None = None
    chunking: str | None = None
    uploaded_by: str | None = None
    enqueued_version: int | None = None
    running_lines_dropped: int | None = None
    empty_pages: int | None = None
    parse_warning: str | None = None
    instruction_chunks: int | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "DocumentRecord":
        """Build a record from a ``SELECT *`` row of ``documents``."""
        data = record_to_dict(row)
        data["status"] = DocumentStatus(data["status"])
        return cls(**data)
