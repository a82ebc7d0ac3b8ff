"""The dead-letter contract: a message ragbus gave up on, kept with why and where from.

Dead letters are stored in the ``RAGBUS_DLQ`` stream on ``dlq.<original subject>``
(for example ``dlq.document.uploaded``), one message per original JetStream message.
``ragbus dlq list | show | replay`` reads and replays them.
"""

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import SCHEMA_VERSION, TenantId, utcnow

DLQ_PREFIX: Final = "dlq"
DLQ_SUBJECTS: Final = "dlq.>"
"""Every dead-letter subject: ``dlq.`` followed by the original subject."""


def dead_letter_subject(original_subject: str) -> str:
    """The subject a message first published on ``original_subject`` is dead-lettered on."""
    return f"{DLQ_PREFIX}.{original_subject}"


class DeadLetterReason(StrEnum):
    """Why a message was dead-lettered.

    * ``permanent_error``: the handler raised a permanent error (bad input).
    * ``retries_exhausted``: a transient error on the consumer's last allowed delivery.
    * ``max_deliveries``: JetStream itself stopped redelivering (a worker that
      crashed or hung on it every time).
    * ``forbidden``: the event reaches beyond its sender's tenant (its subject names
      another tenant, its blob or document belongs to another one); nothing was
      changed.
    * ``invalid_event``: the payload cannot be decoded or validated as the subject's
      event; dead-lettered on its first delivery, raw bytes kept.
    """

    PERMANENT_ERROR = "permanent_error"
    RETRIES_EXHAUSTED = "retries_exhausted"
    MAX_DELIVERIES = "max_deliveries"
    FORBIDDEN = "forbidden"
    INVALID_EVENT = "invalid_event"


class DeadLettered(BaseModel):
    """A JetStream message that will not be processed again unless replayed.

    It carries the envelope fields, except that ``tenant_id`` is ``None`` when the
    original payload had no readable tenant (a poison message may be any bytes).

    Attributes:
        event_id: Unique id of this dead letter.
        tenant_id: ``tenant_id`` of the original event, when it could be read.
        occurred_at: When the message was dead-lettered (UTC).
        schema_version: Always ``2``.
        reason: See :class:`DeadLetterReason`.
        error_code: Stable code of the last error, e.g. ``parse_failed``.
        error: Readable last error (at most 2,000 characters; longer ones are cut).
        original_subject: Subject the message was published on; replay goes there.
        original_stream: Stream that stored it.
        original_sequence: Its sequence number in that stream.
        consumer: Durable consumer that gave up on it.
        deliveries: Times JetStream had delivered it to that consumer.
        headers: The original NATS headers (``Nats-Msg-Id``, ``traceparent`` ...).
        data: The original payload bytes, base64 in JSON.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
        json_schema_extra={"additionalProperties": False},
    )

    event_id: UUID = Field(default_factory=uuid4)
    tenant_id: TenantId | None = None
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: Literal[2] = SCHEMA_VERSION
    reason: DeadLetterReason
    error_code: str = Field(min_length=1, max_length=128)
    error: str = Field(max_length=2000)
    original_subject: str = Field(min_length=1)
    original_stream: str = Field(min_length=1)
    original_sequence: int = Field(ge=1)
    consumer: str
    deliveries: int = Field(ge=0)
    headers: dict[str, str] = Field(default_factory=dict)
    data: bytes


class TenantOnly(BaseModel):
    """Reads just ``tenant_id`` out of any ragbus event, ignoring everything else."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: TenantId
