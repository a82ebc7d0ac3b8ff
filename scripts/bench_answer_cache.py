"""What the answer cache saves: ``POST /v1/query`` latency on a hit vs a miss.

Uploads a few documents for a fresh tenant (``--docs``, default the Node.js API docs
child_process.md, fs.md, events.md and stream.md next to the repository), waits
until they are indexed, asks each question once to fill the cache, then
``--rounds`` times, taking turns, asks it with ``"cache": false`` (a miss: retrieval
and generation run) and without (a hit). Times are wall clock at the client.

Usage, against a running stack (``ragbus up`` answers offline unless
``RAGBUS_LLM_MODEL`` is set)::

    python scripts/bench_answer_cache.py --url http://127.0.0.1:8000 --rounds 30
"""

import argparse
import asyncio
import statistics
import time
import uuid
from itertools import cycle
from pathlib import Path

import httpx

from ragbus.client import RagbusClient

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "nodejs-api"
DEFAULT_DOCS = [CORPUS / f for f in ("child_process.md", "fs.md", "events.md", "stream.md")]
QUESTIONS = [
    "How do I spawn a child process and read its output?",
    "How do I read a file asynchronously?",
    "How do I listen for an event only once?",
    "How do I pipe one stream into another?",
]


async def ask(http: httpx.AsyncClient, question: str, *, cache: bool) -> tuple[float, dict]:
    """Milliseconds for one ``POST /v1/query`` and its JSON."""
    started = time.perf_counter()
    raw = await http.post("/v1/query", json={"question": question, "cache": cache})
    elapsed = (time.perf_counter() - started) * 1000
    raw.raise_for_status()
    return elapsed, raw.json()


def summary(values: list[float]) -> str:
    """``p50 / p95 / max`` in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--docs", type=Path, nargs="*", default=DEFAULT_DOCS)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    tenant = f"cache-bench-{uuid.uuid4().hex[:8]}"
    async with RagbusClient(args.url, tenant) as client:
        ids = [(await client.upload(path))["id"] for path in args.docs]
        deadline = time.monotonic() + 900
        while ids:
            docs = [await client.document(i) for i in ids]
            ids = [d["id"] for d in docs if d["status"] not in ("indexed", "failed")]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed in 900 s: {ids}")
            await asyncio.sleep(0.5)
    misses: list[float] = []
    hits: list[float] = []
    usage: list[dict] = []
    async with httpx.AsyncClient(base_url=args.url, headers={"X-Tenant-ID": tenant}) as http:
        http.timeout = httpx.Timeout(180)
        for question in QUESTIONS:
            await ask(http, question, cache=True)  # fills the cache (and warms up)
        for _, question in zip(range(args.rounds), cycle(QUESTIONS), strict=False):
            miss_ms, miss = await ask(http, question, cache=False)
            hit_ms, hit = await ask(http, question, cache=True)
            if not hit.get("cached") or miss.get("cached"):
                raise RuntimeError(f"expected a miss then a hit for {question!r}")
            misses.append(miss_ms)
            hits.append(hit_ms)
            if miss.get("usage"):
                usage.append(miss["usage"])
    print(f"{args.rounds} rounds of miss then hit, tenant {tenant} at {args.url}")
    print(f"miss {summary(misses)}")
    print(f"hit  {summary(hits)}")
    print(f"p50 saved per hit: {statistics.median(misses) - statistics.median(hits):.1f} ms")
    if usage:
        tokens = statistics.median(u["prompt_tokens"] + u["completion_tokens"] for u in usage)
        costs = [u["cost_usd"] for u in usage if u.get("cost_usd") is not None]
        cost = f"{statistics.median(costs):.6f} USD" if costs else "unpriced"
        print(f"LLM saved per hit (p50 of misses): {tokens:.0f} tokens, {cost}")


if __name__ == "__main__":
    asyncio.run(main())
