"""``POST /v1/embeddings`` latency, idle and while another tenant bulk-imports.

First ``--rounds`` requests of 1 and of 32 short inputs on an idle stack. Then
tenant ``bulk`` uploads ``--backlog`` documents of a BEIR corpus (SciFact by
default); ``--after`` seconds later, one single-input request is sent every
``--every`` seconds for ``--seconds`` seconds while the import runs. The requests
take turns on the model with the import's lanes, so each should wait for about
one pull batch, not for the import. Times are wall clock at the client.

Usage (against a running stack, e.g. ``ragbus up --data-dir /tmp/emb``)::

    python -m ragbus_tools.bench.embeddings --url http://127.0.0.1:8000 --backlog 150
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx

from ragbus_tools.beir import read_corpus
from ragbus_tools.client import RagbusClient, auth_headers
from ragbus_tools.tenant_keys import tenant_key

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared/datasets/scifact/corpus.jsonl"
TEXT = "How do I read the output of a child process?"


async def embed(http: httpx.AsyncClient, texts: list[str]) -> float:
    """Milliseconds for one ``POST /v1/embeddings``."""
    started = time.perf_counter()
    raw = await http.post("/v1/embeddings", json={"model": "ragbus", "input": texts})
    raw.raise_for_status()
    return (time.perf_counter() - started) * 1000


def line(name: str, ms: list[float]) -> str:
    p50 = statistics.median(ms)
    return f"{name:<34} n={len(ms):<3} p50 {p50:8.0f} ms   max {max(ms):8.0f} ms"


async def pending(client: RagbusClient) -> int:
    """Documents of the client's tenant not yet indexed (or failed)."""
    docs, offset = [], 0
    while page := await client.documents(limit=1000, offset=offset):
        docs.extend(page)
        offset += len(page)
    return sum(d["status"] not in ("indexed", "failed") for d in docs)


async def main(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:6]
    headers = auth_headers(await tenant_key(args.database_url, f"embed-{run}", "reader"))
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=300) as http:
        await embed(http, [TEXT])  # warm-up
        one = [await embed(http, [TEXT]) for _ in range(args.rounds)]
        many = [await embed(http, [f"{TEXT} ({i})" for i in range(32)]) for _ in range(args.rounds)]
        print(line("idle, 1 input", one))
        print(line("idle, 32 inputs", many))

        documents = read_corpus(args.corpus, limit=args.backlog)
        bulk_key = await tenant_key(args.database_url, f"bulk-{run}")
        async with RagbusClient(args.url, bulk_key) as bulk:
            started = time.monotonic()
            for doc in documents:
                await bulk.upload_bytes(doc.filename, doc.content.encode())
            uploaded_s = time.monotonic() - started
            print(f"bulk: {len(documents)} documents uploaded in {uploaded_s:.1f} s")
            await asyncio.sleep(max(0.0, args.after - (time.monotonic() - started)))
            busy: list[float] = []
            left_before = await pending(bulk)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                busy.append(await embed(http, [TEXT]))
                await asyncio.sleep(args.every)
            left_after = await pending(bulk)
    print(line("during the import, 1 input", busy))
    print(f"bulk documents not indexed: {left_before} before, {left_after} after the requests")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=150)
    parser.add_argument("--after", type=float, default=5.0, help="seconds after the bulk starts")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the stack's Postgres, to make a key per tenant (default: DATABASE_URL)",
    )
    parsed = parser.parse_args()
    if not parsed.database_url:
        parser.error("two tenants need two keys: pass --database-url or set DATABASE_URL")
    asyncio.run(main(parsed))
