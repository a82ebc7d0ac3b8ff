"""Rebuilding a tenant's index without downtime, end to end.

Real nats-server, Postgres and embedding model; the services and the gateway in this
process. Six short documents are 18 chunks cut as token windows and 13 cut as
sentences, and no chunk text is common to both (checked), so every passage says
which index version answered: a response that held both kinds would be a mix.
"""

import asyncio
import functools
import itertools
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from embed_svc.app import build as build_embed
from embed_svc.settings import EmbedSettings
from gateway.auth.settings import QuotaSettings
from ragbus.settings import InfraSettings
from ragbus_tools.cli import app as cli_app
from ragbus_tools.cli_errors import run_cli
from ragbus_tools.stack import SERVICE_BUILDERS
from tests.credentials import bearer
from tests.e2e.stack import index_texts, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOPICS = ("lighthouses", "glaciers", "beekeeping", "sourdough", "tides", "comets")
QUESTIONS = [f"What did the {topic} crew log at dawn?" for topic in TOPICS]
EVERY_CHUNK = {"question": "crew logged reading at dawn", "top_k": 100, "mode": "dense"}


def notes(topic: str) -> str:
    """Three paragraphs of six sentences: three token windows, two or three sentence packs."""
    n = itertools.count()
    paragraphs = [
        " ".join(
            f"Note {next(n)} on {topic} says the {topic} crew logged reading {p}-{i} at dawn"
            " near the old harbour wall."
            for i in range(6)
        )
        for p in range(3)
    ]
    return f"{topic.title()} field notes\n\n" + "\n\n".join(paragraphs) + "\n"


