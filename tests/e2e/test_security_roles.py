"""What each role may do, and that no caller reaches another tenant's objects.

A table of routes with the roles allowed on each: an allowed call is never 401 or
403; a denied one is exactly 403 ``forbidden``. Then a member of tenant A calls
every route with the ids of tenant B's document, query and conversation: each is
refused, and refused exactly as an id that never existed is.
"""

import uuid
from typing import Any

import httpx
import pytest

from tests.credentials import bearer
from tests.e2e.stack import RunningStack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ALL = {"admin", "member", "reader"}
WRITERS = {"admin", "member"}
ADMIN = {"admin"}
ASK = {"question": "what is in the documents?", "top_k": 2}
CHAT = {"model": "ragbus", "messages": [{"role": "user", "content": "what is here?"}]}

ROUTES: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/documents", {"filename": "r.txt", "text": "roles and routes"}, WRITERS),
    ("GET", "/v1/documents", None, ALL),
    ("GET", "/v1/documents/{doc}", None, ALL),
    ("GET", "/v1/documents/{doc}/events", None, ALL),
    ("POST", "/v1/documents/{doc}/reprocess", None, WRITERS),
    ("POST", "/v1/retrieve", ASK, ALL),
    ("POST", "/v1/query", ASK, ALL),
    ("GET", "/v1/queries", None, ALL),
    ("POST", "/v1/chat/completions", CHAT, ALL),
    ("POST", "/v1/embeddings", {"input": "a text", "model": "ragbus"}, ALL),
    ("POST", "/v1/conversations", {}, WRITERS),
    ("GET", "/v1/conversations", None, WRITERS),
    ("GET", "/v1/settings", None, ALL),
    ("PUT", "/v1/settings", {"chunking": "sentence"}, ADMIN),
    ("GET", "/v1/usage", None, ALL),
    ("GET", "/v1/admin/keys", None, ADMIN),
    ("POST", "/v1/admin/keys", {"name": "from-table", "role": "reader"}, ADMIN),
    ("GET", "/v1/admin/users", None, ADMIN),
    ("GET", "/v1/admin/audit", None, ADMIN),
    ("PUT", "/v1/admin/quotas", {"requests_per_minute": 1000}, ADMIN),
    ("GET", "/metrics", None, ADMIN),
    ("DELETE", "/v1/documents/{doc}", None, WRITERS),
]


async def call(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> httpx.Response:
    if path.endswith("/events"):  # an SSE stream: the status line is enough
        async with http.stream(method, path) as response:
            return response
    return await http.request(method, path, json=body)


async def indexed_document(stack: RunningStack, tenant: str, text: str) -> str:
    async with stack.client(tenant, "member") as client:
        raw = await client._http.post("/v1/documents", json={"filename": "d.md", "text": text})
        assert raw.status_code == 202, raw.text
        doc = raw.json()["documents"][0]["id"]
        final = (await wait_final(client, [doc], 120))[doc]
        assert final["status"] == "indexed", final
    return str(doc)


@pytest.mark.parametrize("role", sorted(ALL))
async def test_each_role_against_each_route(stack: RunningStack, role: str) -> None:
    tenant = f"roles-{role}-{uuid.uuid4().hex[:6]}"
    # The caller uploaded the document, so "its own" rules let a member change it.
    async with stack.client(tenant, "member" if role == "reader" else role) as owner:
        raw = await owner._http.post("/v1/documents", json={"filename": "o.txt", "text": "own"})
        doc = raw.json()["documents"][0]["id"]
    headers = await stack.headers(tenant, role)
    outcomes = {}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=120) as http:
        for method, path, body, allowed in ROUTES:
            response = await call(http, method, path.format(doc=doc), body)
            outcomes[f"{method} {path}"] = response.status_code
            if role in allowed:
                assert response.status_code not in (401, 403), (method, path, response.text)
            else:
                assert response.status_code == 403, (method, path, response.status_code)
                assert response.json()["code"] == "forbidden"
    print(role, outcomes)


