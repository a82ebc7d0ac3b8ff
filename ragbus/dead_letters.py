"""The dead-letter queue: writing dead letters, reading them back, replaying them.

A dead letter (:class:`schemas.dead_letters.DeadLettered`) is written to the
``RAGBUS_DLQ`` stream by :func:`ragbus.bus.settle` before it terminates a message,
and by :func:`capture_max_deliveries` when JetStream stopped redelivering a message
on its own. Each original message is dead-lettered once: the dead letter's
``Nats-Msg-Id`` is ``dlq:<stream>:<sequence>``, so both paths, or a retry, store it once
within the two-minute duplicate window.

An entry's id is its sequence number in ``RAGBUS_DLQ``. Replay publishes the
original payload and headers to the original subject with a fresh ``Nats-Msg-Id``,
then deletes the entry.
"""

import logging
import uuid
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ValidationError

from deploy.jetstream import DLQ_STREAM, STREAMS
from schemas.dead_letters import (
    DLQ_SUBJECTS,
    DeadLettered,
    DeadLetterReason,
    TenantOnly,
    dead_letter_subject,
)

__all__ = [
    "DeadLetterQueue",
    "MaxDeliveriesAdvisory",
    "StoredDeadLetter",
    "capture_max_deliveries",
    "dead_letter",
    "delivered_by",
]

log = logging.getLogger(__name__)

DLQ_NAME = DLQ_STREAM.name or "RAGBUS_DLQ"
REPLAY_DROPPED_HEADERS = ("nats-msg-id", "nats-expected-")
"""Headers not carried over on replay: the old dedup id (a replay must not be
dropped as a duplicate) and publish expectations that held only the first time."""
MAX_ERROR_CHARS = 2000
"""``DeadLettered.error`` is capped here (the schema's limit)."""


def delivered_by(raw: Msg) -> NATS:
    """The connection that delivered ``raw``.

    nats-py acks, naks and terms through this same connection (``Msg._client``) and
    offers no public accessor; publishing the dead letter on it means it goes out
    exactly when the message could be settled.
    """
    return raw._client


def _tenant_of(data: bytes) -> str | None:
    try:
        return TenantOnly.model_validate_json(data).tenant_id
    except ValidationError:
        return None


async def _publish(js: JetStreamContext, letter: DeadLettered) -> None:
    # Per consumer: a message two consumers give up on (document.delete is read by
    # ingest and embed) is two dead letters, not one dropped as a duplicate.
    dedup = f"dlq:{letter.original_stream}:{letter.original_sequence}:{letter.consumer}"
    await js.publish(
        dead_letter_subject(letter.original_subject),
        letter.model_dump_json().encode(),
        headers={"Nats-Msg-Id": dedup},
        stream=DLQ_NAME,
    )


async def dead_letter(raw: Msg, *, reason: DeadLetterReason, code: str, error: str) -> None:
    """Store ``raw`` (payload, headers, origin) in the DLQ and wait for JetStream's ack.

    Args:
        raw: A JetStream message being given up on.
        reason: Why.
        code: Stable error code, e.g. ``parse_failed``.
        error: Readable error; cut to 2,000 characters.

    Raises:
        nats.errors.Error: the DLQ did not store it (the caller must not term then).
    """
    meta = raw.metadata
    letter = DeadLettered(
        tenant_id=_tenant_of(raw.data),
        reason=reason,
        error_code=code[:128] or "error",
        error=error[:MAX_ERROR_CHARS],
        original_subject=raw.subject,
        original_stream=meta.stream,
        original_sequence=meta.sequence.stream,
        consumer=meta.consumer or "",
        deliveries=meta.num_delivered,
        headers=dict(raw.headers or {}),
        data=raw.data,
    )
    await _publish(delivered_by(raw).jetstream(), letter)


class MaxDeliveriesAdvisory(BaseModel):
    """The part of JetStream's ``io.nats.jetstream.advisory.v1.max_deliver`` ragbus reads."""

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


