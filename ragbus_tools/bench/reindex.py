"""Query latency before, during and after an index rebuild, and the rebuild's duration.

    python -m ragbus_tools.bench.reindex ../shared/datasets/scifact/corpus.jsonl --limit 200 \
        --chunking sentence [--precision int8] [--no-cache]

Starts a stack (``ragbus up`` in a temporary directory, quotas off) unless ``--url``
is given (``--no-cache``: with ``RAGBUS_EMBED_CACHE_ENTRIES=0``, so no chunk whose
text the new chunking keeps is answered from the embedding cache), ingests the first
``--limit`` documents into a fresh tenant, then one
client retrieves (``POST /v1/retrieve``, top 5, the default hybrid mode) back to
back: ``--seconds`` before the rebuild, during it (``POST /v1/admin/index/rebuild``
until ``GET /v1/admin/index`` shows the new version active) and ``--seconds``
after. Prints JSON: the documents, the rebuild's seconds, each phase's latency summary
(p50/p95/p99 ms, errors) and the index versions.
"""

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx

from ragbus_tools.bench.corpus import load_documents
from ragbus_tools.bench.query import load, questions_for
from ragbus_tools.bench.stats import latency_summary
from ragbus_tools.bench.target import Target, given_target, key_for, started_stack
from ragbus_tools.bench.uploads import upload_all, wait_final
from ragbus_tools.client import RagbusClient, auth_headers


async def retrieve_until(
    http: httpx.AsyncClient, questions: list[str], done: asyncio.Event
) -> dict[str, Any]:
    """One client retrieving back to back until ``done``; its latency summary."""
    latencies_ms: list[float] = []
    errors, asked, started = 0, cycle(questions), time.perf_counter()
    while not done.is_set():
        sent = time.perf_counter()
        reply = await http.post("/v1/retrieve", json={"question": next(asked), "top_k": 5})
        if reply.status_code != 200:
            errors += 1
            continue
        latencies_ms.append((time.perf_counter() - sent) * 1000)
    return latency_summary(latencies_ms, errors, time.perf_counter() - started)


async def rebuild(http: httpx.AsyncClient, change: dict[str, Any], done: asyncio.Event) -> float:
    """Start a rebuild making ``change``, wait until it is active; its seconds. Sets ``done``."""
    started = time.perf_counter()
    reply = await http.post("/v1/admin/index/rebuild", json=change)
    reply.raise_for_status()
    index_id = reply.json()["index"]["id"]
    try:
        while True:
            state = (await http.get("/v1/admin/index")).json()
            if state["active"]["id"] == index_id:
                return time.perf_counter() - started
            built = next(v for v in state["versions"] if v["id"] == index_id)
            if built["status"] in ("aborted", "failed"):
                raise RuntimeError(f"index {index_id} {built['status']}: {built['error']}")
            await asyncio.sleep(0.2)
    finally:
        done.set()


async def measure(
    target: Target, path: Path, limit: int, change: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Ingest, then retrieve before, during and after a rebuild (see the module docstring)."""
    documents = load_documents(path, limit=limit)
    questions = questions_for(path, documents)
    key = await key_for(target, f"bench-{uuid.uuid4().hex[:8]}")
    async with RagbusClient(target.url, key, timeout_s=60.0) as client:
        uploads = await upload_all(client, documents)
        await wait_final(client, uploads, timeout_s=3600.0)
    report: dict[str, Any] = {"documents": len(documents), "change": change}
    headers = auth_headers(key)
    async with httpx.AsyncClient(base_url=target.url, headers=headers, timeout=60.0) as http:

        async def call(question: str) -> None:
            reply = await http.post("/v1/retrieve", json={"question": question, "top_k": 5})
            reply.raise_for_status()

        report["before"] = await load(call, questions, 1, seconds)
        done = asyncio.Event()
        during, took = await asyncio.gather(
            retrieve_until(http, questions, done), rebuild(http, change, done)
        )
        report.update(during=during, rebuild_s=round(took, 1))
        report["after"] = await load(call, questions, 1, seconds)
        report["versions"] = (await http.get("/v1/admin/index")).json()["versions"]
    return report


@contextlib.asynccontextmanager
async def stack(url: str | None, env: dict[str, str]) -> AsyncIterator[Target]:
    """The stack at ``url``, else one started here with ``env``."""
    if url is not None:
        yield given_target(url, None)
        return
    async with started_stack(env=env) as target:
        yield target


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the measurement the arguments describe; its report."""
    change = {"chunking": args.chunking, "precision": args.precision}
    env = {"RAGBUS_EMBED_CACHE_ENTRIES": "0"} if args.no_cache else {}
    async with stack(args.url, env) as target:
        return await measure(target, args.path, args.limit, change, args.seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="A BEIR folder or corpus, or a folder of files.")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--chunking", default=None)
    parser.add_argument("--precision", default=None, choices=("fp32", "int8"))
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--url", default=None)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
