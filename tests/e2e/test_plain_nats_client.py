"""A client with only nats-py and httpx, importing nothing from ragbus, uses the public
contracts: it learns its servers and subjects from ``GET /v1/nats``, connects with its
tenant's API key, uploads a document, asks and receives its cited answer, and nothing
of another tenant's."""

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime

import httpx
import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

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
        "schema_version": 2,
    }


async def next_matching(sub, key: str, value: str, timeout_s: float) -> dict:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await sub.next_msg(timeout=timeout_s)
            body = json.loads(msg.data)
            if body.get(key) == value:
                return body


async def access(url: str, key: str) -> dict:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as h:
        reply = await h.get("/v1/nats")
    assert reply.status_code == 200, reply.text
    return reply.json()


async def connect(
    found: dict, key: str, errors: list[str], seen: asyncio.Event | None = None, after: int = 1
) -> nats.NATS:
    """Connect as a client of ``found``'s tenant; ``seen`` is set at the ``after``-th error."""

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))
        if seen is not None and len(errors) == after:
            seen.set()

    return await nats.connect(
        found["servers"],
        token=key,
        inbox_prefix=found["inbox_prefix"],
        error_cb=on_error,
        allow_reconnect=False,
    )


async def test_plain_nats_client_gets_its_cited_answer_and_nothing_else(stack) -> None:
    """The ragbus stack runs (fixture ``stack``); this module imports nothing from ragbus."""
    tenant, other = f"plain-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    key, other_key = await stack.key(tenant), await stack.key(other)
    found, other_found = await access(stack.url, key), await access(stack.url, other_key)
    subjects = found["subjects"]
    assert subjects["document.uploaded"] == f"document.uploaded.{tenant}"
    document_id, query_id = str(uuid.uuid4()), str(uuid.uuid4())
    errors: list[str] = []
    nc, spy = await connect(found, key, errors), await connect(other_found, other_key, errors)
    try:
        js = nc.jetstream()
        indexed = await nc.subscribe(subjects["document.indexed"])
        answers = await nc.subscribe(subjects["answer.ready"])
        deltas = await nc.subscribe(subjects["answer.delta"].replace("<query_id>", query_id))
        spied = await spy.subscribe(other_found["subjects"]["answer.ready"])
        upload = {
            **envelope(tenant),
            "document_id": document_id,
            "filename": "zebras.md",
            "inline_text": TEXT,
        }
        ack = await js.publish(subjects["document.uploaded"], json.dumps(upload).encode())
        assert ack.stream == "RAGBUS_DOCUMENTS"
        done = await next_matching(indexed, "document_id", document_id, 300)
        assert done["chunks"] >= 1

        question = {
            **envelope(tenant),
            "query_id": query_id,
            "question": "How much hay does an adult zebra get per day?",
            "top_k": 3,
        }
        await js.publish(subjects["query.requested"], json.dumps(question).encode())
        answer = await next_matching(answers, "query_id", query_id, 120)
        first_delta = json.loads((await deltas.next_msg(timeout=5)).data)
        with pytest.raises(NatsTimeout):
            await spied.next_msg(timeout=1)  # the other tenant hears nothing of it
    finally:
        await nc.close()
        await spy.close()
    assert answer["found"] is True
    assert "nine kilograms" in answer["answer"]
    assert [c["document_id"] for c in answer["citations"]] == [document_id]
    assert answer["citations"][0]["filename"] == "zebras.md"
    assert first_delta["query_id"] == query_id
    assert errors == []


async def test_a_client_is_held_to_its_own_tenant(stack) -> None:
    """Eavesdropping on every subject, another tenant's answers, internal subjects and
    publishing as another tenant are all refused by NATS; a bad key never connects."""
    tenant = f"plain-{uuid.uuid4().hex[:8]}"
    key = await stack.key(tenant)
    found = await access(stack.url, key)
    errors: list[str] = []
    all_refused = asyncio.Event()
    nc = await connect(found, key, errors, all_refused, after=7)
    try:
        for subject in (">", "answer.ready.*", "answer.ready.someone-else", "chunks.ready.*"):
            await nc.subscribe(subject)
        await nc.publish("document.uploaded.someone-else", b"{}")
        await nc.publish("document.delete." + tenant, b"{}")
        await nc.publish("context.retrieved", b"{}")
        await nc.flush()
        await asyncio.wait_for(all_refused.wait(), 10)
    finally:
        await nc.close()
    assert all("permissions violation" in e.lower() for e in errors), errors
    assert len(errors) == 7
    for credential in ({"token": "rbk_forged_key"}, {}):  # a made-up key; none at all
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(found["servers"], allow_reconnect=False, **credential)


async def test_an_admin_makes_nats_credentials_for_a_role(stack) -> None:
    """``POST /v1/admin/nats-credentials`` makes a key of the role asked for; a reader
    may ask and listen but not upload; a member may not make credentials at all."""
    tenant = f"plain-{uuid.uuid4().hex[:8]}"
    admin, member = await stack.key(tenant), await stack.key(tenant, "member")
    async with httpx.AsyncClient(base_url=stack.url) as h:
        made = await h.post(
            "/v1/admin/nats-credentials",
            json={"name": "dashboard", "role": "reader"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        refused = await h.post(
            "/v1/admin/nats-credentials",
            json={"name": "sneaky", "role": "reader"},
            headers={"Authorization": f"Bearer {member}"},
        )
    assert made.status_code == 201, made.text
    assert refused.status_code == 403
    found = made.json()
    assert found["api_key"]["role"] == "reader" and found["tenant"] == tenant
    assert found["permissions"]["publish"] == [f"query.requested.{tenant}"]
    errors: list[str] = []
    refusal = asyncio.Event()
    nc = await connect(found, found["key"], errors, refusal)
    try:
        answers = await nc.subscribe(found["subjects"]["answer.ready"])
        await nc.publish(found["subjects"]["query.requested"], b"{}")  # allowed, if useless
        await nc.publish(f"document.uploaded.{tenant}", b"{}")
        await nc.flush()
        await asyncio.wait_for(refusal.wait(), 10)
        await answers.unsubscribe()
    finally:
        await nc.close()
    assert errors == [f'nats: permissions violation for publish to "document.uploaded.{tenant}"']


async def test_an_operator_makes_nats_credentials_for_any_tenant(stack, tmp_path) -> None:
    """``ragbus nats creds --tenant T``: a key made in Postgres that NATS admits as T's."""
    tenant = f"ops-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": stack.infra.database_url,
        "NATS_URL": stack.infra.nats_url,
        "RAGBUS_DATA_DIR": str(tmp_path),
    }
    args = ["nats", "creds", "--tenant", tenant, "--role", "reader", "--name", "ops"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from ragbus_tools.cli import main; main()", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    found = json.loads(out)
    assert (found["tenant"], found["role"]) == (tenant, "reader")
    assert "@" not in found["servers"][0]  # the operator's credentials are not handed out
    errors: list[str] = []
    nc = await connect(found, found["key"], errors)
    try:
        await nc.subscribe(found["subjects"]["answer.ready"])
        await nc.flush()
    finally:
        await nc.close()
    assert errors == []