async def test_a_member_changes_only_their_own_documents(stack: RunningStack) -> None:
    tenant = f"own-{uuid.uuid4().hex[:8]}"
    async with stack.client(tenant, "admin") as admin:
        raw = await admin._http.post("/v1/documents", json={"filename": "a.txt", "text": "admin's"})
        theirs = raw.json()["documents"][0]["id"]
    key, _ = await stack.user(tenant, "mia", "member")
    async with httpx.AsyncClient(base_url=stack.url, headers=bearer(key)) as mia:
        assert (await mia.delete(f"/v1/documents/{theirs}")).status_code == 403
        assert (await mia.post(f"/v1/documents/{theirs}/reprocess")).status_code == 403
        mine = (await mia.post("/v1/documents", json={"filename": "m.txt", "text": "mia's"})).json()
        assert (await mia.delete(f"/v1/documents/{mine['documents'][0]['id']}")).status_code == 202
    async with stack.client(tenant, "admin") as admin:
        assert (await admin._http.delete(f"/v1/documents/{theirs}")).status_code == 202


async def test_tenant_a_reaches_nothing_of_tenant_b(stack: RunningStack) -> None:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    light = "# Lighthouse\n\nThe lighthouse of tenant B flashes every six seconds.\n"
    b_doc = await indexed_document(stack, b, light)
    async with stack.client(b, "member") as client:
        b_query = (await client.query("How often does the lighthouse flash?"))["query_id"]
        b_conv = (
            await client._http.post("/v1/conversations", json={"visibility": "tenant"})
        ).json()
    b_ids = {"doc": b_doc, "query": b_query, "conv": b_conv["id"]}
    never = {key: str(uuid.uuid4()) for key in b_ids}
    routes = [
        ("GET", "/v1/documents/{doc}", None),
        ("GET", "/v1/documents/{doc}/events", None),
        ("DELETE", "/v1/documents/{doc}", None),
        ("POST", "/v1/documents/{doc}/reprocess", None),
        ("GET", "/v1/queries/{query}", None),
        ("GET", "/v1/queries/{query}/events", None),
        ("GET", "/v1/conversations/{conv}", None),
        ("GET", "/v1/conversations/{conv}/export", None),
        ("DELETE", "/v1/conversations/{conv}", None),
        ("POST", "/v1/query", {**ASK, "conversation_id": "{conv}"}),
        ("POST", "/v1/chat/completions", {**CHAT, "conversation_id": "{conv}"}),
    ]
    async with httpx.AsyncClient(
        base_url=stack.url, headers=await stack.headers(a, "admin"), timeout=120
    ) as http:
        for method, path, body in routes:
            answers = []
            for ids in (b_ids, never):
                fill = {k: str(v) for k, v in ids.items()}
                filled = (
                    None
                    if body is None
                    else {k: v.format(**fill) if isinstance(v, str) else v for k, v in body.items()}
                )
                response = await call(http, method, path.format(**fill), filled)
                if path.endswith("/events"):
                    answers.append(response.status_code)
                else:
                    answers.append((response.status_code, response.json()))
            foreign, missing = answers
            assert foreign == missing, (method, path, foreign)  # nothing tells them apart
            status = foreign if isinstance(foreign, int) else foreign[0]
            assert status == 404, (method, path, foreign)
        # Retrieval, embeddings and listings see only tenant A's (empty) world.
        passages = (await http.post("/v1/retrieve", json=ASK)).json()["passages"]
        assert all(p["document_id"] != b_doc for p in passages)
        assert (await http.get("/v1/documents")).json()["documents"] == []
        assert b_query not in str((await http.get("/v1/queries")).json())
        assert b_conv["id"] not in str((await http.get("/v1/conversations")).json())
    async with stack.client(b, "member") as client:  # and B's document is untouched
        assert (await client.document(b_doc))["status"] == "indexed"
