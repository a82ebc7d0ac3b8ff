"""``ragbus bench query``: latency and QPS of retrieval and extractive answers under load.

For each mode (``retrieve``: ``POST /v1/retrieve``; ``query``: ``POST /v1/query``,
not streamed) and each concurrency, that many clients send questions back to back
for a fixed time. The per-hop NATS cost is a no-op request-reply round trip through
the same nats-server (a responder in this process that answers with nothing).
"""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.msg import Msg

from ragbus_tools.bench.corpus import BenchDocument, load_documents
from ragbus_tools.bench.stats import latency_summary
from ragbus_tools.bench.target import Target, given_target, key_for, started_stack
from ragbus_tools.bench.uploads import upload_all, wait_final
from ragbus_tools.client import RagbusClient, auth_headers

MODES = ("retrieve", "query")
CONCURRENCY = (1, 8, 32)
NOOP_ROUND_TRIPS = 500


@dataclass
class QueryOptions:
    """Arguments of ``ragbus bench query``; see the command's help."""

    path: Path
    limit: int | None = 300
    url: str | None = None
    nats_url: str | None = None
    tenant: str | None = None
    seconds: float = 10.0
    concurrency: tuple[int, ...] = CONCURRENCY
    modes: tuple[str, ...] = MODES
    top_k: int = 5


def questions_for(path: Path, documents: list[BenchDocument], most: int = 500) -> list[str]:
    """Questions to ask: a BEIR folder's ``queries*.jsonl`` texts, else the documents' openings.

    Args:
        path: The corpus the documents came from.
        documents: The documents, for openings when there are no queries.
        most: Keep at most this many.
    """
    folder = path.parent if path.is_file() else path
    for queries in sorted(folder.glob("queries*.jsonl")):
        with queries.open(encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines if line.strip()]
        if texts:
            return texts[:most]
    openings = [" ".join(d.data.decode(errors="ignore").split()[:12]) for d in documents]
    return [o for o in openings if o][:most]


async def run(options: QueryOptions) -> dict[str, Any]:
    """Ingest (unless a tenant is given), then load each mode; returns the report."""
    documents = load_documents(options.path, limit=options.limit)
    questions = questions_for(options.path, documents)
    if not questions:
        raise FileNotFoundError(f"no questions found for {options.path}")
    if options.url is not None:
        target = given_target(options.url, options.nats_url)
        return await _measure(target, documents, questions, options)
    async with started_stack() as target:
        return await _measure(target, documents, questions, options)


async def _measure(
    target: Target, documents: list[BenchDocument], questions: list[str], options: QueryOptions
) -> dict[str, Any]:
    tenant = options.tenant or f"bench-{uuid.uuid4().hex[:8]}"
    report: dict[str, Any] = {"tenant": tenant, "seconds": options.seconds}
    key = await key_for(target, tenant)
    async with RagbusClient(target.url, key, timeout_s=60.0) as client:
        if options.tenant is None:
            uploads = await upload_all(client, documents)
            await wait_final(client, uploads, timeout_s=3600.0)
            report["documents"] = sum(u.document["status"] == "indexed" for u in uploads)
    headers = auth_headers(key)
    async with httpx.AsyncClient(base_url=target.url, headers=headers, timeout=60.0) as http:
        for mode in options.modes:
            call = _call(http, mode, options.top_k)
            report[mode] = {
                str(c): await load(call, questions, c, options.seconds) for c in options.concurrency
            }
    if target.nats_url is not None:
        report["nats_noop"] = await nats_noop(target.nats_url)
    return report


def _call(http: httpx.AsyncClient, mode: str, top_k: int) -> Callable[[str], Awaitable[Any]]:
    """One request of ``mode``. ``/v1/query`` bypasses the answer cache, so every answer
    is retrieved and generated (a repeated question would otherwise be a cache hit)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    path = f"/v1/{mode}"
    extra = {"stream": False, "cache": False} if mode == "query" else {}

    async def call(question: str) -> None:
        response = await http.post(path, json={"question": question, "top_k": top_k, **extra})
        response.raise_for_status()

    return call


async def load(
    call: Callable[[str], Awaitable[Any]], questions: list[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    """``concurrency`` clients calling back to back for ``seconds``; a latency summary.

    Requests still running at the deadline are awaited and counted.

    Args:
        call: One request; raising :class:`httpx.HTTPError` counts as an error.
        questions: Asked in turn, shared by all clients.
        concurrency: Clients at once.
        seconds: How long new requests are started.
    """
    latencies_ms: list[float] = []
    errors = 0
    asked = cycle(questions)
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                await call(next(asked))
            except httpx.HTTPError:
                errors += 1
                continue
            latencies_ms.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latency_summary(latencies_ms, errors, time.perf_counter() - started)


async def nats_noop(nats_url: str, round_trips: int = NOOP_ROUND_TRIPS) -> dict[str, Any]:
    """One request-reply hop through nats-server with nothing done: the floor of a hop.

    Returns:
        A latency summary of ``round_trips`` sequential requests with empty payloads.
    """
    subject = f"_bench.noop.{uuid.uuid4().hex}"

    async def answer(msg: Msg) -> None:
        await msg.respond(b"")

    conn = await nats.connect(nats_url)
    latencies_ms: list[float] = []
    errors = 0
    try:
        await conn.subscribe(subject, cb=answer)
        await conn.flush()
        started = time.perf_counter()
        for _ in range(round_trips):
            sent = time.perf_counter()
            try:
                await conn.request(subject, b"", timeout=5.0)
            except nats.errors.TimeoutError:
                errors += 1
                continue
            latencies_ms.append((time.perf_counter() - sent) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        await conn.drain()
    return latency_summary(latencies_ms, errors, elapsed)
