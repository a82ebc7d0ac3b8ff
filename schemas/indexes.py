"""Index versions: a tenant's vector index rebuilt with another model, precision or chunking.

A rebuild makes a new index version (its own Qdrant collection or pgvector table)
while queries keep using the active one. ``index.rebuild.<tenant>`` asks ingest_svc
to replay the tenant's documents into it (``document.uploaded`` with ``index_id``);
their ``chunks.ready`` batches carry the same ``index_id`` and embed_svc writes them
to the new version only. ``index.status.<tenant>`` says how far it got, and when it
became the active one.
"""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas.documents import Progress
from schemas.envelope import Envelope

EmbeddingPrecision = Literal["fp32", "int8"]
"""How the embedding model runs: as exported, or with int8 weights (``RAGBUS_EMBED_PRECISION``)."""


class IndexState(StrEnum):
    """Lifecycle of an index version.

    ``building`` -> ``active`` (the switch) -> ``retired`` (replaced; its vectors are
    dropped after a grace period) -> ``dropped``. A build may instead end
    ``aborted`` (by an admin) or ``failed`` (a document could not be replayed); its
    vectors are dropped at once and the active version is untouched.
    """

    BUILDING = "building"
    ACTIVE = "active"
    RETIRED = "retired"
    ABORTED = "aborted"
    FAILED = "failed"
    DROPPED = "dropped"


class RebuildIndex(Envelope):
    """Command: replay the tenant's documents into index version ``index_id``
    (subject ``index.rebuild``).

    The gateway sends it when a tenant admin starts a rebuild; embed_svc sends it
    again for documents the version still lacks (indexed during the rebuild, or
    whose replay stalled). ingest_svc replays only those, so a repeat is harmless.
    """

    index_id: int = Field(ge=1)


class IndexStatusChanged(Envelope):
    """An index version moved or made progress (subject ``index.status``).

    Attributes:
        index_id: The index version.
        status: Its state now.
        progress: Documents indexed in it out of those it needs (while building).
        error: Why a build failed.
    """

    index_id: int = Field(ge=1)
    status: IndexState
    progress: Progress = Field(default_factory=Progress)
    error: str | None = None
