"""The answer cache through the gateway: hits skip the bus, ingest and delete invalidate.

The whole stack runs (real nats-server, Postgres, model, Qdrant local); answers
come from the offline extractive answerer. A core NATS subscription counts the
``query.requested`` events of each tenant, so a hit is proved to publish nothing.
"""

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from httpx_sse import aconnect_sse
from nats.aio.subscription import Subscription

from ragbus_tools.client import RagbusClient
from schemas import subjects as s
from tests.e2e.stack import RunningStack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PROCESSES = """\
The spawn function starts a new child process that runs the given command.
To stop a running child process, call its kill method, which sends the SIGTERM signal by default.
The exit event of a child process reports the exit code once the process has ended.
"""
SIGNALS = """\
To stop a child process gracefully, send it SIGINT first and wait for its exit event.
Only when it ignores SIGINT should you stop it with SIGKILL, which cannot be caught.
"""
QUESTION = "How do I stop a child process?"


class Published:
    """``query.requested`` events seen on NATS, counted by tenant.

    The gateway publishes ``query.requested`` to JetStream and waits for the
    stream's ack before it answers; the server routes the message to core
    subscribers while it hands it to the stream, before that ack. A PING sent after
    the answer is answered after the message on this connection, so after ``flush``
    every event the gateway published before answering is in the subscription's
    queue: counting needs no time allowance for stragglers.
    """

    def __init__(self, conn: nats.NATS, sub: Subscription) -> None:
        self._conn = conn
        self._sub = sub
        self._counts: Counter = Counter()

    async def count(self, tenant: str) -> int:
        """Events for ``tenant`` published before this call."""
        await self._conn.flush()
        for _ in range(self._sub.pending_msgs):
            msg = await self._sub.next_msg(timeout=1)
            self._counts[json.loads(msg.data)["tenant_id"]] += 1
        return self._counts[tenant]


@pytest.fixture(scope="module")
async def published(stack: RunningStack) -> AsyncIterator[Published]:
    """Counts the ``query.requested`` events on the module's stack."""
    conn = await nats.connect(stack.infra.nats_url)
    sub = await conn.subscribe(s.every_tenant(s.QUERY_REQUESTED))
    await conn.flush()
    yield Published(conn, sub)
    await conn.drain()


