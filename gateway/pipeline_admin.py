"""A tenant admin's view of the pipeline: its dead letters (read, replay).

Dead letters live in the ``RAGBUS_DLQ`` stream (:class:`ragbus.dead_letters.DeadLetterQueue`)
for every tenant at once; a tenant admin sees and replays only those whose
``tenant_id`` is their tenant, and any other id is a 404 exactly like one that never
existed. Letters without a readable tenant (undecodable poison messages) are the
operator's: ``ragbus dlq``.

The backlog per stage (``GET /v1/admin/pipeline``) is :func:`ragbus.backlogs.read_backlogs`,
as ``ragbus status`` and the autoscalers read it. It is the cluster's, summed over
tenants, like the consumer gauges of ``/metrics`` that a tenant admin may read too.
"""

import contextlib
import json
from typing import Any

from fastapi import HTTPException
from nats.js import JetStreamContext

from ragbus.dead_letters import DeadLetterQueue, StoredDeadLetter

MAX_SHOWN = 500
"""Most dead letters listed at once (the newest)."""
PAYLOAD_KEYS = ("document_id", "filename", "query_id", "question", "version")
"""Fields of the original event shown with a letter, when it has them."""


def letter_json(entry: StoredDeadLetter) -> dict[str, Any]:
    """A dead letter for people: why, where from, and what it was about.

    The original payload and headers are left out (replay sends them as stored);
    ``about`` holds the few fields of :data:`PAYLOAD_KEYS` the payload has.
    """
    letter = entry.letter
    about: dict[str, Any] = {}
    with contextlib.suppress(ValueError, TypeError):
        payload = json.loads(letter.data)
        about = {k: payload[k] for k in PAYLOAD_KEYS if isinstance(payload, dict) and k in payload}
    return {
        "id": entry.id,
        "reason": str(letter.reason),
        "error_code": letter.error_code,
        "error": letter.error,
        "subject": letter.original_subject,
        "consumer": letter.consumer,
        "deliveries": letter.deliveries,
        "occurred_at": letter.occurred_at.isoformat(),
        "about": about,
    }


async def tenant_letters(js: JetStreamContext, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's dead letters, newest first (at most :data:`MAX_SHOWN`)."""
    entries = await DeadLetterQueue(js).entries()
    mine = [letter_json(e) for e in entries if e.letter.tenant_id == tenant_id]
    return mine[::-1][:MAX_SHOWN]


async def replay_letter(js: JetStreamContext, tenant_id: str, entry_id: int) -> dict[str, Any]:
    """Publish the tenant's dead letter ``entry_id`` again and remove it.

    Returns:
        ``{"id", "subject", "sequence"}``: where the message went.

    Raises:
        HTTPException: 404 when there is no such letter of this tenant.
    """
    queue = DeadLetterQueue(js)
    try:
        entry = await queue.get(entry_id)
    except KeyError:
        entry = None
    if entry is None or entry.letter.tenant_id != tenant_id:
        raise HTTPException(404, "dead letter not found")
    try:
        sequence = await queue.replay(entry_id)
    except KeyError:  # replayed by someone else in between
        raise HTTPException(404, "dead letter not found") from None
    return {"id": entry_id, "subject": entry.letter.original_subject, "sequence": sequence}