async def capture_max_deliveries(js: JetStreamContext, advisory: MaxDeliveriesAdvisory) -> bool:
    """Dead-letter the message an advisory is about, read back from its stream.

    Only ragbus's own work streams are captured (tests and other applications may
    share the server). Returns whether a dead letter was written: ``False`` for
    another stream, or when the message is gone (acked from a work queue, expired).

    Raises:
        nats.errors.Error: NATS did not answer (the advisory is then retried).
    """
    ours = {config.name for config in STREAMS} - {DLQ_NAME}
    if advisory.stream not in ours:
        return False
    try:
        original = await js.get_msg(advisory.stream, advisory.stream_seq)
    except NotFoundError:
        log.warning(
            "max-deliveries advisory for a message that is gone", extra=advisory.model_dump()
        )
        return False
    data = original.data or b""
    letter = DeadLettered(
        tenant_id=_tenant_of(data),
        reason=DeadLetterReason.MAX_DELIVERIES,
        error_code="max_deliveries",
        error=(
            f"JetStream stopped redelivering after {advisory.deliveries} deliveries to"
            f" {advisory.consumer}; the handler never settled it (undecodable payload,"
            " or a worker that crashed or hung every time)"
        ),
        original_subject=original.subject or "",
        original_stream=advisory.stream,
        original_sequence=advisory.stream_seq,
        consumer=advisory.consumer,
        deliveries=advisory.deliveries,
        headers=dict(original.headers or {}),
        data=data,
    )
    await _publish(js, letter)
    log.error(
        "dead-lettered after max deliveries",
        extra={
            "stream": advisory.stream,
            "seq": advisory.stream_seq,
            "consumer": advisory.consumer,
        },
    )
    return True


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter and its id (its sequence number in ``RAGBUS_DLQ``)."""

    id: int
    letter: DeadLettered


class DeadLetterQueue:
    """Reads and replays the ``RAGBUS_DLQ`` stream.

    Args:
        js: A JetStream context on a connected client.
    """

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def entries(self, *, limit: int | None = None) -> list[StoredDeadLetter]:
        """Dead letters oldest first, at most ``limit`` of them."""
        found: list[StoredDeadLetter] = []
        seq = 1
        while limit is None or len(found) < limit:
            try:
                raw = await self._js.get_msg(DLQ_NAME, seq, subject=DLQ_SUBJECTS, next=True)
            except NotFoundError:
                break
            assert raw.seq is not None
            found.append(
                StoredDeadLetter(raw.seq, DeadLettered.model_validate_json(raw.data or b""))
            )
            seq = raw.seq + 1
        return found

    async def get(self, entry_id: int) -> StoredDeadLetter:
        """One dead letter by id.

        Raises:
            KeyError: there is no such entry (never was, or replayed and removed).
        """
        try:
            raw = await self._js.get_msg(DLQ_NAME, entry_id)
        except NotFoundError:
            raise KeyError(f"no dead letter {entry_id}") from None
        return StoredDeadLetter(entry_id, DeadLettered.model_validate_json(raw.data or b""))

    async def replay(self, entry_id: int) -> int:
        """Publish the original message again, then remove the entry.

        The original headers go along (trace context included) except the old
        ``Nats-Msg-Id`` and publish expectations; the new ``Nats-Msg-Id`` is
        ``replay:<entry>:<uuid4>`` and ``Ragbus-Replay-Of`` names the entry. Consumers
        are idempotent, so replaying something already done changes nothing.

        Returns:
            The sequence number of the republished message in its stream.

        Raises:
            KeyError: no such entry.
            nats.errors.Error: JetStream did not take the message (the entry stays).
        """
        entry = await self.get(entry_id)
        letter = entry.letter
        headers = {
            k: v
            for k, v in letter.headers.items()
            if not k.lower().startswith(REPLAY_DROPPED_HEADERS)
        }
        headers["Nats-Msg-Id"] = f"replay:{entry_id}:{uuid.uuid4()}"
        headers["Ragbus-Replay-Of"] = f"{DLQ_NAME}:{entry_id}"
        ack = await self._js.publish(letter.original_subject, letter.data, headers=headers)
        await self._js.delete_msg(DLQ_NAME, entry_id)
        log.info(
            "replayed dead letter",
            extra={"entry": entry_id, "subject": letter.original_subject, "seq": ack.seq},
        )
        return int(ack.seq)

    async def replay_all(self) -> list[int]:
        """Replay every entry, oldest first; returns the ids replayed."""
        replayed = []
        for entry in await self.entries():
            await self.replay(entry.id)
            replayed.append(entry.id)
        return replayed
