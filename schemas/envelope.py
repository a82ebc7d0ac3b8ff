"""The envelope every ragbus event carries."""

from datetime import UTC, datetime
from typing import Annotated, Final, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION: Final = 2
"""Major version of every contract in this package; bumped only on a breaking change.

2: the subjects clients use carry the tenant (``document.uploaded.<tenant>``,
``answer.ready.<tenant>``, ...; :mod:`schemas.subjects`), and the envelope may name
the principal. The payloads are otherwise those of 1."""

TenantId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
]
"""A tenant id: 1-128 characters, letters, digits and ``._:@-``, not starting with punctuation."""


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields shared by every event.

    Attributes:
        event_id: Unique id of this event; also the ``Nats-Msg-Id`` used for
            JetStream de-duplication when the producer does not set one.
        tenant_id: The tenant that owns the data. Every read and write is scoped by it.
        occurred_at: When the producer created the event (UTC, ISO 8601).
        schema_version: Major contract version, always ``2`` here.
        principal_id: The authenticated user or service account that caused the
            event (set by the gateway from the request's credential; ``None`` for
            events a service emits on its own). Consumers record it (query history,
            audit) and never take a tenant or a permission from it.
    """

    # Consumers ignore unknown fields so producers can add optional ones within a
    # version; the exported JSON Schema says ``additionalProperties: false`` so that
    # producers (ours and clients') never send a field the contract does not name.
    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False}
    )

    event_id: UUID = Field(default_factory=uuid4)
    tenant_id: TenantId
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: Literal[2] = SCHEMA_VERSION
    principal_id: str | None = Field(None, max_length=256)
