"""Tenant fairness benchmark: how long one tenant's single upload waits behind another's backlog.

Tenant ``bulk`` uploads ``--backlog`` documents of a BEIR corpus (SciFact by
default) as fast as the gateway takes them; ``--after`` seconds later tenant
``single`` uploads one document. The script prints the single document's upload
to indexed time, how many of the bulk tenant's documents were still not indexed
at that moment, and how long the bulk backlog took in all.

With one first-come, first-served consumer the single upload waits for the whole
backlog; with per-tenant lanes (``embed_svc.tenant_lanes``) it waits for about one pull batch.

Usage (against a running stack, e.g. ``ragbus up --data-dir /tmp/fair``)::

    python -m ragbus_tools.bench.fairness --url http://127.0.0.1:8000 --backlog 600
"""

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

from ragbus_tools.beir import read_corpus
from ragbus_tools.client import RagbusClient
from ragbus_tools.tenant_keys import tenant_key

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared/datasets/scifact/corpus.jsonl"
SINGLE_TEXT = (
    "The Willow Farm greenhouse keeps its thermostat at 14 degrees Celsius at night "
    "and 22 degrees during the day; the irrigation runs at dawn for twelve minutes."
)


async def wait_indexed(client: RagbusClient, doc_id: str, timeout_s: float) -> float:
    """Poll the document until it is indexed; returns the monotonic time it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = await client.document(doc_id)
        if doc["status"] == "indexed":
            return time.monotonic()
        if doc["status"] == "failed":
            raise RuntimeError(f"{doc_id} failed: {doc.get('error')}")
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{doc_id} not indexed after {timeout_s} s")


async def unfinished(client: RagbusClient) -> int:
    """Documents of the client's tenant not yet indexed (or failed)."""
    docs, offset = [], 0
    while page := await client.documents(limit=1000, offset=offset):
        docs.extend(page)
        offset += len(page)
    return sum(d["status"] not in ("indexed", "failed", "duplicate") for d in docs)


async def main(url: str, database_url: str, corpus: Path, backlog: int, after_s: float) -> None:
    run = uuid.uuid4().hex[:6]
    documents = read_corpus(corpus, limit=backlog)
    async with (
        RagbusClient(url, await tenant_key(database_url, f"bulk-{run}")) as bulk,
        RagbusClient(url, await tenant_key(database_url, f"single-{run}")) as single,
    ):
        started = time.monotonic()
        ids = []
        for doc in documents:
            ids.append((await bulk.upload_bytes(doc.filename, doc.content.encode()))["id"])
        uploaded_s = time.monotonic() - started
        await asyncio.sleep(max(0.0, after_s - uploaded_s))
        sent = time.monotonic()
        single_id = (await single.upload_bytes("greenhouse.txt", SINGLE_TEXT.encode()))["id"]
        done = await wait_indexed(single, single_id, timeout_s=3600)
        bulk_left = await unfinished(bulk)
        for doc_id in ids:
            await wait_indexed(bulk, doc_id, timeout_s=3600)
        finished = time.monotonic()
    print(f"bulk tenant: {backlog} documents uploaded in {uploaded_s:.1f} s")
    print(f"single upload -> indexed: {done - sent:.2f} s")
    print(f"bulk documents not yet indexed at that moment: {bulk_left}")
    print(f"bulk backlog indexed after {finished - started:.1f} s in all")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the stack's Postgres, to make a key per tenant (default: DATABASE_URL)",
    )
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--backlog", type=int, default=600)
    parser.add_argument("--after", type=float, default=10.0, help="seconds after the bulk starts")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("two tenants need two keys: pass --database-url or set DATABASE_URL")
    asyncio.run(main(args.url, args.database_url, args.corpus, args.backlog, args.after))
