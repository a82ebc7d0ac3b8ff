"""Document versions end to end: raw text upload, external_id, reprocess, never zero or both.

Every document is one short text (one chunk), so the module takes seconds.
"""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from ragbus_tools.client import RagbusClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

QUESTION = "When does the cafeteria open?"
V1, V2 = "The cafeteria opens at 8am.", "The cafeteria opens at 10am."


async def upload_text(http: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    reply = await http.post("/v1/documents", json={"filename": "handbook", "text": text, **fields})
    assert reply.status_code == 202, reply.text
    (doc,) = reply.json()["documents"]
    return doc  # type: ignore[no-any-return]


async def wait_version(client: RagbusClient, doc_id: str, version: int) -> dict[str, Any]:
    """Poll until ``version`` of the document is indexed or failed."""
    for _ in range(600):
        doc = await client.document(doc_id)
        if doc["version"] == version and doc["status"] in ("indexed", "failed"):
            return doc
        await asyncio.sleep(0.1)
    raise AssertionError(f"{doc_id} v{version} not final: {doc}")


async def texts_of(client: RagbusClient, doc_id: str) -> list[str]:
    passages = (await client.retrieve(QUESTION, top_k=5))["passages"]
    return [p["text"] for p in passages if p["document_id"] == doc_id]


async def watch_until_final(client: RagbusClient, doc_id: str, version: int) -> list[list[str]]:
    """Every retrieval answer for the document while ``version`` is processed."""
    seen = []
    while True:
        seen.append(await texts_of(client, doc_id))
        doc = await client.document(doc_id)
        if doc["version"] == version and doc["status"] in ("indexed", "failed"):
            seen.append(await texts_of(client, doc_id))
            return seen


async def test_new_text_under_an_external_id_switches_versions_atomically(http) -> None:
    h, client = http
    v1 = await upload_text(h, V1, external_id="handbook", metadata={"team": "ops"})
    assert (v1["filename"], v1["version"], v1["duplicate"]) == ("handbook.txt", 1, False)
    assert (await wait_version(client, v1["id"], 1))["status"] == "indexed"
    assert await texts_of(client, v1["id"]) == [V1]

    v2 = await upload_text(h, V2, external_id="handbook")
    assert (v2["id"], v2["version"], v2["duplicate"]) == (v1["id"], 2, False)
    seen = await watch_until_final(client, v1["id"], 2)
    assert all(texts in ([V1], [V2]) for texts in seen), seen  # never zero, never both
    assert seen[-1] == [V2]
    doc = await client.document(v1["id"])
    assert (doc["status"], doc["searchable_version"], doc["external_id"]) == (
        "indexed",
        2,
        "handbook",
    )

    again = await upload_text(h, V2, external_id="handbook")
    assert (again["id"], again["version"], again["duplicate"]) == (v1["id"], 2, True)


async def test_reprocess_runs_an_indexed_document_again(http) -> None:
    h, client = http
    doc = await upload_text(h, V1)
    await wait_version(client, doc["id"], 1)
    reply = await h.post(f"/v1/documents/{doc['id']}/reprocess")
    assert reply.status_code == 202
    assert reply.json() == {"id": doc["id"], "status": "uploaded", "version": 2}
    seen = await watch_until_final(client, doc["id"], 2)
    assert all(texts == [V1] for texts in seen), seen
    final = await client.document(doc["id"])
    assert (final["status"], final["version"], final["searchable_version"]) == ("indexed", 2, 2)


async def test_reprocess_of_a_failed_document_and_of_unknown_ones(http) -> None:
    h, client = http
    doc = await upload_text(h, "   \n  ")
    assert (await wait_version(client, doc["id"], 1))["status"] == "failed"
    reply = await h.post(f"/v1/documents/{doc['id']}/reprocess")
    assert reply.status_code == 202 and reply.json()["version"] == 2
    assert (await wait_version(client, doc["id"], 2))["status"] == "failed"  # same bytes fail again
    assert (await h.post(f"/v1/documents/{uuid.uuid4()}/reprocess")).status_code == 404
    await client.delete(doc["id"])
    assert (await h.post(f"/v1/documents/{doc['id']}/reprocess")).status_code == 404


async def test_same_text_again_is_a_duplicate(http) -> None:
    h, _ = http
    first = await upload_text(h, "Parking is in building C.")
    second = await upload_text(h, "Parking is in building C.")
    assert (second["id"], second["duplicate"]) == (first["id"], True)