@contextlib.asynccontextmanager
async def tenant_client(stack: RunningStack, *texts: str) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh tenant with ``texts`` uploaded and indexed."""
    tenant = f"cache-{uuid.uuid4().hex[:8]}"
    # X-Tenant-ID only names the tenant for the test's own counting; the gateway
    # takes the tenant from the key.
    headers = {"X-Tenant-ID": tenant, **await stack.headers(tenant)}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=120) as http:
        for i, text in enumerate(texts):
            await upload(http, f"doc{i}.txt", text)
        yield http


async def upload(http: httpx.AsyncClient, filename: str, text: str) -> str:
    raw = await http.post("/v1/documents", json={"filename": filename, "text": text})
    assert raw.status_code == 202, raw.text
    doc_id = raw.json()["documents"][0]["id"]
    key = http.headers["Authorization"].removeprefix("Bearer ")
    async with RagbusClient(str(http.base_url), key) as client:
        docs = await wait_final(client, [doc_id], 300)
    assert docs[doc_id]["status"] == "indexed", docs
    return doc_id


async def ask(http: httpx.AsyncClient, question: str = QUESTION, **options) -> dict:
    raw = await http.post("/v1/query", json={"question": question, **options})
    assert raw.status_code == 200, raw.text
    return raw.json()


async def settled(published: Published, tenant: str, expected: int) -> None:
    """Assert ``expected`` events for ``tenant`` so far."""
    assert await published.count(tenant) == expected


async def test_a_repeat_is_served_from_the_cache_until_an_ingest_or_delete(
    stack: RunningStack, published: Published
) -> None:
    async with tenant_client(stack, PROCESSES) as http:
        tenant = http.headers["X-Tenant-ID"]
        first = await ask(http)
        assert "cached" not in first and "kill" in first["answer"]
        await settled(published, tenant, 1)

        again = await ask(http, "  how do I STOP a child process ")
        assert again["cached"] is True and again["cached_from"] == first["query_id"]
        assert again["query_id"] != first["query_id"]
        assert (again["answer"], again["citations"]) == (first["answer"], first["citations"])
        assert again["usage"] is None and again["timings"]["generate_ms"] is None
        await settled(published, tenant, 1)  # nothing was published for the hit

        # The hit is a query of its own in the history, answered.
        stored = (await http.get(f"/v1/queries/{again['query_id']}")).json()
        assert stored["status"] == "answered" and stored["answer"] == first["answer"]
        assert (stored["cached"], stored["cached_from"]) == (True, first["query_id"])
        history = {q["query_id"]: q for q in (await http.get("/v1/queries")).json()["queries"]}
        assert history[again["query_id"]]["cached"] is True
        assert (
            history[first["query_id"]]["cached"],
            history[first["query_id"]]["cached_from"],
        ) == (
            False,
            None,
        )

        # SSE: the events of a live answer, marked cached.
        async with aconnect_sse(
            http, "POST", "/v1/query", json={"question": QUESTION, "stream": True}
        ) as source:
            events = [e async for e in source.aiter_sse()]
        assert [e.event for e in events] == ["query", "delta", "citations", "done"]
        done = json.loads(events[-1].data)
        assert done["cached"] is True and done["answer"] == first["answer"]
        assert json.loads(events[1].data) == {"seq": 0, "text": first["answer"]}
        assert json.loads(events[2].data) == first["citations"]
        await settled(published, tenant, 1)

        # Cache invalidation on ingest: a new indexed document bumps the index version.
        signals_id = await upload(http, "signals.txt", SIGNALS)
        after_ingest = await ask(http)
        assert "cached" not in after_ingest
        await settled(published, tenant, 2)
        assert (await ask(http))["cached"] is True
        await settled(published, tenant, 2)

        # Deleting a document invalidates too.
        deleted = await http.delete(f"/v1/documents/{signals_id}")
        assert deleted.status_code in (200, 202, 204), deleted.text
        after_delete = await ask(http)
        assert "cached" not in after_delete
        assert all(c["filename"] != "signals.txt" for c in after_delete["citations"])
        await settled(published, tenant, 3)


async def test_entries_are_never_shared_across_options_or_tenants(
    stack: RunningStack, published: Published
) -> None:
    async with tenant_client(stack, PROCESSES) as http, tenant_client(stack, PROCESSES) as other:
        tenant = http.headers["X-Tenant-ID"]
        assert "cached" not in await ask(http)
        assert (await ask(http))["cached"] is True
        assert "cached" not in await ask(http, top_k=2)
        assert "cached" not in await ask(http, mode="dense")
        assert "cached" not in await ask(other)  # same documents, another tenant
        # Opting out neither reads nor fills the cache.
        assert "cached" not in await ask(http, cache=False)
        assert "cached" not in await ask(http, "What does the exit event report?", cache=False)
        assert "cached" not in await ask(http, "What does the exit event report?")
        await settled(published, tenant, 6)


async def test_chat_completions_use_the_cache(stack: RunningStack, published: Published) -> None:
    async with tenant_client(stack, PROCESSES) as http:
        tenant = http.headers["X-Tenant-ID"]
        body = {"model": "ragbus", "messages": [{"role": "user", "content": QUESTION}]}
        first = (await http.post("/v1/chat/completions", json=body)).json()
        assert first["ragbus"]["cached"] is False
        # Stored by the gateway's answer.ready subscriber: allow it a moment.
        for _ in range(50):
            again = (await http.post("/v1/chat/completions", json=body)).json()
            if again["ragbus"]["cached"]:
                break
            await asyncio.sleep(0.2)
        assert again["ragbus"]["cached"] is True
        assert (
            again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
        )
        assert again["citations"] == first["citations"]
        hits = await published.count(tenant)
        opted_out = await http.post("/v1/chat/completions", json={**body, "cache": False})
        assert opted_out.json()["ragbus"]["cached"] is False
        await settled(published, tenant, hits + 1)
