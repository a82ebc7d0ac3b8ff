"""Chunking strategies end to end: the tenant default, and a per-upload override.

One small Markdown document (four sections of about 150 tokens), so the module
takes seconds once the stack is up.
"""

import asyncio
from typing import Any

import httpx
import pytest

from ragbus_tools.client import RagbusClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOPICS = ("lighthouses", "glaciers", "orchards", "railways")
QUESTION = "What does the keeper record about the lighthouses, glaciers, orchards and railways?"


def markdown(tag: str) -> str:
    """Four headed sections of whole sentences; ``tag`` makes each upload's bytes unique."""
    sections = []
    for topic in TOPICS:
        sentences = " ".join(
            f"Note {n} of the {tag} survey says the {topic} keeper logged {n * 3} visits."
            for n in range(9)
        )
        sections.append(f"## {topic.title()}\n\n{sentences}")
    return "# Field survey\n\n" + "\n\n".join(sections) + "\n"


async def indexed(h: httpx.AsyncClient, client: RagbusClient, **body: Any) -> dict[str, Any]:
    reply = await h.post("/v1/documents", json=body)
    assert reply.status_code == 202, reply.text
    (doc,) = reply.json()["documents"]
    for _ in range(600):
        doc = await client.document(doc["id"])
        if doc["status"] in ("indexed", "failed"):
            break
        await asyncio.sleep(0.1)
    assert doc["status"] == "indexed", doc
    return doc  # type: ignore[no-any-return]


async def passages_of(client: RagbusClient, doc_id: str) -> list[str]:
    passages = (await client.retrieve(QUESTION, top_k=20))["passages"]
    return [p["text"] for p in passages if p["document_id"] == doc_id]


async def test_tenant_default_sentence_and_per_upload_structure(http) -> None:
    h, client = http
    assert (await h.get("/v1/settings")).json() == {"chunking": "token_window"}
    reply = await h.put("/v1/settings", json={"chunking": "sentence"})
    assert reply.status_code == 200 and reply.json() == {"chunking": "sentence"}
    assert (await h.put("/v1/settings", json={"chunking": "pages"})).status_code == 422
    assert (await h.get("/v1/settings")).json() == {"chunking": "sentence"}

    by_sentence = await indexed(h, client, filename="survey.md", text=markdown("spring"))
    assert (by_sentence["chunking"], by_sentence["parser"]) == ("sentence", "markdown-it")
    texts = await passages_of(client, by_sentence["id"])
    assert len(texts) == by_sentence["chunks"] >= 3
    assert all(text.endswith("visits.") for text in texts), texts  # whole sentences
    # Sections are packed together and the last sentences are repeated: some chunk
    # starts inside a section, which structure never does here.
    assert not all(text.startswith("#") for text in texts), texts

    by_structure = await indexed(
        h, client, filename="survey.md", text=markdown("autumn"), chunking="structure"
    )
    assert by_structure["chunking"] == "structure"
    texts = await passages_of(client, by_structure["id"])
    assert len(texts) == by_structure["chunks"] >= 3
    assert all(text.startswith("#") for text in texts), texts  # one section per chunk
