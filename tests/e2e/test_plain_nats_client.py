"""A client with only nats-py, importing nothing from ragbus, uses the public contracts."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import nats
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TEXT = """# Zebra husbandry notes

Zebras at the Okavango sanctuary are fed lucerne hay twice a day, at 07:00 and 16:00.
Each adult zebra receives nine kilograms of hay per day during the dry season.

## Hoof care

A farrier trims the zebras' hooves every ten weeks while they are sedated.
"""


def envelope(tenant: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "occurred_at": datetime.now(UTC).isoformat(),
        "schema_version": 1,
    }


async def next_matching(sub, key: str, value: str, timeout_s: float) -> dict:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await sub.next_msg(timeout=timeout_s)
            body = json.loads(msg.data)
            if body.get(key) == value:
                return body


async def test_plain_nats_client_gets_cited_answer(stack, nats_url: str) -> None:
    """The ragbus stack runs (fixture ``stack``); this module imports nothing from ragbus."""
    tenant = f"plain-{uuid.uuid4().hex[:8]}"
    document_id = str(uuid.uuid4())
    query_id = str(uuid.uuid4())
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        indexed = await nc.subscribe("document.indexed")
        answers = await nc.subscribe("answer.ready")
        upload = {
            **envelope(tenant),
            "document_id": document_id,
            "filename": "zebras.md",
            "inline_text": TEXT,
        }
        ack = await js.publish("document.uploaded", json.dumps(upload).encode())
        assert ack.stream == "RAGBUS_DOCUMENTS"
        done = await next_matching(indexed, "document_id", document_id, 300)
        assert done["chunks"] >= 1

        question = {
            **envelope(tenant),
            "query_id": query_id,
            "question": "How much hay does an adult zebra get per day?",
            "top_k": 3,
        }
        await js.publish("query.requested", json.dumps(question).encode())
        answer = await next_matching(answers, "query_id", query_id, 120)
    finally:
        await nc.close()
    assert answer["found"] is True
    assert "nine kilograms" in answer["answer"]
    assert [c["document_id"] for c in answer["citations"]] == [document_id]
    assert answer["citations"][0]["filename"] == "zebras.md"
