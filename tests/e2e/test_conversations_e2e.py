"""Conversations, query history and resumed streams through the gateway.

The whole stack runs (real nats-server, Postgres, model, Qdrant local); answers
come from the offline extractive answerer.
"""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.credentials import bearer
from tests.e2e.stack import RunningStack, index_texts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PROCESSES = """\
The spawn function starts a new child process that runs the given command.
The output of the child process is read from its stdout stream by listening for data events.
To stop a running child process, call its kill method, which sends the SIGTERM signal by default.
The exit event of a child process reports the exit code once the process has ended.
"""
BREAD = """\
Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria.
The loaf is baked in a covered pot at a high temperature until the crust is brown.
"""


@pytest.fixture(scope="module")
async def tenant(stack: RunningStack) -> str:
    name = f"conv-{uuid.uuid4().hex[:8]}"
    texts = {"processes.txt": PROCESSES, "bread.txt": BREAD}
    await index_texts(stack.url, await stack.key(name), texts)
    return name


@contextlib.asynccontextmanager
async def client_for(
    stack: RunningStack, tenant: str, user: str, role: str = "member"
) -> AsyncIterator[httpx.AsyncClient]:
    """``user``'s client; its ``user_id`` attribute is the principal id the API records."""
    key, user_id = await stack.user(tenant, user, role)
    async with httpx.AsyncClient(base_url=stack.url, headers=bearer(key), timeout=60) as http:
        http.user_id = user_id  # type: ignore[attr-defined]
        yield http


async def test_follow_up_uses_the_previous_turn_and_privacy_holds(
    stack: RunningStack, tenant: str
) -> None:
    async with client_for(stack, tenant, "alice") as alice, client_for(stack, tenant, "bob") as bob:
        created = await alice.post("/v1/conversations", json={})
        assert created.status_code == 201
        conv = created.json()
        assert conv["visibility"] == "private" and conv["user_id"] == alice.user_id

        first = await alice.post(
            "/v1/query",
            json={"question": "How do I start a child process?", "conversation_id": conv["id"]},
        )
        assert first.status_code == 200, first.text
        follow = await alice.post(
            "/v1/query", json={"question": "And how do I stop it?", "conversation_id": conv["id"]}
        )
        assert follow.status_code == 200, follow.text
        assert "kill" in follow.json()["answer"]
        assert follow.json()["citations"][0]["filename"] == "processes.txt"
        assert 0 < follow.json()["confidence"] <= 1

        got = (await alice.get(f"/v1/conversations/{conv['id']}")).json()
        roles = [m["role"] for m in got["messages"]]
        assert roles == ["user", "assistant", "user", "assistant"]
        assert got["title"] == "How do I start a child process?"
        asked, answered = got["messages"][2], got["messages"][3]
        assert asked["content"] == "And how do I stop it?"
        assert answered["standalone_question"] == (
            "How do I start a child process? And how do I stop it?"
        )
        assert answered["status"] == "answered" and answered["citations"]
        assert answered["timings"]["generate_ms"] > 0

        # Private: bob neither sees it, nor lists it, nor asks in it, nor sees its turns.
        assert (await bob.get(f"/v1/conversations/{conv['id']}")).status_code == 404
        assert conv["id"] not in [
            c["id"] for c in (await bob.get("/v1/conversations")).json()["conversations"]
        ]
        denied = await bob.post(
            "/v1/query", json={"question": "What else?", "conversation_id": conv["id"]}
        )
        assert denied.status_code == 404
        bob_history = {q["query_id"] for q in (await bob.get("/v1/queries")).json()["queries"]}
        assert follow.json()["query_id"] not in bob_history
        alice_history = (
            await alice.get("/v1/queries", params={"conversation_id": conv["id"]})
        ).json()
        assert [q["question"] for q in alice_history["queries"]] == [
            "And how do I stop it?",
            "How do I start a child process?",
        ]

        markdown = await alice.get(f"/v1/conversations/{conv['id']}/export")
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert "## Question\n\nAnd how do I stop it?" in markdown.text
        assert "1. processes.txt (score" in markdown.text
        exported = (await alice.get(f"/v1/conversations/{conv['id']}/export?format=json")).json()
        assert exported["messages"][3]["citations"] == answered["citations"]

        assert (await alice.delete(f"/v1/conversations/{conv['id']}")).status_code == 204
        assert (await alice.get(f"/v1/conversations/{conv['id']}")).status_code == 404
        assert (await alice.get(f"/v1/queries/{follow.json()['query_id']}")).status_code == 404


async def test_tenant_conversation_is_shared_but_deleted_only_by_its_creator(
    stack: RunningStack, tenant: str
) -> None:
    async with client_for(stack, tenant, "alice") as alice, client_for(stack, tenant, "bob") as bob:
        conv = (
            await alice.post("/v1/conversations", json={"visibility": "tenant", "title": "Ops"})
        ).json()
        asked = await bob.post(
            "/v1/query", json={"question": "How is bread baked?", "conversation_id": conv["id"]}
        )
        assert asked.status_code == 200
        seen = (await alice.get(f"/v1/conversations/{conv['id']}")).json()
        assert seen["title"] == "Ops"
        assert seen["messages"][0]["user_id"] == bob.user_id
        assert (await bob.delete(f"/v1/conversations/{conv['id']}")).status_code == 403
        async with client_for(stack, tenant, "rita", role="reader") as reader:
            refused = await reader.post("/v1/conversations", json={"visibility": "private"})
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_stream_resumes_after_a_dropped_connection(stack: RunningStack, tenant: str) -> None:
    question = "How do I start a child process and read its output?"
    async with client_for(stack, tenant, "carol") as carol:
        async with aconnect_sse(
            carol, "POST", "/v1/query", json={"question": question, "stream": True}
        ) as source:
            events = source.aiter_sse()
            first = await anext(events)
            assert first.event == "query"
            query_id = json.loads(first.data)["query_id"]
            delta = await anext(events)
            assert delta.event == "delta" and delta.id == "0"
        # The connection is closed here, after one delta.

        resumed = await collect(carol, f"/v1/queries/{query_id}/events", last_event_id="0")
        deltas = [json.loads(e.data) for e in resumed if e.event == "delta"]
        done = json.loads(resumed[-1].data)
        assert resumed[-1].event == "done"
        assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
        assert len(deltas) >= 1
        assert json.loads(delta.data)["text"] + "".join(d["text"] for d in deltas) == done["answer"]

        whole = await collect(carol, f"/v1/queries/{query_id}/events")
        assert (
            "".join(json.loads(e.data)["text"] for e in whole if e.event == "delta")
            == done["answer"]
        )

        stored = (await carol.get(f"/v1/queries/{query_id}")).json()
        assert stored["status"] == "answered"
        assert stored["answer"] == done["answer"]
        assert stored["citations"] == done["citations"]
        assert (await carol.get(f"/v1/queries/{uuid.uuid4()}")).status_code == 404


async def collect(http: httpx.AsyncClient, url: str, last_event_id: str | None = None) -> list:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    async with aconnect_sse(http, "GET", url, headers=headers) as source:
        assert source.response.status_code == 200
        return [sse async for sse in source.aiter_sse()]