@pytest.fixture(scope="module")
async def stack(nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The stack with a keeper every 0.5 s and a 2 s grace, and no rate limits (the
    client below queries without pause)."""
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("reindex")
    )
    keeper = EmbedSettings(index_keeper_s=0.5, index_grace_s=2.0)
    builders = {**SERVICE_BUILDERS, "embed": functools.partial(build_embed, settings=keeper)}
    quotas = QuotaSettings(enabled=False)
    async with running_stack(infra, builders=list(builders.values()), quotas=quotas) as running:
        yield running


@dataclass
class Seen:
    """One query of the client: when it started and ended, its status, its passages."""

    started: float
    ended: float
    status: int
    texts: list[str]


async def every_chunk(http: httpx.AsyncClient) -> set[str]:
    reply = await http.post("/v1/retrieve", json={**EVERY_CHUNK, "group_by": "chunk"})
    assert reply.status_code == 200, reply.text
    return {p["text"] for p in reply.json()["passages"]}


async def query_until(http: httpx.AsyncClient, stop: asyncio.Event, seen: list[Seen]) -> None:
    for question in itertools.cycle(QUESTIONS):
        if stop.is_set():
            return
        started = time.monotonic()
        reply = await http.post("/v1/retrieve", json={"question": question, "top_k": 5})
        texts = [p["text"] for p in reply.json()["passages"]] if reply.status_code == 200 else []
        seen.append(Seen(started, time.monotonic(), reply.status_code, texts))


async def versions(http: httpx.AsyncClient) -> dict:
    reply = await http.get("/v1/admin/index")
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def wait_status(http: httpx.AsyncClient, index_id: int, status: str) -> dict:
    for _ in range(300):
        found = {v["id"]: v for v in (await versions(http))["versions"]}
        if found.get(index_id, {}).get("status") == status:
            return found[index_id]
        await asyncio.sleep(0.1)
    raise AssertionError(f"index {index_id} never {status}: {found.get(index_id)}")


async def tenant_http(stack, role: str = "admin") -> tuple[str, str, httpx.AsyncClient]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    key = await stack.key(tenant, role)
    return tenant, key, httpx.AsyncClient(base_url=stack.url, headers=bearer(key), timeout=60)


async def test_a_rebuild_with_other_chunking_switches_while_a_client_queries(stack, capsys):
    tenant, key, http = await tenant_http(stack)
    async with http:
        ids = await index_texts(stack.url, key, {f"{t}.txt": notes(t) for t in TOPICS})
        old = await every_chunk(http)
        assert len(old) == 18
        stop, seen = asyncio.Event(), []
        client = asyncio.create_task(query_until(http, stop, seen))
        await asyncio.sleep(0.5)  # the client is answered from the token windows first
        began = time.monotonic()
        args = ["reindex", "--chunking", "sentence", "--url", stack.url, "--api-key", key]
        code = await asyncio.to_thread(run_cli, cli_app, args)  # follows it to the switch
        switched = time.monotonic()
        await asyncio.sleep(1.0)
        stop.set()
        await client
        new = await every_chunk(http)
        assert code == 0, capsys.readouterr()
        assert len(new) == 13 and not old & new

        assert seen and all(s.status == 200 for s in seen), [s.status for s in seen]
        for s in seen:  # each answer wholly from one version, never a mix
            assert set(s.texts) <= old or set(s.texts) <= new, s
        during = [s for s in seen if began <= s.started < switched]
        after = [s for s in seen if s.started >= switched]
        assert during and after
        assert all(set(s.texts) <= new and s.texts for s in after)
        assert all(set(s.texts) <= old for s in seen if s.ended < began)

        state = await versions(http)
        built, shared = state["active"], state["versions"][1]
        assert (built["chunking"], state["building"]) == ("sentence", None)
        assert shared["status"] in ("retired", "dropped")
        await wait_status(http, shared["id"], "dropped")  # 2 s of grace
        assert await (await stack.resources.vector_store()).count(tenant_id=tenant) == 0
        assert await every_chunk(http) == new
        assert (await http.get(f"/v1/documents/{ids[0]}")).json()["chunking"] == "sentence"
        out = capsys.readouterr().out
        assert "/6 documents" in out and f"index {built['id']} active: " in out
        print(
            f"rebuild of 6 documents: {switched - began:.1f} s; {len(seen)} queries,"
            f" {len(during)} during the rebuild"
        )


async def test_an_aborted_rebuild_leaves_the_active_index_answering(stack):
    _, key, http = await tenant_http(stack)
    async with http:
        await index_texts(stack.url, key, {f"{t}.txt": notes(t) for t in TOPICS[:3]})
        before = await every_chunk(http)
        elsewhere = {"model": "example/any-model-from-the-internet"}
        refused = await http.post("/v1/admin/index/rebuild", json=elsewhere)
        assert refused.status_code == 400 and "is not offered here" in refused.json()["detail"]
        started = await http.post("/v1/admin/index/rebuild", json={"chunking": "sentence"})
        assert started.status_code == 202, started.text
        building = started.json()["index"]
        again = await http.post("/v1/admin/index/rebuild", json={})
        assert again.status_code == 409 and "being built" in again.json()["detail"]
        aborted = await http.post("/v1/admin/index/abort")
        assert aborted.status_code == 200, aborted.text
        assert aborted.json()["index"]["status"] == "aborted"
        assert (await http.post("/v1/admin/index/abort")).status_code == 409

        state = await versions(http)
        assert state["building"] is None and state["active"]["id"] != building["id"]
        assert state["active"]["status"] == "active" and state["active"]["chunking"] is None
        assert await every_chunk(http) == before
        await wait_status(http, building["id"], "dropped")
        assert await every_chunk(http) == before
        answer = await http.post("/v1/retrieve", json={"question": QUESTIONS[0], "top_k": 3})
        assert answer.status_code == 200 and set(p["text"] for p in answer.json()["passages"])


async def test_only_a_tenant_admin_may_rebuild(stack, capsys):
    tenant, _, admin = await tenant_http(stack)
    for role in ("member", "reader"):
        key = await stack.key(tenant, role)
        async with httpx.AsyncClient(base_url=stack.url, headers=bearer(key)) as http:
            for method, path in [
                ("GET", "/v1/admin/index"),
                ("POST", "/v1/admin/index/rebuild"),
                ("POST", "/v1/admin/index/abort"),
            ]:
                reply = await http.request(method, path, json={} if method == "POST" else None)
                assert reply.status_code == 403, (role, path, reply.text)
        args = ["reindex", "--chunking", "sentence", "--url", stack.url, "--api-key", key]
        assert await asyncio.to_thread(run_cli, cli_app, args) == 4
        assert "may not administer" in capsys.readouterr().err
    async with admin:
        assert (await versions(admin))["versions"] == []
